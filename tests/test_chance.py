"""Chance by permutation (mer_utils.chance): the p-value and chance level of a set of
predictions, and Holm's correction."""

import numpy as np
import pytest

from mer_utils import chance, metrics


def _groups(y, p, size):
    return [metrics.confusion(y[i : i + size], p[i : i + size]) for i in range(0, len(y), size)]


def test_a_random_predictor_is_called_above_chance_at_about_the_nominal_rate():
    rng = np.random.default_rng(7)
    trials, hits = 400, 0
    for t in range(trials):
        y = rng.integers(0, 3, 60)
        p = rng.integers(0, 3, 60)  # knows nothing of y
        hits += chance.test(_groups(y, p, 10), seed=t, n_perm=199)["p_uf1"] < chance.ALPHA
    rate = hits / trials
    # a permutation test is exact or conservative: about 5 %, never far above (binomial sd 1.1 %)
    assert 0.015 <= rate <= 0.08, rate


def test_a_perfect_predictor_has_p_below_one_in_a_thousand():
    y = np.random.default_rng(0).integers(0, 3, 40)
    got = chance.test([metrics.confusion(y, y)], seed=0)
    for s in chance.SCORES:
        assert got[f"p_{s}"] < 0.001
        assert got[f"chance_{s}"] < 0.7  # what shuffled labels score, far from 1.0


def test_shuffling_within_subjects_gives_no_credit_for_a_subjects_mix_of_classes():
    """A model that answers each subject's most frequent class scores well above the majority
    baseline, yet within subjects its predictions carry nothing: p = 1."""
    y = np.array([0, 0, 0, 1] * 5 + [2, 2, 2, 0] * 5)
    p = np.array([0] * 20 + [2] * 20)  # one class per subject
    groups = [metrics.confusion(y[:20], p[:20]), metrics.confusion(y[20:], p[20:])]
    got = chance.test(groups, seed=1)
    assert metrics.uf1(y, p) > 0.4 and got["p_uf1"] == 1.0
    pooled = chance.test([metrics.confusion(y, p)], seed=1)  # across subjects it looks informative
    assert pooled["p_uf1"] < 0.01


def _casme2_structure():
    """Labels and subjects of CASME II's three-class clips (mer_utils/data/subjects.csv)."""
    from mer_utils import config

    rows = config.subjects()
    labels, subjects = [], []
    for r in rows[rows["dataset"] == "casme2"].to_dict("records"):
        for k, c in enumerate(config.CLASSES):
            labels += [k] * int(r[c])
            subjects += [r["subject"]] * int(r[c])
    return np.array(labels), np.array(subjects)


def test_a_score_pooled_over_repeats_is_rejected_at_the_nominal_rate_under_the_null():
    """Repeats of a cross-validation test the same clips, and a model that knows nothing of the
    labels still tends to give a clip the same answer in every repeat: the mean over repeats
    then varies as much as one repeat. One relabelling shared by the repeats keeps the 5 %
    level; averaging independent per-repeat shuffles rejected 13 % of such nulls here."""
    labels, subjects = _casme2_structure()
    n = len(labels)
    rng = np.random.default_rng(5)
    trials, hits = 400, 0
    for t in range(trials):
        tendency = rng.integers(0, 3, n)  # per clip, independent of its label
        runs = [
            (np.arange(n), np.where(rng.random(n) < 0.8, tendency, rng.integers(0, 3, n)))
            for _ in range(3)
        ]
        hits += chance.shared_test(labels, subjects, runs, 99, seed=t)["p_uf1"] < chance.ALPHA
    # exact up to the p-value's grain (level 4/100 with 99 relabellings); 400 trials give a
    # binomial sd of 1.1 %, so 3 sd either side of 5 %
    assert 0.017 <= hits / trials <= 0.083, hits / trials


def test_one_relabelling_is_applied_to_a_clip_wherever_it_is_tested():
    labels = np.array([0, 1, 2, 0, 1, 2])
    groups = np.zeros(6, dtype=int)
    perm = chance.relabellings(labels, groups, 50, seed=3)
    assert all(sorted(row) == sorted(labels) for row in perm)  # a permutation of the labels
    # two runs testing the same clips with the same predictions: the mean's null is one run's
    run = (np.arange(6), np.array([0, 0, 1, 1, 2, 2]))
    one = chance.shared_test(labels, groups, [run], 200, seed=1)
    two = chance.shared_test(labels, groups, [run, run], 200, seed=1)
    assert np.allclose(one["null_uf1"], two["null_uf1"]) and one["p_uf1"] == two["p_uf1"]
    # within subjects: a subject's labels stay the subject's
    subjects = np.array([0, 0, 0, 1, 1, 1])
    within = chance.relabellings(labels, subjects, 20, seed=0)
    assert all(sorted(row[:3]) == [0, 1, 2] for row in within)


def test_enough_relabellings_that_the_best_score_can_pass_the_correction():
    for size in (1, 3, 6, 52, 250):
        n = chance.n_permutations(size)
        assert 1 / (1 + n) * size < chance.ALPHA  # the smallest p-value survives Bonferroni
        assert n >= chance.N_PERMUTATIONS
    assert chance.n_permutations(52) >= 20 * 52 / chance.ALPHA - 1
    assert chance.n_permutations(10**6) == chance.MAX_PERMUTATIONS


def test_detectable_is_the_smallest_score_called_above_chance():
    null = np.random.default_rng(2).random(1999)
    for level in (0.05, 0.01, 0.05 / 3):
        cut = chance.detectable(null, level)
        assert chance.p_value(cut + 1e-9, null) <= level < chance.p_value(cut - 1e-9, null)
    assert np.isnan(chance.detectable(null[:10], 0.01))  # 10 relabellings cannot reach 1 %


def test_bonferroni_needs_no_other_test_of_the_family():
    assert chance.bonferroni(0.01, 3) == pytest.approx(0.03)
    assert chance.bonferroni(0.5, 3) == 1.0 and np.isnan(chance.bonferroni(np.nan, 3))


def test_holm_adjusts_in_order_and_keeps_nan():
    adjusted = chance.holm([0.01, 0.04, 0.03, np.nan, 0.5])
    np.testing.assert_allclose(adjusted[[0, 1, 2, 4]], [0.04, 0.09, 0.09, 0.5])
    assert np.isnan(adjusted[3])
    assert chance.verdict(0.049) == "above chance" and chance.verdict(0.05) == "not above chance"


def test_the_same_seed_gives_the_same_chance_level():
    y = np.random.default_rng(5).integers(0, 3, 50)
    p = np.random.default_rng(6).integers(0, 3, 50)
    a, b = (chance.test([metrics.confusion(y, p)], seed=4) for _ in range(2))
    assert a == b
    with pytest.raises(ValueError, match="no test samples"):
        chance.shuffled_scores([np.zeros((3, 3), int)])
