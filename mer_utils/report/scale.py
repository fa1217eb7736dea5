"""The scale check: some methods at the paper's input and training on one dataset, beside the
same methods at the book's own profile. It answers "is it the quick profile?" and, with the
flow baseline at both resolutions, whether a comparison of the CNN and the flow baseline is a
comparison of resolutions."""

from __future__ import annotations

import pandas as pd

from .. import chance, config, intervals
from ..datasets import display_name
from .style import (
    markdown,
    pvalue,
    score,
    short,
    signed,
    table,
    tested,
    verdict,
    with_interval,
)
from .text import say


def settings(profile: str) -> dict | None:
    """The scale check of ``profile`` (``scale_check`` in profiles.yaml), or None."""
    return config.profile(profile).get("scale_check")


def rows(res) -> pd.DataFrame:
    """One row per (profile, method, protocol): UF1 with interval, chance, the run's adjusted p
    and verdict (:mod:`mer_utils.verdicts`), what the method reads and the test samples."""
    out = []
    for (prof, method, protocol), group in res.groups(["profile", "method", "protocol"]):
        got = intervals.score_interval(group, "uf1")
        out.append(
            {
                "profile": prof,
                "method": method,
                "protocol": protocol,
                "reads": group.metrics["inputs"].iloc[0],
                **got,
            }
        )
    return pd.DataFrame(out)


def comparison_table(res, collapsed: str | None = None):
    """The scale check's runs beside the same methods' runs at the book's profile
    (``collapsed``: folded behind that summary)."""
    got = rows(res)
    if got.empty:
        return markdown(say("scale.no_runs"))
    out = pd.DataFrame(
        {
            "method": got["method"].map(short),
            "protocol": got["protocol"],
            "reads": got["reads"],
            "UF1": [with_interval(r) for r in got.to_dict("records")],
            "chance UF1": got["chance"].map(score),
            "p (adj.)": got["p_adj"].map(pvalue),
            "verdict": [verdict(r) for r in got.to_dict("records")],
            "test samples": [tested(r) for r in got.to_dict("records")],
        }
    )
    return table(
        out,
        legend={
            "reads": say("scale.reads"),
            "p (adj.)": say("common.adjusted"),
        },
        collapsed=collapsed,
    )


def statement(res, book_profile: str) -> str:
    """What the scale check shows, in sentences computed from its rows."""
    got = rows(res)
    check = settings(book_profile)
    if got.empty or not check:
        return say("scale.not_run")
    ds = display_name(check["dataset"])
    scale = check["profile"]
    lines = []
    for protocol in dict.fromkeys(got["protocol"]):
        for method in dict.fromkeys(got["method"]):
            a = got[
                (got["profile"] == book_profile)
                & (got["method"] == method)
                & (got["protocol"] == protocol)
            ]
            b = got[
                (got["profile"] == scale)
                & (got["method"] == method)
                & (got["protocol"] == protocol)
            ]
            if a.empty or b.empty:
                continue
            a, b = a.iloc[0], b.iloc[0]
            verdict_a, verdict_b = verdict(a.to_dict()), verdict(b.to_dict())
            line = say(
                "scale.line",
                method=short(method),
                protocol=protocol,
                book=score(a["mean"]),
                book_reads=a["reads"],
                book_verdict=verdict_a,
                scale=score(b["mean"]),
                scale_reads=b["reads"],
                scale_verdict=verdict_b,
            )
            lines.append(f"- {line}")
    if not lines:
        return say("scale.nothing_beside", dataset=ds, profile=book_profile)
    head = say("scale.head", dataset=ds, profile=book_profile, scale=scale)
    return head + "\n\n" + "\n".join(lines)


def paired(res, book_profile: str) -> pd.DataFrame:
    """The scale check's runs against the book profile's, paired on the same splits: per method
    and protocol, UF1 at the paper's scale minus UF1 at the book's profile, with its 95 %
    interval and p-value (Holm over the rows), over the repeats whose split seed both profiles
    share (the split seed depends on the run's seed and repeat, never on the profile)."""
    check = settings(book_profile)
    if res.empty or not check:
        return pd.DataFrame()
    scale = check["profile"]
    out = []
    for (method, protocol), group in res.groups(["method", "protocol"]):
        a, b = group.where(profile=scale), group.where(profile=book_profile)
        if a.empty or b.empty:
            continue
        shared = set(a.metrics["split_seed"]) & set(b.metrics["split_seed"])
        a = a.select(a.metrics["split_seed"].isin(shared))
        b = b.select(b.metrics["split_seed"].isin(shared))
        if a.empty:
            continue
        d = intervals.paired_interval(intervals.runs(a), intervals.runs(b), "uf1")
        out.append(
            {
                "method": method,
                "protocol": protocol,
                "splits": len(shared),
                "n_test": int(a.metrics["n_test"].iloc[0]),
                **d,
            }
        )
    df = pd.DataFrame(out)
    if not df.empty:
        df["p_holm"] = chance.holm(df["p"].fillna(1.0).to_numpy())
    return df


def paired_table(res, book_profile: str):
    """:func:`paired` as a table."""
    got = paired(res, book_profile)
    if got.empty:
        return markdown(say("scale.no_pairs"))
    check = settings(book_profile)
    out = pd.DataFrame(
        {
            "method": got["method"].map(short),
            "protocol": got["protocol"],
            f"UF1 {check['profile']} - {book_profile}": [
                f"{signed(r['difference'])} [{signed(r['low'])}, {signed(r['high'])}]"
                for r in got.to_dict("records")
            ],
            "p (Holm)": got["p_holm"].map(pvalue),
            "shared splits": got["splits"],
            "test samples per split": got["n_test"],
        }
    )
    return table(
        out,
        legend={
            f"UF1 {check['profile']} - {book_profile}": say("scale.difference"),
            "p (Holm)": say("scale.holm", n=len(out)),
        },
    )
