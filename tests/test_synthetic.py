"""Tests of the synthetic stand-in generator (mer_utils.synthetic)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest

from mer_utils import config, datasets, synthetic
from mer_utils.config import CLASSES

TINY = {"n_subjects": 2, "clips_per_subject": 3, "frame_size": (240, 320), "clip_frames": (6, 8)}


def _digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root``."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(path: Path, sheet: str | int = 0) -> list[tuple]:
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb[sheet] if isinstance(sheet, str) else wb.worksheets[sheet]
    rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
    wb.close()
    return rows


# --------------------------------------------------------------------------- determinism

def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    for name in ("casme_sq", "samm"):
        a = synthetic.generate(name, tmp_path / "a" / name, seed=3, casme_sq_videos=True, **TINY)
        b = synthetic.generate(name, tmp_path / "b" / name, seed=3, casme_sq_videos=True, **TINY)
        c = synthetic.generate(name, tmp_path / "c" / name, seed=4, casme_sq_videos=True, **TINY)
        da, db, dc = _digest(a), _digest(b), _digest(c)
        assert da == db, f"{name}: same seed, different files"
        assert any(k.endswith(".xlsx") for k in da)
        assert da != dc
        xlsx = next(k for k in da if k.endswith(".xlsx"))
        assert _rows(a / xlsx) != _rows(c / xlsx), f"{name}: annotations ignore the seed"


# --------------------------------------------------------------------------- layouts

def test_markers_complete(standins):
    assert set(standins) == set(config.DATASETS)
    for name, root in standins.items():
        assert root.name == config.dataset_info(name)["folder"]
        assert synthetic.is_standin(root)
        assert not (root / synthetic.PARTIAL).exists()
        marker = json.loads((root / synthetic.MARKER).read_text())
        assert marker["dataset"] == name and marker["seed"] == 0
        assert marker["params"]["n_subjects"] == 6
        assert list(synthetic.expected_counts(root)) == list(CLASSES)


def test_casme2_layout(standins):
    root = standins["casme2"]
    rows = _rows(root / "CASME2-coding-20190701.xlsx")
    assert rows[0] == ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame",
                       None, "Action Units", "Estimated Emotion", "Objective Classes")
    body = rows[1:]
    assert len(body) == 6 * 5
    assert {type(r[0]) for r in body} == {str, int}, "subjects must be text for some rows, numbers for others"
    assert sum(r[4] == "/" for r in body) == 1
    assert any(r[8] == "others" for r in body)
    for subject, filename, _, onset, _, offset, *_ in body:
        folder = root / "CASME2_RAW_selected" / f"sub{int(subject):02d}" / filename
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"img{n}.jpg" for n in range(onset, offset + 1))
    frame = cv2.imread(str(next((root / "CASME2_RAW_selected").rglob("img*.jpg"))), cv2.IMREAD_UNCHANGED)
    assert frame.shape == (240, 320, 3)


def test_samm_layout(standins):
    root = standins["samm"]
    rows = _rows(root / "SAMM_Micro_FACS_Codes_v2.xlsx", "MICRO_ONLY")
    assert "Subject" not in [c for r in rows[:13] for c in r]
    assert rows[13][:6] == ("Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
                            "Offset Frame")
    body = rows[14:]
    assert len(body) == 30 and {r[0] for r in body} == {f"{6 + s:03d}" for s in range(6)}
    assert sum(r[5] == "?" for r in body) == 1
    assert sum(isinstance(r[5], int) and not r[3] <= r[4] <= r[5] for r in body) == 1
    subject, filename, _, onset = body[0][:4]
    first = root / subject / filename / f"{subject}_{onset:05d}.jpg"
    assert cv2.imread(str(first), cv2.IMREAD_UNCHANGED).ndim == 2, "SAMM frames are gray"


def test_smic_layout(standins):
    root = standins["smic"]
    assert not list(root.glob("*.xls*"))
    assert sorted(p.name for p in (root / "HS").iterdir()) == [f"s{i}" for i in range(1, 7)]
    clips = sorted((root / "HS").glob("s*/micro/*/*"))
    assert len(clips) == 30
    for clip in clips:
        subject, abbrev, _ = clip.name.split("_")
        assert subject == clip.parents[2].name
        assert abbrev == {"negative": "ne", "positive": "po", "surprise": "sur"}[clip.parent.name]
        assert all(p.suffix == ".bmp" and len(p.stem) == len("image") + 6 for p in clip.iterdir())


def test_casme_sq_layout(standins):
    root = standins["casme_sq"]
    wb = openpyxl.load_workbook(root / "CAS(ME)^2code_final.xlsx", read_only=True)
    assert wb.sheetnames == ["CASMEcode_final", "naming rule1", "naming rule2"]
    wb.close()
    code = _rows(root / "CAS(ME)^2code_final.xlsx", 0)
    assert isinstance(code[0][0], int), "no header row"
    assert {len(r) for r in code} == {9}
    types = [r[7] for r in code]
    assert types.count("micro-expression") == 30 and types.count("macro-expression") > 0
    rule1 = {r[2]: r[1] for r in _rows(root / "CAS(ME)^2code_final.xlsx", "naming rule1")}
    rule2 = {r[1]: f"{int(r[0]):04d}" for r in _rows(root / "CAS(ME)^2code_final.xlsx", "naming rule2")}
    for participant, expression, onset, apex, offset, *_ in code:
        subject = rule1[participant]
        prefix = f"{subject[1:]}_{rule2[expression.split('_')[0]]}"
        (video,) = (root / "rawpic" / subject).glob(prefix + "*")
        assert (video / f"img{onset}.jpg").is_file() and (video / f"img{max(offset, apex)}.jpg").is_file()
    assert not (root / "rawvideo").exists(), "videos are optional and off by default"


def test_casme_sq_videos_read_back_without_rawpic(tmp_path):
    root = synthetic.generate("casme_sq", tmp_path / "CASME_sq", seed=1, casme_sq_videos=True, **TINY)
    with_pics = datasets.load("casme_sq", root)
    shutil.rmtree(root / "rawpic")
    from_videos = datasets.load("casme_sq", root)
    assert datasets.class_counts(from_videos) == synthetic.expected_counts(root)
    assert list(from_videos["clip"]) == list(with_pics["clip"])
    ref = from_videos["frames"].iloc[0][0]
    assert ".avi#" in ref and datasets.read_frame(ref).shape == (240, 320, 3)


# --------------------------------------------------------------------------- loaders, classes

def test_loaders_read_expected_counts(standins):
    for name, root in standins.items():
        df = datasets.load(name, root)
        marker = json.loads((root / synthetic.MARKER).read_text())
        assert datasets.class_counts(df) == synthetic.expected_counts(root), name
        assert sum(df.attrs["report"]["dropped"].values()) == sum(marker["dropped_rows"].values()), name
        assert df["subject"].nunique() == 6
        for label in CLASSES:  # every class in several subjects: subject-grouped splits work
            assert df.loc[df["label"] == label, "subject"].nunique() >= 3, (name, label)
    assert datasets.load("casme2", standins["casme2"])["apex"].isna().sum() == 1
    assert datasets.load("samm", standins["samm"])["apex"].isna().sum() == 1


def test_class_proportions_like_real_data(standins):
    counts = {name: synthetic.expected_counts(root) for name, root in standins.items()}
    for name, c in counts.items():
        total = sum(c.values())
        assert c["negative"] / total == pytest.approx(0.5, abs=0.05), name
        assert c["positive"] / total == pytest.approx(0.25, abs=0.05), name
    dropped = json.loads((standins["casme2"] / synthetic.MARKER).read_text())["dropped_rows"]
    assert dropped == {"label others": 4}  # round(0.15 * 30)


# --------------------------------------------------------------------------- faces and motion

def test_dlib_finds_the_face_in_sampled_frames_of_every_dataset(standins):
    detector, predictor = synthetic._dlib_models()
    for name, root in standins.items():
        df = datasets.load(name, root)
        for frames in df["frames"]:
            for ref in (frames[0], frames[len(frames) // 2], frames[-1]):
                img = datasets.read_frame(ref)
                boxes = detector(img, 0)
                assert len(boxes) == 1, f"{name}: {ref}: {len(boxes)} faces"
                assert predictor(img, boxes[0]).num_parts == 68


@pytest.mark.parametrize("index", [0, 1])
def test_motion_stays_outside_eye_and_mouth_polygons(index):
    subject = synthetic.make_subject(0, "casme2", index)
    lm = subject.landmarks
    mask = subject.mask
    x0, y0 = lm.min(0) - 10
    x1, y1 = lm.max(0) + 10
    face = np.zeros_like(mask)
    face[int(y0):int(y1), int(x0):int(x1)] = True
    centroids = {}
    for label in CLASSES:
        field = subject.fields[label]
        assert np.abs(field[mask]).max() == 0
        assert np.linalg.norm(field, axis=-1).max() == pytest.approx(1.0, abs=0.05)
        diff = np.abs(subject.render(label, 3.0) - subject.render(label, 0.0))
        diff = diff.mean(-1) if diff.ndim == 3 else diff
        inside, outside = diff[mask].mean(), diff[face & ~mask].mean()
        assert outside > 1.0, label
        assert inside < 0.05 * outside, (label, inside, outside)
        ys = np.nonzero(diff > 0.5 * diff.max())[0]
        centroids[label] = ys.mean()
    eyes_y, nose_tip_y = lm[36:48, 1].mean(), lm[33, 1]
    assert centroids["surprise"] < eyes_y  # brows and forehead
    assert centroids["positive"] > eyes_y  # cheeks and mouth corners
    assert centroids["surprise"] < centroids["negative"] < nose_tip_y


def test_subjects_look_different():
    a = synthetic.make_subject(0, "casme2", 0)
    b = synthetic.make_subject(0, "casme2", 1)
    assert a.look.mirror != b.look.mirror
    assert np.abs(a.render("negative", 0) - b.render("negative", 0)).mean() > 10
    assert np.linalg.norm(a.landmarks - b.landmarks, axis=1).mean() > 3


def test_time_profile_rises_to_the_apex_and_falls():
    p = synthetic._profile(11, 4)
    assert p[0] == 0 and p[-1] == pytest.approx(0) and p[4] == 1
    assert np.all(np.diff(p[:5]) > 0) and np.all(np.diff(p[4:]) < 0)


# --------------------------------------------------------------------------- generate_all

def test_generate_all_skips_up_to_date_and_regenerates_on_change(tmp_path):
    size = {**TINY, "n_subjects": 2, "clips_per_subject": 2}
    root = synthetic.generate_all(tmp_path, datasets=["smic"], **size)["smic"]
    assert root == tmp_path / "SMIC"
    stamp = (root / synthetic.MARKER).stat().st_mtime_ns
    (root / "extra.txt").write_text("kept while up to date")
    synthetic.generate_all(tmp_path, datasets=["smic"], **size)
    assert (root / synthetic.MARKER).stat().st_mtime_ns == stamp and (root / "extra.txt").exists()
    synthetic.generate_all(tmp_path, seed=5, datasets=["smic"], **size)
    assert json.loads((root / synthetic.MARKER).read_text())["seed"] == 5
    assert not (root / "extra.txt").exists()


def test_interrupted_generation_is_not_complete_and_is_redone(tmp_path):
    root = tmp_path / "SMIC"
    root.mkdir()
    (root / synthetic.PARTIAL).write_text("")
    (root / "half-written.bmp").write_bytes(b"")
    assert not synthetic.is_standin(root)
    with pytest.raises(ValueError, match="STANDIN.json"):
        synthetic.expected_counts(root)
    synthetic.generate_all(tmp_path, datasets=["smic"], **TINY)
    assert synthetic.is_standin(root) and not (root / "half-written.bmp").exists()


def test_refuses_to_overwrite_a_folder_that_is_not_a_standin(tmp_path):
    licensed = tmp_path / "CASME2"
    licensed.mkdir()
    (licensed / "CASME2-coding-20190701.xlsx").write_bytes(b"licensed")
    with pytest.raises(FileExistsError, match="refusing"):
        synthetic.generate_all(tmp_path, datasets=["casme2"], **TINY)
    assert (licensed / "CASME2-coding-20190701.xlsx").read_bytes() == b"licensed"


def test_bad_parameters_raise(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        synthetic.generate("casme3", tmp_path / "x")
    with pytest.raises(ValueError, match="clip_frames"):
        synthetic.generate("smic", tmp_path / "x", clip_frames=(9, 6))


# --------------------------------------------------------------------------- figure

def test_onset_apex_figure_has_three_rows_of_three_panels(standins):
    for source, name in ((standins["casme2"], None), (datasets.load("samm", standins["samm"]), None)):
        fig = synthetic.onset_apex_figure(source, name, magnify=10)
        assert len(fig.axes) == 9
        assert {ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes} == {(3, 3)}
        for row in range(3):
            onset, apex, diff = (fig.axes[3 * row + i].get_images()[0].get_array() for i in range(3))
            assert onset.shape[:2] == apex.shape[:2] == diff.shape
            assert diff.max() > 0 and not np.array_equal(onset, apex)
        assert "x 10" in fig.axes[2].get_title()
