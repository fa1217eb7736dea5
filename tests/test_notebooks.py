"""Smoke test of the whole study: every notebook of the grid executed by the runner with the
tiniest profile on one stand-in dataset, the records they wrote, and the book built from them.

This is the Recommenders-style notebook test: it runs the real templates end to end (papermill,
separate kernels) and then checks the values the notebooks recorded, not only that they ran.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from mer_utils import config, protocols, study

pytestmark = pytest.mark.slow
DATASET = "casme_sq"  # exercises the header-less spreadsheets and long-video frames


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Run the grid once: smoke profile, one dataset, all variants and protocols."""
    tmp = tmp_path_factory.mktemp("study")
    book = tmp / "book"
    status = study.main([
        "--profile", "smoke", "--datasets", DATASET, "--jobs", "2",
        "--book-dir", str(book), "--cache-dir", str(tmp / "cache"),
        "--standins-dir", str(tmp / "standins"),
    ])
    return {"tmp": tmp, "book": book, "status": status}


def _executed(book: Path) -> list[Path]:
    return sorted((book / "datasets" / DATASET).glob("*.ipynb")) + sorted((book / "summary").glob("*.ipynb"))


def test_every_page_of_the_grid_ran_without_error(smoke_run):
    assert smoke_run["status"] == 0
    pages = _executed(smoke_run["book"])
    expected = {Path(j.output).name for j in study.plan(
        {DATASET: study.Source(DATASET, "x", "stand-in")}, "smoke",
        list(config.methods()), ["paper"], 0)}
    assert {p.name for p in pages} == expected
    for page in pages:
        nb = nbformat.read(page, as_version=4)
        assert not nb.metadata["papermill"]["exception"], page.name
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, (page.name, errors)
        assert Path(str(page) + ".done.json").exists(), f"no done-marker for {page.name}"


def test_pages_say_which_data_produced_their_numbers(smoke_run):
    for page in _executed(smoke_run["book"]):
        if page.stem in ("classifier", "reproducibility"):
            continue  # no dataset numbers on these pages
        text = json.dumps(nbformat.read(page, as_version=4).cells)
        assert "stand-in" in text and "not** a reproduction" in text, page.name


def test_variant_pages_recorded_one_row_per_run(smoke_run):
    results = pd.read_csv(smoke_run["book"] / "results" / "metrics.csv")
    prof = config.profile("smoke")
    got = list(zip(results["variant"], results["protocol"], results["repeat"]))
    want = {(v, p, r) for v in config.methods() for p in prof["protocols"]
            for r in range(prof["repeats"] if protocols.info(p)["repeated"] else 1)}
    assert sorted(got) == sorted(want)  # exactly one record per run
    assert (results["dataset"] == DATASET).all() and (results["data_kind"] == "stand-in").all()
    assert (results["profile"] == "smoke").all()
    for col in ("accuracy", "f1_macro", "uf1", "uar", "baseline_accuracy"):
        assert results[col].between(0, 1).all(), col
    loso = results[results["protocol"] == "loso"]
    standin = json.loads((smoke_run["tmp"] / "standins" / "CASME_sq" / "STANDIN.json").read_text())
    assert (loso["n_folds"] == loso["n_subjects"]).all()
    assert loso["n_subjects"].iloc[0] <= standin["params"]["n_subjects"]
    for rec in results.to_dict("records"):  # pooled test counts = confusion matrix total
        cm = json.loads(rec["confusion"])
        assert sum(map(sum, cm)) == sum(json.loads(rec["counts_test"]).values())
        assert rec["version_tensorflow"] and rec["seconds"] >= 0 and rec["timestamp"]


def test_manifest_lists_every_page_with_its_data_source(smoke_run):
    manifest = json.loads((smoke_run["book"] / "results" / "manifest.json").read_text())
    assert manifest["profile"] == "smoke"
    assert manifest["sources"][DATASET]["kind"] == "stand-in"
    assert {p["status"] for p in manifest["pages"]} == {"ok"}


def test_a_second_run_reuses_every_up_to_date_page(smoke_run):
    book = smoke_run["book"]
    before = {p: p.stat().st_mtime_ns for p in _executed(book)}
    status = study.main([
        "--profile", "smoke", "--datasets", DATASET, "--book-dir", str(book),
        "--cache-dir", str(smoke_run["tmp"] / "cache"),
        "--standins-dir", str(smoke_run["tmp"] / "standins"),
    ])
    assert status == 0
    manifest = json.loads((book / "results" / "manifest.json").read_text())
    assert {p["status"] for p in manifest["pages"]} == {"cached"}
    assert {p: p.stat().st_mtime_ns for p in _executed(book)} == before


def test_the_book_builds_without_warnings_and_shows_real_tables(smoke_run):
    site = smoke_run["tmp"] / "site"
    site.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(study.REPO / name, site / name)
    shutil.copytree(study.REPO / "book", site / "book",
                    ignore=shutil.ignore_patterns("datasets", "summary", "results", "generated"))
    for built in ("datasets", "summary", "generated"):
        shutil.copytree(smoke_run["book"] / built, site / "book" / built)
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(site), "-W", "--keep-going"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = site / "_build" / "html" / "book"
    results = (html / "summary" / "results.html").read_text()
    assert results.count("<table") >= 6  # Tables 1-4, protocol table, MEGC table
    assert "reported by the paper" in results and "93.66" in results  # a reported value
    assert "measured on stand-in data" in results
    assert results.count("<img") >= 4  # Figures 6, 7 and the protocol charts
    assert "95 % interval" in results and " x 2" in results  # test clips per split x repeats
    leakage = (html / "summary" / "leakage.html").read_text()
    assert "409" in leakage and "paper-leaky" in leakage and "<img" in leakage
    page = (html / "datasets" / DATASET / "13-MER-DACWB3DCNNST.html").read_text()
    assert "<table" in page and "stand-in" in page
    placeholder = (html / "datasets" / "casme2" / "10-MER-3DCNNST.html").read_text()
    assert "not executed" in placeholder
