"""Stage 2a: data augmentation with the paper's policy, one random draw per clip.

Irawan et al. (2024, "Data augmentation") expand the training data with affine rotations (up to
15 degrees), cropping (10 % of the image area), contrast changes (up to 30 %) and brightness
changes; they name no library. The obvious one, imgaug, no longer imports with NumPy 2 (its last
release is from 2020), so the policy is applied here with Keras 3 preprocessing layers.

The trap: a clip is a sequence of frames, and an augmentation drawn per frame would rotate or
crop every frame differently, creating motion that is not in the face. Keras' random image
layers draw one set of parameters per *image* of a batch and apply it to all channels of that
image. :func:`augment_clips` therefore moves the T frames of a clip into the channel axis of one
(H, W, T) image: every layer draws once per clip and the frames stay aligned.

The policy is data: the ``augmentation`` block of each profile in
``mer_utils/data/profiles.yaml`` (the same for every profile: the paper's), passed to
:func:`augment_clips` and recorded with every result; :func:`mer_utils.report.networks.policy_text`
turns it into the sentence the book quotes. :data:`POLICY` is the same policy for callers that pass none. In this
order:

1. rotation: uniform in [-r, +r] degrees (``RandomRotation(r/360)``; paper: r = 15), bilinear,
   borders filled by reflection (Keras' default; a constant fill would paint black wedges);
2. crop: a crop keeping ``1 - a`` of the image area, aspect ratio kept, resized back to H x W
   (``RandomZoom``, zooming in by up to ``1 - sqrt(1 - a)`` of each side; paper: "cropping (10 %
   of the image area)", so a = 0.10, at most 5.1 % of each side);
3. contrast: factor uniform in [1 - c, 1 + c] around each frame's mean (``RandomContrast(c)``;
   paper: c = 0.30); the mean is taken per channel, i.e. per frame, so frame-to-frame intensity
   differences are scaled by the same factor in all frames;
4. brightness: add a delta uniform in [-b, +b] x 255 (``RandomBrightness(b)``; the paper gives no
   amount for brightness: b = 0.20 is this study's choice), clipped to [0, 255].
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

POLICY: dict[str, float] = {
    "factor": 2,
    "rotation_degrees": 15.0,
    "crop_area_fraction": 0.10,
    "contrast": 0.30,
    "brightness": 0.20,
}
"""The paper's policy (as in profiles.yaml), for callers that pass none."""


def zoom_fraction(crop_area_fraction: float) -> float:
    """Largest zoom-in per side for a crop that removes ``crop_area_fraction`` of the area."""
    if not 0 <= crop_area_fraction < 1:
        raise ValueError(f"crop_area_fraction must be in [0, 1), got {crop_area_fraction}")
    return 1.0 - (1.0 - crop_area_fraction) ** 0.5


_BATCH = 64


def build_augmenter(seed: int, policy: dict[str, float] | None = None):
    """Return a Keras ``Sequential`` of the policy's random layers, seeded with ``seed``.

    It maps a batch of (H, W, C) float images in [0, 255] to augmented images, with one random
    draw per image shared by its C channels. Layers are seeded from ``seed`` so a new augmenter
    built with the same seed reproduces the same draws.
    """
    import keras

    p = {**POLICY, **(policy or {})}
    zoom = zoom_fraction(p["crop_area_fraction"])
    return keras.Sequential(
        [
            keras.layers.RandomRotation(
                p["rotation_degrees"] / 360.0, fill_mode="reflect", seed=seed
            ),
            keras.layers.RandomZoom((-zoom, 0.0), fill_mode="reflect", seed=seed + 1),
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
    out = [
        np.asarray(augmenter(images[i : i + _BATCH], training=True))
        for i in range(0, len(images), _BATCH)
    ]
    return images_to_clips(np.concatenate(out) if out else images, X.dtype)


def augment_clips(
    X: np.ndarray, y: np.ndarray, factor: int, seed: int, policy: dict[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Expand a training part ``factor`` times: the originals followed by ``factor - 1`` copies.

    ``X`` is (n, T, H, W, 1) uint8 or float in [0, 255], ``y`` the n labels. Each augmented copy
    of a clip gets its own random draw of ``policy`` (default :data:`POLICY`), applied identically to
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
        augmenter = build_augmenter(int(seed), policy)
        for _ in range(int(factor) - 1):
            parts.append(augment_batch(X, augmenter))
            labels.append(y)
    logger.debug("augmented %d clips x%d", len(X), factor)
    return np.concatenate(parts), np.concatenate(labels)


def _check_clips(X: np.ndarray) -> None:
    if X.ndim != 5 or X.shape[-1] != 1:
        raise ValueError(f"expected clips of shape (n, T, H, W, 1), got {X.shape}")


def examples(X: np.ndarray, factor: int, seed: int, policy: dict | None = None) -> np.ndarray:
    """The clips ``X`` (n, T, H, W, 1) and ``factor - 1`` augmented copies of each, as an array
    (factor, n, T, H, W, 1): what the stage-2 page shows as the paper's Figure 5."""
    out, _ = augment_clips(X, np.zeros(len(X), dtype=int), factor, seed, policy)
    return out.reshape(factor, len(X), *X.shape[1:])
