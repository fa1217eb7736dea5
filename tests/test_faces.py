"""Tests of stage 1 (mer_utils.faces, mer_utils.stage1) on generated stand-ins and the
astronaut photo."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from matplotlib.path import Path as MplPath
from skimage import data as skdata

from mer_utils import config, datasets, faces, stage1

SIZE, N_FRAMES = 32, 4


@pytest.fixture(scope="module")
def tables(standins) -> dict[str, pd.DataFrame]:
    """Loader tables of every generated stand-in dataset."""
    return {name: datasets.load(name, root) for name, root in standins.items()}


@pytest.fixture
def small_table(tables, tmp_path) -> pd.DataFrame:
    """Three CASME II stand-in clips whose frames are copied to tmp_path (safe to modify)."""
    table = tables["casme2"].head(3).copy()
    moved = []
    for i, refs in enumerate(table["frames"]):
        folder = tmp_path / f"clip{i}"
        folder.mkdir()
        moved.append([str(shutil.copy2(ref, folder / Path(ref).name)) for ref in refs])
    table["frames"] = moved
    return table


def _astronaut_bgr() -> np.ndarray:
    """A 240x320 BGR frame with the astronaut's head, as the stand-ins are made."""
    head = cv2.resize(skdata.astronaut()[0:300, 80:380], (240, 240), interpolation=cv2.INTER_AREA)
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[:, 40:280] = cv2.cvtColor(head, cv2.COLOR_RGB2BGR)
    return frame


def test_face_found_in_every_clip_of_every_standin(tables):
    for name, table in tables.items():
        clips = stage1.preprocess(table, SIZE, N_FRAMES)
        assert clips.excluded.empty, f"{name}: {clips.excluded.to_dict('records')}"
        assert clips.X.shape == (len(table), N_FRAMES, SIZE, SIZE, 1)
        assert clips.X.dtype == np.uint8
        assert list(clips.rows.columns) == list(stage1.ROW_COLUMNS)
        assert list(clips.rows.index) == list(range(len(table)))
        assert list(clips.rows["clip"]) == list(table["clip"])
        assert set(clips.rows["label"]) <= set(config.CLASSES)
        assert str(clips.rows["onset"].dtype) == "Int64"
        # a face crop has texture; a black or constant frame would mean a broken crop
        assert clips.X.std(axis=(2, 3, 4)).min() > 10


def test_masks_cover_eye_and_mouth_polygons_and_nothing_else():
    frame = _astronaut_bgr()
    gray = faces.to_gray(frame)
    box = faces.detect_face(gray)
    assert box is not None
    points = faces.landmarks(gray, box)
    polygons = faces.mask_polygons(points)
    assert len(polygons) == 3
    for group, poly in zip(faces.MASK_GROUPS, polygons):  # hull of each landmark group
        hull = poly.reshape(-1, 1, 2).astype(np.float32)
        assert all(
            cv2.pointPolygonTest(hull, (float(x), float(y)), False) >= 0
            for x, y in points[list(group)]
        )

    masked = faces.pipeline_steps(frame)["masked"]
    # independent rasterisation of the polygons, pixel centres strictly inside / near edges
    yy, xx = np.mgrid[: gray.shape[0], : gray.shape[1]]
    centres = np.c_[xx.ravel(), yy.ravel()]
    inside = np.zeros(gray.shape, bool)
    near = np.zeros(gray.shape, bool)
    for poly in polygons:
        path = MplPath(poly)
        # the sign of matplotlib's radius depends on the path orientation: use both
        shrunk, grown = (
            path.contains_points(centres, radius=r).reshape(gray.shape) for r in (-1.5, 1.5)
        )
        inside |= shrunk & grown
        near |= shrunk | grown
    edge = near & ~inside
    assert inside.sum() > 100
    assert (masked[inside] == 0).all(), "mask misses pixels inside the polygons"
    assert np.array_equal(masked[~near], frame[~near]), "mask changed pixels outside the polygons"
    assert (masked[edge] == 0).all(axis=-1).mean() > 0.3  # the boundary band is partly masked


def test_clip_output_and_sampling():
    assert faces.sample_indices(10, 4).tolist() == [0, 3, 6, 9]
    assert faces.sample_indices(2, 4).tolist() == [0, 0, 1, 1]  # short clips repeat frames
    assert faces.landmark_frames(8, 4) == [0, 4, 7]
    gray = faces.to_gray(_astronaut_bgr())
    box = faces.detect_face(gray)
    shifted = np.roll(gray, 2, axis=1)
    pts = faces.clip_landmarks([gray, gray, shifted], [box] * 3, every=2)
    full = [faces.landmarks(g, box) for g in (gray, shifted)]
    assert np.array_equal(pts[0], full[0]) and np.array_equal(pts[2], full[1])
    assert np.array_equal(pts[1], np.rint((full[0] + full[1]) / 2).astype(np.int32))


def _cached(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.npz"))


def test_cache_reused_rebuilt_on_param_and_content_change(small_table, tmp_path):
    cache = tmp_path / "cache"
    first = stage1.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    assert not first.from_cache
    assert len(_cached(cache)) == len(small_table)  # one file per clip

    again = stage1.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    assert again.from_cache
    assert np.array_equal(again.X, first.X)
    pd.testing.assert_frame_equal(again.rows, first.rows)
    pd.testing.assert_frame_equal(again.excluded, first.excluded)

    other = stage1.preprocess(small_table, SIZE + 8, N_FRAMES, cache_dir=cache)
    assert not other.from_cache and other.X.shape[2] == SIZE + 8
    assert len(_cached(cache)) == 2 * len(small_table)

    # the key is the content: a copy elsewhere, with other times, hits the cache
    copies = small_table.copy()
    moved = []
    for i, refs in enumerate(copies["frames"]):
        folder = tmp_path / "copy" / f"clip{i}"
        folder.mkdir(parents=True)
        moved.append([str(shutil.copy(ref, folder / Path(ref).name)) for ref in refs])
    copies["frames"] = moved
    os.utime(moved[0][0], ns=(1, 1))
    assert stage1.preprocess(copies, SIZE, N_FRAMES, cache_dir=cache).from_cache

    frame = small_table["frames"].iloc[0][0]  # the first sampled frame of clip 0
    image = cv2.imread(frame)
    cv2.imwrite(frame, cv2.flip(image, 1))
    changed = stage1.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    assert not changed.from_cache
    assert not np.array_equal(changed.X[0, 0], first.X[0, 0])
    assert np.array_equal(changed.X[1:], first.X[1:])


def test_truncated_cache_is_detected_and_rebuilt(small_table, tmp_path, caplog):
    cache = tmp_path / "cache"
    first = stage1.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    path = _cached(cache)[0]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="mer_utils.stage1"):
        rebuilt = stage1.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    assert not rebuilt.from_cache
    assert np.array_equal(rebuilt.X, first.X)
    assert any("unusable" in r.message and path.name in r.message for r in caplog.records)
    assert stage1.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache).from_cache


def test_blank_clip_is_reported_and_excluded(small_table, tmp_path, caplog):
    blank_dir = tmp_path / "blank"
    blank_dir.mkdir()
    refs = []
    for i in range(6):
        ref = blank_dir / f"img{i + 1}.jpg"
        cv2.imwrite(str(ref), np.full((240, 320, 3), 128, np.uint8))
        refs.append(str(ref))
    blank = small_table.iloc[[0]].copy()
    blank["clip"] = "BLANK"
    blank["frames"] = [refs]
    table = pd.concat([small_table, blank], ignore_index=True)
    with caplog.at_level(logging.WARNING, logger="mer_utils.stage1"):
        clips = stage1.preprocess(table, SIZE, N_FRAMES)
    assert clips.X.shape[0] == len(small_table) == len(clips.rows)
    assert "BLANK" not in set(clips.rows["clip"])
    assert clips.excluded.to_dict("records") == [
        {
            "subject": blank["subject"].iloc[0],
            "clip": "BLANK",
            "file": refs[0],
            "reason": f"no frontal face in any of the {N_FRAMES} sampled frames",
        }
    ]
    assert any("BLANK" in r.message for r in caplog.records)
    counts = stage1.summary(clips).set_index("status")["clips"]
    assert counts["kept"] == len(small_table) and counts["excluded"] == 1


def _with_frame(small_table, tmp_path, index: int, make) -> tuple[pd.DataFrame, str]:
    """Clip 0 of ``small_table`` with its ``index``-th sampled frame replaced by ``make(frame)``."""
    refs = list(small_table["frames"].iloc[0])
    victim = refs[int(faces.sample_indices(len(refs), N_FRAMES)[index])]
    image = cv2.imread(victim)
    cv2.imwrite(victim, make(image))
    return small_table, victim


@pytest.mark.parametrize(
    "index, make, reason",
    [
        (1, lambda im: cv2.resize(im, (640, 480)), "a frame of another size: 640x480"),
        (1, lambda im: cv2.resize(im, (160, 120)), "a frame of another size: 160x120"),
        (0, lambda im: cv2.resize(im, (160, 120)), "a frame of another size: 160x120"),
        (2, lambda im: np.zeros_like(im), "a blank or cut frame"),
        (1, lambda im: np.roll(np.full_like(im, 200), 0), "a blank or cut frame"),
    ],
    ids=["larger", "smaller", "the first frame", "black", "a cut to grey"],
)
def test_a_frame_that_does_not_belong_excludes_its_clip_naming_the_frame(
    small_table, tmp_path, index, make, reason
):
    """Never pixels made up from a box that does not fit: a frame of another size, or one that
    holds no face where the clip's other frames have one, is a counted, listed exclusion."""
    table, victim = _with_frame(small_table, tmp_path, index, make)
    clips = stage1.preprocess(table, SIZE, N_FRAMES)
    (row,) = clips.excluded.to_dict("records")
    assert row["clip"] == table["clip"].iloc[0] and row["file"] == victim
    assert reason in row["reason"]
    assert len(clips.rows) == len(table) - 1 and clips.X.shape[0] == len(table) - 1


def test_corrupt_image_names_the_file(small_table):
    bad = small_table["frames"].iloc[1][-1]  # the last frame is always sampled
    Path(bad).write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(datasets.DatasetError, match=Path(bad).name):
        stage1.preprocess(small_table, SIZE, N_FRAMES)


def test_every_frame_detection_and_sparse_landmarks_same_shape(small_table):
    base = stage1.preprocess(small_table, SIZE, N_FRAMES)
    for kw in ({"detect_every_frame": True}, {"landmark_every": 3}):
        other = stage1.preprocess(small_table, SIZE, N_FRAMES, **kw)
        assert other.X.shape == base.X.shape
        # still heads: the same faces, up to box jitter and mask interpolation
        diff = np.abs(other.X.astype(int) - base.X.astype(int)).mean()
        assert diff < 20, (kw, diff)
    with pytest.raises(ValueError, match="landmark_every"):
        stage1.preprocess(small_table, SIZE, N_FRAMES, landmark_every=0)


def test_pipeline_steps_keys_and_shapes():
    steps = faces.pipeline_steps(_astronaut_bgr(), size=64)
    assert list(steps) == ["raw", "landmarks", "masked", "cropped", "final"]
    assert steps["final"].shape == (64, 64) and steps["final"].dtype == np.uint8
    assert steps["cropped"].shape[0] == steps["cropped"].shape[1] > 64
    with pytest.raises(ValueError, match="no frontal face"):
        faces.pipeline_steps(np.full((240, 320, 3), 128, np.uint8))


# ----------------------------------------------------------------------------- key frames
KEY = 64


def test_apex_position_rule():
    row = {"onset": 10, "apex": 14, "offset": 20}
    assert faces.apex_position(row, 11) == (4, "coded")
    assert faces.apex_position({**row, "apex": 10}, 11) == (0, "coded")
    assert faces.apex_position({**row, "apex": 20}, 11) == (10, "coded")
    for apex in (None, pd.NA, np.nan, 9, 21):  # unknown, or outside onset..offset
        assert faces.apex_position({**row, "apex": apex}, 11) == (5, "middle"), apex
    assert faces.apex_position({"onset": 10, "apex": 30, "offset": None}, 11) == (5, "middle")
    assert faces.apex_position({"onset": 1, "apex": 3, "offset": pd.NA}, 11) == (2, "coded")
    assert faces.apex_position(pd.Series({"onset": 5, "apex": pd.NA, "offset": 9}), 4) == (
        2,
        "middle",
    )
    table_row = pd.Series(
        {"onset": 10, "apex": 14, "offset": 20, "frames": [f"f{i}" for i in range(11)]}
    )
    assert stage1.apex_frame(table_row) == "f4"
    assert stage1.apex_frame(table_row.copy().replace({14: pd.NA})) == "f5"


def test_keyframes_landmarks_and_apex_rule_of_every_standin(tables):
    for name, table in tables.items():
        clips = stage1.preprocess(table, SIZE, N_FRAMES, keyframe_size=KEY)
        n = len(clips.rows)
        assert clips.params["keyframe_size"] == KEY
        assert clips.keyframes.shape == (n, 2, KEY, KEY) and clips.keyframes.dtype == np.uint8
        assert clips.landmarks.shape == (n, 68, 2) and clips.landmarks.dtype == np.float32
        assert clips.keyframes.std(axis=(2, 3)).min() > 10  # faces, not blank crops
        # every landmark but the jaw contour (0-16) lies inside the key frame; the jaw contour
        # may run a little past the crop (the box is brows-to-chin plus the margin)
        inner = clips.landmarks[:, 17:]
        assert (inner >= 0).all() and (inner <= KEY - 1).all(), name
        assert (np.abs(clips.landmarks - KEY / 2) < 0.6 * KEY).all(), name
        # the eye centres of the onset landmarks fall on the black eye masks of the onset frame
        for eye in (faces.EYE_RIGHT, faces.EYE_LEFT):
            x, y = np.rint(clips.landmarks[:, list(eye)].mean(1)).astype(int).T
            assert (clips.keyframes[np.arange(n), 0, y, x] == 0).all(), name
        expected = [
            "coded" if faces.apex_position(r, len(r["frames"]))[1] == "coded" else "middle"
            for _, r in table.iterrows()
        ]
        assert list(clips.rows["apex_rule"]) == expected
        if name == "smic":  # no apex codes
            assert set(clips.rows["apex_rule"]) == {"middle"}
        else:
            assert "coded" in set(clips.rows["apex_rule"]), name
        unknown = (
            table["apex"].isna()
            | (table["apex"] < table["onset"])
            | (table["apex"] > table["offset"])
        )
        assert (clips.rows.loc[unknown.to_numpy(), "apex_rule"] == "middle").all(), name
        assert (clips.rows.loc[~unknown.to_numpy(), "apex_rule"] == "coded").all(), name


def test_keyframe_pair_masks_the_union_in_both_frames():
    gray = faces.to_gray(_astronaut_bgr())
    box = faces.detect_face(gray)
    apex = np.roll(gray, 6, axis=0)  # the face moved 6 px down: masks in other places
    on_pts, ap_pts = faces.landmarks(gray, box), faces.landmarks(apex, box)
    assert np.abs(ap_pts - on_pts)[:, 1].mean() > 3
    pair, pts = faces.keyframe_pair(gray, apex, box, KEY, on_pts, ap_pts)
    assert pair.shape == (2, KEY, KEY) and pts.shape == (68, 2) and pts.dtype == np.float32

    region = faces.crop_box(box)

    def mask_of(*point_sets):  # a white crop masked like the key frames, resized
        white = np.full((region[3] - region[1], region[2] - region[0]), 255, np.uint8)
        polys = [p for pts_ in point_sets for p in faces.mask_polygons(pts_)]
        masked = faces.apply_masks(white, polys, offset=region[:2])
        return cv2.resize(masked, (KEY, KEY), interpolation=cv2.INTER_AREA)

    union, own_onset, own_apex = (
        mask_of(*p) == 0 for p in ((on_pts, ap_pts), (on_pts,), (ap_pts,))
    )
    assert union.sum() > own_onset.sum() + 10 and union.sum() > own_apex.sum() + 10
    touched = (
        cv2.dilate((mask_of(on_pts, ap_pts) < 255).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    )
    for frame, source in zip(pair, (gray, apex)):  # the union is black in both frames
        assert (frame[union] == 0).all()
        unmasked = cv2.resize(faces.crop(source, region), (KEY, KEY), interpolation=cv2.INTER_AREA)
        assert np.array_equal(frame[~touched], unmasked[~touched])  # and nothing else changed
    # landmarks in key-frame pixels: same affine map as the crop and resize
    scale = KEY / (region[2] - region[0])
    assert np.allclose(pts, (on_pts - np.array(region[:2]) + 0.5) * scale - 0.5, atol=1e-4)


def test_keyframes_are_cropped_like_the_cnn_frames(small_table):
    refs = list(small_table["frames"].iloc[0])
    # apex = onset: the union is the onset's own mask, so the key frame IS the CNN frame
    out = faces.process_clip(refs, SIZE, N_FRAMES, apex_index=0, keyframe_size=SIZE)
    assert np.array_equal(out.keyframes[0], out.frames[0, ..., 0])
    assert np.array_equal(out.keyframes[1], out.keyframes[0])


def test_apex_frame_decoded_only_when_not_sampled(small_table, monkeypatch):
    refs = list(small_table["frames"].iloc[0])
    sampled = faces.sample_indices(len(refs), N_FRAMES)
    calls = []
    real = datasets.read_frames
    monkeypatch.setattr(datasets, "read_frames", lambda r: calls.append(list(r)) or real(r))
    faces.process_clip(refs, SIZE, N_FRAMES, apex_index=int(sampled[1]))
    assert len(calls) == 1
    calls.clear()
    missing = next(i for i in range(len(refs)) if i not in set(sampled))
    out = faces.process_clip(refs, SIZE, N_FRAMES, apex_index=missing)
    assert calls[1:] == [[refs[missing]]]
    assert len(calls) == 2 and refs[missing] not in calls[0]
    assert out.keyframes.shape == (2, faces.KEYFRAME_SIZE, faces.KEYFRAME_SIZE)


def test_cache_holds_keyframes_and_rejects_files_without_them(small_table, tmp_path, caplog):
    cache = tmp_path / "cache"
    first = stage1.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache, keyframe_size=KEY)
    again = stage1.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache, keyframe_size=KEY)
    assert again.from_cache
    assert np.array_equal(again.keyframes, first.keyframes)
    assert np.array_equal(again.landmarks, first.landmarks) and again.landmarks.dtype == np.float32
    assert list(again.rows["apex_rule"]) == list(first.rows["apex_rule"])
    path = _cached(cache)[0]
    with np.load(path) as npz:
        arrays = dict(npz)
    for drop in ("keyframes", "landmarks"):
        stripped = {k: v for k, v in arrays.items() if k != drop}
        with open(path, "wb") as fh:
            np.savez(fh, **stripped)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mer_utils.stage1"):
            rebuilt = stage1.preprocess(
                small_table, SIZE, N_FRAMES, cache_dir=cache, keyframe_size=KEY
            )
        assert not rebuilt.from_cache, drop
        assert any("unusable" in r.message for r in caplog.records), drop
        assert np.array_equal(rebuilt.keyframes, first.keyframes)
    other = stage1.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache, keyframe_size=KEY + 8)
    assert not other.from_cache and other.keyframes.shape[-1] == KEY + 8


def test_pipeline_examples_one_per_class_and_their_figure(tables):
    from mer_utils.report import stages

    table = tables["casme2"]
    examples = stage1.pipeline_examples(table, size=32, seed=0)
    assert [e["label"] for e in examples] == [
        c for c in ("negative", "positive", "surprise") if (table["label"] == c).any()
    ]
    assert all(e["steps"]["final"].shape == (32, 32) for e in examples)
    fig = stages.pipeline_figure(examples)
    assert len(fig.axes) == len(examples) * len(faces.STEP_NAMES)


def test_a_later_page_reads_the_snapshot_without_the_annotation_or_a_frame(
    standins, tmp_path, monkeypatch
):
    """Issue 18: method pages take stage 1's output without re-reading the spreadsheet and
    every frame. The snapshot is keyed by the runner's data id: other data, other key."""
    from mer_utils import stage1

    root = standins["casme_sq"]
    first = stage1.load_clips("casme_sq", root, "smoke", tmp_path, data_id="d1")
    assert list((tmp_path / "sets").glob("casme_sq-*.npz"))

    def no_reading(*args, **kwargs):
        raise AssertionError("the annotation file was read again")

    def no_frame(*args, **kwargs):
        raise AssertionError("a frame was read again")

    monkeypatch.setattr(stage1.datasets, "load", no_reading)
    monkeypatch.setattr(stage1, "_file_digest", no_frame)
    again = stage1.load_clips("casme_sq", root, "smoke", tmp_path, data_id="d1")
    assert again.from_cache and np.array_equal(again.X, first.X)
    assert np.array_equal(again.keyframes, first.keyframes)
    assert np.array_equal(again.landmarks, first.landmarks)
    pd.testing.assert_frame_equal(again.rows, first.rows)
    assert again.source == first.source and again.params == first.params
    with pytest.raises(AssertionError, match="read again"):  # other data: computed anew
        stage1.load_clips("casme_sq", root, "smoke", tmp_path, data_id="d2")
