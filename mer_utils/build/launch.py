"""Launch buttons: what Colab and Binder open, and the cell that makes it run there.

The book's pages are executed notebooks that the runner writes; they are build products, not in
the repository, and Colab and Binder open notebooks from a repository's branch
(``https://colab.research.google.com/github/<org>/<repo>/blob/<branch>/<path>`` and
``https://mybinder.org/v2/gh/<org>/<repo>/<branch>?urlpath=tree/<path>``: sphinx-book-theme
forms both from ``repository.url``, ``repository.branch`` and the page's path). So the
publishing workflow, after building the book from commit ``C``, writes a **launch branch**: the
tree of ``C`` plus every executed per-dataset page at its path in the book
(``book/datasets/<dataset>/<page>.ipynb``), each with one hidden cell added after its parameters
(:func:`with_launch`). ``python -m mer_utils.build.launch BOOK_DIR OUT_DIR --repository URL --commit C``
writes those pages; the book is then built with ``BOOK_LAUNCH_BRANCH`` naming that branch
(``book/_ext/mer_book.py`` turns the buttons on).

The launch cell (:data:`LAUNCH`), where the page runs in a build of the study (its
``results_dir`` exists), does nothing. Elsewhere it

1. moves to the repository's root when the notebook lies in a checkout (Binder), else to a work
   folder of its own (``$MER_LAUNCH_DIR``, default ``~/mer-study``: Colab);
2. installs the study when ``mer_utils`` cannot be imported: from the checkout
   (``pip install -e ROOT``, with ``requirements.txt``), else ``pip install "git+URL@C"`` (the
   commit the book was built from);
3. switches the page to the ``smoke`` profile on stand-ins, the ``kfold`` protocol and a fresh
   results folder, so that it runs in a few minutes with no licensed data; the hidden cell that
   follows (:func:`mer_utils.standins.ondemand.ensure_data`) generates the stand-in.

Summary pages read the records of the whole run and are not put on the launch branch.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

LAUNCH = """\
# Launch (Colab, Binder): outside a build of the study, install it and run on the smoke stand-ins
import importlib.util, os, pathlib, subprocess, sys

STUDY = "git+{repository}@{commit}"  # the commit this book was built from
if not pathlib.Path(results_dir).is_dir():
    here = pathlib.Path.cwd()
    root = next((p for p in (here, *here.parents) if (p / "mer_utils/data/grid.yaml").is_file()), None)
    work = root or pathlib.Path(os.environ.get("MER_LAUNCH_DIR", pathlib.Path.home() / "mer-study"))
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    if importlib.util.find_spec("mer_utils") is None:
        install = ["-r", str(root / "requirements.txt"), "-e", str(root)] if root else [STUDY]
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *install], check=True)
    from mer_utils import config, sources

    if data_kind == "stand-in":
        profile, protocols, data_id = "smoke", ["kfold"], None
        folder = config.dataset_info(dataset).get("folder") or ""
        standin = config.profile(profile)["standin"]
        dataset_dir = str(sources.standin_root(sources.STANDINS, standin) / folder)
    results_dir, cache_dir = "results", ".cache/stage1"
    print(f"running in {{work}}: profile {{profile}}, data {{dataset_dir}}, results {{results_dir}}")
"""
"""The launch cell's source (``{repository}`` and ``{commit}`` filled by :func:`launch_cell`)."""


def launch_cell(repository: str, commit: str) -> nbformat.NotebookNode:
    """The hidden launch cell for a book built from ``commit`` of ``repository``."""
    if not repository.startswith("https://") or not commit.strip():
        raise ValueError(
            f"launch cell: need an https repository URL and a commit, got "
            f"{repository!r} and {commit!r}"
        )
    cell = nbformat.v4.new_code_cell(LAUNCH.format(repository=repository, commit=commit.strip()))
    cell.metadata["tags"] = ["remove-cell"]
    cell.metadata["mer"] = {"launch": True}
    return cell


def with_launch(nb: nbformat.NotebookNode, repository: str, commit: str):
    """A copy of executed page ``nb`` with the launch cell after its parameters (after
    papermill's injected cell, if any, so that the launch switch has the last word)."""
    out = copy.deepcopy(nb)
    out.cells = [c for c in out.cells if not c.metadata.get("mer", {}).get("launch")]
    at = None
    for i, cell in enumerate(out.cells):
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            at = i + 1
    if at is None:
        raise ValueError("launch cell: the page has no parameters cell")
    out.cells.insert(at, launch_cell(repository, commit))
    return out


def write_launch_pages(book: Path, out: Path, repository: str, commit: str) -> list[Path]:
    """Write every executed per-dataset page under ``book/datasets`` to ``out`` (the launch
    branch's tree: ``out/book/datasets/...``) with its launch cell. Placeholders (pages a
    narrowed run did not execute: no parameters cell) are left out."""
    written = []
    for page in sorted((Path(book) / "datasets").glob("*/*.ipynb")):
        if page.name.endswith(".running.ipynb"):
            continue
        nb = nbformat.read(page, as_version=4)
        if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells):
            continue
        target = Path(out) / "book" / "datasets" / page.parent.name / page.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(with_launch(nb, repository, commit), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m mer_utils.build.launch", description=__doc__.split("\n")[0]
    )
    p.add_argument("book", type=Path, help="the book folder the runner wrote (book)")
    p.add_argument("out", type=Path, help="the launch branch's work tree")
    p.add_argument("--repository", required=True, help="https URL of the repository")
    p.add_argument("--commit", required=True, help="the commit the book was built from")
    args = p.parse_args(argv)
    try:
        written = write_launch_pages(args.book, args.out, args.repository, args.commit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} pages with a launch cell under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
