"""A dataset's overview page: what the loader read, kept, dropped and corrected."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import config, faces
from . import privacy
from .escape import mpl
from .style import PALETTE, WIDTH, close, count, markdown, rgb
from .style import table as html_table
from .text import say


def load_report(frame: pd.DataFrame, dataset_dir: str | None = None):
    """What ``datasets.load`` read, kept, dropped, skipped and adjusted, as one table (files
    named relative to the dataset's folder, never by the build machine's absolute path)."""
    rep = frame.attrs.get("report", {})
    root = str(dataset_dir or "")
    rows = [
        ("annotation file", _relative(rep.get("annotation"), root) or "(folder names)"),
        ("frames read from", _relative(rep.get("frames_from", ""), root) or "."),
        ("rows read", count(rep.get("rows_read"))),
        ("clips kept (three classes)", count(rep.get("rows_kept", len(frame)))),
    ]
    rows += [(f"dropped: {reason}", count(n)) for reason, n in rep.get("dropped", {}).items()]
    rows += [
        (f"kept, corrected: {reason}", count(n))
        for reason, n in rep.get("adjusted_counts", {}).items()
    ]
    return html_table(pd.DataFrame(rows, columns=["", "value"]))


def _relative(path, root: str) -> str:
    """``path`` relative to the dataset folder ``root`` where it lies inside it; else its name."""
    import os

    if not path:
        return ""
    path = str(path)
    if root:
        absolute_root = os.path.abspath(root)
        if os.path.abspath(path).startswith(absolute_root):
            rel = os.path.relpath(os.path.abspath(path), absolute_root)
            return "." if rel == "." else rel
    return Path(path).name if os.path.isabs(path) else path


def first_rows(frame: pd.DataFrame, n: int = 8):
    """The first clips of a loader table, with the number of frames each lists."""
    cols = ["subject", "clip", "emotion", "label", "onset", "apex", "offset"]
    out = frame[cols].head(n).copy()
    out["frames"] = frame["frames"].head(n).map(len)
    return html_table(out.astype(str).replace({"<NA>": "–"}))


def skipped_table(table: pd.DataFrame):
    """Rows the loader left out because the annotation itself is faulty (e.g. an onset after
    its offset) or incomplete, and rows kept with a corrected code: file, row and reason."""
    rep = table.attrs.get("report", {})
    rows = [{"": "skipped", **r} for r in rep.get("skipped", [])]
    rows += [
        {
            "": "kept, corrected",
            **{k: r[k] for k in ("file", "row", "reason")},
            "detail": r.get("detail", ""),
        }
        for r in rep.get("adjusted", [])
    ]
    if not rows:
        return markdown(say("dataset.no_skipped"))
    out = pd.DataFrame(rows).fillna("")  # a skip without a detail
    out["file"] = out["file"].map(lambda f: Path(str(f)).name)
    return html_table(out.astype(str))


def expected_counts(dataset: str, dataset_dir: str, data_kind: str) -> dict[str, int] | None:
    """Class counts the data should give: the stand-in's own record, or for licensed data the
    counts of the official annotation files (``datasets.yaml``, ``official_counts``). A
    composite of stand-ins: the organisers' counts of the subjects its parts' stand-ins hold."""
    info = config.dataset_info(dataset)
    if data_kind == "stand-in":
        from .. import sources

        if info.get("parts"):
            from ..datasets.megc2019 import expected_counts as composite_counts

            subjects = {}
            for part in info["parts"]:
                folder = Path(dataset_dir) / config.dataset_info(part)["folder"]
                subjects[part] = (sources.read_marker(folder) or {}).get("subjects", [])
            return composite_counts(subjects)
        return sources.expected_counts(dataset_dir)
    return info.get("official_counts")


def composite_parts(table: pd.DataFrame, dataset: str):
    """For a composite (``datasets.yaml``: ``parts``), its clips per part and class beside the
    organisers' counts, and the clips its list leaves out; nothing for a single dataset."""
    info = config.dataset_info(dataset)
    if not info.get("parts"):
        return markdown("")
    from ..datasets.megc2019 import composite_structure

    structure = composite_structure()
    rows = []
    for part in info["parts"]:
        mine = table[table["source"] == part]
        listed = [sum(c[i] for c in structure.get(part, {}).values()) for i in range(3)]
        got = [int((mine["label"] == c).sum()) for c in config.CLASSES]
        rows.append(
            {
                "part": config.dataset_info(part)["display"],
                "clips": count(len(mine)),
                "negative / positive / surprise": " / ".join(map(str, got)),
                "subjects": count(mine["subject"].nunique()),
                "organisers' list": f"{sum(listed)} = "
                + " / ".join(map(str, listed))
                + f" ({len(structure.get(part, {}))} subjects)",
            }
        )
    parts = html_table(
        pd.DataFrame(rows),
        caption=say("dataset.parts_caption"),
        legend={"organisers' list": say("dataset.parts_legend")},
    )
    excluded = table.attrs.get("report", {}).get("excluded", [])
    if not excluded:
        return parts
    out = pd.DataFrame(
        [{"clip": e["row"], "reason": e["reason"], "note": e["detail"] or "–"} for e in excluded]
    )
    left = html_table(
        out,
        caption=say("dataset.left_out_caption", n=len(excluded)),
    )
    from IPython.display import HTML

    return HTML(parts.data + left.data)


def class_table(table: pd.DataFrame, expected: dict[str, int] | None = None) -> pd.DataFrame:
    """Clips and subjects per class, with the expected clip counts beside when known."""
    out = pd.DataFrame(
        {
            "clips": table["label"].value_counts().reindex(config.CLASSES, fill_value=0),
            "subjects": table.groupby("label")["subject"]
            .nunique()
            .reindex(config.CLASSES, fill_value=0),
        }
    )
    out.loc["total"] = [len(table), table["subject"].nunique()]
    if expected:
        out["expected clips"] = [expected.get(c, 0) for c in config.CLASSES] + [
            sum(expected.values())
        ]
    out.index.name = "class"
    return out


def class_summary(table: pd.DataFrame, expected: dict[str, int] | None = None):
    """:func:`class_table` for the page."""
    return html_table(class_table(table, expected).reset_index().astype(str))


def class_distribution_figure(table: pd.DataFrame) -> plt.Figure:
    """Bar chart of clips per class and a subject x class count heat map."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(WIDTH, 3.2), gridspec_kw={"width_ratios": [1, 3]})
    counts = table["label"].value_counts().reindex(config.CLASSES, fill_value=0)
    sns.barplot(
        x=counts.index,
        y=counts.values,
        hue=counts.index,
        legend=False,
        ax=ax1,
        palette=PALETTE,
        order=config.CLASSES,
    )
    ax1.set(xlabel="", ylabel="clips", title="clips per class")
    per_subject = pd.crosstab(table["label"], table["subject"]).reindex(
        config.CLASSES, fill_value=0
    )
    sns.heatmap(
        per_subject,
        annot=per_subject.shape[1] <= 30,
        fmt="d",
        cbar=False,
        cmap="Blues",
        ax=ax2,
        annot_kws={"fontsize": 10},
    )
    ax2.tick_params(axis="x", labelsize=10)
    ax2.set(xlabel="subject", ylabel="", title="clips per subject and class")
    fig.tight_layout()
    return close(fig)


def clip_length_figure(table: pd.DataFrame) -> plt.Figure:
    """Histogram of clip lengths (frames from onset to offset) per class."""
    lengths = table.assign(frames_in_clip=table["frames"].map(len))
    fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 3))
    sns.histplot(
        lengths,
        x="frames_in_clip",
        hue="label",
        hue_order=config.CLASSES,
        multiple="stack",
        palette=PALETTE,
        ax=ax,
        discrete=lengths["frames_in_clip"].nunique() < 30,
    )
    ax.set(xlabel="frames from onset to offset", ylabel="clips")
    fig.tight_layout()
    return close(fig)


def onset_apex_figure(table: pd.DataFrame, magnify: float = 8.0, crop: bool = True):
    """One row per class: the onset frame, the apex frame and ``magnify`` x |apex - onset|.

    ``table`` is a loader table (``datasets.load``), already filtered by
    :func:`privacy.table`: an empty table draws :func:`privacy.note`. The first clip of each
    class with a coded apex is shown (else its first clip, apex by :func:`faces.apex_position`,
    the middle frame), cropped around the face with ``crop`` (:func:`faces.onset_apex_frames`).
    The difference is of the gray frames."""
    if table.empty:
        return privacy.note()
    fig, axes = plt.subplots(len(config.CLASSES), 3, figsize=(WIDTH, 6.6), squeeze=False)
    for row_axes, label in zip(axes, config.CLASSES):
        for ax in row_axes:
            ax.set_axis_off()
        rows = table[table["label"] == label]
        if rows.empty:
            row_axes[0].set_title(f"{label}: no clip")
            continue
        with_apex = rows[rows["apex"].notna()]
        row = (with_apex if not with_apex.empty else rows).iloc[0]
        onset, apex, k, rule = faces.onset_apex_frames(row, crop)
        gray = [faces.to_gray(img).astype(np.float32) for img in (apex, onset)]
        diff = np.abs(gray[0] - gray[1]) * magnify
        row_axes[0].imshow(rgb(onset), cmap="gray")
        row_axes[0].set_title(
            f"{label}: onset ({mpl(row['subject'])} {mpl(row['clip'])})", fontsize=10
        )
        row_axes[1].imshow(rgb(apex), cmap="gray")
        row_axes[1].set_title(f"apex (frame {int(row['onset']) + k}, {rule})", fontsize=10)
        row_axes[2].imshow(np.clip(diff, 0, 255).astype(np.uint8), cmap="inferno", vmin=0, vmax=255)
        row_axes[2].set_title(f"|apex - onset| x {magnify:g}", fontsize=10)
    fig.tight_layout()
    return close(fig)
