"""The box at the top of every page with numbers: which data produced them, with which profile."""

from __future__ import annotations

from IPython.display import Markdown

from .. import config
from ..datasets import display_name

KIND_TEXT = {
    "stand-in": "the **synthetic stand-in** the study generates in the dataset's layout",
    "licensed": "the **licensed dataset** (a licence holder's copy)",
}
STANDIN_WARNING = (
    "Numbers computed on stand-ins test the pipeline and teach what each protocol measures; "
    "they are **not** a reproduction of the paper's numbers."
)


def data_banner(dataset: str, dataset_dir: str, data_kind: str, profile: str) -> Markdown:
    """The box at the top of every per-dataset page: which data and which profile."""
    if data_kind not in KIND_TEXT:
        raise ValueError(f"data_kind must be one of {sorted(KIND_TEXT)}, got {data_kind!r}")
    lines = [
        ":::{important}",
        f"**Data:** {display_name(dataset)}, read from {KIND_TEXT[data_kind]} "
        f"(`{shown_path(dataset_dir)}`). **Profile:** `{profile}` ({profile_text(profile)}).",
    ]
    if data_kind == "stand-in":
        lines += ["", STANDIN_WARNING]
    lines.append(":::")
    return Markdown("\n".join(lines))


def sources_banner(data_kinds: dict[str, str], profile: str) -> Markdown:
    """The banner of the cross-dataset pages: the data source of every dataset."""
    parts = [f"{display_name(n)}: {k}" for n, k in data_kinds.items()]
    lines = [
        ":::{important}",
        f"**Data:** {'; '.join(parts)}. **Profile:** `{profile}` ({profile_text(profile)}).",
    ]
    if "stand-in" in data_kinds.values():
        lines += ["", STANDIN_WARNING]
    lines.append(":::")
    return Markdown("\n".join(lines))


def profile_text(profile: str) -> str:
    """One line describing a profile: frame size, frames, epochs, batch, runs per protocol."""
    p = config.profile(profile)
    runs = ", ".join(f"{k} x {v}" for k, v in p["repeats"].items() if k in p["protocols"])
    return (
        f"{p['size']}x{p['size']} px, {p['n_frames']} frames per clip, at most "
        f"{p['epochs']} epochs, batch {p['batch_size']}; runs per protocol: {runs or 'one each'}"
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
