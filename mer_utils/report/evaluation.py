"""A dataset's evaluation page: every method under every protocol, against chance, the
differences the data can resolve, and the confusion matrices.

Every verdict against chance is the run's one verdict (:mod:`mer_utils.verdicts`, the same on
every page), comparisons are corrected for the number the page makes (Holm), and every sentence
of interpretation is computed here from the same numbers the tables show.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import chance, intervals, protocols
from . import fit
from .method import heatmap, summed_confusion
from .style import (
    METHODS,
    PROTOCOLS,
    SCORE_NAMES,
    WIDTH,
    close,
    colours,
    markdown,
    ordered,
    protocol_points,
    pvalue,
    score,
    short,
    signed,
    table,
    tested,
    verdict,
    with_interval,
)
from .text import say


def rows(res, score_: str = "uf1") -> pd.DataFrame:
    """One row per (method, protocol): :func:`mer_utils.intervals.score_interval` of ``score_``,
    its verdict (``p_adj``, ``verdict``: :mod:`mer_utils.verdicts`), and the majority baseline."""
    if res.empty:
        return pd.DataFrame()
    out = ordered(intervals.summary(res, score_, by=("dataset", "method", "protocol")))
    return out.reset_index(drop=True)


def chance_table(res, score_: str = "uf1"):
    """Does a method recognise anything? Each method's ``score_`` under each protocol beside the
    permutation chance level of the same predictions, with the adjusted p-value and the verdict
    of each run (:mod:`mer_utils.verdicts`)."""
    got = rows(res, score_)
    if got.empty:
        return markdown(say("evaluation.no_runs"))
    name = SCORE_NAMES[score_]
    out = pd.DataFrame(
        {
            "method": got["method"],
            "protocol": got["protocol"],
            name: [with_interval(r) for r in got.to_dict("records")],
            f"chance {name}": got["chance"].map(score),
            "p (adj.)": got["p_adj"].map(pvalue),
            "verdict": [verdict(r, name) for r in got.to_dict("records")],
        }
    )
    return table(
        out,
        legend={
            name: say("common.interval"),
            f"chance {name}": say("evaluation.legend.chance"),
            "p (adj.)": say("common.adjusted"),
        },
    )


def scores_table(res, collapsed: str | None = None):
    """Accuracy and weighted F1 (the paper's scores) with intervals, beside the majority
    baseline of the same splits, the fit on the training part (:mod:`.fit`) and the test
    samples behind them (what each method reads is on its own page)."""
    acc = rows(res, "accuracy")
    if acc.empty:
        return markdown(say("evaluation.no_runs"))
    f1 = rows(res, "f1_weighted")
    fitted = fit.fit_cells(res)
    out = pd.DataFrame(
        {
            "method": acc["method"],
            "protocol": acc["protocol"],
            "accuracy": [with_interval(r) for r in acc.to_dict("records")],
            "majority acc.": acc["baseline"].map(score),
            "train UF1": [fitted.get((m, p), "–") for m, p in zip(acc["method"], acc["protocol"])],
            "F1 (weighted)": [with_interval(r) for r in f1.to_dict("records")],
            "test samples": [tested(r) for r in acc.to_dict("records")],
        }
    )
    return table(
        out,
        legend={
            "majority acc.": say("evaluation.legend.majority"),
            "train UF1": say("evaluation.legend.train_uf1"),
            "test samples": say("common.tested"),
        },
        collapsed=collapsed,
    )


def interpretation(res) -> object:
    """What the page's numbers say, in sentences computed from them: which methods are above
    chance under which protocols, and how far the clip-level protocols score above the
    subject-independent ones."""
    got = rows(res, "uf1")
    if got.empty:
        return markdown(say("evaluation.no_runs"))
    lines = []
    n_tests = len(got)
    for protocol in [p for p in PROTOCOLS if p in set(got["protocol"])]:
        part = got[got["protocol"] == protocol]
        above = list(part.loc[part["p_adj"] < chance.ALPHA, "method"])
        independent = protocols.info(protocol)["subject_independent"]
        kind = say("evaluation.kind." + ("independent" if independent else "shared"))
        if above:
            methods = ", ".join(short(m) for m in above)
            line = say(
                "evaluation.above",
                protocol=protocol,
                kind=kind,
                n=len(above),
                total=len(part),
                methods=methods,
            )
        else:
            line = say("evaluation.none_above", protocol=protocol, kind=kind, total=len(part))
        lines.append(f"- {line}")
    gap = _protocol_gap(got)
    if gap:
        lines.append(gap)
    head = say("evaluation.interpretation", n=n_tests)
    return markdown(head + "\n\n" + "\n".join(lines))


def _protocol_gap(got: pd.DataFrame) -> str:
    """How much higher the clip-level protocols score than the subject-independent ones, per
    method, where both ran."""
    clip = [
        p
        for p in PROTOCOLS
        if p in set(got["protocol"]) and not protocols.info(p)["subject_independent"]
    ]
    indep = [
        p
        for p in PROTOCOLS
        if p in set(got["protocol"]) and protocols.info(p)["subject_independent"]
    ]
    if not clip or not indep:
        return ""
    parts = []
    for a in clip:
        diffs = []
        for m in METHODS:
            x = got[(got["method"] == m) & (got["protocol"] == a)]["mean"]
            y = got[(got["method"] == m) & (got["protocol"] == indep[-1])]["mean"]
            if len(x) and len(y):
                diffs.append(float(x.iloc[0]) - float(y.iloc[0]))
        if diffs:
            parts.append(
                say(
                    "evaluation.gap_part",
                    clip=a,
                    independent=indep[-1],
                    low=signed(min(diffs)),
                    high=signed(max(diffs)),
                    n=len(diffs),
                )
            )
    if not parts:
        return ""
    return "- " + say("evaluation.gap", gaps="; ".join(parts))


def differences(res, score_: str = "uf1") -> pd.DataFrame:
    """Every pair of methods under every paired protocol: the difference of ``score_`` with
    its interval and p-value, Holm-corrected over all pairs of the page, and whether each of the
    two methods is above chance on its own (Holm over the methods of that protocol)."""
    diffs = intervals.paired_differences(res, score_, list(METHODS))
    if diffs.empty:
        return diffs
    diffs = ordered(diffs, ("dataset", "protocol")).reset_index(drop=True)
    diffs["p_holm"] = chance.holm(diffs["p"].to_numpy())
    return diffs


def differences_table(res, score_: str = "uf1", collapsed: str | None = None):
    """:func:`differences` as a table, with a verdict per pair."""
    diffs = differences(res, score_)
    if diffs.empty:
        return markdown(say("evaluation.no_pairs"))
    chance_ok = _above_chance(res, score_)
    name = SCORE_NAMES[score_]

    def verdict(r) -> str:
        if np.isnan(r["p_holm"]):
            return "not tested (no spread)"
        if r["p_holm"] >= chance.ALPHA:
            return "not resolved"
        higher = r["a"] if r["difference"] > 0 else r["b"]
        both = chance_ok.get((r["protocol"], r["a"])) and chance_ok.get((r["protocol"], r["b"]))
        return f"{short(higher)} higher" + ("" if both else " (not both above chance)")

    out = pd.DataFrame(
        {
            "protocol": diffs["protocol"],
            "A - B": [f"{short(a)} - {short(b)}" for a, b in zip(diffs["a"], diffs["b"])],
            f"{name} A - B": [
                f"{_signed(d)} [{_signed(lo)}, {_signed(hi)}]"
                for d, lo, hi in zip(diffs["difference"], diffs["low"], diffs["high"])
            ],
            "p (Holm)": diffs["p_holm"].map(pvalue),
            "verdict": [verdict(r) for r in diffs.to_dict("records")],
        }
    )
    return table(
        out,
        legend={
            f"{name} A - B": say("evaluation.legend.difference"),
            "p (Holm)": say("evaluation.legend.holm", n=len(out)),
            "verdict": say("evaluation.legend.verdict"),
        },
        collapsed=collapsed,
    )


def _signed(x) -> str:
    from .style import signed

    return signed(x)


def _above_chance(res, score_: str) -> dict:
    got = rows(res, score_)
    out = {}
    for protocol, part in got.groupby("protocol", sort=False):
        for m, p in zip(part["method"], part["p_adj"]):
            out[(protocol, m)] = bool(p < chance.ALPHA)
    return out


def differences_summary(res, score_: str = "uf1"):
    """How many pairs of methods the data resolve under each protocol (Holm over the page)."""
    diffs = differences(res, score_)
    if diffs.empty:
        return markdown(say("evaluation.no_comparisons"))
    lines = []
    for protocol, part in diffs.groupby("protocol", sort=False):
        resolved = part[part["p_holm"] < chance.ALPHA]
        which = "; ".join(
            f"{short(r['a'] if r['difference'] > 0 else r['b'])} > "
            f"{short(r['b'] if r['difference'] > 0 else r['a'])}"
            for r in resolved.to_dict("records")
        )
        line = say("evaluation.resolved", protocol=protocol, resolved=len(resolved), n=len(part))
        lines.append(f"- {line}" + (f" ({which})" if which else ""))
    head = say("evaluation.comparisons", n=len(diffs), score=SCORE_NAMES[score_])
    return markdown(head + "\n\n" + "\n".join(lines))


def score_figure(res, score_: str = "uf1") -> plt.Figure:
    """``score_`` of every method under every protocol (95 % intervals), with the majority
    baseline (x) and the permutation chance level (a short bar) of each."""
    got = rows(res, score_)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    if got.empty:
        ax.set_axis_off()
        return close(fig)
    methods = [m for m in METHODS if m in set(got["method"])]
    present = [p for p in PROTOCOLS if p in set(got["protocol"])]
    protocol_points(ax, got, methods, present, colours(PROTOCOLS))
    ax.set_xticks(range(len(methods)), [short(m) for m in methods], rotation=20, ha="right")
    ax.set(ylim=(0, 1.02), ylabel=SCORE_NAMES[score_])
    ax.set_title(
        f"{SCORE_NAMES[score_]}: o mean [95 %], x majority baseline, — chance level", fontsize=10
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=10)
    fig.tight_layout()
    return close(fig)


def confusion_grid(res):
    """Confusion matrices (summed over runs) of every method (rows of panels) and protocol."""
    if res.empty:
        return markdown(say("evaluation.no_runs"))
    methods = [m for m in METHODS if m in set(res.metrics["method"])]
    present = [p for p in PROTOCOLS if p in set(res.metrics["protocol"])]
    cols = len(present)
    fig, axes = plt.subplots(
        len(methods), cols, figsize=(WIDTH, 2.2 * len(methods) + 0.3), squeeze=False
    )
    for i, m in enumerate(methods):
        for j, p in enumerate(present):
            group = res.where(method=m, protocol=p)
            if group.empty:
                axes[i][j].set_axis_off()
            else:
                heatmap(axes[i][j], summed_confusion(group), f"{short(m)} / {p}")
    fig.tight_layout()
    return close(fig)


def first_result(res) -> object:
    """The page's key numbers in one sentence (the first thing a reader sees)."""
    got = rows(res, "uf1")
    if got.empty:
        return markdown(say("evaluation.no_runs"))
    indep = [p for p in got["protocol"].unique() if protocols.info(p)["subject_independent"]]
    protocol = indep[-1] if indep else got["protocol"].iloc[-1]
    part = got[got["protocol"] == protocol]
    best = part.loc[part["mean"].idxmax()]
    above = int((part["p_adj"] < chance.ALPHA).sum())
    kind = set(res.metrics["data_kind"])
    return markdown(
        say(
            "evaluation.first_result",
            kinds="/".join(sorted(kind)),
            protocol=protocol,
            above=above,
            n=len(part),
            method=short(best["method"]),
            interval=with_interval(best.to_dict()),
            chance=score(best["chance"]),
        )
    )
