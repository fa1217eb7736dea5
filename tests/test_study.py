"""The runner: plan vs table of contents, committed notebooks, resume and failure collection."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from mer_utils import config, results, schema, sources
from mer_utils import methods as methods_
from mer_utils.build import fingerprints, grid, pages, publish, runner, study, templates

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


def _full_plan(book: Path = grid.BOOK) -> list[runner.Job]:
    return grid.full_grid(book)


def test_toc_is_generated_from_the_registries():
    assert (REPO / "_toc.yml").read_text() == grid.toc_text(), (
        "_toc.yml is stale: run `python -m mer_utils.build --write-toc`"
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
    chosen = {"smic": sources.Source("smic", "d/SMIC", "licensed")}
    jobs = grid.plan(chosen, "smoke", ["MER-3DCNNST"], ["loso"], 3)
    keys = [j.key for j in jobs]
    assert "smic/10-MER-3DCNNST" in keys and "smic/11-MER-DA3DCNNST" not in keys
    evaluation = next(j for j in jobs if j.key == "smic/20-evaluation")
    assert evaluation.after == ["smic/10-MER-3DCNNST"]  # narrowed-away pages are no dependency
    method = next(j for j in jobs if j.key == "smic/10-MER-3DCNNST")
    assert method.output == "book/datasets/smic/10-MER-3DCNNST.ipynb"
    assert method.parameters["data_kind"] == "licensed" and method.method == "MER-3DCNNST"
    assert method.parameters["protocols"] == ["loso"] and method.parameters["seed"] == 3
    results = next(j for j in jobs if j.key == "summary/results")
    assert results.after == [] and set(results.soft) == {k for k in keys if k.startswith("smic/")}


TEMPLATES = sorted((REPO / "notebooks").glob("*.md"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_are_text_with_the_parameters_cell_written_once(template):
    """A template (MyST markdown) holds no outputs and a parameters cell without assignments;
    rendering fills it with literals from grid.yaml, the one place they are written."""
    assert not list((REPO / "notebooks").glob("*.ipynb")), "templates are MyST text"
    nb = templates.read(template.relative_to(REPO))
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and not ast.parse(tagged[0].source).body, "written once, in grid.yaml"
    method = next(iter(config.methods())) if template.name == "method.md" else None
    rendered = templates.render(str(template.relative_to(REPO)), method)
    cell = next(c for c in rendered.cells if "parameters" in c.metadata.get("tags", []))
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign), ast.dump(node)
        ast.literal_eval(node.value)  # raises if a parameter is not a literal


def test_every_grid_template_exists_and_declares_the_parameters_the_runner_passes():
    for job in _full_plan():
        nb = fingerprints.rendered(job.template, job.method)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        declared = {t.id for n in ast.parse(cell.source).body for t in n.targets}
        assert set(job.parameters) <= declared, (job.template, set(job.parameters) - declared)


def test_sources_prefer_a_licensed_copy_and_fall_back_to_stand_ins(tmp_path):
    (tmp_path / "SAMM").mkdir()
    other = tmp_path / "elsewhere"
    other.mkdir()
    chosen = sources.resolve_sources(
        ["samm", "smic", "casme2"], str(tmp_path), {"casme2": str(other)}, standins=Path("gen")
    )
    assert chosen["samm"].kind == "licensed" and chosen["samm"].dir == str(tmp_path / "SAMM")
    assert chosen["casme2"].kind == "licensed" and chosen["casme2"].dir == str(other)
    assert chosen["smic"] == sources.Source("smic", "gen/SMIC", "stand-in")


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


def _job(tmp: Path, key: str, template: str, after=(), value=0) -> runner.Job:
    return runner.Job(
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
    first = runner.run_jobs(jobs, n_workers=2, on_update=lambda o: updates.append(dict(o)))
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

    second = runner.run_jobs(jobs, n_workers=2)  # resume: only what failed is redone
    assert {k: r["status"] for k, r in second.items()} == {
        "a": "cached",
        "b": "failed",
        "c": "skipped",
        "d": "cached",
    }
    assert [_executions(tmp_path, k) for k in "abcd"] == [1, 2, 0, 1]

    jobs[0].parameters["value"] = 1  # a changed parameter: redone, and so are its dependents
    third = runner.run_jobs(jobs[:1] + jobs[3:], n_workers=1)
    assert third["a"]["status"] == "ok" and third["d"]["status"] == "ok"
    assert [_executions(tmp_path, k) for k in "ad"] == [2, 2]
    marker = json.loads(jobs[0].marker.read_text())
    assert marker["status"] == "ok" and marker["fingerprint"]

    jobs[3].marker.unlink()  # an interrupted page has no marker: redone, alone
    fourth = runner.run_jobs(jobs[:1] + jobs[3:], n_workers=1)
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
        runner.run_jobs(jobs, executor=executor)
    assert executor.killed
    assert not list((tmp_path / "out").glob(f"*{runner.RUNNING_SUFFIX}"))
    statuses = {k: r["status"] for k, r in stop.value.outcome.items()}
    assert statuses == {"a": "interrupted", "b": "interrupted", "c": "interrupted"}
    errors = {k: r["error"] for k, r in stop.value.outcome.items()}
    assert errors["b"].startswith("stopped") and errors["c"].startswith("not started")
    assert stop.value.status == 130


def test_placeholders_fill_only_pages_never_executed(tmp_path):
    book = tmp_path / "book"
    selected = [j for j in _full_plan(book) if j.key.startswith("smic/")]
    existing = book / "datasets" / "samm" / "00-overview.ipynb"
    existing.parent.mkdir(parents=True)
    existing.write_text("kept")
    written = pages.write_placeholders(selected, book=book)
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
    pages.write_placeholders(selected, book=book)
    pages.write_manifest(selected, {}, {}, "smoke", [], results_dir=book / "results", book=book)
    manifest = json.loads((book / "results" / "manifest.json").read_text())
    others = {p["key"]: p for p in manifest["other_pages"]}
    assert others["samm/10-MER-3DCNNST"]["status"] == "from an earlier run"
    assert others["samm/10-MER-3DCNNST"]["finished"] == "2026-01-01"
    assert others["casme2/00-overview"]["status"] == "not executed"
    assert not any(k.startswith(("smic/", "summary/")) for k in others)


# ----------------------------------------------------------------------------- methods as data
@pytest.mark.parametrize("name", list(config.methods()))
def test_one_template_makes_every_method_page_from_its_entry(name):
    entry = config.method(name)
    nb = templates.render("notebooks/method.md", name)
    assert nb.cells[0].source.startswith(f"# {entry['title']}\n"), "title from methods.yaml"
    text = "\n".join(c.source for c in nb.cells)
    assert "{{" not in text and entry["introduction"].strip()[:40] in text
    flow_cells = "networks.flow_examples" in text
    assert flow_cells == (entry["method"] == "flow")
    assert ("networks.flownet_layers" in text) == (entry["method"] == "flownet")
    assert ("report.method.counts_table" in text) == ("resampling" in entry)
    if "resampling" in entry:
        assert f"## {entry['resampling']['heading']}" in text
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "method = " in params.source


def test_methods_yaml_is_the_one_list_of_methods():
    methods = config.methods()
    pages = [m["page"] for m in methods.values()]
    assert len(set(pages)) == len(pages)
    for name, m in methods.items():
        assert m["method"] in methods_.kinds(), name
        assert {"augment", "smote", "class_weight", "paper", "title", "summary"} <= set(m), name
        assert "notebook" not in m  # one template for every method
    jobs = _full_plan()
    quick = [m["page"] for m in methods.values() if "quick" in m.get("profiles", ["quick"])]
    evaluation = next(j for j in jobs if j.key == "casme2/20-evaluation")
    assert evaluation.after == [f"casme2/{p}" for p in quick]  # the evaluation waits for all
    for name, m in methods.items():
        if m["page"] in quick:
            job = next(j for j in jobs if j.key == f"smic/{m['page']}")
            assert job.parameters["method"] == name and job.template == "notebooks/method.md"
    paper = grid.plan(
        {"smic": sources.Source("smic", "x", "stand-in")}, "paper", list(methods), ["loso"], 0
    )
    assert not any(j.key.endswith("FLOW-LINEAR-32") for j in paper)  # a quick-only method


def test_the_deprecated_variants_option_still_selects_methods(capsys):
    assert study.main(["--variants", "MER-3DCNNST", "--datasets", "smic", "--list"]) == 0
    out = capsys.readouterr().out
    assert "smic/10-MER-3DCNNST" in out and "11-MER-DA3DCNNST" not in out


def test_generated_tables_list_every_method_and_protocol(tmp_path):
    methods, protocols_, findings, run = pages.write_generated(book=tmp_path)
    text = methods.read_text()
    for name, m in config.methods().items():
        assert f"| {name} | {m['summary']} |" in text
    text = protocols_.read_text()
    for name, p in config.load("protocols").items():
        assert f"| `{name}` | {p['title']} |" in text
    assert "{doc}`summary/findings`" in findings.read_text()
    assert run.name == "run.md" and "not recorded a run" in run.read_text()


# ----------------------------------------------------------------------------- resume granularity
def test_page_modules_follow_what_a_page_calls():
    method = set(fingerprints.page_modules("notebooks/method.md", "MER-DACWB3DCNNST"))
    evaluation = set(fingerprints.page_modules("notebooks/evaluation.md"))
    assert {
        "experiment.py",
        "folds.py",
        "methods/__init__.py",
        "methods/cnn.py",  # the plug-in the registry imports by the method's kind
        "models.py",
        "faces.py",
        "report/method.py",
        "report/banners.py",
        "report/style.py",
        "datasets/_frames.py",
    } <= method
    assert "report/evaluation.py" not in method and "report/run.py" not in method
    flow_page = set(fingerprints.page_modules("notebooks/method.md", "FLOW-LINEAR"))
    assert {"methods/flow.py", "flow.py"} <= flow_page and "methods/cnn.py" not in flow_page
    assert "report/evaluation.py" in evaluation and "intervals.py" in evaluation
    assert "models.py" not in evaluation  # reading records trains nothing


def test_editing_a_module_refingerprints_only_the_pages_using_it(tmp_path, monkeypatch):
    import shutil

    package = tmp_path / "mer_utils"
    shutil.copytree(fingerprints.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprints, "PACKAGE", package)
    fingerprints._closure.cache_clear()
    fingerprints._imports_of.cache_clear()
    jobs = {j.key: j for j in _full_plan() if j.key.startswith("casme2/")}
    method, evaluation = jobs["casme2/13-MER-DACWB3DCNNST"], jobs["casme2/20-evaluation"]
    before = {j.key: fingerprints.fingerprint(j, []) for j in (method, evaluation)}
    summary = package / "report" / "evaluation.py"
    summary.write_text(summary.read_text() + "\n# a docstring edit\n")
    after = {j.key: fingerprints.fingerprint(j, []) for j in (method, evaluation)}
    assert after[method.key] == before[method.key]  # no re-run for another page's report
    assert after[evaluation.key] != before[evaluation.key]
    models = package / "models.py"
    models.write_text(models.read_text() + "\n")
    assert fingerprints.fingerprint(method, []) != before[method.key]
    fingerprints._closure.cache_clear()
    fingerprints._imports_of.cache_clear()


def test_a_page_has_the_same_fingerprint_in_another_process():
    """Reading a template gives its cells new random ids (nbformat 4.5) in every process. In
    the fingerprint they made every rerun of the study in a new process (`make book` twice, a
    resume after a kill) find no page current and execute every page again; a rerun in the same
    process (tests/test_notebooks.py) read its templates from a cache and never saw it."""
    key = "casme2/20-evaluation"
    job = next(j for j in _full_plan() if j.key == key)
    code = (
        "from mer_utils.build import fingerprints, grid\n"
        f"job = next(j for j in grid.full_grid(grid.BOOK) if j.key == {key!r})\n"
        "print(fingerprints.fingerprint(job, ['run']))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert other.returncode == 0, other.stderr[-2000:]
    assert other.stdout.strip() == fingerprints.fingerprint(job, ["run"])


# ----------------------------------------------------------------------------- publishing
def _page(path: Path, **params) -> None:
    """An executed page as papermill leaves it: its injected parameters cell first."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("text")]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_publishing_judges_the_whole_book_not_the_latest_run(tmp_path, monkeypatch, capsys):
    """Issue 20, BAD 1: a licensed page left by an earlier run, a licensed record, or a built
    page with the licensed banner each stop publishing, whatever the latest run read."""
    monkeypatch.delenv(publish.PUBLISH_LICENSED_ENV, raising=False)
    book, html = tmp_path / "book", tmp_path / "html"
    assert publish.check_publishable(book, html) == 1  # nothing built: nothing to vouch for
    _page(book / "datasets" / "smic" / "00-overview.ipynb", data_kind="stand-in")
    _page(book / "summary" / "results.ipynb", data_kinds={"smic": "stand-in"})
    results_dir = book / "results"
    results_dir.mkdir()
    latest = [{"key": "smic/00-overview", "parameters": {"data_kind": "stand-in"}}]
    (results_dir / "manifest.json").write_text(json.dumps({"pages": latest}))
    (html / "datasets").mkdir(parents=True)
    (html / "datasets" / "ok.html").write_text('<div class="admonition important data-standin">')
    assert publish.check_publishable(book, html) == 0
    assert "publishable" in capsys.readouterr().out

    # an earlier run's licensed page, not in the latest run's manifest
    _page(book / "datasets" / "casme2" / "00-overview.ipynb", data_kind="licensed")
    assert publish.check_publishable(book, html) == 1
    err = capsys.readouterr().err
    assert "Not publishing: 1 pages" in err and "casme2/00-overview.ipynb" in err
    monkeypatch.setenv(publish.PUBLISH_LICENSED_ENV, "yes")
    assert publish.check_publishable(book, html) == 0
    monkeypatch.delenv(publish.PUBLISH_LICENSED_ENV)
    (book / "datasets" / "casme2" / "00-overview.ipynb").unlink()

    # a summary page of a run with one licensed dataset
    _page(book / "summary" / "leakage.ipynb", data_kinds={"smic": "stand-in", "samm": "licensed"})
    assert publish.check_publishable(book, html) == 1
    (book / "summary" / "leakage.ipynb").unlink()

    # a licensed record in the results table
    (results_dir / "metrics.csv").write_text("dataset,data_kind\nsmic,stand-in\nsamm,licensed\n")
    assert publish.check_publishable(book, html) == 1
    assert "1 records of licensed samm data" in capsys.readouterr().err
    (results_dir / "metrics.csv").unlink()

    # a built page with the licensed banner (its notebook already removed)
    (html / "datasets" / "old.html").write_text('<div class="admonition important data-licensed">')
    assert publish.check_publishable(book, html) == 1
    assert "old.html (built page)" in capsys.readouterr().err
    (html / "datasets" / "old.html").unlink()

    # the latest run's manifest naming a licensed page
    latest[0]["parameters"]["data_kind"] = "licensed"
    (results_dir / "manifest.json").write_text(json.dumps({"pages": latest}))
    assert publish.check_publishable(book, html) == 1
    assert results.licensed_pages({"pages": latest}) == ["smic/00-overview"]


def test_the_banner_of_a_licensed_page_carries_the_class_the_guard_looks_for():
    from mer_utils.report import banners

    licensed = banners.data_banner("casme2", "data/licensed/CASME2", "licensed", "smoke").data
    standin = banners.data_banner("casme2", "data/standins/x/CASME2", "stand-in", "smoke").data
    assert f":class: {publish.LICENSED_CLASS}" in licensed
    assert publish.LICENSED_CLASS not in standin
    summary = banners.sources_banner({"smic": "stand-in", "casme2": "licensed"}, "smoke").data
    assert f":class: {publish.LICENSED_CLASS}" in summary


def test_the_workflow_uses_the_two_readme_commands_and_nothing_else():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "book.yml").read_text())
    commands = [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]
    # the browser check of the built pages before they are published, and the launch branch
    # the book's Binder / Colab buttons open (mer_utils/build/launch.py)
    assert commands == [
        "make book PUBLISH=1",
        "make check-book",
        "make launch-branch LAUNCH_BRANCH=launch",
        "make test",
    ]
    readme = (REPO / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    book = workflow["jobs"]["book"]
    assert any(
        s.get("uses", "").startswith("actions/upload-pages-artifact")
        and s["with"]["path"] == "_build/html"
        for s in book["steps"]
    )
    assert any(".cache/stage1" in str(s.get("with", {}).get("path", "")) for s in book["steps"])


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_figure_cell_has_alt_text(template):
    figure = re.compile(r"\b(\w+_figure|figure_6_7|montage|confusion_grid|confusion_figures)\(")
    nb = templates.read(template.relative_to(REPO))
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

    jobs = grid.full_grid(tmp_path / "book")
    fake = [j for j in jobs if j.key.startswith("fake/")]
    assert [j.key for j in fake] == [
        j.key.replace("casme2/", "fake/") for j in jobs if j.key.startswith("casme2/")
    ]
    assert all(j.parameters["dataset"] == "fake" for j in fake)
    chapters = next(
        p for p in grid.toc()["parts"] if any("chapters/" in c["file"] for c in p["chapters"])
    )
    assert chapters["chapters"][-1]["file"] == "book/chapters/fake"
    assert len(chapters["chapters"][-1]["sections"]) == len(fake)
    # the paper has no table for it: the reference is empty, the results table says so
    assert reference.reported("fake").empty and reference.table_number("fake") is None
    reported = report.results.reported_table("fake").data
    assert "no table" in reported  # none invented
    measured = report.results.measured_table(results.load(tmp_path / "no-results"), "fake").data
    assert "No `paper` runs of FAKE-ME" in measured


def test_predictions_zip_holds_every_predictions_file_and_is_reproducible(tmp_path):
    """The reproducibility page's download: every predictions CSV, byte-identical archives
    for the same files (sorted names, fixed timestamps)."""
    import io
    import os
    import zipfile

    import pandas as pd

    empty = results.write_predictions_zip(tmp_path)
    assert zipfile.ZipFile(empty).namelist() == []
    frame = pd.DataFrame(
        [["s1", "c1", 0, 0, "negative", "surprise"]], columns=list(schema.PREDICTION_COLUMNS)
    )
    written = []
    for method in ("MER-3DCNNST", "FLOW-LINEAR"):
        record = dict(
            dataset="smic",
            method=method,
            protocol="kfold",
            profile="smoke",
            seed=0,
            repeat=0,
            data_id="d",
            profile_id="p",
        )
        path = tmp_path / results.predictions_name(record)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        written.append(path)
    first = results.write_predictions_zip(tmp_path).read_bytes()
    for path in written:
        os.utime(path, (1e9, 1e9))  # other modification times: the same archive
    assert results.write_predictions_zip(tmp_path).read_bytes() == first
    archive = zipfile.ZipFile(io.BytesIO(first))
    assert archive.namelist() == sorted(f"predictions/{p.name}" for p in written)
    assert archive.read(f"predictions/{written[0].name}") == written[0].read_bytes()
    one = results.write_predictions_zip(tmp_path, [f"predictions/{written[1].name}"])
    assert zipfile.ZipFile(one).namelist() == [f"predictions/{written[1].name}"]


# ----------------------------------------------------------------------------- robustness
@pytest.mark.slow
def test_a_template_that_cannot_be_read_is_a_failing_page_not_a_crash(tmp_path):
    ok = _notebook(tmp_path / "ok.ipynb", "open(log, 'a').write('x')")
    broken = _notebook(tmp_path / "broken.ipynb", "def oops(:\n    pass")
    jobs = [
        _job(tmp_path, "a", ok),
        _job(tmp_path, "b", broken),
        _job(tmp_path, "c", ok, after=["b"]),
        _job(tmp_path, "d", ok),
    ]
    out = runner.run_jobs(jobs, n_workers=2)
    assert {k: r["status"] for k, r in out.items()} == {
        "a": "ok",
        "b": "failed",
        "c": "skipped",
        "d": "ok",
    }
    assert "broken.ipynb" in out["b"]["error"] and "SyntaxError" in out["b"]["error"]
    assert jobs[0].marker.exists() and jobs[3].marker.exists()  # finished pages keep theirs


@pytest.mark.slow
def test_a_skipped_page_never_keeps_an_earlier_runs_output(tmp_path):
    ok = _notebook(tmp_path / "ok.ipynb", "open(log, 'a').write('x')")
    bad = _notebook(tmp_path / "bad.ipynb", "raise RuntimeError('boom')")
    first = [_job(tmp_path, "a", ok), _job(tmp_path, "b", ok, after=["a"])]
    assert {r["status"] for r in runner.run_jobs(first, n_workers=1).values()} == {"ok"}
    earlier = Path(first[1].output).read_text()
    second = [_job(tmp_path, "a", bad), _job(tmp_path, "b", ok, after=["a"])]
    out = runner.run_jobs(second, n_workers=1)
    assert out["b"]["status"] == "skipped" and not second[1].marker.exists()
    text = Path(second[1].output).read_text()
    assert text != earlier and "not produced" in text and "a page it depends on" in text


@pytest.mark.slow
def test_a_summary_page_runs_on_what_succeeded(tmp_path):
    ok = _notebook(tmp_path / "ok.ipynb", "open(log, 'a').write('x')")
    bad = _notebook(tmp_path / "bad.ipynb", "raise RuntimeError('boom')")
    jobs = [_job(tmp_path, "a", ok), _job(tmp_path, "b", bad), _job(tmp_path, "summary", ok)]
    jobs[2].soft = ["a", "b"]
    out = runner.run_jobs(jobs, n_workers=2)
    assert out["summary"]["status"] == "ok" and out["b"]["status"] == "failed"


def test_editing_an_unselected_method_or_profile_refingerprints_no_page(monkeypatch):
    jobs = {j.key: j for j in _full_plan() if j.key.startswith("casme2/")}
    method = jobs["casme2/10-MER-3DCNNST"]
    evaluation = jobs["casme2/20-evaluation"]
    narrowed = grid.plan(
        {"casme2": sources.Source("casme2", "x", "stand-in")},
        "quick",
        ["MER-3DCNNST"],
        ["paper"],
        0,
    )
    only = next(j for j in narrowed if j.key == "casme2/20-evaluation")
    before = {
        k: fingerprints.page_tables(j) for k, j in (("m", method), ("e", evaluation), ("o", only))
    }
    methods = {k: dict(v) for k, v in config.load("methods").items()}
    methods["MER-DA3DCNNST"]["title"] = "another title"
    profiles = {k: dict(v) for k, v in config.load("profiles").items()}
    profiles["paper"]["epochs"] = 3
    real = config.load
    monkeypatch.setattr(
        config, "load", lambda n: {"methods": methods, "profiles": profiles}.get(n) or real(n)
    )
    assert fingerprints.page_tables(method) == before["m"]  # another method's page and profile
    assert fingerprints.page_tables(only) == before["o"]  # a run without that method
    assert fingerprints.page_tables(evaluation) != before["e"]  # a page that shows that method


def test_the_package_dependencies_agree_with_requirements_txt():
    import tomllib

    project = tomllib.loads((study.REPO / "pyproject.toml").read_text())["project"]
    wanted = {}
    for line in (study.REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = line.split(">")[0].split("=")[0].split("<")[0]
            wanted[name] = line
    assert project["dependencies"], "pyproject.toml lists no dependencies"
    for dep in project["dependencies"]:
        name = dep.split(">")[0].split("=")[0].split("<")[0]
        assert wanted.get(name) == dep, f"{dep}: requirements.txt says {wanted.get(name)}"
