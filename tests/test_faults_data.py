"""Fault injection, issue 25 (part B): paths that leave their dataset folder, files that are not
files, link loops, forged or damaged stores and snapshots, text that escapes its markup, and
the other inputs that used to hang, crash with a traceback or pass silently."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest
from test_datasets import CASME2_HEADER, _frames, _workbook, make_casme2, make_casme_sq

from mer_utils import config, datasets, folds, schema, sources, stage1
from mer_utils.build import fingerprints, runner
from mer_utils.datasets import DatasetError
from mer_utils.schema import FoldResult

OUTSIDE = "path outside the dataset folder"  # mer_utils.datasets._common.OUTSIDE


# ----------------------------------------------------------------------------- paths from cells
def test_a_filename_cell_that_leaves_the_dataset_folder_is_a_counted_named_skip(tmp_path):
    outside = tmp_path / "outside" / "evilclip"
    _frames(outside, range(1, 4), "img{}.jpg")
    rows = [
        ["01", "EP02_01f", None, 8, 10, 12, None, "12", "happiness", 1],
        ["02", "../../../outside/evilclip", None, 1, 2, 3, None, "4", "disgust", 2],
    ]
    root = make_casme2(tmp_path / "data" / "CASME2", rows)
    table = datasets.load("casme2", root)
    assert list(table["clip"]) == ["EP02_01f"]
    assert not any("outside" in f for refs in table["frames"] for f in refs)
    rep = table.attrs["report"]
    assert rep["dropped"] == {OUTSIDE: 1}
    (skip,) = rep["skipped"]
    assert skip["row"] == 3 and "evilclip" in skip["detail"] and skip["reason"] == OUTSIDE


def test_a_clip_folder_linking_out_of_the_dataset_folder_is_skipped_too(tmp_path):
    root = make_casme2(tmp_path / "data" / "CASME2")
    target = root / "CASME2_RAW_selected" / "sub03" / "EP01_01"
    elsewhere = tmp_path / "elsewhere"
    shutil.move(target, elsewhere)
    target.symlink_to(elsewhere, target_is_directory=True)  # links resolved: outside
    table = datasets.load("casme2", root)
    assert "EP01_01" not in set(table["clip"])
    assert table.attrs["report"]["dropped"][OUTSIDE] == 1


def test_a_casme_sq_video_folder_linking_outside_is_skipped(tmp_path):
    root = make_casme_sq(tmp_path / "data" / "CASME_sq")
    folder = root / "rawpic" / "s15" / "15_0401girlcrashing"
    shutil.move(folder, tmp_path / "away")
    folder.symlink_to(tmp_path / "away", target_is_directory=True)
    table = datasets.load("casme_sq", root)
    assert "anger1_1" not in set(table["clip"])
    assert table.attrs["report"]["dropped"][OUTSIDE] == 1


# ----------------------------------------------------------------------------- files that hang
def test_a_fifo_named_like_a_frame_is_a_named_error_not_a_hang(tmp_path):
    fifo = tmp_path / "img7.jpg"
    os.mkfifo(fifo)
    got: list = []

    def read():
        try:
            datasets.read_frame(fifo)
        except Exception as exc:  # noqa: BLE001
            got.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # the old code waits for a writer: release it, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a FIFO named like a frame hangs")
    assert isinstance(got[0], DatasetError)
    assert str(got[0]) == f"{fifo}: frame is a FIFO, not a regular file"


def test_a_cell_running_longer_than_the_profile_allows_fails_its_page_by_name(
    tmp_path, monkeypatch
):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("profile = 'x'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import time\ntime.sleep(60)"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    monkeypatch.setattr(runner, "rendered", lambda template, method=None: nb)
    profiles = {k: dict(v) for k, v in config.load("profiles").items()}
    profiles["smoke"]["cell_timeout_s"] = 3
    real = config.load
    monkeypatch.setattr(config, "load", lambda n: profiles if n == "profiles" else real(n))
    started = time.time()
    out = runner.execute("sleepy.md", str(tmp_path / "page.ipynb"), {"profile": "smoke"})
    assert time.time() - started < 45
    assert out["status"] == "failed"
    assert out["error"].startswith("PageTimeout: a cell ran longer than the profile's ")
    assert "cell_timeout_s (3 s" in out["error"]
    assert not (tmp_path / "page.ipynb").exists()


def test_every_profile_sets_a_cell_timeout_that_no_record_depends_on():
    for name, entry in config.load("profiles").items():
        assert int(entry["cell_timeout_s"]) >= 1800, name
        assert "cell_timeout_s" not in config.profile(name)  # not in any profile id
    assert config.cell_timeout("paper") >= 24 * 3600


# ----------------------------------------------------------------------------- link loops
def test_a_link_loop_in_a_data_folder_is_one_line_naming_the_link(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "img1.jpg").write_bytes(b"x")
    (tmp_path / "d" / "up").symlink_to("..", target_is_directory=True)
    with pytest.raises(DatasetError, match=r"d/up: a link loop") as err:
        fingerprints.files_stamp(tmp_path)
    assert "\n" not in str(err.value)
    (tmp_path / "d" / "up").unlink()
    (tmp_path / "x1").symlink_to("x2")
    (tmp_path / "x2").symlink_to("x1")
    with pytest.raises(DatasetError, match=r"/x[12]: cannot be read \(Too many levels"):
        fingerprints.files_stamp(tmp_path)


# ----------------------------------------------------------------------------- the fold store
def _result(n: int = 2) -> FoldResult:
    return FoldResult(**_plain_result(n))


def _plain_result(n: int = 2) -> dict:
    return {
        "fold": "f0",
        "n_train": 4,
        "n_val": 1,
        "n_test": n,
        "info": {},
        "counts": {"train": [2, 1, 1], "test": [1, 1, 0]},
        "test": {
            "subject": ["s1"] * n,
            "clip": [f"c{i}" for i in range(n)],
            "sample": ["clip"] * n,
            "true": [0, 1][:n],
            "pred": [0, 0][:n],
        },
        "leak": None,
        "smote_info": None,
        "weights": None,
        "seconds": 0.1,
    }


@pytest.mark.parametrize(
    "stored",
    [
        [1, 2],
        None,
        {"key": "KEY", "result": {"fold": "f0"}},  # a result without predictions
        {"key": "KEY", "result": {**_plain_result(), "test": {"true": [0], "pred": [7]}}},
        {"key": "KEY", "result": [1, 2]},
    ],
    ids=["list", "null", "no-predictions", "bad-labels", "result-list"],
)
def test_a_fold_file_of_the_wrong_shape_is_refitted_not_a_crash(tmp_path, stored):
    store = folds.FoldStore(tmp_path)
    key = "ab" + "0" * 62
    if isinstance(stored, dict):
        stored = {**stored, "key": key}
    store.path(key).parent.mkdir(parents=True)
    store.path(key).write_text(json.dumps(stored))
    assert store.get(key) is None


def test_forged_predictions_in_a_fold_file_break_its_digest_and_are_refitted(tmp_path):
    store = folds.FoldStore(tmp_path)
    key = "cd" + "1" * 62
    store.put(key, _result())
    assert store.get(key) == _result()
    stored = json.loads(store.path(key).read_text())
    stored["result"]["test"]["pred"] = stored["result"]["test"]["true"]  # UF1 1.00
    store.path(key).write_text(json.dumps(stored))
    assert store.get(key) is None


def test_force_refits_the_folds_stored_before_the_run(tmp_path, monkeypatch):
    store = folds.FoldStore(tmp_path)
    key = "ef" + "2" * 62
    store.put(key, _result())
    seen = {}

    class Executor:
        workers = 1

        def submit(self, job):
            from concurrent.futures import Future

            seen["refit"] = store.get(key)
            store.put(key, _result(1))  # what the page fits during the run
            seen["after"] = store.get(key)
            fut = Future()
            fut.set_result({"status": "ok", "seconds": 0.0, "error": ""})
            return fut

        def wait(self, futures):
            return set(futures)

    monkeypatch.setattr(runner, "fingerprint", lambda job, deps: "fp")
    monkeypatch.setattr(runner, "read_marker", lambda job: None)
    job = runner.Job("p/x", "t.md", str(tmp_path / "p.ipynb"), {}, [])
    runner.run_jobs([job], executor=Executor(), force=True)
    assert seen == {"refit": None, "after": _result(1)}
    assert config.REFIT_ENV not in os.environ  # restored after the run
    assert store.get(key) == _result(1)


# ----------------------------------------------------------------------------- stage-1 snapshot
@pytest.mark.parametrize("fault", ["no-rows", "float-X", "wrong-shape", "rows-not-objects"])
def test_a_damaged_stage1_snapshot_is_recomputed(tmp_path, monkeypatch, fault):
    prof = config.profile("smoke")
    params = stage1.stage_params(prof["size"], prof["n_frames"])  # keyframe size: the default
    n, t, s, k = 2, params["n_frames"], params["size"], params["keyframe_size"]
    rows = [
        {"dataset": "casme2", "subject": "s1", "clip": f"c{i}", "label": "negative"}
        for i in range(n)
    ]
    meta = {"rows": rows, "excluded": [], "params": params, "source": {}}
    X = np.zeros((n, t, s, s, 1), np.uint8)
    if fault == "no-rows":
        del meta["rows"]
    elif fault == "float-X":
        X = X.astype(np.float64)
    elif fault == "wrong-shape":
        X = np.zeros((n, t, s // 2, s, 1), np.uint8)
    else:
        meta["rows"] = [[1, 2]] * n
    path = stage1._snapshot_path(tmp_path, "casme2", "d1", "smoke", None)
    path.parent.mkdir(parents=True)
    np.savez(
        path,
        X=X,
        keyframes=np.zeros((n, 2, k, k), np.uint8),
        landmarks=np.zeros((n, 68, 2), np.float32),
        meta=np.array(json.dumps(meta)),
    )
    fresh = stage1.ClipSet(
        X=np.ones((1, t, s, s, 1), np.uint8),
        rows=stage1._rows_frame([rows[0]]),
        excluded=stage1._excluded_frame([]),
        params=params,
        keyframes=np.zeros((1, 2, k, k), np.uint8),
        landmarks=np.zeros((1, 68, 2), np.float32),
    )
    monkeypatch.setattr(stage1.datasets, "load", lambda *a, **kw: "table")
    monkeypatch.setattr(stage1, "for_profile", lambda *a, **kw: fresh)
    got = stage1.load_clips("casme2", tmp_path, "smoke", tmp_path, data_id="d1")
    assert got is fresh


# ----------------------------------------------------------------------------- escaping
def _html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).render(markdown)


def test_a_data_folder_name_cannot_break_out_of_the_banner(tmp_path):
    from mer_utils.report import banners

    folder = tmp_path / "x`<img src=x onerror=alert(1)>`"
    text = banners.data_banner("casme2", str(folder), "stand-in", "smoke").data
    html = _html(text)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    status = {"pages": [{"key": "casme2/10-<b>x</b>", "status": "failed"}]}
    (tmp_path / "r").mkdir()
    from mer_utils.results import manifest_path

    Path(manifest_path(tmp_path / "r")).write_text(json.dumps(status))
    text = banners.sources_banner({"casme2": "stand-in"}, "smoke", str(tmp_path / "r")).data
    assert "<b>" not in _html(text) and "10-&lt;b&gt;x" in _html(text)


def test_the_repository_variables_land_escaped_in_the_edit_link(monkeypatch):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("mer_book", runner.REPO / "book/_ext/mer_book.py")
    ext = importlib.util.module_from_spec(spec)
    sys.modules["mer_book"] = ext
    try:
        spec.loader.exec_module(ext)
        monkeypatch.setenv(ext.URL_ENV, "https://github.com/o/r")
        monkeypatch.setenv(ext.BRANCH_ENV, 'main"><script>alert(1)</script>')
        conf = SimpleNamespace(html_theme_options={}, html_context={})
        ext.configure_repository(None, conf)
        branch = conf.html_theme_options["repository_branch"]
        link = ext.edit_link("https://github.com/o/r", branch, 'book/a"b.md')
        for text in (branch, link):
            assert not set(text) & set("\"'<> "), text
        assert "%22%3E%3Cscript%3E" in link and "a%22b.md" in link
        monkeypatch.setenv(ext.URL_ENV, 'https://github.com/o/r"onmouseover="x')
        with pytest.raises(ValueError, match="do not belong in a repository URL"):
            ext.repository_url()
    finally:
        sys.modules.pop("mer_book", None)


def test_a_dollar_in_a_clip_name_draws_as_text_in_a_face_figure():
    from mer_utils.report import stages

    clips = SimpleNamespace(
        X=np.zeros((1, 2, 8, 8, 1), np.uint8),
        rows=pd.DataFrame({"subject": ["s$1"], "clip": ["EP$\\frac{$_x"], "label": ["negative"]}),
    )
    fig = stages.montage(clips)
    fig.savefig(io.BytesIO(), format="png")  # mathtext would raise here
    assert fig._suptitle.get_text() == r"s\$1/EP\$\frac{\$_x (negative)"


# ----------------------------------------------------------------------------- cells and folds
def test_a_formula_without_a_cached_value_is_named_as_a_formula(tmp_path):
    rows = [["01", "EP02_01f", None, "=7+1", 10, 12, None, "12", "happiness", 1]]
    root = make_casme2(tmp_path / "CASME2", rows)
    with pytest.raises(DatasetError, match=r"row 2: onset frame: a formula \(=7\+1\) without a"):
        datasets.load("casme2", root)
    _workbook(
        root / "CASME2-coding-20190701.xlsx",
        {"Sheet1": [CASME2_HEADER, ["=A1", "EP02_01f", None, 8, 10, 12, None, "1", "happiness"]]},
    )
    with pytest.raises(DatasetError, match=r"subject: a formula \(=A1\)"):
        datasets.load("casme2", root)


def test_a_fold_trained_without_a_class_is_noted_in_its_record_and_on_the_page():
    from mer_utils import experiment
    from mer_utils.report import method

    key = {f.name: "x" for f in dataclasses.fields(schema.Key)} | {"seed": 0, "repeat": 0}
    counts = {k: [0, 3, 2] for k in ("train", "train_resampled", "val", "test")}
    row = experiment._fold_row(key, dataclasses.replace(_result(), counts=counts), 1)
    assert row.note == f"{schema.LACKS} negative"
    fine_counts = counts | {"train": [1, 3, 2]}
    fine = experiment._fold_row(key, dataclasses.replace(_result(), counts=fine_counts), 1)
    assert fine.note == ""
    folds_ = pd.DataFrame([dataclasses.asdict(row), dataclasses.asdict(fine)]).assign(
        protocol="loso"
    )
    text = method.lacking(SimpleNamespace(folds=folds_))
    assert "1 folds (1 under `loso`) trained without any clip of a class" in text


# ----------------------------------------------------------------------------- stand-ins
def test_system_files_in_a_standin_are_ignored_and_an_extra_file_is_named(standins, tmp_path):
    root = tmp_path / "SMIC"
    shutil.copytree(standins["smic"], root)
    assert sources.check_marker(root)[1] is None
    for name in (".DS_Store", "Thumbs.db", "desktop.ini", "._img.bmp"):
        (root / "HS" / name).write_bytes(b"\0" * 6148)
    assert sources.check_marker(root)[1] is None and sources.is_standin(root)
    time.sleep(0.05)
    (root / "HS" / "notes.txt").write_text("mine")
    problem = sources.check_marker(root)[1]
    assert problem.endswith("changed since the marker: HS/notes.txt")
