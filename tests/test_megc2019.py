"""The MEGC 2019 composite (issue 19): the dataset plug-in on fixture trees in the three real
layouts, its label rule and exclusions, the stand-in composite's structure, its sources and its
place in the run grid."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from test_datasets import CASME2_HEADER, SAMM_HEADER, _frames, _workbook

from mer_utils import config, datasets, protocols, sources
from mer_utils.build import fingerprints, grid
from mer_utils.build.fingerprints import REPO
from mer_utils.datasets import megc2019
from mer_utils.datasets._common import label_rule, map_label

CLASSES = config.CLASSES
PARTS = {
    "casme2": (145, (88, 32, 25), 24),
    "samm": (133, (92, 26, 15), 28),
    "smic": (164, (70, 51, 43), 16),
}
"""Per part: clips, clips per class and subjects in the organisers' list."""
LEFT_OUT = {
    ("sub04", "EP12_01f"): "disgust",
    ("sub05", "EP09_05f"): "disgust",
    ("sub24", "EP07_01"): "surprise",
    ("sub24", "EP07_04f"): "surprise",
    ("sub24", "EP10_03"): "surprise",
}


def _casme2(root: Path, structure: dict) -> None:
    """CASME II as distributed, holding the composite's clips and the rows its rule drops or
    its list leaves out: negatives alternate disgust and repression; one fear, one sadness and
    one 'others' row; the five left-out clips under their real names and labels."""
    rows, k = [], 0
    for subject, counts in structure.items():
        labels = [("disgust", "repression")[i % 2] for i in range(counts[0])]
        labels += ["happiness"] * counts[1] + ["surprise"] * counts[2]
        for emotion in labels:
            k += 1
            rows.append([subject[3:], f"EP{k:03d}_01", None, 1, 2, 2, None, "4", emotion, 1])
    extra = {("sub01", "EP900_01"): "fear", ("sub02", "EP901_01"): "sadness"}
    extra |= {("sub03", "EP902_01"): "others"} | LEFT_OUT
    for (subject, clip), emotion in extra.items():
        apex = "/" if clip == "EP12_01f" else 2
        rows.append([subject[3:], clip, None, 1, apex, 2, None, "4", emotion, 1])
    for row in rows:
        _frames(root / "CASME2_RAW_selected" / f"sub{row[0]}" / row[1], (1, 2), "img{}.jpg")
    _workbook(root / "CASME2-coding-20190701.xlsx", {"Sheet1": [CASME2_HEADER, *rows]})


def _samm(root: Path, structure: dict) -> None:
    negative = ["Anger", "Contempt", "Disgust", "Fear", "Sadness"]
    rows = []
    for subject, counts in structure.items():
        labels = [negative[i % 5] for i in range(counts[0])]
        labels += ["Happiness"] * counts[1] + ["Surprise"] * counts[2]
        for i, emotion in enumerate(labels, 1):
            rows.append(
                [subject, f"{subject}_1_{i}", 1, 10, 11, 11, 2, "Micro", "4", emotion, 1, None]
            )
    rows.append([subject, f"{subject}_9_9", 1, 10, 11, 11, 2, "Micro", "4", "Other", 7, None])
    for row in rows:
        _frames(root / row[0] / row[1], (10, 11), f"{row[0]}_{{:05d}}.jpg", gray=True)
    preamble = [[f"note {i}"] for i in range(13)]
    _workbook(
        root / "SAMM_Micro_FACS_Codes_v2.xlsx", {"MICRO_ONLY": preamble + [SAMM_HEADER] + rows}
    )


def _smic(root: Path, structure: dict) -> None:
    for subject, counts in structure.items():
        for label, n in zip(CLASSES, counts):
            for i in range(n):
                folder = root / "HS" / subject / "micro" / label / f"{subject}_{label[:2]}_{i:02d}"
                _frames(folder, (1, 2), "image{:06d}.bmp")


@pytest.fixture(scope="module")
def licensed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("megc-data")
    structure = megc2019.composite_structure()
    _casme2(root / "CASME2", structure["casme2"])
    _samm(root / "SAMM", structure["samm"])
    _smic(root / "SMIC", structure["smic"])
    return root


def test_the_composite_of_licensed_layouts_is_the_organisers_442_clips(licensed):
    table = datasets.load("megc2019", licensed)
    assert len(table) == 442 and table["subject"].nunique() == 68
    assert datasets.class_counts(table) == {"negative": 250, "positive": 109, "surprise": 83}
    for part, (clips, counts, subjects) in PARTS.items():
        mine = table[table["source"] == part]
        assert len(mine) == clips and mine["subject"].nunique() == subjects, part
        assert tuple(datasets.class_counts(mine).values()) == counts, part
    assert set(table["dataset"]) == {"megc2019"}
    assert "casme2/sub01" in set(table["subject"]) and "smic/s1" in set(table["subject"])
    assert len(protocols.splits(table, "loso", 0)) == 68  # one leave-one-subject-out fold each
    # per subject exactly the organisers' list
    structure = megc2019.composite_structure()
    got = Counter(zip(table["source"], table["subject"].str.split("/").str[1], table["label"]))
    for part, per_subject in structure.items():
        for subject, counts in per_subject.items():
            assert tuple(got[(part, subject, c)] for c in CLASSES) == counts, (part, subject)


def test_the_five_left_out_clips_are_listed_with_their_reason(licensed):
    report = datasets.load("megc2019", licensed).attrs["report"]
    listed = {(e["row"].split()[0], e["row"].split()[1]) for e in report["excluded"]}
    assert listed == set(LEFT_OUT)
    assert {e["reason"] for e in report["excluded"]} == {"not in the MEGC 2019 composite list"}
    assert report["dropped"]["not in the MEGC 2019 composite list"] == 5
    # the rule drops fear and sadness in CASME II, and SAMM's Other
    assert report["dropped"]["CASME II: label fear"] == 1
    assert report["dropped"]["CASME II: label sadness"] == 1
    assert report["dropped"]["SAMM: label other"] == 1


def test_the_rule_is_the_composites_only_inside_the_composite():
    assert map_label("casme2", "fear") == "negative"  # the paper's rule
    rule = config.load("labels")["megc2019"]["casme2"]
    with label_rule("casme2", rule):
        assert map_label("casme2", "fear") is None and map_label("casme2", "Disgust") == "negative"
    assert map_label("casme2", "sadness") == "negative"


def test_a_missing_part_is_an_error_naming_the_folder(tmp_path):
    with pytest.raises(
        datasets.DatasetError, match="SMIC: the MEGC 2019 composite needs its SMIC-HS"
    ):
        datasets.load("megc2019", tmp_path)


def test_the_stand_in_composite_has_the_real_structure():
    """Issue 19: the stand-ins' composite gives 250/109/83 over 68 subjects. The plans are what
    the stand-ins write (their annotation rows), read here with the composite's rule."""
    from mer_utils import standins

    rules = config.load("labels")["megc2019"]
    excluded = {
        (e["part"], e["subject"], e["clip"])
        for e in config.dataset_info("megc2019")["excluded"]["clips"]
    }
    counts, subjects = Counter(), set()
    for part in ("casme2", "samm", "smic"):
        with label_rule(part, rules[part]):
            for plan in standins.plan(part, seed=0):
                for clip in plan.clips:
                    if (part, plan.id, clip.name) in excluded:
                        continue
                    label = map_label(part, clip.emotion) if clip.emotion else None
                    if label:
                        counts[label] += 1
                        subjects.add((part, plan.id))
    assert [counts[c] for c in CLASSES] == [250, 109, 83] and len(subjects) == 68


def test_sources_of_the_composite_come_from_its_parts(tmp_path, licensed):
    chosen = sources.resolve_sources(["megc2019"], str(licensed), {}, standins=tmp_path / "st")
    composite = chosen["megc2019"]
    assert composite.kind == "licensed" and composite.dir == str(licensed.resolve())
    assert [p.dataset for p in composite.parts] == ["smic", "casme2", "samm"]
    # one part elsewhere: a folder of links, the parts' kinds decide the composite's
    other = tmp_path / "elsewhere"
    shutil.copytree(licensed / "SAMM", other / "SAMM")
    mixed = sources.resolve_sources(
        ["megc2019"], str(licensed), {"samm": str(other / "SAMM")}, standins=tmp_path / "st"
    )["megc2019"]
    assert Path(mixed.dir).parts[:2] == (".cache", "composites")
    assert mixed.kind == "licensed" and len(datasets.load("megc2019", REPO / mixed.dir)) == 442
    stand = sources.resolve_sources(["megc2019"], None, {}, standins=tmp_path / "st", standin={})
    assert stand["megc2019"].kind == "stand-in"
    assert stand["megc2019"].dir == str(sources.standin_root(tmp_path / "st", {}))
    assert fingerprints.data_stamp(chosen["megc2019"]) == "".join(
        fingerprints.data_stamp(p) for p in chosen["megc2019"].parts
    )


def test_the_paper_profile_plans_loso_for_every_method_and_quick_kfold_for_networks():
    chosen = {
        "megc2019": sources.Source(
            "megc2019",
            "x",
            "stand-in",
            parts=(
                sources.Source("smic", "x/SMIC", "stand-in"),
                sources.Source("casme2", "x/CASME2", "stand-in"),
                sources.Source("samm", "x/SAMM", "stand-in"),
            ),
        )
    }
    methods = list(config.methods())
    paper = {
        j.method: j.parameters["protocols"]
        for j in grid.plan(chosen, "paper", methods, config.profile("paper")["protocols"], 0)
        if j.method
    }
    assert paper and all(p == ["loso"] for p in paper.values())
    quick = {
        j.method: j.parameters["protocols"]
        for j in grid.plan(chosen, "quick", methods, config.profile("quick")["protocols"], 0)
        if j.method
    }
    for method, planned in quick.items():
        kind = config.method(method)["method"]
        assert planned == (["kfold", "loso"] if kind == "flow" else ["kfold"]), method
    pages = [
        j.key for j in grid.plan(chosen, "quick", methods, config.profile("quick")["protocols"], 0)
    ]
    assert "megc2019/30-benchmark" in pages and "megc2019/02-data-preprocessing" not in pages


def test_the_composite_runs_one_seed_of_kfold_in_quick_and_its_records_say_so(tmp_path):
    from test_schema import _run

    from mer_utils import results

    composite = config.profile("quick", "megc2019")
    assert composite["repeats"]["kfold"] == 1
    # records made under other values (here: three seeds of kfold) are never shown as current
    quick = {**config.profile("quick"), "repeats": {"kfold": 3}}
    assert results.params_id(quick) != results.params_id(composite)
    # a page shows, per dataset, only the records made under the values that dataset runs
    results.write_run(
        tmp_path, _run(profile="quick", dataset="megc2019", profile_id=results.params_id(composite))
    )
    results.write_run(
        tmp_path,
        _run(profile="quick", dataset="megc2019", profile_id=results.params_id(quick), repeat=1),
    )
    results.write_run(
        tmp_path,
        _run(
            profile="quick", dataset="casme2", profile_id=results.params_id(config.profile("quick"))
        ),
    )
    shown = results.current(tmp_path, "quick", ["megc2019", "casme2"], 0).metrics
    assert sorted(zip(shown["dataset"], shown["repeat"])) == [("casme2", 0), ("megc2019", 0)]
