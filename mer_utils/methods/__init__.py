"""The methods the study evaluates, as typed plug-ins: the paper's 3D CNN variants, the
optical-flow baseline and the field's networks on the flow.

A method is an entry of ``methods.yaml``: its kind (``method``), what it reads and the paper's
switches (``augment``, ``smote``, ``class_weight``). Its kind names the plug-in that runs it, the
class ``PLUGIN`` of ``mer_utils/methods/<kind>.py`` (:class:`~mer_utils.methods.base.Method`):
:mod:`~mer_utils.methods.cnn`, :mod:`~mer_utils.methods.flow`,
:mod:`~mer_utils.methods.flownet`. This registry is the one place that turns a kind into code;
a method of a new kind is one module here and one entry in ``methods.yaml``.

:func:`describe` is a method as its fold keys see it (no data, no model); :func:`make_method`
builds it on a page's clips. Stage 2's resampling (:func:`resample_pool`) is
:mod:`~mer_utils.methods.resampling`.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import numpy as np

from .. import config
from .base import SWITCHES, Method, switches
from .resampling import Pool, originals, resample_pool, training_weights

__all__ = [
    "SWITCHES",
    "Method",
    "Pool",
    "describe",
    "kinds",
    "make_method",
    "originals",
    "plugin",
    "resample_pool",
    "switches",
    "training_weights",
]

_NOT_PLUGINS = {"base", "resampling"}


def kinds() -> tuple[str, ...]:
    """The kinds of method there are plug-ins for (the modules of this package)."""
    here = [Path(__file__).parent]
    return tuple(sorted(m.name for m in pkgutil.iter_modules(here) if m.name not in _NOT_PLUGINS))


def plugin(kind: str) -> type[Method]:
    """The plug-in class of method kind ``kind`` (``PLUGIN`` of ``methods/<kind>.py``)."""
    if kind not in kinds():
        raise ValueError(
            f"methods.yaml: unknown method kind {kind!r} (known: {', '.join(kinds())})"
        )
    cls = importlib.import_module(f"{__name__}.{kind}").PLUGIN
    if not (isinstance(cls, type) and issubclass(cls, Method)) or cls.kind != kind:
        raise TypeError(f"mer_utils/methods/{kind}.py: PLUGIN is not the Method of kind {kind!r}")
    return cls


def plugin_of(name: str) -> type[Method]:
    """The plug-in class that runs ``methods.yaml`` entry ``name``."""
    kind = config.method(name)["method"]
    try:
        return plugin(kind)
    except ValueError as exc:
        raise ValueError(f"methods.yaml: {name}: {exc}") from None


def module_of(name: str) -> str:
    """The module of the plug-in that runs method ``name`` (the root of its fold keys' code)."""
    return plugin_of(name).__module__


def describe(name: str, profile: Any) -> Method:
    """Method ``name`` under ``profile`` as its fold keys see it: name, kind, switches and
    parameters, with no data and no model (what the runner needs to list a page's folds)."""
    return plugin_of(name)(name, profile)


def make_method(name: str, clips: Any, X: np.ndarray, profile: Any, seed: int) -> Method:
    """Method ``name`` built on a page's clips (``X``: their stage-1 tensors) with the run
    ``seed``: its inputs, and its model where it has one."""
    return describe(name, profile).build(clips, X, seed)


def shows(name: str, section: str) -> bool:
    """Whether the page of method ``name`` shows optional section ``section`` (a template
    cell's ``when``): one its plug-in declares, or ``resampling`` for an entry that has that
    text."""
    if section == "resampling":
        return "resampling" in config.method(name)
    return section in plugin_of(name).sections


def sections() -> tuple[str, ...]:
    """Every optional section a method page can show."""
    return tuple(sorted({"resampling"}.union(*(plugin(k).sections for k in kinds()))))
