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
