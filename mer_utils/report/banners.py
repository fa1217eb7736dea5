"""The box at the top of every page with numbers: which data produced them, with which profile."""

from __future__ import annotations

from IPython.display import Markdown

from .. import config
from ..datasets import display_name
from .escape import code, text
from .text import say

KINDS = ("stand-in", "licensed")
"""The data kinds a banner names (their words: ``banners.kind`` in sentences.yaml)."""
UNSUCCESSFUL = ("failed", "skipped", "interrupted")
"""Statuses of a page that finished without producing its page (mer_utils.build.study)."""


def data_banner(
    dataset: str, dataset_dir: str, data_kind: str, profile: str, protocols=None
) -> Markdown:
    """The box at the top of every per-dataset page: which data and which profile (with the
    page's ``protocols``, where a dataset runs others than its profile's)."""
    if data_kind not in KINDS:
        raise ValueError(f"data_kind must be one of {sorted(KINDS)}, got {data_kind!r}")
    lines = [
        ":::{important}",
        f":class: {kind_class(data_kind)}",
        say(
            "banners.data",
            dataset=display_name(dataset),
            source=say(f"banners.kind.{data_kind}"),
            folder=code(shown_path(dataset_dir)),
            profile=code(profile),
            settings=profile_text(profile, protocols, dataset),
        ),
    ]
    if data_kind == "stand-in":
        lines += ["", say("banners.standin_warning")]
    lines.append(":::")
    return Markdown("\n".join(lines))


def sources_banner(
    data_kinds: dict[str, str], profile: str, results_dir: str | None = None
) -> Markdown:
    """The banner of the cross-dataset pages: the data source of every dataset and, with
    ``results_dir``, the datasets whose pages did not all succeed in the latest run (read from
    its manifest): the page shows what succeeded and says what is missing."""
    parts = [f"{display_name(n)}: {k}" for n, k in data_kinds.items()]
    kind = "licensed" if "licensed" in data_kinds.values() else "stand-in"
    lines = [
        ":::{important}",
        f":class: {kind_class(kind)}",
        say(
            "banners.sources",
            sources="; ".join(parts),
            profile=code(profile),
            settings=profile_text(profile),
        ),
    ]
    missing = incomplete_datasets(results_dir) if results_dir else {}
    if missing:
        named = "; ".join(
            f"{display_name(d)} ({text(', '.join(pages[:3]))}{', ...' if len(pages) > 3 else ''})"
            for d, pages in missing.items()
        )
        lines += ["", say("banners.incomplete", pages=named)]
    if "stand-in" in data_kinds.values():
        lines += ["", say("banners.standin_warning")]
    lines.append(":::")
    return Markdown("\n".join(lines))


LICENSED_CLASS = "data-licensed"
"""The CSS class of the banner of a page that read licensed data (what the publishing guard,
:mod:`mer_utils.build.publish`, looks for in the built HTML)."""


def kind_class(data_kind: str) -> str:
    """The CSS class of a data banner: the publishing guard (:mod:`mer_utils.build.publish`) looks
    for the licensed one in the built HTML."""
    return LICENSED_CLASS if data_kind == "licensed" else "data-standin"


def incomplete_datasets(results_dir: str) -> dict[str, list[str]]:
    """Per dataset, the pages of the latest run (its manifest) that finished without success
    (``failed``, ``skipped``, ``interrupted``), each as ``<page> <status>``; empty when the manifest is missing.
    Pages still ``pending`` or ``running`` are not counted: a summary page that runs while they
    do (the scale check runs beside the dataset pages) would otherwise call a run incomplete
    that then completes."""
    import json

    from ..results import manifest_path

    try:
        manifest = json.loads(open(manifest_path(results_dir)).read())
    except (OSError, ValueError):
        return {}
    out: dict[str, list[str]] = {}
    for page in manifest.get("pages", []):
        group, _, name = page["key"].partition("/")
        if group != "summary" and page.get("status") in UNSUCCESSFUL:
            out.setdefault(group, []).append(f"{name} {page.get('status')}")
    return out


def profile_text(profile: str, protocols=None, dataset: str | None = None) -> str:
    """One line describing a profile: frame size, frames, epochs, batch, runs per protocol (of
    ``protocols``, default the profile's; as ``dataset`` runs them, where given)."""
    p = config.profile(profile, dataset)
    chosen = list(protocols or p["protocols"])
    runs = ", ".join(f"{k} x {p['repeats'].get(k, 1)}" for k in chosen)
    return say(
        "banners.profile",
        size=p["size"],
        frames=p["n_frames"],
        epochs=p["epochs"],
        batch=p["batch_size"],
        runs=runs or say("banners.one_each"),
    )


def shown_path(path: str) -> str:
    """A data folder as a page shows it: relative to the repository where it lies inside it,
    else its last two parts (never the build machine's absolute path)."""
    import os
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    p = Path(path)
    absolute = p if p.is_absolute() else (repo / p)
    try:
        return str(absolute.resolve().relative_to(repo))
    except ValueError:
        return os.path.join("...", *p.parts[-2:])
