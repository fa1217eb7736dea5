"""The runner: plan vs table of contents, committed notebooks, resume and failure collection."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from mer_utils import config, runner, study

REPO = study.REPO


def _toc_files() -> set[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    found = {toc["root"]}

    def walk(entries):
        for entry in entries:
            found.add(entry["file"])
            walk(entry.get("sections", []))

    for part in toc["parts"]:
        walk(part["chapters"])
    return found


def _full_plan(book: Path = study.BOOK) -> list[study.Job]:
    sources = {n: study.Source(n, "x", "stand-in") for n in config.DATASETS}
    return study.plan(sources, "quick", list(config.methods()), ["paper"], 0, book=book)


def test_toc_is_generated_from_the_registries():
    assert (REPO / "_toc.yml").read_text() == study.toc_text(), (
        "_toc.yml is stale: run `python -m mer_utils.study --write-toc`"
    )


def test_every_page_of_the_grid_is_in_the_toc_and_back():
    toc = _toc_files()
    outputs = {j.output.removesuffix(".ipynb") for j in _full_plan()}
    assert outputs <= toc, f"pages missing from _toc.yml: {sorted(outputs - toc)}"
    generated = {f for f in toc if f.startswith(("book/datasets/", "book/summary/"))}
    assert generated == outputs, f"toc entries no job writes: {sorted(generated - outputs)}"
    for page in toc - outputs:  # the committed text pages exist
        assert (REPO / f"{page}.md").exists(), page


def test_plan_names_are_deterministic_and_narrowable():
    sources = {"smic": study.Source("smic", "d/SMIC", "licensed")}
    jobs = study.plan(sources, "smoke", ["MER-3DCNNST"], ["loso"], 3)
    keys = [j.key for j in jobs]
    assert "smic/10-MER-3DCNNST" in keys and "smic/11-MER-DA3DCNNST" not in keys
    evaluation = next(j for j in jobs if j.key == "smic/20-evaluation")
    assert evaluation.after == ["smic/10-MER-3DCNNST"]  # narrowed-away pages are no dependency
    variant = next(j for j in jobs if j.key == "smic/10-MER-3DCNNST")
    assert variant.output == "book/datasets/smic/10-MER-3DCNNST.ipynb"
    assert variant.parameters["data_kind"] == "licensed"
    assert variant.parameters["protocols"] == ["loso"] and variant.parameters["seed"] == 3
    results = next(j for j in jobs if j.key == "summary/results")
    assert set(results.after) == {k for k in keys if k.startswith("smic/")}


@pytest.mark.parametrize(
    "template", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name
)
def test_committed_notebooks_have_no_outputs_and_a_literal_parameters_cell(template):
    nb = nbformat.read(template, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "outputs committed"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign), (
            f"parameters cell holds only assignments: {ast.dump(node)}"
        )
        ast.literal_eval(node.value)  # raises if a parameter is not a literal


def test_every_grid_template_exists_and_declares_the_parameters_the_runner_passes():
    for job in _full_plan():
        nb = nbformat.read(REPO / job.template, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        declared = {t.id for n in ast.parse(cell.source).body for t in n.targets}
        assert set(job.parameters) <= declared, (job.template, set(job.parameters) - declared)


def test_sources_prefer_a_licensed_copy_and_fall_back_to_stand_ins(tmp_path):
    (tmp_path / "SAMM").mkdir()
    other = tmp_path / "elsewhere"
    other.mkdir()
    sources = study.resolve_sources(
        ["samm", "smic", "casme2"], str(tmp_path), {"casme2": str(other)}, standins=Path("gen")
    )
    assert sources["samm"].kind == "licensed" and sources["samm"].dir == str(tmp_path / "SAMM")
    assert sources["casme2"].kind == "licensed" and sources["casme2"].dir == str(other)
    assert sources["smic"] == study.Source("smic", "gen/SMIC", "stand-in")


def test_dataset_dir_option_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit) as stop:
        study.main(["--dataset-dir", "nope=/x", "--list"])
    assert stop.value.code == 2 and "NAME=PATH" in capsys.readouterr().err


# ----------------------------------------------------------------------------- run_jobs
def _notebook(path: Path, body: str) -> str:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('log = ""\nvalue = 0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return str(path)


def _job(tmp: Path, key: str, template: str, after=(), value=0) -> study.Job:
    return study.Job(
        key=key,
        template=template,
        output=str(tmp / "out" / f"{key}.ipynb"),
        parameters={"log": str(tmp / f"{key}.log"), "value": value},
        after=list(after),
    )


def _executions(tmp: Path, key: str) -> int:
    log = tmp / f"{key}.log"
    return len(log.read_text()) if log.exists() else 0


@pytest.mark.slow
def test_failures_are_collected_dependents_skipped_and_reruns_resume(tmp_path):
    ok = _notebook(tmp_path / "ok.ipynb", "open(log, 'a').write('x')")
    bad = _notebook(tmp_path / "bad.ipynb", "open(log, 'a').write('x')\nraise RuntimeError('boom')")
    jobs = [
        _job(tmp_path, "a", ok),
        _job(tmp_path, "b", bad),
        _job(tmp_path, "c", ok, after=["b"]),
        _job(tmp_path, "d", ok, after=["a"]),
    ]
    updates = []
    first = study.run_jobs(jobs, n_workers=2, on_update=lambda o: updates.append(dict(o)))
    assert {k: r["status"] for k, r in first.items()} == {
        "a": "ok",
        "b": "failed",
        "c": "skipped",
        "d": "ok",
    }
    assert "RuntimeError" in first["b"]["error"] and "boom" in first["b"]["error"]
    assert updates and all(k in updates[-1] for k in ("a", "b", "d"))
    assert [_executions(tmp_path, k) for k in "abcd"] == [1, 1, 0, 1]
    assert jobs[0].marker.exists() and not jobs[1].marker.exists()

    second = study.run_jobs(jobs, n_workers=2)  # resume: only what failed is redone
    assert {k: r["status"] for k, r in second.items()} == {
        "a": "cached",
        "b": "failed",
        "c": "skipped",
        "d": "cached",
    }
    assert [_executions(tmp_path, k) for k in "abcd"] == [1, 2, 0, 1]

    jobs[0].parameters["value"] = 1  # a changed parameter: redone, and so are its dependents
    third = study.run_jobs(jobs[:1] + jobs[3:], n_workers=1)
    assert third["a"]["status"] == "ok" and third["d"]["status"] == "ok"
    assert [_executions(tmp_path, k) for k in "ad"] == [2, 2]
    marker = json.loads(jobs[0].marker.read_text())
    assert marker["status"] == "ok" and marker["fingerprint"]

    jobs[3].marker.unlink()  # an interrupted page has no marker: redone, alone
    fourth = study.run_jobs(jobs[:1] + jobs[3:], n_workers=1)
    assert fourth["a"]["status"] == "cached" and fourth["d"]["status"] == "ok"
    assert [_executions(tmp_path, k) for k in "ad"] == [2, 3]


class _CtrlCDuringSubmit:
    """An executor whose worker starts the second page (its partial file appears) and then
    Ctrl-C arrives before ``submit`` returns: the race a CI run once hit."""

    workers = 2

    def __init__(self):
        self.calls, self.killed = 0, False

    def submit(self, job):
        self.calls += 1
        final = Path(job.output)
        final.parent.mkdir(parents=True, exist_ok=True)
        final.with_name(f"{final.stem}.4242{runner.RUNNING_SUFFIX}").write_text("{}")
        if self.calls == 2:
            raise KeyboardInterrupt
        return object()  # never completes

    def kill(self):
        self.killed = True


def test_ctrl_c_inside_submit_still_removes_that_pages_partial_and_marks_it(tmp_path):
    ok = _notebook(tmp_path / "ok.ipynb", "pass")
    jobs = [_job(tmp_path, k, ok) for k in "abc"]
    executor = _CtrlCDuringSubmit()
    with pytest.raises(runner.Interrupted) as stop:
        study.run_jobs(jobs, executor=executor)
    assert executor.killed
    assert not list((tmp_path / "out").glob(f"*{runner.RUNNING_SUFFIX}"))
    statuses = {k: r["status"] for k, r in stop.value.outcome.items()}
    assert statuses == {"a": "interrupted", "b": "interrupted"}  # c never started


def test_placeholders_fill_only_pages_never_executed(tmp_path):
    book = tmp_path / "book"
    selected = [j for j in _full_plan(book) if j.key.startswith("smic/")]
    existing = book / "datasets" / "samm" / "00-overview.ipynb"
    existing.parent.mkdir(parents=True)
    existing.write_text("kept")
    written = study.write_placeholders(selected, book=book)
    assert str(existing) not in written and existing.read_text() == "kept"
    assert not any("/smic/" in w for w in written)
    page = nbformat.read(book / "datasets" / "casme2" / "10-MER-3DCNNST.ipynb", as_version=4)
    assert "not executed" in page.cells[0].source and "CASME II" in page.cells[0].source


def test_manifest_names_pages_this_run_did_not_execute(tmp_path, monkeypatch):
    book = tmp_path / "book"
    selected = [
        j for j in _full_plan(book) if j.key.startswith("smic/") or j.key.startswith("summary/")
    ]
    earlier = next(j for j in _full_plan(book) if j.key == "samm/10-MER-3DCNNST")
    Path(earlier.output).parent.mkdir(parents=True)
    Path(earlier.output).write_text("{}")
    earlier.marker.write_text(
        json.dumps({"fingerprint": "x", "run": "r", "finished": "2026-01-01"})
    )
    study.write_placeholders(selected, book=book)
    study.write_manifest(selected, {}, {}, "smoke", [], results_dir=book / "results", book=book)
    manifest = json.loads((book / "results" / "manifest.json").read_text())
    others = {p["key"]: p for p in manifest["other_pages"]}
    assert others["samm/10-MER-3DCNNST"]["status"] == "from an earlier run"
    assert others["samm/10-MER-3DCNNST"]["finished"] == "2026-01-01"
    assert others["casme2/00-overview"]["status"] == "not executed"
    assert not any(k.startswith(("smic/", "summary/")) for k in others)


# ----------------------------------------------------------------------------- methods as data
SHARED_METHOD_CELLS = (
    "from mer_utils import experiment, faces, report\n\nreport.setup()\n"
    "report.banners.data_banner(dataset, dataset_dir, data_kind, profile)",
    "clips = faces.load_clips(dataset, dataset_dir, profile, cache_dir, annotation=annotation)\n"
    "report.stages.clips_summary(clips)",
    "records = experiment.run_protocols(\n"
    "    clips, variant, protocols, profile, seed, data_kind=data_kind, results_dir=results_dir\n"
    ")\nreport.variant.runs_table(records)",
    "report.variant.confusion_figure(records)",
    "report.variant.per_class_recall_table(records)",
)
"""The cells every method page shares: one-line calls into mer_utils, in this order."""


@pytest.mark.parametrize("name", list(config.methods()))
def test_every_method_notebook_has_the_shared_cells_in_order(name):
    method = config.methods()[name]
    nb = nbformat.read(REPO / method["notebook"], as_version=4)
    assert nb.cells[0].source.startswith(f"# {method['title']}"), "title from variants.yaml"
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert f'variant = "{name}"' in params.source
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    positions = [code.index(cell) for cell in SHARED_METHOD_CELLS]  # ValueError if one is missing
    assert positions == sorted(positions)


def test_variants_yaml_is_the_one_list_of_methods():
    methods = config.methods()
    pages = [m["page"] for m in methods.values()]
    assert len(set(pages)) == len(pages) and len({m["notebook"] for m in methods.values()}) == len(
        pages
    )
    for name, m in methods.items():
        assert m["method"] in ("cnn", "flow") and (REPO / m["notebook"]).exists(), name
        assert {"augment", "smote", "class_weight", "paper", "title", "summary"} <= set(m), name
    jobs = _full_plan()
    evaluation = next(j for j in jobs if j.key == "casme2/20-evaluation")
    assert evaluation.after == [f"casme2/{p}" for p in pages]  # the evaluation waits for all
    for name, m in methods.items():
        job = next(j for j in jobs if j.key == f"smic/{m['page']}")
        assert job.parameters["variant"] == name and job.template == m["notebook"]


def test_generated_methods_table_lists_every_method(tmp_path):
    (path,) = study.write_generated(book=tmp_path)
    text = path.read_text()
    for name, m in config.methods().items():
        assert f"| {name} | {m['summary']} |" in text


# ----------------------------------------------------------------------------- resume granularity
def test_page_modules_follow_what_a_page_calls():
    variant = set(runner.page_modules("notebooks/13_mer_dacwb3dcnnst.ipynb"))
    evaluation = set(runner.page_modules("notebooks/20_evaluation_summary.ipynb"))
    assert {
        "experiment.py",
        "models.py",
        "faces.py",
        "report/variant.py",
        "report/banners.py",
        "report/style.py",
        "datasets/_frames.py",
    } <= variant
    assert "report/summary.py" not in variant and "report/run.py" not in variant
    assert "report/summary.py" in evaluation and "intervals.py" in evaluation
    assert "models.py" not in evaluation  # reading records trains nothing


def test_editing_a_module_refingerprints_only_the_pages_using_it(tmp_path, monkeypatch):
    import shutil

    package = tmp_path / "mer_utils"
    shutil.copytree(runner.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runner, "PACKAGE", package)
    runner._closure.cache_clear()
    runner._imports_of.cache_clear()
    jobs = {j.key: j for j in _full_plan() if j.key.startswith("casme2/")}
    variant, evaluation = jobs["casme2/13-MER-DACWB3DCNNST"], jobs["casme2/20-evaluation"]
    before = {j.key: runner.fingerprint(j, []) for j in (variant, evaluation)}
    summary = package / "report" / "summary.py"
    summary.write_text(summary.read_text() + "\n# a docstring edit\n")
    after = {j.key: runner.fingerprint(j, []) for j in (variant, evaluation)}
    assert after[variant.key] == before[variant.key]  # no retraining for a report edit
    assert after[evaluation.key] != before[evaluation.key]
    models = package / "models.py"
    models.write_text(models.read_text() + "\n")
    assert runner.fingerprint(variant, []) != before[variant.key]
    runner._closure.cache_clear()
    runner._imports_of.cache_clear()


# ----------------------------------------------------------------------------- publishing
def test_publishing_refuses_pages_that_used_licensed_data(tmp_path, monkeypatch, capsys):
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    pages = [
        {"key": "casme2/00-overview", "parameters": {"data_kind": "licensed"}},
        {"key": "smic/00-overview", "parameters": {"data_kind": "stand-in"}},
        {"key": "summary/results", "parameters": {"data_kinds": {"casme2": "licensed"}}},
    ]
    (results_dir / "manifest.json").write_text(json.dumps({"pages": pages}))
    assert study.licensed_pages({"pages": pages}) == ["casme2/00-overview", "summary/results"]
    monkeypatch.delenv(study.PUBLISH_LICENSED_ENV, raising=False)
    assert study.check_publishable(results_dir) == 1
    assert "Not publishing: 2 pages used licensed data" in capsys.readouterr().err
    monkeypatch.setenv(study.PUBLISH_LICENSED_ENV, "yes")
    assert study.check_publishable(results_dir) == 0
    pages[0]["parameters"]["data_kind"] = pages[2]["parameters"]["data_kinds"]["casme2"] = (
        "stand-in"
    )
    (results_dir / "manifest.json").write_text(json.dumps({"pages": pages}))
    monkeypatch.delenv(study.PUBLISH_LICENSED_ENV)
    assert study.check_publishable(results_dir) == 0


def test_the_workflow_uses_the_two_readme_commands_and_nothing_else():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "book.yml").read_text())
    commands = [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]
    assert commands == ["make book PUBLISH=1", "make test"]
    readme = (REPO / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    book = workflow["jobs"]["book"]
    assert any(
        s.get("uses", "").startswith("actions/upload-pages-artifact")
        and s["with"]["path"] == "_build/html"
        for s in book["steps"]
    )
    assert any(".cache/stage1" in str(s.get("with", {}).get("path", "")) for s in book["steps"])


@pytest.mark.parametrize(
    "template", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name
)
def test_every_figure_cell_has_alt_text(template):
    figure = re.compile(r"\b(\w+_figure|line_chart|montage|confusion_grid|confusion_overview)\(")
    nb = nbformat.read(template, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and figure.search(cell.source):
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt) > 20, (template.name, cell.source)


# --------------------------------------------------------------------------- a fifth dataset
def test_a_fifth_dataset_is_one_module_its_yaml_rows_and_its_chapter_page(tmp_path, monkeypatch):
    """Adding a dataset takes its plug-in module, its rows in datasets.yaml and labels.yaml and
    its chapter page: the registry, the loader, the run grid and the table of contents follow,
    and the results page works without a reference table for it."""
    import sys
    import types

    from mer_utils import datasets, reference, report, standins

    module = types.ModuleType("fake_mer_plugin")

    def read(name, root, info, annotation):
        report_ = datasets._common.Report(name, annotation="(folders)", frames_from=str(root))
        frames = sorted(str(p) for p in (root / "clips" / "c1").glob("*.jpg"))
        report_.rows_read = 1
        row = datasets._common.record(
            name, "p1", "c1", "surprise", "surprise", 1, None, 3, frames, str(root), "row 1"
        )
        return [row], report_

    module.read = read
    monkeypatch.setitem(sys.modules, "fake_mer_plugin", module)
    rows = {
        **config.load("datasets"),
        "fake": {
            "seed_id": 99,
            "display": "FAKE-ME",
            "folder": "FAKE",
            "module": "fake_mer_plugin",
            "fps": 100,
            "frame_size": [240, 320],
            "publishable_subjects": [],
        },
    }
    real_load = config.load
    monkeypatch.setattr(
        config, "load", lambda name: rows if name == "datasets" else real_load(name)
    )

    assert config.datasets()[-1] == "fake" and "fake" in datasets.names()
    assert datasets.plugin("fake") is module and datasets.display_name("fake") == "FAKE-ME"
    root = tmp_path / "FAKE"
    (root / "clips" / "c1").mkdir(parents=True)
    for k in (1, 2, 3):
        (root / "clips" / "c1" / f"img{k}.jpg").write_bytes(b"")
    table = datasets.load("fake", root)
    assert table[["subject", "clip", "label"]].values.tolist() == [["p1", "c1", "surprise"]]
    # no stand-in writer: a clear error, not a KeyError deep in the generator
    with pytest.raises(ValueError, match="no stand-in writer"):
        standins.plan("fake")

    jobs = study.full_grid(tmp_path / "book")
    fake = [j for j in jobs if j.key.startswith("fake/")]
    assert [j.key for j in fake] == [
        j.key.replace("casme2/", "fake/") for j in jobs if j.key.startswith("casme2/")
    ]
    assert all(j.parameters["dataset"] == "fake" for j in fake)
    chapters = next(
        p for p in study.toc()["parts"] if any("chapters/" in c["file"] for c in p["chapters"])
    )
    assert chapters["chapters"][-1]["file"] == "book/chapters/fake"
    assert len(chapters["chapters"][-1]["sections"]) == len(fake)
    # the paper has no table for it: the reference is empty, the results table says so
    assert reference.reported("fake").empty and reference.table_number("fake") is None
    from mer_utils import results

    table = report.summary.paper_table(results.load(tmp_path / "no-results"), "fake")
    assert not table.data["row"].str.startswith("reported by the paper").any()  # none invented
    assert set(table.data["row"]) == {"not run"} and table.caption.startswith("FAKE-ME")
