"""Report helpers draw what the records say."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mer_utils import report  # noqa: E402
from mer_utils.config import CLASSES  # noqa: E402


def test_confusion_heatmap_writes_each_count_in_its_cell_rows_true_columns_predicted():
    cm = np.array([[7, 1, 0], [2, 5, 3], [0, 4, 9]])
    fig, ax = plt.subplots()
    report.method.heatmap(ax, cm, "a title")
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}
    assert {k: int(t.get_text()) for k, t in cells.items()} == {
        (i, j): int(cm[i, j]) for i in range(3) for j in range(3)
    }
    # the darkest cells get white text, the light ones black
    assert cells[(2, 2)].get_color() == "white" and cells[(0, 2)].get_color() == "black"
    assert [t.get_text() for t in ax.get_xticklabels()] == [c[:3] for c in CLASSES]
    assert [t.get_text() for t in ax.get_yticklabels()] == [c[:3] for c in CLASSES]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted", "true", "a title")
    plt.close(fig)


# ----------------------------------------------------------------------------- how the book draws
def test_numbers_are_never_a_negative_zero():
    from mer_utils.report import style

    assert style.score(-0.001) == "0.00" and style.score(-0.004, 2) == "0.00"
    assert style.percent(-0.00001) == "0.0 %" and style.count(-0.0) == "0"
    assert style.interval(-0.001, -0.004, 0.3) == "0.00 [0.00, 0.30]"
    assert style.score(-0.01) == "-0.01"  # a real negative keeps its sign


def test_figures_are_shown_with_their_smallest_text_recorded_and_raised():
    import io

    from PIL import Image

    from mer_utils.report import style

    fig, ax = plt.subplots(figsize=(style.WIDTH, 2))
    ax.set_title("small", fontsize=6)
    ax.set_xlabel("large", fontsize=14)
    data = style.png(fig)
    text = Image.open(io.BytesIO(data)).text
    # 6 pt raised to MIN_FONT: 9.5 pt x 100 dpi / 72 = 13.19 px, at least 75 % of 16 px body text
    assert text[style.FONT_KEY] == f"{style.MIN_FONT * style.DPI / 72:.2f}"
    assert float(text[style.FONT_KEY]) >= 0.75 * 16
    assert Image.open(io.BytesIO(data)).width <= 784  # drawn for the content column
    blank = plt.figure(figsize=(2, 1))
    assert Image.open(io.BytesIO(style.png(blank))).text[style.FONT_KEY] == "none"
    plt.close("all")


def test_long_tables_fold_behind_a_summary():
    import pandas as pd

    from mer_utils.report import style

    df = pd.DataFrame({"page": [f"p{i}" for i in range(61)], "status": "ok"})
    folded = style.table(df, collapsed="Every page of the run").data
    assert folded.startswith('<details class="mer-collapse">')
    assert "<summary>Every page of the run (61 rows)</summary>" in folded
    assert "<details" not in style.table(df).data


def test_the_survival_figure_keeps_reported_and_measured_numbers_on_separate_axes():
    """The paper's numbers (real data) and the measured ones (stand-ins) never share an axis,
    and the legend sits below the panels, never over the data."""
    from mer_utils import results
    from mer_utils.report import leakage

    fig = leakage.survival_figure(results.Results.none(), "MER-DACWB3DCNNST")
    left, right = fig.axes
    assert not left.get_shared_y_axes().joined(left, right)
    assert "real data" in left.get_title() and "measured here" in right.get_title()
    assert "reported" in left.get_ylabel() and "measured" in right.get_ylabel()
    (legend,) = fig.legends
    fig.canvas.draw()
    box = legend.get_window_extent()
    for ax in (left, right):
        assert not box.overlaps(ax.get_window_extent()), "the legend covers a panel"
