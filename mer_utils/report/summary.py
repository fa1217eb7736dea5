"""The pages that compare: a dataset's evaluation, the results, and the leakage reconstruction.

Every measured number is shown as mean (or pooled score) with its 95 % interval and the number
of test clips behind it (:mod:`mer_utils.intervals`); the paper's numbers come from
:mod:`mer_utils.reference` and are always labelled as reported.
"""

from __future__ import annotations

from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import config, intervals, protocols, reference
from ..datasets import display_name
from .style import (
    PROTOCOLS,
    SCORE_NAMES,
    VARIANTS,
    close,
    colours,
    interval,
    markdown,
    ordered,
    short,
)
from .variant import heatmap

NO_RECORDS = "no result records for this selection"


def _select(results: pd.DataFrame, datasets: Iterable[str] | None = None) -> pd.DataFrame:
    return results if datasets is None else results[results["dataset"].isin(list(datasets))]


def _intervals(results: pd.DataFrame, score: str) -> pd.DataFrame:
    """:func:`intervals.summary` in the book's order (empty frame for no records)."""
    if results.empty:
        return pd.DataFrame(
            columns=[
                "dataset",
                "variant",
                "protocol",
                "mean",
                "low",
                "high",
                "interval",
                "test clips",
                "runs",
                "baseline",
            ]
        )
    return ordered(intervals.summary(results, score))


# ----------------------------------------------------------------------------- score tables
def scores_table(
    results: pd.DataFrame, scores=("accuracy", "uf1"), datasets: Iterable[str] | None = None
) -> pd.DataFrame:
    """Every (dataset, variant, protocol): each score as mean [95 % interval], the majority
    baseline, and the test clips behind the numbers."""
    df = _select(results, datasets)
    if df.empty:
        return pd.DataFrame({"": [NO_RECORDS]})
    out = None
    for score in scores:
        s = _intervals(df, score)
        part = pd.DataFrame(
            {
                "dataset": s["dataset"].map(display_name),
                "variant": s["variant"],
                "protocol": s["protocol"],
                SCORE_NAMES[score]: [
                    interval(m, lo, hi) for m, lo, hi in zip(s["mean"], s["low"], s["high"])
                ],
                f"baseline {SCORE_NAMES[score]}": s["baseline"].round(3),
            }
        )
        if out is None:
            out = part.assign(
                **{
                    "test clips": s["test clips"].to_numpy(),
                    "interval (95 %)": s["interval"].to_numpy(),
                }
            )
        else:
            out = out.merge(part, on=["dataset", "variant", "protocol"])
    cols = [c for c in out.columns if c not in ("test clips", "interval (95 %)")]
    return out[cols + ["test clips", "interval (95 %)"]].set_index(
        ["dataset", "variant", "protocol"]
    )


def paper_table(results: pd.DataFrame, dataset: str):
    """The paper's table for ``dataset``: its reported rows, then this study's measured rows
    under the ``paper`` protocol (accuracy and weighted F1 with intervals, test clips)."""
    ref = reference.reported(dataset)
    rows = [
        {
            "year": str(r["year"]),
            "method": r["method"] + (" (paper)" if r["variant"] else ""),
            "accuracy (%)": "–" if pd.isna(r["accuracy"]) else f"{r['accuracy']:.2f}",
            "F1": "–" if pd.isna(r["f1"]) else f"{r['f1']:.4f}",
            "F1 (macro)": "",
            "test clips": "",
            "row": f"reported by the paper; {r['protocol']}",
        }
        for r in ref.to_dict("records")
    ]
    mine = results[(results["dataset"] == dataset) & (results["protocol"] == "paper")]
    for variant in [v for v in VARIANTS if v in set(mine["variant"])] or VARIANTS:
        rec = mine[mine["variant"] == variant]
        if rec.empty:
            rows.append({"year": "", "method": f"{variant} (this study)", "row": "not run"})
            continue
        acc = intervals.score_interval(rec, "accuracy")
        f1w = intervals.score_interval(rec, "f1_weighted")
        f1m = intervals.score_interval(rec, "f1_macro")
        beyond = "" if config.variant(variant).get("paper", True) else "; beyond the paper"
        rows.append(
            {
                "year": "",
                "method": f"{variant} (this study)",
                "accuracy (%)": interval(acc["mean"], acc["low"], acc["high"], percent=True),
                "F1": interval(f1w["mean"], f1w["low"], f1w["high"]) + " weighted",
                "F1 (macro)": interval(f1m["mean"], f1m["low"], f1m["high"]),
                "test clips": acc["test clips"],
                "row": f"measured on {rec['data_kind'].iloc[0]} data, {rec['profile'].iloc[0]} profile{beyond}",
            }
        )
    out = pd.DataFrame(rows).fillna("")
    number = reference.table_number(dataset)
    title = f"Table {number}: " if number else ""
    return (
        out.style.hide(axis="index")
        .set_table_attributes('class="dataframe"')
        .set_caption(
            f"{title}{display_name(dataset)}; measured rows: paper protocol "
            "(clip-level 80/10/10), mean [95 % interval] over repeated splits"
        )
    )


def line_chart(results: pd.DataFrame, score: str) -> plt.Figure:
    """The paper's Figures 6 (accuracy) and 7 (F1): one line per dataset over the variants under
    the paper protocol, measured with 95 % intervals; the paper's reported values dashed (its F1
    beside this study's weighted F1)."""
    paper = results[results["protocol"] == "paper"]
    fig, ax = plt.subplots(figsize=(10, 4.2))
    palette = colours(config.datasets())
    ref_key = "accuracy" if score == "accuracy" else "f1"
    x = np.arange(len(VARIANTS))
    for i, ds in enumerate(config.datasets()):
        own = reference.reported(ds).dropna(subset=["variant"]).set_index("variant")[ref_key]
        if not own.empty:
            ref = own.reindex(VARIANTS).astype(float) / (100 if score == "accuracy" else 1)
            ax.plot(
                x,
                ref.values,
                ls="--",
                marker="x",
                color=palette[ds],
                alpha=0.7,
                label=f"{display_name(ds)} (reported)",
            )
        mine = (
            _intervals(paper[paper["dataset"] == ds], score).set_index("variant").reindex(VARIANTS)
        )
        if mine["mean"].notna().any():
            offset = (i - 1.5) * 0.04
            err = np.vstack([mine["mean"] - mine["low"], mine["high"] - mine["mean"]])
            kind = paper.loc[paper["dataset"] == ds, "data_kind"].iloc[0]
            ax.errorbar(
                x + offset,
                mine["mean"],
                yerr=np.nan_to_num(err),
                marker="o",
                color=palette[ds],
                capsize=3,
                label=f"{display_name(ds)} (measured, {kind})",
            )
    ax.set_xticks(x, VARIANTS, rotation=15)
    name = SCORE_NAMES[score]
    ax.set(
        ylabel=name,
        ylim=(0, 1.02),
        title=f"{name} per variant, paper protocol (measured: mean and 95 % interval)",
    )
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return close(fig)


def protocol_figure(
    results: pd.DataFrame, score: str = "uf1", datasets: Iterable[str] | None = None
) -> plt.Figure:
    """``score`` of every variant under every protocol, per dataset, with 95 % intervals and the
    majority baseline (crosses)."""
    df = _select(results, datasets)
    names = [d for d in config.datasets() if d in set(df["dataset"])] or ["(none)"]
    present = [p for p in PROTOCOLS if p in set(df["protocol"])]
    variants = [v for v in VARIANTS if v in set(df["variant"])]
    palette = colours(PROTOCOLS)
    fig, axes = plt.subplots(
        1, len(names), figsize=(4.4 * len(names), 3.8), squeeze=False, sharey=True
    )
    for ax, ds in zip(axes[0], names):
        sub = _intervals(df[df["dataset"] == ds], score)
        if sub.empty:
            ax.set_axis_off()
            continue
        for j, protocol in enumerate(present):
            part = sub[sub["protocol"] == protocol].set_index("variant").reindex(variants)
            x = np.arange(len(variants)) + (j - (len(present) - 1) / 2) * 0.16
            err = np.vstack([part["mean"] - part["low"], part["high"] - part["mean"]])
            ax.errorbar(
                x,
                part["mean"],
                yerr=np.nan_to_num(err),
                fmt="o",
                capsize=2,
                color=palette[protocol],
                label=protocol,
            )
            ax.scatter(x, part["baseline"], marker="x", color=palette[protocol], alpha=0.6)
        ax.set_xticks(range(len(variants)), [short(v) for v in variants], rotation=25)
        ax.set(
            title=display_name(ds),
            ylabel=f"{SCORE_NAMES[score]} (x: majority baseline)",
            ylim=(0, 1.02),
        )
    axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return close(fig)


# ----------------------------------------------------------------------------- differences
NO_PAIRS = "fewer than two methods ran under the same splits: no difference to compare"


def differences_table(
    results: pd.DataFrame, scores=("accuracy", "uf1"), datasets: Iterable[str] | None = None
) -> pd.DataFrame:
    """Every pair of variants under every protocol: the paired difference of each score with its
    95 % interval, and whether the data resolve it (the interval excludes 0)."""
    df = _select(results, datasets)
    if df.empty:
        return pd.DataFrame({"": [NO_RECORDS]})
    variants = [v for v in VARIANTS if v in set(df["variant"])]
    out = None
    for score in scores:
        diffs = ordered(intervals.paired_differences(df, score, variants), ("dataset", "protocol"))
        part = pd.DataFrame(
            {
                "dataset": diffs["dataset"].map(display_name),
                "protocol": diffs["protocol"],
                "A - B": [f"{short(a)} - {short(b)}" for a, b in zip(diffs["a"], diffs["b"])],
                f"{SCORE_NAMES[score]}: A - B": [
                    interval(d, lo, hi)
                    for d, lo, hi in zip(diffs["difference"], diffs["low"], diffs["high"])
                ],
                f"{SCORE_NAMES[score]}: verdict": diffs["verdict"].str.replace("MER-", ""),
            }
        )
        out = part if out is None else out.merge(part, on=["dataset", "protocol", "A - B"])
    if out is None or out.empty:
        return pd.DataFrame({"": [NO_PAIRS]})
    return out.set_index(["dataset", "protocol", "A - B"])


def differences_summary(results: pd.DataFrame, score: str) -> pd.DataFrame:
    """Per dataset and protocol: how many variant pairs the data resolve, and which."""
    if results.empty:
        return pd.DataFrame({"": [NO_RECORDS]})
    diffs = ordered(intervals.paired_differences(results, score), ("dataset", "protocol"))
    rows = []
    for (ds, protocol), group in diffs.groupby(["dataset", "protocol"], sort=False):
        resolved = group[group["verdict"] != "not resolved"]
        rows.append(
            {
                "dataset": display_name(ds),
                "protocol": protocol,
                "pairs": len(group),
                "resolved": len(resolved),
                "resolved pairs (higher first)": "; ".join(
                    f"{short(r['a'])} > {short(r['b'])}"
                    if r["difference"] > 0
                    else f"{short(r['b'])} > {short(r['a'])}"
                    for r in resolved.to_dict("records")
                )
                or "none",
            }
        )
    if not rows:
        return pd.DataFrame({"": [NO_PAIRS]})
    return pd.DataFrame(rows).set_index(["dataset", "protocol"])


# ----------------------------------------------------------------------------- confusions
def _confusion_grid(
    df: pd.DataFrame,
    rows: tuple[str, list],
    cols: tuple[str, list],
    title,
    cell: tuple[float, float],
) -> plt.Figure:
    (row_key, row_values), (col_key, col_values) = rows, cols
    fig, axes = plt.subplots(
        len(row_values),
        len(col_values),
        squeeze=False,
        figsize=(cell[0] * len(col_values), cell[1] * len(row_values)),
    )
    for i, rv in enumerate(row_values):
        for j, cv in enumerate(col_values):
            group = df[(df[row_key] == rv) & (df[col_key] == cv)]
            if group.empty:
                axes[i][j].set_axis_off()
            else:
                cm = np.sum([np.asarray(c) for c in group["confusion"]], axis=0)
                heatmap(axes[i][j], cm, title(rv, cv))
    fig.tight_layout()
    return close(fig)


def confusion_grid(results: pd.DataFrame, dataset: str):
    """Confusion matrices (summed over repeats) of every variant (rows) and protocol (columns)."""
    df = results[results["dataset"] == dataset]
    if df.empty:
        return markdown("No result records for this dataset.")
    variants = [v for v in VARIANTS if v in set(df["variant"])]
    present = [p for p in PROTOCOLS if p in set(df["protocol"])]
    return _confusion_grid(
        df,
        ("variant", variants),
        ("protocol", present),
        lambda v, p: f"{short(v)} / {p}",
        (3.1, 3.0),
    )


def confusion_overview(results: pd.DataFrame, protocol: str):
    """Confusion matrices of every dataset (rows) and variant (columns) under ``protocol``."""
    df = results[results["protocol"] == protocol]
    names = [d for d in config.datasets() if d in set(df["dataset"])]
    if not names:
        return markdown(f"No `{protocol}` result records.")
    variants = [v for v in VARIANTS if v in set(df["variant"])]
    return _confusion_grid(
        df,
        ("dataset", names),
        ("variant", variants),
        lambda d, v: f"{display_name(d)}: {short(v)}",
        (3.0, 3.0),
    )


def recall_overview(results: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Per-class recall (confusions summed over repeats) of every dataset and variant under
    ``protocol``, with UAR (their mean)."""
    df = results[results["protocol"] == protocol]
    if df.empty:
        return pd.DataFrame({"": [NO_RECORDS]})
    rows = []
    for (ds, variant), group in ordered(df).groupby(["dataset", "variant"], sort=False):
        cm = np.sum([np.asarray(c) for c in group["confusion"]], axis=0)
        recall = np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
        rows.append(
            {
                "dataset": display_name(ds),
                "variant": variant,
                **{f"recall {c}": round(float(r), 3) for c, r in zip(config.CLASSES, recall)},
                "UAR": round(float(recall[cm.sum(axis=1) > 0].mean()), 3),
            }
        )
    return pd.DataFrame(rows).set_index(["dataset", "variant"])


def megc_reference_table() -> pd.DataFrame:
    """Published LOSO UF1 / UAR on the MEGC 2019 composite (context for subject-wise numbers)."""
    rows = []
    for row in reference.megc_loso():
        for ds in ("casme2", "samm", "smic"):
            uf1, uar = row[ds]
            rows.append(
                {"method": row["method"], "dataset": display_name(ds), "UF1": uf1, "UAR": uar}
            )
    out = pd.DataFrame(rows).pivot(index="method", columns="dataset", values=["UF1", "UAR"])
    return out.swaplevel(axis=1).sort_index(axis=1)


# ----------------------------------------------------------------------------- leakage page
def smallest_test_table() -> pd.DataFrame:
    """:func:`mer_utils.reference.smallest_test_sizes`, datasets by display name."""
    out = reference.smallest_test_sizes()
    out["dataset"] = out["dataset"].map(display_name)
    return out.rename(columns={"10 % of the clips": "test clips of a 10 % split"}).set_index(
        ["dataset", "variant"]
    )


def f1_accuracy_table() -> pd.DataFrame:
    """The paper's own F1 beside its accuracy / 100 (:func:`reference.f1_against_accuracy`)."""
    out = reference.f1_against_accuracy()
    out["dataset"] = out["dataset"].map(display_name)
    return out.set_index(["dataset", "variant"])


def survival_table(results: pd.DataFrame, score: str = "accuracy") -> pd.DataFrame:
    """For every dataset and paper variant: the reported accuracy beside this study's ``score``
    under each protocol, from the most leaky to the most honest, with 95 % intervals."""
    if results.empty:
        return pd.DataFrame({"": [NO_RECORDS]})
    s = _intervals(results, score)
    own = reference.own_rows().set_index(["dataset", "variant"])
    present = [p for p in PROTOCOLS if p in set(s["protocol"])]
    rows = []
    for (ds, variant), group in s.groupby(["dataset", "variant"], sort=False):
        row = {"dataset": display_name(ds), "variant": variant}
        if score == "accuracy":
            rep = own["accuracy"].get((ds, variant), np.nan)
            row["reported by the paper"] = "–" if pd.isna(rep) else f"{rep / 100:.3f}"
        by = group.set_index("protocol")
        for p in present:
            row[p] = (
                interval(by.loc[p, "mean"], by.loc[p, "low"], by.loc[p, "high"])
                if p in by.index
                else "–"
            )
        row["majority baseline"] = round(float(group["baseline"].mean()), 3)
        rows.append(row)
    return pd.DataFrame(rows).set_index(["dataset", "variant"])


def survival_figure(results: pd.DataFrame, variant: str, score: str = "accuracy") -> plt.Figure:
    """How much of the reported accuracy survives each step towards honest evaluation: for
    ``variant``, the paper's reported value, then each protocol (mean and 95 % interval), one
    line per dataset; dotted: the majority baseline under each protocol."""
    df = results[results["variant"] == variant]
    s = _intervals(df, score)
    present = [p for p in PROTOCOLS if p in set(s["protocol"])]
    steps = (["reported"] if score == "accuracy" else []) + present
    palette = colours(config.datasets())
    own = reference.own_rows().set_index(["dataset", "variant"])
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for i, ds in enumerate([d for d in config.datasets() if d in set(s["dataset"])]):
        by = s[s["dataset"] == ds].set_index("protocol").reindex(present)
        values = list(by["mean"])
        low, high = list(by["low"]), list(by["high"])
        if score == "accuracy":
            rep = own["accuracy"].get((ds, variant), np.nan) / 100
            values, low, high = [rep] + values, [rep] + low, [rep] + high
        x = np.arange(len(steps)) + (i - 1.5) * 0.05
        err = np.vstack([np.subtract(values, low), np.subtract(high, values)])
        ax.errorbar(
            x,
            values,
            yerr=np.nan_to_num(err),
            marker="o",
            capsize=3,
            color=palette[ds],
            label=display_name(ds),
        )
        base = ([np.nan] if score == "accuracy" else []) + list(by["baseline"])
        ax.plot(x, base, ls=":", color=palette[ds], alpha=0.7)
    ax.set_xticks(range(len(steps)), steps)
    ax.set(
        ylim=(0, 1.02),
        ylabel=SCORE_NAMES[score],
        title=f"{variant}: {SCORE_NAMES[score]} from the reported value to subject-independent "
        "evaluation (dotted: majority baseline)",
    )
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return close(fig)


def leak_table(results: pd.DataFrame) -> pd.DataFrame:
    """paper-leaky runs: how many test samples there were, how many were augmented copies or
    SMOTE interpolations, and how many came from a clip that also had a sample in training
    (means over repeats)."""
    df = results[(results["protocol"] == "paper-leaky") & results["leak"].notna()]
    if df.empty:
        return pd.DataFrame({"": ["no paper-leaky records"]})
    rows = []
    for (ds, variant), group in ordered(df).groupby(["dataset", "variant"], sort=False):
        leak = pd.DataFrame(list(group["leak"])).mean()
        rows.append(
            {
                "dataset": display_name(ds),
                "variant": variant,
                "samples in the pool": int(group["n_samples"].mean()),
                "test samples": round(leak["test_samples"], 1),
                "augmented copies in test": round(leak["test_augmented_copies"], 1),
                "SMOTE samples in test": round(leak["test_synthetic"], 1),
                "test samples whose clip is also in training (%)": round(
                    100 * leak["test_from_a_clip_in_training"] / leak["test_samples"], 1
                ),
            }
        )
    return pd.DataFrame(rows).set_index(["dataset", "variant"])


def subject_protocols(profile: dict) -> list[str]:
    """The profile's subject-wise cross-validation protocols (``kfold`` in quick, ``loso`` in
    paper), in the book's order."""
    return [p for p in profile["protocols"] if protocols.info(p)["split"] in ("kfold", "loso")]
