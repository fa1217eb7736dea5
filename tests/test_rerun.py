"""A page downloaded from the book re-runs as it stands: its parameters cell holds the page's
own values (papermill replaces only the ones it is given), and a missing stand-in folder is
generated from the page's profile. The end-to-end check on an executed page of the smoke build
is in tests/test_notebooks.py (``test_a_downloaded_page_reruns_with_one_parameter_changed``)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from mer_utils import config, sources
from mer_utils.build import runner, templates
from mer_utils.standins.ondemand import ensure_data


def _page(tmp: Path) -> Path:
    """A tiny page as the runner renders one: a parameters cell, a cell that writes them."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(templates.parameters_source({"a": 1, "b": "template"}))
    params.metadata["tags"] = ["parameters", "remove-cell"]
    out = tmp / "seen.json"
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(f"import json; json.dump([a, b], open({str(out)!r}, 'w'))"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp / "template.ipynb"
    nbformat.write(nb, path)
    return path


def test_an_executed_page_keeps_its_own_parameters_when_papermill_changes_one(tmp_path):
    import papermill as pm

    page = tmp_path / "page.ipynb"
    pm.execute_notebook(
        str(_page(tmp_path)), str(page), parameters={"a": 5, "b": "page"}, progress_bar=False
    )
    runner.tidy(page, tmp_path / "page.log")  # what the runner does to every executed page
    cell = next(c for c in nbformat.read(page, 4).cells if "parameters" in c.metadata.tags)
    assert templates.assignments(cell.source) == {"a": 5, "b": "page"}
    pm.execute_notebook(str(page), str(tmp_path / "again.ipynb"), parameters={"a": 7})
    # before: b fell back to the template's default "template"
    assert json.loads((tmp_path / "seen.json").read_text()) == [7, "page"]


def test_the_templates_defaults_name_an_existing_kind_of_folder():
    values = templates.defaults("method", "FLOW-LINEAR")
    standin = config.profile(values["profile"])["standin"]
    folder = config.dataset_info(values["dataset"])["folder"]
    assert values["dataset_dir"] == str(sources.standin_root(sources.STANDINS, standin) / folder)
    nb = templates.render("notebooks/method.md", "FLOW-LINEAR")
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    first = next(i for i, t in enumerate(tags) if "parameters" in t)
    assert (
        nb.cells[first + 1].metadata["mer"]["prepare"]
        and "ensure_data" in nb.cells[first + 1].source
    )


TINY = {"frame_scale": 0.5, "amplitude": 3.0, "subjects": 2, "max_clip_frames": 6}


def test_a_missing_stand_in_is_generated_from_the_page_profile(tmp_path, monkeypatch):
    profiles = {**config.load("profiles")}
    profiles["tiny"] = {**profiles["smoke"], "standin": TINY}  # seconds, not half a minute
    real_load = config.load
    monkeypatch.setattr(config, "load", lambda n: profiles if n == "profiles" else real_load(n))
    digest = sources.standin_digest(TINY)
    folder = tmp_path / "standins" / digest / "CASME_sq"
    assert ensure_data("casme_sq", folder, "stand-in", "tiny") == folder
    assert sources.is_standin(folder)
    marker = sources.read_marker(folder)
    assert marker["dataset"] == "casme_sq" and len(marker["subjects"]) == 2
    stamp = sources.contents(folder)["digest"]
    ensure_data("casme_sq", folder, "stand-in", "smoke")  # present: left as it is
    assert sources.contents(folder)["digest"] == stamp


@pytest.mark.parametrize(
    ("folder", "kind", "message"),
    [
        ("licensed/CASME_sq", "licensed", "licensed data are never generated"),
        ("standins/000000000000/CASME_sq", "stand-in", "not named by the digest"),
        ("standins/{digest}/SMIC", "stand-in", "would be named CASME_sq"),
    ],
)
def test_what_is_never_generated_is_a_one_line_error(tmp_path, folder, kind, message):
    digest = sources.standin_digest(config.profile("smoke")["standin"])
    path = tmp_path / folder.format(digest=digest)
    with pytest.raises(FileNotFoundError, match=message) as err:
        ensure_data("casme_sq", path, kind, "smoke")
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert not path.exists()
