"""Tests of the optical-flow baseline (mer_utils.flow): flow, regions, features, classifier."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from skimage import data as skdata
from sklearn.model_selection import LeaveOneGroupOut

from mer_utils import config, faces, flow, metrics, stage1

K = faces.KEYFRAME_SIZE


@pytest.fixture(scope="module")
def face_key() -> tuple[np.ndarray, np.ndarray]:
    """A real face as a stage-1 key frame (astronaut photo, eyes and mouth masked) and its
    68 landmarks in key-frame pixels."""
    head = cv2.resize(skdata.astronaut()[0:300, 80:380], (240, 240), interpolation=cv2.INTER_AREA)
    frame = np.zeros((240, 320), np.uint8)
    frame[:, 40:280] = cv2.cvtColor(head, cv2.COLOR_RGB2GRAY)
    box = faces.detect_face(frame)
    points = faces.landmarks(frame, box)
    pair, key_points = faces.keyframe_pair(frame, frame, box, K, points, points)
    return pair[0], key_points


def _warp(image: np.ndarray, field: np.ndarray, seed: int = 0) -> np.ndarray:
    """Move the image's content by ``field`` (dx, dy per pixel, smooth): out(x) = image(x - f(x)),
    plus sensor noise (sigma 2 grey levels)."""
    gy, gx = np.mgrid[: image.shape[0], : image.shape[1]].astype(np.float32)
    out = cv2.remap(
        image.astype(np.float32),
        gx - field[..., 0],
        gy - field[..., 1],
        cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REFLECT,
    )
    out += np.random.default_rng(seed).normal(0, 2, out.shape)
    out = np.clip(np.rint(out), 1, 255).astype(np.uint8)
    out[image == 0] = 0  # the masks stay where they are, as in stage 1's key frames
    return out


def _noisy(image: np.ndarray, seed: int = 1) -> np.ndarray:
    """The image with the same sensor noise as :func:`_warp` and no motion."""
    return _warp(image, np.zeros(image.shape + (2,), np.float32), seed)


def _brow_raise(image: np.ndarray, points: np.ndarray, px: float) -> np.ndarray:
    """A smooth upward displacement of ``px`` pixels over both brows (zero far from them)."""
    masks = flow.region_masks(points, image.shape[0])
    brows = (masks["brow_right"] | masks["brow_left"] | masks["glabella"]).astype(np.float32)
    weight = cv2.GaussianBlur(cv2.dilate(brows, np.ones((7, 7), np.uint8)), (0, 0), 3)
    weight /= weight.max()
    field = np.zeros(image.shape + (2,), np.float32)
    field[..., 1] = -px * weight
    return field


def test_flow_of_a_brow_raise_points_up_in_the_brows_and_is_still_elsewhere(face_key):
    onset, points = face_key
    apex = _warp(onset, _brow_raise(onset, points, 1.5))
    onset = _noisy(onset)
    f = flow.compute_flow(onset, apex)
    assert f.shape == (K, K, 2) and f.dtype == np.float32
    masks = flow.region_masks(points, K, flow.masked_pixels(onset, apex))
    for region in ("brow_right", "brow_left"):
        dx, dy = f[masks[region]].mean(0)
        assert -2.0 < dy < -1.0 and abs(dx) < 0.3, (region, dx, dy)
    for region in ("chin", "mouth_corner_right", "mouth_corner_left", "cheek_right", "cheek_left"):
        assert np.abs(f[masks[region]].mean(0)).max() < 0.15, region
    # identical frames: no flow
    assert np.abs(flow.compute_flow(onset, onset)).max() < 1e-3


def test_features_of_a_brow_raise_survive_head_motion(face_key):
    onset, points = face_key
    field = _brow_raise(onset, points, 1.5)
    field[..., 0] += 0.8  # the whole head also drifts 0.8 px to the right
    apex = _warp(onset, field)
    onset = _noisy(onset)
    feats = dict(zip(flow.feature_names(), flow.clip_features(onset, apex, points)))
    for side in ("right", "left"):
        assert feats[f"brow_{side}.dy"] < -0.8
        assert feats[f"brow_{side}.hoof_up"] > 3 * feats[f"brow_{side}.hoof_down"]
        assert abs(feats[f"brow_{side}.dx"]) < 0.3  # the drift is compensated
    for region in ("chin", "mouth_corner_right", "cheek_left"):
        assert abs(feats[f"{region}.dx"]) < 0.15 and abs(feats[f"{region}.dy"]) < 0.15, region
    assert feats["brow_right.strain"] > 2 * feats["chin.strain"]
    # a pure translation has no strain and, after compensation, no motion
    shifted = _warp(onset, np.full(onset.shape + (2,), 0.7, np.float32), seed=2)
    still = flow.clip_features(onset, shifted, points).reshape(len(flow.REGIONS), -1)
    cols = {name: i for i, name in enumerate(flow.PER_REGION)}
    assert np.abs(still[:, [cols["dx"], cols["dy"]]]).max() < 0.2


def test_strain_of_translation_and_stretch():
    shift = np.full((32, 32, 2), 1.3, np.float32)
    assert np.abs(flow.strain(shift)).max() < 1e-6
    stretch = np.zeros((32, 32, 2), np.float32)
    stretch[..., 0] = 0.1 * np.arange(32)[None, :]  # u = 0.1 x: e_xx = 0.1
    assert np.allclose(flow.strain(stretch), 0.1, atol=1e-5)


def test_regions_lie_on_the_face_and_mirror(face_key):
    onset, points = face_key
    masked = flow.masked_pixels(onset, onset)
    masks = flow.region_masks(points, K, masked)
    assert list(masks) == list(flow.REGIONS)
    for name, mask in masks.items():
        assert mask.shape == (K, K) and mask.dtype == bool
        assert mask.sum() > 20, name
        assert not (mask & masked).any(), name
    cx = {name: np.nonzero(m)[1].mean() for name, m in masks.items()}
    cy = {name: np.nonzero(m)[0].mean() for name, m in masks.items()}
    for base in ("brow", "nose_wing", "cheek", "mouth_corner"):  # subject's right = image left
        assert cx[f"{base}_right"] < cx["nose_bridge"] < cx[f"{base}_left"], base
    assert (
        cy["forehead"]
        < cy["brow_right"]
        < cy["cheek_right"]
        < cy["mouth_corner_right"]
        < cy["chin"]
    )
    # the mirrored face's regions are the mirrored regions, right and left swapped
    perm = [flow.MIRROR[i] for i in range(68)]
    mirrored_points = np.column_stack([K - 1 - points[perm, 0], points[perm, 1]])
    flipped = flow.region_masks(mirrored_points, K)
    plain = flow.region_masks(points, K)
    for name, mask in plain.items():
        twin = name.replace("_right", "_LEFT").replace("_left", "_right").replace("_LEFT", "_left")
        other = flipped[twin][:, ::-1]
        iou = (mask & other).sum() / (mask | other).sum()
        assert iou > 0.85, (name, iou)
    assert sorted(flow.MIRROR) == list(range(68)) and all(
        flow.MIRROR[flow.MIRROR[i]] == i for i in range(68)
    )


def test_feature_vector_names_and_parameters(face_key):
    onset, points = face_key
    names = flow.feature_names()
    assert len(names) == len(set(names)) == len(flow.REGIONS) * len(flow.PER_REGION)
    assert tuple(names) == flow.FEATURE_NAMES
    v = flow.clip_features(onset, onset, points)
    assert v.shape == (len(names),) and v.dtype == np.float32 and np.isfinite(v).all()
    record = json.loads(json.dumps(flow.PARAMETERS))
    assert record["flow"]["algorithm"] == "DIS" and record["n_features"] == len(names)
    assert set(record["regions"]) == set(flow.REGIONS)


def _toy(n_train=40, n_test=12, d=6, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n_train + n_test) % 3
    F = rng.normal(size=(n_train + n_test, d)) + 2.0 * np.eye(3, d)[y]
    return F, y, np.arange(n_train), np.arange(n_train, n_train + n_test)


def test_pipeline_is_fitted_on_the_training_rows_only(monkeypatch):
    F, y, train, test = _toy()
    fitted = []
    make = flow.make_classifier
    monkeypatch.setattr(
        flow, "make_classifier", lambda *a, **k: fitted.append(make(*a, **k)) or fitted[-1]
    )
    pred = flow.classify(F[train], y[train], F[test], False, 0)
    assert pred.shape == (len(test),) and set(pred) <= {0, 1, 2}

    leaky = F.copy()
    leaky[test] = leaky[test] * 50 + 1000  # test rows far away: a scaler that saw them would move
    y_other = y.copy()
    y_other[test] = (y[test] + 1) % 3  # test labels changed: must not matter either
    pred_leaky = flow.classify(leaky[train], y_other[train], leaky[test], False, 0)
    scaler = fitted[-1].named_steps["scaler"]
    assert np.allclose(scaler.mean_, F[train].mean(0))
    assert np.allclose(scaler.scale_, F[train].std(0))
    clf_a, clf_b = (p.named_steps["classifier"] for p in fitted)
    assert np.array_equal(clf_a.coef_, clf_b.coef_) and np.array_equal(
        clf_a.intercept_, clf_b.intercept_
    )
    # one test row kept, the other test rows changed: its prediction does not change
    moved = F.copy()
    moved[test[1:]] += 500
    assert flow.classify(moved[train], y[train], moved[test], False, 0)[0] == pred[0]
    assert np.array_equal(flow.classify(F[train], y_other[train], F[test], False, 0), pred)
    del pred_leaky


def test_classifier_settings_and_determinism():
    F, y, train, test = _toy(seed=3)
    weighted = flow.make_classifier(True, 5)
    assert weighted.named_steps["classifier"].class_weight == "balanced"
    assert flow.make_classifier(False, 5).named_steps["classifier"].class_weight is None
    a = flow.classify(F[train], y[train], F[test], True, 7)
    assert np.array_equal(a, flow.classify(F[train], y[train], F[test], True, 7))
    assert (a == y[test]).mean() > 0.6  # a separable toy problem is learnt
    single = flow.classify(F[train], np.full(len(y), 2)[train], F[test], False, 0)
    assert (single == 2).all()


@pytest.fixture(scope="module")
def standin_clips(standins):
    profile = config.profile("smoke")
    return {name: stage1.load_clips(name, standins[name], profile) for name in ("casme2", "smic")}


def test_baseline_beats_the_majority_class_on_standins_under_loso(standin_clips):
    for name, clips in standin_clips.items():
        F = flow.features(clips)
        assert F.shape == (len(clips.rows), len(flow.FEATURE_NAMES)) and np.isfinite(F).all()
        y = np.array([config.CLASSES.index(label) for label in clips.rows["label"]])
        groups = clips.rows["subject"].to_numpy()
        pred = np.full(len(y), -1)
        folds = []
        for train, test in LeaveOneGroupOut().split(F, y, groups):
            pred[test] = flow.classify(F[train], y[train], F[test], True, 0)
            folds.append((y[train], y[test]))
        assert (pred >= 0).all()
        base = metrics.majority_baseline(folds)
        assert metrics.uf1(y, pred) > base["uf1"] + 0.2, name
        assert metrics.uar(y, pred) > base["uar"] + 0.2, name


def test_features_in_workers_equal_serial_and_figure(standin_clips):
    clips = standin_clips["smic"]
    assert np.array_equal(flow.features(clips, workers=2), flow.features(clips))
    from mer_utils.report import networks, stages

    examples = networks.flow_examples(clips, seed=1)
    assert [e["label"] for e in examples] == sorted(
        set(clips.rows["label"]), key=list(config.CLASSES).index
    )
    fig = stages.flow_figure(examples)
    n_classes = clips.rows["label"].nunique()
    assert len(fig.axes) == 3 * n_classes
    assert any("flow x" in ax.get_title() for ax in fig.axes)
