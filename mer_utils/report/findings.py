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
from .style import (
    close,
    markdown,
    png,
    score,
    short,
    signed,
    source_label,
    table,
    verdict,
    with_interval,
)


def independent(res) -> str | None:
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
    opened = reconstruction.open_hypotheses(long)
    fragile = reconstruction.fragile(long)
    sq = long[long["dataset"] == "casme_sq"]
    micro = sq[sq["hypothesis"].isin(["clips", "frames", "windows"])]
    micro_ok = int((micro["verdict"] == "consistent").sum())
    sq_clips = reconstruction.structure("casme_sq").clips

    def explained(h: str) -> str:
        need = reconstruction.needs_range(h, long)
        return leakage._describe(h) + (
            f" (with {need[0]} to {need[1]} of them)" if need and h == "repeats" else ""
        )

    text = (
        f"**The paper's printed accuracies cannot come from one {100 * frac:g} % split of the "
        f"clips.** {_count(clips_ok, clips_n).capitalize()} of its {clips_n} reported accuracies "
        f"can be printed by a test part of {100 * frac:g} % of the clips: the smallest test sets "
        f"that print them are {min(ratios):.1f} to {max(ratios):.0f} times that size. On "
        f"CAS(ME)², {micro_ok} of the {len(micro)} tests of the micro clips (as clips, frames or "
        f"windows) are consistent: its {sq_clips} three-class clips hold too few frames for any "
        f"of its rows. Hypotheses that can print all {clips_n} rows: "
        + ("; ".join(explained(h) for h in full) if full else "none")
        + (
            f". For CAS(ME)², {'; '.join(leakage._describe(h).replace(leakage.ONLY_SQ, '') for h in opened)} "
            "cannot be excluded, since only a lower bound of their frames is known: they are "
            "counted as explaining nothing (the paper's Table 2 cites the authors' earlier work "
            "on long videos: a hint, not proof)"
            if opened
            else ""
        )
        + (
            f". {len(fragile)} of the exclusions rest on one exact count (a count nearby would "
            "print the number) and are marked fragile on the reconstruction page"
            if len(fragile)
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
                    "rows it can explain": "open (no upper bound)"
                    if h in opened
                    else f"{ok} of {n}",
                    "needs": "{}-{}".format(*reconstruction.needs_range(h, long))
                    if reconstruction.needs_range(h, long)
                    else "",
                }
                for h, (ok, n) in counts.items()
            ]
        ),
        caption=f"The paper's {clips_n} own rows against each hypothesis (arithmetic; no data)",
        legend={"needs": "the repeated splits r or augmentation factor f the rows need"},
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
        f"-{score(reported.max())} accuracy for its "
        f"{len(config.paper_methods())} variants on the real datasets. Measured "
        f"here on {kinds}, the same variants score: " + "; ".join(parts) + " (ranges over "
        "datasets and variants). Reported (real data) and measured numbers are shown in separate "
        "panels: they come from different data."
    ) + _like_with_like(got, independent(paper))
    return text, leakage.survival_figure(res, "MER-DACWB3DCNNST")


def _like_with_like(got, fair: str | None) -> str:
    """What the stand-ins can answer: one model, one data source, the first protocol of the
    build (the leakiest) against the subject-independent cross-validation ``fair``, per
    (dataset, variant)."""
    order = [p for p in dict.fromkeys(got["protocol"])]
    if fair is None or len(order) < 2 or protocols.info(order[0])["subject_independent"]:
        return ""
    leaky = order[0]
    table = got.pivot_table(index=["dataset", "method"], columns="protocol", values="mean")
    if leaky not in table or fair not in table:
        return ""
    diff = (table[leaky] - table[fair]).dropna()
    if diff.empty:
        return ""
    return (
        f" What the stand-ins can answer is the like-with-like question: the same model on the "
        f"same data scores {signed(diff.min())} to {signed(diff.max())} accuracy under `{leaky}` "
        f"against `{fair}` ({len(diff)} dataset-variant pairs; each pair's interval is on the "
        "results page). How much of the paper's printed accuracy would survive on the real "
        "data, they cannot say."
    )


def chance_cells(res) -> tuple[str, object]:
    """Which methods are above chance under the subject-independent protocol, per dataset."""
    cv = independent(res)
    if cv is None:
        return "This build ran no subject-independent cross-validation.", markdown("")
    got = evaluation.rows(res.where(protocol=cv), "uf1")
    got["above"] = got["p_adj"] < chance.ALPHA
    paper = got[got["method"].isin(config.paper_methods())]
    others = got[~got["method"].isin(config.paper_methods())]
    lifted = paper[(paper["mean"] > paper["baseline"]) & ~paper["above"]]
    text = (
        f"**Subject-independently, {_count(int(paper['above'].sum()), len(paper))} of the "
        f"{len(paper)} runs of the paper's variants ({paper['method'].nunique()} variants x "
        f"{paper['dataset'].nunique()} datasets) are above their permutation chance level** "
        f"under `{cv}` (UF1, each p adjusted over the protocols of its method and dataset). "
    )
    for m in dict.fromkeys(others["method"]):
        part = others[others["method"] == m]
        text += (
            f"{short(m)}: above chance on {_count(int(part['above'].sum()), len(part))} of "
            f"{len(part)} datasets. "
        )
    balanced = [
        m for m in lifted["method"] if config.method(m)["class_weight"] or config.method(m)["smote"]
    ]
    text += (
        f"{len(lifted)} runs of the paper's variants score a UF1 above the majority baseline's "
        "without being above chance"
        + (
            f"; {_count(len(balanced), len(lifted))} of them use class weights or SMOTE, which "
            "make a network spread its guesses over the classes, and that alone can lift UF1 "
            "above the baseline's low floor without recognising anything"
            if balanced
            else ""
        )
        + (
            f"; for the {len(lifted) - len(balanced)} that use neither, the test cannot tell a "
            "weak recognition from none"
            if len(balanced) < len(lifted)
            else ""
        )
        + "."
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
        legend={"*": "above its permutation chance level (as on every page)"},
    )
    return text, evidence


def differences(res) -> tuple[str, object]:
    """How many paired differences between the paper's variants the data resolve, and between
    which methods."""
    cv = independent(res)
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
        f"{_count(resolved, total)} of the {total} paired comparisons between the "
        f"{len(config.paper_methods())} variants (UF1, Holm per dataset) are resolved, and "
        f"{_count(both, resolved) if resolved else 'none'} of those compare two variants that "
        "are both above chance. "
        + (
            "These data therefore support no ranking of the variants such as the paper's "
            "tables give."
            if both == 0
            else "Only those comparisons can rank two variants; the others support no ranking."
        )
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
    return text, scale.comparison_table(res_all, collapsed="Every run of the scale check")


def benchmark(res) -> tuple[str, object]:
    """What this study's methods do on the MEGC 2019 composite, the field's benchmark, and
    what the published numbers beside them are (computed from the benchmark page's rows)."""
    from . import benchmark as page

    mine = res.where(dataset="megc2019")
    if mine.empty:
        return "This build ran nothing on the MEGC 2019 composite.", markdown("")
    got = page.measured(mine)
    whole = got[got["column"] == "composite"]
    above = whole[whole["p_adj"] < chance.ALPHA]
    kinds = source_label(mine.metrics["data_kind"])
    rows_published = [r for r in reference.megc_published() if r.get("composite")]
    published = [r["composite"][0] for r in rows_published]
    on_test = [page.short_name(r["method"]) for r in rows_published if "TEST" in r["selection"]]
    text = (
        f"**On the field's benchmark.** On the MEGC 2019 composite (SMIC-HS + CASME II + SAMM, "
        f"{int(mine.metrics['n_test'].max())} test clips of "
        f"{mine.confusions['subject'].nunique()} subjects here), measured on {kinds}, "
        f"{_count(len(above), len(whole))} of the {len(whole)} method and protocol runs are above "
        "their permutation chance level (UF1, as on the benchmark page)"
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
        + (
            f"; {_names(on_test)} keep, in their released code, the epoch that scored best on "
            "the test subject"
            if on_test
            else ""
        )
        + ". The benchmark page shows both, never in one table."
    )
    rows = [
        {
            "method": short(r["method"]),
            "protocol": r["protocol"],
            "UF1 (whole composite)": with_interval(r["uf1"]),
            "chance UF1": score(r["uf1"]["chance"]),
            "verdict": verdict(r["uf1"]),
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
            f"(real data, left) and as measured here ({kinds}, right), from window sampling "
            "(windows of one clip in training and test) to subject-independent evaluation.",
            "```",
            "",
        ]
    )
    path = folder / "findings.md"
    path.write_text(text)
    return path
