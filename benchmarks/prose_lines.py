"""How much book prose is held in Python strings: the reader-facing sentences of the report code.

A reader-facing sentence is a string literal (a plain string, an f-string, or adjacent literals
joined by the parser) that is not a docstring (nor a string documenting an attribute), not the
message of an exception, a warning or an ``assert``, not a log line, and holds at least
:data:`WORDS` words, or at least :data:`SENTENCE` words and ends a sentence. Words are runs of
letters outside placeholders and markup (:func:`words`). Column headers, axis labels and short
captions have fewer words; a finding, a verdict or a legend's explanation has more.

    .venv/bin/python benchmarks/prose_lines.py             # the counts, one JSON line
    .venv/bin/python benchmarks/prose_lines.py --list      # every literal counted, with its line

The counts: ``lines`` (the source lines such literals span, each line once), ``literals`` and
``words``, over ``mer_utils/report/*.py`` and ``mer_utils/verdicts.py``
(tests/test_report.py::test_no_prose_in_report_code checks the report code holds none).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = sorted((REPO / "mer_utils" / "report").glob("*.py")) + [REPO / "mer_utils" / "verdicts.py"]
WORDS = 10
"""The fewest words of a literal counted as prose whatever its end: a legend's explanation, a
finding. Column headers, axis labels and captions such as "UF1 under `kfold`, measured on
{kinds}" have fewer."""
SENTENCE = 3
"""The fewest words of a literal that ends a sentence (``.``, ``?``, ``!`` or ``:``) counted as
prose: "No runs in this build." is a sentence, "class weights (Eq. 1)" a label."""

_MESSAGES = ("Error", "Exception", "Warning")
_LOGS = {"debug", "info", "warning", "error", "critical", "exception", "warn"}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string statements of ``tree`` (docstrings, strings documenting a name)."""
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        for statement in body if isinstance(body, list) else []:
            if (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                out.add(id(statement.value))
    return out


def _is_message(node: ast.AST) -> bool:
    """A node whose strings are messages to a developer: a ``raise``, an ``assert``, a call of
    an exception or warning class, of ``warnings.warn`` or of a logger."""
    if isinstance(node, (ast.Raise, ast.Assert)):
        return True
    if isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name.endswith(_MESSAGES) or (isinstance(f, ast.Attribute) and name in _LOGS):
            return True
    return False


def _text(node: ast.AST) -> str:
    """A literal's text, each f-string placeholder written ``{}``."""
    if isinstance(node, ast.Constant):
        return node.value
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


def words(text: str) -> int:
    """The words of a literal's text: runs of letters (``p-value``, ``paper's``: one word each);
    placeholders, numbers, marks and markup names between ``<`` and ``>`` are not words."""
    return len(_WORD.findall(_MARKUP.sub(" ", text)))


def is_prose(text: str, least: int = WORDS) -> bool:
    """Whether a literal's text is prose: at least ``least`` words, or at least
    :data:`SENTENCE` words ending a sentence."""
    n = words(text)
    return n >= least or (n >= SENTENCE and _END.search(text.replace("{}", "X")) is not None)


_END = re.compile(r"[.?!:]\W*$")
_WORD = re.compile(r"[A-Za-z_]+(?:['’-][A-Za-z_]+)*")
_MARKUP = re.compile(r"<[^>]*>|\{[^}]*\}")


def literals(path: Path, least: int = WORDS) -> list[tuple[int, int, str]]:
    """The sentences of ``path``: (first line, last line, text) of every literal of at least
    ``least`` words that is not a docstring or a message (see the module docstring)."""
    tree = ast.parse(path.read_text())
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if _is_message(node):
            skip |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            skip |= {id(v) for v in node.values}  # its parts; strings inside its {} still count
        elif not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        text = _text(node)
        if is_prose(text, least):
            out.append((node.lineno, node.end_lineno, " ".join(text.split())))
    return sorted(out)


def count(files=FILES, least: int = WORDS) -> dict:
    """``lines``, ``literals`` and ``words`` of the sentences of ``files``, and per file."""
    total = {"lines": 0, "literals": 0, "words": 0, "files": {}}
    for path in files:
        found = literals(path, least)
        lines = set()
        for first, last, _ in found:
            lines |= set(range(first, last + 1))
        if found:
            total["files"][str(path.relative_to(REPO))] = len(lines)
        total["lines"] += len(lines)
        total["literals"] += len(found)
        total["words"] += sum(words(t) for _, _, t in found)
    return total


def main(argv: list[str]) -> None:
    if "--list" in argv:
        for path in FILES:
            for first, last, text in literals(path):
                print(f"{path.relative_to(REPO)}:{first}-{last}: {text}")
        return
    print(json.dumps(count()))


if __name__ == "__main__":
    main(sys.argv[1:])
