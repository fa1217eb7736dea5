"""One module per dataset: what is particular to writing that dataset's stand-in.

The rest of :mod:`mer_utils.standins` draws the subjects, clips and pixels the same way for
every dataset; a layout module knows only what the dataset's reader
(:mod:`mer_utils.datasets`) expects to find: the label spellings, clip names, frame numbers,
folder and file names, the real files' quirks and the annotation file. Its names:

``STANDIN_LABELS``
    per internal label (the three classes and :data:`~..subjects.DROP`) the real file's
    spellings, with how many of each it holds among the three-class clips (dealt exactly when
    they add up, else drawn with these weights);
``STANDIN_DROP_ONLY``, ``STANDIN_DROP_IN_LARGEST``
    subjects of the real file with only dropped rows (and how many), and how many of the
    largest subjects get one dropped row each;
``standin_layout(seed, plans, cap)``
    the plans with clip names, first frame numbers and quirks (``cap``: ``max_clip_frames``);
``standin_frames(plan, clip)``
    a clip's frames folder (relative to the dataset root) and file-name pattern; or
    ``STANDIN_LONG_VIDEOS = True`` when clips are cut from long videos (CAS(ME)^2);
``standin_annotation(root, seed, plans)``
    writes the annotation file(s) and returns the quirks written (listed in the marker).

The module of dataset ``key`` is ``mer_utils.standins.layouts.<key>``, or the module named by
its row's ``standin_layout`` in ``datasets.yaml``. Seeds: stream 3 (:mod:`..seeds`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ... import config


def layout(name: str) -> ModuleType:
    """The layout module of dataset ``name``; a clear error for a dataset without one."""
    if name not in config.datasets():
        raise ValueError(f"unknown dataset {name!r}; choose from {list(config.datasets())}")
    module_name = config.dataset_info(name).get("standin_layout") or f"{__name__}.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        module = None
    if module is None or not hasattr(module, "standin_annotation"):
        raise ValueError(f"dataset {name!r} has no stand-in writer (no module {module_name})")
    return module


def long_videos(name: str) -> bool:
    """Whether the dataset's clips are cut from long videos (CAS(ME)^2), not one folder each."""
    return bool(getattr(layout(name), "STANDIN_LONG_VIDEOS", False))


def frames_folder(name: str, p, c) -> tuple[str, str]:
    """(folder relative to the dataset root, file name pattern with ``{}`` = frame number)."""
    return layout(name).standin_frames(p, c)
