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
    variation of splits and of training. Two or three repeats can agree by chance (small test
    parts, a model that predicts one class): the interval is never narrower than what
    resampling each split's test subjects gives (:func:`within_variance`), so it is not of zero
    width where the test subjects disagree.

Cross-validation over subjects (``interval: subjects``: ``kfold``, ``loso``)
    Every clip is tested once per repeat. What varies from one study to the next is mostly
    *which people* were recorded, so the bootstrap resamples subjects with replacement (their
    confusion matrices) and recomputes the score. With several repeats (new subject-grouped
    folds and a new training seed each: the ``quick`` profile's k-fold runs three) the score is
    the mean over repeats of each repeat's pooled score, and the bootstrap resamples the repeats
    too (:func:`bootstrap_interval`), so the interval covers the training's variation as well as
    the subjects'. With one repeat it covers the subjects only, and the tables say so.

Where every resample of an accuracy or a recall scores the same (all of its clips right, or all
wrong) the interval is the exact binomial one of its test samples
(:func:`proportion_interval`). An interval that spans [0, 1], or one of zero width, comes with a
``note`` that says why (how few splits, test samples or subjects stand behind it), which the
tables print beside it (:func:`mer_utils.report.style.interval`).

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
    within: float = 0.0,
) -> tuple[float, float, float]:
    """(mean, low, high) of repeated-split scores with the corrected resampled t interval.

    ``test_train_ratio`` is n_test / n_train of one split. The interval is cut to ``bounds``
    (a score cannot leave [0, 1], a difference of scores [-1, 1]): with few repeats Student's t
    is wide. A single split says nothing about the spread between splits: its interval is the
    normal one of ``within`` alone (what its test part's sampling gives), and (nan, nan) where
    that is unknown (``within`` = 0).

    ``within`` is the variance that test sampling alone gives one split's score
    (:func:`within_variance`). A split's score varies at least that much from split to split,
    so the interval is never narrower than the normal one of that variance: two or three
    repeats that happen to agree no longer give an interval of zero width, and repeats that
    disagree keep their (wider) t interval.
    """
    x = np.asarray(values, dtype=float)
    mean = float(x.mean()) if len(x) else float("nan")
    if len(x) < 2:
        if len(x) == 0 or within <= 0:
            return mean, float("nan"), float("nan")
        half = _normal_half(within, level)
        return mean, max(mean - half, bounds[0]), min(mean + half, bounds[1])
    half = max(_halves(x, test_train_ratio, within, level))
    return mean, max(mean - half, bounds[0]), min(mean + half, bounds[1])


def _halves(x: np.ndarray, ratio: float, within: float, level: float) -> tuple[float, float]:
    """Half widths of the corrected t interval of the repeats' spread and of the normal
    interval of the test-sampling variance ``within`` (J = len(x) >= 2 repeats)."""
    from scipy import stats

    c = 1.0 / len(x) + float(ratio)
    t = float(stats.t.ppf(0.5 + level / 2, len(x) - 1)) * float(np.sqrt(c * x.var(ddof=1)))
    return t, _normal_half(c * within, level)


def _normal_half(variance: float, level: float) -> float:
    """Half the width of the normal interval of ``variance`` at ``level``."""
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2)) * float(np.sqrt(variance))


def within_variance(
    units: Sequence[np.ndarray], score: str, n_boot: int = N_BOOT, seed: int = 0
) -> float:
    """The variance of one split's ``score`` that test sampling alone gives: per repeat, the
    bootstrap variance of its score when the test part's units (its test subjects' confusion
    matrices, (S, K, K)) are resampled with replacement; the mean over the repeats (0 where no
    repeat has two units)."""
    out = []
    for i, cms in enumerate(units):
        cms = np.asarray(cms, dtype=float)
        if len(cms) < 2:
            continue
        boot = _bootstrap_scores(cms[None, None], score, n_boot, seed + i)[0]
        boot = boot[np.isfinite(boot)]
        if len(boot) > 1:
            out.append(float(boot.var(ddof=1)))
    return float(np.mean(out)) if out else 0.0


def proportion_interval(k: float, n: float, level: float = LEVEL) -> tuple[float, float]:
    """Clopper-Pearson (exact binomial) interval of ``k`` successes in ``n`` trials: the
    interval of an accuracy or a recall where every resample scores the same (all clips right,
    or all wrong), so that a percentile bootstrap has no spread to show."""
    from scipy import stats

    if n <= 0:
        return float("nan"), float("nan")
    k = min(max(round(k), 0), round(n))
    a = 1 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == round(n) else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


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

    ``kind`` ``"repeats"`` (``values``: repeat -> {score: value}, ``units``: repeat -> its test
    subjects' confusion matrices (S, K, K), ``ratio``: mean n_test / n_train, ``n_test``: mean
    test samples per repeat) or ``"subjects"`` (``confusions``:
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
        by_repeat: dict[int, list] = {r: [] for r in values}
        for u in res.confusions.to_dict("records"):
            by_repeat.setdefault(int(u["repeat"]), []).append(_cm(u))
        units = {r: np.array(by_repeat[r]).reshape(-1, K, K) for r in values}
        return {
            "kind": "repeats",
            "values": values,
            "units": units,
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
    ``note`` (why an interval is as it is, where a reader would ask: see :func:`_notes`),
    ``tested`` (test samples x runs), ``n_test``, ``n_clips``, ``runs``, ``constant`` (all runs
    equal), and, for the scores of :data:`mer_utils.chance.SCORES`, the run's verdict
    (:func:`mer_utils.verdicts.test`): ``chance`` (the 95th percentile of the shuffled mean
    score), ``p`` (uncorrected), ``p_adj`` (over the family), ``detectable``, ``verdict``,
    ``family`` and ``n_perm``.

    Every interval covers the test subjects' sampling and, with several runs, the runs'
    variation: repeated splits take the wider of the repeats' corrected t interval and the normal
    interval of what resampling each split's test subjects gives (:func:`repeat_interval`),
    cross-validation resamples subjects
    and repeats together (:func:`bootstrap_interval`). Where every resample of an accuracy or a
    recall scores the same (all of its clips right, or all wrong) the interval is the exact
    binomial one of its test samples (:func:`proportion_interval`)."""
    r = runs(res)
    if r["kind"] == "repeats":
        keys = [k for k in sorted(r["values"]) if not np.isnan(r["values"][k][score])]
        values = [r["values"][k][score] for k in keys]  # a class absent from a test part: NaN
        within = within_variance([r["units"][k] for k in keys], score)
        mean, lo, hi = repeat_interval(values, r["ratio"], within=within)
        spread_driven = False
        if len(values) > 1:
            t_half, z_half = _halves(np.asarray(values), r["ratio"], within, LEVEL)
            spread_driven = t_half >= z_half
        how = (
            f"corrected t over {r['runs']} splits"
            if len(values) > 1
            else "one split: bootstrap over its test subjects"
        )
        tested = f"{r['n_test']:.0f} x {r['runs']}"
        constant = len(set(np.round(values, 12))) == 1 and len(values) > 1
        units = [r["units"][k] for k in keys]
        scored = len(values)
    else:
        mean, lo, hi = bootstrap_interval(r["confusions"], score)
        spread_driven = False
        how = f"bootstrap over {len(r['subjects'])} subjects" + (
            f" and {r['runs']} seeds" if r["runs"] > 1 else " (one seed)"
        )
        tested = f"{r['n_test']}" + (f" x {r['runs']}" if r["runs"] > 1 else "")
        per_run = metrics.from_confusion(r["confusions"].sum(axis=1))[score]
        constant = r["runs"] > 1 and len(set(np.round(np.atleast_1d(per_run), 12))) == 1
        units = list(r["confusions"])
        scored = r["runs"]
    behind = _samples_behind(units, score)
    if _degenerate(lo, hi) and _is_proportion(score) and behind > 0:
        lo, hi = proportion_interval(mean * behind, behind)
    out = {
        "mean": mean,
        "low": lo,
        "high": hi,
        "interval": how,
        "note": _notes(
            r, score, lo, hi, behind, scored, constant, spread_driven, len(units[0]) if units else 0
        ),
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
        "family": None,
        "n_perm": None,
    }
    if score in chance.SCORES:
        test = verdicts.test(res)
        for name in ("chance", "p", "p_adj", "detectable", "verdict"):
            out[name] = test[f"{name}_{score}"]
        out["family"], out["n_perm"] = test["family"], test["n_perm"]
    return out


def _is_proportion(score: str) -> bool:
    """A share of test samples (accuracy, one class's recall): a binomial count."""
    return score == "accuracy" or score.startswith("recall_") and score[7:] in CLASSES


def _degenerate(lo: float, hi: float) -> bool:
    return not (np.isnan(lo) or np.isnan(hi)) and hi - lo < 1e-9


def _samples_behind(units: Sequence[np.ndarray], score: str) -> float:
    """Test samples one run's ``score`` is computed from (mean over the runs): the samples of
    the class for a recall, all test samples otherwise."""
    if not len(units):
        return 0.0
    if score.startswith("recall_") and score[7:] in CLASSES:
        c = CLASSES.index(score[7:])
        return float(np.mean([np.asarray(u)[:, c, :].sum() for u in units]))
    return float(np.mean([np.asarray(u).sum() for u in units]))


def _notes(r, score, lo, hi, behind, scored, constant, spread_driven, subjects) -> str:
    """Why an interval is as it is, where a reader would ask: an interval that spans [0, 1]
    (from how few splits, test samples or subjects), one of zero width (every test subject
    scored the same), a score that only some splits could compute (a class absent from the
    others' test parts), runs that all scored the same and runs that predicted one class."""
    notes = []
    what = "splits" if r["kind"] == "repeats" else "seeds"
    n = f"{behind:.0f}" if behind == round(behind) else f"{behind:.1f}"
    n += " test sample" + ("" if behind == 1 else "s")
    n += " of the class" if score.startswith("recall_") else ""
    if r["kind"] == "repeats" and r["runs"] == 1:
        notes.append("one split: its test part only")
    if 1 <= scored < r["runs"]:
        notes.append(f"{scored} of {r['runs']} splits test the class")
    if not np.isnan(lo) and lo <= 0.005 and hi >= 0.995:
        if spread_driven and scored <= 3:
            notes.append(f"{scored} splits that disagree, {n} each")
        elif r["kind"] == "repeats":
            notes.append(f"{n} per split")
        else:
            notes.append(f"{n}, {subjects} subjects")
    elif _degenerate(lo, hi):
        notes.append(f"all {subjects} test subjects score the same")
    if constant and r["runs"] > 1:
        notes.append(f"same in {'both' if scored == 2 else f'all {scored}'} {what}")
    if r["constant"]:
        notes.append("constant prediction")
    return "; ".join(notes)


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
        if len(common) == 1:  # one split: its test subjects resampled, both methods together
            ua, ub = (np.asarray(x["units"][common[0]], dtype=float) for x in (a, b))
            if ua.shape == ub.shape and len(ua) > 1:
                return _paired_bootstrap(ua[None], ub[None], diff[0], score, level)
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
    return _paired_bootstrap(ca, cb, point, score, level)


def _paired_bootstrap(ca, cb, point: float, score: str, level: float) -> dict:
    """The paired difference ``point`` of two methods' confusion matrices ``ca``, ``cb``
    ((repeats, subjects, K, K), the same subjects in the same order) with the interval and p of
    resampling the test subjects, the same draw for both methods."""
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
