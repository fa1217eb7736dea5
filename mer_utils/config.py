"""The study's tables, kept as YAML data in ``mer_utils/data/``.

=====================  =====================================================================
file                   what it holds
=====================  =====================================================================
``labels.yaml``        per dataset: original emotion label -> negative / positive / surprise
``datasets.yaml``      per dataset: display name, default folder name, on-disk layout facts
``profiles.yaml``      run profiles (``smoke``, ``quick``, ``paper``): sizes, epochs, ...
``methods.yaml``       the methods: the paper's variants as switches (augment, SMOTE, class
                       weights) and this study's additions, with their pages' text
``protocols.yaml``     the evaluation protocols (split kind, repeated or not)
``grid.yaml``          which notebooks run for which datasets / variants / protocols
``reference.yaml``     the paper's reported numbers (Tables 1-4), labelled as reported
``sentences.yaml``     the book's computed sentences, legends and captions, as templates
                       (:mod:`mer_utils.report.text`)
=====================  =====================================================================
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
"""The three classes of the paper, in the fixed order used for one-hot labels and tables."""


def class_codes(labels):
    """Class names (``negative``...) -> integer codes 0, 1, 2 in :data:`CLASSES` order."""
    import numpy as np

    index = {c: i for i, c in enumerate(CLASSES)}
    try:
        return np.array([index[label] for label in labels], dtype=int)
    except KeyError as err:
        raise ValueError(f"unknown class {err.args[0]!r}; classes are {CLASSES}") from None


@functools.cache
def load(name: str) -> Any:
    """Return the parsed YAML table ``mer_utils/data/<name>.yaml`` (cached, treat as read-only)."""
    text = resources.files("mer_utils").joinpath("data", f"{name}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@functools.cache
def subjects():
    """``subjects.csv``: the REAL datasets' structure, one row per subject with three-class clips
    (``dataset, subject, negative, positive, surprise, clip_frames_onset_to_offset``; the lengths
    are space-separated, empty where unknown). Treat as read-only."""
    import io

    import pandas as pd

    text = resources.files("mer_utils").joinpath("data", "subjects.csv").read_text("utf-8")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


REFIT_ENV = "MER_REFIT_BEFORE"
"""Set by the runner under ``--force`` (a Unix time): the fold store refits every fold written
before it (:class:`mer_utils.folds.FoldStore`); the pages' kernels inherit it."""

RUNNER_KEYS = ("cell_timeout_s",)
"""Profile values only the runner reads: no result depends on them, so :func:`profile` (what
records and fold keys hash) leaves them out."""


def cell_timeout(name: str | None) -> int | None:
    """``cell_timeout_s`` of profile ``name`` (None: no profile of that name, or no limit)."""
    entry = load("profiles").get(name) if isinstance(name, str) else None
    value = (entry or {}).get("cell_timeout_s")
    return None if value is None else int(value)


def profile(name: str, dataset: str | None = None):
    """The run profile ``name`` of ``profiles.yaml``, resolved into a typed, frozen
    :class:`mer_utils.profile.Profile` (with ``dataset``: the values that dataset runs under,
    :func:`profile_values`)."""
    from .profile import resolve

    return resolve(name, dataset)


def profile_values(name: str, dataset: str | None = None) -> dict:
    """The table values of run profile ``name`` of ``profiles.yaml`` as a new dict; with ``dataset``,
    the values that dataset runs under: a dataset's ``repeats`` for this profile
    (``datasets.yaml``, e.g. the MEGC 2019 composite's fewer, larger trainings) replace the
    profile's for the protocols they name. Records key on these values (``profile_id``).

    Raises ``KeyError`` naming the known profiles when ``name`` is not one of them.
    """
    profiles = load("profiles")
    if name not in profiles:
        raise KeyError(f"unknown profile {name!r}; profiles.yaml defines {sorted(profiles)}")
    check_profiles()
    out = {k: v for k, v in profiles[name].items() if k not in RUNNER_KEYS}
    own = (load("datasets").get(dataset) or {}).get("repeats", {}).get(name) if dataset else None
    if own:
        out["repeats"] = {**out["repeats"], **own}
    return out


def methods() -> dict[str, dict]:
    """Every method of ``methods.yaml`` (the paper's variants, then this study's), in order."""
    return {name: dict(entry) for name, entry in load("methods").items()}


def method(name: str) -> dict:
    """The entry of method ``name`` (e.g. ``MER-DA3DCNNST``) in ``methods.yaml``."""
    table = load("methods")
    if name not in table:
        raise KeyError(f"unknown method {name!r}; methods.yaml defines {list(table)}")
    return dict(table[name])


def paper_methods() -> tuple[str, ...]:
    """The paper's own variants (``paper: true`` in ``methods.yaml``), in order."""
    return tuple(name for name, entry in load("methods").items() if entry.get("paper"))


def dataset_info(name: str) -> dict:
    """Return the layout facts of dataset ``name`` from ``datasets.yaml``."""
    info = load("datasets")
    if name not in info:
        raise KeyError(f"unknown dataset {name!r}; datasets.yaml defines {list(info)}")
    return dict(info[name])


def datasets(composites: bool = True) -> tuple[str, ...]:
    """Dataset keys in the book's order: the rows of ``datasets.yaml``, the registry of the
    dataset plug-ins (:mod:`mer_utils.datasets`). Read at call time (see :data:`DATASETS`).
    ``composites=False`` leaves out the datasets made of others (``parts``: the MEGC 2019
    composite), which have no folder and no stand-in of their own."""
    rows = load("datasets")
    return tuple(k for k, v in rows.items() if composites or not v.get("parts"))


DATASETS: tuple[str, ...] = datasets()
"""Dataset keys in the book's order: the rows of ``datasets.yaml``, the registry of the dataset
plug-ins (:mod:`mer_utils.datasets`)."""


# ----------------------------------------------------------------------------- profile table
class ConfigError(ValueError):
    """A table of ``mer_utils/data`` with a key or value of the wrong type (the message names
    the file and the key path)."""


_INT1, _INT0, _NUM = ("int", 1), ("int", 0), ("number", 0)
PROFILE_KEYS: dict = {
    "size": _INT1,
    "n_frames": _INT1,
    "epochs": _INT1,
    "batch_size": _INT1,
    "patience": _INT0,
    "learning_rate": ("positive",),
    "mixed_precision": ("bool",),
    "cell_timeout_s?": _INT1,
    "augmentation": {
        "factor": _NUM,
        "rotation_degrees": _NUM,
        "crop_area_fraction": _NUM,
        "contrast": _NUM,
        "brightness": _NUM,
    },
    "protocols": ("protocols",),
    "repeats": ("repeats",),
    "windows": {"per_clip": _INT1, "stride": _INT1},
    "scale_check?": {"profile": ("profile",), "dataset": ("dataset",), "methods": ("methods",)},
    "standin": {
        "frame_scale": ("positive",),
        "amplitude": _NUM,
        "subjects?": _INT1,
        "max_clip_frames?": _INT1,
        "seed?": _INT0,
    },
}
"""Every key of a profile in ``profiles.yaml`` and the type of its value (``?``: optional)."""


def check_profiles() -> None:
    """Check every profile of ``profiles.yaml`` (and the per-profile ``repeats`` of
    ``datasets.yaml``) against :data:`PROFILE_KEYS`: a missing or unknown key, or a value of
    the wrong type, raises :class:`ConfigError` naming the file and the key path
    (``profiles.yaml: quick.repeats.kfold: 'two' is not a whole number``)."""
    where = "mer_utils/data/profiles.yaml"
    profiles = load("profiles")
    if not isinstance(profiles, dict):
        raise ConfigError(f"{where}: not a table of profiles")
    for name, values in profiles.items():
        _check(values, PROFILE_KEYS, f"{where}: {name}")
    for dataset, info in (load("datasets") or {}).items():
        for name, repeats in ((info or {}).get("repeats") or {}).items():
            path = f"mer_utils/data/datasets.yaml: {dataset}.repeats.{name}"
            if name not in profiles:
                raise ConfigError(f"{path}: no profile {name!r} in profiles.yaml")
            _check_value(repeats, ("repeats",), path)


def _check(values, spec: dict, path: str) -> None:
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a table of keys, got {values!r}")
    keys = {k.rstrip("?"): k.endswith("?") for k in spec}
    for key, optional in keys.items():
        if key not in values and not optional:
            raise ConfigError(f"{path}.{key}: missing")
    for key, value in values.items():
        if key not in keys:
            raise ConfigError(f"{path}.{key}: unknown key; a profile has {sorted(keys)}")
        _check_value(value, spec[key + "?" if keys[key] else key], f"{path}.{key}")


def _check_value(value, kind, path: str) -> None:
    if isinstance(kind, dict):
        return _check(value, kind, path)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    protocols = tuple(load("protocols"))
    problem = None
    if kind[0] == "int":
        if not (isinstance(value, int) and not isinstance(value, bool)) or value < kind[1]:
            problem = f"is not a whole number of at least {kind[1]}"
    elif kind[0] == "number" and (not number or value < kind[1]):
        problem = f"is not a number of at least {kind[1]}"
    elif kind[0] == "positive" and (not number or value <= 0):
        problem = "is not a number above 0"
    elif kind[0] == "bool" and not isinstance(value, bool):
        problem = "is not true or false"
    elif kind[0] in ("protocols", "methods"):
        known = list(protocols) if kind[0] == "protocols" else list(methods())
        if not isinstance(value, list) or not value or any(v not in known for v in value):
            problem = f"is not a list of {kind[0]} of {known}"
        elif len(set(value)) != len(value):
            problem = "names one twice"
    elif kind[0] == "repeats":
        if not isinstance(value, dict):
            problem = "is not a table protocol -> number of repeats"
        else:
            for protocol, n in value.items():
                if protocol not in protocols:
                    raise ConfigError(f"{path}.{protocol}: unknown protocol; known: {protocols}")
                _check_value(n, _INT1, f"{path}.{protocol}")
    elif kind[0] in ("profile", "dataset") and value not in load(f"{kind[0]}s"):
        problem = f"is not a {kind[0]} of {kind[0]}s.yaml"
    if problem:
        raise ConfigError(f"{path}: {value!r} {problem}")
