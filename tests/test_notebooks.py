"""Smoke test of the whole study: every notebook of the grid executed by the runner with the
tiniest profile on one stand-in dataset, the records they wrote, and the book built from them.

This is the Recommenders-style notebook test: it runs the real templates end to end (papermill,
separate kernels) and then checks the values the notebooks recorded, not only that they ran.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from mer_utils import config, experiment, results, schema, sources
from mer_utils.build import grid, publish, study

pytestmark = pytest.mark.slow
DATASET = "casme_sq"  # exercises the header-less spreadsheets and long-video frames


@pytest.fixture(scope="module")
def smoke_run(smoke_build):
    """The grid run once (tests/conftest.py, shared with the other tests of a smoke build):
    smoke profile, one dataset, all variants and protocols."""
    assert (smoke_build["book"] / "datasets" / DATASET).is_dir(), "the build is of DATASET"
    return smoke_build


def _smoke_standin(standins: Path) -> Path:
    """The folder of the CAS(ME)^2 stand-in the smoke run read under ``standins``."""
    root = sources.standin_root(standins, config.profile("smoke")["standin"])
    return root / config.dataset_info(DATASET)["folder"]


def _executed(book: Path) -> list[Path]:
    return sorted((book / "datasets" / DATASET).glob("*.ipynb")) + sorted(
        (book / "summary").glob("*.ipynb")
    )


def test_every_page_of_the_grid_ran_without_error(smoke_run):
    assert smoke_run["status"] == 0
    pages = _executed(smoke_run["book"])
    expected = {
        Path(j.output).name
        for j in grid.plan(
            {DATASET: sources.Source(DATASET, "x", "stand-in")},
            "smoke",
            list(config.methods()),
            ["paper"],
            0,
        )
    }
    assert {p.name for p in pages} == expected
    for page in pages:
        nb = nbformat.read(page, as_version=4)
        assert not nb.metadata["papermill"]["exception"], page.name
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        assert not errors, (page.name, errors)
        assert Path(str(page) + ".done.json").exists(), f"no done-marker for {page.name}"


def test_pages_say_which_data_produced_their_numbers(smoke_run):
    for page in _executed(smoke_run["book"]):
        if page.stem in ("classifier", "reproducibility"):
            continue  # no dataset numbers on these pages
        text = json.dumps(nbformat.read(page, as_version=4).cells)
        assert "stand-in" in text and "not** a reproduction" in text, page.name


def test_method_pages_recorded_one_row_per_run(smoke_run):
    res = results.load(smoke_run["book"] / "results", profile="smoke")
    table = res.metrics
    prof = config.profile("smoke")
    got = list(zip(table["method"], table["protocol"], table["repeat"]))
    want = {
        (m, p, r)
        for m in config.methods()
        for p in prof["protocols"]
        if p not in config.method(m).get("skip_protocols", {})
        for r in range(experiment.repeats_of(p, prof))
    }
    assert sorted(got) == sorted(want)  # exactly one record per run
    assert (table["dataset"] == DATASET).all() and (table["data_kind"] == "stand-in").all()
    assert (table["profile"] == "smoke").all()
    assert table["data_id"].nunique() == 1 and table["profile_id"].nunique() == 1
    for col in ("accuracy", "f1_macro", "uf1", "uar", "baseline_accuracy", "chance_uf1", "p_uf1"):
        assert table[col].between(0, 1).all(), col
    loso = table[table["protocol"] == "loso"]
    standin = json.loads((_smoke_standin(smoke_run["standins"]) / sources.MARKER).read_text())
    assert (loso["n_folds"] == loso["n_subjects"]).all()
    assert loso["n_subjects"].iloc[0] <= standin["params"]["n_subjects"]
    for rec in table.to_dict("records"):  # pooled test counts = confusion matrix total
        units = res.confusions[
            (res.confusions["method"] == rec["method"])
            & (res.confusions["protocol"] == rec["protocol"])
            & (res.confusions["repeat"] == rec["repeat"])
        ]
        assert units[list(schema.CONFUSION_COLUMNS)].to_numpy().sum() == rec["n_test"]
        assert rec["version_tensorflow"] and rec["seconds"] >= 0 and rec["timestamp"]
    scale = results.load(smoke_run["book"] / "results", profile="smoke-scale")
    assert set(scale.metrics["method"]) == set(prof["scale_check"]["methods"])


def test_manifest_lists_every_page_with_its_data_source(smoke_run):
    manifest = json.loads((smoke_run["book"] / "results" / "manifest.json").read_text())
    assert manifest["profile"] == "smoke"
    assert manifest["sources"][DATASET]["kind"] == "stand-in"
    assert {p["status"] for p in manifest["pages"]} == {"ok"}


def test_a_second_run_reuses_every_up_to_date_page(smoke_run):
    book = smoke_run["book"]
    before = {p: p.stat().st_mtime_ns for p in _executed(book)}
    status = study.main(
        [
            "--profile",
            "smoke",
            "--datasets",
            DATASET,
            "--book-dir",
            str(book),
            "--cache-dir",
            str(smoke_run["cache"]),
            "--standins-dir",
            str(smoke_run["standins"]),
        ]
    )
    assert status == 0
    manifest = json.loads((book / "results" / "manifest.json").read_text())
    assert {p["status"] for p in manifest["pages"]} == {"cached"}
    assert {p: p.stat().st_mtime_ns for p in _executed(book)} == before


def test_a_downloaded_page_reruns_with_one_parameter_changed(smoke_run, tmp_path):
    """The reader's command of issue 28 on a page of the build, copied into a fresh folder:
    ``papermill PAGE out.ipynb -p seed 1 -p results_dir rr -y "protocols: [kfold]"``. Before,
    papermill's new injected cell dropped the page's values and the page fell back to the
    template's defaults (another dataset, a stand-in folder that no longer exists)."""
    page = smoke_run["book"] / "datasets" / DATASET / "15-FLOW-LINEAR.ipynb"
    here = tmp_path / "download"
    here.mkdir()
    shutil.copy(page, here / "page.ipynb")
    papermill = Path(sys.executable).with_name("papermill")
    command = ["page.ipynb", "out.ipynb", "-p", "seed", "1", "-p", "results_dir", "rr"]
    proc = subprocess.run(
        [str(papermill), *command, "-y", "protocols: [kfold]"],
        cwd=here,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = results.load(here / "rr", profile="smoke").metrics
    assert set(table["dataset"]) == {DATASET} and set(table["method"]) == {"FLOW-LINEAR"}
    assert set(table["protocol"]) == {"kfold"} and set(table["seed"]) == {1}


def test_a_launched_page_runs_on_the_smoke_stand_ins(smoke_run, tmp_path):
    """What a launch button opens (an executed page with its launch cell, mer_utils.build.launch),
    run where no build of the study is: the cell moves to a work folder of its own, switches to
    the smoke stand-ins and kfold, and the page generates its stand-in and runs."""
    from mer_utils.build import launch

    page = smoke_run["book"] / "datasets" / DATASET / "15-FLOW-LINEAR.ipynb"
    here = tmp_path / "colab"
    here.mkdir()
    nb = launch.with_launch(nbformat.read(page, 4), "https://github.com/o/r", "0" * 40)
    nbformat.write(nb, here / "page.ipynb")
    papermill = Path(sys.executable).with_name("papermill")
    env = {**os.environ, "MER_LAUNCH_DIR": str(tmp_path / "work")}
    proc = subprocess.run(  # results_dir: the published page's, which is not here
        [str(papermill), "page.ipynb", "out.ipynb", "-p", "results_dir", "book/results"],
        cwd=here,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    work = tmp_path / "work"
    standin = sources.standin_root(sources.STANDINS, config.profile("smoke")["standin"])
    assert sources.is_standin(work / standin / config.dataset_info(DATASET)["folder"])
    table = results.load(work / "results", profile="smoke").metrics
    assert set(table["protocol"]) == {"kfold"} and set(table["method"]) == {"FLOW-LINEAR"}


def test_the_book_builds_without_warnings_and_shows_real_tables(smoke_run, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    for name in ("_config.yml", "_toc.yml", "README.md"):  # book/readme.md includes README.md
        shutil.copy(study.REPO / name, site / name)
    shutil.copytree(
        study.REPO / "book",
        site / "book",
        ignore=shutil.ignore_patterns("datasets", "summary", "results", "generated"),
    )
    for built in ("datasets", "summary", "generated", "results"):  # results: the downloads
        shutil.copytree(smoke_run["book"] / built, site / "book" / built)
    # the stand-ins page includes the calibration tables written by benchmarks/
    shutil.copytree(study.REPO / "benchmarks" / "results", site / "benchmarks" / "results")
    # the pages that teach a step include its code from mer_utils (literalinclude :pyobject:)
    shutil.copytree(
        study.REPO / "mer_utils", site / "mer_utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(site), "-W", "--keep-going"], capture_output=True, text=True
    )
    said = "\n".join(
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if "WARNING" in line or "ERROR" in line or "CRITICAL" in line
    )
    assert proc.returncode == 0, said or proc.stdout[-3000:] + proc.stderr[-3000:]
    html = site / "_build" / "html" / "book"
    tables = (html / "summary" / "paper-tables.html").read_text()
    # Tables 1-4 as reported (four), the one dataset of this run as measured
    assert tables.count("<table") >= 5
    assert tables.count("as reported by the paper (real data") == 4
    assert "The same methods measured here on CAS(ME)² (stand-in data" in tables
    assert "reported by the paper" in tables and "93.66" in tables  # a reported value
    assert tables.count("<img") >= 2  # Figures 6 and 7
    results = (html / "summary" / "results.html").read_text()
    assert "stand-in data" in results and "<table" in results and "<img" in results
    assert "95 % interval" in tables and " x 2" in tables  # test samples per split x repeats
    leakage = (html / "summary" / "leakage.html").read_text()
    assert "409" in leakage and "paper-windows" in leakage and "<img" in leakage
    findings = (html / "summary" / "findings.html").read_text()
    assert "cannot come from one 10 % split of the clips" in findings and "chance" in findings
    intro = (html / "intro.html").read_text()
    assert "What this study found" in intro and "headline.png" in intro
    assert "CC BY 4.0" in intro and "MIT licence" in intro  # the licence footer on every page
    page = (html / "datasets" / DATASET / "13-MER-DACWB3DCNNST.html").read_text()
    assert "<table" in page and "stand-in" in page
    placeholder = (html / "datasets" / "casme2" / "10-MER-3DCNNST.html").read_text()
    assert "not executed" in placeholder
    repro = (html / "summary" / "reproducibility.html").read_text()
    for name in ("metrics.csv", "predictions.zip", "manifest.json"):
        assert f'/{name}"' in repro, f"no download link to {name}"
        assert list((site / "_build" / "html" / "_downloads").glob(f"*/{name}")), name


def _face_cells(page: Path) -> list:
    nb = nbformat.read(page, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("mer", {}).get("faces")]


def _images(cell) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def test_pages_on_licensed_data_show_no_face_but_stand_in_pages_do(
    smoke_run, tmp_path, monkeypatch
):
    tmp = tmp_path
    licensed = tmp / "licensed" / "CASME_sq"
    shutil.copytree(_smoke_standin(smoke_run["standins"]), licensed)
    shutil.copytree(smoke_run["cache"], tmp / "cache")  # the build's stage-1 cache, as before
    (licensed / sources.MARKER).unlink()  # a copy without the marker reads as licensed data
    book = tmp / "licensed-book"
    status = study.main(
        [
            "--profile",
            "smoke",
            "--datasets",
            DATASET,
            "--dataset-dir",
            f"{DATASET}={licensed}",
            "--methods",
            "FLOW-LINEAR",
            "--protocols",
            "paper",
            "--book-dir",
            str(book),
            "--cache-dir",
            str(tmp / "cache"),
            "--standins-dir",
            str(smoke_run["standins"]),
        ]
    )
    assert status == 0
    pages = sorted((book / "datasets" / DATASET).glob("*.ipynb"))
    face_cells = {p.name: _face_cells(p) for p in pages}
    assert sum(len(c) for c in face_cells.values()) >= 5  # stage 1 (2), stage 2, overview, flow
    for name, cells in face_cells.items():
        for cell in cells:
            assert _images(cell) == 0, (name, cell.source)
            assert "No face is shown here" in json.dumps(cell["outputs"]), name
    on_standins = sorted((smoke_run["book"] / "datasets" / DATASET).glob("*.ipynb"))
    assert all(_images(c) >= 1 for p in on_standins for c in _face_cells(p))
    manifest = json.loads((book / "results" / "manifest.json").read_text())
    assert manifest["sources"][DATASET]["kind"] == "licensed"
    assert results.licensed_pages(manifest)
    monkeypatch.delenv(publish.PUBLISH_LICENSED_ENV, raising=False)
    assert publish.check_publishable(book) == 1
    repro = json.dumps(
        nbformat.read(book / "summary" / "reproducibility.ipynb", as_version=4).cells
    )
    assert "licensed" in repro and f"{DATASET}/00-overview" in repro


EXPECTED = Path(__file__).parent / "expected" / "smoke_metrics.json"


def _smoke_runs(res) -> dict:
    """Per (method, protocol, repeat): test samples and the pooled confusion matrix."""
    out = {}
    for rec in res.metrics.to_dict("records"):
        units = res.confusions[
            (res.confusions["method"] == rec["method"])
            & (res.confusions["protocol"] == rec["protocol"])
            & (res.confusions["repeat"] == rec["repeat"])
        ]
        cm = units[list(schema.CONFUSION_COLUMNS)].to_numpy().sum(axis=0).reshape(3, 3)
        out[f"{rec['method']} / {rec['protocol']} / {rec['repeat']}"] = {
            "test_samples": int(rec["n_test"]),
            "confusion": cm.tolist(),
        }
    return out


def compare_smoke(got: dict, expected: dict) -> list[str]:
    """What differs between two smoke runs: runs, test samples or predictions. The flow
    baseline and the test samples must match exactly (scikit-learn and the splits are exact);
    a network's predictions may move by one test sample per run (one prediction on a near tie
    can flip on another CPU, whose kernels round floats in another order), never more."""
    problems = []
    if set(got) != set(expected):
        return [f"other runs: {sorted(set(got) ^ set(expected))[:6]}"]
    for key, want in expected.items():
        have = got[key]
        if have["test_samples"] != want["test_samples"]:
            problems.append(
                f"{key}: {have['test_samples']} test samples, not {want['test_samples']}"
            )
        moved = int(np.abs(np.array(have["confusion"]) - np.array(want["confusion"])).sum()) // 2
        allowed = 0 if config.method(key.split(" / ")[0])["method"] == "flow" else 1
        if moved > allowed:
            problems.append(f"{key}: {moved} predictions moved (at most {allowed})")
    return problems


def test_smoke_predictions_match_the_stored_expected_ones(smoke_run):
    """Recommenders-style: the deterministic smoke run's predictions against
    tests/expected/smoke_metrics.json. After an intended change of numbers, regenerate it with
    MER_UPDATE_EXPECTED=1 and review the diff in the commit."""
    import os

    got = _smoke_runs(results.load(smoke_run["book"] / "results", profile="smoke"))
    if os.environ.get("MER_UPDATE_EXPECTED") == "1":
        EXPECTED.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    assert compare_smoke(got, json.loads(EXPECTED.read_text())) == []


def test_the_smoke_comparison_fails_when_an_expectation_is_off():
    expected = json.loads(EXPECTED.read_text())
    assert compare_smoke(expected, expected) == []
    cnn = next(k for k in expected if k.startswith("MER-3DCNNST / kfold"))
    flow = next(k for k in expected if k.startswith("FLOW-LINEAR / kfold"))
    for key, moves in ((cnn, 2), (flow, 1)):
        off = json.loads(json.dumps(expected))
        cm = off[key]["confusion"]
        for _ in range(moves):  # move predictions of true-negative clips to another class
            source = max(range(3), key=lambda j: cm[0][j])
            cm[0][source] -= 1
            cm[0][(source + 1) % 3] += 1
        assert compare_smoke(off, expected), key
    one = json.loads(json.dumps(expected))
    one[cnn]["test_samples"] += 1
    assert compare_smoke(one, expected)


def _html_rows(shown) -> list[dict]:
    """The rows of the HTML table a report function returns, as {column: text}."""
    from bs4 import BeautifulSoup

    found = BeautifulSoup(shown.data, "html.parser").find("table")
    head = [th.get_text(strip=True) for th in found.find("thead").find_all("th")]
    return [
        dict(zip(head, (td.get_text(strip=True) for td in tr.find_all(["td", "th"]))))
        for tr in found.find("tbody").find_all("tr")
    ]


def test_every_page_shows_the_same_verdict_for_a_run(smoke_run):
    """One verdict per run (mer_utils.verdicts): the method page, the evaluation page, the
    results and leakage pages' marks, the findings page's cells and the scale check show, for
    the same runs, the same adjusted p-value and the same verdict, whatever runs each holds."""
    from mer_utils import chance, report, verdicts
    from mer_utils.report.style import pvalue, short, verdict

    book = smoke_run["book"]
    res = results.load(book / "results", profile="smoke")
    truth = verdicts.table(res)
    assert not truth.empty
    want = {}
    for r in truth.to_dict("records"):
        row = {"p_adj": r["p_adj_uf1"], "detectable": r["detectable_uf1"]}
        want[(r["method"], r["protocol"])] = (pvalue(r["p_adj_uf1"]), verdict(row))
        assert r["family"] / (1 + r["n_perm"]) < chance.ALPHA  # the best p-value can pass
    seen = 0
    for method in set(res.metrics["method"]):
        for row in _html_rows(report.method.runs_table(res.where(method=method))):
            assert (row["p (adj.)"], row["verdict"]) == want[(method, row["protocol"])]
            seen += 1
    for row in _html_rows(report.evaluation.chance_table(res, "uf1")):
        assert (row["p (adj.)"], row["verdict"]) == want[(row["method"], row["protocol"])]
    methods = {short(m): m for m in res.metrics["method"]}
    for row in _html_rows(report.results.protocol_table(res, "uf1")):
        cell = row[config.dataset_info(DATASET)["display"]]
        if cell == "–":
            continue
        above = want[(methods[row["method"]], row["protocol"])][1] == "above chance"
        assert cell.endswith("*") == above, (row, cell)
    shown = report.leakage.survival_table(res, "uf1")
    for row in _html_rows(shown):
        for protocol in set(res.metrics["protocol"]) & set(row):
            if row[protocol] == "–":
                continue
            above = want[(methods[row["method"]], protocol)][1] == "above chance"
            assert row[protocol].endswith("*") == above, (row, protocol)
    for protocol in set(res.metrics["protocol"]):  # a page holding one protocol's runs only
        for row in _html_rows(report.evaluation.chance_table(res.where(protocol=protocol))):
            assert row["p (adj.)"] == want[(row["method"], protocol)][0]
    scale = results.load(book / "results", profile="smoke-scale")
    both = results.Results.concat([res.where(method=list(set(scale.metrics["method"]))), scale])
    rows = report.scale.rows(both)
    for r in rows[rows["profile"] == "smoke"].to_dict("records"):
        assert (pvalue(r["p_adj"]), verdict(r)) == want[(r["method"], r["protocol"])]
    assert seen == len(truth)
