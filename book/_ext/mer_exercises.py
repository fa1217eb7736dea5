"""Exercises of a page rendered once per dataset get labels of their own on every page.

The evaluation template (``notebooks/evaluation.md``) is executed once per dataset, into
``book/datasets/<dataset>/20-evaluation.ipynb``, and carries its exercises once, with labels such
as ``ex-eval-interval``. sphinx-exercise needs a label to be unique in the whole book (it skips a
duplicate, with a warning). So, when Sphinx reads a page under ``book/datasets/<dataset>/``,
every label with a prefix of :data:`PER_DATASET` (and every reference to it on that page) gets
the page's dataset appended: ``ex-eval-interval`` becomes ``ex-eval-interval-casme2``. Pages
elsewhere are read unchanged.
"""

from __future__ import annotations

import re

PER_DATASET = ("ex-eval-", "sol-eval-")
"""Label prefixes of the exercises of templates rendered once per dataset."""

_LABEL = re.compile(
    r"(?<![\w-])((?:" + "|".join(map(re.escape, PER_DATASET)) + r")[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*)"
)
_PAGE = re.compile(r"^book/datasets/([^/]+)/")


def per_page_labels(docname: str, text: str) -> str:
    """``text`` of page ``docname`` with its per-dataset exercise labels made unique."""
    m = _PAGE.match(docname)
    if not m:
        return text
    suffix = "-" + m[1].replace("_", "-")
    return _LABEL.sub(lambda label: label[1] + suffix, text)


def _source_read(app, docname: str, source: list[str]) -> None:
    source[0] = per_page_labels(docname, source[0])


def setup(app):
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
