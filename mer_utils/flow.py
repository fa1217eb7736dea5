"""A classic optical-flow baseline: onset -> apex flow, pooled over face regions, linear classifier.

Micro-expression recognition has long used the optical flow between a clip's onset frame (the
neutral face) and its apex frame (the expression at its peak): hand-crafted flow features and
many MEGC 2019 entries (OFF-ApexNet, STSTNet and others). This module is such a baseline,
evaluated beside the paper's 3D CNN under the same splits. It works on stage 1's key frames
(:attr:`mer_utils.stage1.ClipSet.keyframes`: onset and apex, gray, cropped like the CNN frames,
``K x K``, eye and mouth masks identical in both) and the onset's 68 landmarks in key-frame
pixels (:attr:`mer_utils.stage1.ClipSet.landmarks`). Three steps:

1. Optical flow (:func:`compute_flow`)
    The flow is OpenCV's **DIS** (Dense Inverse Search, Kroeger et al., ECCV 2016,
    ``cv2.DISOpticalFlow_create``): on every level of an image pyramid it matches small patches
    of the onset frame into the apex frame by inverse-compositional gradient descent, fuses the
    overlapping patch motions into a dense field, and refines it with a few iterations of a
    variational energy (brightness and gradient constancy plus a smoothness term). Why DIS:

    * availability: TV-L1, the micro-expression field's usual choice, lives in
      ``opencv-contrib`` (``cv2.optflow``), which is not installed; the installed
      ``opencv-python-headless`` has Farneback and DIS;
    * accuracy on small motion: on synthetic warps of stand-in key frames with a known smooth
      field and sensor noise, DIS with these settings has a lower end-point error than
      Farneback from about 1 px up and a similar one at a few tenths of a pixel
      (``benchmarks/bench_flow.py`` measures both: figures ``epe_dis_*`` and
      ``epe_farneback_*``);
    * speed: both take a few milliseconds per 128 x 128 pair (``bench_flow.py``:
      ``flow_pair_ms``, ``farneback_pair_ms``; DIS at full resolution is not the faster of the
      two), so either turns a whole dataset into features in seconds: speed did not decide.

    The settings (:data:`DIS_SETTINGS`) are the ``MEDIUM`` preset computed down to the finest
    pyramid level (``finest_scale=0``; the preset stops one level short, i.e. at half
    resolution, which blurs sub-pixel detail) with a patch stride of 4. The flow is in key-frame
    pixels, ``flow[y, x] = (dx, dy)`` (x right, y down): the onset pixel ``(x, y)`` is found at
    ``(x + dx, y + dy)`` in the apex frame. :func:`strain` adds the optical strain, the
    magnitude of the symmetric part of the flow's spatial gradient (how much the skin is
    stretched or compressed, not merely moved; cheap: four finite differences).

2. Region features (:func:`clip_features`)
    :data:`REGIONS` defines 12 face regions as DATA: polygons whose vertices are landmarks
    shifted by a multiple of the inter-ocular distance (``iod``, between the eye centres) along
    the face's own axes (``ex`` from the subject's right eye to the left eye, ``ey``
    perpendicular, downward). Regions named ``_right`` are on the subject's right (image left
    for an upright, unmirrored face); the ``_left`` ones are their mirror images
    (:data:`MIRROR`). Masked pixels (black in both key frames: the eye and mouth masks, and the
    black padding where the crop leaves the frame), dilated by :data:`MASK_MARGIN` px, are left
    out of every region: they hold no texture, so any flow there is the smoothness term's guess.
    The head's own motion is removed first (:data:`GLOBAL_MOTION`: the median over the
    regions of each region's median flow is subtracted; a micro-expression moves a minority
    of the regions). The flow is then expressed in the face's axes (``dx`` along ``ex``, ``dy`` along ``ey``; for an upright
    face these are the image axes, for a tilted one the features do not depend on the tilt).
    Per region, :data:`PER_REGION` features: mean ``dx``, mean ``dy``, mean magnitude, a
    magnitude-weighted histogram of flow direction (:data:`N_BINS` bins centred on right,
    down-right, down, ..., up-right; each bin is the sum of the magnitudes of the region's
    pixels whose direction falls in it, divided by the region's pixel count, so the bins add up
    to the mean magnitude; this is HOOF, the histogram of oriented optical flow, without its
    normalisation to 1, which would discard the amount of motion) and the mean optical strain.
    :func:`feature_names` lists them (``"<region>.<feature>"``); a region with no valid pixel
    gets zeros.

3. Classifier (:func:`make_classifier`, :func:`classify`)
    A scikit-learn ``Pipeline``: ``StandardScaler`` (the features have different units and
    ranges: pixels for the flow, a dimensionless ratio for the strain) then multinomial ``LogisticRegression`` with an L2 penalty of fixed
    strength :data:`C` (chosen before any evaluation, never tuned on test clips; strong-ish
    because the features outnumber the training clips of the small datasets). Why logistic
    regression rather than a linear SVM: its lbfgs solver is deterministic (no random
    coordinate order), it fits the three classes jointly instead of one-vs-rest, and it gives
    class probabilities for later analysis. The WHOLE pipeline, scaler included, is fitted on
    the training part of a split only (:func:`classify`): the test clips are never seen,
    not even through their mean and standard deviation. ``class_weight=True`` uses
    scikit-learn's ``"balanced"`` weights ``N / (n_classes * n_k)``: proportional to the
    paper's Eq. (1) ``W_k = N / n_k`` (:func:`mer_utils.balance.class_weights`), the same
    ratios between classes, and the constant factor only rescales the loss, which for this
    regularised model is the same as dividing ``C`` by ``n_classes``.

:data:`PARAMETERS` holds every setting (JSON-serialisable) for the result records.
"""

from __future__ import annotations

import math
import threading
from typing import Mapping, Sequence

import cv2
import numpy as np

# ----------------------------------------------------------------------------- step 1: flow
FLOW_METHOD = "DIS"
"""The optical-flow algorithm: OpenCV's Dense Inverse Search (``cv2.DISOpticalFlow``)."""

DIS_SETTINGS: dict = {
    "preset": "MEDIUM",
    "finest_scale": 0,
    "patch_size": 8,
    "patch_stride": 4,
    "gradient_descent_iterations": 16,
    "variational_refinement_iterations": 5,
    "variational_refinement_alpha": 20.0,
    "variational_refinement_gamma": 10.0,
    "variational_refinement_delta": 5.0,
    "use_mean_normalization": True,
    "use_spatial_propagation": True,
}
"""DIS settings: the ``MEDIUM`` preset, computed down to full resolution (``finest_scale=0``)."""


_local = threading.local()


def _dis():
    """The DIS object of this thread (created once per thread: a DIS object keeps internal
    buffers and must not be shared between threads)."""
    dis = getattr(_local, "dis", None)
    if dis is not None:
        return dis
    s = DIS_SETTINGS
    dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{s['preset']}"))
    dis.setFinestScale(s["finest_scale"])
    dis.setPatchSize(s["patch_size"])
    dis.setPatchStride(s["patch_stride"])
    dis.setGradientDescentIterations(s["gradient_descent_iterations"])
    dis.setVariationalRefinementIterations(s["variational_refinement_iterations"])
    dis.setVariationalRefinementAlpha(s["variational_refinement_alpha"])
    dis.setVariationalRefinementGamma(s["variational_refinement_gamma"])
    dis.setVariationalRefinementDelta(s["variational_refinement_delta"])
    dis.setUseMeanNormalization(s["use_mean_normalization"])
    dis.setUseSpatialPropagation(s["use_spatial_propagation"])
    _local.dis = dis
    return dis


def compute_flow(onset: np.ndarray, apex: np.ndarray) -> np.ndarray:
    """Return the dense optical flow from ``onset`` to ``apex``: float32 (K, K, 2), pixels.

    ``onset`` and ``apex`` are gray uint8 images of the same shape (stage 1's key frames).
    ``flow[y, x] = (dx, dy)``, x to the right and y downward: the content at onset pixel
    ``(x, y)`` moved to ``(x + dx, y + dy)`` in the apex frame. Computed with DIS
    (:data:`DIS_SETTINGS`); deterministic.
    """
    onset, apex = np.asarray(onset), np.asarray(apex)
    if onset.shape != apex.shape or onset.ndim != 2:
        raise ValueError(
            f"onset and apex must be 2-D images of one shape, got {onset.shape} and {apex.shape}"
        )
    if onset.dtype != np.uint8 or apex.dtype != np.uint8:
        raise ValueError(
            f"onset and apex must be uint8 gray images, got {onset.dtype} and {apex.dtype}"
        )
    flow = _dis().calc(np.ascontiguousarray(onset), np.ascontiguousarray(apex), None)
    return flow.astype(np.float32, copy=False)


def strain(flow: np.ndarray) -> np.ndarray:
    """Return the optical strain magnitude of a flow field: float32 (K, K).

    With ``u, v`` the flow's x and y components and central differences for the derivatives,
    the strain tensor is the symmetric part of the flow gradient, ``e_xx = du/dx``,
    ``e_yy = dv/dy``, ``e_xy = e_yx = (du/dy + dv/dx) / 2``, and its magnitude
    ``sqrt(e_xx^2 + e_yy^2 + e_xy^2 + e_yx^2)`` (as in Liong et al.'s optical-strain
    features and STSTNet). A pure translation has zero strain.
    """
    u, v = flow[..., 0], flow[..., 1]
    du_dy, du_dx = np.gradient(u)
    dv_dy, dv_dx = np.gradient(v)
    e_xy = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx**2 + dv_dy**2 + 2 * e_xy**2).astype(np.float32)


# ----------------------------------------------------------------------------- step 2: regions
Vertex = tuple[int, float, float]
"""A region vertex: (landmark index, shift along ``ex``, shift along ``ey``), shifts in iod."""

_RIGHT_REGIONS: dict[str, list[Vertex]] = {
    # a band around the right brow (17-21): 0.20 iod above it to 0.08 iod below
    "brow_right": [(i, 0.0, -0.20) for i in range(17, 22)]
    + [(i, 0.0, 0.08) for i in range(21, 16, -1)],
    # the nostril wing around landmarks 31-32
    "nose_wing_right": [(31, -0.15, -0.15), (32, 0.0, -0.15), (32, 0.0, 0.05), (31, -0.15, 0.05)],
    # below the eye, beside the nose, above the mouth corner, to the jaw line (1-4) moved in
    "cheek_right": [
        (36, -0.05, 0.12),
        (39, 0.0, 0.12),
        (31, -0.17, -0.15),
        (31, -0.17, 0.05),
        (48, 0.02, -0.22),
        (48, -0.30, -0.22),
        (4, 0.12, 0.0),
        (2, 0.12, 0.0),
        (1, 0.12, 0.0),
    ],
    # a box around the right mouth corner (48), mostly outside the (masked) lips
    "mouth_corner_right": [
        (48, -0.30, -0.22),
        (48, 0.02, -0.22),
        (48, 0.02, 0.22),
        (48, -0.30, 0.22),
    ],
}

MIRROR: dict[int, int] = {
    **{i: 16 - i for i in range(0, 17)},  # jaw
    **{i: 43 - i for i in range(17, 27)},  # brows
    **{i: i for i in range(27, 31)},  # nose bridge
    **{i: 66 - i for i in range(31, 36)},  # nose bottom
    36: 45,
    37: 44,
    38: 43,
    39: 42,
    40: 47,
    41: 46,  # eyes
    45: 36,
    44: 37,
    43: 38,
    42: 39,
    47: 40,
    46: 41,
    **{i: 102 - i for i in range(48, 55)},  # upper outer lip
    **{i: 114 - i for i in range(55, 60)},  # lower outer lip
    **{i: 124 - i for i in range(60, 65)},  # upper inner lip
    **{i: 132 - i for i in range(65, 68)},  # lower inner lip
}
"""The iBUG 68-point left/right correspondence (a landmark and its mirror image)."""


def _mirrored(vertices: Sequence[Vertex]) -> list[Vertex]:
    return [(MIRROR[i], -dx, dy) for i, dx, dy in vertices]


REGIONS: dict[str, list[Vertex]] = {
    # the forehead: 0.20 to 0.55 iod above the brows
    "forehead": [(i, 0.0, -0.55) for i in range(17, 27)]
    + [(i, 0.0, -0.20) for i in range(26, 16, -1)],
    "brow_right": _RIGHT_REGIONS["brow_right"],
    "brow_left": _mirrored(_RIGHT_REGIONS["brow_right"]),
    # between the inner brow ends (21, 22), down to the top of the nose (27)
    "glabella": [
        (21, 0.0, -0.20),
        (22, 0.0, -0.20),
        (22, 0.0, 0.08),
        (27, 0.0, 0.0),
        (21, 0.0, 0.08),
    ],
    # the nose bridge 27-30, 0.12 iod either side
    "nose_bridge": [(27, -0.12, 0.05), (27, 0.12, 0.05), (30, 0.12, -0.15), (30, -0.12, -0.15)],
    "nose_wing_right": _RIGHT_REGIONS["nose_wing_right"],
    "nose_wing_left": _mirrored(_RIGHT_REGIONS["nose_wing_right"]),
    "cheek_right": _RIGHT_REGIONS["cheek_right"],
    "cheek_left": _mirrored(_RIGHT_REGIONS["cheek_right"]),
    "mouth_corner_right": _RIGHT_REGIONS["mouth_corner_right"],
    "mouth_corner_left": _mirrored(_RIGHT_REGIONS["mouth_corner_right"]),
    # below the lower lip (56-58) down to the chin (6-10)
    "chin": [
        (58, 0.0, 0.10),
        (57, 0.0, 0.10),
        (56, 0.0, 0.10),
        (10, -0.08, -0.15),
        (8, 0.0, -0.15),
        (6, 0.08, -0.15),
    ],
}
"""Face regions: name -> polygon vertices (landmark index, shift along ex, shift along ey), in
inter-ocular distances; ``_left`` regions are mirror images of the ``_right`` ones."""

MASK_MARGIN = 2
"""Pixels black in both key frames (eye/mouth masks, padding) are dilated by this many pixels
and left out of every region."""

GLOBAL_MOTION = "median of region medians"
"""Head-motion compensation (:func:`compensate`): the median over the regions of each region's
median flow is subtracted from the flow before the features are taken (``"none"``: off)."""

N_BINS = 8
"""Direction bins of the magnitude-weighted histogram (centred on 0, 45, ... 315 degrees)."""

BIN_NAMES = ("right", "down_right", "down", "down_left", "left", "up_left", "up", "up_right")
"""Names of the direction bins (face axes, y downward: bin k is centred on k * 45 degrees)."""

PER_REGION = ("dx", "dy", "magnitude", *(f"hoof_{b}" for b in BIN_NAMES), "strain")
"""The features of one region, in order."""


def face_axes(landmarks: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Return ``(iod, ex, ey)``: the inter-ocular distance (between the eye centres, pixels)
    and the face's unit axes, ``ex`` from the subject's right eye (36-41) to its left eye
    (42-47) and ``ey`` perpendicular to it, pointing down (chin-wards)."""
    pts = np.asarray(landmarks, np.float64)
    right, left = pts[36:42].mean(0), pts[42:48].mean(0)
    iod = float(np.linalg.norm(left - right))
    if not iod > 0:
        raise ValueError("the eye centres coincide: landmarks are degenerate")
    ex = (left - right) / iod
    return iod, ex, np.array([-ex[1], ex[0]])


def region_polygons(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Return every region of :data:`REGIONS` as a float polygon (k, 2) of (x, y) pixels."""
    pts = np.asarray(landmarks, np.float64)
    iod, ex, ey = face_axes(pts)
    return {
        name: np.array([pts[i] + iod * (dx * ex + dy * ey) for i, dx, dy in vertices])
        for name, vertices in REGIONS.items()
    }


_SHIFT = 4  # sub-pixel bits of cv2.fillPoly


def region_masks(
    landmarks: np.ndarray, size: int, masked: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Return a bool mask (size, size) for every region of :data:`REGIONS`.

    ``landmarks`` are 68 (x, y) points in the image's pixels (key-frame coordinates);
    a pixel belongs to a region when its centre is inside the region's polygon (rasterised
    with ``cv2.fillPoly`` at 1/16 px precision) and, if ``masked`` (bool, same shape) is given,
    not masked. Pixels outside the image are dropped.
    """
    out = {}
    for name, poly in region_polygons(landmarks).items():
        canvas = np.zeros((size, size), np.uint8)
        cv2.fillPoly(
            canvas, [np.rint(poly * (1 << _SHIFT)).astype(np.int32)], 1, cv2.LINE_8, _SHIFT
        )
        mask = canvas.astype(bool)
        if masked is not None:
            mask &= ~np.asarray(masked, bool)
        out[name] = mask
    return out


def masked_pixels(onset: np.ndarray, apex: np.ndarray, margin: int = MASK_MARGIN) -> np.ndarray:
    """Return the pixels left out of the regions: black (0) in both key frames, dilated by
    ``margin`` pixels (bool, image shape)."""
    black = ((np.asarray(onset) == 0) & (np.asarray(apex) == 0)).astype(np.uint8)
    if margin > 0:
        black = cv2.dilate(black, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    return black.astype(bool)


def feature_names() -> list[str]:
    """Names of the feature vector of :func:`clip_features`: ``"<region>.<feature>"`` for every
    region of :data:`REGIONS` (in order) and every feature of :data:`PER_REGION`."""
    return [f"{region}.{feat}" for region in REGIONS for feat in PER_REGION]


FEATURE_NAMES: tuple[str, ...] = tuple(feature_names())
"""The feature vector's names (:func:`feature_names`), e.g. ``brow_right.dy``."""


def region_features(
    flow: np.ndarray,
    strain_map: np.ndarray,
    masks: Mapping[str, np.ndarray],
    ex: np.ndarray,
    ey: np.ndarray,
) -> np.ndarray:
    """Pool a (compensated) flow field over the regions: float32 (n_regions * len(PER_REGION),).

    The flow is projected on the face axes ``ex``, ``ey`` first; see the module docstring.
    """
    fx = flow[..., 0] * ex[0] + flow[..., 1] * ex[1]
    fy = flow[..., 0] * ey[0] + flow[..., 1] * ey[1]
    mag = np.hypot(fx, fy)
    bins = np.rint(np.arctan2(fy, fx) / (2 * math.pi / N_BINS)).astype(int) % N_BINS
    out = np.zeros((len(masks), len(PER_REGION)), np.float64)
    for r, mask in enumerate(masks.values()):
        n = int(mask.sum())
        if n == 0:
            continue
        m = mag[mask]
        out[r, 0], out[r, 1], out[r, 2] = fx[mask].mean(), fy[mask].mean(), m.mean()
        out[r, 3 : 3 + N_BINS] = np.bincount(bins[mask], weights=m, minlength=N_BINS) / n
        out[r, 3 + N_BINS] = strain_map[mask].mean()
    return out.ravel().astype(np.float32)


def clip_features(onset: np.ndarray, apex: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Return the feature vector (d,) float32 of one clip from its key frames and landmarks.

    Flow (:func:`compute_flow`) and strain (:func:`strain`) between the key frames; masked
    pixels (:func:`masked_pixels`) left out of the regions (:func:`region_masks`); the head's
    motion subtracted (:func:`compensate`); then per region the
    features of :data:`PER_REGION` (:func:`region_features`). Names: :func:`feature_names`.
    """
    flow = compute_flow(onset, apex)
    if onset.shape[0] != onset.shape[1]:
        raise ValueError(f"key frames must be square, got {onset.shape}")
    _, ex, ey = face_axes(landmarks)
    masks = region_masks(landmarks, onset.shape[0], masked_pixels(onset, apex))
    flow = compensate(flow, masks)
    return region_features(flow, strain(flow), masks, ex, ey)


def compensate(flow: np.ndarray, masks: Mapping[str, np.ndarray]) -> np.ndarray:
    """Return ``flow`` minus the head's own motion (:data:`GLOBAL_MOTION`).

    The head motion is estimated as the median, over the regions, of each region's median
    flow: every region votes once whatever its size, so an expression that moves fewer than
    half of the regions does not move the estimate (a pixel-wise median would be pulled by
    large moving regions such as the forehead). Regions without pixels do not vote; without
    any, or with compensation off, the flow is returned unchanged.
    """
    if GLOBAL_MOTION == "none":
        return flow
    votes = [np.median(flow[m], axis=0) for m in masks.values() if m.any()]
    if not votes:
        return flow
    return flow - np.median(np.stack(votes), axis=0).astype(np.float32)


def resized(clips, size: int):
    """``clips`` with its key frames shrunk to ``size`` x ``size`` (``cv2.INTER_AREA``) and its
    landmarks scaled with them: the flow baseline at another resolution (e.g. the 3D CNN's input
    size in the quick profile, so that the two methods can be compared at one resolution)."""
    from types import SimpleNamespace

    k = clips.keyframes.shape[-1]
    if size > k:
        raise ValueError(f"key frames are {k} px: cannot measure the flow at {size} px")
    frames = (
        np.stack(
            [
                np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in pair])
                for pair in clips.keyframes
            ]
        )
        if len(clips.keyframes)
        else np.zeros((0, 2, size, size), np.uint8)
    )
    scale = size / k
    points = ((np.asarray(clips.landmarks, np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    return SimpleNamespace(keyframes=frames, landmarks=points)


def features(clips, workers: int = 1) -> np.ndarray:
    """Return the feature matrix float32 (n, d) of a :class:`mer_utils.stage1.ClipSet`.

    Uses ``clips.keyframes`` (n, 2, K, K) and ``clips.landmarks`` (n, 68, 2); row i is
    :func:`clip_features` of clip i. ``workers > 1`` computes the clips in that many threads
    (OpenCV and most of NumPy release the GIL; threads rather than forked processes, because
    forking a process whose OpenCV or other libraries run threads can deadlock the children);
    the result is the same.
    """
    keyframes, landmarks = getattr(clips, "keyframes", None), getattr(clips, "landmarks", None)
    if keyframes is None or landmarks is None:
        raise ValueError(
            "the ClipSet has no key frames / landmarks (stage 1 older than "
            "faces.ALGORITHM_VERSION 2?)"
        )
    n = len(keyframes)
    if len(landmarks) != n:
        raise ValueError(f"{n} key-frame pairs but {len(landmarks)} landmark sets")
    if n == 0:
        return np.zeros((0, len(FEATURE_NAMES)), np.float32)

    def one(i: int) -> np.ndarray:
        return clip_features(keyframes[i, 0], keyframes[i, 1], landmarks[i])

    if workers <= 1 or n < 2:
        return np.stack([one(i) for i in range(n)])
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(int(workers)) as pool:
        return np.stack(list(pool.map(one, range(n))))


# ----------------------------------------------------------------------------- step 3: classifier
CLASSIFIER = "LogisticRegression"
"""The classifier after the scaler: multinomial, L2-penalised logistic regression (lbfgs)."""

C = 0.1
"""Inverse L2 regularisation strength of the logistic regression (fixed, never tuned on test
clips)."""

MAX_ITER = 5000
"""lbfgs iterations (enough to converge on standardised features)."""


def make_classifier(class_weight: bool, seed: int):
    """Return an unfitted ``Pipeline``: ``StandardScaler`` then ``LogisticRegression``.

    ``class_weight=True`` sets ``class_weight="balanced"`` (``N / (n_classes * n_k)``, computed
    from the training labels when fitted: proportional to the paper's Eq. (1) ``N / n_k``).
    ``seed`` is the estimator's ``random_state`` (the lbfgs solver is deterministic anyway).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("scaler", StandardScaler()),
            (
                "classifier",
                LogisticRegression(
                    C=C,
                    max_iter=MAX_ITER,
                    solver="lbfgs",
                    class_weight="balanced" if class_weight else None,
                    random_state=int(seed),
                ),
            ),
        ]
    )


def classify(
    F_train: np.ndarray, y_train: np.ndarray, F_test: np.ndarray, class_weight: bool, seed: int
) -> np.ndarray:
    """Fit the scaler and the classifier on the training rows only and return the predicted
    classes (0 negative, 1 positive, 2 surprise: :data:`mer_utils.config.CLASSES`) of the test
    rows; the test rows are only transformed and predicted, so changing them cannot change the
    model. A training part with a single class predicts that class. What
    :class:`mer_utils.methods.flow.Flow` does on every fold."""
    y_train = np.asarray(y_train, int)
    if len(np.unique(y_train)) == 1:
        return np.full(len(F_test), int(y_train[0]), int)
    model = make_classifier(class_weight, seed).fit(np.asarray(F_train, np.float64), y_train)
    return model.predict(np.asarray(F_test, np.float64)).astype(int)


PARAMETERS: dict = {
    "flow": {"algorithm": FLOW_METHOD, "opencv": cv2.__version__, **DIS_SETTINGS},
    "global_motion": GLOBAL_MOTION,
    "mask_margin_px": MASK_MARGIN,
    "regions": {name: [list(v) for v in vertices] for name, vertices in REGIONS.items()},
    "features_per_region": list(PER_REGION),
    "n_features": len(FEATURE_NAMES),
    "direction_bins": N_BINS,
    "classifier": CLASSIFIER,
    "C": C,
    "penalty": "l2",
    "solver": "lbfgs",
    "max_iter": MAX_ITER,
}
"""Every setting of the baseline (JSON-serialisable), for the result records: values only (the
book describes what they mean; a description here would be part of every fold key)."""
