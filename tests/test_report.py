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


# ----------------------------------------------------------------------------- the book's words
def _prose_lines():
    """benchmarks/prose_lines.py: the scan of report/ Python for book sentences."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "prose_lines.py"
    spec = importlib.util.spec_from_file_location("prose_lines", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_prose_in_report_code():
    """The book's sentences are in mer_utils/data/sentences.yaml, not in report/ Python: no
    string literal outside docstrings and error messages holds 10 words or more, or 3 or more
    ending a sentence (benchmarks/prose_lines.py)."""
    scan = _prose_lines()
    found = [
        f"{path.relative_to(scan.REPO)}:{first}: {text}"
        for path in scan.FILES
        for first, _, text in scan.literals(path)
    ]
    assert not found, "sentences in Python; move them to sentences.yaml:\n" + "\n".join(found)
    # the scan tells a sentence from a label
    assert scan.is_prose("No runs in this build.") and not scan.is_prose("class weights (Eq. 1)")
    assert scan.is_prose("mean over repeated splits, or the pooled score of a cross-validation")
    assert not scan.is_prose("{} measured here ({}), every method under every protocol")


def test_say_fills_a_sentence_and_names_the_file_and_id_of_what_it_cannot():
    import pytest

    from mer_utils.report.text import PATH, SentenceError, say

    assert say("scale.holm", n=4) == "two-sided, Holm-corrected over the 4 rows"
    assert "{doc}`summary/findings`" in say("findings.summary.more")  # {{doc}}: a brace
    with pytest.raises(SentenceError, match=rf"{PATH}: no sentence 'scale\.nope'"):
        say("scale.nope")
    with pytest.raises(SentenceError, match=r"'nope\.holm'.*the table has no 'nope'"):
        say("nope.holm", n=4)
    with pytest.raises(SentenceError, match=rf"{PATH}: sentence 'scale\.holm' .*\{{n\}}"):
        say("scale.holm", rows=4)
    with pytest.raises(SentenceError, match=r"'scale' is a group of sentences"):
        say("scale")


def test_every_sentence_the_code_asks_for_is_in_the_table_with_its_placeholders():
    """Each say("<id>", ...) of report/ names a sentence of the table and gives a value for every
    placeholder; each sentence of the table is asked for (a literal id, or a computed one after
    its literal beginning: f"banners.kind.{kind}"); every template is valid."""
    import ast
    import string

    from mer_utils.report import text

    scan = _prose_lines()
    table = text.keys()
    for key in table:
        list(string.Formatter().parse(text.template(key)))  # a malformed template raises
    literal, prefixes = set(), set()
    for path in scan.FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                (prefixes if node.value.endswith(".") else literal).add(node.value)
            elif isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
                prefixes.add(node.values[0].value)
            if not (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "say"
                and isinstance(node.args[0], ast.Constant)
            ):
                continue
            key = node.args[0].value
            where = f"{path.name}:{node.lineno}"
            assert key in table, f"{where}: say({key!r}) is not in {text.PATH}"
            given = {k.arg for k in node.keywords}
            if None not in given:  # **values: checked when the sentence is said
                missing = text.placeholders(key) - given
                assert not missing, f"{where}: say({key!r}) gives no value for {missing}"
    unused = [
        key
        for key in table
        if key not in literal and not any(key.startswith(p) for p in prefixes if "." in p)
    ]
    assert not unused, f"sentences of {text.PATH} no code asks for: {unused}"


def test_editing_a_sentence_reruns_the_pages_and_retrains_nothing(tmp_path, monkeypatch):
    """sentences.yaml is one of the tables every page's fingerprint reads as a whole
    (fingerprints.page_tables); no module whose code is part of a fold key reads it."""
    import shutil
    from types import SimpleNamespace

    from mer_utils import code, config, folds, methods
    from mer_utils.build import fingerprints

    page = SimpleNamespace(
        parameters={"profile": "quick", "dataset": "casme2", "protocols": ["kfold"]}, method=None
    )
    assert "report/text.py" in fingerprints.page_modules("notebooks/findings.md")
    fitting = set().union(
        *(code.closure(folds.fit_roots(methods.describe(m, "smoke"))) for m in config.methods())
    )
    assert not [f for f in fitting if f.startswith("report/")], "a fold key reads report code"
    for rel in fitting:  # their code, docstrings left out, never names the table
        assert "sentences" not in code.code_of(fingerprints.PACKAGE / rel), rel
    before = fingerprints.page_tables(page)
    shutil.copytree(fingerprints.PACKAGE / "data", tmp_path / "data")
    monkeypatch.setattr(fingerprints, "PACKAGE", tmp_path)
    assert fingerprints.page_tables(page) == before
    path = tmp_path / "data" / "sentences.yaml"
    path.write_text(path.read_text().replace("No clip was excluded.", "No clip was left out."))
    assert fingerprints.page_tables(page) != before
