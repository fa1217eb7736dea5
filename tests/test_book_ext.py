"""The book's Sphinx extension (book/_ext/mer_book.py) and its bibliography."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from pybtex.database import parse_file

from mer_utils.build import grid

REPO = Path(__file__).resolve().parents[1]
BIB = REPO / "book" / "references.bib"


@pytest.fixture(scope="module")
def ext():
    spec = importlib.util.spec_from_file_location("mer_book", REPO / "book/_ext/mer_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mer_book"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("mer_book", None)


def test_the_repository_url_comes_from_the_environment_or_not_at_all(ext, monkeypatch):
    monkeypatch.delenv(ext.URL_ENV, raising=False)
    assert ext.repository_url() == ""
    monkeypatch.setenv(ext.URL_ENV, " https://github.com/owner/mer-book/ ")
    assert ext.repository_url() == "https://github.com/owner/mer-book"
    monkeypatch.setenv(ext.URL_ENV, "https://github.example.com/owner/mer-book.git")
    assert ext.repository_url() == "https://github.example.com/owner/mer-book"
    monkeypatch.setenv(ext.URL_ENV, "git@github.com:owner/mer-book")
    with pytest.raises(ValueError, match="http"):
        ext.repository_url()


def test_the_edit_link_of_an_executed_page_opens_its_template(ext):
    templates = ext.templates(REPO)
    outputs = {str(Path(j.output).with_suffix("")) for j in grid.full_grid()}
    assert outputs and outputs == set(templates)
    for page, template in templates.items():
        assert page.startswith(ext.GENERATED), page
        assert template.startswith("notebooks/") and (REPO / template).is_file(), template


def test_bibliography_labels_are_author_year_and_read_others_as_et_al(ext):
    entries = parse_file(str(BIB)).entries
    labels = dict(zip(entries, ext.AuthorYearLabels().format_labels(entries.values()), strict=True))
    assert labels["king2009"] == "King 2009"
    assert labels["nadeau2003"] == "Nadeau and Bengio 2003"
    assert labels["irawan2024"] == "Irawan et al. 2024"
    assert labels["irawan2023"] == "Irawan et al. 2023"  # "Irawan, B. and others"
    assert labels["farneback2003"] == "Farnebäck 2003"  # LaTeX accents decoded
    assert len(set(labels.values())) == len(labels), "two works share a label"


def _cited_keys() -> set[str]:
    keys = set()
    pages = [*(REPO / "book").rglob("*.md"), *(REPO / "notebooks").glob("*.md")]
    for page in pages:
        for role in re.findall(r"(?<!`)\{cite:[a-z]+\}`([\w, -]+)`", page.read_text("utf-8")):
            keys |= {k.strip() for k in role.split(",")}
    return keys


def test_every_work_of_the_bibliography_is_cited_and_every_citation_is_in_it():
    entries = parse_file(str(BIB)).entries
    cited = _cited_keys()
    assert cited - set(entries) == set(), "cited but not in book/references.bib"
    assert set(entries) - cited == set(), "in book/references.bib but cited nowhere"
    for key, entry in entries.items():
        assert entry.fields.get("year") and entry.fields.get("title"), key


def test_the_papers_doi_is_a_link_wherever_it_is_printed():
    for path in (REPO / "README.md", REPO / "book" / "intro.md"):
        text = path.read_text("utf-8")
        assert "10.28945/5386" in text
        bare = re.findall(r"(?<!\[)doi:10\.28945/5386(?!\]\()", text)
        assert not bare, f"{path.name}: the DOI is printed without a link"


def test_edit_links_follow_the_provider(ext):
    url, branch = "https://github.com/o/r", "main"
    assert ext.edit_link(url, branch, "book/intro.md") == f"{url}/edit/main/book/intro.md"
    assert ext.edit_link(url, branch, "notebooks") == f"{url}/tree/main/notebooks"
    lab = "https://gitlab.com/o/r"
    assert ext.edit_link(lab, branch, "book/intro.md") == f"{lab}/-/edit/main/book/intro.md"
