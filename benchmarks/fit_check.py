"""Does the raw-frame 3D CNN fit its training part? One fold, several training settings.

A diagnostic, not part of the book: stage 1 of one SMIC-HS stand-in folder at the quick profile
(32 px, 8 frames), fold 0 of the book's ``kfold`` split (seed 0), and MER-DACWB3DCNNST's
resampling (augmentation x2, class weights), trained with the quick profile's settings or with
the changes named on the command line. Prints the input's statistics, then per setting one JSON
line: the kept model's accuracy / UF1 on its (resampled) training part, on the original training
clips, on validation and test, and the per-epoch training and validation loss.

    nice -n 5 .venv/bin/python benchmarks/fit_check.py <stand-ins>/SMIC default \
        epochs=30,patience=30 nodrop=1 learning_rate=0.003 as=onset_difference

Settings: ``epochs=``, ``patience=``, ``learning_rate=``, ``batch_size=``, ``nodrop=1`` (no
dropout), ``variant=<method>`` (its switches), ``as=onset_difference`` (the DIFF-3DCNN input),
``inputs=clipnorm`` (each clip standardised); ``default`` is the quick profile as it is.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mer_utils import config, methods, metrics, models, protocols, stage1

root = Path(sys.argv[1])
configs = sys.argv[2:]
prof = {**config.profile("quick", "smic"), "name": "quick"}
clips = stage1.load_clips(
    "smic", root, prof, cache_dir=Path(sys.argv[1]).parent / ".fit-check-cache"
)
X = clips.X
rows = clips.rows.reset_index(drop=True)
y = config.class_codes(rows["label"])
print(
    json.dumps(
        {
            "X": list(X.shape),
            "dtype": str(X.dtype),
            "mean": float(X.mean()),
            "std": float(X.std()),
            "min": int(X.min()),
            "max": int(X.max()),
            "frac_zero": float((X == 0).mean()),
            "temporal_std": float(X.astype(np.float32).std(axis=1).mean()),
            "across_clip_std": float(X.astype(np.float32).mean(axis=1).std(axis=0).mean()),
        }
    ),
    flush=True,
)
split = protocols.splits(rows, "kfold", 0, 0)[0]
for name in configs:
    kw = dict(a.split("=") for a in name.split(",") if "=" in a)
    p = {
        **prof,
        **{
            k: (float(v) if k == "learning_rate" else int(v))
            for k, v in kw.items()
            if k in ("epochs", "patience", "learning_rate", "batch_size")
        },
    }
    if kw.get("nodrop"):
        p["model"] = {"dropout": 0.0, "dense_dropout": 0.0}
    variant = kw.get("variant", "MER-DACWB3DCNNST")
    inputs = kw.get("inputs", None)
    sw = methods.switches(variant)
    Xin = X
    if inputs == "clipnorm":  # per-clip standardisation around 128
        f = X.astype(np.float32)
        m = f.mean(axis=(1, 2, 3, 4), keepdims=True)
        s = f.std(axis=(1, 2, 3, 4), keepdims=True) + 1e-3
        Xin = np.clip(128 + 40 * (f - m) / s, 0, 255).astype(np.uint8)
    t0 = time.perf_counter()
    pool = methods.resample_pool(Xin[split.train], y[split.train], sw, p, 7)
    w = methods.training_weights(pool.y, sw)
    import keras

    keras.backend.clear_session()
    models.set_seeds(0)
    model = models.model_for_profile(
        tuple(X.shape[1:]), p, inputs_as=kw.get("as", "frames"), seed=0
    )
    fit = models.train(
        model, pool.X, pool.y, Xin[split.val], y[split.val], p, class_weight=w, seed=7
    )
    bs = int(p["batch_size"])
    tr = models.predict(model, pool.X, bs)
    orig = models.predict(model, Xin[split.train], bs)
    te = models.predict(model, Xin[split.test], bs)
    va = models.predict(model, Xin[split.val], bs)
    h = fit["history"]
    out = {
        "config": name,
        "n_train": int(len(pool.y)),
        "epochs": fit["epochs"],
        "best": fit["best_epoch"],
        "train_acc_kept": round(float(np.mean(tr == pool.y)), 3),
        "train_uf1_kept": round(metrics.uf1(pool.y, tr), 3),
        "train_orig_acc": round(float(np.mean(orig == y[split.train])), 3),
        "val_acc": round(float(np.mean(va == y[split.val])), 3),
        "test_uf1": round(metrics.uf1(y[split.test], te), 3),
        "pred_classes_train": np.bincount(tr, minlength=3).tolist(),
        "true_train": np.bincount(pool.y, minlength=3).tolist(),
        "loss": [round(v, 3) for v in h["loss"]],
        "acc": [round(v, 3) for v in h["accuracy"]],
        "val_loss": [round(v, 3) for v in h["val_loss"]],
        "s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out), flush=True)
