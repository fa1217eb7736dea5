"""Tests of mer_utils.datasets on tiny fixture trees written here, in each real layout.

Every tree is a few 8x8 JPEGs (or BMPs / a 16x16 MJPG video) and a spreadsheet written with
openpyxl, carrying the quirks of the real files (mer_utils/datasets/__init__.py documents them).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest

from mer_utils import config, datasets
from mer_utils.datasets import DatasetError

# ----------------------------------------------------------------------------- writers


def _image(path: Path, value: int, gray: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (8, 8) if gray else (8, 8, 3)
    assert cv2.imwrite(str(path), np.full(shape, value, np.uint8))


def _frames(folder: Path, numbers, name: str, gray: bool = False) -> None:
    for n in numbers:
        _image(folder / name.format(n), 10 + n % 200, gray)


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


CASME2_HEADER = [
    "Subject",
    "Filename",
    None,
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    None,
    "Action Units",
    "Estimated Emotion",
    "Objective Classes",
]


def _casme2_rows():
    # subject as text and as number; '/' apex; a repeated filename across subjects; others;
    # an apex outside onset..offset. Excel rows 2..6.
    return [
        ["01", "EP02_01f", None, 8, 10, 12, None, "12", "happiness", 1],
        [2, "EP02_01f", None, 20, "/", 23, None, "4", "disgust", 2],
        ["02", "EP03_02", None, 5, 6, 8, None, "R2", "others", 7],
        [3, "EP01_01", None, 1, 2, 3, None, "1+2", "surprise", 3],
        ["03", "EP05_01", None, 30, 40, 33, None, "4", "Repression ", 2],
    ]


def make_casme2(root: Path, rows=None) -> Path:
    sel = root / "CASME2_RAW_selected"
    _frames(sel / "sub01" / "EP02_01f", range(8, 13), "img{}.jpg")
    _frames(sel / "sub02" / "EP02_01f", range(20, 24), "img{}.jpg")
    _frames(sel / "sub03" / "EP01_01", range(1, 4), "img{}.jpg")
    _frames(sel / "sub03" / "EP05_01", range(30, 34), "img{}.jpg")
    _workbook(
        root / "CASME2-coding-20190701.xlsx",
        {"Sheet1": [CASME2_HEADER] + (rows if rows is not None else _casme2_rows())},
    )
    return root


SAMM_HEADER = [
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset Frame",
    "Apex Frame",
    "Offset Frame",
    "Duration",
    "Micro",
    "Action Units",
    "Estimated Emotion",
    "Objective Classes",
    "Notes",
]


def make_samm(root: Path) -> Path:
    _frames(root / "006" / "006_1_2", range(5562, 5567), "006_{:05d}.jpg", gray=True)
    _frames(root / "006" / "006_1_3", range(98, 105), "006_{:05d}.jpg", gray=True)
    _frames(root / "007" / "007_2_1", range(1071, 1076), "007_{:05d}.jpg", gray=True)
    preamble = [["SAMM micro-movement FACS codes"], [], ["Please cite: Davison et al."]]
    preamble += [[f"note {i}"] for i in range(13 - len(preamble))]
    rows = [
        ["006", "006_1_2", 1, 5562, 5564, 5566, 5, "Micro - 1/2", "R12", "Anger", 4, None],
        ["006", "006_1_3", 1, 100, 101, "?", None, "Micro", "R14", "Happiness", 1, "no offset"],
        [7, "007_2_1", 2, 1071, 1143, 1075, 5, "Micro", "4", "Surprise", 2, None],
        ["025", "025_1_1", 1, 10, 12, 14, 5, "Micro", "1", "Other", 7, None],
    ]
    _workbook(
        root / "SAMM_Micro_FACS_Codes_v2.xlsx",
        {"FACS_all": [["unrelated sheet"]], "MICRO_ONLY": preamble + [SAMM_HEADER] + rows},
    )
    return root


def make_smic(root: Path) -> Path:
    hs = root / "HS"
    _frames(hs / "s1" / "micro" / "negative" / "s1_ne_01", range(99, 103), "image{:06d}.bmp")
    _frames(hs / "s1" / "micro" / "positive" / "s1_po_01", range(5, 8), "image{:06d}.bmp")
    _frames(hs / "s10" / "micro" / "surprise" / "s10_sur_01", range(1, 4), "image{:06d}.jpg")
    _frames(hs / "s02" / "micro" / "negative" / "s02_ne_01", range(1, 3), "image{:06d}.png")
    (hs / "s3").mkdir(parents=True)  # recorded, no micro-expressions
    (hs / "readme.txt").write_text("not a subject")
    return root


RULE1 = [[15, "s15", 1], [16, "s16", 2], [19, "s19", 3]]  # folder no. | folder | participant
RULE2 = [["0101", "disgust1"], [401, "anger1"], ["0502", "happy1"]]  # code as text and number
VIDEO_FOLDERS = {
    "s15": ["15_0101disgustingteeth", "15_0401girlcrashing"],
    "s19": ["19_0502funnyerrors", "19_0401girlcrashing"],
}


def _casme_sq_code():
    return [
        [1, "disgust1_1", 10, 12, 14, "AU4", "negative", "micro-expression", "disgust"],
        [1, "anger1_1", 20, 22, 24, "AU1+AU2", "surprise", "micro-expression", "surprise"],
        [3, "happy1_1", 5, 8, 0, "AU12", "positive", "micro-expression", "happy"],
        [1, "disgust1_2", 2, 9, 28, "AU9", "negative", "macro-expression", "disgust"],
        [2, "anger1_1", 0, 5, 9, "AU4", "negative", "micro-expression", "anger"],
        [3, "anger1_2", 3, 4, 6, "AU4", "others", "micro-expression", "?"],
    ]


def make_casme_sq(root: Path, code=None, rule1=RULE1, videos: bool = False) -> Path:
    for subject, folders in VIDEO_FOLDERS.items():
        for folder in folders:
            if videos:
                path = root / "rawvideo" / subject / f"{folder}.avi"
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (16, 16))
                assert writer.isOpened()
                for i in range(30):
                    writer.write(np.full((16, 16, 3), 8 * i, np.uint8))
                writer.release()
            else:
                _frames(root / "rawpic" / subject / folder, range(1, 31), "img{}.jpg")
    _workbook(
        root / "CAS(ME)^2code_final.xlsx",
        {
            "CASFEcode_final": code if code is not None else _casme_sq_code(),
            "naming rule1": rule1,
            "naming rule2": RULE2,
        },
    )
    return root


# ----------------------------------------------------------------------------- CASME II


def test_casme2_rows_labels_subjects_frames(tmp_path):
    df = datasets.load("casme2", make_casme2(tmp_path / "CASME2"))
    assert list(df.columns) == list(datasets.COLUMNS)
    assert list(zip(df.subject, df["clip"])) == [
        ("sub01", "EP02_01f"),
        ("sub02", "EP02_01f"),
        ("sub03", "EP01_01"),
        ("sub03", "EP05_01"),
    ]
    assert list(df.label) == ["positive", "negative", "surprise", "negative"]
    assert df.emotion.iloc[3] == "Repression"  # original text, stripped
    assert str(df.onset.dtype) == "Int64" and str(df.apex.dtype) == "Int64"
    assert df.apex.iloc[0] == 10 and pd.isna(df.apex.iloc[1])  # '/' apex -> <NA>
    assert pd.isna(df.apex.iloc[3])  # apex 40 outside 30..33
    # ordered by frame number, not by name (img8 < img10)
    assert [Path(f).name for f in df.frames.iloc[0]] == [f"img{n}.jpg" for n in range(8, 13)]
    assert set(df.source) == {"CASME2-coding-20190701.xlsx"}
    report = df.attrs["report"]
    assert report["rows_read"] == 5 and report["rows_kept"] == 4
    assert report["dropped"] == {"label others": 1}
    assert report["adjusted_counts"] == {"apex not coded": 1, "apex outside onset..offset": 1}
    assert [(a["row"], a["reason"]) for a in report["adjusted"]] == [
        (3, "apex not coded"),
        (6, "apex outside onset..offset"),
    ]
    assert datasets.class_counts(df) == {"negative": 2, "positive": 1, "surprise": 1}


def test_casme2_2014_columns_and_full_clips_take_onset_to_offset(tmp_path):
    root = tmp_path / "CASME2"
    _frames(root / "CASME2-RAW" / "sub04" / "EP12_01f", range(1, 21), "img{}.jpg")
    header = [
        "Subject",
        "Filename",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Estimated_Emotion",
    ]
    _workbook(
        root / "CASME2-coding-20140508.xlsx",
        {"Sheet1": [header, ["04", "EP12_01f", 5, 7, 9, "fear"]]},
    )
    df = datasets.load("casme2", root)
    assert df.subject.tolist() == ["sub04"] and df.label.tolist() == ["negative"]
    assert [Path(f).name for f in df.frames.iloc[0]] == [f"img{n}.jpg" for n in range(5, 10)]
    assert df.attrs["report"]["frames_from"].endswith("CASME2-RAW")


def test_casme2_lists_each_clip_folder_with_one_scandir(tmp_path, monkeypatch):
    root = make_casme2(tmp_path / "CASME2")
    scanned: list[str] = []
    real = os.scandir

    def counting(path="."):
        scanned.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(datasets.os, "scandir", counting)
    df = datasets.load("casme2", root)
    clip_dirs = [str(Path(f[0]).parent) for f in df.frames]
    assert all(scanned.count(d) == 1 for d in clip_dirs)


def test_casme2_missing_frames_names_file_and_row(tmp_path):
    root = make_casme2(tmp_path / "CASME2")
    (root / "CASME2_RAW_selected" / "sub02" / "EP02_01f" / "img22.jpg").unlink()
    with pytest.raises(
        DatasetError, match=r"CASME2-coding-20190701\.xlsx.*row 3.*1 missing.*\[22\]"
    ):
        datasets.load("casme2", root)


def test_casme2_missing_clip_folder(tmp_path):
    rows = _casme2_rows() + [["04", "EP09_09", None, 1, 2, 3, None, "4", "sadness", 2]]
    with pytest.raises(DatasetError, match=r"row 7: frames folder .*sub04.*EP09_09 does not exist"):
        datasets.load("casme2", make_casme2(tmp_path / "CASME2", rows))


def test_casme2_unknown_label_names_file_row_and_label(tmp_path):
    rows = _casme2_rows()
    rows[3][8] = "contempt"
    with pytest.raises(
        DatasetError, match=r"xlsx: sheet 'Sheet1' row 5: unknown CASME II label 'contempt'"
    ):
        datasets.load("casme2", make_casme2(tmp_path / "CASME2", rows))


def test_casme2_duplicate_subject_clip(tmp_path):
    rows = _casme2_rows() + [[1, "EP02_01f", None, 8, 9, 12, None, "12", "happiness", 1]]
    with pytest.raises(
        DatasetError, match=r"row 7: duplicate clip \(subject 'sub01', clip 'EP02_01f'\).*row 2"
    ):
        datasets.load("casme2", make_casme2(tmp_path / "CASME2", rows))


def test_casme2_missing_offset_is_an_error_not_a_guess(tmp_path):
    rows = _casme2_rows()
    rows[0][5] = "?"
    with pytest.raises(DatasetError, match=r"row 2: offset missing"):
        datasets.load("casme2", make_casme2(tmp_path / "CASME2", rows))


def test_missing_root_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere.*CASME II dataset folder does not exist"):
        datasets.load("casme2", tmp_path / "nowhere")


def test_no_spreadsheet_names_folder_and_patterns(tmp_path):
    root = make_casme2(tmp_path / "CASME2")
    (root / "CASME2-coding-20190701.xlsx").unlink()
    with pytest.raises(
        DatasetError,
        match=r"CASME2: no CASME II annotation spreadsheet found; patterns tried: .*CASME2-coding-\*\.xlsx",
    ):
        datasets.load("casme2", root)


def test_unreadable_spreadsheet_names_the_file(tmp_path):
    root = make_casme2(tmp_path / "CASME2")
    (root / "CASME2-coding-20190701.xlsx").write_bytes(b"\x00garbage, not a workbook" * 20)
    with pytest.raises(
        DatasetError, match=r"CASME2-coding-20190701\.xlsx: cannot read the annotation spreadsheet"
    ):
        datasets.load("casme2", root)


def test_spreadsheet_without_header_row(tmp_path):
    root = make_casme2(tmp_path / "CASME2")
    _workbook(root / "CASME2-coding-20190701.xlsx", {"Sheet1": _casme2_rows()})
    with pytest.raises(DatasetError, match=r"no header row with \['subject', 'filename'\]"):
        datasets.load("casme2", root)


def test_no_frames_folder(tmp_path):
    root = tmp_path / "CASME2"
    _workbook(root / "CASME2-coding-20190701.xlsx", {"Sheet1": [CASME2_HEADER] + _casme2_rows()})
    with pytest.raises(
        DatasetError, match=r"no frames folder found; names tried: \['CASME2_RAW_selected'"
    ):
        datasets.load("casme2", root)


# ----------------------------------------------------------------------------- SAMM


def test_samm_preamble_offsets_and_apex_outside(tmp_path, caplog):
    root = make_samm(tmp_path / "SAMM")
    with caplog.at_level(logging.WARNING, logger="mer_utils.datasets"):
        df = datasets.load("samm", root)
    assert list(zip(df.subject, df["clip"], df.label)) == [
        ("006", "006_1_2", "negative"),
        ("006", "006_1_3", "positive"),
        ("007", "007_2_1", "surprise"),
    ]
    assert df.emotion.tolist() == ["Anger", "Happiness", "Surprise"]
    assert df.offset.tolist() == [5566, 104, 1075]  # '?' -> last frame in the folder
    assert df.onset.iloc[1] == 100 and len(df.frames.iloc[1]) == 5  # frames 98, 99 not in clip
    assert pd.isna(df.apex.iloc[2])  # 1143 outside 1071..1075
    report = df.attrs["report"]
    assert report["sheet"] == "MICRO_ONLY" and report["dropped"] == {"label other": 1}
    assert report["adjusted_counts"] == {
        "apex outside onset..offset": 1,
        "offset missing or invalid: clip ends at the last frame present": 1,
    }
    assert "apex outside onset..offset (apex 1143, clip 1071..1075)" in caplog.text
    assert "offset missing; offset set to 104" in caplog.text
    frame = datasets.read_frame(df.frames.iloc[0][0])
    assert frame.shape == (8, 8) and frame.dtype == np.uint8  # gray stays gray


def test_samm_older_release_header_elsewhere(tmp_path):
    root = tmp_path / "SAMM"
    _frames(root / "006" / "006_1_2", range(1, 4), "006_{:05d}.jpg", gray=True)
    _workbook(
        root / "SAMM_20181215_Micro_FACS_Codes_v2.xlsx",
        {
            "Sheet1": [
                ["title"],
                [],
                [],
                SAMM_HEADER,
                ["006", "006_1_2", 1, 1, 2, 3, 3, "Micro", "4", "Contempt", 4, None],
            ]
        },
    )
    df = datasets.load("samm", root)
    assert df.label.tolist() == ["negative"] and df.attrs["report"]["sheet"] == "Sheet1"


# ----------------------------------------------------------------------------- SMIC


def test_smic_folder_labels_and_unpadded_subjects(tmp_path):
    df = datasets.load("smic", make_smic(tmp_path / "SMIC"))
    assert list(zip(df.subject, df["clip"], df.label)) == [
        ("s1", "s1_ne_01", "negative"),
        ("s1", "s1_po_01", "positive"),
        ("s02", "s02_ne_01", "negative"),
        ("s10", "s10_sur_01", "surprise"),
    ]
    assert df.onset.tolist() == [99, 5, 1, 1] and df.offset.tolist() == [102, 7, 2, 3]
    assert df.apex.isna().all() and set(df.source) == {"HS"}
    assert [Path(f).name for f in df.frames.iloc[0]] == [
        f"image{n:06d}.bmp" for n in range(99, 103)
    ]
    assert df.attrs["report"]["ignored"] == []  # readme.txt is a file, s3 has no micro folder


def test_smic_unknown_label_folder(tmp_path):
    root = make_smic(tmp_path / "SMIC")
    _frames(root / "HS" / "s1" / "micro" / "angry" / "s1_an_01", range(1, 3), "image{:06d}.bmp")
    with pytest.raises(DatasetError, match=r"micro/angry: unknown SMIC-HS label 'angry'"):
        datasets.load("smic", root)


def test_smic_empty_clip_and_gap(tmp_path):
    root = make_smic(tmp_path / "SMIC")
    empty = root / "HS" / "s1" / "micro" / "negative" / "s1_ne_02"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"s1_ne_02: clip folder holds no frames"):
        datasets.load("smic", root)
    empty.rmdir()
    (root / "HS" / "s1" / "micro" / "negative" / "s1_ne_01" / "image000100.bmp").unlink()
    with pytest.raises(DatasetError, match=r"s1_ne_01: frames 99..102 expected .*\[100\]"):
        datasets.load("smic", root)


def test_smic_missing_subset_folder(tmp_path):
    (tmp_path / "SMIC").mkdir()
    with pytest.raises(DatasetError, match=r"SMIC/HS: SMIC subset folder does not exist"):
        datasets.load("smic", tmp_path / "SMIC")


# ----------------------------------------------------------------------------- CAS(ME)^2


def test_casme_sq_naming_rules_micro_rows_and_offsets(tmp_path):
    root = make_casme_sq(tmp_path / "CASME_sq")
    df = datasets.load("casme_sq", root)
    assert list(zip(df.subject, df["clip"], df.label)) == [
        ("s15", "disgust1_1", "negative"),
        ("s15", "anger1_1", "surprise"),
        ("s19", "happy1_1", "positive"),
    ]
    assert [Path(df.frames.iloc[i][0]).parent.name for i in range(3)] == [
        "15_0101disgustingteeth",
        "15_0401girlcrashing",
        "19_0502funnyerrors",
    ]
    assert [Path(f).name for f in df.frames.iloc[0]] == [f"img{n}.jpg" for n in range(10, 15)]
    assert df.offset.iloc[2] == 11  # offset 0: apex 8 + (8 - 5)
    report = df.attrs["report"]
    assert report["sheet"] == "CASFEcode_final" and report["rows_read"] == 6
    assert report["dropped"] == {
        "label others": 1,
        "onset not coded": 1,
        "type macro-expression": 1,
    }
    assert report["skipped"] == [
        {"file": str(root / "CAS(ME)^2code_final.xlsx"), "row": 5, "reason": "onset not coded"}
    ]
    assert report["adjusted_counts"] == {"offset not coded: apex + (apex - onset)": 1}


def test_casme_sq_two_column_naming_rule1(tmp_path):
    root = make_casme_sq(tmp_path / "CASME_sq", rule1=[[1, 15], [2, 16], [3, 19]])
    assert datasets.load("casme_sq", root).subject.tolist() == ["s15", "s15", "s19"]


def test_casme_sq_video_refs_decoded_from_rawvideo(tmp_path):
    root = make_casme_sq(tmp_path / "CASME_sq", videos=True)
    df = datasets.load("casme_sq", root)
    refs = df.frames.iloc[0]
    video = root / "rawvideo" / "s15" / "15_0101disgustingteeth.avi"
    assert refs == [f"{video}#{n - 1}" for n in range(10, 15)]
    frames = datasets.read_frames(refs + [df.frames.iloc[1][0]])
    assert all(f.shape == (16, 16, 3) for f in frames)
    means = [float(f.mean()) for f in frames]
    assert means[:5] == pytest.approx([8.0 * i for i in range(9, 14)], abs=3)  # index = N - 1
    assert means[5] == pytest.approx(8.0 * 19, abs=3)
    assert float(datasets.read_frame(refs[2]).mean()) == pytest.approx(88, abs=3)


def test_casme_sq_clip_beyond_video_end(tmp_path):
    code = [[1, "disgust1_1", 25, 28, 33, "AU4", "negative", "micro-expression", "d"]]
    root = make_casme_sq(tmp_path / "CASME_sq", code=code, videos=True)
    with pytest.raises(DatasetError, match=r"row 1: frames 25..33 requested, .*has 30 frames"):
        datasets.load("casme_sq", root)


def test_casme_sq_bad_rows(tmp_path):
    base = _casme_sq_code()
    cases = [
        (
            [[1, "joy9_1", 1, 2, 3, "", "positive", "micro-expression", ""]],
            r"row 1: expression 'joy9_1': stem 'joy9' not in sheet 'naming rule2'",
        ),
        (
            [[7, "anger1_1", 1, 2, 3, "", "negative", "micro-expression", ""]],
            r"row 1: participant 7 not in sheet 'naming rule1'",
        ),
        (
            [[2, "anger1_1", 1, 2, 3, "", "negative", "micro-expression", ""]],
            r"row 1: subject folder .*rawpic/s16 does not exist",
        ),
        (
            base[:1] + [[1, "disgust1_3", 1, 2, 3, "", "fear", "micro-expression", ""]],
            r"row 2: unknown CAS\(ME\)² label 'fear'",
        ),
        (
            [[1, "disgust1_1", 1, 2, 3, "", "negative", "micro", ""]],
            r"row 1: unknown expression type 'micro'",
        ),
        (
            base[:2] + [[1, "disgust1_1", 11, 12, 13, "", "negative", "micro-expression", ""]],
            r"row 3: duplicate clip \(subject 's15', clip 'disgust1_1'\)",
        ),
    ]
    for i, (code, message) in enumerate(cases):
        root = make_casme_sq(tmp_path / f"case{i}", code=code)
        with pytest.raises(DatasetError, match=message):
            datasets.load("casme_sq", root)


def test_casme_sq_needs_rawpic_or_rawvideo(tmp_path):
    root = tmp_path / "CASME_sq"
    _workbook(
        root / "CAS(ME)^2code_final.xlsx",
        {"c": _casme_sq_code(), "naming rule1": RULE1, "naming rule2": RULE2},
    )
    with pytest.raises(DatasetError, match=r"neither rawpic/ nor rawvideo/ exists"):
        datasets.load("casme_sq", root)


def test_casme_sq_missing_naming_sheet(tmp_path):
    root = make_casme_sq(tmp_path / "CASME_sq")
    _workbook(root / "CAS(ME)^2code_final.xlsx", {"c": _casme_sq_code(), "naming rule1": RULE1})
    with pytest.raises(DatasetError, match=r"code_final\.xlsx: no sheet 'naming rule2'"):
        datasets.load("casme_sq", root)


# ----------------------------------------------------------------------------- frames


def test_read_frame_colour_and_corrupt_image(tmp_path):
    _image(tmp_path / "ok.jpg", 120)
    frame = datasets.read_frame(tmp_path / "ok.jpg")
    assert frame.shape == (8, 8, 3) and frame.dtype == np.uint8
    bad = tmp_path / "img7.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(
        DatasetError, match=r"img7\.jpg: frame (cannot be decoded|is truncated or corrupt)"
    ):
        datasets.read_frame(bad)
    with pytest.raises(DatasetError, match=r"gone\.jpg: frame does not exist"):
        datasets.read_frames([tmp_path / "ok.jpg", tmp_path / "gone.jpg"])


def test_read_frames_missing_video_and_index(tmp_path):
    with pytest.raises(DatasetError, match=r"nope\.avi: video does not exist"):
        datasets.read_frame(f"{tmp_path / 'nope.avi'}#0")
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (16, 16))
    for i in range(3):
        writer.write(np.full((16, 16, 3), 50 * i, np.uint8))
    writer.release()
    with pytest.raises(DatasetError, match=r"v\.avi: frame index 5 cannot be decoded"):
        datasets.read_frame(datasets.video_ref(path, 5))


# ----------------------------------------------------------------------------- label tables


def _mapped_counts(name: str, label_counts: dict[str, int]) -> dict[str, int]:
    column = [label for label, n in label_counts.items() for _ in range(n)]
    counts = Counter(datasets.map_label(name, label) for label in column)
    return {cls: counts[cls] for cls in config.CLASSES}


@pytest.mark.parametrize(
    "name, original, expected",
    [
        (
            "casme2",
            {
                "others": 99,
                "disgust": 63,
                "happiness": 32,
                "surprise": 28,
                "repression": 27,
                "sadness": 4,
                "fear": 2,
            },
            (96, 32, 28),
        ),
        (
            "samm",
            {
                "Anger": 57,
                "Other": 26,
                "Happiness": 26,
                "Surprise": 15,
                "Contempt": 12,
                "Disgust": 9,
                "Fear": 8,
                "Sadness": 6,
            },
            (92, 26, 15),
        ),
        ("smic", {"negative": 70, "positive": 51, "surprise": 43}, (70, 51, 43)),
        ("casme_sq", {"negative": 21, "others": 19, "surprise": 9, "positive": 8}, (21, 8, 9)),
    ],
)
def test_label_tables_give_the_published_class_counts(name, original, expected):
    assert tuple(_mapped_counts(name, original).values()) == expected


def test_map_label_is_case_and_space_insensitive_and_strict():
    assert datasets.map_label("samm", "  anger ") == "negative"
    assert datasets.map_label("casme2", "Others") is None
    with pytest.raises(DatasetError, match=r"f\.xlsx row 3: unknown SAMM label 'joy'"):
        datasets.map_label("samm", "joy", "f.xlsx row 3")
    with pytest.raises(DatasetError, match=r"unknown CASME II label nan"):
        datasets.map_label("casme2", float("nan"))


# ----------------------------------------------------------------------------- small helpers


def test_find_root_display_name_and_unknown_dataset(tmp_path):
    (tmp_path / "SAMM").mkdir()
    assert datasets.find_root("samm", tmp_path) == tmp_path / "SAMM"
    assert datasets.find_root("smic", tmp_path) is None
    assert datasets.display_name("casme_sq") == "CAS(ME)²"
    with pytest.raises(DatasetError, match=r"unknown dataset 'casme3'"):
        datasets.load("casme3", tmp_path)


def test_class_counts_in_class_order_with_zeros():
    df = pd.DataFrame({"label": ["surprise", "negative", "surprise"]})
    assert list(datasets.class_counts(df).items()) == [
        ("negative", 1),
        ("positive", 0),
        ("surprise", 2),
    ]


# --------------------------------------------------------------------------- readers only
def _imported_modules(path: Path) -> set[str]:
    """Every module an import statement of ``path`` names (anywhere, functions included), as
    an absolute ``mer_utils...`` name where it is relative."""
    import ast

    from mer_utils.build import fingerprints

    package = ["mer_utils", *path.parent.relative_to(fingerprints.PACKAGE).parts]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return out


def test_dataset_readers_and_the_sources_module_never_import_the_generator():
    """The dataset plug-ins only read, and whether a folder is a stand-in is read without the
    generator: neither imports mer_utils.standins, not even inside a function, so that no
    page's fingerprint includes the generator's code."""
    from mer_utils.build import fingerprints

    files = sorted((fingerprints.PACKAGE / "datasets").glob("*.py"))
    files += [fingerprints.PACKAGE / "sources.py", fingerprints.PACKAGE / "locks.py"]
    assert len(files) >= 7
    for path in files:
        named = _imported_modules(path)
        assert not {m for m in named if m.startswith("mer_utils.standins")}, path
        assert "mer_utils.synthetic" not in named, path
    for template, method in (
        ("notebooks/overview.md", None),
        ("notebooks/method.md", "FLOW-LINEAR"),
    ):
        modules = fingerprints.page_modules(template, method)
        assert "sources.py" in modules or "datasets/__init__.py" in modules, template
        assert not [m for m in modules if m.startswith("standins/")], (template, modules)
