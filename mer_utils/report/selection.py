"""The epoch choice and the cost of the methods: two scorings of one training, and UF1 for its cost.

A method that keeps every epoch's test predictions (:mod:`mer_utils.flownets`) writes two rows per
run (:data:`mer_utils.schema.SELECTIONS`): ``honest`` (the epoch with the lowest validation loss)
and ``best-test-epoch`` (per fold, the epoch that scored best on the test part, as the released
code of some published methods does). Both score the same predictions of the same folds, so
their difference, the *inflation*, is paired: :func:`inflation` gives it with its interval
(:func:`mer_utils.intervals.paired_interval`). Measured numbers only: the published numbers are
never in these tables.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .. import chance, intervals, reference
from ..datasets import DatasetError, display_name
from .style import WIDTH, markdown, score, short, source_label, table, tested, with_interval
from .text import say

AS_PUBLISHED = "best-test-epoch"
"""The selection that picks each fold's epoch on its test part."""


def inflation(res, columns: dict | None = None) -> pd.DataFrame:
    """One row per (column, method, protocol) holding both scorings of the same trainings:
    UF1 of each with interval and chance level, and the paired difference as published - honest
    (``inflation``: difference, low, high, p). ``res`` must hold both selections
    (``results.load(..., selection=None)``); ``columns`` maps a column name to a view of ``res``
    (default: one column per dataset)."""
    if res.empty:
        return pd.DataFrame()
    if columns is None:
        columns = {d: res.where(dataset=d) for d in dict.fromkeys(res.metrics["dataset"])}
    rows = []
    for column, view in columns.items():
        for (method, protocol), group in view.groups(["method", "protocol"]):
            honest = group.where(selection="honest")
            test = group.where(selection=AS_PUBLISHED)
            if honest.empty or test.empty or honest.metrics["n_test"].sum() == 0:
                continue
            rows.append(
                {
                    "column": column,
                    "method": method,
                    "protocol": protocol,
                    "honest": intervals.score_interval(honest, "uf1"),
                    "published": intervals.score_interval(test, "uf1"),
                    "inflation": intervals.paired_interval(
                        intervals.runs(test), intervals.runs(honest), "uf1"
                    ),
                    "kind": ", ".join(sorted(set(group.metrics["data_kind"]))),
                }
            )
    return pd.DataFrame(rows)


def inflation_table(
    rows: pd.DataFrame,
    column: str | None = None,
    name: str = "",
    collapsed: str | None = None,
    protocol: str | None = None,
):
    """Honest and as-published UF1 of the same trainings, their chance levels, and the inflation
    with its paired interval (measured here only); ``collapsed``: folded behind that summary;
    ``protocol``: that protocol's rows only (named in the caption, not in a column)."""
    mine = rows if column is None or rows.empty else rows[rows["column"] == column]
    if protocol is not None and not mine.empty:
        mine = mine[mine["protocol"] == protocol]
        name = f"{name}, under {protocol}" if name else f"under {protocol}"
    if mine.empty:
        return markdown(say("selection.nothing_twice"))
    out = pd.DataFrame(
        {
            **({"dataset": mine["column"].map(_shown)} if column is None else {}),
            "method": mine["method"].map(short) if column is None else mine["method"],
            **({"protocol": mine["protocol"]} if protocol is None else {}),
            "UF1, honest epoch": [with_interval(r) for r in mine["honest"]],
            "chance UF1 (honest)": [score(r["chance"]) for r in mine["honest"]],
            "UF1, epoch best on the test part": [with_interval(r) for r in mine["published"]],
            "chance UF1 (test epoch)": [score(r["chance"]) for r in mine["published"]],
            "inflation": [_difference(r) for r in mine["inflation"]],
            "test clips": [tested(r) for r in mine["honest"]],
        }
    )
    return table(
        out,
        caption=f"Measured here, on {source_label(mine['kind'])}: one training scored twice"
        + (f" ({name})" if name else ""),
        legend={
            "honest epoch": say("selection.legend.honest"),
            "epoch best on the test part": say("selection.legend.test_epoch"),
            "inflation": say("selection.legend.inflation"),
            "chance UF1": say("selection.legend.chance"),
        },
        collapsed=collapsed,
    )


def _difference(r: dict) -> str:
    return f"{r['difference']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]"


def practice_table(rows: pd.DataFrame):
    """Each way the published methods chose their epoch, the methods that use it, and what this
    study measured for that practice (a table of its own: no published number in it)."""
    published = reference.megc_published()
    practices: dict[str, list[str]] = {}
    for r in published:
        practices.setdefault(r["selection"], []).append(r["method"].split(" (")[0])
    measured = rows[rows["column"] == "composite"] if not rows.empty else rows
    if not measured.empty:
        measured = measured.copy()
        measured["mean"] = [r["difference"] for r in measured["inflation"]]
    lines = []
    for practice, names in practices.items():
        if "TEST" in practice and not measured.empty:
            here = "; ".join(
                f"{m} under `{p}`: {_difference(d)}"
                for m, p, d in zip(measured["method"], measured["protocol"], measured["inflation"])
            )
        elif "TEST" in practice:
            here = say("selection.practice.not_measured")
        elif "not stated" in practice:
            here = say("selection.practice.not_stated")
        else:
            here = say("selection.practice.not_this")
        lines.append(
            {
                "epoch chosen by": practice,
                "published methods": ", ".join(names),
                "UF1 inflation measured here": here,
            }
        )
    return table(
        pd.DataFrame(lines),
        caption=say("selection.practice.caption"),
        legend={"UF1 inflation measured here": say("selection.legend.measured")},
    )


def sentence(rows: pd.DataFrame) -> str:
    """What the records show about the epoch chosen on the test part, in one sentence."""
    if rows.empty:
        return say("selection.no_scoring")
    resolved = [r for r in rows.to_dict("records") if r["inflation"]["low"] > 0]
    gains = [r["inflation"]["difference"] for r in rows.to_dict("records")]
    kinds = source_label(rows["kind"])
    above = [
        r for r in rows.to_dict("records") if r["published"]["p"] < chance.ALPHA <= r["honest"]["p"]
    ]
    clauses = [
        say(
            "selection.sentence",
            methods=", ".join(dict.fromkeys(rows["method"])),
            low=f"{min(gains):+.3f}",
            high=f"{max(gains):+.3f}",
            n=len(rows),
            kinds=kinds,
            resolved=len(resolved),
        )
    ]
    if above:
        clauses.append(say("selection.clears", n=len(above), alpha=chance.ALPHA))
    return ", ".join(clauses) + "."


# ----------------------------------------------------------------------------- cost
def cost_rows(res) -> pd.DataFrame:
    """Per (dataset, method), under the subject-independent protocol every method of the
    dataset ran (``kfold``, else ``loso``): UF1 with its interval and the mean training CPU
    seconds per fold (``folds.csv``: fit, including resampling and prediction; all threads)."""
    rows = []
    for dataset in dict.fromkeys(res.metrics["dataset"]):
        mine = res.where(dataset=dataset)
        present = set(mine.metrics["protocol"])
        protocol = next((p for p in ("kfold", "loso", "subject") if p in present), None)
        if protocol is None:
            continue
        for method in dict.fromkeys(mine.metrics["method"]):
            group = mine.where(method=method, protocol=protocol)
            if group.empty:
                continue
            rows.append(
                {
                    "dataset": _shown(dataset),
                    "method": method,
                    "protocol": protocol,
                    "uf1": intervals.score_interval(group, "uf1"),
                    "seconds": float(pd.to_numeric(group.folds["cpu_seconds"]).mean()),
                    "kind": ", ".join(sorted(set(group.metrics["data_kind"]))),
                }
            )
    return pd.DataFrame(rows)


def _shown(dataset: str) -> str:
    """A dataset's display name (its key where it has none, as in tests' toy data)."""
    try:
        return display_name(dataset)
    except DatasetError:
        return dataset


def cost_figure(res) -> plt.Figure | None:
    """UF1 (with interval) against training CPU seconds per fold, one panel per dataset, one point
    per method (log time axis)."""
    rows = cost_rows(res)
    if rows.empty:
        return None
    datasets = list(dict.fromkeys(rows["dataset"]))
    methods = list(dict.fromkeys(rows["method"]))
    colours = plt.get_cmap("tab10")
    # At most three panels a row, so that the figure keeps its size in the book's column.
    ncols = min(3, len(datasets))
    nrows = -(-len(datasets) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(WIDTH, 2.9 * nrows + 0.9), sharey=True, squeeze=False
    )
    for ax in axes.flat[len(datasets) :]:
        ax.set_visible(False)
    for ax, dataset in zip(axes.flat, datasets):
        mine = rows[rows["dataset"] == dataset]
        for r in mine.to_dict("records"):
            u = r["uf1"]
            c = colours(methods.index(r["method"]) % 10)
            ax.errorbar(
                r["seconds"],
                u["mean"],
                yerr=[[u["mean"] - u["low"]], [u["high"] - u["mean"]]],
                fmt="o",
                color=c,
                label=r["method"],
                capsize=2,
            )
        ax.set_xscale("log")
        ax.set_title(f"{dataset} ({', '.join(sorted(set(mine['protocol'])))})", fontsize=10)
        ax.set_xlabel("CPU s per fold")
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("UF1 [95 % interval]")
    handles, labels = axes[0][0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    for ax in axes.flat[1:]:
        h, lab = ax.get_legend_handles_labels()
        seen.update(zip(lab, h))
    fig.legend(
        seen.values(),
        seen.keys(),
        loc="lower center",
        ncol=min(3, len(seen)),
        fontsize=10,
        bbox_to_anchor=(0.5, 0.0),
        frameon=False,
    )
    fig.suptitle(
        f"Measured here, on {source_label(rows['kind'])}: UF1 for its training time", fontsize=10
    )
    fig.tight_layout(rect=(0, 0.06 + 0.035 * (-(-len(seen) // 3)), 1, 1))
    return fig


def cost_table(res):
    """The numbers of :func:`cost_figure`."""
    rows = cost_rows(res)
    if rows.empty:
        return markdown(say("selection.no_cv"))
    out = pd.DataFrame(
        {
            "dataset": rows["dataset"],
            "method": rows["method"],
            "protocol": rows["protocol"],
            "UF1": [with_interval(r) for r in rows["uf1"]],
            "CPU seconds per fold": rows["seconds"].map(lambda s: f"{s:.1f}"),
        }
    )
    return table(
        out,
        caption=f"Measured here, on {source_label(rows['kind'])}: UF1 and training time",
        legend={"CPU seconds per fold": say("selection.legend.seconds")},
    )
