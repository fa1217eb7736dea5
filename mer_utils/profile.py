"""A run profile, resolved once: the typed, frozen values of one ``profiles.yaml`` entry.

A page names its profile (``quick``); :func:`resolve` turns the name (with the dataset, whose
``datasets.yaml`` entry may give its own ``repeats``) into a :class:`Profile`, checked against
:data:`mer_utils.config.PROFILE_KEYS`, and everything downstream reads that object: the stage-1
settings, training, the protocols' repeats, the records. A profile given as a dict (a test's,
a reader's experiment) is checked and frozen the same way.

A :class:`Profile` is also a read-only mapping of its table values (``profile["epochs"]``,
``dict(profile)``): what records hash (:meth:`Profile.as_dict`, ``profile_id``) is exactly the
table entry, so a profile's id does not depend on how it was given.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

REQUIRED = ("epochs", "batch_size", "patience", "learning_rate", "augmentation", "repeats")
"""Keys a profile given as a dict must have (training and evaluation read them)."""


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return copy.copy(value)


@dataclass(frozen=True)
class Profile(Mapping):
    """The values one run profile gives (``profiles.yaml``; see its comments for each)."""

    name: str
    epochs: int
    batch_size: int
    patience: int
    learning_rate: float
    augmentation: Mapping
    repeats: Mapping
    size: int = 128
    n_frames: int = 16
    mixed_precision: bool = False
    protocols: tuple = ()
    windows: Mapping | None = None
    scale_check: Mapping | None = None
    standin: Mapping | None = None
    model: Mapping | None = None
    given: tuple = field(default=(), repr=False, compare=False)
    """The table keys this profile was given (what :meth:`as_dict` returns)."""

    @classmethod
    def of(cls, name: str, values: Mapping) -> "Profile":
        """A profile from its table values (unknown keys raise ``ValueError`` naming them)."""
        known = {f.name for f in fields(cls)} - {"name", "given"}
        unknown = sorted(set(values) - known - {"name"})
        if unknown:
            raise ValueError(f"profile {name!r}: unknown keys {unknown} (known: {sorted(known)})")
        missing = sorted(set(REQUIRED) - set(values))
        if missing:
            raise ValueError(f"profile {name!r} lacks keys {missing}")
        given = tuple(k for k in values if k != "name")
        return cls(name=name, given=given, **{k: _frozen(values[k]) for k in given})

    def as_dict(self) -> dict:
        """The table values as plain data (what records keep and ``profile_id`` hashes)."""
        return {k: _plain(getattr(self, k)) for k in self.given}

    # a read-only mapping of the table values; each value a plain copy
    def __getitem__(self, key: str) -> Any:
        if key not in self.given:
            raise KeyError(key)
        return _plain(getattr(self, key))

    def __iter__(self) -> Iterator[str]:
        return iter(self.given)

    def __len__(self) -> int:
        return len(self.given)

    def repeats_of(self, protocol: str) -> int:
        """How many times ``protocol`` runs (a protocol not listed runs once)."""
        return max(1, int(self.repeats.get(protocol, 1)))


def resolve(profile: "str | Mapping", dataset: str | None = None) -> Profile:
    """The :class:`Profile` a page runs under: a name of ``profiles.yaml`` (with ``dataset``,
    the values that dataset runs under, :func:`mer_utils.config.profile`), a dict of values
    (its ``name`` or ``custom``) or a :class:`Profile` (returned as it is)."""
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, str):
        from . import config

        return Profile.of(profile, config.profile_values(profile, dataset))
    values = dict(profile)
    return Profile.of(str(values.pop("name", "custom")), values)
