"""One method's page: its runs under every protocol, against chance, with intervals, errors and
resampling."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import chance, config, intervals, protocols
from ..schema import CONFUSION_COLUMNS, LACKS
from .style import (
    PROTOCOLS,
    WIDTH,
    close,
    count,
    markdown,
    pvalue,
    score,
    table,
    tested,
    verdict,
    with_interval,
)
from .text import say

K = len(config.CLASSES)


def _protocols(res) -> list[str]:
    present = set(res.metrics["protocol"])
    return [p for p in PROTOCOLS if p in present]


def runs_table(res):
    """One row per protocol: UF1 and accuracy with their 95 % intervals, UF1's permutation
    chance level, adjusted p-value and verdict (:mod:`mer_utils.verdicts`), the majority
    baseline of the same splits, and the test samples behind the numbers."""
    if res.empty:
        return markdown(say("method.no_runs"))
    rows = []
    for protocol in _protocols(res):
        group = res.where(protocol=protocol)
        u = intervals.score_interval(group, "uf1")
        a = intervals.score_interval(group, "accuracy")
        rows.append(
            {
                "protocol": protocol,
                "UF1": with_interval(u),
                "chance UF1": score(u["chance"]),
                "p (adj.)": pvalue(u["p_adj"]),
                "verdict": verdict(u),
                "accuracy": with_interval(a),
                "majority acc.": score(group.metrics["baseline_accuracy"].mean()),
                "test samples": tested(u),
            }
        )
    out = pd.DataFrame(rows)
    out = out[
        [
            "protocol",
            "UF1",
            "chance UF1",
            "p (adj.)",
            "verdict",
            "accuracy",
            "majority acc.",
            "test samples",
        ]
    ]
    return table(
        out,
        legend={
            "UF1, accuracy": say("common.interval"),
            "chance UF1": say("method.legend.chance"),
            "p (adj.)": say("common.adjusted"),
            "verdict": say("method.legend.verdict"),
            "majority acc.": say("method.legend.majority"),
            "test samples": say("common.tested"),
        },
    )


def verdicts(res) -> str:
    """One sentence, computed from the runs: under which protocols this method is above chance
    (and one more where folds trained without a class, :func:`lacking`)."""
    if res.empty:
        return ""
    more = lacking(res)
    return _verdict(res) + (f" {more}" if more else "")


def lacking(res) -> str:
    """A sentence naming the folds whose training part held no clip of a class, or ''."""
    f = res.folds
    if f.empty or "note" not in f:
        return ""
    hit = f[f["note"].fillna("").astype(str).str.contains(LACKS, regex=False)]
    if hit.empty:
        return ""
    per = hit.groupby("protocol").size()
    where = ", ".join(f"{n} under `{p}`" for p, n in per.items())
    return say("method.lacking", n=len(hit), where=where)


def _verdict(res) -> str:
    names = _protocols(res)
    got = [intervals.score_interval(res.where(protocol=p), "uf1") for p in names]
    above = [p for p, g in zip(names, got) if g["p_adj"] < chance.ALPHA]
    if not above:
        detectable = ", ".join(f"{score(g['detectable'])} (`{p}`)" for p, g in zip(names, got))
        return say("method.none_above", n=len(names), detectable=detectable)
    independent = [p for p in above if protocols.info(p)["subject_independent"]]
    key = "method.above" if independent else "method.above_not_independent"
    return say(key, protocols=_list(above))


def _list(items: list[str]) -> str:
    items = [f"`{i}`" for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def summed_confusion(res) -> np.ndarray:
    """The confusion matrix of a set of runs: every test subject of every run summed."""
    units = res.confusions
    if units.empty:
        return np.zeros((K, K), dtype=int)
    return units[list(CONFUSION_COLUMNS)].to_numpy(dtype=int).sum(axis=0).reshape(K, K)


def confusion_figure(res) -> plt.Figure:
    """Confusion matrices per protocol, summed over its runs (rows true, columns predicted)."""
    names = _protocols(res)
    n = max(len(names), 1)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 2.3 * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, protocol in zip(axes.flat, names):
        group = res.where(protocol=protocol)
        runs = f"{len(group)} runs" if len(group) > 1 else "one run"
        ax.set_axis_on()
        heatmap(ax, summed_confusion(group), f"{protocol} ({runs})")
    fig.tight_layout()
    return close(fig)


def heatmap(ax, confusion, title: str) -> None:
    """Draw one confusion matrix (rows true, columns predicted, CLASSES order), its counts
    written in the cells.

    Drawn with matplotlib directly: ``seaborn.heatmap`` renders the whole figure on every call
    (to check its tick labels for overlap), which made a grid of 24 matrices take 9 s instead
    of well under one.
    """
    cm = np.asarray(confusion, dtype=int)
    top = max(1, int(cm.max()))
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=top, aspect="auto")
    for (i, j), n in np.ndenumerate(cm):
        ax.text(
            j,
            i,
            str(n),
            ha="center",
            va="center",
            fontsize=10,
            color="white" if n > top / 2 else "black",
        )
    ticks = range(K)
    short = [c[:3] for c in config.CLASSES]
    ax.set_xticks(ticks, short, fontsize=10)
    ax.set_yticks(ticks, short, fontsize=10)
    ax.grid(False)
    ax.set_xlabel("predicted", fontsize=10)
    ax.set_ylabel("true", fontsize=10)
    ax.set_title(title, fontsize=10)


def recall_table(res):
    """Recall of each class per protocol, with its 95 % interval (the protocol's method) and the
    test samples of the class behind it (per run)."""
    if res.empty:
        return markdown("No runs.")
    got = intervals.recall_intervals(res)
    rows = []
    for protocol, group in got.groupby("protocol", sort=False):
        row = {"protocol": protocol}
        for r in group.to_dict("records"):
            row[r["class"]] = f"{with_interval(r)} (n = {count(r['class samples'])})"
        rows.append(row)
    out = pd.DataFrame(rows)
    return table(
        out,
        legend={"class": say("method.legend.recall")},
    )


def counts_table(res):
    """Training samples per class before and after the method's resampling (summed over a
    run's folds, mean over its runs), with the class weights of Eq. 1 and the SMOTE neighbours
    (mean over folds and runs) where the method used them."""
    if res.empty:
        return markdown("No runs.")
    folds = res.folds
    rows = []
    for protocol in _protocols(res):
        part = folds[folds["protocol"] == protocol]
        runs = max(1, part["repeat"].nunique())
        for stage, prefix in (
            ("training part (sum over folds, mean over runs)", "train"),
            ("after resampling (sum over folds, mean over runs)", "resampled"),
        ):
            sums = {c: part[f"{prefix}_{c}"].sum() / runs for c in config.CLASSES}
            rows.append(
                {
                    "protocol": protocol,
                    "training samples": stage,
                    **{c: count(v) for c, v in sums.items()},
                }
            )
        weights = part[[f"weight_{c}" for c in config.CLASSES]].dropna()
        if not weights.empty:
            rows.append(
                {
                    "protocol": protocol,
                    "training samples": "class weight Wₖ (mean over folds and runs)",
                    **{c: f"{weights[f'weight_{c}'].mean():.2f}" for c in config.CLASSES},
                }
            )
        ks = sorted({int(k) for k in part["smote_k"].dropna()})
        if ks:
            rows.append(
                {
                    "protocol": protocol,
                    "training samples": "SMOTE neighbours k used",
                    **{c: ", ".join(map(str, ks)) for c in config.CLASSES},
                }
            )
    return table(pd.DataFrame(rows))


def skipped(method: str, profile: str | None = None):
    """The protocols this method is not run under, and why (``skip_protocols``, and
    ``skip_protocols_in`` for ``profile``)."""
    entry = config.method(method)
    skip = {
        **(entry.get("skip_protocols") or {}),
        **entry.get("skip_protocols_in", {}).get(profile, {}),
    }
    if not skip:
        return markdown("")
    lines = [f"- `{p}`: {why}" for p, why in skip.items()]
    return markdown(say("method.not_run") + "\n\n" + "\n".join(lines))


def planned_table(planned: list):
    """The runs a method page makes (:func:`mer_utils.experiment.runs_to_make`): one row per
    repeat of each protocol, with the seed of its splits and what it computes."""
    if not planned:
        return markdown(say("method.no_planned"))
    rows = []
    for run in planned:
        same = run.same_as
        rows.append(
            {
                "protocol": run.protocol,
                "repeat": str(run.repeat),
                "split seed": str(protocols.split_seed(run.spec.seed, run.repeat)),
                "what is split": protocols.info(run.protocol)["title"],
                "computed": "yes"
                if same is None
                else f"no: the same run as {same.protocol} r{same.repeat} (nothing to resample)",
            }
        )
    return table(pd.DataFrame(rows))
