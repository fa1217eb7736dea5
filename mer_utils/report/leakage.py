"""The reconstruction page: what the paper's printed numbers allow, and how much of its reported
accuracy survives each step towards subject-independent evaluation.

The first half needs no measurement at all (the paper's numbers and arithmetic,
:mod:`mer_utils.reconstruction`); the second half is measured, on the data the page names.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import chance, config, intervals, protocols, reconstruction, reference
from ..datasets import display_name
from . import evaluation
from .style import (
    PROTOCOLS,
    SCORE_NAMES,
    WIDTH,
    close,
    colours,
    count,
    interval_errorbar,
    markdown,
    percent,
    score,
    short,
    signed,
    source_label,
    table,
    with_interval,
)
from .text import say

MARK = {"consistent": "✓", "excluded": "✗", "open": "○", "": "–"}
FRAGILE = "(✗)"


# ----------------------------------------------------------------------------- arithmetic
def test_size_table():
    """Per own row of the paper: its accuracy, the smallest test set that prints it, and the
    test part a 10 % split of the real dataset's three-class clips has."""
    rows = []
    frac = config.load("reconstruction")["test_fraction"]
    for r in reference.own_rows().to_dict("records"):
        n, k = reconstruction.smallest_test_size(r["accuracy"])
        clips = reconstruction.structure(r["dataset"]).clips
        test = int(np.ceil(frac * clips))
        rows.append(
            {
                "dataset": display_name(r["dataset"]),
                "method": short(r["variant"]),
                "accuracy (%)": f"{r['accuracy']:.2f}",
                "smallest n": f"{n} ({k}/{n})",
                "10 % of clips": str(test),
                "ratio": f"{n / test:.1f}",
            }
        )
    return table(
        pd.DataFrame(rows),
        caption=say("leakage.test_size.caption"),
        legend={
            "smallest n": say("leakage.test_size.smallest"),
            "10 % of clips": say("leakage.test_size.clips"),
            "ratio": "smallest n / test clips",
        },
    )


def hypotheses_legend():
    """The hypotheses of the verdict table and their codes."""
    codes = _codes()
    rows = [{"code": c, "the test samples were": _describe(h)} for h, c in codes.items()]
    return table(pd.DataFrame(rows))


def _codes(long: pd.DataFrame | None = None) -> dict[str, str]:
    long = reconstruction.table() if long is None else long
    names = list(dict.fromkeys(long["hypothesis"]))
    return {h: f"H{i + 1}" for i, h in enumerate(names)}


def _describe(hypothesis: str) -> str:
    """A hypothesis in words, without brackets of its own (a sentence may put it in some):
    ``Part B clips (300 macro + 57 micro)`` -> ``Part B clips, 300 macro + 57 micro, CAS(ME)²
    only``."""
    if hypothesis in reconstruction.HYPOTHESES:
        return reconstruction.HYPOTHESES[hypothesis]
    return re.sub(r"\s*\(([^()]*)\)", r", \1", hypothesis) + ONLY_SQ


ONLY_SQ = ", CAS(ME)² only"


def hypotheses_table(long: pd.DataFrame | None = None):
    """Every own row of the paper (rows) against every hypothesis (columns): consistent (✓),
    excluded (✗), or not applicable (–)."""
    long = reconstruction.table() if long is None else long
    wide = reconstruction.verdicts(long)
    fragile = set(
        zip(*[reconstruction.fragile(long)[c] for c in ("dataset", "variant", "hypothesis")])
    )
    codes = _codes(long)

    def cell(ds, m, h):
        return FRAGILE if (ds, m, h) in fragile else MARK[wide.loc[(ds, m), h]]

    out = pd.DataFrame(
        {
            "dataset": [display_name(d) for d, _ in wide.index],
            "method": [short(m) for _, m in wide.index],
            **{codes[h]: [cell(d, m, h) for d, m in wide.index] for h in wide.columns},
        }
    )
    return table(
        out,
        caption=say("leakage.hypotheses.caption"),
        legend={
            "✓": say("leakage.hypotheses.consistent"),
            "✗": "excluded",
            FRAGILE: say("leakage.hypotheses.fragile"),
            "○": say("leakage.hypotheses.open"),
            "–": "not applicable to this dataset",
        },
    )


def surviving_text(long: pd.DataFrame | None = None) -> str:
    """The verdicts in sentences, computed: which hypotheses explain every row, which none."""
    long = reconstruction.table() if long is None else long
    counts = reconstruction.surviving(long)
    codes = _codes(long)
    opened = reconstruction.open_hypotheses(long)
    fragile = reconstruction.fragile(long).groupby("hypothesis", sort=False).size()
    lines = []
    for h, (ok, n) in counts.items():
        if h in opened:
            line = say("leakage.surviving.open", code=codes[h], hypothesis=_describe(h), n=n)
            lines.append(f"- {line}")
            continue
        what = "all" if ok == n else ("none" if ok == 0 else f"{ok}")
        need = reconstruction.needs_range(h, long)
        letter = "r" if h == "repeats" else "f"
        line = say(
            "leakage.surviving.explains", code=codes[h], hypothesis=_describe(h), what=what, n=n
        )
        if need:
            line += ", " + say(
                "leakage.surviving.needing", letter=letter, low=need[0], high=need[1]
            )
        if h in fragile.index:
            line += "; " + say("leakage.surviving.fragile", mark=FRAGILE, n=fragile[h])
        lines.append(f"- {line}.")
    return "\n".join(lines)


def hypothesis_details(long: pd.DataFrame | None = None, dataset: str | None = None):
    """The long table behind the verdicts (test sizes and why), optionally for one dataset."""
    long = reconstruction.table() if long is None else long
    if dataset:
        long = long[long["dataset"] == dataset]
    codes = _codes(reconstruction.table())
    out = pd.DataFrame(
        {
            "method": long["variant"].map(short),
            "hyp.": long["hypothesis"].map(codes),
            "test samples": long["test samples"],
            "verdict": long["verdict"],
            "needs": long["needs"],
            "fragile": long["fragile"],
            "why": long["detail"],
        }
    )
    where = f" for {display_name(dataset)}" if dataset else ""
    return table(out, collapsed=f"The verdict of every row and hypothesis{where}, and why")


def write_details(path: str | Path) -> Path:
    """The long verdict table as CSV (the download beside the matrix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    reconstruction.table().to_csv(path, index=False)
    return path


def inconsistencies_table():
    """Where the paper's numbers and words disagree with each other (computed from the reported
    tables where they are numbers; quoted where they are words)."""
    rows = [{"what": r["what"], "the paper": r["paper"]} for r in reconstruction.inconsistencies()]
    rows.append({"what": say("leakage.epochs.what"), "the paper": say("leakage.epochs.paper")})
    return table(pd.DataFrame(rows), caption="The paper's own numbers and words (real data)")


def f1_accuracy_table():
    """Each own row's reported F1 beside its accuracy / 100, and their difference (signed)."""
    rows = reference.own_rows()
    out = pd.DataFrame(
        {
            "dataset": rows["dataset"].map(display_name),
            "method": rows["variant"].map(short),
            "accuracy / 100": (rows["accuracy"] / 100).map(lambda v: f"{v:.4f}"),
            "F1": rows["f1"].map(lambda v: f"{v:.4f}"),
            "F1 - accuracy": (rows["f1"] - rows["accuracy"] / 100).map(lambda v: signed(v, 4)),
        }
    )
    return table(out, caption="The paper's reported F1 and accuracy (real data)")


# ----------------------------------------------------------------------------- measured
def survival_table(res, score_: str = "uf1", collapsed: str | None = None):
    """For every dataset and paper variant: ``score_`` measured under each protocol of the run,
    from the reconstructed one to the subject-independent one, mean [95 % interval], with a mark
    where it is above its permutation chance level (its one verdict, as on every page)."""
    paper = res.where(method=list(config.paper_methods()))
    got = evaluation.rows(paper, score_)
    if got.empty:
        return markdown(say("common.no_paper_runs"))
    present = [p for p in PROTOCOLS if p in set(got["protocol"])]
    out = []
    for ds in [d for d in config.datasets() if d in set(got["dataset"])]:
        for m in [m for m in config.paper_methods() if m in set(got["method"])]:
            row = {"dataset": display_name(ds), "method": short(m)}
            for p in present:
                hit = got[(got["dataset"] == ds) & (got["method"] == m) & (got["protocol"] == p)]
                row[p] = (
                    "–"
                    if hit.empty
                    else with_interval(hit.iloc[0].to_dict())
                    + (" *" if hit["p_adj"].iloc[0] < chance.ALPHA else "")
                )
            out.append(row)
    kinds = source_label(res.metrics["data_kind"])
    return table(
        pd.DataFrame(out),
        caption=f"{SCORE_NAMES[score_]} measured here ({kinds}), by protocol",
        legend={
            "*": say("common.above_mark"),
            **{p: protocols.info(p)["title"] for p in present},
        },
        collapsed=collapsed,
    )


def baselines_table(res, score_: str = "accuracy"):
    """The majority baseline and the permutation chance level of ``score_`` under each
    protocol, per dataset (means over the paper's variants): what each step's score must beat."""
    paper = res.where(method=list(config.paper_methods()))
    got = evaluation.rows(paper, score_)
    if got.empty:
        return markdown("No runs.")
    rows = []
    for (ds, p), part in got.groupby(["dataset", "protocol"], sort=False):
        rows.append(
            {
                "dataset": display_name(ds),
                "protocol": p,
                "majority baseline": score(part["baseline"].mean()),
                "chance level": score(part["chance"].mean()),
            }
        )
    return table(
        pd.DataFrame(rows),
        legend={"cells": say("leakage.baselines", score=SCORE_NAMES[score_])},
    )


def survival_figure(res, method: str, score_: str = "accuracy") -> plt.Figure:
    """How much of the reported accuracy survives: left, the accuracy the paper reports for
    ``method`` per dataset (real data); right, this study's measurement under each protocol
    (mean, 95 % interval, with the chance level of each). Two panels: never one series."""
    palette = colours(config.datasets())
    own = reference.own_rows().set_index(["dataset", "variant"])
    # Separate y axes: the paper's numbers (real data) and the measured ones never share one.
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(WIDTH, 4.0), gridspec_kw={"width_ratios": [1, 2.2]}
    )
    datasets = [d for d in config.datasets() if (d, method) in own.index]
    for i, ds in enumerate(datasets):
        left.bar(i, own.loc[(ds, method), "accuracy"] / 100, color=palette[ds])
    left.set_xticks(
        range(len(datasets)),
        [display_name(d) for d in datasets],
        rotation=30,
        ha="right",
        fontsize=10,
    )
    left.set_title("reported by the paper\n(real data)", fontsize=10)
    left.set(ylim=(0, 1.02), ylabel=f"{SCORE_NAMES[score_]} reported")
    got = evaluation.rows(res.where(method=method), score_)
    present = [p for p in PROTOCOLS if not got.empty and p in set(got["protocol"])]
    x = np.arange(len(present))
    for i, ds in enumerate(datasets):
        part = (
            got[got["dataset"] == ds].set_index("protocol").reindex(present)
            if not got.empty
            else None
        )
        if part is None or part["mean"].isna().all():
            continue
        off = (i - 1.5) * 0.07
        interval_errorbar(
            right,
            x + off,
            part,
            marker="o",
            capsize=2,
            color=palette[ds],
            label=display_name(ds),
        )
        right.scatter(x + off, part["chance"], marker="_", s=40, color="black")
    kinds = source_label(res.metrics["data_kind"]) if not res.empty else "no runs"
    right.set_xticks(x, present, fontsize=10, rotation=15, ha="right")
    right.set_title(f"measured here ({kinds})", fontsize=10)
    right.set(ylim=(0, 1.02), ylabel=f"{SCORE_NAMES[score_]} measured here")
    chance_mark = plt.Line2D(
        [], [], marker="_", ls="", color="black", markersize=10, label="permutation chance level"
    )
    handles, _ = right.get_legend_handles_labels()
    # Below the panels, never over the data.
    fig.legend(
        handles=[*handles, chance_mark],
        fontsize=10,
        loc="lower center",
        ncol=min(5, len(handles) + 1),
        frameon=False,
    )
    fig.suptitle(f"{method}", fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return close(fig)


def leak_table(res, collapsed: str | None = None):
    """Under the protocols that split samples rather than clips (windows, resampled copies):
    how many test samples there were, from how many distinct clips, and how many came from a
    clip that also had a sample in the training part (means over runs; SMOTE samples are
    counted by the two clips they were made from)."""
    m = res.metrics[res.metrics["leak_test_from_clip_in_training"].notna()]
    if m.empty:
        return markdown(say("leakage.no_leak"))
    rows = []
    for (ds, method, p), g in m.groupby(["dataset", "method", "protocol"], sort=False):
        share = (g["leak_test_from_clip_in_training"] / g["n_test"]).mean()
        rows.append(
            {
                "dataset": display_name(ds),
                "method": short(method),
                "protocol": p,
                "test samples (mean)": count(g["n_test"].mean()),
                "distinct clips (mean)": count(g["n_test_clips"].mean()),
                "clip also in training": percent(share),
                "copies / SMOTE in test": f"{count(g['leak_test_augmented'].mean())} / "
                f"{count(g['leak_test_synthetic'].mean())}",
            }
        )
    return table(
        pd.DataFrame(rows),
        caption=f"Test samples and their clips, measured here ({source_label(m['data_kind'])})",
        legend={
            "(mean)": say("leakage.leak.mean", n=len(m)),
            "clip also in training": say("leakage.leak.clip"),
            "copies / SMOTE in test": say("leakage.leak.copies"),
        },
        collapsed=collapsed,
    )


def windows_per_clip(profile: str) -> int | None:
    """How many windows per clip the profile's window sampling cuts (None: no windows)."""
    w = config.profile(profile).get("windows")
    return int(w["per_clip"]) if w else None


def windows_arithmetic(profile: str):
    """Per own row of the paper: the test part that the profile's window sampling gives on the
    REAL dataset (per_clip windows of every clip, 10 % of them), whether it can print the row,
    and the fewest windows per clip whose test part can (arithmetic; nothing measured)."""
    per_clip = windows_per_clip(profile)
    if per_clip is None:
        return markdown(say("leakage.no_windows", profile=profile))
    rows = []
    for r in reference.own_rows().to_dict("records"):
        clips = reconstruction.structure(r["dataset"]).clips
        sizes = reconstruction._test_sizes(per_clip * clips)
        need = reconstruction.windows_needed(r["dataset"], r["accuracy"])
        rows.append(
            {
                "dataset": display_name(r["dataset"]),
                "method": short(r["variant"]),
                "accuracy (%)": f"{r['accuracy']:.2f}",
                f"test windows at {per_clip} per clip": " or ".join(map(str, sizes)),
                "prints it": "yes"
                if any(reconstruction.prints(n, r["accuracy"]) is not None for n in sizes)
                else "no",
                "windows per clip needed": "–" if need is None else str(need),
                "test windows then": "–"
                if need is None
                else " or ".join(map(str, reconstruction._test_sizes(need * clips))),
            }
        )
    return table(
        pd.DataFrame(rows),
        caption=say("leakage.windows_caption"),
        legend={"windows per clip needed": say("leakage.windows_needed")},
    )


def windows_rows_printed(profile: str) -> tuple[int, int]:
    """How many of the paper's own rows the profile's window sampling can print, of how many."""
    per_clip = windows_per_clip(profile)
    rows = reference.own_rows().to_dict("records")
    if per_clip is None:
        return 0, len(rows)
    hit = sum(
        any(
            reconstruction.prints(n, r["accuracy"]) is not None
            for n in reconstruction._test_sizes(
                per_clip * reconstruction.structure(r["dataset"]).clips
            )
        )
        for r in rows
    )
    return hit, len(rows)


def windows_note(profile: str) -> str:
    """The window sampling of ``profile`` in one computed sentence: windows per clip, and how
    many of the paper's rows its test sizes can print (what it may be called)."""
    per_clip = windows_per_clip(profile)
    if per_clip is None:
        return say("leakage.no_windows", profile=profile)
    hit, n = windows_rows_printed(profile)
    name = say("leakage.windows_name", n=per_clip)
    if hit == 0:
        return say("leakage.windows_none", name=name, rows=n)
    return say("leakage.windows_some", name=name, printed=hit, rows=n)


def windows_summary(res) -> str:
    """A sentence on the window protocol, computed: how many test samples and distinct clips
    a run tests, and how much of it was seen in training."""
    m = res.metrics[(res.metrics["protocol"] == "paper-windows")]
    if m.empty:
        return say("leakage.no_window_runs")
    share = float((m["leak_test_from_clip_in_training"] / m["n_test"]).mean())
    return say(
        "leakage.windows_summary",
        low=m["n_test"].min(),
        high=m["n_test"].max(),
        clips_low=m["n_test_clips"].min(),
        clips_high=m["n_test_clips"].max(),
        percent=f"{100 * share:.0f}",
    )


def mean_interval(res, method: str, protocol: str, score_: str) -> str:
    group = res.where(method=method, protocol=protocol)
    if group.empty:
        return "–"
    return with_interval(intervals.score_interval(group, score_))
