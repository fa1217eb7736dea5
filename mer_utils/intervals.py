"""How sure is a score? Intervals and tests for repeated splits and for subject-wise
cross-validation, from the run tables (:class:`mer_utils.results.Results`).

A score measured on a few dozen test clips is uncertain, and the book never prints one without
its interval, the number of test samples behind it and its permutation chance level. What an
interval covers depends on the protocol (``interval`` in ``protocols.yaml``):

Repeated random splits (``interval: splits``: ``paper``, ``paper-windows``, ``paper-leaky``,
``subject``)
    Each repeat draws a new 80/10/10 split and trains anew (its own seed): one score per repeat.
    The repeats share most of their training data, so their scores are correlated and the plain
    t-interval of their mean is too narrow. :func:`repeat_interval` uses the *corrected resampled
    t* interval of Nadeau & Bengio (2003, "Inference for the generalization error", Machine
    Learning 52): the variance of the mean is ``(1/J + n_test/n_train) s^2`` instead of
    ``s^2 / J`` for J repeats, with Student's t on J - 1 degrees of freedom. It covers the
    variation of splits and of training.

Cross-validation over subjects (``interval: subjects``: ``kfold``, ``loso``)
    Every clip is tested once per repeat. What varies from one study to the next is mostly
    *which people* were recorded, so the bootstrap resamples subjects with replacement (their
    confusion matrices) and recomputes the score. With several repeats (new subject-grouped
    folds and a new training seed each: the ``quick`` profile's k-fold runs three) the score is
    the mean over repeats of each repeat's pooled score, and the bootstrap resamples the repeats
    too (:func:`bootstrap_interval`), so the interval covers the training's variation as well as
    the subjects'. With one repeat it covers the subjects only, and the tables say so.

Differences between methods are *paired* where the protocol is (``paired`` in
``protocols.yaml``): every method is evaluated on the same splits (the split seeds depend only
on the run seed and the repeat), so :func:`paired_interval` takes the per-repeat differences
(corrected t) or resamples the same subjects and repeats for both methods (bootstrap), and
gives a two-sided p-value for "no difference". A difference the data cannot resolve is called
so; the pages correct their verdicts for the number of comparisons they make
(:func:`mer_utils.chance.holm`).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from . import chance, metrics, protocols, verdicts
from .config import CLASSES
from .schema import CONFUSION_COLUMNS

LEVEL = 0.95
"""Confidence level of every interval in the book."""
N_BOOT = 2000
"""Bootstrap resamples."""
K = len(CLASSES)


def repeat_interval(
    values: Sequence[float],
    test_train_ratio: float,
    level: float = LEVEL,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float, float]:
    """(mean, low, high) of repeated-split scores with the corrected resampled t interval.

    ``test_train_ratio`` is n_test / n_train of one split. The interval is cut to ``bounds``
    (a score cannot leave [0, 1], a difference of scores [-1, 1]): with few repeats Student's t
    is wide. With a single value the interval is (nan, nan): one split says nothing about its
    own spread.
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    mean = float(x.mean()) if len(x) else float("nan")
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    var = (1.0 / len(x) + float(test_train_ratio)) * x.var(ddof=1)
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1)) * float(np.sqrt(var))
    return mean, max(mean - half, bounds[0]), min(mean + half, bounds[1])


def repeat_p_value(differences: Sequence[float], test_train_ratio: float) -> float:
    """Two-sided p-value of the corrected resampled t test that the mean difference is 0
    (NaN when the differences do not vary: no spread, no test)."""
    from scipy import stats

    x = np.asarray(differences, dtype=float)
    if len(x) < 2 or x.std(ddof=1) == 0:
        return float("nan")
    t = x.mean() / np.sqrt((1.0 / len(x) + test_train_ratio) * x.var(ddof=1))
    return float(2 * stats.t.sf(abs(t), len(x) - 1))


def bootstrap_interval(
    confusions: np.ndarray, score: str, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> tuple[float, float, float]:
    """(score, low, high): percentile bootstrap over subjects (and over repeats).

    ``confusions`` is (S, K, K), one confusion matrix per test subject, or (R, S, K, K) for R
    repeats of a cross-validation (every subject tested once per repeat). The score is the
    mean over repeats of each repeat's pooled score; each resample draws S subjects and R
    repeats with replacement and scores them the same way.
    """
    cms = _as_repeats(confusions)
    point = float(np.mean(metrics.from_confusion(cms.sum(axis=1))[score]))
    boot = _bootstrap_scores(cms[None], score, n_boot, seed)[0]
    lo, hi = np.nanpercentile(boot, [50 * (1 - level), 50 * (1 + level)])
    return point, float(lo), float(hi)


def _as_repeats(confusions) -> np.ndarray:
    cms = np.asarray(confusions, dtype=float)
    return cms[None] if cms.ndim == 3 else cms


def _bootstrap_scores(stacks: np.ndarray, score: str, n_boot: int, seed: int) -> np.ndarray:
    """Scores of ``n_boot`` resamples of subjects and repeats for each of M aligned stacks
    (M, R, S, K, K) -> (M, B). The same draws serve every stack (a paired bootstrap)."""
    m, r, s = stacks.shape[:3]
    rng = np.random.default_rng(seed)
    w_subjects = rng.multinomial(s, np.full(s, 1.0 / s), size=n_boot).astype(float)  # (B, S)
    w_repeats = (
        rng.multinomial(r, np.full(r, 1.0 / r), size=n_boot).astype(float)
        if r > 1
        else np.ones((n_boot, 1))
    )  # (B, R)
    summed = np.einsum("bs,mrskl->mbrkl", w_subjects, stacks)
    scores = np.asarray(metrics.from_confusion(summed)[score], dtype=float)  # (M, B, R)
    valid = ~np.isnan(scores)  # a per-class recall is undefined where the class is absent
    weights = w_repeats[None] * valid
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(valid, scores, 0.0) * w_repeats[None]).sum(-1) / weights.sum(-1)


# ----------------------------------------------------------------------------- from the tables
def runs(res) -> dict:
    """What the intervals and tests need from the runs of ONE (dataset, method, protocol).

    ``kind`` ``"repeats"`` (``values``: repeat -> {score: value}, ``ratio``: mean n_test /
    n_train, ``n_test``: mean test samples per repeat) or ``"subjects"`` (``confusions``:
    array (R, S, K, K), ``subjects``, ``repeats``, ``n_test``: test samples per repeat); both
    with ``runs`` (R), ``n_clips`` and ``constant`` (every run predicted one class only).
    """
    m = res.metrics.sort_values("repeat")
    protocol = _single(m, "protocol")
    info = protocols.info(protocol)
    common = {
        "runs": len(m),
        "constant": bool(m["constant_prediction"].all()),
        "n_clips": int(m["n_test_clips"].mean()),
    }
    if info["interval"] == "splits":
        folds = res.folds
        ratio = float((folds["n_test"] / folds["n_train"].clip(lower=1)).mean())
        values = {
            int(r["repeat"]): {s: _float(r[s]) for s in metrics.RECORD_SCORES}
            for r in m.to_dict("records")
        }
        return {
            "kind": "repeats",
            "values": values,
            "ratio": ratio,
            "n_test": float(m["n_test"].mean()),
            **common,
        }
    units = res.confusions
    subjects = sorted(set(units["subject"]))
    repeats = [int(r) for r in m["repeat"]]
    cms = np.zeros((len(repeats), len(subjects), K, K))
    s_index = {s: i for i, s in enumerate(subjects)}
    r_index = {r: i for i, r in enumerate(repeats)}
    for u in units.to_dict("records"):
        cms[r_index[int(u["repeat"])], s_index[u["subject"]]] = _cm(u)
    return {
        "kind": "subjects",
        "confusions": cms,
        "subjects": subjects,
        "repeats": repeats,
        "n_test": int(m["n_test"].iloc[0]),
        **common,
    }


def _float(value) -> float:
    return float("nan") if value is None or pd.isna(value) else float(value)


def _cm(unit: dict) -> np.ndarray:
    return np.array([unit[c] for c in CONFUSION_COLUMNS], dtype=float).reshape(K, K)


def _single(df: pd.DataFrame, column: str) -> str:
    values = set(df[column])
    if len(values) != 1:
        raise ValueError(f"expected runs of one {column}, got {sorted(values)}")
    return values.pop()


def score_interval(res, score: str) -> dict:
    """The row a table shows for one (dataset, method, protocol) and ``score``: ``mean`` (or the
    pooled score), ``low``, ``high``, ``interval`` (how it was obtained and what it covers),
    ``tested`` (test samples x runs), ``n_test``, ``n_clips``, ``runs``, ``constant`` (all runs
    equal), and, for the scores of :data:`mer_utils.chance.SCORES`, the run's verdict
    (:func:`mer_utils.verdicts.test`): ``chance`` (the 95th percentile of the shuffled mean
    score), ``p`` (uncorrected), ``p_adj`` (over the family), ``detectable``, ``verdict``,
    ``family`` and ``n_perm``."""
    r = runs(res)
    if r["kind"] == "repeats":
        values = [r["values"][k][score] for k in sorted(r["values"])]
        values = [v for v in values if not np.isnan(v)]  # a class absent from a test part
        mean, lo, hi = repeat_interval(values, r["ratio"])
        how = f"corrected t over {r['runs']} splits"
        tested = f"{r['n_test']:.0f} x {r['runs']}"
        constant = len(set(np.round(values, 12))) == 1 and r["runs"] > 1
    else:
        mean, lo, hi = bootstrap_interval(r["confusions"], score)
        how = f"bootstrap over {len(r['subjects'])} subjects" + (
            f" and {r['runs']} seeds" if r["runs"] > 1 else " (one seed)"
        )
        tested = f"{r['n_test']}" + (f" x {r['runs']}" if r["runs"] > 1 else "")
        per_run = metrics.from_confusion(r["confusions"].sum(axis=1))[score]
        constant = r["runs"] > 1 and len(set(np.round(np.atleast_1d(per_run), 12))) == 1
    out = {
        "mean": mean,
        "low": lo,
        "high": hi,
        "interval": how,
        "tested": tested,
        "n_test": r["n_test"],
        "n_clips": r["n_clips"],
        "runs": r["runs"],
        "constant": constant,
        "constant_prediction": r["constant"],
        "chance": float("nan"),
        "p": float("nan"),
        "p_adj": float("nan"),
        "detectable": float("nan"),
        "verdict": "",
    }
    if score in chance.SCORES:
        test = verdicts.test(res)
        for name in ("chance", "p", "p_adj", "detectable", "verdict"):
            out[name] = test[f"{name}_{score}"]
        out["family"], out["n_perm"] = test["family"], test["n_perm"]
    return out


def summary(res, score: str, by: Iterable[str] = ("dataset", "method", "protocol")) -> pd.DataFrame:
    """One row per (dataset, method, protocol): :func:`score_interval` and the majority
    baseline's mean ``score`` of the same runs."""
    by = list(by)
    rows = []
    for key, group in res.groups(by):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row.update(score_interval(group, score))
        base = f"baseline_{score}"
        row["baseline"] = (
            float(group.metrics[base].mean()) if base in group.metrics else float("nan")
        )
        rows.append(row)
    return pd.DataFrame(rows)


def paired_interval(a: dict, b: dict, score: str, level: float = LEVEL) -> dict:
    """The difference a - b of two methods evaluated on the same splits: ``difference``,
    ``low``, ``high`` and ``p`` (two-sided, uncorrected). ``a`` and ``b`` are :func:`runs`."""
    if a["kind"] != b["kind"]:
        raise ValueError("the two methods were not evaluated the same way")
    if a["kind"] == "repeats":
        common = sorted(set(a["values"]) & set(b["values"]))
        diff = [a["values"][r][score] - b["values"][r][score] for r in common]
        ratio = (a["ratio"] + b["ratio"]) / 2
        mean, lo, hi = repeat_interval(diff, ratio, level, bounds=(-1.0, 1.0))
        return {"difference": mean, "low": lo, "high": hi, "p": repeat_p_value(diff, ratio)}
    subjects = sorted(set(a["subjects"]) & set(b["subjects"]))
    repeats = sorted(set(a["repeats"]) & set(b["repeats"]))

    def pick(x):
        si = [x["subjects"].index(s) for s in subjects]
        ri = [x["repeats"].index(r) for r in repeats]
        return x["confusions"][np.ix_(ri, si)]

    ca, cb = pick(a), pick(b)
    point = float(
        np.mean(metrics.from_confusion(ca.sum(1))[score])
        - np.mean(metrics.from_confusion(cb.sum(1))[score])
    )
    boot = _bootstrap_scores(np.stack([ca, cb]), score, N_BOOT, 0)
    d = boot[0] - boot[1]
    lo, hi = np.nanpercentile(d, [50 * (1 - level), 50 * (1 + level)])
    p = 2 * min(np.mean(d <= 0), np.mean(d >= 0))
    return {
        "difference": point,
        "low": float(lo),
        "high": float(hi),
        "p": float(min(1.0, max(p, 1 / N_BOOT))),
    }


def paired_differences(res, score: str, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Every pair of methods of every (dataset, protocol) whose comparisons are paired: mean
    difference of ``score`` with its interval and uncorrected p-value, and whether each of the
    two methods is above chance on its own (uncorrected p < 0.05)."""
    out = []
    for (dataset, protocol), group in res.groups(["dataset", "protocol"]):
        if not protocols.info(protocol).get("paired", True):
            continue
        present = list(dict.fromkeys(group.metrics["method"]))
        names = [v for v in (methods or present) if v in present]
        prepared = {v: runs(group.where(method=v)) for v in names}
        alone = {
            v: verdicts.test(group.where(method=v))[f"p_{score}"]
            if score in chance.SCORES
            else float("nan")
            for v in names
        }
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                d = paired_interval(prepared[a], prepared[b], score)
                out.append(
                    {
                        "dataset": dataset,
                        "protocol": protocol,
                        "a": a,
                        "b": b,
                        **d,
                        "p_a_chance": alone[a],
                        "p_b_chance": alone[b],
                    }
                )
    cols = ["dataset", "protocol", "a", "b", "difference", "low", "high", "p"]
    return pd.DataFrame(out, columns=[*cols, "p_a_chance", "p_b_chance"])


def recall_intervals(res) -> pd.DataFrame:
    """Per protocol and class: the recall with its interval (the protocol's method) and the
    test samples of that class behind it."""
    rows = []
    for protocol, group in res.groups(["protocol"]):
        protocol = protocol[0] if isinstance(protocol, tuple) else protocol
        for c in CLASSES:
            got = score_interval(group, f"recall_{c}")
            support = int(group.folds[f"test_{c}"].sum() / max(1, len(group.metrics)))
            rows.append({"protocol": protocol, "class": c, **got, "class samples": support})
    return pd.DataFrame(rows)
