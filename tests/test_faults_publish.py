"""Fault injection, third round (issue 25): the publishing guard judges the banner element, not a
word, and every table, prediction file and download the book ships."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from test_schema import _run

from mer_utils import results, schema
from mer_utils.build import publish

STANDIN, LICENSED = "s0standin000", "l0licensed00"


def _page(path: Path, **params) -> None:
    """An executed page as papermill leaves it: its injected parameters cell first."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("text")]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _with_fold(run: results.Run) -> results.Run:
    """The run with one row of folds.csv."""
    key = {k: getattr(run.record, k) for k in schema.KEY}
    values = {}
    for f in dataclasses.fields(schema.Fold):
        if f.name not in key:
            kind = str(f.type)
            values[f.name] = 1 if "int" in kind else 0.5 if "float" in kind else "x"
    run.folds = [schema.Fold(**key, **values)]
    return run


def _standin_book(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in book: one executed page, its records, tables, predictions and downloads, and
    built pages that quote the licensed class in text and code (as the README does)."""
    book, html = tmp_path / "book", tmp_path / "_build" / "html"
    _page(
        book / "datasets" / "casme2" / "10-MER-3DCNNST.ipynb",
        dataset="casme2",
        data_kind="stand-in",
        data_id=STANDIN,
    )
    run = _run(dataset="casme2", data_kind="stand-in", data_id=STANDIN)
    results.write_run(book / "results", run)
    results.write_predictions_zip(book / "results")
    (html / "book").mkdir(parents=True)
    (html / "book" / "readme.html").write_text(
        "<p>the data banner of a licensed page carries the class "
        '<code class="docutils literal notranslate"><span class="pre">data-licensed</span>'
        "</code>; data-licensed in text, &lt;div class=&quot;data-licensed&quot;&gt; quoted</p>"
        '<pre>&lt;div class="admonition data-licensed"&gt;</pre>'
    )
    (html / "ok.html").write_text('<div class="admonition important data-standin">x</div>')
    downloads = html / "_downloads" / "0123abcd"
    downloads.mkdir(parents=True)
    for name in ("metrics.csv", "folds.csv", "confusions.csv", "predictions.zip"):
        shutil.copy(book / "results" / name, downloads / name)
    return book, html


@pytest.fixture(autouse=True)
def _not_allowed(monkeypatch):
    monkeypatch.delenv(publish.PUBLISH_LICENSED_ENV, raising=False)


def test_a_stand_in_book_that_quotes_the_licensed_class_is_publishable(tmp_path, capsys):
    """BAD 1: the README (rendered in the book) quotes `data-licensed`; that is no banner."""
    book, html = _standin_book(tmp_path)
    assert publish.check_publishable(book, html) == 0, capsys.readouterr().err
    assert not publish.shows_banner((html / "book" / "readme.html").read_text())


@pytest.mark.parametrize(
    "banner",
    [
        '<div class="admonition important data-licensed">',
        "<aside class='data-licensed admonition'>",
        '<DIV CLASS="note data-licensed" id=x>',
    ],
)
def test_a_built_page_with_the_licensed_banner_element_is_refused(tmp_path, capsys, banner):
    book, html = _standin_book(tmp_path)
    (html / "old.html").write_text(f"<html><body>{banner}<p>a licensed page</p></div></body>")
    assert publish.check_publishable(book, html) == 1
    assert "old.html (built page)" in capsys.readouterr().err


def _licensed_then_standin(tmp_path: Path) -> tuple[Path, Path]:
    """BAD 2's sequence: a licensed run, its metrics.csv deleted (the damaged-table advice), a
    stand-in run into the same book folder."""
    book, html = tmp_path / "book", tmp_path / "_build" / "html"
    licensed = _with_fold(_run(dataset="casme2", data_kind="licensed", data_id=LICENSED))
    results.write_run(book / "results", licensed)
    (book / "results" / "metrics.csv").unlink()
    standin_book, standin_html = _standin_book(tmp_path / "again")
    shutil.copytree(
        standin_book, book, dirs_exist_ok=True, ignore=shutil.ignore_patterns("results")
    )
    results.write_run(
        book / "results", _run(dataset="casme2", data_kind="stand-in", data_id=STANDIN)
    )
    results.write_predictions_zip(book / "results")
    shutil.copytree(standin_html, html, dirs_exist_ok=True)
    return book, html


def test_rows_of_a_licensed_run_left_after_its_records_were_deleted_are_refused(tmp_path, capsys):
    """BAD 2: folds.csv, confusions.csv and predictions/ keep the licensed run's rows."""
    book, html = _licensed_then_standin(tmp_path)
    assert publish.licensed_records(book / "results") == []  # what the old guard judged
    assert publish.check_publishable(book, html) == 1
    err = capsys.readouterr().err
    assert "confusions.csv: 1 rows of casme2 data no stand-in page or record vouches for" in err
    assert "folds.csv: 1 rows of casme2 data no stand-in page or record vouches for" in err
    assert f"casme2__M__paper__smoke__seed0__r0__{LICENSED}__b.csv: predictions of" in err
    assert f"predictions.zip:predictions/casme2__M__paper__smoke__seed0__r0__{LICENSED}" in err

    # the same rows, known as licensed (their record still there)
    results.write_run(
        book / "results", _run(dataset="casme2", data_kind="licensed", data_id=LICENSED)
    )
    assert publish.check_publishable(book, html) == 1
    assert "records of licensed casme2 data" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["folds.csv", "predictions.zip", "parameters.json", "manifest"])
def test_every_download_the_built_book_ships_is_judged(tmp_path, capsys, where):
    """A stale copy in _build/html/_downloads (or a file in the book folder) of licensed rows."""
    book, html = _standin_book(tmp_path)
    downloads = html / "_downloads" / "99ff"
    downloads.mkdir()
    if where == "folds.csv":
        text = (book / "results" / "confusions.csv").read_text().replace(STANDIN, LICENSED)
        (downloads / "folds.csv").write_text(text)
    elif where == "predictions.zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(f"predictions/d__M__paper__smoke__seed0__r0__{LICENSED}__b.csv", "x")
        (downloads / "predictions.zip").write_bytes(buffer.getvalue())
    elif where == "parameters.json":
        (book / "results" / "parameters.json").write_text(
            json.dumps({"x": {"data_kind": "licensed"}})
        )
    else:
        pages = [{"key": "casme2/00-overview", "parameters": {"data_kind": "licensed"}}]
        (downloads / "manifest.json").write_text(json.dumps({"pages": pages}))
    assert publish.check_publishable(book, html) == 1
    err = capsys.readouterr().err
    assert "Not publishing: 1 " in err and "readme.html" not in err
    named = {"parameters.json": "results/parameters.json: an entry of licensed data"}
    assert named.get(where, f"99ff/{where.replace('manifest', 'manifest.json')}") in err


def test_an_executed_page_the_built_book_ships_is_judged(tmp_path, capsys):
    book, html = _standin_book(tmp_path)
    _page(html / "_sources" / "datasets" / "casme2" / "00-overview.ipynb", data_kind="licensed")
    assert publish.check_publishable(book, html) == 1
    assert "_sources/datasets/casme2/00-overview.ipynb" in capsys.readouterr().err
