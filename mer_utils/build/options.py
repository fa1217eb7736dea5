"""Checks of the runner's command line, made once where it is read, before anything starts.

:func:`check_args` (called by :func:`mer_utils.build.study.main` right after parsing) removes repeated
values of the list options (``--protocols kfold kfold`` runs ``kfold`` once: every page then
sees the same protocols, so no page can disagree with another about a run) and refuses, with
one line naming the option, what would otherwise fail a page minutes later or be dropped
silently: a negative ``--seed``, ``--methods`` and ``--variants`` that disagree, a dataset given
twice to ``--dataset-dir`` or ``--annotation``, an empty ``--data-root``, a ``--cache-dir`` or
``--standins-dir`` that is not a folder, and a profile table with a key of the wrong type.
:func:`check_annotations` (after the data sources are resolved) refuses an ``--annotation`` of a
dataset that reads its stand-in, which has its own annotation file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .. import config
from .fingerprints import REPO

log = logging.getLogger("mer_utils.build.study")


class OptionError(ValueError):
    """A command line that cannot run as given (the message names the option)."""


def unique(values: list[str] | None, option: str) -> list[str] | None:
    """``values`` without repeats, in their order; a repeat is logged, never run twice."""
    if values is None:
        return None
    out = list(dict.fromkeys(values))
    if len(out) != len(values):
        twice = sorted({v for v in values if values.count(v) > 1})
        log.warning("%s: %s given more than once; each runs once", option, ", ".join(twice))
    return out


def check_args(args) -> None:
    """Validate and normalise the parsed command line in place (see the module docstring);
    raises :class:`OptionError` naming the option."""
    try:
        config.check_profiles()
    except config.ConfigError as exc:
        raise OptionError(str(exc)) from None
    if args.seed < 0:
        raise OptionError(f"--seed {args.seed}: a seed is a whole number of at least 0")
    if args.variants is not None:
        if args.methods is not None and list(args.methods) != list(args.variants):
            raise OptionError(
                f"--methods {' '.join(args.methods)} and --variants {' '.join(args.variants)} "
                "disagree; --variants is the old name of --methods: give one of them"
            )
        log.warning("--variants is deprecated: use --methods")
        args.methods = args.variants
    if args.methods is None:
        args.methods = list(config.methods())
    args.methods = unique(args.methods, "--methods")
    args.datasets = unique(args.datasets, "--datasets")
    args.protocols = unique(args.protocols, "--protocols")
    if args.data_root is not None and not str(args.data_root).strip():
        raise OptionError("--data-root is empty: give a folder, or leave the option out")
    for option in ("--dataset-dir", "--annotation"):
        seen: dict[str, str] = {}
        for item in getattr(args, option[2:].replace("-", "_")):
            name, _, value = item.partition("=")
            if name in seen:
                raise OptionError(
                    f"{option} {name}= given twice ({seen[name]!r} and {value!r}): give one"
                )
            seen[name] = value
    for option in ("cache_dir", "standins_dir"):
        path = REPO / getattr(args, option)
        if path.exists() and not path.is_dir():
            flag = "--" + option.replace("_", "-")
            raise OptionError(f"{flag} {getattr(args, option)}: not a folder (a file is there)")


def check_annotations(annotations: dict[str, str], sources: dict) -> None:
    """An ``--annotation`` of a dataset that falls back to its stand-in (no copy of it was
    found) would be dropped: refuse it, naming the dataset and the folder it reads."""
    from ..sources import flat

    for source in flat(sources):
        if source.dataset in annotations and source.annotation is None:
            raise OptionError(
                f"--annotation {source.dataset}={annotations[source.dataset]}: "
                f"{source.dataset} reads its stand-in ({Path(source.dir).name}), which has its "
                f"own annotation file; give its folder with --dataset-dir {source.dataset}=DIR "
                "or leave the option out"
            )
