"""Intervals: corrected t over repeated splits, bootstrap over subjects (and seeds), paired
differences, chance beside every interval."""

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
    # one split: the interval of its test part's sampling alone
    mean, lo, hi = intervals.repeat_interval([0.5], 0.1, within=0.01)
    assert (mean, lo, hi) == pytest.approx((0.5, 0.5 - 1.959964 * 0.1, 0.5 + 1.959964 * 0.1))


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


def test_the_one_scorer_agrees_with_scikit_learn():
    """metrics.from_confusion is the study's one implementation of every score; here it is held
    against an independent one (scikit-learn's, zero_division=0) on random predictions."""
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(1)
    for _ in range(200):
        y, p = rng.integers(0, 3, 25), rng.integers(0, 3, 25)
        if rng.random() < 0.3:
            y[y == 2] = 0  # an absent class
        if rng.random() < 0.3:
            p[:] = 1  # a constant prediction
        c = metrics.from_confusion(metrics.confusion(y, p))
        for avg in ("macro", "weighted"):
            want = precision_recall_fscore_support(
                y, p, labels=[0, 1, 2], average=avg, zero_division=0
            )
            for name, value in zip(("precision", "recall", "f1"), want[:3]):
                assert c[f"{name}_{avg}"] == pytest.approx(value, abs=1e-12), (name, avg)
        assert c["accuracy"] == pytest.approx(np.mean(y == p))


def _results(protocol, method, accs, cms=None):
    """The tables of runs of ``method`` under ``protocol``: one run per accuracy (repeated
    splits), or one cross-validation run with the per-subject confusion matrices ``cms``."""
    from mer_utils import results, schema

    metrics_rows, fold_rows, unit_rows = [], [], []
    for r, acc in enumerate(accs):
        key = {
            "dataset": "d",
            "method": method,
            "protocol": protocol,
            "profile": "p",
            "seed": 0,
            "repeat": r,
            "data_id": "a",
            "profile_id": "b",
        }
        subject_cms = cms or {"all": [[5, 0, 0], [0, 3, 0], [0, 0, 2]]}
        metrics_rows.append(
            {
                **key,
                **{k: acc for k in metrics.RECORD_SCORES},
                "baseline_accuracy": 0.5,
                "n_test": 10,
                "n_test_clips": 10,
                "n_folds": 1 if cms is None else len(cms),
                "constant_prediction": False,
            }
        )
        fold_rows.append({**key, "n_train": 80, "n_test": 10})
        for subject, cm in subject_cms.items():
            unit_rows.append(
                {**key, "subject": subject, **dict(zip(schema.CONFUSION_COLUMNS, np.ravel(cm)))}
            )
    return results.Results(
        pd.DataFrame(metrics_rows), pd.DataFrame(fold_rows), pd.DataFrame(unit_rows)
    )


def _all(*parts):
    from mer_utils import results

    return results.Results.concat(parts)


def test_paired_differences_resolve_only_what_the_data_show():
    a = _results("paper", "A", [0.80, 0.82, 0.79, 0.81, 0.80])
    b = _results("paper", "B", [0.60, 0.63, 0.61, 0.58, 0.62])
    c = _results("paper", "C", [0.81, 0.79, 0.80, 0.82, 0.80])
    diffs = intervals.paired_differences(_all(a, b, c), "accuracy").set_index(["a", "b"])
    assert diffs.loc[("A", "B"), "p"] < 0.05 and diffs.loc[("A", "B"), "difference"] > 0
    assert diffs.loc[("B", "C"), "p"] < 0.05 and diffs.loc[("B", "C"), "difference"] < 0
    assert diffs.loc[("A", "C"), "p"] > 0.05 and diffs.loc[("A", "C"), "low"] < 0
    assert diffs.loc[("A", "B"), "difference"] == pytest.approx(0.196)


def test_paired_bootstrap_for_cross_validation():
    good = {f"s{i}": [[5, 0, 0], [0, 3, 0], [0, 0, 2]] for i in range(8)}
    poor = {f"s{i}": [[5, 0, 0], [3, 0, 0], [2, 0, 0]] for i in range(8)}  # always "negative"
    res = _all(_results("kfold", "A", [1.0], good), _results("kfold", "B", [0.5], poor))
    (row,) = intervals.paired_differences(res, "accuracy").to_dict("records")
    assert row["p"] < 0.05 and row["low"] > 0
    summary = intervals.summary(res, "accuracy").set_index("method")
    assert summary.loc["A", "interval"] == "bootstrap over 8 subjects (one seed)"
    assert summary.loc["A", "mean"] == pytest.approx(1.0)
    assert summary.loc["A", "p"] < 0.01 and summary.loc["B", "p"] > 0.05  # against chance


def test_repeated_cross_validation_covers_the_seeds_too():
    """Three seeds that disagree widen the interval beyond what the subjects alone give."""
    rng = np.random.default_rng(4)
    stack = []
    for seed_quality in (0.9, 0.5, 0.7):
        subjects = []
        for _ in range(10):
            y = rng.integers(0, 3, 8)
            p = np.where(rng.random(8) < seed_quality, y, rng.integers(0, 3, 8))
            subjects.append(metrics.confusion(y, p))
        stack.append(subjects)
    stack = np.array(stack, dtype=float)  # (seeds, subjects, K, K)
    point, lo, hi = intervals.bootstrap_interval(stack, "accuracy")
    per_seed = metrics.from_confusion(stack.sum(axis=1))["accuracy"]
    assert point == pytest.approx(per_seed.mean())
    _, lo1, hi1 = intervals.bootstrap_interval(stack[:1], "accuracy")
    assert (hi - lo) > (hi1 - lo1) * 0.9
    assert intervals.bootstrap_interval(stack[0], "accuracy")[0] == pytest.approx(per_seed[0])


def test_runs_that_all_score_the_same_are_flagged():
    """Runs that all scored the same keep an interval (the test subjects' sampling) in the
    one format of the tables, with a note saying so."""
    cms = {"s1": [[3, 1, 0], [0, 2, 0], [0, 0, 0]], "s2": [[1, 0, 1], [0, 0, 1], [0, 0, 1]]}
    res = _results("paper", "A", [0.625] * 5, cms)
    got = intervals.score_interval(res, "accuracy")
    assert got["constant"] and got["runs"] == 5
    from mer_utils.report.style import with_interval

    assert got["low"] < 0.625 < got["high"]
    assert with_interval(got) == (
        f"0.62 [{got['low']:.2f}, {got['high']:.2f}] (same in all 5 splits)"
    )
    res.metrics["constant_prediction"] = True
    got = intervals.score_interval(res, "accuracy")
    assert with_interval(got).endswith("(same in all 5 splits; constant prediction)")


# ----------------------------------------------------------------------------- degenerate cases
TWO_SUBJECTS = {"s1": [[3, 1, 0], [0, 2, 0], [0, 0, 0]], "s2": [[1, 0, 1], [0, 0, 1], [0, 0, 1]]}


def test_repeated_splits_that_agree_still_cover_the_test_subjects():
    """Two splits with the same score gave a zero-width corrected t interval although their
    test subjects scored differently; the interval now covers what resampling them gives."""
    res = _results("paper", "A", [0.6, 0.6], TWO_SUBJECTS)
    got = intervals.score_interval(res, "uf1")
    assert got["high"] - got["low"] > 0.05
    assert got["low"] < 0.6 < got["high"]
    units = intervals.runs(res)["units"]
    within = intervals.within_variance(list(units.values()), "uf1")
    assert within > 0
    # the floor only ever widens: repeats that disagree keep their corrected t interval
    plain = intervals.repeat_interval([0.5, 0.7, 0.6], 0.125)
    floored = intervals.repeat_interval([0.5, 0.7, 0.6], 0.125, within=within)
    assert floored[1] <= plain[1] and floored[2] >= plain[2]
    assert intervals.repeat_interval([0.5, 0.7, 0.6], 0.125, within=1e-6) == plain


def test_cross_validation_seeds_that_agree_keep_the_subjects_interval():
    """Seeds of a cross-validation that scored alike used to print "all 3 seeds: x" with no
    interval, although the bootstrap over subjects has one."""
    subjects = {
        f"s{i}": [[2, 1, 0], [0, 1, 1], [1, 0, 1]] if i % 2 else [[3, 0, 0], [0, 2, 0], [0, 0, 1]]
        for i in range(8)
    }
    from mer_utils.report.style import with_interval

    res = _results("kfold", "A", [0.7, 0.7, 0.7], subjects)
    got = intervals.score_interval(res, "accuracy")
    assert got["constant"] and got["high"] - got["low"] > 0.05
    text = with_interval(got)
    assert text.startswith(f"{got['mean']:.2f} [") and text.endswith("(same in all 3 seeds)")


def test_a_recall_that_every_subject_gets_right_has_an_exact_binomial_interval():
    """Every clip of the class right in every subject: the percentile bootstrap had no spread
    and printed 1.00 [1.00, 1.00]; the interval is now Clopper-Pearson's for those clips."""
    subjects = {f"s{i}": [[2, 0, 0], [1, 1, 0], [0, 1, 1]] for i in range(5)}  # 10 negatives
    got = intervals.score_interval(_results("kfold", "A", [0.7], subjects), "recall_negative")
    assert got["mean"] == 1.0 and got["high"] == 1.0
    assert got["low"] == pytest.approx(0.025 ** (1 / 10))  # exact: (alpha / 2)^(1 / n)
    assert intervals.proportion_interval(0, 10)[0] == 0.0
    lo, hi = intervals.proportion_interval(3, 10)
    assert lo == pytest.approx(stats.beta.ppf(0.025, 3, 8))
    assert hi == pytest.approx(stats.beta.ppf(0.975, 4, 7))


def test_an_interval_of_zero_to_one_says_why():
    from mer_utils.report.style import with_interval

    res = _results("paper", "A", [0.9, 0.3], TWO_SUBJECTS)  # two splits that disagree
    text = with_interval(intervals.score_interval(res, "uf1"))
    assert text == "0.60 [0.00, 1.00] (2 splits that disagree, 10 test samples each)"
    one_clip = {f"s{i}": [[2, 0, 0], [0, 2, 0], [0, 0, 0]] for i in range(4)}
    one_clip["s0"] = [[2, 0, 0], [0, 2, 0], [1, 0, 0]]  # the only surprise clip, missed
    res = _results("kfold", "A", [0.9, 0.9], one_clip)
    res.confusions.loc[
        (res.confusions["repeat"] == 1) & (res.confusions["subject"] == "s0"),
        ["surprise_as_negative", "surprise_as_surprise"],
    ] = [0, 1]  # the second seed gets it right
    text = with_interval(intervals.score_interval(res, "recall_surprise"))
    assert text.startswith("0.50 [0.00, 1.00] (1 test sample of the class, 4 subjects")


def test_a_recall_tested_by_some_splits_only_says_so():
    res = _results("paper", "A", [0.6] * 5, TWO_SUBJECTS)
    res.metrics.loc[res.metrics["repeat"] > 0, "recall_surprise"] = np.nan
    got = intervals.score_interval(res, "recall_surprise")
    from mer_utils.report.style import with_interval

    assert with_interval(got) == "0.60 (one run; 1 of 5 splits test the class)"


def test_an_interval_is_never_printed_with_equal_ends_unless_it_has_zero_width():
    from mer_utils.report.style import interval

    assert interval(0.621, 0.6205, 0.6235) == "0.621 [0.621, 0.624]"
    assert interval(0.62, 0.62, 0.62) == "0.62 [0.62, 0.62]"
    assert interval(0.5, 0.0, 1.0, note="2 splits") == "0.50 [0.00, 1.00] (2 splits)"
    assert interval(0.5, None, None) == "0.50 (one run)"


def test_reference_tables_are_optional_and_complete():
    assert len(reference.own_rows()) == 16
    assert reference.reported("no-such-dataset").empty
    assert reference.table_number("no-such-dataset") is None
    assert set(reference.reported("smic")["protocol"]) == {
        "80/10/10 clip-level, as stated by the paper",
        "protocol not stated",
    }


def test_a_paired_difference_on_one_split_resamples_its_test_subjects():
    """One split has no spread between splits; its paired difference still gets an interval:
    the test subjects resampled, the same draw for both methods (not [nan, nan])."""
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, (8, 6))  # 8 test subjects, 6 clips each

    def run(accuracy):
        cms = np.zeros((8, 3, 3))
        for s, labels in enumerate(truth):
            for y in labels:
                cms[s, y, y if rng.random() < accuracy else (y + 1) % 3] += 1
        score = metrics.from_confusion(cms.sum(0))["uf1"]
        return {"kind": "repeats", "values": {0: {"uf1": score}}, "units": {0: cms}, "ratio": 0.1}

    a, b = run(0.9), run(0.3)
    got = intervals.paired_interval(a, b, "uf1")
    assert got["difference"] == pytest.approx(a["values"][0]["uf1"] - b["values"][0]["uf1"])
    assert got["low"] < got["difference"] < got["high"]
    assert got["low"] > 0 and got["p"] < 0.05  # a clear difference is resolved
