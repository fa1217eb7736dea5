"""Every random draw of a stand-in comes from a generator seeded here.

``rng(seed, dataset, stream, *keys)`` is ``numpy.random.default_rng([seed, seed_id, stream,
*keys])``: ``seed`` is the stand-in's seed (the profile's ``standin.seed``), ``seed_id`` the
dataset's fixed number in ``datasets.yaml`` (so a dataset's stand-in does not change when the
registry's order does), ``stream`` one of the numbers below and ``keys`` the subject's index
(its position among the dataset's subjects, unchanged by ``subjects=N``), the clip's key or the
long video. Each subject and clip draws from its own generator, so a subset of the subjects, or
rendering in several processes, gives the same bytes for what it keeps.

======  ============================================================  =========================
stream  what it draws                                                 where
======  ============================================================  =========================
1       the original label spellings, dealt over a dataset's clips    :mod:`.subjects`
2       a subject's look, style, clip lengths, apexes, nuisances      :mod:`.subjects`
3       the layout: clip names, first frame numbers, long videos      :mod:`.layouts`
4       a subject's skin texture                                      :mod:`.looks`
5       a subject's sensor-noise bank                                 :mod:`.render`
6       a clip's exposure, blink depth, noise crops and flicker       :mod:`.render`
7       a CAS(ME)^2 long video's exposure                             :mod:`.render`
9       which clips are ambiguous (the whole dataset)                 :mod:`.subjects`
10      a subject's episodes and AU combinations                      :mod:`.subjects`
11      whether a subject's habit shows in a clip                     :mod:`.subjects`
======  ============================================================  =========================
"""

from __future__ import annotations

import numpy as np

from .. import config


def seed_id(name: str) -> int:
    """The dataset's fixed seed number (``seed_id`` in datasets.yaml), whatever its position."""
    return int(config.dataset_info(name)["seed_id"])


def rng(seed: int, name: str, *keys: int) -> np.random.Generator:
    """The generator of stream ``keys[0]`` (with further ``keys``) of dataset ``name``."""
    return np.random.default_rng([int(seed), seed_id(name), *[int(k) for k in keys]])
