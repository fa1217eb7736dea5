"""The fold key's code is derived, not listed: every function a fit calls is in it, and no text
the book prints is.

The code part of a fold key is the import closure of :mod:`mer_utils.folds` and of the method's
plug-in (:func:`mer_utils.folds.fit_roots`, :mod:`mer_utils.code`). These tests build a method of
every kind and execute one real fold of it under a profiler, then check that (1) every package
file whose code ran is in that closure, and an edit to any function of those files changes the
key (the fold is refitted); (2) nothing that only describes (``report``, the runner, templates)
is in it, and edits to every docstring and comment of the fitting code, and to the prose of the
method and protocol tables, leave the key as it is (nothing is refitted).
"""

from __future__ import annotations

import ast
import shutil
import sys
import threading
from pathlib import Path

import pytest

from mer_utils import code, config, experiment, folds, methods, stage1

KINDS = {"cnn": "MER-DACWB3DCNNST", "flow": "FLOW-LINEAR", "flownet": "STSTNet"}
"""One method of each kind (the cnn one augments, applies SMOTE and weighs: the most code)."""

PROSE = ("title", "summary", "introduction", "resampling", "skip_protocols", "skip_protocols_in")
"""The fields of a methods.yaml entry the book prints."""


@pytest.fixture(scope="module")
def clips(standins):
    return stage1.load_clips("casme2", standins["casme2"], "smoke")


def _runs(clips, name, build=True):
    return experiment.runs_to_make(clips, name, ["kfold"], "smoke", 0, "stand-in", build=build)


@pytest.fixture(scope="module")
def traced(clips):
    """Per kind: the package files whose code ran while the method was built and one fold
    executed, the closure its fold key hashes, and the fold's run."""
    out = {}
    for kind, name in KINDS.items():
        (planned, *_) = _runs(clips, name, build=False)
        ran: set[str] = set()

        def tracer(frame, event, arg, ran=ran, package=str(code.PACKAGE) + "/"):
            name = frame.f_code.co_filename  # a "call" event: a Python function starts
            if name.startswith(package):
                ran.add(name[len(package) :])

        threading.settrace(tracer)
        sys.settrace(tracer)
        try:
            planned.spec.method.build(clips, planned.spec.data.X, 0)
            folds.execute(planned.spec, 0)
        finally:
            sys.settrace(None)
            threading.settrace(None)
        out[kind] = (ran, set(code.closure(folds.fit_roots(planned.spec.method))), planned)
    return out


def test_every_kind_of_method_is_a_plug_in_tested_here():
    assert set(methods.kinds()) == set(KINDS)
    for kind, name in KINDS.items():
        assert config.method(name)["method"] == kind
        assert methods.plugin(kind).kind == kind
        assert isinstance(methods.describe(name, config.profile("smoke")), methods.Method)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_file_a_fit_runs_is_in_its_fold_key(traced, kind):
    ran, keyed, _ = traced[kind]
    assert {"folds.py", f"methods/{kind}.py", "methods/resampling.py"} <= ran
    assert ran <= keyed, f"code a {kind} fit runs that its key ignores: {sorted(ran - keyed)}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_edit_to_any_function_a_fit_calls_refits(traced, kind, tmp_path, monkeypatch):
    ran, _, planned = traced[kind]
    copy = _copy(tmp_path, monkeypatch)
    roots = folds.fit_roots(planned.spec.method)
    before = _digest(roots)
    for rel in sorted(ran):
        original = (copy / rel).read_text()
        tree = ast.parse(original)
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            function.body.insert(0, ast.parse("_edited = 1").body[0])  # one statement more
            (copy / rel).write_text(ast.unparse(tree))
            assert _digest(roots) != before, f"an edit to {rel}: {function.name} refits nothing"
            function.body.pop(0)
        (copy / rel).write_text(original)
    assert _digest(roots) == before


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_edit_to_any_text_the_book_prints_refits_nothing(
    traced, clips, kind, tmp_path, monkeypatch
):
    _, keyed, planned = traced[kind]
    describing = ("report/", "runner/", "templates.py", "pages.py", "fingerprints.py")
    assert not [f for f in keyed if f.startswith(describing)]
    key = folds.fold_key(planned.spec, 0)
    # every docstring and comment of the fitting code
    copy = _copy(tmp_path, monkeypatch)
    roots = folds.fit_roots(planned.spec.method)
    before = _digest(roots)
    for rel in keyed:
        text = (copy / rel).read_text()
        (copy / rel).write_text(text.replace('"""', '"""Edited. ', 1) + "\n# edited\n")
    assert _digest(roots) == before
    monkeypatch.undo()
    _digest(roots)
    # every prose field of the methods' and the protocols' tables
    real = config.load
    tables = {
        "methods": {
            k: {f: "edited" if f in PROSE else v for f, v in e.items()}
            for k, e in real("methods").items()
        },
        "protocols": {
            k: {f: "edited" if f in ("title", "summary", "text") else v for f, v in e.items()}
            for k, e in real("protocols").items()
        },
    }
    monkeypatch.setattr(config, "load", lambda name: tables.get(name) or real(name))
    (again, *_) = _runs(clips, planned.spec.method.name, build=False)
    assert folds.fold_key(again.spec, 0) == key


def test_no_fitting_module_holds_book_text(traced):
    """A sentence in a fitting module (notes, descriptions) would be part of every fold key: it
    belongs on a page. Docstrings, error messages and log lines are not book text."""
    keyed = set().union(*(k for _, k, _ in traced.values()))
    found = []
    for rel in sorted(keyed):
        tree = ast.parse((code.PACKAGE / rel).read_text())
        quiet = {id(n) for q in ast.walk(tree) if _not_book_text(q) for n in ast.walk(q)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if len(node.value.split()) >= 8 and id(node) not in quiet:
                    found.append(f"{rel}:{node.lineno}: {node.value[:60]!r}")
    assert not found, "\n".join(found)


def _not_book_text(node: ast.AST) -> bool:
    if isinstance(node, ast.Raise):
        return True
    if isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id in ("problem", "message") for t in node.targets
    ):
        return True  # an error message made before it is raised
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True  # a docstring, or a string documenting an attribute
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("debug", "info", "warning", "error", "warn", "exception")
    return False


def _copy(tmp_path: Path, monkeypatch) -> Path:
    copy = tmp_path / "mer_utils"
    shutil.copytree(code.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(code, "PACKAGE", copy)
    return copy


def _digest(roots):
    """The digest of ``roots`` read afresh (files are re-read; their parsing is cached by text,
    so only an edited file is parsed again)."""
    for cached in (code.imports_of, code.closure, code.digest):
        cached.cache_clear()
    return code.digest(roots)
