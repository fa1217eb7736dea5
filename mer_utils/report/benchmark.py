"""The MEGC 2019 composite's benchmark page: this study's methods under the benchmark's protocol,
and, per column (the whole composite, SMIC-HS, CASME II, SAMM), the published results.

Numbers reported by the papers (on the real datasets) and numbers measured here never share a
table: each column gets two tables, one of each, under headings that name their source.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from .. import chance, config, intervals, reference
from .style import (
    markdown,
    ordered,
    pvalue,
    score,
    source_label,
    table,
    tested,
    verdict,
    with_interval,
)
from .text import say

COLUMNS = ("composite", "smic", "casme2", "samm")
"""The benchmark's columns: the whole composite, then its parts in the organisers' order."""


def column_name(column: str) -> str:
    return (
        "the whole composite" if column == "composite" else config.dataset_info(column)["display"]
    )


def measured(res) -> pd.DataFrame:
    """One row per (column, method, protocol): UF1 and UAR pooled over all folds with their
    intervals (bootstrap over the column's test subjects, and the seeds), the permutation
    chance level of UF1, and its adjusted p-value (:mod:`mer_utils.verdicts`; a part of the
    composite is tested as a dataset of its own)."""
    if res.empty:
        return pd.DataFrame()
    rows = []
    for column in COLUMNS:
        view = res if column == "composite" else res.part(column)
        for (method, protocol), group in view.groups(["method", "protocol"]):
            if group.metrics["n_test"].sum() == 0:
                continue
            uf1 = intervals.score_interval(group, "uf1")
            uar = intervals.score_interval(group, "uar")
            rows.append(
                {
                    "column": column,
                    "method": method,
                    "protocol": protocol,
                    "uf1": uf1,
                    "uar": uar,
                    "p": uf1["p"],
                    "p_adj": uf1["p_adj"],
                    "kind": ", ".join(sorted(set(group.metrics["data_kind"]))),
                }
            )
    out = pd.DataFrame(rows)
    return ordered(out, columns=("method", "protocol")).reset_index(drop=True)


def measured_table(got: pd.DataFrame, column: str):
    """This study's methods in one column of the benchmark."""
    mine = got[got["column"] == column] if not got.empty else got
    if mine.empty:
        return markdown(say("benchmark.no_column_runs"))
    out = pd.DataFrame(
        {
            "method": mine["method"],
            "protocol": mine["protocol"],
            "UF1": [with_interval(r) for r in mine["uf1"]],
            "chance UF1": [score(r["chance"]) for r in mine["uf1"]],
            "UAR": [with_interval(r) for r in mine["uar"]],
            "test clips": [tested(r) for r in mine["uf1"]],
            "p (adj.)": mine["p_adj"].map(pvalue),
            "verdict": [verdict(r) for r in mine["uf1"]],
        }
    )
    return table(
        out,
        caption=f"Measured here, on {source_label(mine['kind'])}: {column_name(column)}",
        legend={
            "UF1, UAR": say("benchmark.legend.measured"),
            "chance UF1": say("benchmark.legend.chance"),
            "p (adj.)": say("common.adjusted"),
        },
    )


def published_table(column: str):
    """The published results in one column, as reported by the papers on the real datasets."""
    rows = []
    for r in reference.megc_published():
        pair = r.get(column)
        if not pair:
            continue
        rows.append(
            {
                "method": short_name(r["method"]),
                "year": str(r["year"]),
                "UF1": score(pair[0], 4),
                "UAR": score(pair[1], 4),
                "epoch chosen by": r["selection"],
                "read in": (r.get("value_source") or {}).get(column) or "own paper or code",
            }
        )
    return table(
        pd.DataFrame(rows),
        caption=f"Reported by the papers, on the real datasets: {column_name(column)}",
        legend={
            "epoch chosen by": say("benchmark.legend.epoch"),
            "read in": say("benchmark.legend.read_in"),
        },
    )


def short_name(method: str) -> str:
    """A published method's name without its gloss: ``RCN (recurrent ...)`` -> ``RCN``; the
    challenge's baseline keeps the word."""
    name = method.split(" (")[0]
    return f"{name} (baseline)" if "baseline" in method else name


def published_notes() -> Markdown:
    """What the published table's numbers are, in sentences computed from its rows."""
    rows = reference.megc_published()
    on_test = [short_name(r["method"]) for r in rows if "TEST" in r["selection"]]
    secondary = [short_name(r["method"]) for r in rows if not r["verified"]]
    standard = [r for r in rows if r.get("standard_uar")]
    lines = [
        f"- {say('benchmark.notes.count', n=len(rows))} "
        + (say("benchmark.notes.on_test", methods=" and ".join(on_test)) if on_test else ""),
        "- " + say("benchmark.notes.secondary", methods=", ".join(secondary)) if secondary else "",
    ]
    for r in standard:
        uar = {k: score(v, 4) for k, v in r["standard_uar"].items()}
        lines.append("- " + say("benchmark.notes.standard_uar", method=r["method"], **uar))
    return Markdown("\n".join(line for line in lines if line))


def summary(got: pd.DataFrame) -> Markdown:
    """Which of this study's methods recognise anything on the whole composite, computed from
    the page's rows."""
    if got.empty:
        return markdown(say("benchmark.no_runs"))
    whole = got[got["column"] == "composite"]
    above = whole[whole["p_adj"] < chance.ALPHA]
    kinds = source_label(got["kind"])
    if above.empty:
        first = say("benchmark.none_above", kinds=kinds)
    else:
        named = ", ".join(
            f"{r['method']} under `{r['protocol']}` (UF1 {with_interval(r['uf1'])})"
            for r in above.to_dict("records")
        )
        first = say("benchmark.above", kinds=kinds, runs=named)
    return markdown(first)


def comparability(data_kind: str) -> Markdown:
    """The box that says whether this page's measured numbers may be read beside the published
    ones: on stand-ins they may not; on licensed data they are the same protocol on the same
    clips, with the differences the page lists."""
    if data_kind == "stand-in":
        return Markdown(f":::{{warning}}\n{say('benchmark.standin_warning')}\n:::")
    return Markdown(f":::{{note}}\n{say('benchmark.licensed_note')}\n:::")
