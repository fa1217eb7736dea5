"""Benchmark of stage 1 (mer_utils.faces) on stand-in data: one JSON line per figure.

Generates a CASME II stand-in of the quick profile's size into a temporary folder, loads it,
and times on the same sampled frames, in the same process and run:

* ``decode_fps``  - decoding only (``datasets.read_frames``, the decoder stage 1 uses);
* ``fps``         - the whole stage (no cache): decode, detect once per clip, landmarks on
  every sampled frame, masks, crop, resize; ``ratio`` = fps / decode_fps (target >= 0.5);
* ``speedup_vs_every_frame`` - the same code with ``detect_every_frame=True`` (target >= 5);
* variants: landmarks on every 4th sampled frame (interpolated), 2 worker processes, and the
  speed-up with twice the frames per clip (detection is amortised over more frames);
* ``peak_memory`` - ru_maxrss of this process (MiB).

Each timing is the best of ``--repeat`` runs (the machine is shared and noisy; every line
carries the 1-minute load average). Frames/s count the sampled frames (clips x n_frames)
that the stage outputs.

Usage: ``python benchmarks/bench_stage1.py [--profile quick] [--repeat 2]``
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from _bench import best_time, emitter  # noqa: E402  (benchmarks/_bench.py)

from mer_utils import config, datasets, faces, stage1, standins

emit = emitter("stage1", 3)


def main(argv: list[str] | None = None) -> None:
    """Generate the stand-in, time the stage and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    prof = config.profile(args.profile)
    size, n_frames = prof["size"], prof["n_frames"]
    with tempfile.TemporaryDirectory(prefix="bench-stage1-") as tmp:
        root = standins.generate("casme2", Path(tmp) / "CASME2", seed=0, **prof["standin"])
        table = datasets.load("casme2", root)
        sampled = [
            [refs[i] for i in faces.sample_indices(len(refs), n_frames)] for refs in table["frames"]
        ]
        n = sum(len(s) for s in sampled)
        common = {
            "profile": args.profile,
            "clips": len(table),
            "frames": n,
            "size": size,
            "n_frames": n_frames,
        }

        start = time.perf_counter()
        faces._detector(), faces._predictor()
        emit("model_load", time.perf_counter() - start, "s", **common)

        def stage(**kw) -> float:
            return best_time(lambda: stage1.preprocess(table, size, n_frames, **kw), args.repeat)

        t_decode = best_time(lambda: [datasets.read_frames(s) for s in sampled], args.repeat)
        t_stage = stage()
        t_every = stage(detect_every_frame=True)
        t_sparse = stage(landmark_every=4)
        t_workers = stage(workers=2)
        emit("decode_fps", n / t_decode, "frames/s", **common)
        emit("fps", n / t_stage, "frames/s", **common)
        emit("ratio", t_decode / t_stage, "x decode-only", target=0.5, **common)
        emit("every_frame_fps", n / t_every, "frames/s", **common)
        emit("speedup_vs_every_frame", t_every / t_stage, "x", target=5, **common)
        emit("fps_landmark_every_4", n / t_sparse, "frames/s", **common)
        emit("ratio_landmark_every_4", t_decode / t_sparse, "x decode-only", **common)
        emit("fps_workers_2", n / t_workers, "frames/s", **common)
        emit("ratio_workers_2", t_decode / t_workers, "x decode-only (decode on 1 core)", **common)
        long = {**common, "n_frames": 2 * n_frames, "frames": 2 * n}
        t_long = best_time(lambda: stage1.preprocess(table, size, 2 * n_frames), args.repeat)
        t_long_every = best_time(
            lambda: stage1.preprocess(table, size, 2 * n_frames, detect_every_frame=True),
            args.repeat,
        )
        emit("speedup_vs_every_frame_2x_frames", t_long_every / t_long, "x", **long)
        real_sizes(args, size, n_frames)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit("peak_memory", peak, "MiB", **common)
    stage1_share(args.repeat)


def real_sizes(args, size: int, n_frames: int) -> None:
    """Stage 1 at the real datasets' frame sizes (CASME II 640x480, SAMM 2040x1088 gray):
    detection once per clip on a copy downscaled to ``faces.DETECT_MAX_SIDE`` (the box mapped
    back), against detecting on every sampled frame at full size (the naive way)."""
    for name, subjects in (("casme2", 3), ("samm", 2)):
        with tempfile.TemporaryDirectory(prefix="bench-stage1-real-") as tmp:
            root = standins.generate(
                name,
                Path(tmp) / name,
                seed=0,
                frame_scale=1.0,
                subjects=subjects,
                max_clip_frames=3 * n_frames,
            )
            table = datasets.load(name, root)
            h, w = datasets.read_frame(table["frames"].iloc[0][0]).shape[:2]
            n = len(table) * n_frames
            common = {
                "dataset": name,
                "frame_size": [h, w],
                "clips": len(table),
                "frames": n,
                "detect_max_side": faces.DETECT_MAX_SIDE,
            }
            t_ours = best_time(lambda t=table: stage1.preprocess(t, size, n_frames), args.repeat)
            full = faces.DETECT_MAX_SIDE
            faces.DETECT_MAX_SIDE = max(h, w)  # the naive reference: full-size detection ...
            try:
                t_naive = best_time(
                    lambda t=table: stage1.preprocess(t, size, n_frames, detect_every_frame=True),
                    args.repeat,
                )  # ... every frame
            finally:
                faces.DETECT_MAX_SIDE = full
            emit("real_size_fps", n / t_ours, "frames/s", **common)
            emit(
                "real_size_speedup_vs_full_size_every_frame",
                t_naive / t_ours,
                "x",
                target=5,
                **common,
            )


def stage1_share(repeat: int = 2) -> None:
    """Stage 1's share of a variant page's time, from the latest run's manifest; target at most
    5 %. Two figures per dataset, against the mean of its 3D CNN pages: the stage-1 *page*
    (kernel start-up, the teaching figures and montage included) and stage 1's *work*, the
    preprocessing itself (``stage1.for_profile`` on the book's stand-ins, no cache), timed here.
    """
    from mer_utils import results
    from mer_utils.build.runner import REPO

    path = results.manifest_path(REPO / "book" / "results")
    if not path.exists():
        emit(
            "stage1_share_of_a_variant_page",
            float("nan"),
            "%",
            note="no book/results/manifest.json: run `make book` first",
        )
        return
    manifest = json.loads(path.read_text())
    methods = {m["page"] for m in config.methods().values() if m["method"] == "cnn"}
    for dataset in config.datasets(composites=False):
        pages = {
            p["key"].split("/")[1]: p
            for p in manifest["pages"]
            if p["key"].startswith(f"{dataset}/") and p["status"] == "ok"
        }
        stage1_s = pages.get("01-image-preprocessing", {}).get("seconds")
        variant = [p["seconds"] for k, p in pages.items() if k in methods]
        if stage1_s is None or not variant:
            continue
        mean_cnn = sum(variant) / len(variant)
        common = {
            "dataset": dataset,
            "mean_cnn_page_s": round(mean_cnn, 1),
            "profile": manifest["profile"],
        }
        emit(
            "stage1_share_of_a_variant_page",
            100 * stage1_s / mean_cnn,
            "%",
            target=5,
            stage1_page_s=stage1_s,
            note="the stage-1 page: kernel start-up, figures and montage included",
            **common,
        )
        source = manifest.get("sources", {}).get(dataset, {})
        root = REPO / source.get("dir", "")  # the folder the run read
        if not source.get("dir") or not root.is_dir():
            continue
        table = datasets.load(dataset, root)
        work = best_time(lambda t=table: stage1.for_profile(t, manifest["profile"]), repeat)
        emit(
            "stage1_work_share_of_a_variant_page",
            100 * work / mean_cnn,
            "%",
            target=5,
            stage1_work_s=round(work, 2),
            clips=len(table),
            note="stage1.for_profile on the book's stand-ins, uncached, timed now",
            **common,
        )


if __name__ == "__main__":
    sys.exit(main())
