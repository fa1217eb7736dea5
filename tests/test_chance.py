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
        hits += chance.test(_groups(y, p, 10), seed=t)["p_uf1"] < chance.ALPHA
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


def test_the_mean_of_several_runs_is_tested_against_the_mean_of_their_shuffles():
    rng = np.random.default_rng(3)
    runs = []
    for seed in range(3):
        y = rng.integers(0, 3, 30)
        p = np.where(rng.random(30) < 0.6, y, rng.integers(0, 3, 30))  # mostly right
        runs.append(([metrics.confusion(y, p)], seed))
    got = chance.test_mean(runs)
    assert got["p_uf1"] < 0.01 and got["score_uf1"] > got["chance_uf1"]
    one = chance.test(*runs[0])
    assert chance.test_mean(runs[:1])["p_uf1"] == one["p_uf1"]  # one run: the run's own test


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
