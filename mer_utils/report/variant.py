"""One method's page: its runs under every protocol, with intervals, errors and resampling."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import config, intervals
from .style import SCORE_NAMES, close, interval, ordered

TABLE_SCORES = ("accuracy", "f1_weighted", "uf1", "uar")


def _frame(records) -> pd.DataFrame:
    return ordered(pd.DataFrame(records), ("protocol",))


def runs_table(records) -> pd.DataFrame:
    """One row per protocol: every score as mean [95 % interval], the majority baseline, how
    many test clips stand behind the number and how the interval was obtained."""
    df = _frame(records)
    rows = []
    for protocol, group in df.groupby("protocol", sort=False):
        row = {"protocol": protocol}
        first = None
        for score in TABLE_SCORES:
            got = intervals.score_interval(group, score)
            first = first or got
            row[SCORE_NAMES[score]] = interval(got["mean"], got["low"], got["high"])
        row["baseline accuracy"] = round(float(group["baseline_accuracy"].mean()), 3)
        row["baseline UF1"] = round(float(group["baseline_uf1"].mean()), 3)
        row["test clips"] = first["test clips"]
        row["interval (95 %)"] = first["interval"]
        row["seconds"] = round(float(group["seconds"].sum()))
        rows.append(row)
    return pd.DataFrame(rows).set_index("protocol")


def _summed_confusion(group: pd.DataFrame) -> np.ndarray:
    return np.sum([np.asarray(c) for c in group["confusion"]], axis=0)


def confusion_figure(records) -> plt.Figure:
    """Confusion matrices per protocol, summed over its repeats (rows true, columns predicted)."""
    df = _frame(records)
    groups = list(df.groupby("protocol", sort=False))
    fig, axes = plt.subplots(
        1, max(len(groups), 1), figsize=(3.3 * max(len(groups), 1), 3.2), squeeze=False
    )
    for ax, (protocol, group) in zip(axes[0], groups):
        runs = f"{len(group)} splits" if len(group) > 1 else "pooled folds"
        heatmap(ax, _summed_confusion(group), f"{protocol} ({runs})")
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
    for (i, j), count in np.ndenumerate(cm):
        ax.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            color="white" if count > top / 2 else "black",
        )
    ticks = range(len(config.CLASSES))
    ax.set_xticks(ticks, config.CLASSES, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_yticks(ticks, config.CLASSES)
    ax.grid(False)
    ax.set(xlabel="predicted", ylabel="true", title=title)


def per_class_recall_table(records) -> pd.DataFrame:
    """Recall of each class per protocol, from the confusion matrices summed over repeats."""
    out = {}
    for protocol, group in _frame(records).groupby("protocol", sort=False):
        cm = _summed_confusion(group)
        support = cm.sum(axis=1)
        out[protocol] = {
            f"recall {c}": (cm[k, k] / support[k] if support[k] else np.nan)
            for k, c in enumerate(config.CLASSES)
        }
    return pd.DataFrame(out).T.round(3)


def counts_table(records) -> pd.DataFrame:
    """Training clips per class before and after resampling (summed over folds, mean over
    repeats), with the SMOTE neighbours and the class weights (mean over folds and repeats)
    where the variant used them."""
    rows = []
    for protocol, group in _frame(records).groupby("protocol", sort=False):
        for stage, column in (
            ("training part", "counts_train"),
            ("after resampling", "counts_train_resampled"),
        ):
            mean = pd.DataFrame(list(group[column])).mean().round(1)
            rows.append({"protocol": protocol, "training clips": stage, **mean.to_dict()})
        weights = [w for ws in group["class_weights"] if ws for w in ws]
        if weights:
            rows.append(
                {
                    "protocol": protocol,
                    "training clips": "class weight W_k (mean)",
                    **pd.DataFrame(weights).mean().round(3).to_dict(),
                }
            )
        ks = sorted({k for ks in group["smote_k"] if ks for k in ks if k is not None})
        if ks:
            rows.append(
                {
                    "protocol": protocol,
                    "training clips": "SMOTE k used",
                    **{c: ", ".join(map(str, ks)) for c in config.CLASSES},
                }
            )
    return pd.DataFrame(rows).set_index(["protocol", "training clips"])
