"""The common look of the book's figures and tables, and small formatting helpers."""

from __future__ import annotations

import logging
import math

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown

from .. import config, protocols

PALETTE = "colorblind"
"""seaborn's colour-blind safe palette, used by every chart of the book."""

VARIANTS: tuple[str, ...] = tuple(config.load("variants"))
PROTOCOLS: tuple[str, ...] = protocols.PROTOCOLS
SCORE_NAMES = {
    "accuracy": "accuracy",
    "f1_macro": "F1 (macro)",
    "f1_weighted": "F1 (weighted)",
    "uf1": "UF1",
    "uar": "UAR",
}


def setup() -> None:
    """Common look of every figure and table; quiet library logging in executed pages."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight"})
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_colwidth", 80)
    # Loader and stage-1 warnings (repaired codes, excluded clips) are shown as tables on the
    # pages; as log lines they would only clutter the output.
    logging.getLogger("mer_utils").setLevel(logging.ERROR)


def markdown(text: str) -> Markdown:
    """Display ``text`` as Markdown (no headings: myst-nb drops headings from outputs)."""
    return Markdown(text)


def colours(names) -> dict:
    """A fixed colour per name (datasets, protocols...), from the colour-blind palette."""
    names = list(names)
    return dict(zip(names, sns.color_palette(PALETTE, len(names))))


def interval(mean: float, low: float, high: float, percent: bool = False, digits: int = 2) -> str:
    """``0.62 [0.48, 0.76]``; a missing interval (a single run) reads ``0.62 (one run)``."""
    scale = 100 if percent else 1
    fmt = f"{{:.{digits if not percent else 1}f}}"
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = fmt.format(scale * mean)
    if low is None or math.isnan(low) or math.isnan(high):
        return f"{text} (one run)"
    return f"{text} [{fmt.format(scale * low)}, {fmt.format(scale * high)}]"


def short(variant: str) -> str:
    """``MER-DACWB3DCNNST`` -> ``DACWB3DCNNST`` (axis labels)."""
    return variant.replace("MER-", "")


def ordered(df: pd.DataFrame, columns=("dataset", "variant", "protocol")) -> pd.DataFrame:
    """Rows in the book's order of datasets, variants and protocols."""
    rank = {
        **{d: i for i, d in enumerate(config.datasets())},
        **{v: i for i, v in enumerate(VARIANTS)},
        **{p: i for i, p in enumerate(PROTOCOLS)},
    }
    cols = [c for c in columns if c in df]
    return (
        df.sort_values(cols, key=lambda s: s.map(lambda v: rank.get(v, len(rank)))) if cols else df
    )


def rgb(image):
    """An OpenCV BGR image as RGB for matplotlib (gray images unchanged)."""
    import cv2

    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def close(fig):
    """Close ``fig`` so a notebook shows it once (as the cell's value), and return it."""
    plt.close(fig)
    return fig
