"""Stages 2-3 and the evaluation: one method under each protocol on one dataset -> records.

A method page shows its four steps as calls a reader can change and re-run:
:func:`runs_to_make` (the method, built once, and one :class:`Planned` run per repeat of every
protocol), then for each run :func:`split` (its samples and folds, :func:`mer_utils.folds.prepare`),
:func:`fit` (every fold taken from the fold store or fitted, :func:`mer_utils.folds.fit_fold`:
resampling of the training part, training with model selection on the validation part,
prediction of the test part) and :func:`score`, which :func:`assemble`\\ s the folds into the
run's tables (:mod:`mer_utils.schema`): one record with the scores of the pooled test predictions
(:mod:`mer_utils.metrics`), the majority baseline of the same folds, the permutation chance level
of the same predictions (:mod:`mer_utils.chance`), one row per fold and one confusion matrix per
test subject, and stores them (:mod:`mer_utils.results`). :func:`run_protocols` is the same four
steps in one call.

The runs' folds are one plan (:func:`plan`: every :class:`FoldTask` with its key in the fold
store), executed by one fold executor (:func:`execute`) wherever it runs: :func:`fit` on the
page's machine, or a Dask worker the runner sent the same tasks to
(:mod:`mer_utils.build.cluster`, which lists them with :func:`page_runs`). The pages then only
view what the plan produced.

Seeds: split seeds depend on the run seed and the repeat only (every method sees the same
splits); the model is built once per call with the run seed, so every fold starts from the same
initial weights, and fold ``f`` of repeat ``r`` trains with ``protocols.seed_for(seed, r, f)``.
The same arguments give the same records.
"""

from __future__ import annotations

import datetime as _dt
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

from . import chance, folds, methods, metrics, protocols, results, schema
from .config import CLASSES
from .folds import FoldStore, RunSpec
from .profile import Profile, resolve
from .schema import FoldResult

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


def run_protocols(
    clips: Any,
    method: str,
    protocols_: list[str],
    profile: Profile | dict | str,
    seed: int,
    data_kind: str,
    results_dir: str | Path | None = None,
    progress: bool = False,
    data_id: str | None = None,
) -> results.Results:
    """Run ``method`` under each protocol (every repeat the profile asks for); return its tables.

    ``clips`` is a ``stage1.ClipSet`` from :func:`mer_utils.stage1.load_clips` (its ``source``
    names the dataset folder and annotation file); ``data_kind`` says whether that folder is a
    stand-in or a licensed copy, ``data_id`` identifies the data (the runner passes it; computed
    from the folder when None). With ``results_dir`` every run is written to the results tables
    (replacing an earlier run with the same key) and its pooled test predictions to a file beside
    them. Protocols the method's entry skips (``skip_protocols``) are left out.

    It is the four steps a method page shows, one run after another: :func:`runs_to_make`, then
    for each run :func:`split`, :func:`fit` and :func:`score`.
    """
    out = []
    for planned in runs_to_make(clips, method, protocols_, profile, seed, data_kind, data_id):
        plan = split(planned)
        fitted = fit(planned, plan, results_dir, progress)
        out.append(score(planned, plan, fitted, results_dir))
    return results.Results.of_runs(out)


# ----------------------------------------------------------------------------- the page's steps
@dataclass
class Planned:
    """One run a method page makes: one repeat of one protocol (:attr:`spec`).

    ``same_as`` is the earlier run whose computation this one repeats (e.g. ``paper-leaky`` of a
    method that resamples nothing is its ``paper`` run: nothing to leak); such a run is not
    split or fitted again, its record is that run's, relabelled. ``result`` holds the run once
    :func:`score` made it, ``seconds`` the time its steps took so far.
    """

    spec: RunSpec
    same_as: "Planned | None" = None
    result: results.Run | None = None
    seconds: float = 0.0

    @property
    def protocol(self) -> str:
        return self.spec.protocol

    @property
    def repeat(self) -> int:
        return self.spec.repeat

    def tasks(self) -> list["FoldTask"]:
        """The folds this run fits, each with its key in the fold store (none for a run that
        repeats an earlier one)."""
        if self.same_as is not None:
            return []
        return [
            FoldTask(self.protocol, self.repeat, f, folds.fold_key(self.spec, f))
            for f in range(folds.count(self.spec))
        ]


@dataclass(frozen=True)
class FoldTask:
    """One fold of a page's plan: which run (protocol, repeat), which fold, and its key in the
    fold store. The local run and a Dask cluster execute the same tasks with :func:`execute`."""

    protocol: str
    repeat: int
    fold: int
    key: str


def plan(runs: list[Planned]) -> list[tuple[Planned, FoldTask]]:
    """Every fold a page's runs fit, in order: the one plan both the local run (:func:`fit`)
    and the Dask runner (:mod:`mer_utils.build.cluster`) execute."""
    return [(planned, task) for planned in runs for task in planned.tasks()]


def execute(planned: Planned, task: FoldTask, samples: folds.Plan | None = None) -> FoldResult:
    """The fold executor: fold ``task`` of run ``planned`` fitted (its samples and folds made
    first unless ``samples`` gives them). Wherever it runs, a fold is this call."""
    if (task.protocol, task.repeat) != (planned.protocol, planned.repeat):
        raise ValueError(f"fold task {task} is not of run {planned.protocol} r{planned.repeat}")
    return folds.execute(planned.spec, task.fold, samples)


def page_runs(params: dict, build: bool = True) -> list[Planned]:
    """The runs of a method page from its parameters (dataset, dataset_dir, annotation,
    profile, cache_dir, method, protocols, seed, data_kind, data_id), its clips read exactly as
    the page reads them (from the stage-1 cache its dataset's stage-1 page wrote). Without
    ``build`` the method is only described (enough for the fold keys: the runner lists a page's
    folds with it); a cluster worker builds it and fits folds."""
    from . import stage1

    clips = stage1.load_clips(
        params["dataset"],
        params["dataset_dir"],
        params["profile"],
        params["cache_dir"],
        annotation=params.get("annotation"),
        data_id=params.get("data_id"),
    )
    return runs_to_make(
        clips,
        params["method"],
        list(params["protocols"]),
        params["profile"],
        int(params["seed"]),
        params["data_kind"],
        data_id=params.get("data_id"),
        build=build,
    )


def runs_to_make(
    clips: Any,
    method: str,
    protocols_: list[str],
    profile: Profile | dict | str,
    seed: int,
    data_kind: str,
    data_id: str | None = None,
    build: bool = True,
) -> list[Planned]:
    """The runs of a method page, in order: every repeat of every protocol of ``protocols_``
    that the method does not skip, the method built once with the run ``seed`` (every fold then
    starts from the same initial weights; without ``build`` only described, see
    :func:`page_runs`). Arguments as :func:`run_protocols`."""
    source = _source(clips, data_kind, data_id)
    data = folds.check_clips(clips)
    prof = resolve(profile, data.dataset)
    obj = methods.describe(method, prof)
    if build:
        obj.build(clips, data.X, seed)
    skipped = set(obj.entry.get("skip_protocols", {}))
    first: dict[tuple, Planned] = {}
    out = []
    for protocol in (p for p in protocols_ if p not in skipped):
        for repeat in range(prof.repeats_of(protocol)):
            spec = RunSpec(data, obj, protocol, repeat, prof, seed, source)
            same = _equivalent_run(protocol, repeat, obj.switches)
            planned = Planned(spec, same_as=first.get(same))
            first.setdefault(same, planned)
            out.append(planned)
    return out


def split(planned: Planned) -> folds.Plan | None:
    """The samples of a run (the clips, their resampled copies under ``paper-leaky``, or
    windows) and its folds (:func:`mer_utils.folds.prepare`); None for a run that repeats an
    earlier one (:attr:`Planned.same_as`)."""
    if planned.same_as is not None:
        return None
    start = time.perf_counter()
    plan = folds.prepare(planned.spec)
    planned.seconds += time.perf_counter() - start
    return plan


def fit(
    planned: Planned,
    plan: folds.Plan | None,
    results_dir: str | Path | None = None,
    progress: bool = False,
) -> list[FoldResult] | None:
    """Every fold of a run: taken from the fold store under ``results_dir`` when it holds it,
    else fitted (:func:`mer_utils.folds.fit_fold`: resampling of the training part, training with
    model selection on the validation part, prediction of the test part) and stored."""
    if plan is None:
        return None
    start = time.perf_counter()
    store = FoldStore(results_dir) if results_dir is not None else None
    spec = planned.spec
    desc = f"{spec.data.dataset} {spec.method.name} {spec.protocol} r{spec.repeat}"
    fitted = []
    for task in _progress(planned.tasks(), progress, desc):
        result = store.get(task.key) if store is not None else None
        if result is None:
            result = execute(planned, task, plan)
            if store is not None:
                store.put(task.key, result)
        fitted.append(result)
    planned.seconds += time.perf_counter() - start
    return fitted


def score(
    planned: Planned,
    plan: folds.Plan | None,
    fitted: list[FoldResult] | None,
    results_dir: str | Path | None = None,
) -> results.Run:
    """The run's tables from its folds (:func:`assemble`: the record with its scores, baseline
    and permutation chance level, one row per fold, one confusion matrix per test subject),
    written to the results tables under ``results_dir`` when it is given."""
    if planned.same_as is not None:
        source = planned.same_as.result
        if source is None:
            raise ValueError(
                f"{planned.protocol} r{planned.repeat} repeats an earlier run that was not "
                "scored yet: score the runs in order"
            )
        out = source.relabelled(planned.protocol)
    else:
        start = time.perf_counter()
        out = assemble(planned.spec, plan, fitted)
        out.others = rescored(planned.spec, plan, fitted)
        planned.seconds += time.perf_counter() - start
        out.record.seconds = round(planned.seconds, 3)
        _log(planned.spec, out)
    if results_dir is not None:
        out = results.write_run(results_dir, out)
    planned.result = out
    return out


def _equivalent_run(protocol: str, repeat: int, switches: dict) -> tuple:
    """Runs with the same key are the same computation: resampling before the split changes
    nothing for a method that resamples nothing, so its paper-leaky run is its paper run."""
    info = protocols.info(protocol)
    leaky = info["resample_before_split"] and (switches["augment"] or switches["smote"])
    return (info["split"], info.get("folds"), info.get("samples"), bool(leaky), repeat)


def repeats_of(protocol: str, profile: Profile | dict | str) -> int:
    """How many times ``protocol`` runs under ``profile`` (:meth:`Profile.repeats_of`)."""
    return resolve(profile).repeats_of(protocol)


def _log(spec: RunSpec, out: results.Run) -> None:
    logger.info(
        "%s %s %s r%d: accuracy %.3f uf1 %.3f (baseline %.3f, chance %.3f) in %.1f s",
        spec.data.dataset,
        spec.method.name,
        spec.protocol,
        spec.repeat,
        out.record.accuracy,
        out.record.uf1,
        out.record.baseline_accuracy,
        out.record.chance_uf1,
        out.record.seconds,
    )


def assemble(spec: RunSpec, plan: folds.Plan, fitted: list[FoldResult]) -> results.Run:
    """The tables of a run from its fold results: the record, one row per fold, one confusion
    matrix per test subject, and the pooled predictions."""
    preds = pd.concat([pd.DataFrame({**r.test, "fold": r.fold}) for r in fitted], ignore_index=True)
    true, pred = preds["true"].to_numpy(dtype=int), preds["pred"].to_numpy(dtype=int)
    scores = metrics.summarize(true, pred)
    majority = [metrics.majority_class(_labels(r.counts["train"])) for r in fitted]
    base = metrics.summarize(
        true, np.concatenate([np.full(r.n_test, m) for r, m in zip(fitted, majority)])
    )
    units = [
        (str(subject), metrics.confusion(g["true"].to_numpy(int), g["pred"].to_numpy(int)))
        for subject, g in preds.groupby("subject", sort=True)
    ]
    info = spec.info
    groups = (
        [cm for _, cm in units]
        if info["subject_independent"]
        else [
            metrics.confusion(g["true"].to_numpy(int), g["pred"].to_numpy(int))
            for _, g in preds.groupby("fold", sort=False)
        ]
    )
    shuffled = chance.test(groups, seed=protocols.seed_for(spec.seed, spec.repeat, chance.STREAM))
    leaks = [r.leak for r in fitted if r.leak]
    leak = {k: int(sum(x[k] for x in leaks)) for k in leaks[0]} if leaks else None
    distinct = leak["distinct_test_clips"] if leak else int(len(true))
    key = _key(spec)
    prof = spec.profile
    params = spec.method.params()
    device = fitted[0].device
    record = schema.Record(
        **key,
        data_kind=spec.source["kind"],
        data_root=str(spec.source["root"]),
        data_annotation=str(spec.source["annotation"]),
        split_seed=protocols.split_seed(spec.seed, spec.repeat),
        n_clips=int(len(spec.data.rows)),
        n_excluded_stage1=spec.data.n_excluded,
        n_subjects=int(spec.data.rows["subject"].nunique()),
        n_folds=len(fitted),
        n_samples=int(len(plan.pool.y)),
        n_test=int(len(true)),
        n_test_clips=distinct,
        method_kind=spec.method.kind,
        inputs=spec.method.describe_inputs(),
        augment=spec.method.switches["augment"],
        smote=spec.method.switches["smote"],
        class_weight=spec.method.switches["class_weight"],
        method_params_id=results.params_id(params),
        size=int(prof.size),
        n_frames=int(prof.n_frames),
        epochs=int(prof.epochs),
        **{k: scores[k] for k in metrics.RECORD_SCORES},
        **{f"baseline_{k}": base[k] for k in metrics.BASELINE_SCORES},
        **shuffled,
        constant_prediction=bool(len(set(pred.tolist())) == 1),
        **training_fit(fitted),
        leak_test_from_clip_in_training=leak["test_from_a_clip_in_training"] if leak else None,
        leak_test_augmented=leak["test_augmented_copies"] if leak else None,
        leak_test_synthetic=leak["test_synthetic"] if leak else None,
        seconds=round(sum(r.seconds for r in fitted), 3),
        device_kind=str(device["kind"]),
        device_name=str(device["name"]),
        device_count=int(device["count"]),
        precision=str(fitted[0].precision),
        **package_versions(),
        timestamp=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        predictions_file=None,
    )
    fold_rows = [_fold_row(key, r, m) for r, m in zip(fitted, majority)]
    unit_rows = [
        schema.Unit(**key, subject=s, **dict(zip(schema.CONFUSION_COLUMNS, cm.ravel().tolist())))
        for s, cm in units
    ]
    pooled = preds.assign(true=[CLASSES[i] for i in true], pred=[CLASSES[i] for i in pred])
    return results.Run(
        record,
        fold_rows,
        unit_rows,
        pooled[list(schema.PREDICTION_COLUMNS)],
        {"profile": prof.as_dict(), "method": params},
    )


def rescored(spec: RunSpec, plan: folds.Plan, fitted: list[FoldResult]) -> list[results.Run]:
    """The same training scored with the epoch each fold's TEST part likes best
    (``best-test-epoch``, :func:`mer_utils.flownets.select`), where its folds kept every epoch's
    test predictions: a run of its own, keyed apart by ``selection``, paired with the honest
    run on the same folds and test subjects. None for methods that keep one epoch."""
    if not fitted or not all(r.test_by_epoch for r in fitted):
        return []
    from . import flownets

    selection = "best-test-epoch"
    other = assemble(spec, plan, [flownets.select(r, selection) for r in fitted])
    for row in [other.record, *other.folds, *other.units]:
        row.selection = selection
    other.record.seconds = 0.0  # the training is the honest run's
    return [other]


def _key(spec: RunSpec) -> dict:
    return {
        "dataset": spec.data.dataset,
        "method": spec.method.name,
        "protocol": spec.protocol,
        "profile": spec.profile_name,
        "seed": int(spec.seed),
        "repeat": int(spec.repeat),
        "data_id": str(spec.source["data_id"]),
        "profile_id": results.params_id(spec.profile.as_dict()),
    }


def _fold_row(key: dict, r: FoldResult, majority: int) -> schema.Fold:
    counts = r.counts
    weights = r.weights or {}
    smote = r.smote_info or {}
    info = r.info or {}
    notes = list(info.get("fallback", [])) if isinstance(info.get("fallback"), list) else []
    lacking = [c for c, n in zip(CLASSES, counts["train"]) if not n]
    if lacking:  # e.g. a LOSO fold whose test subject holds every clip of a class
        notes.append(f"{schema.LACKS} {', '.join(lacking)}")
    note = "; ".join(notes)
    return schema.Fold(
        **key,
        fold=str(r.fold),
        n_train=int(r.n_train),
        n_val=int(r.n_val),
        n_test=int(r.n_test),
        **{
            f"{part}_{c}": int(n)
            for part, name in (
                ("train", "train"),
                ("resampled", "train_resampled"),
                ("val", "val"),
                ("test", "test"),
            )
            for c, n in zip(CLASSES, counts[name])
        },
        **{f"weight_{c}": weights.get(c) for c in CLASSES},
        smote_k=smote.get("k_used"),
        smote_added=smote.get("added"),
        epochs=r.epochs,
        best_epoch=r.best_epoch,
        **_fit_scores(r.train_confusion),
        majority=CLASSES[majority],
        seconds=float(r.seconds),
        cpu_seconds=r.cpu_seconds,
        test_subjects=" ".join(map(str, info.get("test_subjects", []))),
        val_subjects=" ".join(map(str, info.get("val_subjects", []))),
        note=note,
    )


def _fit_scores(cells: list[int] | None) -> dict:
    """``train_accuracy`` and ``train_uf1`` of one fold from its training-part confusion matrix
    (None for a fold stored without it)."""
    if cells is None:
        return {"train_accuracy": None, "train_uf1": None}
    k = len(CLASSES)
    got = metrics.from_confusion(np.asarray(cells, dtype=int).reshape(k, k))
    return {"train_accuracy": float(got["accuracy"]), "train_uf1": float(got["uf1"])}


def training_fit(fitted: list[FoldResult]) -> dict:
    """The record's fit on the training part: the folds' accuracy and UF1 on the samples they
    were trained on, each a mean over the folds (None where no fold kept its fit)."""
    scores = [_fit_scores(r.train_confusion) for r in fitted]
    out = {}
    for name in ("train_accuracy", "train_uf1"):
        values = [s[name] for s in scores if s[name] is not None]
        out[name] = round(float(np.mean(values)), 6) if values else None
    return out


def _labels(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(CLASSES)), counts)


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


def _source(clips: Any, data_kind: str, data_id: str | None) -> dict:
    source = {"kind": data_kind, **getattr(clips, "source", {})}
    missing = {"kind", "root", "annotation"} - set(source)
    if missing:
        raise ValueError(f"data source lacks keys {sorted(missing)}")
    if source["kind"] not in ("stand-in", "licensed"):
        raise ValueError(f"data kind must be 'stand-in' or 'licensed', got {source['kind']!r}")
    if data_id is None:
        data_id = source.get("data_id") or _content_id(clips)
    source["data_id"] = str(data_id)
    return source


def _content_id(clips: Any) -> str:
    """A data id from the clips themselves, for runs made without the runner's data id."""
    h = hashlib.sha256(np.ascontiguousarray(clips.X).tobytes())
    h.update(json.dumps(list(map(str, clips.rows.get("clip", [])))).encode())
    return "c" + h.hexdigest()[:15]


def _progress(items, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(items, desc=desc, disable=not enabled, leave=False)
