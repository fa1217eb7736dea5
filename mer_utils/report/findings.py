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
from .text import say


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
        if not (need and h == "repeats"):
            return leakage._describe(h)
        more = say("findings.arithmetic.repeats", low=need[0], high=need[1])
        return f"{leakage._describe(h)} {more}"

    sentences = [
        say(
            "findings.arithmetic.head",
            percent=f"{100 * frac:g}",
            consistent=_count(clips_ok, clips_n).capitalize(),
            rows=clips_n,
            low=f"{min(ratios):.1f}",
            high=f"{max(ratios):.0f}",
            micro_ok=micro_ok,
            micro=len(micro),
            sq_clips=sq_clips,
            hypotheses="; ".join(explained(h) for h in full) if full else "none",
        )
    ]
    if opened:
        named = "; ".join(leakage._describe(h).replace(leakage.ONLY_SQ, "") for h in opened)
        sentences.append(say("findings.arithmetic.open", hypotheses=named))
    if len(fragile):
        sentences.append(say("findings.arithmetic.fragile", n=len(fragile)))
    sentences.append(say("findings.arithmetic.tail"))
    text = " ".join(sentences)
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
        caption=say("findings.arithmetic.caption", rows=clips_n),
        legend={"needs": say("findings.arithmetic.needs")},
    )
    return text, evidence


def steps(res) -> tuple[str, object]:
    """How the paper's variants score from the reconstructed protocol to the subject-independent
    one (accuracy, means over datasets and variants)."""
    paper = res.where(method=list(config.paper_methods()))
    got = evaluation.rows(paper, "accuracy")
    if got.empty:
        return say("common.no_paper_runs"), markdown("")
    kinds = source_label(res.metrics["data_kind"])
    parts = []
    for p in [p for p in dict.fromkeys(got["protocol"])]:
        part = got[got["protocol"] == p]
        parts.append(
            say(
                "findings.steps.range",
                protocol=p,
                low=score(part["mean"].min()),
                high=score(part["mean"].max()),
                baseline_low=score(part["baseline"].min()),
                baseline_high=score(part["baseline"].max()),
            )
        )
    reported = reconstruction.own_rows()["accuracy"] / 100
    text = say(
        "findings.steps.text",
        low=score(reported.min()),
        high=score(reported.max()),
        variants=len(config.paper_methods()),
        kinds=kinds,
        ranges="; ".join(parts),
    )
    like = _like_with_like(got, independent(paper))
    return text + (f" {like}" if like else ""), leakage.survival_figure(res, "MER-DACWB3DCNNST")


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
    return say(
        "findings.steps.like_with_like",
        low=signed(diff.min()),
        high=signed(diff.max()),
        leaky=leaky,
        fair=fair,
        pairs=len(diff),
    )


def chance_cells(res) -> tuple[str, object]:
    """Which methods are above chance under the subject-independent protocol, per dataset."""
    cv = independent(res)
    if cv is None:
        return say("findings.chance.no_cv"), markdown("")
    got = evaluation.rows(res.where(protocol=cv), "uf1")
    got["above"] = got["p_adj"] < chance.ALPHA
    paper = got[got["method"].isin(config.paper_methods())]
    others = got[~got["method"].isin(config.paper_methods())]
    lifted = paper[(paper["mean"] > paper["baseline"]) & ~paper["above"]]
    sentences = [
        say(
            "findings.chance.head",
            above=_count(int(paper["above"].sum()), len(paper)),
            runs=len(paper),
            variants=paper["method"].nunique(),
            datasets=paper["dataset"].nunique(),
            protocol=cv,
        )
    ]
    for m in dict.fromkeys(others["method"]):
        part = others[others["method"] == m]
        above = _count(int(part["above"].sum()), len(part))
        sentences.append(say("findings.chance.other", method=short(m), above=above, n=len(part)))
    balanced = [
        m for m in lifted["method"] if config.method(m)["class_weight"] or config.method(m)["smote"]
    ]
    clauses = [say("findings.chance.lifted", n=len(lifted))]
    if balanced:
        clauses.append(say("findings.chance.balanced", n=_count(len(balanced), len(lifted))))
    if len(balanced) < len(lifted):
        clauses.append(say("findings.chance.neither", n=len(lifted) - len(balanced)))
    text = " ".join(sentences) + " " + "; ".join(clauses) + "."
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
    text = say(
        "findings.differences.text",
        protocol=cv,
        resolved=_count(resolved, total),
        total=total,
        variants=len(config.paper_methods()),
        both=_count(both, resolved) if resolved else "none",
    )
    ranking = "no_ranking" if both == 0 else "some_ranking"
    return f"{text} {say('findings.differences.' + ranking)}", markdown("")


def scale_check(res_all, book_profile: str) -> tuple[str, object]:
    """What the scale check shows (its runs are in ``res_all``, profile ``scale``...)."""
    check = scale.settings(book_profile)
    if not check:
        return say("findings.scale.none", profile=book_profile), markdown("")
    text = say("findings.scale.text", statement=scale.statement(res_all, book_profile))
    return text, scale.comparison_table(res_all, collapsed="Every run of the scale check")


def benchmark(res) -> tuple[str, object]:
    """What this study's methods do on the MEGC 2019 composite, the field's benchmark, and
    what the published numbers beside them are (computed from the benchmark page's rows)."""
    from . import benchmark as page

    mine = res.where(dataset="megc2019")
    if mine.empty:
        return say("findings.benchmark.none"), markdown("")
    got = page.measured(mine)
    whole = got[got["column"] == "composite"]
    above = whole[whole["p_adj"] < chance.ALPHA]
    kinds = source_label(mine.metrics["data_kind"])
    rows_published = [r for r in reference.megc_published() if r.get("composite")]
    published = [r["composite"][0] for r in rows_published]
    on_test = [page.short_name(r["method"]) for r in rows_published if "TEST" in r["selection"]]
    measured = say(
        "findings.benchmark.measured",
        clips=int(mine.metrics["n_test"].max()),
        subjects=mine.confusions["subject"].nunique(),
        kinds=kinds,
        above=_count(len(above), len(whole)),
        n=len(whole),
    )
    if len(above):
        runs = zip(above["method"], above["protocol"])
        measured += ": " + ", ".join(f"{short(m)} under `{p}`" for m, p in runs)
    reported = say(
        "findings.benchmark.published",
        n=len(published),
        low=score(min(published)),
        high=score(max(published)),
    )
    if on_test:
        reported += "; " + say("findings.benchmark.on_test", methods=_names(on_test))
    text = f"{measured}. {reported}. {say('findings.benchmark.tail')}"
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
            f":::{{admonition}} {say('findings.summary.title')}",
            ":class: important",
            f"- {first}",
            f"- {say('findings.summary.measured', kinds=kinds, statement=cells)}",
            "",
            say("findings.summary.more"),
            ":::",
            "",
            "```{figure} generated/headline.png",
            f":alt: {say('findings.summary.alt')}",
            ":width: 100%",
            "",
            say("findings.summary.caption", kinds=kinds),
            "```",
            "",
        ]
    )
    path = folder / "findings.md"
    path.write_text(text)
    return path
