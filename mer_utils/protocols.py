"""Evaluation protocols: which clips train, select and test the model.

=========  ==============================================================================
protocol   splits
=========  ==============================================================================
paper      one clip-level split 80/10/10, stratified by class (the paper's protocol; the
           same person can be in training and test)
subject    one split 80/10/10 by *whole subjects* (subject-independent)
loso       leave-one-subject-out: one fold per subject; validation = whole subjects taken
           from that fold's training subjects (about 10 %, at least one)
=========  ==============================================================================

Every function returns positional indices into ``rows`` (0..n-1); ``rows`` needs the columns
``subject`` and ``label``. Splits are deterministic given ``seed``.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

PROTOCOLS: tuple[str, ...] = ("paper", "subject", "loso")
"""The protocol names, in the order the book shows them."""

_TRIES = 20


@dataclass
class Split:
    """One train/validation/test partition (positional indices into the clip table)."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    info: dict = field(default_factory=dict)
    """How the split was made (e.g. a fallback from stratified to plain random sampling)."""


def splits(rows: pd.DataFrame, protocol: str, seed: int, val_frac: float = 0.1,
           test_frac: float = 0.1) -> list[Split]:
    """Return the splits of ``protocol`` (``paper``, ``subject`` or ``loso``) for ``rows``.

    ``val_frac`` and ``test_frac`` are fractions of all clips (``paper``) or of all subjects
    (``subject``; ``loso`` uses ``val_frac`` of the training subjects and ignores ``test_frac``).
    """
    _check_rows(rows)
    if protocol == "paper":
        return [paper_split(rows, seed, val_frac, test_frac)]
    if protocol == "subject":
        return [subject_split(rows, seed, val_frac, test_frac)]
    if protocol == "loso":
        return loso_splits(rows, seed, val_frac)
    raise ValueError(f"unknown protocol {protocol!r}; known: {PROTOCOLS}")


def paper_split(rows: pd.DataFrame, seed: int, val_frac: float = 0.1,
                test_frac: float = 0.1) -> Split:
    """Clip-level stratified random split (the paper's 80/10/10), ignoring subjects.

    Two ``StratifiedShuffleSplit`` draws: test from all clips, then validation from the rest
    (``val_frac`` of all clips). Stratification needs at least two clips per class and at least
    as many clips in a part as classes; when that fails the draw falls back to a plain
    ``ShuffleSplit`` (logged, and recorded in ``info["fallback"]``).
    """
    labels = rows["label"].to_numpy()
    idx = np.arange(len(rows))
    info: dict = {"fallback": []}
    rest, test = _shuffle_split(idx, labels, test_frac, seed, "test", info)
    val_share = val_frac / (1.0 - test_frac)
    train_pos, val_pos = _shuffle_split(np.arange(len(rest)), labels[rest], val_share,
                                        seed + 1, "val", info)
    return Split("paper", np.sort(rest[train_pos]), np.sort(rest[val_pos]), np.sort(test), info)


def subject_split(rows: pd.DataFrame, seed: int, val_frac: float = 0.1,
                  test_frac: float = 0.1) -> Split:
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
        raise ValueError(f"{n_groups} subjects cannot give {n_test} test + {n_val} validation "
                         "subjects and leave any for training")
    all_classes = set(labels)
    idx = np.arange(len(rows))
    best, best_score = None, (False, -1, -1)
    for attempt in range(_TRIES):
        draw_seed = seed * 1000 + attempt
        rest, test = next(GroupShuffleSplit(1, test_size=n_test, random_state=draw_seed)
                          .split(idx, groups=groups))
        tr, va = next(GroupShuffleSplit(1, test_size=n_val, random_state=draw_seed + 1)
                      .split(rest, groups=groups[rest]))
        score = (set(labels[rest[tr]]) == all_classes, len(set(labels[test])),
                 len(set(labels[rest[va]])))
        if score > best_score:
            best, best_score = (rest[tr], rest[va], test, attempt), score
        if score[0] and score[1] == len(all_classes):
            break
    train, val, test, attempt = best
    if not best_score[0]:
        logger.warning("subject split: every draw leaves a class out of the training part")
    if best_score[1] < len(all_classes):
        logger.info("subject split: no draw of %d puts every class in test; best has %d classes",
                    _TRIES, best_score[0])
    info = {"draw": attempt, "test_classes": sorted(set(labels[test])),
            "test_subjects": sorted(set(groups[test])), "val_subjects": sorted(set(groups[val]))}
    return Split("subject", np.sort(train), np.sort(val), np.sort(test), info)


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
        subjects = np.array(sorted(set(groups[rest])))
        n_val = max(1, round(val_frac * len(subjects)))
        rng = np.random.default_rng([seed, fold])
        present = set(labels[rest])
        best, best_cov = None, (False, -1)
        for _ in range(_TRIES):
            chosen = rng.choice(subjects, size=n_val, replace=False)
            in_val = np.isin(groups[rest], chosen)
            cov = (set(labels[rest][~in_val]) == present, len(set(labels[rest][in_val])))
            if cov > best_cov:
                best, best_cov = chosen, cov
        in_val = np.isin(groups[rest], best)
        test_subject = str(groups[test][0])
        out.append(Split(f"loso-{test_subject}", np.sort(rest[~in_val]), np.sort(rest[in_val]),
                         np.sort(test), {"test_subjects": [test_subject],
                                         "val_subjects": sorted(best.tolist())}))
    return out


def _shuffle_split(idx: np.ndarray, labels: np.ndarray, frac: float, seed: int, part: str,
                   info: dict) -> tuple[np.ndarray, np.ndarray]:
    """One stratified draw of ``frac`` of ``idx`` (at least one item), plain random if needed."""
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    n_out = max(1, math.ceil(frac * len(idx)))
    if n_out >= len(idx):
        raise ValueError(f"{len(idx)} clips are too few to hold out {n_out} for {part}")
    try:
        keep, out = next(StratifiedShuffleSplit(1, test_size=n_out, random_state=seed)
                         .split(idx, labels))
    except ValueError as err:
        logger.info("paper split: %s part not stratified (%s); plain random draw instead",
                    part, err)
        info["fallback"].append(f"{part}: {err}")
        keep, out = next(ShuffleSplit(1, test_size=n_out, random_state=seed).split(idx))
    return idx[keep], idx[out]


def _check_rows(rows: pd.DataFrame) -> None:
    missing = {"subject", "label"} - set(rows.columns)
    if missing:
        raise ValueError(f"the clip table lacks columns {sorted(missing)}")
    if len(rows) == 0:
        raise ValueError("the clip table is empty")
