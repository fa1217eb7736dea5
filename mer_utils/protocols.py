"""Evaluation protocols: which clips train, select and test the model.

The protocols are data (``mer_utils/data/protocols.yaml``); this module implements their four
kinds of split. Every function returns positional indices into ``rows`` (0..n-1); ``rows``
needs the columns ``subject`` and ``label``. Splits are deterministic given the seed, and the
seed of a split depends only on the run's seed and the repeat number, never on the variant:
every variant of the study is trained and tested on exactly the same splits, which is what
makes paired comparisons between variants possible.

=============  ====================================================================
split kind     parts
=============  ====================================================================
``clip``       one stratified random 80/10/10 split of the clips (protocols
               ``paper`` and ``paper-leaky``; the same person can be in training
               and test)
``subject``    one 80/10/10 split of *whole subjects* (subject-independent)
``kfold``      subject-grouped, class-stratified k-fold: every subject is tested
               once; validation = whole subjects taken from each fold's training
               subjects
``loso``       leave-one-subject-out: one fold per subject; validation as in kfold
=============  ====================================================================

``paper-leaky`` differs from ``paper`` not in the split but in *what* is split: the
experiment resamples (augments, SMOTEs) the whole dataset first and splits the resulting
samples (:mod:`mer_utils.experiment`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import config

logger = logging.getLogger(__name__)

PROTOCOLS: tuple[str, ...] = tuple(config.load("protocols"))
"""The protocol names, in the order the book shows them (``protocols.yaml``)."""

_TRIES = 20


def info(protocol: str) -> dict:
    """The facts of ``protocol`` from ``protocols.yaml`` (split kind, repeated, ...)."""
    table = config.load("protocols")
    if protocol not in table:
        raise ValueError(f"unknown protocol {protocol!r}; known: {PROTOCOLS}")
    return dict(table[protocol])


def seed_for(*parts: int) -> int:
    """A 31-bit seed derived from integers (the run seed, a repeat, a fold...).

    ``numpy.random.SeedSequence`` mixes the parts, so seeds derived for different repeats or
    folds never coincide the way ``seed + repeat`` would for neighbouring runs.
    """
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] >> 1)


def split_seed(seed: int, repeat: int) -> int:
    """The seed of repeat ``repeat`` of a run with seed ``seed`` (shared by all variants)."""
    return seed_for(seed, repeat)


@dataclass
class Split:
    """One train/validation/test partition (positional indices into the clip table)."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    info: dict = field(default_factory=dict)
    """How the split was made (e.g. a fallback from stratified to plain random sampling)."""


def splits(
    rows: pd.DataFrame,
    protocol: str,
    seed: int,
    repeat: int = 0,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
) -> list[Split]:
    """Return the folds of one repeat of ``protocol`` for ``rows``.

    ``val_frac`` and ``test_frac`` are fractions of all clips (``clip`` splits) or of all
    subjects (``subject``); ``kfold`` and ``loso`` take ``val_frac`` of each fold's training
    subjects for validation. The split's own seed is :func:`split_seed` (seed, repeat).
    """
    _check_rows(rows)
    kind = info(protocol)
    s = split_seed(seed, repeat)
    if kind["split"] == "clip":
        return [clip_split(rows, s, val_frac, test_frac, name=protocol)]
    if kind["split"] == "subject":
        return [subject_split(rows, s, val_frac, test_frac)]
    if kind["split"] == "kfold":
        return kfold_splits(rows, s, int(kind["folds"]), val_frac)
    if kind["split"] == "loso":
        return loso_splits(rows, s, val_frac)
    raise ValueError(f"protocols.yaml: {protocol}: unknown split kind {kind['split']!r}")


def clip_split(
    rows: pd.DataFrame,
    seed: int,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    name: str = "paper",
) -> Split:
    """Clip-level stratified random split (the paper's 80/10/10), ignoring subjects.

    Two ``StratifiedShuffleSplit`` draws: test from all clips, then validation from the rest
    (``val_frac`` of all clips). Stratification needs at least two clips per class and at least
    as many clips in a part as classes; when that fails the draw falls back to a plain
    ``ShuffleSplit`` (logged, and recorded in ``info["fallback"]``).
    """
    labels = rows["label"].to_numpy()
    idx = np.arange(len(rows))
    split_info: dict = {"fallback": []}
    rest, test = _shuffle_split(idx, labels, test_frac, seed, "test", split_info)
    val_share = val_frac / (1.0 - test_frac)
    train_pos, val_pos = _shuffle_split(
        np.arange(len(rest)), labels[rest], val_share, seed + 1, "val", split_info
    )
    return Split(name, np.sort(rest[train_pos]), np.sort(rest[val_pos]), np.sort(test), split_info)


def subject_split(
    rows: pd.DataFrame, seed: int, val_frac: float = 0.1, test_frac: float = 0.1
) -> Split:
    """Subject-independent split: whole subjects in train, validation and test.

    ``GroupShuffleSplit`` draws ``ceil(test_frac x subjects)`` test subjects, then
    ``ceil(val_frac x subjects)`` validation subjects from the rest. Up to 20 candidate draws
    (seeds derived from ``seed``) are tried, deterministically. A draw whose training part lacks
    a class of the data is taken only if no draw avoids it; among the others the first whose
    test part holds every class is kept, else the one covering most classes in test (then in
    validation). ``info`` records the draw used and the classes in test.
    """
    from sklearn.model_selection import GroupShuffleSplit

    groups = rows["subject"].astype(str).to_numpy()
    labels = rows["label"].to_numpy()
    n_groups = len(set(groups))
    if n_groups < 3:
        raise ValueError(f"the subject protocol needs at least 3 subjects, got {n_groups}")
    n_test = max(1, math.ceil(test_frac * n_groups))
    n_val = max(1, math.ceil(val_frac * n_groups))
    if n_test + n_val >= n_groups:
        raise ValueError(
            f"{n_groups} subjects cannot give {n_test} test + {n_val} validation "
            "subjects and leave any for training"
        )
    all_classes = set(labels)
    idx = np.arange(len(rows))
    best, best_score = None, (False, -1, -1)
    for attempt in range(_TRIES):
        draw_seed = seed_for(seed, attempt)
        rest, test = next(
            GroupShuffleSplit(1, test_size=n_test, random_state=draw_seed).split(idx, groups=groups)
        )
        tr, va = next(
            GroupShuffleSplit(1, test_size=n_val, random_state=draw_seed + 1).split(
                rest, groups=groups[rest]
            )
        )
        score = (
            set(labels[rest[tr]]) == all_classes,
            len(set(labels[test])),
            len(set(labels[rest[va]])),
        )
        if score > best_score:
            best, best_score = (rest[tr], rest[va], test, attempt), score
        if score[0] and score[1] == len(all_classes):
            break
    train, val, test, attempt = best
    if not best_score[0]:
        logger.warning("subject split: every draw leaves a class out of the training part")
    if best_score[1] < len(all_classes):
        logger.info(
            "subject split: no draw of %d puts every class in test; best has %d classes",
            _TRIES,
            best_score[1],
        )
    split_info = {
        "draw": attempt,
        "test_classes": sorted(set(labels[test])),
        "test_subjects": sorted(set(groups[test])),
        "val_subjects": sorted(set(groups[val])),
    }
    return Split("subject", np.sort(train), np.sort(val), np.sort(test), split_info)


def kfold_splits(rows: pd.DataFrame, seed: int, k: int = 5, val_frac: float = 0.1) -> list[Split]:
    """Subject-grouped, class-stratified k-fold (``StratifiedGroupKFold``, shuffled with ``seed``).

    Every subject is in the test part of exactly one fold; the classes are spread over the folds
    as evenly as whole subjects allow. Validation subjects are drawn from each fold's training
    subjects as in :func:`loso_splits`. With fewer than ``k`` subjects, one fold per subject.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    groups = rows["subject"].astype(str).to_numpy()
    labels = rows["label"].to_numpy()
    n_groups = len(set(groups))
    if n_groups < 3:
        raise ValueError(f"k-fold needs at least 3 subjects, got {n_groups}")
    folds = StratifiedGroupKFold(n_splits=min(k, n_groups), shuffle=True, random_state=seed)
    out = []
    for fold, (rest, test) in enumerate(folds.split(np.zeros(len(rows)), labels, groups)):
        train, val, val_subjects = _validation_subjects(
            groups, labels, rest, val_frac, np.random.default_rng([seed, fold])
        )
        out.append(
            Split(
                f"fold-{fold + 1}",
                train,
                val,
                np.sort(test),
                {"test_subjects": sorted(set(groups[test])), "val_subjects": val_subjects},
            )
        )
    return out


def loso_splits(rows: pd.DataFrame, seed: int, val_frac: float = 0.1) -> list[Split]:
    """Leave-one-subject-out folds (``LeaveOneGroupOut``), one per subject.

    In each fold the validation part is ``max(1, round(val_frac x training subjects))`` whole
    subjects drawn from the fold's training subjects (fold-specific seed; of up to 20 candidate
    draws, those that leave every class of the fold's remaining clips in training are preferred,
    and among them the first covering the most classes in validation is kept).
    """
    from sklearn.model_selection import LeaveOneGroupOut

    groups = rows["subject"].astype(str).to_numpy()
    labels = rows["label"].to_numpy()
    if len(set(groups)) < 3:
        raise ValueError(f"LOSO needs at least 3 subjects, got {len(set(groups))}")
    out = []
    for fold, (rest, test) in enumerate(LeaveOneGroupOut().split(groups, groups=groups)):
        train, val, val_subjects = _validation_subjects(
            groups, labels, rest, val_frac, np.random.default_rng([seed, fold])
        )
        test_subject = str(groups[test][0])
        out.append(
            Split(
                f"loso-{test_subject}",
                train,
                val,
                np.sort(test),
                {"test_subjects": [test_subject], "val_subjects": val_subjects},
            )
        )
    return out


def one_per_class(rows: pd.DataFrame, idx: np.ndarray, seed: int = 0) -> np.ndarray:
    """One randomly chosen position of ``idx`` per class present (CLASSES order), e.g. example
    clips of a training part."""
    rng = np.random.default_rng(seed)
    idx = np.asarray(idx, dtype=int)
    labels = rows["label"].to_numpy()[idx]
    return np.array(
        [rng.choice(idx[labels == c]) for c in config.CLASSES if (labels == c).any()], dtype=int
    )


def _validation_subjects(
    groups: np.ndarray,
    labels: np.ndarray,
    rest: np.ndarray,
    val_frac: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Split a fold's non-test clips ``rest`` into training and validation by whole subjects.

    ``max(1, round(val_frac x subjects))`` validation subjects; of up to 20 random draws, one
    that keeps every class of ``rest`` in training is preferred, then the most classes in
    validation. Returns (train, val, validation subjects).
    """
    subjects = np.array(sorted(set(groups[rest])))
    n_val = max(1, round(val_frac * len(subjects)))
    present = set(labels[rest])
    best, best_cov = None, (False, -1)
    for _ in range(_TRIES):
        chosen = rng.choice(subjects, size=n_val, replace=False)
        in_val = np.isin(groups[rest], chosen)
        cov = (set(labels[rest][~in_val]) == present, len(set(labels[rest][in_val])))
        if cov > best_cov:
            best, best_cov = chosen, cov
    in_val = np.isin(groups[rest], best)
    return np.sort(rest[~in_val]), np.sort(rest[in_val]), sorted(best.tolist())


def _shuffle_split(
    idx: np.ndarray, labels: np.ndarray, frac: float, seed: int, part: str, split_info: dict
) -> tuple[np.ndarray, np.ndarray]:
    """One stratified draw of ``frac`` of ``idx`` (at least one item), plain random if needed."""
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    n_out = max(1, math.ceil(frac * len(idx)))
    if n_out >= len(idx):
        raise ValueError(f"{len(idx)} clips are too few to hold out {n_out} for {part}")
    try:
        keep, out = next(
            StratifiedShuffleSplit(1, test_size=n_out, random_state=seed).split(idx, labels)
        )
    except ValueError as err:
        logger.info("clip split: %s part not stratified (%s); plain random draw instead", part, err)
        split_info["fallback"].append(f"{part}: {err}")
        keep, out = next(ShuffleSplit(1, test_size=n_out, random_state=seed).split(idx))
    return idx[keep], idx[out]


def _check_rows(rows: pd.DataFrame) -> None:
    missing = {"subject", "label"} - set(rows.columns)
    if missing:
        raise ValueError(f"the clip table lacks columns {sorted(missing)}")
    if len(rows) == 0:
        raise ValueError("the clip table is empty")
