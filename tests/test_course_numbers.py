"""The course page, the README and the instructors' page state only measured times and counts:
the README's against benchmarks/results/recorded_times.json, the course page's from the run
that built the book (book/generated/run.md, written with the manifest)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mer_utils.build import pages

REPO = Path(__file__).resolve().parent.parent


def _text(path: Path) -> str:
    return " ".join(path.read_text().split())


def test_the_readme_states_the_recorded_times_and_counts():
    recorded = json.loads((REPO / "benchmarks" / "results" / "recorded_times.json").read_text())
    readme = _text(REPO / "README.md")
    book, tests = recorded["make_book_quick"], recorded["make_test"]
    assert (
        f"its runner takes about {round(book['runner_seconds'] / 60)} minutes (measured "
        f"{book['runner_seconds']} s for {book['pages']} pages and {book['records']} result "
        "records" in readme
    )
    assert (
        f"`make test` takes about {round(tests['pytest_seconds'] / 60)} minutes on two cores "
        f"(measured: {tests['pytest_seconds']} s of pytest for {tests['tests']} tests" in readme
    )
    assert f"({recorded['venv']['gigabytes']} GB)" in readme


def test_the_course_page_types_no_build_time_by_hand():
    course = _text(REPO / "book" / "course.md")
    assert "{include} generated/run.md" in course
    assert not re.search(r"make book\S*\s+#[^`]*\d+ min", course)
    assert "under a minute" not in course  # exercise times: measured on the instructors' page


def test_the_run_summary_states_what_the_manifest_measured():
    manifest = {
        "command": "python -m mer_utils.build --profile quick",
        "profile": "quick",
        "wall_seconds": 1920.4,
        "pages": [
            {"status": "ok", "seconds": 1000.0},
            {"status": "ok", "seconds": 900.5},
            {"status": "cached", "seconds": None},
        ],
    }
    text = pages.run_summary(manifest, records=286)
    assert "**32 minutes** (1920 s wall clock) for 3 pages: 2 executed (1900 s" in text
    assert "1 reused" in text and "286 records" in text and "first build" in text
    manifest["pages"] = manifest["pages"][:2]
    assert "reused from" in pages.run_summary(manifest, None)
    assert "first build" not in pages.run_summary(manifest, None)


def test_the_manifest_writes_the_run_summary_the_course_includes(tmp_path):
    book = tmp_path / "book"
    pages.write_generated(book=book)
    assert "not recorded a run" in (book / "generated" / "run.md").read_text()
    manifest = {"command": "c", "profile": "smoke", "wall_seconds": 60.0, "pages": []}
    pages.write_run_summary(manifest, tmp_path / "results", book)
    assert "**1 minutes** (60 s" in (book / "generated" / "run.md").read_text()


def test_the_instructors_page_states_the_measured_exercise_times():
    recorded = json.loads((REPO / "benchmarks" / "results" / "exercise_times.json").read_text())
    page = (REPO / "book" / "instructors.md").read_text()
    for label, seconds in recorded["seconds"].items():
        exercise = label.split("-", 1)[1]
        row = next(line for line in page.splitlines() if f"`ex-{exercise}`" in line)
        assert f"{seconds:.2f}" in row, (label, row)
    assert recorded["machine"].split(",")[0] in page  # the machine is stated
    for session in ("Session 1", "Session 2", "Session 3"):
        assert f"## {session}" in page
    assert page.count("**Learning goals.**") == 3 and page.count("**Answer key.**") == 3


def test_the_glossary_defines_the_statistics_the_pages_use():
    glossary = (REPO / "book" / "glossary.md").read_text()
    for term in (
        "Holm correction",
        "permutation test",
        "bootstrap interval",
        "macro F1",
        "weighted F1",
    ):
        assert f"\n{term}\n" in glossary, term


def test_the_intro_and_course_counts_match_the_code():
    from mer_utils import config, flow
    from mer_utils.standins import REFERENCE_FACE_PX

    intro = _text(REPO / "book" / "intro.md")
    amplitude = config.profile("quick")["standin"]["amplitude"]
    assert f"{amplitude:g} pixels at its peak on a face {REFERENCE_FACE_PX:g} pixels tall" in intro
    course = _text(REPO / "book" / "course.md")
    n_features = len(flow.feature_names())
    assert f"logistic regression on {n_features} features" in course
    classifier = _text(REPO / "notebooks" / "classifier.md")
    assert "0.6 million weights" in course and "591875" in classifier.replace("{,}", "")
