"""Stage 2a: data augmentation with the paper's policy, one random draw per clip.

Irawan et al. (2024, "Data augmentation") expand the training data with affine rotations (up to
15 degrees), cropping (10 %), contrast changes (up to 30 %) and brightness changes. The paper
used imgaug, which no longer imports with NumPy 2 (shared reference: environment.md), so the same
policy is applied here with Keras 3 preprocessing layers.

The trap: a clip is a sequence of frames, and an augmentation drawn per frame would rotate or
crop every frame differently, creating motion that is not in the face. Keras' random image
layers draw one set of parameters per *image* of a batch and apply it to all channels of that
image. :func:`augment_clips` therefore moves the T frames of a clip into the channel axis of one
(H, W, T) image: every layer draws once per clip and the frames stay aligned.

The policy (:data:`POLICY`), in this order:

1. rotation: uniform in [-15, +15] degrees (``RandomRotation(15/360)``), bilinear, borders
   filled by reflection (Keras' default; a constant fill would paint black wedges);
2. crop: zoom in by up to 10 % of each side, aspect ratio kept, then resize back to H x W
   (``RandomZoom((-0.1, 0))``: crop-and-resize; the paper's "10 % cropping" does not say whether
   area or side; side is imgaug's ``Crop(percent=...)`` convention);
3. contrast: factor uniform in [0.7, 1.3] around each frame's mean (``RandomContrast(0.3)``); the
   mean is taken per channel, i.e. per frame, so frame-to-frame intensity differences are scaled
   by the same factor in all frames);
4. brightness: add a delta uniform in [-0.2, +0.2] x 255 (``RandomBrightness(0.2)``; the paper
   gives no amount for brightness: this range is our choice), clipped to [0, 255].
"""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

POLICY: dict[str, float] = {
    "rotation_degrees": 15.0,
    "crop_fraction": 0.10,
    "contrast": 0.30,
    "brightness": 0.20,
}
"""Augmentation amounts (see the module docstring for how each is applied)."""

_BATCH = 64


def build_augmenter(seed: int, policy: dict[str, float] | None = None):
    """Return a Keras ``Sequential`` of the policy's random layers, seeded with ``seed``.

    It maps a batch of (H, W, C) float images in [0, 255] to augmented images, with one random
    draw per image shared by its C channels. Layers are seeded from ``seed`` so a new augmenter
    built with the same seed reproduces the same draws.
    """
    import keras

    p = {**POLICY, **(policy or {})}
    return keras.Sequential(
        [
            keras.layers.RandomRotation(p["rotation_degrees"] / 360.0, fill_mode="reflect",
                                        seed=seed),
            keras.layers.RandomZoom((-p["crop_fraction"], 0.0), fill_mode="reflect",
                                    seed=seed + 1),
            keras.layers.RandomContrast(p["contrast"], value_range=(0, 255), seed=seed + 2),
            keras.layers.RandomBrightness(p["brightness"], value_range=(0, 255), seed=seed + 3),
        ],
        name="clip_augmenter",
    )


def clips_to_images(X: np.ndarray) -> np.ndarray:
    """(n, T, H, W, 1) clips -> (n, H, W, T) float32 images, frames as channels."""
    _check_clips(X)
    return np.ascontiguousarray(np.transpose(X[..., 0], (0, 2, 3, 1)), dtype=np.float32)


def images_to_clips(images: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(n, H, W, T) images -> (n, T, H, W, 1) clips of ``dtype`` (rounded and clipped for ints)."""
    clips = np.transpose(images, (0, 3, 1, 2))[..., None]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        clips = np.clip(np.rint(clips), info.min, info.max)
    return clips.astype(dtype)


def augment_batch(X: np.ndarray, augmenter) -> np.ndarray:
    """Augment clips ``X`` (n, T, H, W, 1) with ``augmenter``: one draw per clip, same dtype."""
    images = clips_to_images(X)
    out = [np.asarray(augmenter(images[i:i + _BATCH], training=True))
           for i in range(0, len(images), _BATCH)]
    return images_to_clips(np.concatenate(out) if out else images, X.dtype)


def augment_clips(X: np.ndarray, y: np.ndarray, factor: int, seed: int,
                  policy: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Expand a training part ``factor`` times: the originals followed by ``factor - 1`` copies.

    ``X`` is (n, T, H, W, 1) uint8 or float in [0, 255], ``y`` the n labels. Each augmented copy
    of a clip gets its own random draw of the policy (:data:`POLICY`), applied identically to
    all T frames of that clip. Deterministic given ``seed``. Output: ``X_out`` of shape
    (factor * n, T, H, W, 1) and X's dtype, ``y_out`` = ``y`` repeated ``factor`` times. Apply to
    the training part of a split only.
    """
    y = np.asarray(y)
    if int(factor) != factor or factor < 1:
        raise ValueError(f"augmentation factor must be an integer >= 1, got {factor!r}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} clips but y has {len(y)} labels")
    _check_clips(X)
    parts, labels = [X], [y]
    if factor > 1 and len(X):
        augmenter = build_augmenter(int(seed))
        for _ in range(int(factor) - 1):
            parts.append(augment_batch(X, augmenter))
            labels.append(y)
    logger.debug("augmented %d clips x%d", len(X), factor)
    return np.concatenate(parts), np.concatenate(labels)


def _check_clips(X: np.ndarray) -> None:
    if X.ndim != 5 or X.shape[-1] != 1:
        raise ValueError(f"expected clips of shape (n, T, H, W, 1), got {X.shape}")
