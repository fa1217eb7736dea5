"""Evaluation metrics: the paper's (Eq. 2-5) and the field's (UF1, UAR), plus a baseline.

All metrics are computed on predictions *pooled* over the folds of a protocol (for ``paper``
and ``subject`` there is one fold). Pooling the predictions and then counting TP, FP, FN per
class is exactly the MEGC 2019 definition of UF1 and UAR (TP/FP/FN summed over all folds).

- accuracy: correct / all (Eq. 2).
- precision, recall, F1 (Eq. 3-5) per class, averaged two ways, because the paper does not say
  which it reports: ``macro`` (plain mean over classes) and ``weighted`` (weighted by the number
  of true clips per class).
- UF1 = mean over classes of F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c).
- UAR = mean over classes of recall_c = TP_c / N_c.
- UF1 and UAR average over the classes *present in the ground truth* (N_c > 0); a class absent
  from the test clips has no recall. With all three classes present (the normal case) this is
  the plain mean over the three classes. sklearn's macro scores instead always average over the
  three classes (an absent class scoring 0), so f1_macro and uf1 can differ only in that case.
- Majority-class baseline: predict, in every fold, the class most frequent in that fold's
  *training* part (ties: the first in CLASSES order), scored like the model.

:func:`from_confusion` is the one implementation of every score: :func:`summarize` scores a set
of predictions through it, and the bootstrap (:mod:`mer_utils.intervals`) and the permutation
tests (:mod:`mer_utils.chance`) score stacks of thousands of confusion matrices with it. (How
many test samples a printed accuracy needs is :mod:`mer_utils.reconstruction`'s question.)
"""

from __future__ import annotations

import numpy as np

from .config import CLASSES


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """Confusion matrix, rows = true class, columns = predicted class, CLASSES order."""
    y_true, y_pred = _check(y_true, y_pred, n_classes)
    cm = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def uf1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> float:
    """Unweighted F1 (MEGC 2019): mean over present classes of 2TP / (2TP + FP + FN)."""
    return float(from_confusion(confusion(y_true, y_pred, n_classes))["uf1"])


def uar(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> float:
    """Unweighted average recall (MEGC 2019): mean over present classes of TP_c / N_c."""
    return float(from_confusion(confusion(y_true, y_pred, n_classes))["uar"])


def summarize(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> dict:
    """All metrics of one (pooled) set of predictions, as a flat dict: :func:`from_confusion` of
    their confusion matrix, plus ``n`` and ``confusion`` (list of lists, rows true, columns
    predicted, CLASSES order). ``recall_<class>`` is None for a class absent from ``y_true``."""
    cm = confusion(y_true, y_pred, n_classes)
    out: dict = {"n": int(cm.sum())}
    for key, value in from_confusion(cm).items():
        out[key] = None if isinstance(value, float) and np.isnan(value) else value
    out["confusion"] = cm.tolist()
    return out


def majority_class(y_train: np.ndarray, n_classes: int = len(CLASSES)) -> int:
    """The most frequent class of a training part (ties: the first in CLASSES order)."""
    return int(np.argmax(np.bincount(np.asarray(y_train, dtype=int), minlength=n_classes)))


def majority_baseline(
    folds: list[tuple[np.ndarray, np.ndarray]], n_classes: int = len(CLASSES)
) -> dict:
    """Score the majority-class baseline over folds given as (y_train, y_test) pairs.

    Each fold predicts its own training part's majority class for all its test clips; the
    predictions are pooled and scored with :func:`summarize`. Returns ``accuracy``, ``uf1``,
    ``uar``, ``f1_macro``, ``f1_weighted`` and ``classes`` (the majority class name per fold).
    """
    if not folds:
        raise ValueError("no folds to score")
    true, pred, names = [], [], []
    for y_train, y_test in folds:
        k = majority_class(y_train, n_classes)
        names.append(CLASSES[k])
        true.append(np.asarray(y_test, dtype=int))
        pred.append(np.full(len(y_test), k, dtype=int))
    s = summarize(np.concatenate(true), np.concatenate(pred), n_classes)
    return {
        "accuracy": s["accuracy"],
        "uf1": s["uf1"],
        "uar": s["uar"],
        "f1_macro": s["f1_macro"],
        "f1_weighted": s["f1_weighted"],
        "classes": names,
    }


def _check(y_true, y_pred, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=int).ravel()
    y_pred = np.asarray(y_pred, dtype=int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    if len(y_true) == 0:
        raise ValueError("no predictions to score")
    for name, y in (("true", y_true), ("predicted", y_pred)):
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"{name} labels must be in 0..{n_classes - 1}")
    return y_true, y_pred


SCORES: tuple[str, ...] = ("accuracy", "f1_macro", "f1_weighted", "uf1", "uar")
"""The scores the book shows with intervals."""
RECORD_SCORES: tuple[str, ...] = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "uf1",
    "uar",
    *(f"recall_{c}" for c in CLASSES),
)
"""Every score :func:`from_confusion` computes (and every record stores)."""
BASELINE_SCORES: tuple[str, ...] = ("accuracy", "uf1", "uar", "f1_macro", "f1_weighted")
"""The scores stored for the majority baseline (``baseline_<score>``)."""


def from_confusion(cm: np.ndarray) -> dict[str, np.ndarray | float]:
    """Every score of :data:`RECORD_SCORES` from confusion matrices ``cm`` (..., K, K), rows
    true, columns predicted; the one implementation of the study's scores.

    - ``accuracy``: correct / all (Eq. 2).
    - ``precision_*``, ``recall_*``, ``f1_*`` (Eq. 3-5) per class, averaged ``macro`` (over all
      K classes; a class without predictions, or without true samples, scores 0, as
      scikit-learn with ``zero_division=0``) and ``weighted`` (by each class's true samples).
    - ``uf1``, ``uar``: F1 and recall averaged over the classes *present* in the ground truth.
    - ``recall_<class>``: NaN where the class has no true samples.

    A stack of matrices gives arrays (the bootstrap and the permutation tests score thousands).
    """
    cm = np.asarray(cm, dtype=float)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    total = support.sum(axis=-1)
    denom = support + predicted  # = 2TP + FP + FN
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
        precision = np.where(predicted > 0, tp / np.where(predicted > 0, predicted, 1), 0.0)
        recall = np.where(support > 0, tp / np.where(support > 0, support, 1), 0.0)
        present = support > 0
        n_present = present.sum(axis=-1)
        out = {
            "accuracy": tp.sum(axis=-1) / total,
            "precision_macro": precision.mean(axis=-1),
            "recall_macro": recall.mean(axis=-1),
            "f1_macro": f1.mean(axis=-1),
            "precision_weighted": (precision * support).sum(axis=-1) / total,
            "recall_weighted": (recall * support).sum(axis=-1) / total,
            "f1_weighted": (f1 * support).sum(axis=-1) / total,
            "uf1": np.where(present, f1, 0.0).sum(axis=-1) / n_present,
            "uar": np.where(present, recall, 0.0).sum(axis=-1) / n_present,
        }
        for k, name in enumerate(CLASSES[: cm.shape[-1]]):
            out[f"recall_{name}"] = np.where(present[..., k], recall[..., k], np.nan)
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}
