"""Metrics: UF1 / UAR pooled over folds (MEGC 2019), the paper's metrics, majority baseline."""

import numpy as np
import pytest

from mer_utils import metrics

# two folds, pooled: true [0,0,1,2 | 0,1,2,2], predicted [0,1,1,2 | 0,0,2,1]
FOLD_A = (np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]))
FOLD_B = (np.array([0, 1, 2, 2]), np.array([0, 0, 2, 1]))
TRUE = np.concatenate([FOLD_A[0], FOLD_B[0]])
PRED = np.concatenate([FOLD_A[1], FOLD_B[1]])


def test_uf1_uar_hand_example():
    # by hand, pooled over both folds:
    #   negative: TP 2, FP 1, FN 1 -> F1 4/6, recall 2/3
    #   positive: TP 1, FP 2, FN 1 -> F1 2/5, recall 1/2
    #   surprise: TP 2, FP 0, FN 1 -> F1 4/5, recall 2/3
    assert metrics.uf1(TRUE, PRED) == pytest.approx((4 / 6 + 2 / 5 + 4 / 5) / 3)
    assert metrics.uar(TRUE, PRED) == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    # pooling is not the mean of the per-fold scores
    per_fold = np.mean([metrics.uf1(*FOLD_A), metrics.uf1(*FOLD_B)])
    assert per_fold != pytest.approx(metrics.uf1(TRUE, PRED))


def test_summary():
    s = metrics.summarize(TRUE, PRED)
    assert s["n"] == 8 and s["accuracy"] == pytest.approx(5 / 8)
    assert s["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 1, 2]]
    assert s["recall_negative"] == pytest.approx(2 / 3)
    assert s["recall_positive"] == pytest.approx(1 / 2)
    assert s["recall_macro"] == pytest.approx(s["uar"])
    assert s["f1_macro"] == pytest.approx(s["uf1"])  # all classes present: same definition
    # weighted F1: per-class F1 weighted by true counts 3, 2, 3
    assert s["f1_weighted"] == pytest.approx((3 * 4 / 6 + 2 * 2 / 5 + 3 * 4 / 5) / 8)
    assert s["precision_macro"] == pytest.approx((2 / 3 + 1 / 3 + 1) / 3)


def test_absent_class_is_left_out_of_uf1_and_uar():
    s = metrics.summarize([0, 0, 1, 1], [0, 1, 1, 1])
    assert s["recall_surprise"] is None
    assert s["uar"] == pytest.approx((1 / 2 + 1) / 2)
    assert s["uf1"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert s["f1_macro"] == pytest.approx((2 / 3 + 4 / 5 + 0) / 3)


def test_majority_baseline_uses_training_majority_per_fold():
    folds = [
        (np.array([0, 0, 1]), np.array([0, 1, 2])),  # majority negative
        (np.array([2, 2, 1]), np.array([2, 2, 0])),
    ]  # majority surprise
    b = metrics.majority_baseline(folds)
    assert b["classes"] == ["negative", "surprise"]
    assert b["accuracy"] == pytest.approx(3 / 6)
    pooled_true, pooled_pred = [0, 1, 2, 2, 2, 0], [0, 0, 0, 2, 2, 2]
    assert b["uf1"] == pytest.approx(metrics.uf1(pooled_true, pooled_pred))
    assert b["uar"] == pytest.approx(metrics.uar(pooled_true, pooled_pred))


def test_majority_tie_takes_first_class():
    assert metrics.majority_class([2, 1, 1, 2]) == 1


def test_bad_input():
    with pytest.raises(ValueError, match="predictions"):
        metrics.summarize([0, 1], [0])
    with pytest.raises(ValueError, match="labels"):
        metrics.summarize([0, 3], [0, 1])
    with pytest.raises(ValueError, match="no predictions"):
        metrics.summarize([], [])
