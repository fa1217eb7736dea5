"""Fault injection: every way the study used to give wrong or mislabelled results with exit 0,
or leave a mess after an interrupt, with the documented outcome asserted.

Silent wrong data must become a clear error naming the file, or a counted, listed exclusion.
Interrupts (Ctrl-C, SIGKILL) are sent to a real runner process (smoke profile): afterwards no
process of it remains, no partial page sits at a final path, and a resumed run yields exactly one
record per key.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest
from test_datasets import SAMM_HEADER, make_casme2, make_samm

from mer_utils import config, datasets, experiment, results, schema, sources, stage1
from mer_utils.build import fingerprints, grid, processes, runner, study
from mer_utils.datasets import DatasetError
from mer_utils.sources import PARTIAL, standin_root, write_marker


# ----------------------------------------------------------------------------- silent wrong data
def _jpeg(path: Path, value: int = 120) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    assert cv2.imwrite(str(path), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return path


def test_a_truncated_jpeg_is_an_error_naming_the_file(tmp_path):
    frame = _jpeg(tmp_path / "img5.jpg")
    data = frame.read_bytes()
    frame.write_bytes(data[: len(data) * 2 // 3])  # cut mid-scan: libjpeg would fill it grey
    with pytest.raises(DatasetError, match=r"img5\.jpg: frame is truncated or corrupt"):
        datasets.read_frame(frame)
    # and stage 1 stops on it instead of training on a half-grey frame
    root = make_casme2(tmp_path / "CASME2")
    victim = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img10.jpg"
    victim.write_bytes(_jpeg(tmp_path / "x.jpg").read_bytes()[:200])
    table = datasets.load("casme2", root)
    with pytest.raises(DatasetError, match=r"img10\.jpg: frame is truncated"):
        stage1.preprocess(table, size=16, n_frames=5)


def test_truncated_bmp_and_png_are_detected_too(tmp_path):
    import cv2

    for name in ("a.bmp", "a.png"):
        path = tmp_path / name
        assert cv2.imwrite(str(path), np.full((20, 20, 3), 90, np.uint8))
        path.write_bytes(path.read_bytes()[:-30])
        with pytest.raises(DatasetError, match="truncated or corrupt"):
            datasets.read_frame(path)


def test_permission_errors_name_the_path(tmp_path, monkeypatch):
    frame = _jpeg(tmp_path / "img1.jpg")
    real_open = open

    def denied(path, *args, **kwargs):
        if str(path) == str(frame):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(DatasetError, match=r"img1\.jpg: frame cannot be read: permission denied"):
        datasets.read_frame(frame)
    monkeypatch.undo()

    def scandir_denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    from mer_utils.datasets import _frames

    monkeypatch.setattr(_frames.os, "scandir", scandir_denied)
    with pytest.raises(DatasetError, match=r"EP02_01f: permission denied"):
        _frames.list_frames(tmp_path / "EP02_01f", ["jpg"])
    monkeypatch.setattr(fingerprints.os, "scandir", scandir_denied)
    with pytest.raises(DatasetError, match="permission denied"):
        fingerprints.files_stamp(tmp_path)


def test_the_data_fingerprint_sees_a_frame_replaced_in_place(tmp_path):
    root = make_casme2(tmp_path / "CASME2")
    frame = root / "CASME2_RAW_selected" / "sub03" / "EP01_01" / "img2.jpg"
    before = fingerprints.files_stamp(root)
    assert fingerprints.files_stamp(root) == before  # stable
    data = frame.read_bytes()
    frame.write_bytes(data[::-1])  # same size, new content and mtime
    os.utime(frame, ns=(frame.stat().st_atime_ns, frame.stat().st_mtime_ns + 10**9))
    after = fingerprints.files_stamp(root)
    assert after != before
    frame.rename(frame.with_name("img99.jpg"))
    assert fingerprints.files_stamp(root) != after
    source = sources.Source("casme2", str(root), "licensed")
    assert fingerprints.data_stamp(source) == fingerprints.files_stamp(root)


def test_the_data_kind_comes_from_the_folder_not_from_how_it_was_passed(tmp_path):
    standin = tmp_path / "roots" / "SMIC"
    standin.mkdir(parents=True)
    write_marker(standin, {"standin": True, "dataset": "smic"})
    licensed = tmp_path / "mine" / "CASME2"
    licensed.mkdir(parents=True)
    chosen = sources.resolve_sources(
        ["smic", "casme2"], str(tmp_path / "roots"), {"casme2": str(licensed)}
    )
    assert chosen["smic"].kind == "stand-in"  # given as --data-root, still a stand-in
    assert chosen["casme2"].kind == "licensed"
    chosen = sources.resolve_sources(["smic"], None, {"smic": str(standin)})
    assert chosen["smic"].kind == "stand-in"  # given as --dataset-dir, still a stand-in
    half = tmp_path / "half" / "SAMM"
    half.mkdir(parents=True)
    (half / PARTIAL).write_text("")
    with pytest.raises(sources.SourceError, match="did not finish"):
        sources.resolve_sources(["samm"], None, {"samm": str(half)})


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset-dir", "smic=/no/such/folder"], "does not exist"),
        (["--data-root", "/no/such/root"], "does not exist"),
        (["--dataset-dir", "smic="], "empty path"),
        (["--datasets", "samm", "--dataset-dir", "smic=/tmp"], "not among the selected"),
        (["--annotation", "casme2=x.xlsx", "--datasets", "samm"], "not among the selected"),
        (["--profile", "fast"], "invalid choice: 'fast'"),
        (["--jobs", "0"], "must be at least 1"),
        (["--jobs", "-2"], "must be at least 1"),
    ],
)
def test_bad_command_lines_are_errors_not_fallbacks(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        study.main([*args, "--list"])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_a_data_root_that_is_a_file_is_an_error(tmp_path, capsys):
    a_file = tmp_path / "root.txt"
    a_file.write_text("")
    with pytest.raises(SystemExit):
        study.main(["--data-root", str(a_file), "--list"])
    assert "is a file, not a folder" in capsys.readouterr().err


def test_only_the_implicit_default_data_root_may_be_missing(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(sources.DATA_ROOT_ENV, raising=False)
    assert not (study.REPO / sources.DEFAULT_DATA_ROOT).exists()
    smoke = config.profile("smoke")["standin"]
    with caplog.at_level("INFO"):
        chosen = sources.resolve_sources(["samm"], None, {}, standins=tmp_path, standin=smoke)
    assert chosen["samm"].kind == "stand-in"
    assert chosen["samm"].dir == str(standin_root(tmp_path, smoke) / "SAMM")
    assert "default data root" in caplog.text


def test_samm_onset_after_offset_is_a_listed_skip(tmp_path):
    from mer_utils.report import dataset as dataset_page

    root = make_samm(tmp_path / "SAMM")
    book = root / "SAMM_Micro_FACS_Codes_v2.xlsx"
    import openpyxl

    wb = openpyxl.load_workbook(book)
    ws = wb["MICRO_ONLY"]
    header_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == SAMM_HEADER[0])
    first = header_row + 1
    onset = ws.cell(first, 4).value
    ws.cell(first, 6).value = onset - 1  # offset before onset
    wb.save(book)
    table = datasets.load("samm", root)
    skipped = table.attrs["report"]["skipped"]
    assert any(s["reason"] == "onset after offset" and s["row"] == first for s in skipped)
    assert table.attrs["report"]["dropped"]["onset after offset"] == 1
    shown = dataset_page.skipped_table(table)
    assert "onset after offset" in shown.data


def test_two_matching_annotation_files_are_an_error_with_a_way_to_choose(tmp_path):
    root = make_casme2(tmp_path / "CASME2")
    second = root / "CASME2-coding-20140508.xlsx"
    shutil.copy(root / "CASME2-coding-20190701.xlsx", second)
    with pytest.raises(
        DatasetError,
        match=r"CASME2-coding-20140508\.xlsx, CASME2-coding-20190701\.xlsx.*--annotation",
    ):
        datasets.load("casme2", root)
    assert len(datasets.load("casme2", root, annotation=second.name)) > 0
    jobs = grid.plan(
        sources.resolve_sources(
            ["casme2"], None, {"casme2": str(root)}, annotations={"casme2": second.name}
        ),
        "smoke",
        ["MER-3DCNNST"],
        ["paper"],
        0,
    )
    assert {j.parameters.get("annotation") for j in jobs if j.key.startswith("casme2/")} == {
        second.name
    }


# ----------------------------------------------------------------------------- runner details
def test_a_kernel_that_dies_at_start_is_started_once_more(tmp_path, monkeypatch):
    import papermill

    template = tmp_path / "t.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, template)
    calls = []

    def flaky(src, out, **kwargs):
        calls.append(out)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        nbformat.write(src, out)

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    result = runner.execute(str(template), str(tmp_path / "out.ipynb"), {})
    assert result["status"] == "ok" and len(calls) == 2
    assert (tmp_path / "out.ipynb").exists() and not list(
        tmp_path.glob(f"*{runner.RUNNING_SUFFIX}")
    )

    def failing_cell(src, out, **kwargs):
        calls.append(out)
        raise papermill.PapermillExecutionError(0, 1, "boom", "ValueError", "boom", [])

    calls.clear()
    monkeypatch.setattr(papermill, "execute_notebook", failing_cell)
    result = runner.execute(str(template), str(tmp_path / "bad.ipynb"), {})
    assert result["status"] == "failed" and len(calls) == 1  # a failing cell is not retried
    assert not (tmp_path / "bad.ipynb").exists()  # and leaves no partial page


def test_a_second_runner_on_the_same_results_stops_with_a_clear_message(tmp_path, capsys):
    with processes.RunLock(tmp_path / "book" / "results"):
        with pytest.raises(SystemExit, match="another runner is using"):
            with processes.RunLock(tmp_path / "book" / "results"):
                pass
    with processes.RunLock(tmp_path / "book" / "results"):  # released on exit
        pass


def test_after_a_stop_signals_stay_ignored_until_the_process_has_exited():
    """The runner's second SIGTERM may arrive after its clean-up, while Python shuts down;
    Python then resets its own handlers to the default, and the signal killed the runner (-15)
    instead of letting it exit with 143. After a stop both signals are ignored by the operating
    system (SIG_IGN), which Python leaves in place; without a stop the handlers are restored."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with processes.stop_signals():
            pass
        assert {s: signal.getsignal(s) for s in before} == before
        with pytest.raises(processes.Stopped) as stop:
            with processes.stop_signals():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)  # the handler raises at the next bytecode
        assert stop.value.status == 143
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        for s, h in before.items():
            signal.signal(s, h)


def test_make_clean_book_removes_the_summary_pages():
    out = subprocess.run(
        ["make", "-n", "clean-book"], cwd=study.REPO, capture_output=True, text=True, check=True
    ).stdout
    assert "book/summary" in out and "book/datasets" in out and "book/results" in out


# ----------------------------------------------------------------------------- interrupts
DATASET = "casme_sq"
RUN_ARGS = [
    "--profile",
    "smoke",
    "--datasets",
    DATASET,
    "--methods",
    "MER-3DCNNST",
    "FLOW-LINEAR",
    "--protocols",
    "paper",
    "kfold",
    "--jobs",
    "2",
]


def _start(tmp: Path, standins: Path, token: str) -> subprocess.Popen:
    env = {**os.environ, "MER_FAULT_TOKEN": token, "PYTHONPATH": str(study.REPO)}
    args = [
        sys.executable,
        "-m",
        "mer_utils.build.study",
        *RUN_ARGS,
        "--book-dir",
        str(tmp / "book"),
        "--cache-dir",
        str(tmp / "cache"),
        "--standins-dir",
        str(standins),
    ]
    return subprocess.Popen(
        args,
        cwd=study.REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # as from a terminal: a shell's background job (CI, nohup ... &) inherits SIGINT ignored,
        # and Python then installs no KeyboardInterrupt handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _processes_with(token: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if f"MER_FAULT_TOKEN={token}".encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _wait_until(predicate, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _running_pages(book: Path) -> list[Path]:
    return list(book.rglob(f"*{runner.RUNNING_SUFFIX}"))


def _assert_final_pages_complete(book: Path) -> None:
    for page in book.rglob("*.ipynb"):
        if page.name.endswith(runner.RUNNING_SUFFIX):
            continue
        nb = nbformat.read(page, as_version=4)
        meta = nb.metadata.get("papermill")
        if meta is None:  # a placeholder for a page outside the run
            assert "not executed" in nb.cells[0].source, page
            continue
        assert not meta.get("exception") and meta.get("end_time"), page
        assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code"), page


def _interrupt_midway(tmp: Path, standins: Path, sig: int) -> tuple[subprocess.Popen, str]:
    token = uuid.uuid4().hex
    proc = _start(tmp, standins, token)
    book = tmp / "book"

    # wait until at least one page finished and a method page is training: the evaluation
    # and summary pages still wait for it, so the run cannot end before the signal arrives
    pages = {m["page"] for m in config.methods().values()}

    def midway() -> bool:  # a running page is <page>.<pid>.running.ipynb
        running = [p.name.split(".")[0] for p in _running_pages(book)]
        return bool(list(book.rglob("*.done.json"))) and any(n in pages for n in running)

    assert _wait_until(midway, 240), (
        proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "runner too slow"
    )
    if sig == signal.SIGINT:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    else:
        os.kill(proc.pid, sig)  # what `kill` (SIGTERM) or `kill -9` sends
    return proc, token


@pytest.fixture
def stage1_cache(tmp_path, smoke_build) -> None:
    """The smoke build's stage-1 cache (tests/conftest.py) copied to where the runs below keep
    theirs: they start as a rerun of the study does, stage 1 read back rather than recomputed
    (what they test happens after it; the smoke build computes it)."""
    shutil.copytree(smoke_build["cache"], tmp_path / "cache")


def _resume_and_check(tmp: Path, standins: Path) -> None:
    token = uuid.uuid4().hex
    proc = _start(tmp, standins, token)
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()[-3000:]
    book = tmp / "book"
    assert not _running_pages(book) and not list(book.rglob(".*.tmp-*"))
    _assert_final_pages_complete(book)
    table = results.load(book / "results", profile="smoke").metrics
    assert len(table) and not table.duplicated(list(schema.KEY)).any()
    prof = config.profile("smoke")
    expected = {
        (m, p, r)
        for m in ("MER-3DCNNST", "FLOW-LINEAR")
        for p in ("paper", "kfold")
        for r in range(experiment.repeats_of(p, prof))
    }
    assert set(zip(table["method"], table["protocol"], table["repeat"])) == expected
    manifest = json.loads((book / "results" / "manifest.json").read_text())
    assert {p["status"] for p in manifest["pages"]} <= {"ok", "cached"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, status",
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["ctrl-c twice", "sigterm twice"],
)
def test_ctrl_c_or_sigterm_stops_at_once_keeps_what_finished_and_leaves_no_partial_page(
    tmp_path, standins_dir, stage1_cache, sig, status
):
    """Resuming is checked after SIGKILL (the next test), which leaves more behind than a
    stop by signal does: partial pages, no manifest update, workers to take down."""
    proc, token = _interrupt_midway(tmp_path, standins_dir, sig)
    start = time.time()
    time.sleep(0.3)  # an impatient user presses again while the runner stops
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig) if sig == signal.SIGINT else os.kill(proc.pid, sig)
    assert proc.wait(timeout=30) == status
    assert time.time() - start < 15, "a stop signal must stop promptly, not wait for pages"
    err = proc.stderr.read().decode()
    assert "Interrupted" in err and "Traceback" not in err, err[-2000:]
    assert _wait_until(lambda: not _processes_with(token), 15), _processes_with(token)
    book = tmp_path / "book"
    assert not _running_pages(book)  # the partial pages were removed
    _assert_final_pages_complete(book)
    kept = list(book.rglob("*.done.json"))
    assert kept, "finished pages are kept"
    manifest = json.loads((book / "results" / "manifest.json").read_text())
    statuses = {p["status"] for p in manifest["pages"]}
    assert "interrupted" in statuses and "pending" not in statuses, statuses


@pytest.mark.slow
def test_sigkill_of_the_runner_takes_its_workers_and_kernels_down(
    tmp_path, standins_dir, stage1_cache
):
    proc, token = _interrupt_midway(tmp_path, standins_dir, signal.SIGKILL)
    proc.wait(timeout=10)
    assert _wait_until(lambda: not _processes_with(token), 20), (
        f"processes left behind: {_processes_with(token)}"
    )
    _assert_final_pages_complete(tmp_path / "book")  # partial pages only under *.running names
    _resume_and_check(tmp_path, standins_dir)


def test_results_table_rows_stay_unique_when_a_page_writes_again(tmp_path):
    from test_schema import _run

    results.write_run(tmp_path, _run(accuracy=0.5))
    results.write_run(tmp_path, _run(accuracy=0.7))
    table = results.load(tmp_path).metrics
    assert len(table) == 1 and table["accuracy"].iloc[0] == 0.7
