"""Fault injection for the stand-ins: what used to overwrite, mislabel or leave a mess.

* a runner of another profile deleted and regenerated the stand-in another runner was reading:
  stand-ins of other parameters now live beside each other, in folders named by a digest of
  the parameters, and a folder in use is never rewritten (locks);
* a copied or edited ``STANDIN.json`` made any folder a stand-in: the marker must now match
  its folder, or the folder is licensed data;
* SIGKILL of a generation left its rendering workers running; Ctrl-C printed a traceback from
  every worker;
* ``--standins-dir`` pointing at licensed data gave a raw ``FileExistsError``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_datasets import make_casme2

from mer_utils import config, sources, standins
from mer_utils.build import study

TINY = {"subjects": 2, "max_clip_frames": 8}
"""The smallest useful stand-in: the two largest subjects, clips cut to 8 frames."""
REPO = Path(__file__).resolve().parent.parent


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime) of every file under ``root``."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _wait_until(predicate, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


# ----------------------------------------------------------------------------- beside, not over
def test_stand_ins_of_other_parameters_live_beside_each_other(tmp_path, capsys):
    digests = {
        p: sources.standin_digest(config.profile(p)["standin"]) for p in config.load("profiles")
    }
    # one folder per set of stand-in parameters: profiles that read the same stand-ins (the
    # scale checks read their book's) share it, and no two different sets do
    params = {
        p: json.dumps(sources.standin_params(config.profile(p)["standin"]), sort_keys=True)
        for p in digests
    }
    assert len(set(digests.values())) == len(set(params.values())) >= 3
    assert digests["smoke-scale"] == digests["smoke"] and digests["scale"] == digests["quick"]
    smoke = config.profile("smoke")["standin"]
    root = sources.standin_root(tmp_path, smoke)
    assert root == tmp_path / digests["smoke"] and len(root.name) == 12
    assert sources.standin_root(tmp_path, {**smoke, "seed": 0}) == root  # defaults filled in
    assert sources.main(["smoke", "smic", "--standins-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(root / "SMIC")

    # two runs of other parameters: the runner's sources point into their own folders, and
    # preparing the second leaves the first's files as they were
    profiles = [{"standin": {**TINY, "seed": 0}}, {"standin": {**TINY, "seed": 1}}]
    folders = []
    for profile in profiles:
        found = sources.resolve_sources(
            ["smic"], None, {}, standins=tmp_path, standin=profile["standin"]
        )
        assert found["smic"].kind == "stand-in"
        folder = Path(found["smic"].dir)
        assert folder == sources.standin_root(tmp_path, profile["standin"]) / "SMIC"
        study.prepare_standins(found, profile, standins=tmp_path)
        assert sources.is_standin(folder)
        folders.append((folder, _snapshot(folder)))
    assert folders[0][0] != folders[1][0]
    assert _snapshot(folders[0][0]) == folders[0][1], "the first profile's stand-in was rewritten"
    seeds = [json.loads((f / sources.MARKER).read_text())["seed"] for f, _ in folders]
    assert seeds == [0, 1]


# ----------------------------------------------------------------------------- locks
HOLD = """
import sys, time
from pathlib import Path
from mer_utils import sources
with sources.standin_lock([Path(sys.argv[1])], exclusive=sys.argv[2] == "exclusive"):
    print("held", flush=True)
    time.sleep(120)
"""


def _hold(folder: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder), mode], stdout=subprocess.PIPE, env=env
    )
    assert proc.stdout.readline().strip() == b"held"
    return proc


def test_a_stand_in_in_use_is_never_rewritten_and_the_generator_says_by_whom(tmp_path):
    root = standins.generate_all(tmp_path, datasets=["smic"], workers=1, **TINY)["smic"]
    before = _snapshot(root)
    reader = _hold(root, "shared")  # a runner reading the stand-in
    try:
        start = time.time()
        with pytest.raises(sources.StandinInUse) as busy:  # other parameters: must rewrite it
            standins.generate_all(tmp_path, seed=1, datasets=["smic"], workers=1, **TINY)
        assert time.time() - start < 10, "the generator must stop at once, not wait"
        message = str(busy.value)
        assert str(root) in message and f"pid {reader.pid}" in message, message
        assert "\n" not in message and not busy.value.writing
        assert _snapshot(root) == before and sources.is_standin(root)  # nothing deleted
        # a generation with the same parameters finds it up to date and reads it as it is
        standins.generate_all(tmp_path, datasets=["smic"], workers=1, **TINY)
        assert _snapshot(root) == before
    finally:
        reader.kill()
        reader.wait()
    # once the reader is gone, the generator rewrites it
    standins.generate_all(tmp_path, seed=1, datasets=["smic"], workers=1, **TINY)
    assert json.loads((root / sources.MARKER).read_text())["seed"] == 1

    # a process writing the folder: a reader that may not wait is told so
    writer = _hold(root, "exclusive")
    try:
        with pytest.raises(sources.StandinInUse) as busy:
            with sources.standin_lock([root], wait=False):
                pass
        assert busy.value.writing and f"pid {writer.pid}" in str(busy.value)
    finally:
        writer.kill()
        writer.wait()

    # one process may hold the shared lock and generate into the same folder (a runner)
    with sources.standin_lock([root]):
        standins.generate_all(tmp_path, seed=2, datasets=["smic"], workers=1, **TINY)
        assert json.loads((root / sources.MARKER).read_text())["seed"] == 2
        other = _hold(root, "shared")  # still shared after the generation: readers get in
        other.kill()
        other.wait()


# ----------------------------------------------------------------------------- the marker
def test_a_marker_that_does_not_match_its_folder_makes_the_folder_licensed(tmp_path, caplog):
    root = standins.generate_all(tmp_path / "gen", datasets=["casme2"], workers=1, **TINY)["casme2"]
    assert sources.is_standin(root)
    marker = json.loads((root / sources.MARKER).read_text())
    assert marker["contents"]["files"] == sum(1 for p in root.rglob("*") if p.is_file()) - 1
    assert set(marker["contents"]["annotations"]) == {"CASME2-coding-20190701.xlsx"}

    def copy(name: str) -> Path:
        return Path(shutil.copytree(root, tmp_path / name / "CASME2"))

    licensed = make_casme2(tmp_path / "licensed" / "CASME2")  # a licensed copy's own files
    shutil.copy(root / sources.MARKER, licensed / sources.MARKER)
    tampered = copy("tampered")
    edited = json.loads((tampered / sources.MARKER).read_text())
    edited["expected_counts"]["negative"] += 1
    (tampered / sources.MARKER).write_text(json.dumps(edited))
    added = copy("added")
    (added / "CASME2_RAW_selected" / "notes.txt").write_text("mine")
    removed = copy("removed")
    next(removed.rglob("*.jpg")).unlink()
    resized = copy("resized")
    frame = next(resized.rglob("*.jpg"))
    frame.write_bytes(frame.read_bytes() + b"\0")
    rewritten = copy("rewritten")  # same size, other content
    sheet = rewritten / "CASME2-coding-20190701.xlsx"
    data = bytearray(sheet.read_bytes())
    data[-10] ^= 0xFF
    sheet.write_bytes(bytes(data))
    cases = {
        licensed: "files added, removed or resized",
        tampered: "fields were changed",
        added: "files added, removed or resized",
        removed: "files added, removed or resized",
        resized: "files added, removed or resized",
        rewritten: "annotation files changed: CASME2-coding-20190701.xlsx",
    }
    for folder, problem in cases.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert not sources.is_standin(folder), folder
        assert str(folder) in caplog.text and problem in caplog.text, (folder, caplog.text)
        found = sources.resolve_sources(["casme2"], None, {"casme2": str(folder)})
        assert found["casme2"].kind == "licensed", folder
        with pytest.raises(ValueError, match="not matching the folder"):
            sources.expected_counts(folder)
        kept = _snapshot(folder)  # and the generator never deletes it
        with pytest.raises(sources.NotAStandin, match="refusing to overwrite"):
            standins.generate_all(folder.parent, datasets=["casme2"], workers=1, **TINY)
        assert _snapshot(folder) == kept
    assert sources.is_standin(copy("exact"))  # an exact copy holds the same stand-in


# ----------------------------------------------------------------------------- SIGKILL, Ctrl-C
GENERATE = """
import sys
from mer_utils import standins

if __name__ == "__main__":
    try:
        standins.generate_all(sys.argv[1], datasets=["samm", "casme2"], workers=2,
                              max_clip_frames=40)
    except KeyboardInterrupt as stop:
        print(f"STOPPED: {stop}", file=sys.stderr, flush=True)
        sys.exit(130)
"""


def _group(pgid: int) -> list[int]:
    """Live processes (not zombies) of process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _start_generation(tmp_path: Path) -> subprocess.Popen:
    script = tmp_path / "generate.py"
    script.write_text(GENERATE)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "standins")],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as setsid
        # as from a terminal: a background job inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def pool_started() -> bool:
        frames = next((tmp_path / "standins").rglob("*.jpg"), None)
        return frames is not None and len(_group(proc.pid)) >= 3  # itself and two workers

    assert _wait_until(pool_started, 120), (
        proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no pool started"
    )
    return proc


def test_sigkill_during_generation_leaves_no_worker_behind(tmp_path):
    proc = _start_generation(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert _wait_until(lambda: not _group(proc.pid), 5), (
        f"processes left behind: {_group(proc.pid)}"
    )


def test_ctrl_c_during_generation_stops_once_and_leaves_the_folders_partial(tmp_path):
    proc = _start_generation(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    assert proc.wait(timeout=30) == 130
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.count("STOPPED:") == 1 and "left partial" in err, err
    assert _wait_until(lambda: not _group(proc.pid), 5), _group(proc.pid)
    for folder in ("SAMM", "CASME2"):
        root = tmp_path / "standins" / folder
        assert (root / sources.PARTIAL).exists() and not (root / sources.MARKER).exists()
        assert not sources.is_standin(root)


# ----------------------------------------------------------------------------- licensed root
def test_a_standins_dir_holding_licensed_data_is_a_clear_error_and_is_never_written(
    tmp_path, capsys
):
    root = tmp_path / "datasets"
    make_casme2(root / "CASME2")
    before = _snapshot(root)
    with pytest.raises(SystemExit) as stop:
        study.main(["--datasets", "casme2", "--standins-dir", str(root), "--list"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"{root / 'CASME2'} is not a stand-in" in err and "Traceback" not in err, err
    # the generator, asked to write there directly, says so too and deletes nothing
    with pytest.raises(sources.NotAStandin, match="is not a stand-in") as refused:
        standins.generate_all(root, datasets=["casme2"], workers=1, **TINY)
    assert str(root / "CASME2") in str(refused.value)
    assert isinstance(refused.value, FileExistsError)
    assert _snapshot(root) == before
