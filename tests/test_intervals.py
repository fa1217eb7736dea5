"""Intervals: corrected t over repeated splits, bootstrap over subjects, paired differences,
and the arithmetic of printed accuracies."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mer_utils import intervals, metrics, reference


def test_corrected_t_interval_is_wider_than_the_naive_one():
    values = [0.60, 0.70, 0.65, 0.55, 0.75]
    mean, lo, hi = intervals.repeat_interval(values, test_train_ratio=0.125)
    s = np.std(values, ddof=1)
    t = stats.t.ppf(0.975, 4)
    assert mean == pytest.approx(0.65)
    assert hi - mean == pytest.approx(t * s * np.sqrt(1 / 5 + 0.125))
    assert hi - mean > t * s / np.sqrt(5)  # the naive interval ignores the overlap of splits
    assert (
        intervals.repeat_interval([0.5], 0.1)[1:] != intervals.repeat_interval([0.5], 0.1)[1:]
    )  # nan
    assert intervals.repeat_interval([0.1, 0.9], 0.1) == (0.5, 0.0, 1.0)  # cut to [0, 1]


def test_bootstrap_over_subjects_brackets_the_pooled_score_and_shrinks_with_more_subjects():
    rng = np.random.default_rng(0)

    def subjects(n):
        cms = []
        for _ in range(n):
            y = rng.integers(0, 3, 8)
            p = np.where(rng.random(8) < 0.7, y, rng.integers(0, 3, 8))
            cms.append(metrics.confusion(y, p))
        return np.array(cms)

    few, many = subjects(6), subjects(60)
    point, lo, hi = intervals.bootstrap_interval(few, "accuracy")
    assert point == pytest.approx(np.trace(few.sum(0)) / few.sum())
    assert lo <= point <= hi
    p2, lo2, hi2 = intervals.bootstrap_interval(many, "accuracy")
    assert hi2 - lo2 < hi - lo
    assert intervals.bootstrap_interval(few, "uf1", seed=3) == intervals.bootstrap_interval(
        few, "uf1", seed=3
    )


def test_from_confusion_matches_summarize():
    rng = np.random.default_rng(1)
    for _ in range(50):
        y, p = rng.integers(0, 3, 25), rng.integers(0, 3, 25)
        if rng.random() < 0.3:
            y[y == 2] = 0  # an absent class
        s = metrics.summarize(y, p)
        c = metrics.from_confusion(np.array(s["confusion"]))
        for k in metrics.SCORES:
            assert c[k] == pytest.approx(s[k]), k


def _records(protocol, variant, accs, cms=None):
    rows = []
    for r, acc in enumerate(accs):
        rows.append(
            {
                "dataset": "d",
                "variant": variant,
                "protocol": protocol,
                "repeat": r,
                **{k: acc for k in metrics.SCORES},
                "baseline_accuracy": 0.5,
                "counts_test": {"negative": 5, "positive": 3, "surprise": 2},
                "splits": [{"n_train": 80, "n_test": 10}],
                "confusion_by_subject": cms,
            }
        )
    return rows


def test_paired_differences_resolve_only_what_the_data_show():
    a = _records("paper", "A", [0.80, 0.82, 0.79, 0.81, 0.80])
    b = _records("paper", "B", [0.60, 0.63, 0.61, 0.58, 0.62])
    c = _records("paper", "C", [0.81, 0.79, 0.80, 0.82, 0.80])
    diffs = intervals.paired_differences(pd.DataFrame(a + b + c), "accuracy").set_index(["a", "b"])
    assert diffs.loc[("A", "B"), "verdict"] == "A higher"
    assert diffs.loc[("B", "C"), "verdict"] == "C higher"
    assert diffs.loc[("A", "C"), "verdict"] == "not resolved"
    assert diffs.loc[("A", "B"), "difference"] == pytest.approx(0.196)


def test_paired_bootstrap_for_cross_validation():
    good = {f"s{i}": [[5, 0, 0], [0, 3, 0], [0, 0, 2]] for i in range(8)}
    poor = {f"s{i}": [[3, 1, 1], [2, 1, 0], [1, 0, 1]] for i in range(8)}
    df = pd.DataFrame(_records("kfold", "A", [1.0], good) + _records("kfold", "B", [0.5], poor))
    (row,) = intervals.paired_differences(df, "accuracy").to_dict("records")
    assert row["verdict"] == "A higher" and row["low"] > 0
    summary = intervals.summary(df, "accuracy").set_index("variant")
    assert summary.loc["A", "interval"] == "bootstrap over 8 subjects"
    assert summary.loc["A", "mean"] == pytest.approx(1.0)


def test_smallest_test_size_reproduces_the_arithmetic_of_the_issue():
    assert metrics.smallest_test_size(89.98) == (409, 368)
    assert metrics.smallest_test_size(87.45)[0] == 231
    assert metrics.smallest_test_size(88.42)[0] == 95
    assert metrics.smallest_test_size(93.66)[0] == 142
    for n, k in ((7, 3), (13, 11), (409, 368)):  # any k/n reads back to an n at most as large
        assert metrics.smallest_test_size(round(100 * k / n, 2))[0] <= n


def test_reference_tables_are_optional_and_complete():
    sizes = reference.smallest_test_sizes()
    assert len(sizes) == 16 and (sizes["smallest test set"] > 0).all()
    row = sizes[(sizes["dataset"] == "casme_sq") & (sizes["variant"] == "MER-3DCNNST")].iloc[0]
    assert row["smallest test set"] == 409 and row["10 % of the clips"] == 4
    assert reference.f1_against_accuracy()["F1 - accuracy"].abs().max() < 0.012
    assert reference.reported("no-such-dataset").empty
    assert reference.table_number("no-such-dataset") is None
    assert set(reference.reported("smic")["protocol"]) == {
        "80/10/10 clip-level, as stated by the paper",
        "protocol not stated",
    }
