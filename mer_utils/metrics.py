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

:func:`from_confusion` computes the same scores from confusion matrices (also from a stack of
them, as the bootstrap in :mod:`mer_utils.intervals` needs), and :func:`smallest_test_size`
answers a question a reader of any accuracy table can ask: how many test samples must there
have been for this percentage to be printed?
"""

from __future__ import annotations

from fractions import Fraction

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
    cm = confusion(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(float)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    present = cm.sum(axis=1) > 0
    return float(np.mean(2 * tp[present] / (2 * tp[present] + fp[present] + fn[present])))


def uar(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> float:
    """Unweighted average recall (MEGC 2019): mean over present classes of TP_c / N_c."""
    cm = confusion(y_true, y_pred, n_classes)
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


def summarize(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> dict:
    """All metrics of one (pooled) set of predictions, as a flat dict.

    Keys: ``n``, ``accuracy``, ``precision_macro``, ``recall_macro``, ``f1_macro``,
    ``precision_weighted``, ``recall_weighted``, ``f1_weighted``, ``uf1``, ``uar``,
    ``recall_<class>`` per class (None for a class absent from ``y_true``) and ``confusion``
    (list of lists, rows true, columns predicted, CLASSES order).
    """
    from sklearn.metrics import precision_recall_fscore_support

    y_true, y_pred = _check(y_true, y_pred, n_classes)
    labels = list(range(n_classes))
    out: dict = {"n": int(len(y_true)), "accuracy": float(np.mean(y_true == y_pred))}
    for avg in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=avg, zero_division=0
        )
        out.update({f"precision_{avg}": float(p), f"recall_{avg}": float(r), f"f1_{avg}": float(f)})
    out["uf1"] = uf1(y_true, y_pred, n_classes)
    out["uar"] = uar(y_true, y_pred, n_classes)
    cm = confusion(y_true, y_pred, n_classes)
    for c, name in enumerate(CLASSES[:n_classes]):
        out[f"recall_{name}"] = float(cm[c, c] / cm[c].sum()) if cm[c].sum() else None
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
"""The scores :func:`from_confusion` computes."""


def from_confusion(cm: np.ndarray) -> dict[str, np.ndarray | float]:
    """Scores of confusion matrices ``cm`` (..., K, K), rows true, columns predicted.

    Returns :data:`SCORES` with the definitions of :func:`summarize`: ``f1_macro`` averages
    over all K classes (an absent class scoring 0, as scikit-learn with ``zero_division=0``),
    ``f1_weighted`` weights each class's F1 by its number of true clips, ``uf1`` and ``uar``
    average over the classes present in the ground truth. A stack of matrices gives arrays.
    """
    cm = np.asarray(cm, dtype=float)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    total = support.sum(axis=-1)
    denom = support + predicted  # = 2TP + FP + FN
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
        present = support > 0
        out = {
            "accuracy": tp.sum(axis=-1) / total,
            "f1_macro": f1.mean(axis=-1),
            "f1_weighted": (f1 * support).sum(axis=-1) / total,
            "uf1": np.where(present, f1, 0.0).sum(axis=-1) / present.sum(axis=-1),
            "uar": np.where(present, tp / np.where(present, support, 1), 0.0).sum(axis=-1)
            / present.sum(axis=-1),
        }
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}


def smallest_test_size(percent: float, decimals: int = 2, limit: int = 100_000) -> tuple[int, int]:
    """The smallest number of test samples n (and correct ones k) for which k/n, printed as a
    percentage with ``decimals`` decimals, reads ``percent``.

    An accuracy printed as 89.98 % can only come from k correct out of n test samples with
    89.975 <= 100 k / n < 89.985; the smallest such n is 409 (368/409). Exact rational
    arithmetic, so no float rounding decides a borderline case (half-up rounding assumed).
    """
    half = Fraction(1, 2 * 10**decimals)
    target = Fraction(str(percent))
    lo, hi = (target - half) / 100, (target + half) / 100
    for n in range(1, limit + 1):
        k = -((-lo.numerator * n) // lo.denominator)  # ceil(lo * n)
        if k <= n and Fraction(k, n) < hi:
            return n, k
    raise ValueError(f"no test size up to {limit} prints {percent} %")
