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

N_PERMUTATIONS = 1000
"""Shuffles per test (the smallest possible p-value is 1 / 1001)."""
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


def test_mean(runs: list[tuple[list[np.ndarray], int]], n_perm: int = N_PERMUTATIONS) -> dict:
    """The permutation test of the MEAN score of several runs (repeats, seeds of a protocol).

    ``runs`` holds, per run, its per-group confusion matrices and its shuffle seed; the k-th
    shuffles of all runs are averaged. Returns ``chance_<score>``, ``p_<score>`` and
    ``score_<score>`` (the observed mean).
    """
    draws = [shuffled_scores(groups, n_perm, seed) for groups, seed in runs]
    out = {}
    for s in SCORES:
        observed = float(
            np.mean(
                [
                    metrics.from_confusion(np.sum([np.asarray(g) for g in groups], axis=0))[s]
                    for groups, _ in runs
                ]
            )
        )
        null = np.mean([d[s] for d in draws], axis=0)
        out[f"score_{s}"] = observed
        out[f"chance_{s}"] = float(np.quantile(null, LEVEL))
        out[f"p_{s}"] = p_value(observed, null)
    return out


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
