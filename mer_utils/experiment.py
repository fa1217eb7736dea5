"""Stages 2-3 and the evaluation: one method under one protocol on one dataset -> records.

:func:`run_protocols` is what a variant page calls. For every protocol of the run, and every
repeat of a repeated protocol, it makes the protocol's splits (:mod:`mer_utils.protocols`),
resamples the *training part only* (augmentation, SMOTE, class weights, as the variant's switches
in ``variants.yaml`` say), trains the 3D CNN with model selection on the validation part, and
predicts the test part. The test predictions are pooled over folds and scored
(:mod:`mer_utils.metrics`) into one record per (protocol, repeat); :mod:`mer_utils.results`
stores it. Beside the scores a record keeps what the intervals of the book need: the pooled
confusion matrix of every test subject (for the bootstrap over subjects) and the test and
training sizes of every split (for the corrected t interval over repeats).

The one exception is ``paper-leaky``, the protocol the paper's numbers imply: there the
variant's augmentation and SMOTE are applied to the WHOLE dataset first, and the resulting
samples are split 80/10/10. Augmented copies of one clip then sit in training and in test; the
record counts how many (``leak``).

Seeds: split seeds depend on the run seed and the repeat only (every variant sees the same
splits); the model is built once per call with the run seed, so every fold starts from the same
initial weights, and fold ``f`` of repeat ``r`` trains with ``protocols.seed_for(seed, r, f)``.
The same arguments give the same records.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import logging
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import atomic, augment, balance, config, metrics, models, protocols, results
from .config import CLASSES

logger = logging.getLogger(__name__)

VERSION_PACKAGES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "keras": ("keras",),
    "sklearn": ("scikit-learn",),
    "imblearn": ("imbalanced-learn",),
    "dlib": ("dlib-bin", "dlib"),
    "cv2": ("opencv-python-headless", "opencv-python"),
}
"""Record column suffix -> distribution names tried (first installed one wins)."""

PROFILE_KEYS = ("epochs", "batch_size", "patience", "learning_rate", "augmentation", "repeats")
"""Keys a profile must have for training and evaluation."""


@dataclass
class Data:
    """The clips a page evaluates: tensors, their rows and integer labels."""

    X: np.ndarray
    rows: pd.DataFrame
    y: np.ndarray
    dataset: str
    n_excluded: int
    digest: str
    """SHA-256 of the clip tensors and rows: what fold keys know of the data."""


@dataclass
class Pool:
    """Samples after resampling: ``origin`` is the clip each sample comes from (-1: a SMOTE
    interpolation), ``kind`` 'original', 'augmented' or 'synthetic'."""

    X: np.ndarray
    y: np.ndarray
    origin: np.ndarray
    kind: np.ndarray
    smote_info: dict | None


def run_protocols(
    clips: Any,
    variant: str,
    protocols_: list[str],
    profile: dict | str,
    seed: int,
    data_kind: str,
    results_dir: str | Path | None = None,
    progress: bool = False,
) -> list[dict]:
    """Run ``variant`` under each protocol (every repeat of the repeated ones); return records.

    ``clips`` is a ``faces.ClipSet`` from :func:`mer_utils.faces.load_clips` (its ``source``
    names the dataset folder and annotation file); ``data_kind`` says whether that folder is a
    stand-in or a licensed copy. With ``results_dir`` every record is written to the results
    table (replacing an earlier record with the same key) and its pooled test predictions to a
    file beside it.
    """
    source = _check_source({"kind": data_kind, **getattr(clips, "source", {})})
    profile_name, prof = _resolve_profile(profile)
    data = _check_clips(clips)
    method = make_method(variant, clips, data, prof, seed)
    store = FoldStore(results_dir) if results_dir is not None else None
    done: dict[tuple, tuple[dict, pd.DataFrame]] = {}
    out = []
    for protocol in protocols_:
        for repeat in range(repeats_of(protocol, prof)):
            same = _equivalent_run(protocol, repeat, method.switches)
            if same in done:  # e.g. paper-leaky of a variant that resamples nothing = paper
                record, predictions = _relabel(*done[same], protocol)
            else:
                record, predictions = run(
                    data,
                    method,
                    protocol,
                    repeat,
                    profile_name,
                    prof,
                    seed,
                    source,
                    progress,
                    store,
                )
                done[same] = (record, predictions)
            if results_dir is not None:
                record["predictions_file"] = str(
                    results.write_predictions(results_dir, record, predictions)
                )
                results.write_records(results_dir, [record])
            out.append(record)
    return out


def _equivalent_run(protocol: str, repeat: int, switches: dict) -> tuple:
    """Runs with the same key are the same computation: resampling before the split changes
    nothing for a variant that resamples nothing, so its paper-leaky run is its paper run."""
    kind = protocols.info(protocol)
    leaky = kind["resample_before_split"] and (switches["augment"] or switches["smote"])
    return (kind["split"], kind.get("folds"), bool(leaky), repeat)


def _relabel(record: dict, predictions: pd.DataFrame, protocol: str) -> tuple[dict, pd.DataFrame]:
    """A copy of an equivalent run's record under ``protocol`` (same splits, same predictions)."""
    copy = {**record, "protocol": protocol, "predictions_file": None, "seconds": 0.0}
    if protocols.info(protocol)["resample_before_split"]:
        n = int(sum(copy["counts_test"].values()))
        copy["leak"] = {
            "test_samples": n,
            "test_augmented_copies": 0,
            "test_synthetic": 0,
            "test_from_a_clip_in_training": 0,
            "distinct_test_clips": n,
        }
    return copy, predictions


def repeats_of(protocol: str, profile: dict) -> int:
    """How many times ``protocol`` runs under ``profile`` (repeated protocols: ``repeats``)."""
    return int(profile["repeats"]) if protocols.info(protocol)["repeated"] else 1


def make_method(variant: str, clips: Any, data: Data, profile: dict, seed: int):
    """The method object of ``variant`` (``method`` in variants.yaml): :class:`CNN` or
    :class:`Flow`."""
    kind = config.variant(variant)["method"]
    if kind == "cnn":
        return CNN(variant, data.X, profile, seed)
    if kind == "flow":
        return Flow(variant, clips, profile, seed)
    raise ValueError(f"variants.yaml: {variant}: unknown method {kind!r} (cnn or flow)")


def method_params(variant: str, profile: dict) -> dict:
    """What defines method ``variant`` beyond its data (stored in every record, part of every
    fold key): its kind and switches, and the augmentation policy or the flow settings."""
    switches = config.variant(variant)
    if switches["method"] == "flow":
        from . import flow

        return {"kind": "flow", "class_weight": bool(switches["class_weight"]), **flow.PARAMETERS}
    return {
        "kind": "cnn",
        "inputs": switches.get("inputs", "frames"),
        **{k: bool(switches[k]) for k in ("augment", "smote", "class_weight")},
        "augmentation": profile["augmentation"] if switches["augment"] else None,
    }


class CNN:
    """The paper's 3D CNN with one variant's switches, built once and reset before every fold.

    Building and tracing a Keras model costs 1-2 s, more than a fold's training on small data:
    the model is built once with the run seed and its fresh state (weights, dropout seeds,
    optimizer) restored before each fold (:func:`mer_utils.models.snapshot`).
    """

    def __init__(self, variant: str, X: np.ndarray, profile: dict, seed: int):
        self.variant = variant
        self.switches = config.variant(variant)
        self.profile = profile
        self.inputs = X
        """What the method learns from, one row per clip: the stage-1 clip tensors."""
        _clear_session()
        models.set_seeds(seed)
        self.model = models.model_for_profile(
            tuple(X.shape[1:]),
            profile,
            inputs_as=self.switches.get("inputs", "frames"),
            seed=seed,
        )
        self.fresh = models.snapshot(self.model)

    def params(self) -> dict:
        """What defines the method beyond the profile (stored in every record)."""
        return method_params(self.variant, self.profile)

    def fit_predict(
        self, X_train, y_train, weights, X_val, y_val, X_test, seed: int
    ) -> tuple[np.ndarray, dict]:
        """Train on the (resampled) training part, select on validation, predict the test part."""
        models.restore(self.model, self.fresh)
        fit = models.train(
            self.model,
            X_train,
            y_train,
            X_val,
            y_val,
            self.profile,
            class_weight=weights,
            seed=seed,
        )
        pred = models.predict(self.model, X_test, batch_size=int(self.profile["batch_size"]))
        return pred, {"epochs": fit["epochs"], "best_epoch": fit["best_epoch"]}


class Flow:
    """The optical-flow baseline (:mod:`mer_utils.flow`): region features of the onset-apex
    flow, computed once per clip, and a scaled linear classifier fitted on each training part.

    It has no epochs and no model selection: the validation part of each split is left unused,
    so that it trains on exactly the training part the 3D CNN trains on and is tested on exactly
    the same test part. Class weights, when the entry asks for them, are scikit-learn's
    ``"balanced"`` weights N / (K n_k): Eq. 1 divided by the number of classes K.
    """

    def __init__(self, variant: str, clips: Any, profile: dict, seed: int):
        from . import flow

        self.variant = variant
        self.switches = config.variant(variant)
        if self.switches["augment"] or self.switches["smote"]:
            raise ValueError(
                f"variants.yaml: {variant}: the flow method resamples no clips "
                "(augment and smote must be false)"
            )
        self.profile = profile
        self._flow = flow
        self.inputs = flow.features(clips)
        """What the method learns from, one row per clip: the flow features."""

    def params(self) -> dict:
        """The flow settings (stored in every record)."""
        return method_params(self.variant, self.profile)

    def fit_predict(
        self, X_train, y_train, weights, X_val, y_val, X_test, seed: int
    ) -> tuple[np.ndarray, dict]:
        """Fit scaler and classifier on the training part only; predict the test part (a
        training part with one class predicts that class)."""
        if len(np.unique(y_train)) == 1:
            return np.full(len(X_test), int(y_train[0])), {"epochs": None, "best_epoch": None}
        clf = self._flow.make_classifier(class_weight=weights is not None, seed=seed)
        clf.fit(X_train, y_train)
        return clf.predict(X_test).astype(int), {"epochs": None, "best_epoch": None}


def run(
    data: Data,
    method: CNN | Flow,
    protocol: str,
    repeat: int,
    profile_name: str,
    prof: dict,
    seed: int,
    source: dict,
    progress: bool = False,
    store: FoldStore | None = None,
) -> tuple[dict, pd.DataFrame]:
    """One repeat of one protocol: its folds (each taken from ``store`` when it already holds
    it, else fitted and put there), the pooled predictions, and the record."""
    start = time.perf_counter()
    plan = prepare(data, method, protocol, repeat, prof, seed)
    results_ = []
    desc = f"{data.dataset} {method.variant} {protocol} r{repeat}"
    for f in _progress(range(len(plan.folds)), progress, desc):
        key = fold_key(data, method.variant, protocol, repeat, f, prof, seed)
        result = store.get(key) if store is not None else None
        if result is None:
            result = fit_fold(plan, f, method, prof, seed, repeat)
            if store is not None:
                store.put(key, result)
        results_.append(result)
    record, pooled = assemble(
        data, method, plan, results_, protocol, repeat, profile_name, prof, seed, source
    )
    record["seconds"] = round(time.perf_counter() - start, 3)
    logger.info(
        "%s %s %s r%d: accuracy %.3f uf1 %.3f (baseline %.3f) in %.1f s",
        data.dataset,
        method.variant,
        protocol,
        repeat,
        record["accuracy"],
        record["uf1"],
        record["baseline_accuracy"],
        record["seconds"],
    )
    return record, pooled


@dataclass
class RunPlan:
    """The samples and folds of one (protocol, repeat) of one method on one dataset."""

    pool: Pool
    rows: pd.DataFrame
    folds: list[protocols.Split]
    leaky: bool


def prepare(
    data: Data, method: CNN | Flow, protocol: str, repeat: int, prof: dict, seed: int
) -> RunPlan:
    """Resample the whole dataset first (``paper-leaky`` only) and make the protocol's folds."""
    leaky = bool(protocols.info(protocol)["resample_before_split"])
    if leaky:  # the paper-implied protocol: resample everything, then split the samples
        pool = resample_pool(
            method.inputs, data.y, method.switches, prof, protocols.seed_for(seed, repeat, 7)
        )
    else:
        n = len(data.y)
        pool = Pool(method.inputs, data.y, np.arange(n), np.full(n, "original"), None)
    rows = _sample_rows(data.rows, pool)
    return RunPlan(pool, rows, protocols.splits(rows, protocol, seed, repeat), leaky)


def fit_fold(plan: RunPlan, f: int, method: CNN | Flow, prof: dict, seed: int, repeat: int) -> dict:
    """Fold ``f`` of a run: resample its training part (unless the run resampled everything
    first), train, predict its test part. Returns plain data (JSON-able), see :class:`FoldStore`."""
    start = time.perf_counter()
    pool, split = plan.pool, plan.folds[f]
    fold_seed = protocols.seed_for(seed, repeat, f)
    y_train = pool.y[split.train]
    if plan.leaky:
        X_tr, y_tr, smote_info = pool.X[split.train], y_train, None
    else:
        part = resample_pool(pool.X[split.train], y_train, method.switches, prof, fold_seed)
        X_tr, y_tr, smote_info = part.X, part.y, part.smote_info
    weights = balance.class_weights(y_tr, len(CLASSES)) if method.switches["class_weight"] else None
    pred, fit = method.fit_predict(
        X_tr, y_tr, weights, pool.X[split.val], pool.y[split.val], pool.X[split.test], fold_seed
    )
    test = split.test
    return {
        "fold": split.name,
        "n_train": len(split.train),
        "n_val": len(split.val),
        "n_test": len(test),
        "info": split.info,
        "counts": {
            name: np.bincount(labels, minlength=len(CLASSES)).tolist()
            for name, labels in (
                ("train", y_train),
                ("train_resampled", y_tr),
                ("val", pool.y[split.val]),
                ("test", pool.y[test]),
            )
        },
        "test": {
            "subject": plan.rows["subject"].to_numpy()[test].tolist(),
            "clip": plan.rows["clip"].to_numpy()[test].tolist(),
            "sample": pool.kind[test].tolist(),
            "true": pool.y[test].tolist(),
            "pred": np.asarray(pred, dtype=int).tolist(),
        },
        "leak": leak_summary(pool, [split]) if plan.leaky else None,
        "smote_info": smote_info,
        "weights": None if weights is None else {CLASSES[k]: w for k, w in weights.items()},
        "epochs": fit.get("epochs"),
        "best_epoch": fit.get("best_epoch"),
        "seconds": round(time.perf_counter() - start, 3),
        "device": models.device_info(),
        "precision": (
            models.precision_policy(prof) if method.switches["method"] == "cnn" else "float64"
        ),
    }


def assemble(
    data: Data,
    method: CNN | Flow,
    plan: RunPlan,
    folds: list[dict],
    protocol: str,
    repeat: int,
    profile_name: str,
    prof: dict,
    seed: int,
    source: dict,
) -> tuple[dict, pd.DataFrame]:
    """The record of a run and its pooled predictions, from its fold results."""
    preds = pd.concat(
        [pd.DataFrame({**r["test"], "fold": r["fold"]}) for r in folds], ignore_index=True
    )
    true, pred = preds["true"].to_numpy(dtype=int), preds["pred"].to_numpy(dtype=int)
    scores = metrics.summarize(true, pred)
    base = metrics.majority_baseline(
        [
            (
                np.repeat(np.arange(len(CLASSES)), r["counts"]["train"]),
                np.asarray(r["test"]["true"]),
            )
            for r in folds
        ]
    )
    counts = {
        part: np.sum([r["counts"][part] for r in folds], axis=0)
        for part in ("train", "train_resampled", "val", "test")
    }
    smote_runs = [r["smote_info"] for r in folds if r["smote_info"] is not None]
    if plan.leaky and plan.pool.smote_info is not None:
        smote_runs = [plan.pool.smote_info]
    leaks = [r["leak"] for r in folds if r["leak"]]
    switches = method.switches
    record: dict[str, Any] = {
        "dataset": data.dataset,
        "variant": method.variant,
        "protocol": protocol,
        "profile": profile_name,
        "seed": int(seed),
        "repeat": int(repeat),
        "split_seed": protocols.split_seed(seed, repeat),
        "data_kind": source["kind"],
        "data_root": str(source["root"]),
        "data_annotation": str(source["annotation"]),
        "n_clips": int(len(data.rows)),
        "n_excluded_stage1": data.n_excluded,
        "n_subjects": int(data.rows["subject"].nunique()),
        "n_folds": len(folds),
        "n_samples": int(len(plan.pool.y)),
        "augment": bool(switches["augment"]),
        "smote": bool(switches["smote"]),
        "class_weight": bool(switches["class_weight"]),
        "method_params": method.params(),
        **{k: v for k, v in scores.items() if k != "n"},
        **{f"baseline_{k}": v for k, v in base.items()},
        "confusion_by_subject": {
            str(s): metrics.confusion(
                g["true"].to_numpy(dtype=int), g["pred"].to_numpy(dtype=int)
            ).tolist()
            for s, g in preds.groupby("subject", sort=True)
        },
        "counts_all": _by_class(np.bincount(data.y, minlength=len(CLASSES))),
        **{f"counts_{part}": _by_class(c) for part, c in counts.items()},
        "leak": ({k: int(sum(leak[k] for leak in leaks)) for k in leaks[0]} if leaks else None),
        "smote_k": [i["k_used"] for i in smote_runs] or None,
        "smote_info": smote_runs or None,
        "class_weights": [r["weights"] for r in folds] if switches["class_weight"] else None,
        "epochs": [r["epochs"] for r in folds],
        "best_epochs": [r["best_epoch"] for r in folds],
        "splits": [
            {
                "name": r["fold"],
                "n_train": r["n_train"],
                "n_val": r["n_val"],
                "n_test": r["n_test"],
                **r["info"],
            }
            for r in folds
        ],
        "seconds": round(sum(r["seconds"] for r in folds), 3),
        "device": {**folds[0]["device"], "precision": folds[0].get("precision", "float32")},
        "profile_params": prof,
        **package_versions(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "predictions_file": None,
    }
    pooled = preds.assign(true=[CLASSES[i] for i in true], pred=[CLASSES[i] for i in pred])
    return {k: record.get(k) for k in results.COLUMNS}, pooled[list(results.PREDICTION_COLUMNS)]


# ----------------------------------------------------------------------------- fold store
CODE_MODULES = ("experiment", "models", "augment", "balance", "protocols", "metrics", "flow")
"""The modules whose code decides a fold's result (their source is part of every fold key)."""

TRAINING_KEYS = (
    "epochs",
    "batch_size",
    "patience",
    "learning_rate",
    "augmentation",
    "model",
    "mixed_precision",
)
"""The profile parameters a fold's training depends on (its data fix size and frames)."""


def fold_key(
    data: Data, variant: str, protocol: str, repeat: int, fold: int, prof: dict, seed: int
) -> str:
    """Everything fold ``fold`` of a run depends on, hashed: the clips themselves (tensors and
    rows), the method's entry and settings, the training parameters, the protocol, seed,
    repeat and fold, and the code of :data:`CODE_MODULES`."""
    payload = {
        "data": data.digest,
        "variant": config.variant(variant),
        "method": method_params(variant, prof),
        "protocol": protocols.info(protocol),
        "training": {k: prof.get(k) for k in TRAINING_KEYS},
        "seed": int(seed),
        "repeat": int(repeat),
        "fold": int(fold),
        "code": _code_digest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@functools.cache
def _code_digest() -> str:
    h = hashlib.sha256()
    for name in CODE_MODULES:
        h.update((Path(__file__).parent / f"{name}.py").read_bytes())
    return h.hexdigest()


def page_folds(params: dict) -> list[dict]:
    """The folds a method page will need that the fold store does not hold yet, as tasks.

    ``params`` are the page's notebook parameters (dataset, dataset_dir, annotation, profile,
    protocols, seed, cache_dir, results_dir, variant). Each task is those plus ``protocol``,
    ``repeat``, ``fold`` and its ``key``; runs equivalent to another (a variant that resamples
    nothing under paper-leaky) are left out, as the page computes them once. The runner sends
    the tasks to a Dask cluster (:mod:`mer_utils.cluster`) and stores what comes back; the page
    then finds every fold in the store.
    """
    data, _, prof = _page_state(*_state_args(params), build=False)
    store = FoldStore(params["results_dir"])
    switches = config.variant(params["variant"])
    tasks, seen = [], set()
    for protocol in params["protocols"]:
        for repeat in range(repeats_of(protocol, prof)):
            same = _equivalent_run(protocol, repeat, switches)
            if same in seen:
                continue
            seen.add(same)
            info = protocols.info(protocol)
            n = (
                1
                if info["split"] == "clip"
                else len(protocols.splits(data.rows, protocol, params["seed"], repeat))
            )
            for f in range(n):
                key = fold_key(data, params["variant"], protocol, repeat, f, prof, params["seed"])
                if store.get(key) is None:
                    tasks.append(
                        {**params, "protocol": protocol, "repeat": repeat, "fold": f, "key": key}
                    )
    return tasks


def fit_fold_task(task: dict) -> tuple[str, dict]:
    """Fit one fold task of :func:`page_folds` (on a cluster worker); return ``(key, result)``.

    It reads the clips from the stage-1 cache the runner's stage-1 page wrote (a shared
    filesystem), builds the method with the run seed exactly as the page would, and fits the
    fold. A key that differs from the runner's means the worker sees other data or other code:
    an error, never a silently different result. Writes nothing: the runner stores the result.
    """
    data, method, prof = _page_state(*_state_args(task))
    key = fold_key(
        data, task["variant"], task["protocol"], task["repeat"], task["fold"], prof, task["seed"]
    )
    if key != task["key"]:
        raise RuntimeError(
            f"fold {task['variant']} {task['protocol']} r{task['repeat']} f{task['fold']}: this "
            "worker computes another key than the runner: it sees other data, cache or code "
            "(check that workers share the repository and the data at the same paths)"
        )
    plan = prepare(data, method, task["protocol"], task["repeat"], prof, task["seed"])
    return key, fit_fold(plan, task["fold"], method, prof, task["seed"], task["repeat"])


def _state_args(params: dict) -> tuple:
    profile = params["profile"]
    return (
        params["dataset"],
        str(params["dataset_dir"]),
        params.get("annotation"),
        profile if isinstance(profile, str) else json.dumps(profile, sort_keys=True),
        str(params["cache_dir"]),
        params["variant"],
        int(params["seed"]),
    )


@functools.lru_cache(maxsize=4)
def _page_state(
    dataset, dataset_dir, annotation, profile, cache_dir, variant, seed, build: bool = True
):
    """Clips, method and profile of a page, kept per process: a worker fitting many folds of
    one page loads the clips and builds the model once (restored before each fold)."""
    from . import faces

    prof_arg = profile if profile in config.load("profiles") else json.loads(profile)
    _, prof = _resolve_profile(prof_arg)
    clips = faces.load_clips(dataset, dataset_dir, prof, cache_dir, annotation=annotation)
    data = _check_clips(clips)
    method = make_method(variant, clips, data, prof, seed) if build else None
    return data, method, prof


class FoldStore:
    """Finished folds on disk, one JSON file per fold key under ``<results dir>/folds/``.

    A page that is interrupted keeps the folds it finished; re-run, it fits only the rest. On a
    Dask cluster the runner fits folds as separate tasks and puts them here, and the pages then
    only gather them. Files are written atomically; an unreadable or foreign file is ignored
    (logged) and its fold refitted.
    """

    def __init__(self, results_dir: str | Path):
        self.root = Path(results_dir) / "folds"

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self.path(key)
        try:
            stored = json.loads(path.read_text())
            if stored.get("key") != key or "result" not in stored:
                raise ValueError("not this fold's file")
            return stored["result"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("fold store: %s unusable (%s); the fold is refitted", path, exc)
            return None

    def put(self, key: str, result: dict) -> Path:
        return atomic.write_json(self.path(key), {"key": key, "result": result})


def resample_pool(X: np.ndarray, y: np.ndarray, switches: dict, profile: dict, seed: int) -> Pool:
    """The variant's resampling of ``(X, y)``: augmentation (the profile's policy and factor),
    then SMOTE, with each sample's origin. Applied to a training part, or, under
    ``paper-leaky`` only, to the whole dataset."""
    n = len(y)
    origin, kind, smote_info = np.arange(n), np.full(n, "original", dtype=object), None
    if switches["augment"]:
        policy = profile["augmentation"]
        X, y = augment.augment_clips(X, y, int(policy["factor"]), seed=seed, policy=policy)
        origin = np.tile(origin, int(policy["factor"]))
        kind = np.concatenate([kind, np.full(len(y) - n, "augmented", dtype=object)])
    if switches["smote"]:
        before = len(y)
        X, y, smote_info = balance.smote(X, y, seed=seed)
        origin = np.concatenate([origin, np.full(len(y) - before, -1)])
        kind = np.concatenate([kind, np.full(len(y) - before, "synthetic", dtype=object)])
    return Pool(X, np.asarray(y, dtype=int), origin, kind.astype(str), smote_info)


def resample(
    X: np.ndarray, y: np.ndarray, switches: dict, profile: dict, seed: int
) -> tuple[np.ndarray, np.ndarray, dict | None, dict[int, float] | None]:
    """The variant's training-part steps: ``(X, y, smote_info, class weights or None)``.

    Call with the *training part* of a split only (see :func:`resample_pool`); the class
    weights of Eq. 1 are computed on the resampled labels (augmentation copies every class
    equally, so they equal Eq. 1 on the original training labels).
    """
    pool = resample_pool(X, y, switches, profile, seed)
    weights = balance.class_weights(pool.y, len(CLASSES)) if switches["class_weight"] else None
    return pool.X, pool.y, pool.smote_info, weights


def leak_summary(pool: Pool, folds: list[protocols.Split]) -> dict:
    """How much of a leaky split's test part comes from clips that are also in training."""
    test = np.concatenate([s.test for s in folds])
    train_origins = set(pool.origin[np.concatenate([s.train for s in folds])].tolist()) - {-1}
    from_training_clip = sum(int(pool.origin[i] in train_origins) for i in test)
    return {
        "test_samples": int(len(test)),
        "test_augmented_copies": int(np.sum(pool.kind[test] == "augmented")),
        "test_synthetic": int(np.sum(pool.kind[test] == "synthetic")),
        "test_from_a_clip_in_training": int(from_training_clip),
        "distinct_test_clips": int(len(set(pool.origin[test].tolist()) - {-1})),
    }


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the study's key packages (``version_<name>`` keys)."""
    out: dict[str, str | None] = {"version_python": platform.python_version()}
    for key, dists in VERSION_PACKAGES.items():
        out[f"version_{key}"] = None
        for dist in dists:
            try:
                out[f"version_{key}"] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def _sample_rows(rows: pd.DataFrame, pool: Pool) -> pd.DataFrame:
    """Subject, clip and label of every sample (SMOTE interpolations: subject '(synthetic)')."""
    subjects = rows["subject"].astype(str).to_numpy()
    clips = (
        rows["clip"].astype(str).to_numpy()
        if "clip" in rows
        else np.array([str(i) for i in range(len(rows))])
    )
    synthetic = pool.origin < 0
    safe = np.where(synthetic, 0, pool.origin)
    return pd.DataFrame(
        {
            "subject": np.where(synthetic, "(synthetic)", subjects[safe]),
            "clip": np.where(synthetic, "(synthetic)", clips[safe]),
            "label": [CLASSES[i] for i in pool.y],
        }
    )


def _resolve_profile(profile: dict | str) -> tuple[str, dict]:
    if isinstance(profile, str):
        return profile, config.profile(profile)
    prof = dict(profile)
    missing = set(PROFILE_KEYS) - set(prof)
    if missing:
        raise ValueError(f"profile lacks keys {sorted(missing)}")
    return str(prof.get("name", "custom")), prof


def _check_source(source: dict) -> dict:
    missing = {"kind", "root", "annotation"} - set(source)
    if missing:
        raise ValueError(f"data source lacks keys {sorted(missing)}")
    if source["kind"] not in ("stand-in", "licensed"):
        raise ValueError(f"data kind must be 'stand-in' or 'licensed', got {source['kind']!r}")
    return source


def _check_clips(clips: Any) -> Data:
    X, rows = clips.X, clips.rows.reset_index(drop=True)
    if X.ndim != 5 or X.shape[-1] != 1:
        raise ValueError(f"clips.X must be (n, T, H, W, 1), got {X.shape}")
    if len(X) != len(rows):
        raise ValueError(f"clips.X has {len(X)} clips but clips.rows has {len(rows)} rows")
    bad = sorted(set(rows["label"]) - set(CLASSES))
    if bad:
        raise ValueError(f"labels {bad} are not among {CLASSES}")
    dataset = "+".join(sorted(set(rows["dataset"].astype(str)))) if "dataset" in rows else "unknown"
    h = hashlib.sha256(np.ascontiguousarray(X).tobytes())
    h.update(rows[[c for c in ("subject", "clip", "label") if c in rows]].to_json().encode())
    return Data(
        X,
        rows,
        config.class_codes(rows["label"]),
        dataset,
        int(len(getattr(clips, "excluded", ()))),
        h.hexdigest(),
    )


def _by_class(counts: np.ndarray) -> dict[str, int]:
    return {c: int(n) for c, n in zip(CLASSES, counts)}


def _clear_session() -> None:
    import keras

    keras.backend.clear_session()


def _progress(items: list, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(items, desc=desc, disable=not enabled, leave=False)
