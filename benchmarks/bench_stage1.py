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
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from mer_utils import config, datasets, faces, synthetic


def emit(figure: str, value: float, unit: str, **extra) -> None:
    """Print one benchmark figure as a JSON line."""
    record = {"bench": "stage1", "figure": figure, "value": round(float(value), 3), "unit": unit, **extra,
              "load": round(os.getloadavg()[0], 2)}
    print(json.dumps(record), flush=True)


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Return the shortest wall time of ``repeat`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    """Generate the stand-in, time the stage and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    prof = config.profile(args.profile)
    size, n_frames = prof["size"], prof["n_frames"]
    with tempfile.TemporaryDirectory(prefix="bench-stage1-") as tmp:
        root = synthetic.generate("casme2", Path(tmp) / "CASME2", seed=0, **prof["standin"])
        table = datasets.load("casme2", root)
        sampled = [[refs[i] for i in faces.sample_indices(len(refs), n_frames)] for refs in table["frames"]]
        n = sum(len(s) for s in sampled)
        common = {"profile": args.profile, "clips": len(table), "frames": n, "size": size, "n_frames": n_frames}

        start = time.perf_counter()
        faces._detector(), faces._predictor()
        emit("model_load", time.perf_counter() - start, "s", **common)

        def stage(**kw) -> float:
            return best_time(lambda: faces.preprocess(table, size, n_frames, **kw), args.repeat)

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
        t_long = best_time(lambda: faces.preprocess(table, size, 2 * n_frames), args.repeat)
        t_long_every = best_time(lambda: faces.preprocess(table, size, 2 * n_frames, detect_every_frame=True),
                                 args.repeat)
        emit("speedup_vs_every_frame_2x_frames", t_long_every / t_long, "x", **long)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit("peak_memory", peak, "MiB", **common)


if __name__ == "__main__":
    sys.exit(main())
