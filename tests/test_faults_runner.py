"""Fault injection, second round (issue 20): what the runner does with damaged results, stale
records, unusable paths and options, stop signals, and the environment it gives its kernels.

Each test reproduces one case of the hostile probe and asserts the clear message or the fixed
behaviour. The stand-in fixture (``standins_dir``) is the smoke profile's CAS(ME)^2 stand-in.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_datasets import make_casme2
from test_faults import DATASET
from test_schema import _run

from mer_utils import config, results
from mer_utils.build import fingerprints, processes, runner, study
from mer_utils.datasets import DatasetError
from mer_utils.datasets._frames import read_image
from mer_utils.report import banners
from mer_utils.sources import Source

SMOKE = ["--profile", "smoke", "--methods", "MER-3DCNNST", "--protocols", "kfold"]


# ----------------------------------------------------------------------------- stale records
def test_records_of_other_profile_values_or_other_data_are_never_shown(tmp_path):
    """BAD 2 and 3: a record made under other profile values, or on other data, stays in the
    table but no page shows it."""
    now = results.params_id(config.profile("smoke"))
    results.write_run(tmp_path, _run(profile="smoke", profile_id=now, repeat=0, accuracy=0.4))
    results.write_run(tmp_path, _run(profile="smoke", profile_id="old", repeat=1, accuracy=0.9))
    results.write_run(tmp_path, _run(profile="smoke", profile_id=now, repeat=2, data_id="lic"))
    assert len(results.load(tmp_path).metrics) == 3
    shown = results.current(tmp_path, "smoke", ["d"], 0, {"d": "a"}).metrics
    assert list(shown["repeat"]) == [0] and list(shown["accuracy"]) == [0.4]


def test_the_runner_says_how_many_records_it_will_not_show(tmp_path, caplog, monkeypatch):
    now = results.params_id(config.profile("smoke"))
    results.write_run(tmp_path, _run(profile="smoke", profile_id="old", dataset="casme2"))
    results.write_run(tmp_path, _run(profile="smoke", profile_id=now, dataset="casme2"))
    with caplog.at_level("INFO"):
        study.log_hidden(results.load(tmp_path), "smoke", {"casme2": "other data"})
    assert "1 records made under other values of profile smoke" in caplog.text
    assert "2 records of casme2 on other data" in caplog.text


# ----------------------------------------------------------------------------- damaged input
def test_a_damaged_results_table_stops_the_run_before_any_page(tmp_path, capsys):
    book = tmp_path / "book"
    results.write_run(book / "results", _run())
    table = book / "results" / "metrics.csv"
    table.write_text(table.read_text().rsplit(",", 3)[0] + "\n")  # a truncated last row
    argv = [*SMOKE, "--datasets", "casme2", "--book-dir", str(book)]
    status = study.main([*argv, "--standins-dir", str(tmp_path / "st")])
    err = capsys.readouterr().err
    assert status == 1 and "metrics.csv: row 2 has" in err and "No page was run" in err
    assert not (book / "datasets").exists() and not (tmp_path / "st").exists()


def test_a_broken_link_or_an_empty_frame_names_the_file(tmp_path, capsys):
    root = make_casme2(tmp_path / "CASME2")
    frames = sorted((root / "CASME2_RAW_selected" / "sub01" / "EP02_01f").glob("*.jpg"))
    frames[0].write_bytes(b"")
    with pytest.raises(
        DatasetError, match=rf"{frames[0].name}: frame is an empty file \(0 bytes\)"
    ):
        read_image(str(frames[0]))
    frames[1].unlink()
    frames[1].symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(DatasetError, match=f"{frames[1].name}: a broken link"):
        fingerprints.files_stamp(root)
    argv = [*SMOKE, "--datasets", "casme2", "--dataset-dir", f"casme2={root}"]
    status = study.main([*argv, "--book-dir", str(tmp_path / "book")])
    err = capsys.readouterr().err
    assert status == 1 and f"{frames[1].name}: a broken link" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- paths and options
def test_a_book_folder_that_cannot_be_written_is_a_clear_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit, match="cannot write to the book folder .*give a writable"):
        with processes.RunLock(blocker / "book" / "results"):
            pass


def test_relative_paths_on_the_command_line_are_relative_to_the_current_folder(
    tmp_path, monkeypatch, capsys
):
    make_casme2(tmp_path / "lic" / "CASME2")
    monkeypatch.chdir(tmp_path)
    args = study.parser().parse_args(["--book-dir", "mybook", "--data-root", "lic"])
    study.resolve_paths(args)
    assert args.book_dir == tmp_path / "mybook" and args.data_root == str(tmp_path / "lic")
    assert study.main([*SMOKE, "--datasets", "casme2", "--data-root", "lic", "--list"]) == 0
    assert study.main([*SMOKE, "--datasets", "casme2", "--book-dir", "mybook", "--list"]) == 0
    assert f"-> {tmp_path / 'mybook' / 'datasets' / 'casme2'}" in capsys.readouterr().out
    defaults = study.parser().parse_args([])
    study.resolve_paths(defaults)
    assert defaults.book_dir == Path("book")  # the repository's own folder, kept relative


@pytest.mark.parametrize("address", ["tcp//nowhere", "localhost", "tcp://host:port"])
def test_a_malformed_scheduler_address_is_refused_at_once(address, capsys):
    with pytest.raises(SystemExit):
        study.main([*SMOKE, "--datasets", "casme2", "--scheduler", address, "--list"])
    assert "expected an address like tcp://host:8786" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_a_clear_message(monkeypatch):
    from mer_utils.build import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    args = argparse.Namespace(scheduler="tcp://127.0.0.1:9", jobs=1, cache_dir=Path("c"))
    with pytest.raises(SystemExit, match="tcp://127.0.0.1:9: cannot reach the Dask scheduler"):
        study._executor(args, {})


# ----------------------------------------------------------------------------- summary pages
def test_a_summary_banner_names_the_datasets_whose_pages_failed(tmp_path):
    pages = [
        {"key": "casme2/00-overview", "status": "ok"},
        {"key": "casme2/10-MER-3DCNNST", "status": "failed"},
        {"key": "smic/00-overview", "status": "cached"},
        {"key": "summary/results", "status": "pending"},
        {"key": "samm/00-overview", "status": "running"},  # not finished yet: not "incomplete"
        {"key": "casme_sq/00-overview", "status": "pending"},
    ]
    (tmp_path / "manifest.json").write_text(json.dumps({"pages": pages}))
    kinds = {"casme2": "stand-in", "smic": "stand-in", "samm": "stand-in", "casme_sq": "stand-in"}
    text = banners.sources_banner(kinds, "smoke", tmp_path)
    page = r"10\-MER\-3DCNNST failed"  # page names are escaped for Markdown (report.escape)
    assert f"Not complete in the latest run:** CASME II ({page})" in text.data
    assert "SMIC" not in text.data.split("Not complete")[1]
    assert f"CASME II ({page}). Their numbers" in text.data  # SAMM, CAS(ME)² run on
    plain = banners.sources_banner({"smic": "stand-in"}, "smoke", tmp_path / "nothing-here")
    assert "Not complete" not in plain.data


# ----------------------------------------------------------------------------- kernels and GPUs
def test_kernels_get_gpu_memory_growth_from_the_runner(tmp_path, monkeypatch):
    """Two pages train at once: each kernel must take GPU memory as it needs it. The kernel here
    imports nothing of mer_utils, so what it prints is what the runner gave it."""
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    template = tmp_path / "env.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import os\nprint(os.environ.get('TF_FORCE_GPU_ALLOW_GROWTH'), "
            "os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"
        )
    ]
    nbformat.write(nb, template)
    job = runner.Job("t/env", str(template), str(tmp_path / "out.ipynb"), {}, [])
    executor = runner.LocalExecutor(1)
    try:
        result = executor.wait([executor.submit(job)]).pop().result()
    finally:
        executor.close()
    assert result["status"] == "ok", result
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0]["text"]
    assert out.split() == ["true", "1"]


def test_a_users_own_gpu_setting_is_kept():
    env = {"TF_FORCE_GPU_ALLOW_GROWTH": "false"}
    assert processes.kernel_environment(env)["TF_FORCE_GPU_ALLOW_GROWTH"] == "false"
    assert processes.kernel_environment({})["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


# ----------------------------------------------------------------------------- stand-in lock
@pytest.mark.slow
def test_the_runner_holds_its_stand_ins_for_the_whole_run(tmp_path, standins_dir, monkeypatch):
    """WEAK, stand-ins have no lock: while a run reads a stand-in, another process that would
    rewrite it stops at once, naming the runner."""
    seen = {}

    def other_generator(jobs, **kwargs):
        folder = Path(
            next(j for j in jobs if "dataset_dir" in j.parameters).parameters["dataset_dir"]
        )
        code = (
            "import sys; from mer_utils.locks import standin_lock\n"
            f"with standin_lock([{str(study.REPO / folder)!r}], exclusive=True): pass"
        )
        seen["other"] = subprocess.run(
            [sys.executable, "-c", code],
            cwd=study.REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(study.REPO)},
        )
        return {j.key: {"status": "ok", "seconds": 0.0, "error": ""} for j in jobs}

    monkeypatch.setattr(study, "run_jobs", other_generator)
    argv = [*SMOKE, "--datasets", DATASET, "--standins-dir", str(standins_dir)]
    assert study.main([*argv, "--book-dir", str(tmp_path / "book")]) == 0
    other = seen["other"]
    assert other.returncode == 1 and "in use" in other.stderr and str(os.getpid()) in other.stderr


def test_sources_of_licensed_runs_are_not_locked(tmp_path):
    # only stand-ins are locked: a licence holder's read-only copy gets no lock file beside it
    from mer_utils.locks import standin_lock

    licensed = make_casme2(tmp_path / "CASME2")
    with standin_lock([Source("casme2", str(licensed), "licensed")]):
        pass
    assert not (tmp_path / "CASME2.lock").exists()
