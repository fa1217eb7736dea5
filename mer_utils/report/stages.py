"""The stage pages: stage-1 clips, stage-2 augmentation and balancing, the classifier."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import config
from . import privacy
from .dataset import class_table
from .escape import mpl
from .style import PALETTE, WIDTH, close, count, markdown, rgb, table
from .text import say

REGION_COLOURS = {
    "forehead": "tab:purple",
    "brow_right": "tab:orange",
    "brow_left": "tab:orange",
    "glabella": "tab:red",
    "nose_bridge": "tab:olive",
    "nose_wing_right": "tab:pink",
    "nose_wing_left": "tab:pink",
    "cheek_right": "tab:green",
    "cheek_left": "tab:green",
    "mouth_corner_right": "tab:cyan",
    "mouth_corner_left": "tab:cyan",
    "chin": "tab:brown",
}
"""Outline colour of each face region of the flow features (left and right alike)."""


def pipeline_figure(examples: list[dict]) -> plt.Figure:
    """The paper's Figure 2 on this data: :func:`mer_utils.stage1.pipeline_examples`, one row
    per class, one column per step (raw, landmarks, masked, cropped, final)."""
    from ..faces import STEP_NAMES

    if not examples:
        return privacy.note()
    n = len(examples)
    fig, axes = plt.subplots(
        n, len(STEP_NAMES), figsize=(WIDTH, WIDTH / len(STEP_NAMES) * n + 0.3), squeeze=False
    )
    for r, ex in enumerate(examples):
        for c, name in enumerate(STEP_NAMES):
            ax = axes[r, c]
            img = rgb(ex["steps"][name])
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=10)
        axes[r, 0].set_ylabel(f"{ex['label']}\n{mpl(ex['clip'])}", fontsize=10)
    fig.tight_layout()
    return close(fig)


def montage(clips, index: int | None = None):
    """Every frame of clip ``index`` (default: the middle one) of a ClipSet in a row: what the
    3D CNN reads. An empty ClipSet (no face may be shown) gives :func:`privacy.note`."""
    if len(clips.rows) == 0:
        return privacy.note()
    index = len(clips.rows) // 2 if index is None else index
    frames = clips.X[index, ..., 0]
    cols = min(len(frames), 8)
    rows = -(-len(frames) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, WIDTH / cols * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for t, (ax, img) in enumerate(zip(axes.flat, frames)):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"t={t}", fontsize=10)
        ax.axis("off")
    row = clips.rows.iloc[index]
    fig.suptitle(mpl(f"{row['subject']}/{row['clip']} ({row['label']})"), fontsize=10)
    fig.tight_layout()
    return close(fig)


def flow_figure(examples: list[dict]) -> plt.Figure:
    """:func:`mer_utils.report.networks.flow_examples` drawn: per class the onset key frame (regions
    outlined), the apex key frame, and the flow as arrows over the onset frame, lengthened by
    the factor in the panel title."""
    if not examples:
        return privacy.note()
    n = len(examples)
    fig, axes = plt.subplots(n, 3, figsize=(WIDTH, WIDTH / 3 * n + 0.4), squeeze=False)
    for r, ex in enumerate(examples):
        size = ex["onset"].shape[0]
        titles = (
            f"{ex['label']}: onset\n{mpl(ex['clip'])}",
            f"apex ({ex['apex_rule']})",
            f"flow x {ex['scale']:.1f}",
        )
        for ax, img, title in zip(axes[r], (ex["onset"], ex["apex"], ex["onset"]), titles):
            ax.imshow(img, cmap="gray", vmin=0, vmax=255)
            ax.set_title(title, fontsize=10)
            ax.set_xticks([]), ax.set_yticks([])
        for name, poly in ex["polygons"].items():
            closed = np.vstack([poly, poly[:1]])
            for ax in (axes[r, 0], axes[r, 2]):
                ax.plot(closed[:, 0], closed[:, 1], color=REGION_COLOURS.get(name, "w"), lw=0.8)
        axes[r, 2].quiver(
            ex["x"],
            ex["y"],
            ex["u"] * ex["scale"],
            ex["v"] * ex["scale"],
            color="yellow",
            angles="xy",
            scale_units="xy",
            scale=1,
            width=0.006,
            headwidth=3,
        )
        for ax in axes[r]:
            ax.set_xlim(-0.5, size - 0.5), ax.set_ylim(size - 0.5, -0.5)
    fig.tight_layout()
    return close(fig)


def clips_summary(clips):
    """Clips and subjects per class of a ClipSet, and the shape of the tensor a method reads."""
    out = class_table(clips.rows).reset_index()
    return table(
        out.astype(str),
        caption=f"tensor {tuple(clips.X.shape)} (clips, frames, height, width, channel)",
    )


def tensors_text(clips, longer=None):
    """What stage 1 produced: the clip tensor and, for the window protocol, the denser
    sampling; whether they came from the cache."""
    text = say(
        "stages.tensor",
        shape=clips.X.shape,
        dtype=clips.X.dtype,
        cached="yes" if clips.from_cache else "no",
    )
    if longer is not None:
        text += " " + say(
            "stages.windows",
            shape=longer.X.shape,
            frames=longer.X.shape[1],
            cached="yes" if longer.from_cache else "no",
        )
    return markdown(text)


def kept_table(clips):
    """Kept and excluded clips, the excluded ones by reason."""
    from .. import stage1

    return table(stage1.summary(clips).assign(clips=lambda d: d["clips"].map(count)))


def excluded_table(clips):
    """Every clip stage 1 excluded, with its first frame file (relative to the dataset) and why."""
    if not len(clips.excluded):
        return markdown(say("stages.none_excluded"))
    out = clips.excluded.copy()
    root = str(clips.source.get("root", "")) if getattr(clips, "source", None) else ""
    out["file"] = out["file"].map(lambda f: _relative(str(f), root))
    return table(out)


def _relative(path: str, root: str) -> str:
    import os

    if root and os.path.isabs(path):
        try:
            return os.path.relpath(path, root)
        except ValueError:
            return os.path.basename(path)
    return path


def split_table(clips, split):
    """Clips per class in the training, validation and test parts of one split."""
    y = config.class_codes(clips.rows["label"])
    parts = {"training": split.train, "validation": split.val, "test": split.test}
    out = pd.DataFrame(
        {name: np.bincount(y[idx], minlength=len(config.CLASSES)) for name, idx in parts.items()},
        index=list(config.CLASSES),
    )
    out.loc["total"] = out.sum()
    out.index.name = "class"
    return table(out.astype(str), index=True)


def augmentation_figure(copies: np.ndarray, labels) -> plt.Figure:
    """The paper's Figure 5 on this data. ``copies`` is (factor, n, T, H, W, 1) from
    :func:`mer_utils.augment.examples`: per clip (row) the first frame of the original and of
    each augmented copy, then the last copy's |last frame - first frame|, which shows that the
    augmentation adds no motion of its own (one draw per clip)."""
    factor, n = copies.shape[:2]
    if n == 0:
        return privacy.note()
    cols = factor + 1
    fig, axes = plt.subplots(n, cols, figsize=(WIDTH, WIDTH / cols * n + 0.3), squeeze=False)
    for i in range(n):
        for j in range(factor):
            axes[i][j].imshow(copies[j, i, 0, ..., 0], cmap="gray", vmin=0, vmax=255)
            axes[i][j].set_title("original" if j == 0 else f"augmented {j}", fontsize=10)
        last = copies[factor - 1, i].astype(float)
        axes[i][-1].imshow(np.abs(last[-1, ..., 0] - last[0, ..., 0]), cmap="magma")
        axes[i][-1].set_title("|last - first| of copy", fontsize=10)
        axes[i][0].set_ylabel(str(labels[i]))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return close(fig)


def balancing_frame(counts: dict, factor: int) -> pd.DataFrame:
    """:func:`mer_utils.balance.balancing_counts` as a frame: clips per class after each step
    and the class weights of Eq. 1."""
    out = pd.DataFrame(
        {
            "training part": counts["training part"],
            f"after augmentation (x{factor})": counts["after augmentation"],
            f"after SMOTE (k={counts['smote_k']})": counts["after SMOTE"],
            "Wₖ = N / nₖ": counts["class weights"],
        },
        index=list(config.CLASSES),
    )
    out.index.name = "class"
    return out


def balancing_table(counts: dict, factor: int):
    """:func:`balancing_frame` as a table (counts as integers, weights with two decimals)."""
    out = balancing_frame(counts, factor)
    shown = out.apply(
        lambda col: col.map(lambda v: f"{v:.2f}") if col.name.startswith("Wₖ") else col.map(count)
    )
    return table(shown, index=True, legend={"Wₖ = N / nₖ": "the class weights of Eq. 1"})


def balancing_figure(counts: dict, factor: int) -> plt.Figure:
    """Bar charts of :func:`balancing_frame`: clip counts per step, and the class weights."""
    frame = balancing_frame(counts, factor)
    weight_col = "Wₖ = N / nₖ"
    clips = frame.drop(columns=[weight_col])
    long = clips.reset_index().melt(id_vars="class", var_name="training clips", value_name="clips")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(WIDTH, 3.2), gridspec_kw={"width_ratios": [2, 1]})
    sns.barplot(
        long,
        x="training clips",
        y="clips",
        hue="class",
        hue_order=config.CLASSES,
        palette=PALETTE,
        ax=ax1,
    )
    ax1.set(xlabel="", title="training clips per class")
    ax1.tick_params(axis="x", labelsize=10)
    sns.barplot(
        x=frame.index,
        y=frame[weight_col],
        hue=frame.index,
        palette=PALETTE,
        legend=False,
        ax=ax2,
        order=config.CLASSES,
    )
    ax2.set(xlabel="", ylabel="$W_k$", title="class weights (Eq. 1)")
    fig.tight_layout()
    return close(fig)


def model_table(layers: list[dict]):
    """:func:`mer_utils.report.networks.cnn_layers` (or ``flownet_layers``) as a table (one row per layer, then the total)."""
    out = pd.DataFrame(layers)
    out["weights"] = out["weights"].map(lambda n: f"{int(n):,}")
    return table(out)
