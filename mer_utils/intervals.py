"""How sure is a score? Intervals for repeated splits and for subject-wise cross-validation.

A score measured on a few dozen test clips is uncertain, and the book never prints one without
its interval and the number of test clips behind it. Two kinds of protocol need two methods:

Repeated random splits (``paper``, ``paper-leaky``, ``subject``)
    Each repeat draws a new 80/10/10 split and gives one score. The repeats share most of their
    training data, so their scores are correlated and the plain t-interval of their mean is too
    narrow. :func:`repeat_interval` uses the *corrected resampled t* interval of Nadeau & Bengio
    (2003, "Inference for the generalization error", Machine Learning 52): the variance of the
    mean is ``(1/J + n_test/n_train) s^2`` instead of ``s^2 / J`` for J repeats, with Student's
    t on J - 1 degrees of freedom.

Cross-validation over subjects (``kfold``, ``loso``)
    Every clip is tested once, in one run. What varies from one study to the next is mostly
    *which people* were recorded, so :func:`bootstrap_interval` resamples subjects with
    replacement (their pooled confusion matrices), recomputes the score each time and takes the
    2.5 and 97.5 percentiles (a percentile bootstrap over subjects).

Differences between variants are *paired*: every variant is evaluated on the same splits (the
split seeds depend only on the run seed and the repeat), so :func:`paired_interval` takes the
per-repeat differences (corrected t) or resamples the same subjects for both variants
(bootstrap). A difference whose interval contains 0 is one the data cannot resolve.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from . import metrics, protocols

LEVEL = 0.95
"""Confidence level of every interval in the book."""
N_BOOT = 2000
"""Bootstrap resamples."""


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


def bootstrap_interval(
    confusions: np.ndarray, score: str, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> tuple[float, float, float]:
    """(score of all subjects pooled, low, high): percentile bootstrap over subjects.

    ``confusions`` is (S, K, K), one confusion matrix per test subject. Each resample draws S
    subjects with replacement and scores their summed matrix (:func:`metrics.from_confusion`).
    """
    cms = np.asarray(confusions, dtype=float)
    point = float(metrics.from_confusion(cms.sum(axis=0))[score])
    boot = _bootstrap_scores(cms[None], score, n_boot, seed)[0]
    lo, hi = np.nanpercentile(boot, [50 * (1 - level), 50 * (1 + level)])
    return point, float(lo), float(hi)


def paired_interval(
    a: dict, b: dict, score: str, level: float = LEVEL
) -> tuple[float, float, float]:
    """(mean difference a - b, low, high) for two variants evaluated on the same splits.

    ``a`` and ``b`` are the runs of one protocol as given by :func:`runs`: for a repeated
    protocol the per-repeat scores (paired by repeat), for cross-validation the per-subject
    confusion matrices (paired by subject, resampled together).
    """
    if a["kind"] != b["kind"]:
        raise ValueError("the two variants were not evaluated the same way")
    if a["kind"] == "repeats":
        common = sorted(set(a["values"]) & set(b["values"]))
        diff = [a["values"][r][score] - b["values"][r][score] for r in common]
        return repeat_interval(diff, (a["ratio"] + b["ratio"]) / 2, level, bounds=(-1.0, 1.0))
    subjects = sorted(set(a["confusions"]) & set(b["confusions"]))
    ca = np.array([a["confusions"][s] for s in subjects], dtype=float)
    cb = np.array([b["confusions"][s] for s in subjects], dtype=float)
    point = metrics.from_confusion(ca.sum(0))[score] - metrics.from_confusion(cb.sum(0))[score]
    boot = _bootstrap_scores(np.stack([ca, cb]), score, N_BOOT, 0)
    lo, hi = np.nanpercentile(boot[0] - boot[1], [50 * (1 - level), 50 * (1 + level)])
    return float(point), float(lo), float(hi)


def _bootstrap_scores(stacks: np.ndarray, score: str, n_boot: int, seed: int) -> np.ndarray:
    """Scores of ``n_boot`` subject resamples for each of M aligned stacks (M, S, K, K) -> (M, B).

    The same resampled subjects are used for every stack (a paired bootstrap)."""
    m, s = stacks.shape[:2]
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(s, np.full(s, 1.0 / s), size=n_boot).astype(float)  # (B, S)
    summed = np.einsum("bs,mskl->mbkl", weights, stacks)
    return np.asarray(metrics.from_confusion(summed)[score], dtype=float)


# ----------------------------------------------------------------------------- records
def runs(records: pd.DataFrame) -> dict:
    """What the intervals need from the records of ONE (dataset, variant, protocol).

    For a repeated protocol: ``{"kind": "repeats", "values": {repeat: {score: value}},
    "ratio": mean n_test / n_train, "n_test": mean test clips per repeat}``; for
    cross-validation: ``{"kind": "subjects", "confusions": {subject: KxK}, "n_test": clips}``.
    """
    protocol = _single(records, "protocol")
    if protocols.info(protocol)["repeated"]:
        values = {
            int(r["repeat"]): {k: float(r[k]) for k in metrics.SCORES}
            for r in records.to_dict("records")
        }
        ratio = float(np.mean([_test_train_ratio(r) for r in records.to_dict("records")]))
        n_test = float(
            np.mean([sum(r["counts_test"].values()) for r in records.to_dict("records")])
        )
        return {
            "kind": "repeats",
            "values": values,
            "ratio": ratio,
            "n_test": n_test,
            "runs": len(values),
        }
    rec = records.sort_values("repeat").iloc[0]
    confusions = {s: np.asarray(cm) for s, cm in rec["confusion_by_subject"].items()}
    return {
        "kind": "subjects",
        "confusions": confusions,
        "n_test": int(sum(rec["counts_test"].values())),
        "runs": 1,
    }


def _test_train_ratio(record: dict) -> float:
    splits = record["splits"]
    return float(np.mean([s["n_test"] / max(s["n_train"], 1) for s in splits]))


def _single(records: pd.DataFrame, column: str) -> str:
    values = set(records[column])
    if len(values) != 1:
        raise ValueError(f"expected records of one {column}, got {sorted(values)}")
    return values.pop()


def score_interval(records: pd.DataFrame, score: str) -> dict:
    """Mean (or pooled score), interval, method and test clips of one (dataset, variant,
    protocol)'s records; see :func:`repeat_interval` and :func:`bootstrap_interval`."""
    r = runs(records)
    if r["kind"] == "repeats":
        rows = [r["values"][k][score] for k in sorted(r["values"])]
        mean, lo, hi = repeat_interval(rows, r["ratio"])
        how = f"corrected t over {r['runs']} splits"
        tested = f"{r['n_test']:.0f} x {r['runs']}"
    else:
        cms = np.array(list(r["confusions"].values()))
        mean, lo, hi = bootstrap_interval(cms, score)
        how = f"bootstrap over {len(cms)} subjects"
        tested = f"{r['n_test']}"
    return {
        "mean": mean,
        "low": lo,
        "high": hi,
        "interval": how,
        "test clips": tested,
        "runs": r["runs"],
    }


def summary(
    results: pd.DataFrame, score: str, by: Iterable[str] = ("dataset", "variant", "protocol")
) -> pd.DataFrame:
    """One row per (dataset, variant, protocol): ``score`` with its interval and test clips,
    and the majority baseline's mean ``score`` beside it."""
    by = list(by)
    rows = []
    for key, group in results.groupby(by, sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row.update(score_interval(group, score))
        base = f"baseline_{score}"
        row["baseline"] = float(group[base].mean()) if base in group else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(
    results: pd.DataFrame, score: str, variants: Sequence[str] | None = None
) -> pd.DataFrame:
    """Every pair of variants of every (dataset, protocol): mean difference of ``score`` with its
    paired interval, and whether the data resolve it (interval excludes 0)."""
    out = []
    for (dataset, protocol), group in results.groupby(["dataset", "protocol"], sort=False):
        names = [v for v in (variants or group["variant"].unique()) if v in set(group["variant"])]
        prepared = {v: runs(group[group["variant"] == v]) for v in names}
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                diff, lo, hi = paired_interval(prepared[a], prepared[b], score)
                verdict = f"{a} higher" if lo > 0 else f"{b} higher" if hi < 0 else "not resolved"
                out.append(
                    {
                        "dataset": dataset,
                        "protocol": protocol,
                        "a": a,
                        "b": b,
                        "difference": diff,
                        "low": lo,
                        "high": hi,
                        "verdict": verdict,
                    }
                )
    return pd.DataFrame(
        out, columns=["dataset", "protocol", "a", "b", "difference", "low", "high", "verdict"]
    )
