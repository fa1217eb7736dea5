"""Chance by permutation: what a score is worth against the same predictions on shuffled labels.

A majority-class baseline says what answering the most frequent class scores; it does not say
whether a model learned anything. A model that spreads its guesses (as class weights and SMOTE
make it do) lifts UF1 above that baseline's low floor without recognising a single expression.
So every score of the book is also set against its own **permutation chance level**: the same
predictions scored against the true labels shuffled

- *within each test subject* where the protocol is subject-independent (``kfold``, ``loso``,
  ``subject``): every subject keeps its own mix of classes, so a model gets no credit for the mix;
- *within each test part* otherwise (``paper``, ``paper-windows``, ``paper-leaky``).

With the predictions held fixed, a model that learned nothing scores as well on the true labels as
on shuffled ones; the **p-value** is the share of :data:`N_PERMUTATIONS` shuffles (seeded) that
score at least as high as the true labels, counting the true labels as one of them
(``(1 + hits) / (1 + N)``, so never 0), and the **chance level** shown beside a score is the 95th
percentile of the shuffled scores. The book says a method "learns" or "is above chance" only where
p < 0.05 after Holm's correction over the tests a page makes (:func:`holm`).

Shuffling labels within a group against fixed predictions only needs the group's confusion
matrix (its row sums are the labels, its column sums the predictions), so the test runs from the
per-subject confusion matrices every record keeps. Runs of one protocol (repeats, seeds) are
combined by averaging the k-th shuffle of every run, which gives the chance distribution of the
*mean* score the tables show.
"""

from __future__ import annotations

import numpy as np

from . import metrics

N_PERMUTATIONS = 1999
"""The fewest relabellings per test (the smallest possible p-value is then 1 / 2000)."""
RESOLUTION = 20
"""How far below the corrected level ``ALPHA / family size`` the smallest possible p-value lies:
a score clearly above chance can then pass the correction, and the Monte Carlo error of a
p-value near the corrected level stays small (:func:`n_permutations`)."""
MAX_PERMUTATIONS = 99999
"""At most this many relabellings per test (time: a family of 250 reaches it)."""
LEVEL = 0.95
"""The chance level shown beside a score: this quantile of the shuffled scores."""
ALPHA = 0.05
"""A score is called above chance where its (Holm-corrected) p-value is below this."""
STREAM = 11
"""Seed stream of a run's shuffles: ``protocols.seed_for(seed, repeat, STREAM)``, the same for
every method of a split, so that they are tested against the same shuffles."""
SCORES: tuple[str, ...] = ("uf1", "uar", "accuracy")
"""The scores tested against chance (stored per record)."""


def shuffled_scores(
    groups: list[np.ndarray], n_perm: int = N_PERMUTATIONS, seed: int = 0
) -> dict[str, np.ndarray]:
    """Scores of ``n_perm`` label shuffles: ``{score: array (n_perm,)}`` for :data:`SCORES`.

    ``groups`` holds one K x K confusion matrix per group (rows true, columns predicted); labels
    are shuffled within each group, predictions held fixed, and the shuffled matrices of all
    groups summed before scoring.
    """
    rng = np.random.default_rng(seed)
    total = None
    for cm in groups:
        cm = np.asarray(cm, dtype=int)
        k = cm.shape[0]
        true = np.repeat(np.arange(k), cm.sum(axis=1))
        pred = np.concatenate([np.repeat(np.arange(k), row) for row in cm])  # row order = true
        if len(true) == 0:
            continue
        shuffled = rng.permuted(np.broadcast_to(true, (n_perm, len(true))), axis=1)
        codes = shuffled * k + pred[None, :] + (np.arange(n_perm) * k * k)[:, None]
        counts = np.bincount(codes.ravel(), minlength=n_perm * k * k).reshape(n_perm, k, k)
        total = counts if total is None else total + counts
    if total is None:
        raise ValueError("no test samples to shuffle")
    scores = metrics.from_confusion(total)
    return {s: np.asarray(scores[s], dtype=float) for s in SCORES}


def p_value(observed: float, shuffled: np.ndarray) -> float:
    """``(1 + #shuffles scoring >= observed) / (1 + #shuffles)``."""
    shuffled = np.asarray(shuffled, dtype=float)
    hits = int(np.sum(shuffled >= observed - 1e-12))
    return (1 + hits) / (1 + len(shuffled))


def test(groups: list[np.ndarray], seed: int = 0, n_perm: int = N_PERMUTATIONS) -> dict:
    """The permutation test of one set of predictions given as per-group confusion matrices:
    ``chance_<score>`` (the :data:`LEVEL` quantile of the shuffled scores) and ``p_<score>`` for
    every score of :data:`SCORES`."""
    observed = metrics.from_confusion(np.sum([np.asarray(g) for g in groups], axis=0))
    shuffled = shuffled_scores(groups, n_perm, seed)
    out = {}
    for s in SCORES:
        out[f"chance_{s}"] = float(np.quantile(shuffled[s], LEVEL))
        out[f"p_{s}"] = p_value(float(observed[s]), shuffled[s])
    return out


def n_permutations(family_size: int, alpha: float = ALPHA) -> int:
    """Relabellings for a test of a family of ``family_size``: enough that the smallest possible
    p-value, ``1 / (1 + n)``, is :data:`RESOLUTION` times below the corrected level
    ``alpha / family_size``, and never fewer than :data:`N_PERMUTATIONS` nor more than
    :data:`MAX_PERMUTATIONS`."""
    need = int(np.ceil(RESOLUTION * max(1, int(family_size)) / alpha)) - 1
    return int(min(MAX_PERMUTATIONS, max(N_PERMUTATIONS, need)))


def relabellings(labels: np.ndarray, groups: np.ndarray, n_perm: int, seed: int) -> np.ndarray:
    """``n_perm`` relabellings of units (clips): array (n_perm, n_units) of labels, each row the
    ``labels`` permuted within every group of ``groups`` (a subject, or one group for all)."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    rng = np.random.default_rng(seed)
    out = np.empty((n_perm, len(labels)), dtype=np.int16)
    for g in sorted(set(groups.tolist())):
        idx = np.flatnonzero(groups == g)
        out[:, idx] = rng.permuted(np.broadcast_to(labels[idx], (n_perm, len(idx))), axis=1)
    return out


def shared_test(
    labels: np.ndarray,
    groups: np.ndarray,
    runs: list[tuple[np.ndarray, np.ndarray]],
    n_perm: int,
    seed: int,
    k: int = 3,
    chunk: int = 2000,
) -> dict:
    """The permutation test of the MEAN score of several runs (repeats, seeds) with ONE
    relabelling shared by all of them.

    ``labels`` and ``groups`` give every unit (a clip) its label and the group its label is
    permuted within; ``runs`` holds, per run, the unit index and the prediction of each test
    sample. Relabelling ``j`` gives every sample of unit ``u`` the label ``perm[j, u]`` in every
    run where the unit is tested, so runs that test the same clips are shuffled alike (the mean
    of correlated runs is not tested against the narrower mean of independent shuffles).
    Returns ``score_<s>`` (observed mean), ``p_<s>``, ``chance_<s>`` and ``null_<s>`` (the
    shuffled means, in the order of the relabellings) for :data:`SCORES`.
    """
    labels = np.asarray(labels, dtype=np.int16)
    perm = relabellings(labels, groups, n_perm, seed)
    observed = {s: [] for s in SCORES}
    null = {s: np.zeros(n_perm) for s in SCORES}
    counted = {s: np.zeros(n_perm) for s in SCORES}
    for unit, pred in runs:
        unit, pred = np.asarray(unit, dtype=int), np.asarray(pred, dtype=int)
        if not len(unit):
            continue
        own = metrics.from_confusion(_confusions(labels[unit][None], pred, k)[0])
        for s in SCORES:
            observed[s].append(float(own[s]))
        for start in range(0, n_perm, chunk):
            block = perm[start : start + chunk][:, unit]
            got = metrics.from_confusion(_confusions(block, pred, k))
            for s in SCORES:
                v = np.asarray(got[s], dtype=float)
                ok = ~np.isnan(v)
                null[s][start : start + chunk] += np.where(ok, v, 0.0)
                counted[s][start : start + chunk] += ok
    if not observed[SCORES[0]]:
        raise ValueError("no test samples to shuffle")
    out = {}
    for s in SCORES:
        with np.errstate(invalid="ignore", divide="ignore"):
            shuffled = null[s] / counted[s]
        obs = float(np.nanmean(observed[s]))
        out[f"score_{s}"] = obs
        out[f"chance_{s}"] = float(np.nanquantile(shuffled, LEVEL))
        out[f"p_{s}"] = p_value(obs, shuffled[~np.isnan(shuffled)])
        out[f"null_{s}"] = shuffled
    return out


def _confusions(true: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(B, K, K) confusion matrices of B label vectors (B, n) against one prediction vector."""
    b = true.shape[0]
    codes = true.astype(np.int64) * k + pred[None, :] + (np.arange(b) * k * k)[:, None]
    return np.bincount(codes.ravel(), minlength=b * k * k).reshape(b, k, k)


def detectable(null: np.ndarray, alpha_adjusted: float) -> float:
    """The smallest score the test would call above chance at ``alpha_adjusted``: a score above
    the returned value gets ``p <= alpha_adjusted`` against the shuffled scores ``null``. NaN
    where no score could (too few relabellings)."""
    null = np.sort(np.asarray(null, dtype=float)[~np.isnan(null)])[::-1]
    allowed = int(np.floor(alpha_adjusted * (1 + len(null)) + 1e-9)) - 1  # shuffles >= score
    if allowed < 0:
        return float("nan")
    return float(null[min(allowed, len(null) - 1)])


def bonferroni(p: float, family_size: int) -> float:
    """``min(1, m p)``: the p-value of one test of a family of ``m``, adjusted so that the family
    makes a false "above chance" claim with probability at most :data:`ALPHA`. It needs no other
    test of the family, so every page that shows the test shows the same adjusted p-value."""
    return float("nan") if np.isnan(p) else float(min(1.0, p * max(1, int(family_size))))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (same order as given; NaN kept)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def verdict(p_adjusted: float) -> str:
    """``"above chance"`` where the (adjusted) p-value is below :data:`ALPHA`, else
    ``"not above chance"``."""
    return "above chance" if p_adjusted < ALPHA else "not above chance"
