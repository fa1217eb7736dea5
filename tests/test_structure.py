"""The package's shape, checked: small modules, the study apart from what runs the book, and
a method's kind turned into code in one place only."""

from __future__ import annotations

import ast

import pytest

from mer_utils import code, config, methods

MODULES = sorted(
    str(p.relative_to(code.PACKAGE))
    for p in code.PACKAGE.rglob("*.py")
    if "__pycache__" not in p.parts
)
STUDY = [m for m in MODULES if not m.startswith("build/")]


@pytest.mark.parametrize("module", MODULES)
def test_no_module_is_over_600_lines(module):
    lines = len((code.PACKAGE / module).read_text().splitlines())
    assert lines <= 600, f"mer_utils/{module} has {lines} lines"


def test_no_module_of_the_study_imports_what_runs_the_book():
    arrows = {m: sorted(f for f in code.imports_of(m) if f.startswith("build/")) for m in STUDY}
    assert not {m: f for m, f in arrows.items() if f}
    assert "build/__init__.py" in MODULES and len(STUDY) > 40  # the walk saw the package


def test_only_the_registry_turns_a_kind_of_method_into_code():
    """No comparison or lookup with a kind's name outside ``mer_utils/methods`` (the plug-ins
    declare what a page or a protocol needs: what they read, which sections they show)."""
    kinds = set(methods.kinds())
    found = []
    for module in (m for m in MODULES if not m.startswith("methods/")):
        tree = ast.parse((code.PACKAGE / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                consts = [n for n in ast.walk(node) if isinstance(n, ast.Constant)]
                if any(c.value in kinds for c in consts):
                    found.append(f"{module}:{node.lineno}")
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                if node.slice.value == "method" and _is_entry(node.value):
                    found.append(f"{module}:{node.lineno} (an entry's kind)")
    assert not found, found


def _is_entry(node: ast.AST) -> bool:
    """``config.method(name)[...]``: a methods.yaml entry."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "method"
    )


def test_every_methods_yaml_entry_has_its_plug_in():
    for name, entry in config.methods().items():
        cls = methods.plugin_of(name)
        assert cls.kind == entry["method"] and issubclass(cls, methods.Method)
        described = methods.describe(name, config.profile("smoke"))
        assert described.params()["kind"] == entry["method"]
        assert described.reads in ("frames", "flow") and described.describe_inputs()
