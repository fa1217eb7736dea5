"""Two networks of the field on the onset-apex optical flow: STSTNet and OFF-ApexNet.

Both read the optical flow between a clip's onset and apex frames, shrunk to 28 x 28, and were
among the MEGC 2019 entries. They are implemented here in Keras from their papers; where a paper
states no value the choice is this study's and is listed on the method pages
(``notebooks/method.md``, section *The network*).

Input (:func:`flow_images`)
    The flow stage of the optical-flow baseline (:mod:`mer_utils.flow`) on stage 1's key frames:
    DIS flow from onset to apex, the head's own motion removed with the face regions
    (:func:`mer_utils.flow.compensate`), flow set to zero at masked pixels (eye and mouth masks,
    padding: they hold no texture), the optical strain computed from the flow's gradients
    (:func:`mer_utils.flow.strain`), then every map shrunk to :data:`SIZE` x :data:`SIZE`
    (``cv2.INTER_AREA``). Channels: ``u`` (horizontal flow), ``v`` (vertical flow), ``strain``.

STSTNet (Liong, Gan, See, Khor, Huang, FG 2019)
    Three shallow streams on the (u, v, strain) image, each one 3 x 3 convolution (3, 5 and 8
    filters, ReLU, same padding) and a 3 x 3 max pooling of stride 3 (same padding); the
    streams are concatenated, average-pooled 2 x 2, flattened and classified by one dense
    softmax layer: 1,651 weights.

OFF-ApexNet (Gan, Liong, Yau, Huang, Tan, Signal Processing: Image Communication 2019)
    Two streams, one on ``u`` and one on ``v``: a 5 x 5 convolution of 6 filters and a 2 x 2 max
    pooling, a 5 x 5 convolution of 16 filters and a 2 x 2 max pooling; the two are flattened and
    concatenated, then a dense layer of 1,024 units and a dense softmax layer: 1,614,875
    weights.

Training (:func:`train_by_epoch`)
    Every epoch runs (no early stopping) and after each one the network predicts the test part
    and is scored on the validation part. Two selections are then made from the same training
    (:func:`select`): ``honest``, the epoch with the lowest validation loss (the validation part
    holds training subjects only, as for the study's 3D CNN), and ``best-test-epoch``, per fold
    the epoch whose test predictions are most often right: what the released code of some
    published methods does when it keeps, for every test subject, the epoch that scored best on
    that subject.
"""

from __future__ import annotations

import functools
import itertools

import cv2
import numpy as np

from . import flow
from .config import CLASSES

SIZE = 28
"""The networks' input size (both papers: 28 x 28)."""

CHANNELS = ("u", "v", "strain")
"""The channels of :func:`flow_images`, in order."""

SELECTIONS = ("honest", "best-test-epoch")
"""How an epoch is chosen: on the validation part (``honest``), or per fold on the test part."""


# ----------------------------------------------------------------------------- input
def flow_image(onset: np.ndarray, apex: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(u, v, strain) of one clip at :data:`SIZE` x :data:`SIZE`: float32 (SIZE, SIZE, 3)."""
    field = flow.compute_flow(onset, apex)
    masked = flow.masked_pixels(onset, apex)
    masks = flow.region_masks(landmarks, onset.shape[0], masked)
    field = flow.compensate(field, masks)
    field[masked] = 0.0
    maps = np.dstack([field, flow.strain(field)])
    return cv2.resize(maps, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)


def flow_images(clips) -> np.ndarray:
    """:func:`flow_image` of every clip of a :class:`mer_utils.stage1.ClipSet` (its key frames
    and landmarks): float32 (n, SIZE, SIZE, 3)."""
    keyframes, landmarks = clips.keyframes, clips.landmarks
    if len(keyframes) == 0:
        return np.zeros((0, SIZE, SIZE, len(CHANNELS)), np.float32)
    return np.stack(
        [flow_image(pair[0], pair[1], points) for pair, points in zip(keyframes, landmarks)]
    )


def standardise(X_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Every array scaled per channel with the training part's mean and standard deviation."""
    mean = X_train.mean(axis=(0, 1, 2), keepdims=True)
    std = X_train.std(axis=(0, 1, 2), keepdims=True) + 1e-6
    return [((x - mean) / std).astype(np.float32) for x in (X_train, *others)]


# ----------------------------------------------------------------------------- networks
def _seeded(seed: int):
    import keras

    from .models import layer_seed

    counter = itertools.count(1)
    return lambda: keras.initializers.GlorotUniform(seed=layer_seed(seed, next(counter)))


def build_ststnet(n_classes: int = len(CLASSES), seed: int = 0):
    """STSTNet: three shallow streams on the (u, v, strain) image (see the module docstring)."""
    import keras
    from keras import layers

    init = _seeded(seed)
    inputs = keras.Input((SIZE, SIZE, 3), name="flow")
    streams = []
    for filters in (3, 5, 8):
        x = layers.Conv2D(
            filters,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=init(),
            name=f"conv{filters}",
        )(inputs)
        streams.append(layers.MaxPooling2D(3, strides=3, padding="same", name=f"pool{filters}")(x))
    x = layers.Concatenate(name="streams")(streams)
    x = layers.AveragePooling2D(2, name="average")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(
        n_classes, activation="softmax", kernel_initializer=init(), name="softmax"
    )(x)
    return keras.Model(inputs, outputs, name="ststnet")


def build_offapexnet(n_classes: int = len(CLASSES), seed: int = 0):
    """OFF-ApexNet: a u stream and a v stream, merged, dense layers (module docstring)."""
    import keras
    from keras import layers

    from .models import layer_seed

    init = _seeded(seed)
    inputs = keras.Input((SIZE, SIZE, 3), name="flow")
    streams = []
    for c, name in enumerate(("u", "v")):
        x = layers.Lambda(lambda t, c=c: t[..., c : c + 1], name=f"{name}_channel")(inputs)
        for filters in (6, 16):
            x = layers.Conv2D(
                filters,
                5,
                padding="same",
                activation="relu",
                kernel_initializer=init(),
                name=f"{name}_conv{filters}",
            )(x)
            x = layers.MaxPooling2D(2, name=f"{name}_pool{filters}")(x)
        streams.append(layers.Flatten(name=f"{name}_flatten")(x))
    x = layers.Concatenate(name="merged")(streams)
    x = layers.Dense(1024, activation="relu", kernel_initializer=init(), name="fc1024")(x)
    x = layers.Dropout(0.5, seed=layer_seed(seed, 99), name="dropout")(x)
    outputs = layers.Dense(
        n_classes, activation="softmax", kernel_initializer=init(), name="softmax"
    )(x)
    return keras.Model(inputs, outputs, name="offapexnet")


NETWORKS = {"ststnet": build_ststnet, "offapexnet": build_offapexnet}
"""The networks a ``flownet`` entry of ``methods.yaml`` can name (``network``)."""

TRAINING = {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 32}
"""Training settings shared by the networks (this study's choices, listed on the method pages)."""


def build(network: str, seed: int = 0):
    """The compiled network ``network`` of :data:`NETWORKS`."""
    import keras

    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; known: {sorted(NETWORKS)}")
    model = NETWORKS[network](len(CLASSES), seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=TRAINING["learning_rate"]),
        loss="categorical_crossentropy",
        jit_compile=False,
    )
    return model


# ----------------------------------------------------------------------------- training
TEST_BATCH = 32
"""Test samples per prediction call of :func:`epoch_callback`."""


@functools.cache
def _epoch_callback():
    import keras

    class TestEachEpoch(keras.callbacks.Callback):
        """Predict the test part after every epoch (argmax classes kept per epoch)."""

        def __init__(self, X_test):
            super().__init__()
            self.X_test = X_test
            self.predictions: list[list[int]] = []

        def on_epoch_end(self, epoch, logs=None):
            if len(self.X_test) == 0:
                self.predictions.append([])
                return
            proba = np.concatenate(  # compiled calls, in batches that fit any memory
                [
                    np.asarray(self.model.predict_on_batch(self.X_test[i : i + TEST_BATCH]))
                    for i in range(0, len(self.X_test), TEST_BATCH)
                ]
            )
            self.predictions.append(np.argmax(proba, axis=1).astype(int).tolist())

    return TestEachEpoch


def epoch_callback(X_test):
    """A Keras callback that keeps, after every epoch, the predicted class of every test sample
    (``.predictions``: one list per epoch). It only watches: training is unchanged."""
    return _epoch_callback()(np.asarray(X_test, np.float32))


def train_by_epoch(model, X_train, y_train, X_val, y_val, X_test, epochs: int, seed: int) -> dict:
    """Train ``model`` for ``epochs`` epochs; after each, its validation loss and its test
    predictions. Returns ``val_loss`` (per epoch), ``test_by_epoch`` (per epoch, the
    predicted class of every test sample) and ``train_by_epoch`` (the same for the training
    samples: the fit on the training part at whichever epoch is kept)."""
    from . import models

    if len(X_val) == 0:
        raise ValueError("the validation part is empty: the honest epoch needs validation clips")
    models.set_seeds(seed)
    callback, on_train = epoch_callback(X_test), epoch_callback(X_train)
    hist = model.fit(
        models.training_data(X_train, y_train, len(CLASSES), TRAINING["batch_size"], seed),
        validation_data=models.validation_data(X_val, y_val, len(CLASSES)),
        epochs=int(epochs),
        shuffle=False,
        callbacks=[callback, on_train],
        verbose=0,
    )
    return {
        "val_loss": [float(v) for v in hist.history["val_loss"]],
        "test_by_epoch": callback.predictions,
        "train_by_epoch": on_train.predictions,
    }


def honest_epoch(val_loss) -> int:
    """The epoch (1-based) with the lowest validation loss (the earliest of ties)."""
    return int(np.argmin(np.asarray(val_loss, float))) + 1


def best_test_epoch(test_by_epoch, y_test) -> int:
    """The epoch (1-based) whose test predictions are most often right (the earliest of ties):
    what a code that keeps the epoch scoring best on the test subject reports."""
    y = np.asarray(y_test, int)
    correct = [int(np.sum(np.asarray(p, int) == y)) for p in test_by_epoch]
    return int(np.argmax(correct)) + 1


def select(fold, selection: str):
    """A fold result (:class:`mer_utils.schema.FoldResult`) whose test predictions and best
    epoch are those of ``selection`` (:data:`SELECTIONS`); a fold without per-epoch predictions
    is returned as it is."""
    import dataclasses

    by_epoch = fold.test_by_epoch
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; known: {SELECTIONS}")
    if not by_epoch or selection == "honest":
        return fold
    epoch = best_test_epoch(by_epoch, fold.test["true"])
    test = {**fold.test, "pred": list(by_epoch[epoch - 1])}
    return dataclasses.replace(fold, test=test, best_epoch=epoch)
