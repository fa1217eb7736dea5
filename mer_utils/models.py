"""Stage 3: the spatio-temporal 3D CNN classifier, its training and prediction.

The paper (Irawan et al. 2024, "Stage 3") states only: a convolutional layer of 64 filters with a
3x3 kernel, ReLU, pooling layers of size 2x2, dropout, Adam with learning rate 0.001, categorical
cross-entropy, batch 16/24/32, 50 epochs (5 or 10 while tuning). Its Figure 4, which shows the
model, is not in the text we have. Every other choice is ours and is stated on the page *The 3D
CNN* (``notebooks/classifier.md``).
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import platform
from collections.abc import Mapping

import numpy as np

from .config import CLASSES

logger = logging.getLogger(__name__)

HEAD_GRID: tuple[int, int, int] = (4, 6, 6)
"""Upper bound on the (time, height, width) cells the head's average pooling leaves."""


def set_seeds(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend, and switch on TensorFlow's op determinism.

    ``tf.config.experimental.enable_op_determinism()`` is process-wide; it is idempotent and,
    for the CPU ops this model uses, it works (a repeated run gives identical weights).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


INPUTS = ("frames", "onset_difference")
"""What the network reads: ``frames``, the stage-1 frames as the paper describes (its four
variants), or ``onset_difference``, every frame minus the clip's first (onset) frame, a choice
beyond the paper (the ``DIFF-3DCNN`` method of variants.yaml)."""

ONSET_DIFFERENCE_SCALE = 3.0 / 127.5
"""Scale of onset differences: a change of 42.5 grey levels maps to 1 (differences are small)."""


@functools.cache
def _onset_difference_class():
    import keras

    class OnsetDifference(keras.layers.Layer):
        """``(x - x[:, :1]) * ONSET_DIFFERENCE_SCALE``: every frame minus the clip's first."""

        def call(self, x):
            return (x - x[:, :1]) * ONSET_DIFFERENCE_SCALE

    return OnsetDifference


def build_model(
    input_shape: tuple[int, int, int, int],
    n_classes: int = len(CLASSES),
    *,
    filters: int = 64,
    conv_blocks: int = 1,
    dropout: float = 0.25,
    dense_units: int = 64,
    dense_dropout: float = 0.5,
    learning_rate: float = 0.001,
    inputs_as: str = "frames",
    seed: int = 0,
):
    """Build and compile the 3D CNN for clips of ``input_shape`` = (T, H, W, 1).

    The classifier page states every choice; ``inputs_as`` is one of :data:`INPUTS`.
    ``seed`` fixes the initial weights and dropout seed states: the same seed builds the same
    model in any process and thread, whatever else was drawn before.
    Returns a compiled ``keras.Model`` whose output is a softmax over ``n_classes`` classes
    (CLASSES order).
    """
    import keras
    from keras import layers

    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (T, H, W, C), got {input_shape}")
    if inputs_as not in INPUTS:
        raise ValueError(f"inputs_as must be one of {INPUTS}, got {inputs_as!r}")
    seeds = itertools.count(1)  # layer 1, 2, ... in build order

    def init():  # the Keras default initialiser, with its own seed
        return keras.initializers.GlorotUniform(seed=layer_seed(seed, next(seeds)))

    def drop(rate, name):
        return layers.Dropout(rate, seed=layer_seed(seed, next(seeds)), name=name)

    inputs = keras.Input(shape=tuple(input_shape), name="clip")
    if inputs_as == "onset_difference":
        x = _onset_difference_class()(name="onset_difference")(inputs)
    else:
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inputs)
    for b in range(1, conv_blocks + 1):
        x = layers.Conv3D(
            filters,
            (3, 3, 3),
            padding="same",
            activation="relu",
            kernel_initializer=init(),
            name=f"conv{b}",
        )(x)
        x = layers.MaxPooling3D((2, 2, 2), padding="same", name=f"pool{b}")(x)
        x = drop(dropout, f"dropout{b}")(x)
    grid_pool = tuple(max(1, math.ceil(int(d) / g)) for d, g in zip(x.shape[1:4], HEAD_GRID))
    x = layers.AveragePooling3D(grid_pool, padding="same", name="grid")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", kernel_initializer=init(), name="dense")(x)
    x = drop(dense_dropout, "dropout_dense")(x)
    # float32 output: a softmax in float16 (mixed precision) loses the small probabilities
    outputs = layers.Dense(
        n_classes, activation="softmax", dtype="float32", kernel_initializer=init(), name="softmax"
    )(x)
    model = keras.Model(inputs, outputs, name="mer_3dcnn")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    return model


def layer_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th random initialiser or dropout layer of a model built with
    ``seed``: independent streams for every layer, in Keras' seed range."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] % (10**9))


def precision_policy(profile: Mapping) -> str:
    """The Keras dtype policy training uses: ``mixed_float16`` when the profile asks for mixed
    precision and TensorFlow sees a GPU, else ``float32`` (a CPU gains nothing from float16)."""
    import tensorflow as tf

    wanted = bool(profile.get("mixed_precision", False))
    return "mixed_float16" if wanted and tf.config.list_physical_devices("GPU") else "float32"


def model_for_profile(
    input_shape: tuple[int, int, int, int],
    profile: Mapping,
    n_classes: int = len(CLASSES),
    inputs_as: str = "frames",
    seed: int = 0,
):
    """Build the model with the profile's learning rate (and any ``model`` overrides in it);
    ``inputs_as`` comes from the method's entry in variants.yaml (default ``frames``); ``seed``
    fixes the initial state (:func:`build_model`)."""
    import keras

    keras.mixed_precision.set_global_policy(precision_policy(profile))
    kwargs = dict(profile.get("model", {}) or {})
    return build_model(
        input_shape,
        n_classes,
        learning_rate=float(profile["learning_rate"]),
        inputs_as=inputs_as,
        seed=seed,
        **kwargs,
    )


def fresh_model(build, seed: int):
    """A model built by ``build()`` in a fresh Keras session with the run ``seed``, and its fresh
    state (:func:`snapshot`), which :func:`restore` brings back before every fold."""
    import keras

    keras.backend.clear_session()
    set_seeds(seed)
    model = build()
    return model, snapshot(model)


def snapshot(model) -> list[np.ndarray]:
    """Copy the complete fresh state of a compiled model: weights, dropout seed states and the
    optimizer's variables (built here if needed). :func:`restore` puts it back.

    The experiment builds one model per run and restores this state before every fold: training
    a restored model is exactly training a newly built one with the same seed, without paying
    TensorFlow's graph tracing (about 1-2 s) again for every fold.
    """
    model.optimizer.build(model.trainable_variables)
    return [np.array(v.numpy(), copy=True) for v in _state_variables(model)]


def restore(model, state: list[np.ndarray]) -> None:
    """Put back a state taken by :func:`snapshot` from the same model."""
    variables = _state_variables(model)
    if len(variables) != len(state):
        raise ValueError(f"state has {len(state)} arrays, the model {len(variables)} variables")
    for var, value in zip(variables, state):
        var.assign(value)


def train(
    model,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    profile: Mapping,
    class_weight: dict[int, float] | None = None,
    seed: int = 0,
    callbacks: list | None = None,
) -> dict:
    """Train ``model`` on the training part; select the epoch on the validation part only.

    Uses the profile's ``epochs`` (maximum), ``batch_size`` and ``patience`` (early stopping on
    validation loss, best weights restored). ``class_weight`` (e.g. from
    :func:`mer_utils.balance.class_weights`) weighs the training loss. Returns ``epochs`` (epochs
    run), ``best_epoch`` (1-based, the restored one) and the Keras ``history`` dict. Further
    Keras ``callbacks`` only watch (e.g. the test predictions of every epoch,
    :mod:`mer_utils.flownets`).
    """
    import keras

    if len(X_val) == 0:
        raise ValueError("the validation part is empty: model selection needs validation clips")
    n_classes = model.output_shape[-1]
    set_seeds(seed)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=int(profile["patience"]), restore_best_weights=True
    )
    hist = model.fit(
        training_data(X_train, y_train, n_classes, int(profile["batch_size"]), seed, class_weight),
        validation_data=validation_data(X_val, y_val, n_classes),
        epochs=int(profile["epochs"]),
        shuffle=False,  # the pipeline reshuffles with the fold's seed
        callbacks=[stop, *(callbacks or [])],
        verbose=0,
    )
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    best = int(np.argmin(history["val_loss"])) + 1
    logger.debug("trained %d epochs, best %d", len(history["loss"]), best)
    return {"epochs": len(history["loss"]), "best_epoch": best, "history": history}


def training_data(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    batch_size: int,
    seed: int,
    class_weight: dict[int, float] | None = None,
):
    """The training part as a ``tf.data`` pipeline: (clip, one-hot label, weight) batches,
    reshuffled every epoch with the fold's own seed.

    Keras' built-in shuffle draws from TensorFlow's global seed counter, which depends on what
    the process did before (which functions it traced): the same fold could then train
    differently in a page's kernel and on a cluster worker. Here the shuffle order depends on
    ``seed`` only. The class weights become per-clip weights (the same loss as ``class_weight``).
    The clips stay uint8 until a batch is taken (the model rescales them itself).
    """
    import tensorflow as tf

    y = np.asarray(y, dtype=int)
    weights = (
        np.ones(len(y), np.float32)
        if class_weight is None
        else np.array([class_weight[int(k)] for k in y], np.float32)
    )
    data = tf.data.Dataset.from_tensor_slices((np.asarray(X), _one_hot(y, n_classes), weights))
    data = data.shuffle(len(y), seed=int(seed), reshuffle_each_iteration=True)
    return data.batch(batch_size).map(lambda x, t, w: (tf.cast(x, tf.float32), t, w)).prefetch(1)


VALIDATION_BATCH = 32
"""Validation clips per batch: Keras' default for arrays. The validation loss is a mean over
clips, so the batch size only sets the order of the float sums; keeping Keras' default keeps
the loss, and the epoch early stopping selects, exactly as with the arrays passed directly."""


def validation_data(X: np.ndarray, y: np.ndarray, n_classes: int):
    """The validation part as a ``tf.data`` pipeline built once per training: (clip, one-hot)
    batches of :data:`VALIDATION_BATCH`, in order.

    The same batches Keras makes from arrays, without its array pipeline's start-up cost at every
    epoch's validation (about 50 ms, more than the forward pass of a small validation part:
    measured, 8 validations of 4 clips took 0.43 s from arrays and 0.05 s from this pipeline).
    """
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((np.asarray(X), _one_hot(y, n_classes)))
    return data.batch(VALIDATION_BATCH).map(lambda x, t: (tf.cast(x, tf.float32), t)).cache()


def predict(model, X: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Predicted class indices (CLASSES order) for clips ``X``."""
    if len(X) == 0:
        return np.zeros(0, dtype=int)
    proba = model.predict(np.asarray(X, dtype=np.float32), batch_size=batch_size, verbose=0)
    return np.argmax(proba, axis=1).astype(int)


def _state_variables(model) -> list:
    return list(model.variables) + list(model.optimizer.variables)


def _one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.float32)[np.asarray(y, dtype=int)]


def device_info() -> dict:
    """Which device trains: ``{"kind": "gpu", "name": ..., "count": n}`` when TensorFlow sees
    GPUs, else ``{"kind": "cpu", "name": <CPU model>, "count": <cores>}`` (stored per record)."""
    import os

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return {"kind": "gpu", "name": details.get("device_name", gpus[0].name), "count": len(gpus)}
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            name = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), name
            )
    except OSError:
        pass
    return {"kind": "cpu", "name": name, "count": os.cpu_count() or 1}
