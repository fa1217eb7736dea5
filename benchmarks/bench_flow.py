"""Benchmark of the optical-flow baseline (mer_utils.flow): one JSON line per figure.

Generates a CASME II stand-in with the chosen profile's stand-in parameters (read from
``profiles.yaml``, whatever the generator's current parameters are) into a temporary folder,
runs stage 1 on it (key frames and landmarks), and times, in the same process and run:

* ``flow_pair_ms``         - one DIS flow between two key frames (milliseconds);
* ``features_clips_per_s`` - :func:`mer_utils.flow.features` on every clip, 1 process, and
  ``features_clips_per_s_workers_2`` with 2 worker threads;
* ``loso_s``               - a full leave-one-subject-out run: scikit-learn's
  ``LeaveOneGroupOut`` over subjects, :func:`mer_utils.flow.classify` per fold (class
  weights on), features already computed; ``loso_total_s`` adds the feature extraction: the
  time from stage-1 output to the pooled predictions of one dataset;
* ``epe_dis_<a>px`` and ``epe_farneback_<a>px`` - the accuracy that motivated the choice of
  DIS: key frames of the stand-in are warped by a known smooth random displacement field
  (peak ``a`` px, zero on the masked pixels), sensor noise (sigma 2 grey levels) is added to
  both frames, and the mean end-point error |estimated - true| (px) over the textured face
  pixels where the true motion exceeds 10 % of its peak is reported, for the study's DIS
  settings and for Farneback with OpenCV's tutorial settings (:data:`FARNEBACK`), with
  ``farneback_pair_ms`` its time.

Each timing is the best of ``--repeat`` runs (the machine is shared and noisy; every line
carries the 1-minute load average).

Usage: ``python benchmarks/bench_flow.py [--profile smoke] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from _bench import best_time, emitter  # noqa: E402  (benchmarks/_bench.py)

from mer_utils import config, flow, stage1, standins

emit = emitter("flow", 4)

FARNEBACK = {
    "pyr_scale": 0.5,
    "levels": 3,
    "winsize": 15,
    "iterations": 3,
    "poly_n": 5,
    "poly_sigma": 1.2,
    "flags": 0,
}
"""Farneback settings of the comparison (OpenCV's optical-flow tutorial values)."""

AMPLITUDES = (0.3, 1.0, 3.0)
"""Peak displacements (px, key-frame pixels) of the accuracy comparison."""


def loso(F: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Pooled leave-one-subject-out predictions of the baseline (class weights on)."""
    from sklearn.model_selection import LeaveOneGroupOut

    pred = np.full(len(y), -1)
    for train, test in LeaveOneGroupOut().split(F, y, groups):
        pred[test] = flow.classify(F[train], y[train], F[test], class_weight=True, seed=0)
    return pred


def farneback(onset: np.ndarray, apex: np.ndarray) -> np.ndarray:
    """Farneback flow with :data:`FARNEBACK`."""
    return cv2.calcOpticalFlowFarneback(onset, apex, None, **FARNEBACK)


def smooth_field(shape: tuple[int, int], peak: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random displacement field (sum of 4 Gaussian bumps), peak magnitude ``peak``."""
    h, w = shape
    gy, gx = np.mgrid[:h, :w].astype(np.float32)
    field = np.zeros((h, w, 2), np.float32)
    for _ in range(4):
        cx, cy = rng.uniform(0.15, 0.85, 2) * (w, h)
        sigma = rng.uniform(0.06, 0.16) * w
        bump = np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * sigma**2))
        field += bump[..., None] * rng.normal(0, 1, 2).astype(np.float32)
    return field * (peak / max(float(np.linalg.norm(field, axis=-1).max()), 1e-6))


def epe_cases(keyframes: np.ndarray, peak: float, n: int, rng: np.random.Generator):
    """``n`` (onset, apex, true flow, scored pixels) cases warped from stand-in onset frames."""
    cases = []
    for i in rng.choice(len(keyframes), size=n, replace=len(keyframes) < n):
        base = keyframes[i, 0].astype(np.float32)
        valid = cv2.erode((base > 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        field = (
            smooth_field(base.shape, peak, rng)
            * (cv2.erode((base > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)[..., None]
        )
        gy, gx = np.mgrid[: base.shape[0], : base.shape[1]].astype(np.float32)
        moved = cv2.remap(
            base,
            gx - field[..., 0],
            gy - field[..., 1],
            cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_REFLECT,
        )

        def noisy(img, black=base == 0):
            out = np.clip(np.rint(img + rng.normal(0, 2, img.shape)), 1, 255).astype(np.uint8)
            out[black] = 0
            return out

        scored = valid & (np.linalg.norm(field, axis=-1) > 0.1 * peak)
        cases.append((noisy(base), noisy(moved), field, scored))
    return cases


def main(argv: list[str] | None = None) -> None:
    """Generate the stand-in, run stage 1, time the baseline and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--epe-cases", type=int, default=24, help="warped pairs per amplitude")
    args = ap.parse_args(argv)
    prof = config.profile(args.profile)
    with tempfile.TemporaryDirectory(prefix="bench-flow-") as tmp:
        root = standins.generate("casme2", Path(tmp) / "CASME2", seed=0, **prof["standin"])
        start = time.perf_counter()
        clips = stage1.load_clips("casme2", root, prof)
        t_stage1 = time.perf_counter() - start
    n = len(clips.rows)
    k = clips.keyframes.shape[-1]
    y = np.array([config.CLASSES.index(label) for label in clips.rows["label"]])
    groups = clips.rows["subject"].to_numpy()
    common = {
        "profile": args.profile,
        "clips": n,
        "subjects": int(len(set(groups))),
        "keyframe_size": k,
        "n_features": len(flow.FEATURE_NAMES),
        "cv2_threads": cv2.getNumThreads(),
    }
    emit("stage1_s", t_stage1, "s (stage 1 with key frames, for context)", **common)

    onset, apex = clips.keyframes[0]
    flow.compute_flow(onset, apex)  # create the DIS object before timing
    reps = 20
    t_pair = (
        best_time(lambda: [flow.compute_flow(onset, apex) for _ in range(reps)], args.repeat) / reps
    )
    emit("flow_pair_ms", 1000 * t_pair, "ms per key-frame pair (DIS)", **common)
    t_fb = best_time(lambda: [farneback(onset, apex) for _ in range(reps)], args.repeat) / reps
    emit("farneback_pair_ms", 1000 * t_fb, "ms per key-frame pair (Farneback)", **common)

    F = flow.features(clips)
    t_feat = best_time(lambda: flow.features(clips), args.repeat)
    emit("features_clips_per_s", n / t_feat, "clips/s", **common)
    t_feat2 = best_time(lambda: flow.features(clips, workers=2), args.repeat)
    emit("features_clips_per_s_workers_2", n / t_feat2, "clips/s", **common)
    t_loso = best_time(lambda: loso(F, y, groups), args.repeat)
    emit("loso_s", t_loso, "s per LOSO run (features given)", folds=int(len(set(groups))), **common)
    emit(
        "loso_total_s",
        t_feat + t_loso,
        "s per LOSO run including feature extraction",
        folds=int(len(set(groups))),
        **common,
    )

    rng = np.random.default_rng(0)
    for peak in AMPLITUDES:
        cases = epe_cases(clips.keyframes, peak, args.epe_cases, rng)
        for name, method in (("dis", flow.compute_flow), ("farneback", farneback)):
            err = [
                float(np.linalg.norm(method(a, b) - f, axis=-1)[m].mean()) for a, b, f, m in cases
            ]
            emit(
                f"epe_{name}_{peak:g}px",
                float(np.mean(err)),
                "px mean end-point error",
                relative=round(float(np.mean(err)) / peak, 3),
                pairs=len(cases),
                **common,
            )


if __name__ == "__main__":
    sys.exit(main())
