"""The book's exercises: every method page has some, every one has a hidden solution, and every
Python block in them runs.

Exercises and solutions are sphinx-exercise directives (``{exercise}`` and ``{solution}``, as
colon or backtick fences) in the committed pages ``book/**/*.md`` and in the markdown cells of
the notebook templates ``notebooks/*.md``. They are found with the same Markdown parser MyST uses (markdown-it with
the colon-fence plugin), so a block the book renders is a block the tests run. Each Python block
(a fence whose language is ``python``) inside an exercise or a solution is executed in a fresh
namespace, with the repository's root as working directory and a time limit; its ``assert``
lines check the numbers the text states. Shell commands (``bash`` fences: the papermill hands-on
runs) are not executed here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin

from mer_utils.build import templates

REPO = Path(__file__).resolve().parents[1]

BUILD_PRODUCTS = ("book/datasets/", "book/summary/", "book/results/", "book/generated/")
"""Folders under book/ that the runner writes: not committed pages."""

EXERCISE_PAGES = (
    "book/method/stage1.md",
    "book/method/stage2.md",
    "notebooks/classifier.md",
    "book/method/protocols.md",
    "book/method/flow.md",
    "notebooks/leakage.md",
)
"""The method pages, each of which ends with 2-4 exercises."""

RESULT_PAGES = ("notebooks/evaluation.md", "notebooks/benchmark.md")
"""The result pages with exercises beside the method pages' (the leakage page is both)."""

NOTEBOOKS_WITH_EXERCISES = (
    "notebooks/classifier.md",
    "notebooks/leakage.md",
    "notebooks/evaluation.md",
    "notebooks/benchmark.md",
)

PER_DATASET_TEMPLATES = ("notebooks/evaluation.md",)
"""Templates executed once per dataset: their exercise labels are made unique per page by the
book's extension book/_ext/mer_exercises.py."""

GLOSSARY_TERMS = (
    "micro-expression",
    "action unit",
    "onset",
    "apex",
    "offset",
    "LOSO",
    "UF1",
    "UAR",
    "SMOTE",
    "class weights",
    "data leakage",
    "stand-in",
    "majority baseline",
    "subject-independent evaluation",
    "optical flow",
)
"""Terms book/glossary.md must define."""

TIME_LIMIT = 60
"""Seconds one block may take: solutions build small tensors, they do not train."""

_MD = MarkdownIt("commonmark").use(colon_fence_plugin)
_DIRECTIVE = re.compile(r"^\{(exercise|solution)\}\s*(.*)$")
_OPTION = re.compile(r"^:([\w-]+):\s*(.*)$")


@dataclass(frozen=True)
class Directive:
    where: str  # file (and notebook cell) it is in
    kind: str  # "exercise" or "solution"
    argument: str  # the exercise's title, or the label of the exercise a solution solves
    options: dict
    body: str  # the content after the options

    @property
    def label(self) -> str:
        return self.options.get("label", "")


def _split_options(content: str) -> tuple[dict, str]:
    lines = content.splitlines()
    options = {}
    i = 0
    while i < len(lines) and (m := _OPTION.match(lines[i])):
        options[m[1]] = m[2].strip()
        i += 1
    return options, "\n".join(lines[i:])


def _directives(where: str, text: str) -> list[Directive]:
    """Exercise and solution directives of a Markdown text, in order (also inside others)."""
    out = []
    for token in _MD.parse(text):
        if token.type not in ("fence", "colon_fence"):
            continue
        info = token.info.strip()
        m = _DIRECTIVE.match(info)
        if m:
            options, body = _split_options(token.content)
            out.append(Directive(where, m[1], m[2].strip(), options, body))
        elif info.startswith("{"):  # another directive: look inside it
            out.extend(_directives(where, token.content))
    return out


def _python_blocks(text: str) -> list[str]:
    """The Python fences of a Markdown text (also inside nested directives)."""
    out = []
    for token in _MD.parse(text):
        if token.type not in ("fence", "colon_fence"):
            continue
        info = token.info.strip()
        if token.type == "fence" and info.split(maxsplit=1)[:1] == ["python"]:
            out.append(token.content)
        elif info.startswith("{"):
            _, body = _split_options(token.content)
            out.extend(_python_blocks(body))
    return out


def _sources() -> list[tuple[str, str, str]]:
    """(file, place, Markdown) of every committed page and every notebook markdown cell."""
    out = []
    for path in sorted((REPO / "book").rglob("*.md")):
        rel = path.relative_to(REPO).as_posix()
        if not rel.startswith(BUILD_PRODUCTS):
            out.append((rel, rel, path.read_text("utf-8")))
    for path in sorted((REPO / "notebooks").glob("*.md")):
        rel = path.relative_to(REPO).as_posix()
        nb = templates.read(rel)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                out.append((rel, f"{rel}#{i}", cell.source))
    return out


SOURCES = _sources()
DIRECTIVES = [d for file, where, text in SOURCES for d in _directives(where, text)]


def _file(d: Directive) -> str:
    return d.where.split("#", 1)[0]


def _blocks() -> list[pytest.param]:
    params = []
    for d in DIRECTIVES:
        for i, code in enumerate(_python_blocks(d.body)):
            params.append(pytest.param(d.where, code, id=f"{d.label or d.argument}-{i}"))
    return params


BLOCKS = _blocks()


@contextlib.contextmanager
def _time_limit(seconds: int, what: str):
    def expire(signum, frame):
        raise TimeoutError(f"{what} ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ----------------------------------------------------------------------------- structure
@pytest.mark.parametrize("page", EXERCISE_PAGES + RESULT_PAGES)
def test_every_method_page_ends_with_exercises_and_hidden_solutions(page):
    found = [d for d in DIRECTIVES if _file(d) == page]
    exercises = [d for d in found if d.kind == "exercise"]
    assert 2 <= len(exercises) <= 4, f"{page}: {len(exercises)} exercises (want 2-4)"
    for d in found:
        assert d.label, f"{d.where}: {d.kind} {d.argument!r} has no :label:"
    for exercise in exercises:
        following = found[found.index(exercise) + 1 :]
        assert following and following[0].kind == "solution", (
            f"{exercise.where}: exercise {exercise.label} is not followed by its solution"
        )
        solution = following[0]
        assert solution.argument == exercise.label, (
            f"{solution.where}: solution {solution.label} after {exercise.label} solves "
            f"{solution.argument!r}"
        )
        assert "dropdown" in solution.options.get("class", "").split(), (
            f"{solution.where}: solution {solution.label} is not hidden (:class: dropdown)"
        )


def test_labels_are_unique_and_every_solution_solves_an_exercise():
    labels = [d.label for d in DIRECTIVES if d.label]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    assert not duplicates, f"labels used twice: {duplicates}"
    exercises = {d.label for d in DIRECTIVES if d.kind == "exercise"}
    orphans = [d.label for d in DIRECTIVES if d.kind == "solution" and d.argument not in exercises]
    assert not orphans, f"solutions of no exercise: {orphans}"


@pytest.mark.parametrize("path", NOTEBOOKS_WITH_EXERCISES)
def test_notebook_exercises_are_markdown_cells_at_the_end(path):
    nb = templates.read(path)
    places = {d.where for d in DIRECTIVES if _file(d) == path}
    first = min(i for i, cell in enumerate(nb.cells) if f"{path}#{i}" in places)
    assert all(cell.cell_type == "markdown" for cell in nb.cells[first:]), (
        f"{path}: a code cell follows the exercises"
    )
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), (
        f"{path}: committed with outputs"
    )


def _mer_exercises():
    spec = importlib.util.spec_from_file_location(
        "mer_exercises", REPO / "book/_ext/mer_exercises.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", PER_DATASET_TEMPLATES)
def test_exercise_labels_of_per_dataset_pages_are_unique_in_the_book(path):
    """sphinx-exercise skips an exercise whose label another page used: the labels of a template
    executed for every dataset get the page's dataset appended, exercise and solution alike."""
    ext = _mer_exercises()
    labels = {d.label for d in DIRECTIVES if _file(d) == path}
    assert labels and all(label.startswith(ext.PER_DATASET) for label in labels), (
        f"{path}: exercise labels {sorted(labels)} do not all start with {ext.PER_DATASET}"
    )
    text = "\n".join(cell.source for cell in templates.read(path).cells)
    pages = {}
    for dataset in ("casme2", "casme_sq"):
        rendered = ext.per_page_labels(f"book/datasets/{dataset}/20-evaluation", text)
        found = _directives(path, rendered)
        pages[dataset] = {d.label for d in found}
        for d in found:  # every solution still names its exercise
            if d.kind == "solution":
                assert d.argument in pages[dataset], f"{dataset}: {d.argument} not relabelled"
        assert {x.removesuffix("-" + dataset.replace("_", "-")) for x in pages[dataset]} == labels
    assert not pages["casme2"] & pages["casme_sq"]
    assert ext.per_page_labels("book/method/stage2", text) == text  # other pages: unchanged
    assert ext.per_page_labels("book/summary/leakage", text) == text


def test_no_markdown_cell_of_a_template_swallows_a_code_cell():
    """A fence that does not close (e.g. a backtick fence whose info string holds backticks, as
    an admonition title with code in it) turns the rest of a template into one markdown cell:
    its code cells would silently never run."""
    swallowed = [where for file, where, text in SOURCES if "```{code-cell}" in text]
    assert not swallowed, f"markdown cells holding code cells: {swallowed}"


def test_course_links_every_exercise_of_the_method_pages():
    text = (REPO / "book/course.md").read_text("utf-8")
    linked = set(re.findall(r"\{ref\}`[^`<]*<([^`>]+)>`", text)) | set(
        re.findall(r"\{ref\}`([^`<]+)`", text)
    )
    exercises = {d.label for d in DIRECTIVES if d.kind == "exercise" and _file(d) in EXERCISE_PAGES}
    assert exercises <= linked, f"exercises the course does not link: {sorted(exercises - linked)}"
    known = {d.label for d in DIRECTIVES}
    dangling = sorted(x for x in linked if x.startswith(("ex-", "sol-")) and x not in known)
    assert not dangling, f"course links to unknown exercises: {dangling}"


def _glossary_terms() -> set[str]:
    text = (REPO / "book/glossary.md").read_text("utf-8")
    block = next(t for t in _MD.parse(text) if t.info.strip().startswith("{glossary}"))
    _, body = _split_options(block.content)
    return {line.strip().lower() for line in body.splitlines() if line and not line[0].isspace()}


def test_glossary_defines_the_terms_and_every_term_link_resolves():
    terms = _glossary_terms()
    missing = [t for t in GLOSSARY_TERMS if t.lower() not in terms]
    assert not missing, f"book/glossary.md does not define {missing}"
    unknown = []
    for _, where, text in SOURCES:
        for role in re.findall(r"\{term\}`([^`]+)`", text):
            m = re.fullmatch(r"(?s).*<([^<>]+)>\s*", role)
            target = (m[1] if m else role).strip().lower()
            if target not in terms:
                unknown.append(f"{where}: {role}")
    assert not unknown, f"term links without a glossary entry: {unknown}"


# ----------------------------------------------------------------------------- the code
def test_the_exercises_have_code_to_run():
    """A guard for the parser: the method pages hold many Python blocks."""
    assert len(BLOCKS) >= 12, f"only {len(BLOCKS)} Python blocks found in the exercises"


@pytest.mark.parametrize(("where", "code"), BLOCKS)
def test_exercise_code_runs(where, code, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__exercise__"}
    start = time.perf_counter()
    with _time_limit(TIME_LIMIT, f"a Python block of {where}"):
        exec(compile(code, f"<{where}>", "exec"), namespace)  # noqa: S102
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"{where}: {elapsed:.0f} s"
