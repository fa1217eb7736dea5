"""One method's page: its runs under every protocol, against chance, with intervals, errors and
resampling."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import chance, config, intervals, protocols
from ..schema import CONFUSION_COLUMNS
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
    with_interval,
)

K = len(config.CLASSES)


def _protocols(res) -> list[str]:
    present = set(res.metrics["protocol"])
    return [p for p in PROTOCOLS if p in present]


def runs_table(res):
    """One row per protocol: UF1 and accuracy with their 95 % intervals, UF1's permutation
    chance level and p-value (Holm-corrected over the protocols of the table), the majority
    baseline of the same splits, and the test samples behind the numbers."""
    if res.empty:
        return markdown("No runs: this method was not run under any protocol of this build.")
    rows, ps = [], []
    for protocol in _protocols(res):
        group = res.where(protocol=protocol)
        u = intervals.score_interval(group, "uf1")
        a = intervals.score_interval(group, "accuracy")
        ps.append(u["p"])
        rows.append(
            {
                "protocol": protocol,
                "UF1": with_interval(u),
                "chance UF1": score(u["chance"]),
                "p": u["p"],
                "accuracy": with_interval(a),
                "majority acc.": score(group.metrics["baseline_accuracy"].mean()),
                "test samples": tested(u),
            }
        )
    adjusted = chance.holm(ps)
    for row, p in zip(rows, adjusted):
        row["p"] = pvalue(p)
        row["verdict"] = chance.verdict(p)
    out = pd.DataFrame(rows)
    out = out[
        [
            "protocol",
            "UF1",
            "chance UF1",
            "p",
            "verdict",
            "accuracy",
            "majority acc.",
            "test samples",
        ]
    ]
    return table(
        out,
        legend={
            "UF1, accuracy": "mean over repeated splits, or the pooled score of a "
            "cross-validation, [95 % interval]",
            "chance UF1": "95th percentile of UF1 with the labels shuffled "
            "(within test subjects where the protocol is subject-independent)",
            "p": f"permutation p-value, Holm-corrected over the {len(rows)} protocols",
            "majority acc.": "always answering the training part's most frequent class",
            "test samples": "per run x runs (distinct test clips in brackets where the "
            "samples are not clips)",
        },
    )


def verdicts(res) -> str:
    """One sentence, computed from the runs: under which protocols this method is above chance."""
    if res.empty:
        return ""
    names = _protocols(res)
    ps = chance.holm([intervals.score_interval(res.where(protocol=p), "uf1")["p"] for p in names])
    above = [p for p, q in zip(names, ps) if q < chance.ALPHA]
    if not above:
        return (
            f"Under none of its {len(names)} protocols is this method's UF1 above its permutation "
            "chance level (Holm-corrected): on these data it shows no sign of recognising the "
            "classes, whatever its accuracy."
        )
    independent = [p for p in above if protocols.info(p)["subject_independent"]]
    text = f"Its UF1 is above its permutation chance level under {_list(above)}"
    if not independent:
        text += (
            ", and under no subject-independent protocol: what it recognises does not carry "
            "over to people it has not seen"
        )
    return text + "."


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
        legend={
            "class": "recall [95 % interval] (n = test samples of the class per run); "
            "recall is undefined where a test part holds no sample of the class"
        },
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


def skipped(method: str):
    """The protocols this method is not run under, and why (``skip_protocols``)."""
    skip = config.method(method).get("skip_protocols") or {}
    if not skip:
        return markdown("")
    lines = [f"- `{p}`: {why}" for p, why in skip.items()]
    return markdown("Not run under:\n\n" + "\n".join(lines))
