"""Fault injection, third round (issue 25): the command line and the profile table are checked
where they are read, before anything starts; repeated values run once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_faults import DATASET
from test_faults_publish import _with_fold
from test_schema import _run

from mer_utils import config, results, schema
from mer_utils.build import grid, study

SMOKE = ["--profile", "smoke", "--datasets", "casme2", "--methods", "MER-3DCNNST"]


def _planned(monkeypatch, argv: list[str]) -> list:
    """The jobs ``study.main(argv + --list)`` plans."""
    planned = []

    def plan(*args, **kwargs):
        planned.extend(grid.plan(*args, **kwargs))
        return planned

    monkeypatch.setattr(study, "plan", plan)
    assert study.main([*argv, "--list"]) == 0
    return planned


def test_a_protocol_given_twice_runs_once(monkeypatch, caplog):
    """BAD 3: `--protocols kfold kfold` kept both, and the repeat mapping by index left two
    confusion stacks at zero; every page now gets the protocol once."""
    jobs = _planned(
        monkeypatch,
        [*SMOKE, "--protocols", "kfold", "kfold", "--methods", "FLOW-LINEAR", "FLOW-LINEAR"],
    )
    given = [j.parameters["protocols"] for j in jobs if "protocols" in j.parameters]
    assert given and all(list(p) == ["kfold"] for p in given)
    assert len([j for j in jobs if j.method]) == 1  # one method page, not two
    assert "--protocols: kfold given more than once" in caplog.text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--seed", "-1"], "--seed -1: a seed is a whole number of at least 0"),
        (
            ["--variants", "FLOW-LINEAR"],
            "--methods MER-3DCNNST and --variants FLOW-LINEAR disagree",
        ),
        (
            ["--dataset-dir", "casme2=/a", "--dataset-dir", "casme2=/b"],
            "--dataset-dir casme2= given twice ('/a' and '/b')",
        ),
        (["--data-root", ""], "--data-root is empty"),
        (["--data-root", "  "], "--data-root is empty"),
        (
            ["--annotation", "casme2=/x.xlsx"],
            "--annotation casme2=/x.xlsx: casme2 reads its stand-in",
        ),
    ],
)
def test_bad_options_are_refused_before_anything_starts(tmp_path, capsys, extra, message):
    argv = [
        *SMOKE,
        *extra,
        "--standins-dir",
        str(tmp_path / "st"),
        "--book-dir",
        str(tmp_path / "b"),
    ]
    with pytest.raises(SystemExit) as stop:
        study.main([*argv, "--list"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "st").exists() and not (tmp_path / "b").exists()


def test_a_cache_dir_that_is_a_file_is_refused_at_once(tmp_path, capsys):
    (tmp_path / "cache").write_text("")
    with pytest.raises(SystemExit):
        study.main([*SMOKE, "--cache-dir", str(tmp_path / "cache"), "--list"])
    assert f"--cache-dir {tmp_path / 'cache'}: not a folder" in capsys.readouterr().err


def test_the_same_methods_under_both_names_are_accepted(monkeypatch):
    jobs = _planned(monkeypatch, [*SMOKE, "--variants", "MER-3DCNNST"])
    assert [j.method for j in jobs if j.method] == ["MER-3DCNNST"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ("smoke", "repeats", "kfold", "two"),
            "profiles.yaml: smoke.repeats.kfold: 'two' is not a whole number",
        ),
        (("quick", "epochs", None, "8"), "profiles.yaml: quick.epochs: '8' is not a whole number"),
        (
            ("smoke", "windows", "stride", 0),
            "profiles.yaml: smoke.windows.stride: 0 is not a whole number of at least 1",
        ),
        (
            ("smoke", "mixed_precision", None, "no"),
            "profiles.yaml: smoke.mixed_precision: 'no' is not true or false",
        ),
        (
            ("smoke", "protocols", None, ["kfold", "kfold"]),
            "profiles.yaml: smoke.protocols: ['kfold', 'kfold'] names one twice",
        ),
        (("smoke", "epoch", None, 3), "profiles.yaml: smoke.epoch: unknown key"),
        (
            ("smoke", "repeats", "kfolds", 2),
            "profiles.yaml: smoke.repeats.kfolds: unknown protocol",
        ),
    ],
)
def test_a_wrong_type_in_the_profile_table_names_the_file_and_key(
    monkeypatch, capsys, edit, message
):
    profiles = {
        k: {kk: (dict(vv) if isinstance(vv, dict) else vv) for kk, vv in v.items()}
        for k, v in config.load("profiles").items()
    }
    name, key, sub, value = edit
    if sub is None:
        profiles[name][key] = value
    else:
        profiles[name][key][sub] = value
    real = config.load
    monkeypatch.setattr(config, "load", lambda n: profiles if n == "profiles" else real(n))
    with pytest.raises(config.ConfigError, match="mer_utils/data/profiles.yaml"):
        config.profile("smoke")
    with pytest.raises(SystemExit):
        study.main([*SMOKE, "--list"])
    assert message in capsys.readouterr().err


# ----------------------------------------------------------------------------- results tables
@pytest.mark.parametrize("table", ["metrics.csv", "folds.csv", "confusions.csv"])
def test_a_duplicated_row_in_a_results_table_is_named_on_read(tmp_path, capsys, table):
    """WEAK: duplicated rows loaded without complaint and doubled the data of pages not re-run."""
    book = tmp_path / "book"
    run = _with_fold(_run(dataset="casme2"))
    results.write_run(book / "results", run)
    results.write_run(book / "results", _with_fold(_run(dataset="casme2", repeat=1)))
    path = book / "results" / table
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines, lines[1]]))  # the first row pasted again at the end
    with pytest.raises(schema.SchemaError, match=rf"{table}: row 4 repeats row 2 \(dataset casme2"):
        results.load(book / "results")
    argv = [*SMOKE, "--protocols", "kfold", "--book-dir", str(book)]
    assert study.main([*argv, "--standins-dir", str(tmp_path / "st")]) == 1
    err = capsys.readouterr().err
    assert "The results table is damaged" in err and f"{table}: row 4 repeats row 2" in err
    assert not (tmp_path / "st").exists()


# ----------------------------------------------------------------------------- what pages show
def test_the_command_a_page_shows_has_no_path_of_the_build_machine(tmp_path):
    """WEAK: the reproducibility page printed `--book-dir` as given (an absolute path)."""
    from mer_utils.build import pages
    from mer_utils.build.fingerprints import REPO

    argv = [
        *SMOKE,
        "--book-dir",
        str(tmp_path / "deep" / "mybook"),
        f"--cache-dir={tmp_path / 'cache'}",
        "--dataset-dir",
        f"casme2={tmp_path / 'data' / 'CASME2'}",
        f"--annotation=casme2={tmp_path / 'data' / 'CASME2' / 'coding sheet.xlsx'}",
        "--standins-dir",
        str(REPO / "data" / "st"),
    ]
    manifest = pages.write_manifest([], {}, {}, "smoke", argv, tmp_path / "r", tmp_path / "b")
    command = json.loads(manifest.read_text())["command"]
    assert str(tmp_path) not in command and str(REPO) not in command
    assert "--book-dir .../deep/mybook --cache-dir=.../" in command
    assert "--dataset-dir casme2=.../data/CASME2" in command
    assert "'--annotation=casme2=.../CASME2/coding sheet.xlsx'" in command
    assert "--standins-dir data/st" in command and "--profile smoke" in command


# ----------------------------------------------------------------------------- unwritable results
class _Instant:
    """An executor whose pages finish at once (nothing is executed)."""

    workers = 1

    def __init__(self):
        self.killed = False

    def submit(self, job):
        import concurrent.futures as cf

        future = cf.Future()
        future.set_result({"status": "ok", "seconds": 0.0, "error": ""})
        return future

    def wait(self, futures):
        return set(futures[:1])

    def kill(self):
        self.killed = True

    def close(self):
        pass


def test_a_results_folder_that_turns_read_only_mid_run_is_one_line(
    tmp_path,
    standins_dir,
    monkeypatch,
    capsys,
):
    """WEAK: a results folder made read-only mid-run ended in a 40-line traceback and a manifest
    that called finished pages pending. (The test runs as any user, root included: the folder
    refuses new files through the atomic writer, as a read-only folder does.)"""
    from mer_utils import atomic
    from mer_utils.build import pages

    executor = _Instant()
    monkeypatch.setattr(study, "_executor", lambda args, sources: executor)
    real, calls = atomic.write_json, []

    def write_json(path, obj):
        if Path(path).name == "manifest.json":
            calls.append(path)
            if len(calls) > 3:  # from the third page on, the folder takes no new file
                raise PermissionError(13, "Permission denied")
        return real(path, obj)

    monkeypatch.setattr(pages.atomic, "write_json", write_json)
    book = tmp_path / "book"
    argv = ["--profile", "smoke", "--datasets", DATASET, "--methods", "FLOW-LINEAR"]
    argv += ["--protocols", "kfold", "--standins-dir", str(standins_dir), "--book-dir", str(book)]
    assert study.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "Stopped: " in err and "results folder cannot be written (Permission denied)" in err
    assert "the manifest, rewritten in place, says which" in err and executor.killed
    manifest = json.loads((book / "results" / "manifest.json").read_text())
    statuses = [p["status"] for p in manifest["pages"]]
    assert "pending" not in statuses and statuses.count("ok") == 3
    assert set(statuses) == {"ok", "interrupted"}
