"""Stage 2a: augmentation draws one set of random parameters per clip, for all its frames."""

import numpy as np
import pytest

import mer_utils  # noqa: F401  (sets TensorFlow's environment before it is imported)
from mer_utils import augment


def _ramp_clip(rng, T=6, S=20, step=4.0):
    """A clip whose frame t is frame 0 plus a constant 'step * t' (mid-range values)."""
    f0 = rng.uniform(90, 140, (S, S))
    return np.stack([f0 + step * t for t in range(T)])[..., None].astype(np.float32)


def test_identical_frames_stay_identical():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (20, 20, 1)).astype(np.uint8)
    X = np.repeat(np.repeat(frame[None, None], 6, axis=1), 4, axis=0)  # 4 clips x 6 same frames
    X_out, _ = augment.augment_clips(X, np.zeros(4, int), factor=3, seed=1)
    aug = X_out[4:]
    assert not np.array_equal(aug, X_out[:4]), "augmentation changed nothing"
    # a per-frame draw would rotate / crop / brighten every frame differently
    assert np.array_equal(aug, np.repeat(aug[:, :1], 6, axis=1))


def test_one_transform_for_all_frames():
    """If frame_t = frame_0 + c_t, one shared (linear) transform keeps out_t - out_0 = c_t."""
    rng = np.random.default_rng(1)
    X = np.stack([_ramp_clip(rng) for _ in range(5)])
    X_out, _ = augment.augment_clips(X, np.zeros(5, int), factor=2, seed=3)
    aug = X_out[5:]
    diff = aug - aug[:, :1]
    expected = 4.0 * np.arange(6)[None, :, None, None, None]
    assert np.abs(diff - expected).max() < 1e-2
    assert np.abs(aug - X).mean() > 1.0  # and the clips were really transformed


def test_each_clip_gets_its_own_draw():
    rng = np.random.default_rng(2)
    clip = _ramp_clip(rng)
    X = np.repeat(clip[None], 6, axis=0)  # six copies of one clip
    X_out, _ = augment.augment_clips(X, np.zeros(6, int), factor=3, seed=5)
    aug = X_out[6:]
    for i in range(len(aug)):
        for j in range(i + 1, len(aug)):
            assert np.abs(aug[i] - aug[j]).mean() > 0.1, f"copies {i} and {j} got the same draw"


def test_layout_and_determinism():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, (4, 3, 16, 16, 1)).astype(np.uint8)
    y = np.array([0, 1, 2, 0])
    X_out, y_out = augment.augment_clips(X, y, factor=3, seed=7)
    assert X_out.shape == (12, 3, 16, 16, 1) and X_out.dtype == np.uint8
    assert np.array_equal(X_out[:4], X), "originals must come first, unchanged"
    assert np.array_equal(y_out, np.tile(y, 3))
    again, _ = augment.augment_clips(X, y, factor=3, seed=7)
    other, _ = augment.augment_clips(X, y, factor=3, seed=8)
    assert np.array_equal(X_out, again)
    assert not np.array_equal(X_out[4:], other[4:])
    same, y_same = augment.augment_clips(X, y, factor=1, seed=7)
    assert np.array_equal(same, X) and np.array_equal(y_same, y)


@pytest.mark.parametrize("factor", [0, 1.5, -2])
def test_bad_factor(factor):
    X = np.zeros((2, 3, 8, 8, 1), np.uint8)
    with pytest.raises(ValueError, match="factor"):
        augment.augment_clips(X, np.zeros(2, int), factor=factor, seed=0)


def test_bad_shape():
    with pytest.raises(ValueError, match=r"\(n, T, H, W, 1\)"):
        augment.augment_clips(np.zeros((2, 3, 8, 8)), np.zeros(2, int), factor=2, seed=0)
