"""The results page: the paper's Tables 1-4 and Figures 6-7 beside this study's measurements,
and every method under every protocol across the datasets.

Numbers the paper reports (on the real datasets) and numbers measured here never share a table
row, a column or a plotted series: each table and each panel says which it holds.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import chance, config, intervals, protocols, reference
from ..datasets import display_name
from . import evaluation
from .style import (
    METHODS,
    PROTOCOLS,
    SCORE_NAMES,
    WIDTH,
    close,
    colours,
    interval_errorbar,
    markdown,
    protocol_points,
    pvalue,
    score,
    short,
    source_label,
    table,
    tested,
    with_interval,
)
from .text import say


# ----------------------------------------------------------------------------- Tables 1-4
def reported_table(dataset: str):
    """The paper's table for ``dataset`` as printed (reported on the real dataset)."""
    ref = reference.reported(dataset)
    if ref.empty:
        return markdown(say("results.no_table"))
    out = pd.DataFrame(
        {
            "year": ref["year"].astype(str),
            "method": [
                m + (" (the paper's)" if v else "") for m, v in zip(ref["method"], ref["variant"])
            ],
            "accuracy (%)": ref["accuracy"].map(lambda a: "–" if pd.isna(a) else f"{a:.2f}"),
            "F1": ref["f1"].map(lambda f: "–" if pd.isna(f) else f"{f:.4f}"),
        }
    )
    number = reference.table_number(dataset)
    return table(
        out,
        caption=say("results.reported_caption", number=number, dataset=display_name(dataset)),
    )


def measured_table(res, dataset: str, protocol: str = "paper"):
    """The paper's variants as measured here under ``protocol`` on ``dataset``: accuracy (%) and
    F1 with intervals, the permutation chance level of the accuracy, and the test samples."""
    mine = res.where(dataset=dataset, protocol=protocol)
    if mine.empty:
        return markdown(
            say("results.no_protocol_runs", protocol=protocol, dataset=display_name(dataset))
        )
    rows = []
    for method in [m for m in METHODS if m in set(mine.metrics["method"])]:
        group = mine.where(method=method)
        acc = intervals.score_interval(group, "accuracy")
        f1w = intervals.score_interval(group, "f1_weighted")
        f1m = intervals.score_interval(group, "f1_macro")
        pct = {k: (100 * acc[k] if k in ("mean", "low", "high") else acc[k]) for k in acc}
        rows.append(
            {
                "method": method
                + ("" if config.method(method)["paper"] else " (beyond the paper)"),
                "accuracy (%)": with_interval(pct, digits=1),
                "chance acc. (%)": f"{100 * acc['chance']:.1f}",
                "p": acc["p_adj"],
                "F1 (weighted)": with_interval(f1w),
                "F1 (macro)": with_interval(f1m),
                "test samples": tested(acc),
            }
        )
    out = pd.DataFrame(rows)
    out["p"] = [pvalue(p) for p in out["p"]]
    out = out.rename(columns={"p": "p (adj.)"})
    kinds = source_label(mine.metrics["data_kind"])
    return table(
        out,
        caption=say(
            "results.measured_caption",
            dataset=display_name(dataset),
            kinds=kinds,
            profile=mine.metrics["profile"].iloc[0],
            protocol=protocol,
        ),
        legend={
            "chance acc.": say("results.legend.chance"),
            "p (adj.)": say("results.legend.p", adjusted=say("common.adjusted")),
            "F1 (weighted)": say("results.legend.f1"),
        },
    )


# ----------------------------------------------------------------------------- Figures 6-7
def figure_6_7(res, score_: str = "accuracy", protocol: str = "paper") -> plt.Figure:
    """The paper's Figure 6 (accuracy) or 7 (F1) and this study's measurement side by side, in
    two panels: left the values the paper reports (real data), right the values measured here
    under ``protocol`` with 95 % intervals, the majority baseline and the permutation chance
    level. The two never share a panel."""
    ref_key = "accuracy" if score_ == "accuracy" else "f1"
    variants = list(config.paper_methods())
    palette = colours(config.datasets())
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.4), sharey=True)
    x = np.arange(len(variants))
    for ds in config.datasets():
        own = reference.reported(ds).dropna(subset=["variant"]).set_index("variant")[ref_key]
        if not own.empty:
            values = own.reindex(variants).astype(float) / (100 if score_ == "accuracy" else 1)
            left.plot(x, values.values, marker="o", color=palette[ds], label=display_name(ds))
    left.set_title("reported by the paper (real data)", fontsize=10)
    left.set_xticks(x, [short(v) for v in variants], rotation=30, ha="right", fontsize=10)
    left.set(ylim=(0, 1.02), ylabel=SCORE_NAMES[score_] if score_ != "f1_weighted" else "F1")
    mine = res.where(protocol=protocol)
    kinds = source_label(mine.metrics["data_kind"]) if not mine.empty else "no runs"
    for i, ds in enumerate(config.datasets()):
        got = evaluation.rows(mine.where(dataset=ds, method=variants), score_)
        if got.empty:
            continue
        got = got.set_index("method").reindex(variants)
        off = (i - 1.5) * 0.06
        interval_errorbar(
            right,
            x + off,
            got,
            marker="o",
            capsize=2,
            color=palette[ds],
            label=display_name(ds),
        )
        right.scatter(x + off, got["baseline"], marker="x", color=palette[ds], s=18)
        right.scatter(x + off, got["chance"], marker="_", color="black", s=40)
    right.set_title(f"measured here ({kinds}), protocol {protocol}", fontsize=10)
    right.set_xticks(x, [short(v) for v in variants], rotation=30, ha="right", fontsize=10)
    handles, labels = left.get_legend_handles_labels()
    h2, l2 = right.get_legend_handles_labels()
    extra = [
        plt.Line2D([], [], marker="x", ls="", color="gray", label="majority baseline"),
        plt.Line2D([], [], marker="_", ls="", color="black", markersize=10, label="chance level"),
    ]
    fig.legend(
        handles=(handles or h2) + extra,
        loc="lower center",
        ncol=3,
        frameon=False,
        fontsize=10,
        bbox_to_anchor=(0.5, -0.12),
    )
    fig.tight_layout()
    return close(fig)


# ----------------------------------------------------------------------------- protocols
def protocol_table(res, score_: str = "uf1"):
    """Every method (rows) on every dataset (columns) under every protocol (row groups):
    ``score_`` with a mark where the run is above its permutation chance level (its one verdict,
    :mod:`mer_utils.verdicts`, as on every other page). The intervals are on each dataset's
    evaluation page and in the CSV below."""
    got = evaluation.rows(res, score_)
    if got.empty:
        return markdown(say("results.no_runs"))
    got["above"] = got["p_adj"] < chance.ALPHA
    datasets = [d for d in config.datasets() if d in set(got["dataset"])]
    out = []
    for protocol in [p for p in PROTOCOLS if p in set(got["protocol"])]:
        for method in [m for m in METHODS if m in set(got["method"])]:
            row = {"protocol": protocol, "method": short(method)}
            for ds in datasets:
                hit = got[
                    (got["protocol"] == protocol)
                    & (got["method"] == method)
                    & (got["dataset"] == ds)
                ]
                row[display_name(ds)] = (
                    "–"
                    if hit.empty
                    else score(hit["mean"].iloc[0]) + (" *" if hit["above"].iloc[0] else "")
                )
            out.append(row)
    out = pd.DataFrame(out)
    legend = {
        "*": say("common.above_mark"),
        "cells": say("results.legend.cells", score=SCORE_NAMES[score_]),
    }
    if (out[[display_name(d) for d in datasets]] == "–").any().any():
        legend["–"] = say("results.legend.missing")
    return table(
        out,
        caption=f"{SCORE_NAMES[score_]} measured here ({source_label(got_kinds(res))}), "
        "every method under every protocol",
        legend=legend,
    )


def full_table(res, path: str | Path) -> Path:
    """Every (dataset, method, protocol) with every score's interval, chance level and p-value
    as a CSV file (the download beside the summary tables)."""
    frames = []
    for s in ("accuracy", "f1_weighted", "uf1", "uar"):
        got = evaluation.rows(res, s)
        if got.empty:
            continue
        frames.append(
            got[
                [
                    "dataset",
                    "method",
                    "protocol",
                    "mean",
                    "low",
                    "high",
                    "chance",
                    "p",
                    "p_adj",
                    "detectable",
                    "n_perm",
                    "baseline",
                    "tested",
                    "interval",
                ]
            ].assign(score=s)
        )
    out = pd.concat(frames) if frames else pd.DataFrame()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, float_format="%.4f")
    return path


def protocol_figure(res, score_: str = "uf1") -> plt.Figure:
    """``score_`` of every method under every protocol, one panel per dataset (2 x 2), with
    95 % intervals, the majority baseline (x) and the chance level (—)."""
    got = evaluation.rows(res, score_)
    datasets = [d for d in config.datasets() if d in set(got.get("dataset", []))] or ["(none)"]
    cols = 2
    rows_ = -(-len(datasets) // cols)
    fig, axes = plt.subplots(
        rows_, cols, figsize=(WIDTH, 2.9 * rows_ + 0.6), squeeze=False, sharey=True
    )
    palette = colours(PROTOCOLS)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, ds in zip(axes.flat, datasets):
        part = got[got["dataset"] == ds] if not got.empty else got
        if part.empty:
            continue
        ax.set_axis_on()
        methods = [m for m in METHODS if m in set(part["method"])]
        present = [p for p in PROTOCOLS if p in set(part["protocol"])]
        protocol_points(ax, part, methods, present, palette, size=0.5)
        ax.set_xticks(
            range(len(methods)),
            [short(m) for m in methods],
            rotation=40,
            ha="right",
            fontsize=10,
        )
        ax.set_title(display_name(ds), fontsize=10)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel(SCORE_NAMES[score_], fontsize=10)
    seen: dict[str, object] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    labels = [p for p in PROTOCOLS if p in seen]
    handles = [seen[p] for p in labels]
    kinds = source_label(res.metrics["data_kind"]) if not res.empty else ""
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=len(labels) or 1,
        frameon=False,
        fontsize=10,
        bbox_to_anchor=(0.5, -0.03),
    )
    fig.suptitle(
        f"{SCORE_NAMES[score_]} measured on {kinds}: o mean [95 %], x majority, — chance",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return close(fig)


def differences_summary(res, score_: str = "uf1"):
    """Per dataset and protocol: how many pairs of methods the data resolve (Holm per dataset,
    as on each evaluation page), and which."""
    lines = []
    for ds in [d for d in config.datasets() if d in set(res.metrics["dataset"])]:
        diffs = evaluation.differences(res.where(dataset=ds), score_)
        if diffs.empty:
            continue
        parts = []
        for protocol, part in diffs.groupby("protocol", sort=False):
            resolved = part[part["p_holm"] < chance.ALPHA]
            parts.append(f"`{protocol}` {len(resolved)} of {len(part)}")
        lines.append(f"- {display_name(ds)}: " + "; ".join(parts))
    if not lines:
        return markdown(say("results.no_comparisons"))
    head = say("results.comparisons", score=SCORE_NAMES[score_])
    return markdown(head + "\n\n" + "\n".join(lines))


def confusion_figures(res, protocol: str) -> list[plt.Figure]:
    """One figure per dataset: the confusion matrix of every method under ``protocol``."""
    from .method import heatmap, summed_confusion

    figs = []
    mine = res.where(protocol=protocol)
    for ds in [d for d in config.datasets() if d in set(mine.metrics["dataset"])]:
        part = mine.where(dataset=ds)
        methods = [m for m in METHODS if m in set(part.metrics["method"])]
        cols = 3
        rows_ = -(-len(methods) // cols)
        fig, axes = plt.subplots(rows_, cols, figsize=(WIDTH, 2.4 * rows_ + 0.4), squeeze=False)
        for ax in axes.flat:
            ax.set_axis_off()
        for ax, m in zip(axes.flat, methods):
            ax.set_axis_on()
            heatmap(ax, summed_confusion(part.where(method=m)), short(m))
        kinds = source_label(part.metrics["data_kind"])
        fig.suptitle(
            f"{display_name(ds)} ({kinds}), protocol {protocol} (summed over runs)", fontsize=10
        )
        fig.tight_layout()
        figs.append(close(fig))
    return figs


def recall_table(res, protocol: str):
    """Per-class recall of every dataset and method under ``protocol``, with 95 % intervals."""
    mine = res.where(protocol=protocol)
    if mine.empty:
        return markdown(f"No `{protocol}` runs.")
    rows = []
    present = set(zip(mine.metrics["dataset"], mine.metrics["method"]))
    for ds, method in [(d, m) for d in config.datasets() for m in METHODS if (d, m) in present]:
        group = mine.where(dataset=ds, method=method)
        got = intervals.recall_intervals(group)
        row = {"dataset": display_name(ds), "method": short(method)}
        for r in got.to_dict("records"):
            row[r["class"]] = with_interval(r)
        row["UAR"] = with_interval(intervals.score_interval(group, "uar"))
        rows.append(row)
    kinds = source_label(mine.metrics["data_kind"])
    return table(
        pd.DataFrame(rows),
        caption=say("results.recall_caption", kinds=kinds, protocol=protocol),
        legend={"cells": "recall [95 % interval]"},
        collapsed=f"Per-class recall of every dataset and method ({kinds})",
    )


def got_kinds(res) -> list[str]:
    """The data kinds of ``res``'s records (none for an empty set)."""
    return [] if res.empty else list(res.metrics["data_kind"])


def subject_protocol(profile: dict) -> str | None:
    """The profile's subject-wise cross-validation (``kfold`` in quick, ``loso`` in paper)."""
    cv = [p for p in profile["protocols"] if protocols.info(p)["interval"] == "subjects"]
    return cv[-1] if cv else None
