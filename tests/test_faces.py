"""Tests of stage 1 (mer_utils.faces) on generated stand-ins and the astronaut photo."""
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

from mer_utils import config, datasets, faces

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
        clips = faces.preprocess(table, SIZE, N_FRAMES)
        assert clips.excluded.empty, f"{name}: {clips.excluded.to_dict('records')}"
        assert clips.X.shape == (len(table), N_FRAMES, SIZE, SIZE, 1)
        assert clips.X.dtype == np.uint8
        assert list(clips.rows.columns) == list(faces.ROW_COLUMNS)
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
        assert all(cv2.pointPolygonTest(hull, (float(x), float(y)), False) >= 0 for x, y in points[list(group)])

    masked = faces.pipeline_steps(frame)["masked"]
    # independent rasterisation of the polygons, pixel centres strictly inside / near edges
    yy, xx = np.mgrid[: gray.shape[0], : gray.shape[1]]
    centres = np.c_[xx.ravel(), yy.ravel()]
    inside = np.zeros(gray.shape, bool)
    near = np.zeros(gray.shape, bool)
    for poly in polygons:
        path = MplPath(poly)
        # the sign of matplotlib's radius depends on the path orientation: use both
        shrunk, grown = (path.contains_points(centres, radius=r).reshape(gray.shape) for r in (-1.5, 1.5))
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


def test_cache_reused_rebuilt_on_param_and_file_change(small_table, tmp_path):
    cache = tmp_path / "cache"
    first = faces.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    assert not first.from_cache
    files = list(cache.glob("casme2-*.npz"))
    assert len(files) == 1

    again = faces.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    assert again.from_cache
    assert np.array_equal(again.X, first.X)
    pd.testing.assert_frame_equal(again.rows, first.rows)
    pd.testing.assert_frame_equal(again.excluded, first.excluded)

    other = faces.preprocess(small_table, SIZE + 8, N_FRAMES, cache_dir=cache)
    assert not other.from_cache and other.X.shape[2] == SIZE + 8
    assert len(list(cache.glob("*.npz"))) == 2

    frame = small_table["frames"].iloc[0][0]  # the first sampled frame of clip 0
    image = cv2.imread(frame)
    cv2.imwrite(frame, cv2.flip(image, 1))
    os.utime(frame, ns=(os.stat(frame).st_atime_ns, os.stat(frame).st_mtime_ns + 10**9))
    changed = faces.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    assert not changed.from_cache
    assert not np.array_equal(changed.X[0, 0], first.X[0, 0])
    assert np.array_equal(changed.X[1:], first.X[1:])


def test_truncated_cache_is_detected_and_rebuilt(small_table, tmp_path, caplog):
    cache = tmp_path / "cache"
    first = faces.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    (path,) = cache.glob("*.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="mer_utils.faces"):
        rebuilt = faces.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache)
    assert not rebuilt.from_cache
    assert np.array_equal(rebuilt.X, first.X)
    assert any("unusable" in r.message and path.name in r.message for r in caplog.records)
    assert faces.preprocess(small_table, SIZE, N_FRAMES, cache_dir=cache).from_cache


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
    with caplog.at_level(logging.WARNING, logger="mer_utils.faces"):
        clips = faces.preprocess(table, SIZE, N_FRAMES)
    assert clips.X.shape[0] == len(small_table) == len(clips.rows)
    assert "BLANK" not in set(clips.rows["clip"])
    assert clips.excluded.to_dict("records") == [{
        "subject": blank["subject"].iloc[0], "clip": "BLANK", "file": refs[0],
        "reason": f"no frontal face in any of the {N_FRAMES} sampled frames"}]
    assert any("BLANK" in r.message for r in caplog.records)
    counts = faces.summary(clips).set_index("status")["clips"]
    assert counts["kept"] == len(small_table) and counts["excluded"] == 1


def test_corrupt_image_names_the_file(small_table):
    bad = small_table["frames"].iloc[1][-1]  # the last frame is always sampled
    Path(bad).write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(datasets.DatasetError, match=Path(bad).name):
        faces.preprocess(small_table, SIZE, N_FRAMES)


def test_every_frame_detection_and_sparse_landmarks_same_shape(small_table):
    base = faces.preprocess(small_table, SIZE, N_FRAMES)
    for kw in ({"detect_every_frame": True}, {"landmark_every": 3}):
        other = faces.preprocess(small_table, SIZE, N_FRAMES, **kw)
        assert other.X.shape == base.X.shape
        # still heads: the same faces, up to box jitter and mask interpolation
        diff = np.abs(other.X.astype(int) - base.X.astype(int)).mean()
        assert diff < 20, (kw, diff)
    with pytest.raises(ValueError, match="landmark_every"):
        faces.preprocess(small_table, SIZE, N_FRAMES, landmark_every=0)


def test_pipeline_steps_keys_and_shapes():
    steps = faces.pipeline_steps(_astronaut_bgr(), size=64)
    assert list(steps) == ["raw", "landmarks", "masked", "cropped", "final"]
    assert steps["final"].shape == (64, 64) and steps["final"].dtype == np.uint8
    assert steps["cropped"].shape[0] == steps["cropped"].shape[1] > 64
    with pytest.raises(ValueError, match="no frontal face"):
        faces.pipeline_steps(np.full((240, 320, 3), 128, np.uint8))
