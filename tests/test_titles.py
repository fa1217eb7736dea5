"""Every page of the table of contents has a title of its own: per-dataset pages name their
dataset (before, five pages were titled "Evaluation summary")."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

import nbformat
import yaml

from mer_utils.build import grid, runner, templates
from mer_utils.build.fingerprints import rendered

REPO = Path(__file__).resolve().parent.parent


def _files(toc: dict) -> list[str]:
    out = [toc["root"]]
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            out.append(chapter["file"])
            out += [s["file"] for s in chapter.get("sections", [])]
    return out


def test_every_page_of_the_toc_has_a_title_of_its_own():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    executed = {job.output.removesuffix(".ipynb"): job for job in grid.full_grid()}
    titles = {}
    for page in _files(toc):
        if page in executed:  # the title the runner gives the executed page
            job = executed[page]
            nb = copy.deepcopy(rendered(job.template, job.method))
            titles[page] = templates.title_dataset(nb, job.parameters.get("dataset"))
        else:
            text = (REPO / f"{page}.md").read_text()
            titles[page] = templates.page_title(
                nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
            )
        assert titles[page], f"{page}: no title"
    twice = {t: n for t, n in Counter(titles.values()).items() if n > 1}
    assert not twice, {t: [p for p in titles if titles[p] == t] for t in twice}
    assert titles["book/datasets/smic/20-evaluation"] == "Evaluation summary — SMIC-HS"


def test_the_runner_titles_an_executed_page_with_its_dataset(tmp_path):
    nb = copy.deepcopy(rendered("notebooks/evaluation.md"))
    nb.metadata["papermill"] = {"parameters": {"dataset": "samm", "seed": 0}}
    page = tmp_path / "page.ipynb"
    nbformat.write(nb, page)
    runner.tidy(page, tmp_path / "page.log")
    runner.tidy(page, tmp_path / "page.log")  # idempotent
    assert templates.page_title(nbformat.read(page, 4)) == "Evaluation summary — SAMM"
