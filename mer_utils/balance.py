"""Stage 2b: class balancing, by class weights (paper Eq. 1) or by SMOTE.

Both are fitted on the training part of a split only: the weights from the training labels, the
synthetic clips from training clips (neighbours are searched among training clips of the same
class). Validation and test clips are never resampled.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


def class_counts(y: np.ndarray, n_classes: int = 3) -> list[int]:
    """Number of samples of each class 0..n_classes-1 in ``y``."""
    y = np.asarray(y, dtype=int)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must be in 0..{n_classes - 1}, got {sorted(set(y.tolist()))}")
    return np.bincount(y, minlength=n_classes).astype(int).tolist()


def class_weights(y: np.ndarray, n_classes: int = 3) -> dict[int, float]:
    """Class weights of the paper's Eq. (1): ``W_k = N / n_k``.

    ``N`` is the number of training samples and ``n_k`` the number of training samples of class
    ``k``. Note: Keras' and scikit-learn's ``'balanced'`` weights are ``N / (n_classes * n_k)``,
    i.e. Eq. (1) divided by ``n_classes``. The ratios between classes are the same; Eq. (1)
    only scales the weighted loss by ``n_classes``, to which Adam is nearly invariant. A class absent from ``y`` gets weight 0.0 (it has no samples to weigh).
    """
    counts = class_counts(y, n_classes)
    total = sum(counts)
    return {k: (float(total) / n if n else 0.0) for k, n in enumerate(counts)}


def smote(
    X: np.ndarray, y: np.ndarray, seed: int, k_neighbors: int = 5
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Oversample every minority class up to the majority count with SMOTE (imbalanced-learn).

    Clips (n, T, H, W, 1) are flattened to vectors, resampled, and reshaped back (synthetic clips
    are interpolations between a clip and one of its ``k`` nearest same-class neighbours; for
    integer input they are rounded back to X's dtype). The originals come first in the output,
    unchanged, followed by the synthetic clips.

    SMOTE needs more than ``k`` samples in each class it oversamples, so ``k`` is reduced to
    (smallest such class count - 1) when needed. A class with a single sample has no neighbour:
    it is balanced by duplicating that sample (random oversampling) instead. Both facts are
    recorded in ``info``: ``k_requested``, ``k_used`` (None if SMOTE did not run),
    ``smote_classes``, ``duplicated_classes``, ``counts_before``, ``counts_after``, and
    ``sources``: for every added sample, the two input samples it was made from (a duplicate:
    the same one twice), so that a leak can be traced to the clips behind a synthetic sample.
    """
    from imblearn.over_sampling import SMOTE

    y = np.asarray(y, dtype=int)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} clips but y has {len(y)} labels")
    n_classes = max(3, int(y.max()) + 1 if y.size else 3)
    counts = class_counts(y, n_classes)
    target = max(counts) if counts else 0
    minority = [k for k, n in enumerate(counts) if 0 < n < target]
    smote_classes = [k for k in minority if counts[k] >= 2]
    duplicated = [k for k in minority if counts[k] == 1]
    info = {
        "k_requested": int(k_neighbors),
        "k_used": None,
        "smote_classes": smote_classes,
        "duplicated_classes": duplicated,
        "counts_before": counts,
    }

    X_parts, y_parts = [X], [y]
    sources: list[tuple[int, int]] = []
    if smote_classes:
        k = min(int(k_neighbors), min(counts[c] for c in smote_classes) - 1)
        if k < k_neighbors:
            logger.info(
                "SMOTE: k_neighbors reduced from %d to %d (smallest class has %d training samples)",
                k_neighbors,
                k,
                k + 1,
            )
        sampler = _tracking_smote(SMOTE)(
            sampling_strategy={c: target for c in smote_classes}, k_neighbors=k, random_state=seed
        )
        sampler.labels = y
        flat = X.reshape(len(X), -1).astype(np.float32)
        X_res, y_res = sampler.fit_resample(flat, y)
        sources += sampler.sources
        synth = X_res[len(X) :]
        if np.issubdtype(X.dtype, np.integer):
            lim = np.iinfo(X.dtype)
            synth = np.clip(np.rint(synth), lim.min, lim.max)
        X_parts.append(synth.astype(X.dtype).reshape((-1,) + X.shape[1:]))
        y_parts.append(y_res[len(X) :])
        info["k_used"] = int(k)
    if duplicated:
        logger.info(
            "SMOTE: classes %s have a single training sample: duplicated instead", duplicated
        )
        rng = np.random.default_rng(seed)
        for c in duplicated:
            idx = np.flatnonzero(y == c)
            pick = rng.choice(idx, size=target - counts[c], replace=True)
            X_parts.append(X[pick])
            y_parts.append(y[pick])
            sources += [(int(i), int(i)) for i in pick]
    X_out, y_out = np.concatenate(X_parts), np.concatenate(y_parts)
    info["counts_after"] = class_counts(y_out, n_classes)
    info["sources"] = sources
    return X_out, y_out, info


def _tracking_smote(base):
    """``imblearn``'s SMOTE that also records, for every synthetic sample, the two samples it
    interpolates (``sources``: positions in the input). It draws exactly what SMOTE draws, so
    its output is SMOTE's."""

    class TrackingSMOTE(base):
        labels: np.ndarray
        sources: list

        def _fit_resample(self, X, y):
            self.sources = []
            return super()._fit_resample(X, y)

        def _generate_samples(self, X, nn_data, nn_num, rows, cols, steps, y_type=None, y=None):
            members = np.flatnonzero(self.labels == y_type)  # X = nn_data = this class's samples
            self.sources += [
                (int(members[r]), int(members[nn_num[r, c]])) for r, c in zip(rows, cols)
            ]
            return super()._generate_samples(X, nn_data, nn_num, rows, cols, steps, y_type, y)

    return TrackingSMOTE


def balancing_counts(
    y: np.ndarray, factor: int, seed: int, n_classes: int = 3, X: np.ndarray | None = None
) -> dict:
    """Training clips per class as each balancing step leaves one training part ``y``.

    ``factor`` is the augmentation factor (every class grows alike, so the counts follow without
    augmenting); SMOTE is run on ``X`` when given (its counts and the k it could use), else its
    counts are those of :func:`smote`'s target (every class up to the majority). Returns
    ``{"training part", "after augmentation", "after SMOTE", "smote_k", "class weights"}``.
    """
    y = np.asarray(y, dtype=int)
    before = class_counts(y, n_classes)
    if X is not None:
        _, y_smote, info = smote(X, y, seed)
        after_smote, k = class_counts(y_smote, n_classes), info["k_used"]
    else:
        after_smote, k = [max(before) if n else 0 for n in before], None
    return {
        "training part": before,
        "after augmentation": [n * int(factor) for n in before],
        "after SMOTE": after_smote,
        "smote_k": k,
        "class weights": [round(w, 3) for w in class_weights(y, n_classes).values()],
    }
