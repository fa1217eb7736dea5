"""The stage pages: stage-1 clips, stage-2 augmentation and balancing, the classifier."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import config
from .dataset import class_table
from .style import PALETTE, close


def _labels(clips) -> np.ndarray:
    return clips.rows["label"].map({c: i for i, c in enumerate(config.CLASSES)}).to_numpy()


def clips_summary(clips) -> pd.DataFrame:
    """Clips and subjects per class of a ClipSet; the column header names the tensor shape."""
    out = class_table(clips.rows)
    out.columns.name = f"tensor {tuple(clips.X.shape)}"
    return out


def split_table(clips, split) -> pd.DataFrame:
    """Clips per class in the training, validation and test parts of one split."""
    y = _labels(clips)
    parts = {"training": split.train, "validation": split.val, "test": split.test}
    out = pd.DataFrame({name: np.bincount(y[idx], minlength=len(config.CLASSES))
                        for name, idx in parts.items()}, index=list(config.CLASSES))
    out.loc["total"] = out.sum()
    out.index.name = "class"
    return out


def augmentation_figure(copies: np.ndarray, labels) -> plt.Figure:
    """The paper's Figure 5 on this data. ``copies`` is (factor, n, T, H, W, 1) from
    :func:`mer_utils.augment.examples`: per clip (row) the first frame of the original and of
    each augmented copy, then the last copy's |last frame - first frame|, which shows that the
    augmentation adds no motion of its own (one draw per clip)."""
    factor, n = copies.shape[:2]
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
    sns.barplot(long, x="training clips", y="clips", hue="class", hue_order=config.CLASSES,
                palette=PALETTE, ax=ax1)
    ax1.set(xlabel="", title="training clips per class")
    sns.barplot(x=table.index, y=table[weight_col], hue=table.index, palette=PALETTE,
                legend=False, ax=ax2, order=config.CLASSES)
    ax2.set(xlabel="", ylabel="W_k", title="class weights (Eq. 1)")
    fig.tight_layout()
    return close(fig)


def model_table(layers: list[dict]) -> pd.DataFrame:
    """:func:`mer_utils.models.layer_table` as a table (one row per layer, then the total)."""
    return pd.DataFrame(layers).set_index("layer")
