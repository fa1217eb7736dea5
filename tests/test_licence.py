"""The licences: the files exist, say what they cover, and the book's footer states them."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_the_code_and_the_text_have_licence_files():
    code = (REPO / "LICENSE").read_text()
    assert code.startswith("MIT License") and "Permission is hereby granted" in code
    text = (REPO / "LICENSE-text").read_text()
    assert "Creative Commons Attribution 4.0" in text
    assert "creativecommons.org/licenses/by/4.0/legalcode" in text
    # what a reuser must respect beyond the two licences
    for term in ("CASME II", "SAMM", "SMIC", "CAS(ME)^2", "astronaut", "iBUG 300-W"):
        assert term in text, term
    assert "commercial" in text


def test_the_book_footer_states_the_licences_in_the_built_configuration():
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(
        user_yaml=REPO / "_config.yml",
        sourcedir=REPO,
        cli_config={"latex_individualpages": False},
    )
    footer = config["html_theme_options"]["extra_footer"]
    assert "CC BY 4.0" in footer and "creativecommons.org/licenses/by/4.0/" in footer
    assert "MIT" in footer


def test_the_licence_page_is_in_the_book_and_the_readme_names_both_licences():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert "book/licence" in files
    page = (REPO / "book" / "licence.md").read_text()
    for term in ("CC BY 4.0", "MIT", "astronaut", "iBUG 300-W", "commercial", "SMIC"):
        assert term in page, term
    readme = (REPO / "README.md").read_text()
    assert "## Licence" in readme and "LICENSE-text" in readme and "MIT" in readme
    meta = (REPO / "pyproject.toml").read_text()
    assert 'license = {text = "MIT"}' in meta
