"""Calibrate the stand-ins' expression amplitude: how learnable is each amplitude?

For each amplitude (peak displacement in px on a 200 px face) this script generates the CASME II
and SMIC stand-ins at the quick profile's frame scale into a temporary folder, runs stage 1 at
the quick profile's ``size`` and ``n_frames`` (:func:`mer_utils.faces.load_clips`) and evaluates
the paper's best variant, MER-DACWB3DCNNST (augmentation x ``augment_factor`` and class weights,
:func:`mer_utils.experiment.resample`), with the quick profile's model and training settings
under two 5-fold cross-validations:

* ``subject``: subject-grouped folds (``StratifiedGroupKFold``): the test fold's subjects are
  unseen; validation (model selection, early stopping) is the next fold's subjects; the other
  three folds train;
* ``clip``: clip-level stratified folds (``StratifiedKFold``): the same people appear in
  training and test (the paper's kind of split); validation is the next fold's clips.

Predictions are pooled over the folds. One JSON line per (dataset, amplitude, protocol, input,
repeat): accuracy, UF1 (:func:`mer_utils.metrics.uf1`), the majority-class baseline's accuracy
and UF1 (:func:`mer_utils.metrics.majority_baseline`, each fold predicting its training part's
majority class) and seconds. The target (mer_utils.synthetic's docstring): subject-independent
UF1 at least about 0.15 above the baseline's and accuracy below about 0.9, clip-level above
subject-independent.

Two references tell a signal that is in the frames from one the model finds, on the same folds:

* ``probe_*``: a linear probe, logistic regression (``C=0.01``, balanced class weights) on one
  image per clip, the mean of the middle sampled frames minus the mean of the first and last
  (apex minus onset/offset) of stage 1's output;
* ``--inputs raw diff`` also trains the same variant and model on *onset-subtracted* clips
  (``128 + 3 x (frame - first frame)``, clipped to 0..255) instead of the raw frames: a
  diagnostic, not the paper's method.

    .venv/bin/python benchmarks/calibrate_standins.py                      # 1 2 3 4 6 px
    .venv/bin/python benchmarks/calibrate_standins.py --amplitudes 3 --repeats 3
    .venv/bin/python benchmarks/calibrate_standins.py --amplitudes 1 2 3 4 6 12 24 --inputs raw diff
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mer_utils import config, experiment, faces, metrics, models, standins  # noqa: E402
from mer_utils.config import CLASSES  # noqa: E402

VARIANT = "MER-DACWB3DCNNST"


def folds(
    rows, protocol: str, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(train, val, test) index arrays: fold f tests, fold f+1 validates, the rest train."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = rows["label"].to_numpy()
    idx = np.arange(len(rows))
    if protocol == "subject":
        split = StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(
            idx, y, groups=rows["subject"].astype(str).to_numpy()
        )
    elif protocol == "clip":
        split = StratifiedKFold(k, shuffle=True, random_state=seed).split(idx, y)
    else:
        raise ValueError(protocol)
    parts = [test for _, test in split]
    out = []
    for f in range(k):
        val = parts[(f + 1) % k]
        train = np.concatenate([parts[j] for j in range(k) if j not in (f, (f + 1) % k)])
        out.append((np.sort(train), np.sort(val), np.sort(parts[f])))
    return out


def onset_difference(X: np.ndarray) -> np.ndarray:
    """Clips as their change from the first frame: ``128 + 3 x (frame - frame 0)``, uint8."""
    X = X.astype(np.float32)
    return np.clip(128 + 3 * (X - X[:, :1]), 0, 255).astype(np.uint8)


def probe(clips, protocol: str, k: int, seed: int) -> dict:
    """Linear probe on apex-minus-ends difference images, pooled over the same folds."""
    from sklearn.linear_model import LogisticRegression

    X = clips.X[..., 0].astype(np.float32)
    rows = clips.rows.reset_index(drop=True)
    y = rows["label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy(dtype=int)
    t = X.shape[1]
    mid = X[:, t // 4 : t - t // 4].mean(1)
    features = (mid - 0.5 * (X[:, 0] + X[:, -1])).reshape(len(X), -1)
    true, pred = [], []
    for train, val, test in folds(rows, protocol, k, seed):
        fit = np.concatenate([train, val])
        model = LogisticRegression(C=0.01, max_iter=3000, class_weight="balanced")
        model.fit(features[fit], y[fit])
        true.append(y[test])
        pred.append(model.predict(features[test]))
    true, pred = np.concatenate(true), np.concatenate(pred)
    return {
        "probe_accuracy": round(float(np.mean(true == pred)), 4),
        "probe_uf1": round(metrics.uf1(true, pred), 4),
    }


def evaluate(clips, protocol: str, profile: dict, k: int, seed: int, inputs: str = "raw") -> dict:
    """Cross-validate MER-DACWB3DCNNST; pooled accuracy / UF1 and the majority baseline."""
    import keras

    start = time.perf_counter()
    X, rows = clips.X, clips.rows.reset_index(drop=True)
    if inputs == "diff":
        X = onset_difference(X)
    y = rows["label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy(dtype=int)
    switches = config.variant(VARIANT)
    keras.backend.clear_session()
    models.set_seeds(seed)
    model = models.model_for_profile(X.shape[1:], profile)
    fresh = models.snapshot(model)
    true, pred, base = [], [], []
    for f, (train, val, test) in enumerate(folds(rows, protocol, k, seed)):
        fold_seed = seed * 1000 + f
        X_tr, y_tr, _, weights = experiment.resample(
            X[train], y[train], switches, profile, fold_seed
        )
        models.restore(model, fresh)
        models.train(
            model, X_tr, y_tr, X[val], y[val], profile, class_weight=weights, seed=fold_seed
        )
        true.append(y[test])
        pred.append(models.predict(model, X[test], batch_size=int(profile["batch_size"])))
        base.append((y[train], y[test]))
    true, pred = np.concatenate(true), np.concatenate(pred)
    b = metrics.majority_baseline(base)
    return {
        "accuracy": round(float(np.mean(true == pred)), 4),
        "uf1": round(metrics.uf1(true, pred), 4),
        "baseline_accuracy": round(b["accuracy"], 4),
        "baseline_uf1": round(b["uf1"], 4),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--amplitudes", type=float, nargs="+", default=[1, 2, 3, 4, 6])
    ap.add_argument("--datasets", nargs="+", default=["casme2", "smic"])
    ap.add_argument("--protocols", nargs="+", default=["subject", "clip"])
    ap.add_argument(
        "--inputs",
        nargs="+",
        default=["raw"],
        choices=["raw", "diff"],
        help="raw: the paper's input; diff: onset-subtracted clips (diagnostic)",
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1, help="CV repeats (seeds 0, 1, ...)")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--workers", type=int, default=2, help="processes generating the stand-ins")
    ap.add_argument("--keep", type=Path, help="generate into this folder instead of a temp dir")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mer_utils").setLevel(logging.ERROR)
    profile = {**config.profile(args.profile), "name": args.profile}
    scale = dict(profile["standin"]).get("frame_scale", 0.5)
    with tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        base = args.keep or Path(tmp)
        for amplitude in args.amplitudes:
            t0 = time.perf_counter()
            roots = standins.generate_all(
                base / f"amp{amplitude:g}",
                seed=0,
                datasets=args.datasets,
                workers=args.workers,
                frame_scale=scale,
                amplitude=amplitude,
            )
            generated = time.perf_counter() - t0
            for name in args.datasets:
                t1 = time.perf_counter()
                clips = faces.load_clips(name, roots[name], profile)
                stage1 = time.perf_counter() - t1
                for protocol in args.protocols:
                    for r in range(args.repeats):
                        reference = probe(clips, protocol, args.folds, seed=r)
                        for inputs in args.inputs:
                            result = evaluate(clips, protocol, profile, args.folds, r, inputs)
                            print(
                                json.dumps(
                                    {
                                        "dataset": name,
                                        "amplitude": amplitude,
                                        "protocol": protocol,
                                        "input": inputs,
                                        "repeat": r,
                                        **result,
                                        **reference,
                                        "n_clips": len(clips.rows),
                                        "n_subjects": int(clips.rows["subject"].nunique()),
                                        "excluded": len(clips.excluded),
                                        "frame_scale": scale,
                                        "profile": args.profile,
                                        "generate_seconds": round(generated, 1),
                                        "stage1_seconds": round(stage1, 1),
                                    }
                                ),
                                flush=True,
                            )


if __name__ == "__main__":
    main()
