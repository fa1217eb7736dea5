"""Launch buttons: the launch cell a page gets on the launch branch, what it does outside a
build of the study, the pages written for that branch, and the buttons' targets. The smoke run
the cell starts, on an executed page, is checked in tests/test_notebooks.py
(``test_a_launched_page_runs_on_the_smoke_stand_ins``)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import nbformat
import pytest

from mer_utils import config, sources
from mer_utils.build import launch, templates

REPO = Path(__file__).resolve().parents[1]
URL = "https://github.com/owner/mer-book"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _page() -> nbformat.NotebookNode:
    """An executed page as the runner leaves it: title, parameters, injected cell, the rest."""
    nb = templates.render("notebooks/method.md", "FLOW-LINEAR")
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("# Parameters\nseed = 0\n")
    injected.metadata["tags"] = ["injected-parameters", "remove-cell"]
    nb.cells.insert(at + 1, injected)
    return nb


def test_the_launch_cell_follows_the_parameters_and_is_hidden():
    nb = launch.with_launch(_page(), URL, COMMIT)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("mer", {}).get("launch"))
    assert "injected-parameters" in tags[at - 1] and "remove-cell" in tags[at]
    assert nb.cells[at + 1].metadata["mer"]["prepare"]  # then the stand-in is made
    assert f'STUDY = "git+{URL}@{COMMIT}"' in nb.cells[at].source
    again = launch.with_launch(nb, URL, COMMIT)  # never two launch cells
    assert sum(bool(c.metadata.get("mer", {}).get("launch")) for c in again.cells) == 1
    with pytest.raises(ValueError, match="https repository URL and a commit"):
        launch.launch_cell("git@github.com:owner/mer-book", COMMIT)


def _run_cell(source: str, namespace: dict, cwd: Path) -> dict:
    before = Path.cwd()
    os.chdir(cwd)
    try:
        exec(compile(source, "launch-cell", "exec"), namespace)
    finally:
        here = Path.cwd()
        os.chdir(before)
    namespace["_cwd"] = here
    return namespace


def test_outside_a_build_the_cell_switches_to_the_smoke_stand_ins(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_LAUNCH_DIR", str(tmp_path / "work"))
    page = {
        "dataset": "smic",
        "dataset_dir": "data/standins/5447eb351de3/SMIC",
        "data_kind": "stand-in",
        "data_id": "abc",
        "profile": "quick",
        "protocols": ["paper-windows", "paper", "kfold"],
        "results_dir": "book/results",
        "cache_dir": ".cache/stage1",
    }
    (tmp_path / "download").mkdir()
    ns = _run_cell(
        launch.LAUNCH.format(repository=URL, commit=COMMIT), dict(page), tmp_path / "download"
    )
    standin = sources.standin_root(sources.STANDINS, config.profile("smoke")["standin"])
    assert ns["_cwd"] == tmp_path / "work"
    assert ns["profile"] == "smoke" and ns["protocols"] == ["kfold"] and ns["data_id"] is None
    assert ns["dataset_dir"] == str(standin / "SMIC") and ns["results_dir"] == "results"
    # in a build (its results folder exists) the cell changes nothing
    (tmp_path / "built" / "book" / "results").mkdir(parents=True)
    ns = _run_cell(
        launch.LAUNCH.format(repository=URL, commit=COMMIT), dict(page), tmp_path / "built"
    )
    assert ns["_cwd"] == tmp_path / "built" and ns["profile"] == "quick"
    # licensed data are never replaced by stand-ins
    licensed = {**page, "data_kind": "licensed", "dataset_dir": "/data/SMIC"}
    ns = _run_cell(
        launch.LAUNCH.format(repository=URL, commit=COMMIT), licensed, tmp_path / "download"
    )
    assert ns["dataset_dir"] == "/data/SMIC" and ns["profile"] == "quick"


def test_the_launch_branch_holds_the_executed_dataset_pages(tmp_path):
    book = tmp_path / "book"
    (book / "datasets" / "smic").mkdir(parents=True)
    nbformat.write(_page(), book / "datasets" / "smic" / "15-FLOW-LINEAR.ipynb")
    placeholder = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# not run")])
    nbformat.write(placeholder, book / "datasets" / "smic" / "10-MER-3DCNNST.ipynb")
    out = tmp_path / "branch"
    assert launch.main([str(book), str(out), "--repository", URL, "--commit", COMMIT]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ipynb"))
    assert written == ["book/datasets/smic/15-FLOW-LINEAR.ipynb"]
    assert launch.main([str(book), str(out), "--repository", "ftp://x", "--commit", COMMIT]) == 2


@pytest.fixture()
def ext():
    spec = importlib.util.spec_from_file_location("mer_book", REPO / "book/_ext/mer_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mer_book"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("mer_book", None)


class _App:
    class config:
        html_theme_options = {"repository_branch": "main"}


def _context():
    binder = "https://mybinder.org/v2/gh/owner/mer-book/main?urlpath=tree/PAGE.ipynb"
    colab = "https://colab.research.google.com/github/owner/mer-book/blob/main/PAGE.ipynb"
    return {
        "header_buttons": [
            {"label": "launch-buttons", "buttons": [{"url": binder}, {"url": colab}]},
            {"label": "other"},
        ]
    }


def test_the_buttons_open_the_launch_branch_on_dataset_pages_only(ext, monkeypatch):
    monkeypatch.setenv(ext.LAUNCH_ENV, "launch")
    context = _context()
    ext.launch_targets(_App, "book/datasets/smic/15-FLOW-LINEAR", "page.html", context, None)
    urls = [b["url"] for b in context["header_buttons"][0]["buttons"]]
    assert urls == [
        "https://mybinder.org/v2/gh/owner/mer-book/launch?urlpath=tree/PAGE.ipynb",
        "https://colab.research.google.com/github/owner/mer-book/blob/launch/PAGE.ipynb",
    ]
    context = _context()
    ext.launch_targets(_App, "book/summary/results", "page.html", context, None)
    assert [b["label"] for b in context["header_buttons"]] == ["other"]


def test_the_buttons_are_configured_only_with_a_repository_and_a_launch_branch(ext, monkeypatch):
    class Config:
        html_theme_options = {}
        html_context = {}

    monkeypatch.setenv(ext.URL_ENV, URL)
    monkeypatch.delenv(ext.LAUNCH_ENV, raising=False)
    ext.configure_repository(None, Config)
    assert "launch_buttons" not in Config.html_theme_options
    monkeypatch.setenv(ext.LAUNCH_ENV, "launch")
    ext.configure_repository(None, Config)
    buttons = Config.html_theme_options["launch_buttons"]
    assert buttons["binderhub_url"] and buttons["colab_url"]
