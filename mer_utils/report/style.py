"""The common look of the book's figures and tables, and how numbers are written.

Figures are drawn for the book's content column (784 px): at most :data:`WIDTH` inches wide at
:data:`DPI` dpi, no text under :data:`MIN_FONT` pt (13 px at full size: at least 75 % of the
16 px body text), and each PNG records its smallest text in pixels (:func:`png`, read by
tests/test_book_browser.py). Tables are HTML without truncation (:func:`table`), narrow enough
for the column where possible, and scrolling inside a wrapper whose first column stays pinned
where they are not. Numbers are written by type (:func:`score`, :func:`count`, :func:`signed`,
:func:`pvalue`): counts as integers, scores with two decimals, differences with a sign, never in
scientific notation.
"""

from __future__ import annotations

import html
import io
import logging
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import HTML, Markdown

from .. import chance, config, protocols

PALETTE = "colorblind"
"""seaborn's colour-blind safe palette, used by every chart of the book."""
WIDTH = 7.6
"""Figure width in inches (at 100 dpi: 760 px, the content column is 784 px)."""
DPI = 100
"""Pixels per inch of the book's PNGs: one image pixel per CSS pixel at full size."""
MIN_FONT = 9.5
"""The smallest text of a figure, in pt (x DPI / 72 = 13.2 px; the body text is 16 px)."""
FONT_KEY = "mer:min_font_px"
"""The PNG text chunk holding a figure's smallest text in image pixels (or ``none``)."""

METHODS: tuple[str, ...] = tuple(config.load("methods"))
PROTOCOLS: tuple[str, ...] = protocols.PROTOCOLS
SCORE_NAMES = {
    "accuracy": "accuracy",
    "f1_macro": "F1 (macro)",
    "f1_weighted": "F1 (weighted)",
    "uf1": "UF1",
    "uar": "UAR",
    **{f"recall_{c}": f"recall {c}" for c in config.CLASSES},
}


def setup() -> None:
    """Common look of every figure and table; quiet library logging in executed pages."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=0.9)
    plt.rcParams.update({"figure.dpi": DPI, "savefig.bbox": "tight", "legend.fontsize": MIN_FONT})
    _register_png()
    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.max_colwidth", None)
    # Loader and stage-1 warnings (repaired codes, excluded clips) are shown as tables on the
    # pages; as log lines they would only clutter the output.
    logging.getLogger("mer_utils").setLevel(logging.ERROR)
    # TensorFlow's Python warnings (tf.function retracing, with a raw object address) are for
    # a developer, not a reader: a page shows no stderr (tests/test_book_browser.py).
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def png(fig) -> bytes:
    """``fig`` as the book shows it: a PNG at :data:`DPI` dpi, cropped to its content, every
    text raised to at least :data:`MIN_FONT` pt, with its smallest text in pixels recorded in
    the PNG's text chunk :data:`FONT_KEY` (``none`` for a figure without text)."""
    from matplotlib.text import Text

    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    for t in texts:
        if t.get_fontsize() < MIN_FONT:
            t.set_fontsize(MIN_FONT)
    smallest = min((t.get_fontsize() for t in texts), default=None)
    record = "none" if smallest is None else f"{smallest * DPI / 72:.2f}"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={FONT_KEY: record})
    return buf.getvalue()


def _register_png() -> None:
    """Show figures in executed pages through :func:`png` (replacing the inline backend's PNG
    formatter for figures); nothing outside IPython."""
    from matplotlib.figure import Figure

    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return
    shell = get_ipython()
    if shell is None:
        return
    # pyplot loads its backend at the first figure; the inline backend then installs its own
    # PNG formatter for figures. Load it now, so that the formatter set below stays.
    plt.switch_backend(plt.get_backend())
    shell.display_formatter.formatters["image/png"].for_type(Figure, png)


def markdown(text: str) -> Markdown | None:
    """Display ``text`` as Markdown (no headings: myst-nb drops headings from outputs); nothing
    at all for empty text (an empty ``Markdown`` would show as its repr, ``<IPython...>``)."""
    return Markdown(text) if text.strip() else None


def colours(names) -> dict:
    """A fixed colour per name (datasets, protocols...), from the colour-blind palette."""
    names = list(names)
    return dict(zip(names, sns.color_palette(PALETTE, len(names))))


def close(fig):
    """Close ``fig`` so a notebook shows it once (as the cell's value), and return it."""
    plt.close(fig)
    return fig


def rgb(image):
    """An OpenCV BGR image as RGB for matplotlib (gray images unchanged)."""
    import cv2

    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def short(method: str) -> str:
    """``MER-DACWB3DCNNST`` -> ``DACWB3DCNNST`` (axis labels)."""
    return method.replace("MER-", "")


def ordered(df: pd.DataFrame, columns=("dataset", "method", "protocol")) -> pd.DataFrame:
    """Rows in the book's order of datasets, methods and protocols."""
    rank = {
        **{d: i for i, d in enumerate(config.datasets())},
        **{v: i for i, v in enumerate(METHODS)},
        **{p: i for i, p in enumerate(PROTOCOLS)},
    }
    cols = [c for c in columns if c in df]
    return (
        df.sort_values(cols, key=lambda s: s.map(lambda v: rank.get(v, len(rank)))) if cols else df
    )


# ----------------------------------------------------------------------------- numbers
def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA


def fixed(x, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, never a negative zero (``-0.001`` -> ``0.00``)."""
    text = f"{float(x):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def score(x, digits: int = 2) -> str:
    """A score in [0, 1]: ``0.62`` (``–`` when missing)."""
    return "–" if _missing(x) else fixed(x, digits)


def percent(x, digits: int = 1) -> str:
    """A share as a percentage: ``62.5 %``."""
    return "–" if _missing(x) else f"{fixed(100 * float(x), digits)} %"


def count(n) -> str:
    """A count: ``152`` (a mean count keeps one decimal only where it is not whole)."""
    if _missing(n):
        return "–"
    n = float(n)
    return fixed(n, 0) if n == round(n) else fixed(n, 1)


def signed(x, digits: int = 2) -> str:
    """A difference with its sign: ``+0.03``, ``−0.10``, ``0.00``."""
    if _missing(x):
        return "–"
    text = f"{abs(float(x)):.{digits}f}"
    if float(text) == 0:
        return text
    return ("+" if x > 0 else "−") + text


def pvalue(p) -> str:
    """A p-value: ``<0.001``, ``0.023``, ``1.000``."""
    if _missing(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{float(p):.3f}"


def interval(mean, low, high, digits: int = 2, sign: bool = False, note: str = "") -> str:
    """The one way the book writes a score with its interval: ``0.62 [0.48, 0.76]``, then
    ``note`` in brackets where there is one (why the interval is as it is:
    ``0.54 [0.00, 1.00] (2 splits that disagree, 7 test samples each)``); without an interval
    (one run) ``0.62 (one run)``. An interval that is not of zero width is never printed as one:
    where its ends round to the same text, they get up to two more decimals."""
    fmt = signed if sign else score
    if _missing(mean):
        return "–"
    tail = f" ({note})" if note else ""
    if _missing(low) or _missing(high):
        return f"{fmt(mean, digits)} (one run{'; ' + note if note else ''})"
    d = digits
    while d < digits + 2 and high > low and fmt(low, d) == fmt(high, d):
        d += 1
    return f"{fmt(mean, d)} [{fmt(low, d)}, {fmt(high, d)}]{tail}"


def with_interval(row: dict, digits: int = 2) -> str:
    """A score row of :func:`mer_utils.intervals.score_interval` as text (:func:`interval`, with
    the row's ``note``): ``0.62 [0.51, 0.73] (same in all 5 splits; constant prediction)``."""
    return interval(row["mean"], row["low"], row["high"], digits, note=row.get("note") or "")


def verdict(row: dict, name: str = "UF1") -> str:
    """The verdict of a score row (:func:`mer_utils.intervals.score_interval`): ``above chance``,
    or ``not above chance`` with the smallest score the test would have called above chance
    (``needs UF1 > 0.59``)."""
    if _missing(row.get("p_adj")):
        return "–"
    if row["p_adj"] < chance.ALPHA:
        return "above chance"
    need = row.get("detectable")
    return "not above chance" + ("" if _missing(need) else f" (needs {name} > {score(need)})")


def tested(row: dict) -> str:
    """Test samples behind a score: ``38`` or ``38 x 3`` (and the distinct clips where the
    samples are not clips)."""
    text = str(row["tested"])
    n_test = row.get("n_test")
    clips = row.get("n_clips")
    if clips is not None and n_test is not None and int(clips) != round(float(n_test)):
        text += f" ({clips} clips)"
    return text


# ----------------------------------------------------------------------------- tables
def table(
    df: pd.DataFrame,
    caption: str | None = None,
    legend: dict[str, str] | None = None,
    index: bool = False,
    collapsed: str | None = None,
) -> HTML:
    """``df`` (cells already written as text) as an HTML table for the book: every row and
    column, no truncation, numbers right-aligned, inside a wrapper that scrolls sideways on a
    narrow screen with the first column pinned (``div.pinned-table``, book/_static/custom.css).
    ``legend`` explains abbreviated column names under the table. ``collapsed``: the table
    folded behind this one-line summary (an HTML ``<details>``, opened with a click), for long
    tables a reader looks up rather than reads."""
    if index:
        df = df.reset_index()
    body = df.to_html(index=False, escape=True, border=0, classes="dataframe mer", na_rep="–")
    # Short cells (numbers, intervals, names) never break; prose cells and headers wrap, so a
    # table with a column of prose fits the content column instead of scrolling.
    body = SHORT_CELL.sub(_unbroken, body)
    parts = ['<div class="pinned-table">']
    if caption:  # plain text: a caption is not markdown (no `code` marks)
        parts.append(f'<p class="mer-caption">{html.escape(caption.replace("`", ""))}</p>')
    parts.append(body)
    if legend:
        items = "; ".join(
            f"<b>{html.escape(k)}</b>: {html.escape(v.replace('`', ''))}" for k, v in legend.items()
        )
        parts.append(f'<p class="mer-legend">{items}</p>')
    parts.append("</div>")
    if collapsed:
        rows = f"{len(df)} row{'s' if len(df) != 1 else ''}"
        parts = [
            '<details class="mer-collapse">',
            f"<summary>{html.escape(collapsed.replace('`', ''))} ({rows})</summary>",
            *parts,
            "</details>",
        ]
    return HTML("\n".join(parts))


def _unbroken(match: re.Match) -> str:
    """``<td>text</td>`` with the class ``nowrap`` when its text is at most :data:`UNBROKEN`
    characters long (``book/_static/custom.css``). A score with its interval
    (``0.24 [0.09, 0.39] *``) may break between the score and the bracket only, where the
    table would otherwise be wider than the column: class ``interval``, the bracket and a short
    mark after it joined by non-breaking spaces."""
    text = html.unescape(match.group(1))
    got = INTERVAL_CELL.match(text)
    if got:
        mean, bracket, rest = got.groups()

        def joined(part: str) -> str:
            return html.escape(part).replace(" ", "&nbsp;")

        tail = joined(rest) if len(rest) <= 3 else html.escape(rest)
        return f'<td class="interval">{joined(mean)} {joined(bracket)}{tail}</td>'
    return f'<td class="nowrap">{match.group(1)}</td>' if len(text) <= UNBROKEN else match.group(0)


INTERVAL_CELL = re.compile(r"^(\S+) (\[[^\]]*\])(.*)$")


UNBROKEN = 24  # "0.24 [0.22, 0.26]", "MER-DACWB3DCNNST", "0.625 [0.618, 0.631]" stay on one line
SHORT_CELL = re.compile(r"<td>([^<]*)</td>")


def source_label(kinds) -> str:
    """The data source of measured numbers, in words: ``stand-in data``, ``licensed data`` or
    ``stand-in and licensed data``."""
    kinds = sorted(set(kinds))
    return (" and ".join(kinds) + " data") if kinds else "no data"


# ----------------------------------------------------------------------------- figures
def interval_errorbar(ax, x, part: pd.DataFrame, **style):
    """``part``'s ``mean`` at ``x`` with its 95 % interval (``low``..``high``) as error bars;
    an interval not computed draws no bar. ``style``: matplotlib's ``errorbar`` options."""
    err = np.vstack([part["mean"] - part["low"], part["high"] - part["mean"]])
    return ax.errorbar(x, part["mean"], yerr=np.nan_to_num(err), **style)


def protocol_points(
    ax, got: pd.DataFrame, methods: list[str], present: list[str], palette, size=1.0
):
    """Per method (x) one point per protocol (colour): the mean with its 95 % interval, the
    majority baseline (x) and the permutation chance level (a black bar) of the same runs.
    ``got`` holds rows of :func:`mer_utils.intervals.summary` (``mean``, ``low``, ``high``,
    ``baseline``, ``chance``); ``size`` scales the marks (small multiples: below 1)."""
    width = 0.8 / max(1, len(present))
    for j, protocol in enumerate(present):
        part = got[got["protocol"] == protocol].set_index("method").reindex(methods)
        x = np.arange(len(methods)) + (j - (len(present) - 1) / 2) * width
        interval_errorbar(
            ax,
            x,
            part,
            fmt="o",
            ms=6 * size,
            capsize=2 * size,
            color=palette[protocol],
            label=protocol,
        )
        ax.scatter(x, part["baseline"], marker="x", color=palette[protocol], s=20 * size)
        ax.scatter(x, part["chance"], marker="_", color="black", s=60 * size)
