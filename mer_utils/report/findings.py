"""What this study found: the statements of the findings page, computed from the records.

Every number in a statement comes from the runs the page was given (and from the paper's
printed numbers, for the arithmetic that needs no data), so a build on licensed data writes its
own findings. Each statement returns its text and the evidence the page shows under it. The
page also writes a short summary and the headline figure for the introduction
(:func:`write_summary`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import chance, config, protocols, reconstruction, reference
from ..datasets import display_name
from . import evaluation, leakage, scale
from .style import close, markdown, png, score, short, source_label, table, with_interval


def _independent(res) -> str | None:
    """The subject-independent cross-validation of the build (``kfold`` or ``loso``): the one
    the paper's variants ran under on the most datasets (a protocol only the composite's flow
    baseline runs does not speak for the study)."""
    m = res.metrics[res.metrics["method"].isin(list(config.paper_methods()))]
    cv = [p for p in dict.fromkeys(m["protocol"]) if protocols.info(p)["interval"] == "subjects"]
    if not cv:
        return None
    return max(cv, key=lambda p: (m[m["protocol"] == p]["dataset"].nunique(), cv.index(p)))


def _names(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _count(n: int, of: int) -> str:
    return "none" if n == 0 else ("all" if n == of else str(n))


# ----------------------------------------------------------------------------- statements
def arithmetic() -> tuple[str, object]:
    """The statement that needs no data: what the printed accuracies allow."""
    long = reconstruction.table()
    counts = reconstruction.surviving(long)
    frac = config.load("reconstruction")["test_fraction"]
    clips_ok, clips_n = counts["clips"]
    rows = reconstruction.own_rows()
    ratios = []
    for r in rows.to_dict("records"):
        n, _ = reconstruction.smallest_test_size(r["accuracy"])
        ratios.append(n / np.ceil(frac * reconstruction.structure(r["dataset"]).clips))
    full = [h for h, (ok, n) in counts.items() if ok == n == clips_n]
    sq_only = [h for h, (ok, n) in counts.items() if ok == n < clips_n]
    sq = long[long["dataset"] == "casme_sq"]
    micro = sq[sq["hypothesis"].isin(["clips", "frames", "windows"])]
    micro_ok = int((micro["verdict"] == "consistent").sum())
    text = (
        f"**The paper's printed accuracies cannot come from its stated protocol.** "
        f"{_count(clips_ok, clips_n).capitalize()} of its {clips_n} reported accuracies can be "
        f"printed by a test part of {100 * frac:g} % of the clips: the smallest test sets that "
        f"print them are {min(ratios):.1f} to {max(ratios):.0f} times that size. On CAS(ME)², "
        f"{micro_ok} of the {len(micro)} tests of the micro clips (as clips, frames or windows) "
        "are consistent: its 38 three-class clips hold too few frames for any of its rows. "
        f"Hypotheses that explain all {clips_n} rows: "
        + ("; ".join(leakage._describe(h) for h in full) if full else "none")
        + (
            f"; and for the CAS(ME)² rows only, {'; '.join(leakage._describe(h).replace(leakage.ONLY_SQ, '') for h in sq_only)} (the "
            "paper's Table 2 cites the "
            "authors' earlier work on long videos: a hint, not proof)"
            if sq_only
            else ""
        )
        + ". This statement is arithmetic on the paper's numbers and the real datasets' "
        "structure; it holds without any stand-in."
    )
    evidence = table(
        pd.DataFrame(
            [
                {
                    "the test samples were": leakage._describe(h),
                    "rows it can explain": f"{ok} of {n}",
                }
                for h, (ok, n) in counts.items()
            ]
        ),
        caption="The paper's 16 own rows against each hypothesis (arithmetic; no data)",
    )
    return text, evidence


def steps(res) -> tuple[str, object]:
    """How the paper's variants score from the reconstructed protocol to the subject-independent
    one (accuracy, means over datasets and variants)."""
    paper = res.where(method=list(config.paper_methods()))
    got = evaluation.rows(paper, "accuracy")
    if got.empty:
        return "No runs of the paper's variants in this build.", markdown("")
    kinds = source_label(res.metrics["data_kind"])
    parts = []
    for p in [p for p in dict.fromkeys(got["protocol"])]:
        part = got[got["protocol"] == p]
        parts.append(
            f"`{p}` {score(part['mean'].min())}-{score(part['mean'].max())} (majority baseline "
            f"{score(part['baseline'].min())}-{score(part['baseline'].max())})"
        )
    reported = reconstruction.own_rows()["accuracy"] / 100
    text = (
        f"**How much of the reported accuracy survives.** The paper reports {score(reported.min())}"
        f"-{score(reported.max())} accuracy for its four variants on the real datasets. Measured "
        f"here on {kinds}, the same variants score: " + "; ".join(parts) + " (ranges over "
        "datasets and variants). Reported (real data) and measured numbers are shown in separate "
        "panels: they come from different data."
    )
    return text, leakage.survival_figure(res, "MER-DACWB3DCNNST")


def chance_cells(res) -> tuple[str, object]:
    """Which methods are above chance under the subject-independent protocol, per dataset."""
    cv = _independent(res)
    if cv is None:
        return "This build ran no subject-independent cross-validation.", markdown("")
    got = evaluation.rows(res.where(protocol=cv), "uf1")
    got["above"] = got["p_holm"] < chance.ALPHA
    paper = got[got["method"].isin(config.paper_methods())]
    others = got[~got["method"].isin(config.paper_methods())]
    lifted = paper[(paper["mean"] > paper["baseline"]) & ~paper["above"]]
    text = (
        f"**Subject-independently, {_count(int(paper['above'].sum()), len(paper))} of the "
        f"{len(paper)} runs of the paper's variants (four variants x {paper['dataset'].nunique()} "
        f"datasets) are above their permutation chance level** under `{cv}` (UF1, Holm over "
        f"{len(got)} tests). "
    )
    for m in dict.fromkeys(others["method"]):
        part = others[others["method"] == m]
        text += (
            f"{short(m)}: above chance on {_count(int(part['above'].sum()), len(part))} of "
            f"{len(part)} datasets. "
        )
    text += (
        f"{len(lifted)} runs of the paper's variants score a UF1 above the majority baseline's "
        "without being above chance: spreading the guesses over the classes (as class weights "
        "and SMOTE make a network do) lifts UF1 above that baseline's low floor without any "
        "recognition."
    )
    rows = []
    for m in [m for m in config.methods() if m in set(got["method"])]:
        row = {"method": short(m)}
        for ds in [d for d in config.datasets() if d in set(got["dataset"])]:
            hit = got[(got["dataset"] == ds) & (got["method"] == m)]
            row[display_name(ds)] = (
                "–"
                if hit.empty
                else score(hit["mean"].iloc[0]) + (" *" if hit["above"].iloc[0] else "")
            )
        rows.append(row)
    kinds = source_label(res.metrics["data_kind"])
    evidence = table(
        pd.DataFrame(rows),
        caption=f"UF1 under `{cv}`, measured on {kinds}",
        legend={"*": "above its permutation chance level (Holm over the table)"},
    )
    return text, evidence


def differences(res) -> tuple[str, object]:
    """How many paired differences between the paper's variants the data resolve, and between
    which methods."""
    cv = _independent(res)
    if cv is None:
        return "", markdown("")
    total = resolved = both = 0
    for ds in dict.fromkeys(res.metrics["dataset"]):
        part = res.where(dataset=ds, protocol=cv, method=list(config.paper_methods()))
        diffs = evaluation.differences(part, "uf1")
        if diffs.empty:
            continue
        ok = evaluation._above_chance(part, "uf1")
        total += len(diffs)
        hit = diffs[diffs["p_holm"] < chance.ALPHA]
        resolved += len(hit)
        both += sum(
            ok.get((r["protocol"], r["a"])) and ok.get((r["protocol"], r["b"]))
            for r in hit.to_dict("records")
        )
    text = (
        f"**Differences between the paper's variants.** Under `{cv}`, "
        f"{_count(resolved, total)} of the {total} paired comparisons between the four variants "
        f"(UF1, Holm per dataset) are resolved, and {_count(both, resolved) if resolved else 'none'} "
        "of those compare two variants that are both above chance. A ranking of the variants, "
        "as the paper's tables give one, is not supported by these data where this is none."
    )
    return text, markdown("")


def scale_check(res_all, book_profile: str) -> tuple[str, object]:
    """What the scale check shows (its runs are in ``res_all``, profile ``scale``...)."""
    check = scale.settings(book_profile)
    if not check:
        return (
            f"The `{book_profile}` profile runs no scale check: its networks already read the "
            "paper's input size.",
            markdown(""),
        )
    text = "**Is it the quick profile?** " + scale.statement(res_all, book_profile)
    return text, scale.comparison_table(res_all)


def benchmark(res) -> tuple[str, object]:
    """What this study's methods do on the MEGC 2019 composite, the field's benchmark, and
    what the published numbers beside them are (computed from the benchmark page's rows)."""
    from . import benchmark as page

    mine = res.where(dataset="megc2019")
    if mine.empty:
        return "This build ran nothing on the MEGC 2019 composite.", markdown("")
    got = page.measured(mine)
    whole = got[got["column"] == "composite"]
    above = whole[whole["p_holm"] < chance.ALPHA]
    kinds = source_label(mine.metrics["data_kind"])
    rows_published = [r for r in reference.megc_published() if r.get("composite")]
    published = [r["composite"][0] for r in rows_published]
    on_test = [page.short_name(r["method"]) for r in rows_published if "TEST" in r["selection"]]
    text = (
        f"**On the field's benchmark.** On the MEGC 2019 composite (SMIC-HS + CASME II + SAMM, "
        f"{int(mine.metrics['n_test'].max())} test clips of "
        f"{mine.confusions['subject'].nunique()} subjects here), measured on {kinds}, "
        f"{_count(len(above), len(whole))} of the {len(whole)} method and protocol runs are above "
        "their permutation chance level (UF1, Holm over the benchmark page's rows)"
        + (
            ": "
            + ", ".join(
                f"{short(m)} under `{p}`" for m, p in zip(above["method"], above["protocol"])
            )
            if len(above)
            else ""
        )
        + f". The {len(published)} published methods report composite UF1 "
        f"{score(min(published))}-{score(max(published))} on the real data"
        + (f"; {_names(on_test)} choose their epoch on the test subject itself" if on_test else "")
        + ". The benchmark page shows both, never in one table."
    )
    rows = [
        {
            "method": short(r["method"]),
            "protocol": r["protocol"],
            "UF1 (whole composite)": with_interval(r["uf1"]),
            "chance UF1": score(r["uf1"]["chance"]),
            "verdict": chance.verdict(r["p_holm"]),
        }
        for r in whole.to_dict("records")
    ]
    return text, table(
        pd.DataFrame(rows), caption=f"The MEGC 2019 composite, measured here on {kinds}"
    )


# ----------------------------------------------------------------------------- the intro
def write_summary(res, folder: str | Path) -> Path:
    """Write the introduction's summary box (``findings.md``) and headline figure
    (``headline.png``) into ``folder`` (the book's ``generated/``), computed like the page."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fig = leakage.survival_figure(res, "MER-DACWB3DCNNST")
    (folder / "headline.png").write_bytes(png(fig))
    close(fig)
    first, _ = arithmetic()
    cells, _ = chance_cells(res)
    kinds = source_label(res.metrics["data_kind"]) if not res.empty else "no data"
    text = "\n".join(
        [
            ":::{admonition} What this study found",
            ":class: important",
            f"- {first}",
            f"- Measured on {kinds}: {cells}",
            "",
            "The statements, their evidence and the scale check are on the page "
            "{doc}`summary/findings`.",
            ":::",
            "",
            "```{figure} generated/headline.png",
            ":alt: Left, the accuracy the paper reports for its best variant on each dataset (real "
            "data); right, the accuracy measured here under each protocol, with chance levels.",
            ":width: 100%",
            "",
            f"How much of the reported accuracy survives: the paper's best variant as reported "
            f"(real data, left) and as measured here ({kinds}, right), from the protocol the "
            "printed numbers allow to subject-independent evaluation.",
            "```",
            "",
        ]
    )
    path = folder / "findings.md"
    path.write_text(text)
    return path
