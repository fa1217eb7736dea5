"""The stage pages: stage-1 clips, stage-2 augmentation and balancing, the classifier."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import config
from . import privacy
from .dataset import class_table
from .style import PALETTE, close, rgb

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
    """The paper's Figure 2 on this data: :func:`mer_utils.faces.pipeline_examples`, one row
    per class, one column per step (raw, landmarks, masked, cropped, final)."""
    from ..faces import STEP_NAMES

    if not examples:
        return privacy.note()
    n = len(examples)
    fig, axes = plt.subplots(
        n, len(STEP_NAMES), figsize=(2.4 * len(STEP_NAMES), 2.4 * n), squeeze=False
    )
    for r, ex in enumerate(examples):
        for c, name in enumerate(STEP_NAMES):
            ax = axes[r, c]
            img = rgb(ex["steps"][name])
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(name)
        axes[r, 0].set_ylabel(f"{ex['label']}\n{ex['clip']}", fontsize=8)
    fig.tight_layout()
    return close(fig)


def montage(clips, index: int | None = None):
    """Every frame of clip ``index`` (default: the middle one) of a ClipSet in a row: what the
    3D CNN reads. An empty ClipSet (no face may be shown) gives :func:`privacy.note`."""
    if len(clips.rows) == 0:
        return privacy.note()
    index = len(clips.rows) // 2 if index is None else index
    frames = clips.X[index, ..., 0]
    fig, axes = plt.subplots(1, len(frames), figsize=(1.3 * len(frames), 1.6), squeeze=False)
    for t, (ax, img) in enumerate(zip(axes[0], frames)):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"t={t}", fontsize=8)
        ax.axis("off")
    row = clips.rows.iloc[index]
    fig.suptitle(f"{row['subject']}/{row['clip']} ({row['label']})", fontsize=9)
    fig.tight_layout()
    return close(fig)


def flow_figure(examples: list[dict]) -> plt.Figure:
    """:func:`mer_utils.flow.example_fields` drawn: per class the onset key frame (regions
    outlined), the apex key frame, and the flow as arrows over the onset frame, lengthened by
    the factor in the panel title."""
    if not examples:
        return privacy.note()
    n = len(examples)
    fig, axes = plt.subplots(n, 3, figsize=(9.0, 3.1 * n), squeeze=False)
    for r, ex in enumerate(examples):
        size = ex["onset"].shape[0]
        titles = (
            f"{ex['label']}: onset\n{ex['clip']}",
            f"apex ({ex['apex_rule']})",
            f"flow x {ex['scale']:.1f}",
        )
        for ax, img, title in zip(axes[r], (ex["onset"], ex["apex"], ex["onset"]), titles):
            ax.imshow(img, cmap="gray", vmin=0, vmax=255)
            ax.set_title(title, fontsize=8)
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


def clips_summary(clips) -> pd.DataFrame:
    """Clips and subjects per class of a ClipSet; the column header names the tensor shape."""
    out = class_table(clips.rows)
    out.columns.name = f"tensor {tuple(clips.X.shape)}"
    return out


def split_table(clips, split) -> pd.DataFrame:
    """Clips per class in the training, validation and test parts of one split."""
    y = config.class_codes(clips.rows["label"])
    parts = {"training": split.train, "validation": split.val, "test": split.test}
    out = pd.DataFrame(
        {name: np.bincount(y[idx], minlength=len(config.CLASSES)) for name, idx in parts.items()},
        index=list(config.CLASSES),
    )
    out.loc["total"] = out.sum()
    out.index.name = "class"
    return out


def augmentation_figure(copies: np.ndarray, labels) -> plt.Figure:
    """The paper's Figure 5 on this data. ``copies`` is (factor, n, T, H, W, 1) from
    :func:`mer_utils.augment.examples`: per clip (row) the first frame of the original and of
    each augmented copy, then the last copy's |last frame - first frame|, which shows that the
    augmentation adds no motion of its own (one draw per clip)."""
    factor, n = copies.shape[:2]
    if n == 0:
        return privacy.note()
    cols = factor + 1
    fig, axes = plt.subplots(n, cols, figsize=(1.9 * cols, 2.0 * n), squeeze=False)
    for i in range(n):
        for j in range(factor):
            axes[i][j].imshow(copies[j, i, 0, ..., 0], cmap="gray", vmin=0, vmax=255)
            axes[i][j].set_title("original" if j == 0 else f"augmented {j}", fontsize=9)
        last = copies[factor - 1, i].astype(float)
        axes[i][-1].imshow(np.abs(last[-1, ..., 0] - last[0, ..., 0]), cmap="magma")
        axes[i][-1].set_title("|last - first| of copy", fontsize=9)
        axes[i][0].set_ylabel(str(labels[i]))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return close(fig)


def balancing_table(counts: dict, factor: int) -> pd.DataFrame:
    """:func:`mer_utils.balance.balancing_counts` as a table: clips per class after each step
    and the class weights of Eq. 1."""
    out = pd.DataFrame(
        {
            "training part": counts["training part"],
            f"after augmentation (x{factor})": counts["after augmentation"],
            f"after SMOTE (k={counts['smote_k']})": counts["after SMOTE"],
            "class weight W_k = N / n_k": counts["class weights"],
        },
        index=list(config.CLASSES),
    )
    out.index.name = "class"
    return out


def balancing_figure(table: pd.DataFrame) -> plt.Figure:
    """Bar charts of :func:`balancing_table`: clip counts per step, and the class weights."""
    weight_col = next(c for c in table.columns if c.startswith("class weight"))
    counts = table.drop(columns=[weight_col])
    long = counts.reset_index().melt(id_vars="class", var_name="training clips", value_name="clips")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [2, 1]})
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
    sns.barplot(
        x=table.index,
        y=table[weight_col],
        hue=table.index,
        palette=PALETTE,
        legend=False,
        ax=ax2,
        order=config.CLASSES,
    )
    ax2.set(xlabel="", ylabel="W_k", title="class weights (Eq. 1)")
    fig.tight_layout()
    return close(fig)


def model_table(layers: list[dict]) -> pd.DataFrame:
    """:func:`mer_utils.models.layer_table` as a table (one row per layer, then the total)."""
    return pd.DataFrame(layers).set_index("layer")
