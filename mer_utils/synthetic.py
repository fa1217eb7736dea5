"""Synthetic stand-ins for the four micro-expression datasets, in their real on-disk layouts.

The licensed datasets (CASME II, SAMM, SMIC-HS, CAS(ME)^2) may not be redistributed, so the
study's default run reads stand-ins that this module generates. Each stand-in is written in
exactly the folder layout and annotation-file format that :mod:`mer_utils.datasets` reads from a
licensed copy (spreadsheets included, with the real files' quirks), so the very same loader code
runs on both. What a stand-in is:

* **The real structure.** ``mer_utils/data/subjects.csv`` lists, for every subject of the real
  datasets that has three-class micro-expressions, its folder name, its clips per class and (not
  for SMIC) its clips' onset..offset lengths in frames. A stand-in has exactly these subjects,
  these per-class counts and these lengths (assigned to the subject's clips at random, from the
  seed), so the loaders give the official counts: CASME II 96/32/28 over 25 subjects, SAMM
  92/26/15 over 28, SMIC-HS 70/51/43 over 16, CAS(ME)^2 21/8/9 over 9. SMIC has no onset/offset
  codes and the table no lengths; **this study's choice** for SMIC-HS (100 fps) is
  ``11 + round(47 x Beta(2, 3))`` frames (11-58 frames, mean about 30, i.e. 0.1-0.6 s). Original
  labels follow the real files (CASME II negative = 63 disgust, 27 repression, 4 sadness, 2 fear;
  SAMM negative = 57 Anger, 12 Contempt, 9 Disgust, 8 Fear, 6 Sadness), dealt at random.
  Frame rates and real frame sizes are in ``datasets.yaml`` (``fps``, ``frame_size``: CASME II
  200 fps 480x640 colour, SAMM 200 fps 1088x2040 gray, SMIC-HS 100 fps 480x640, CAS(ME)^2 30 fps
  480x640); ``frame_scale`` scales the frame size, never the clips or subjects.
* **Rows the loaders drop**, a few per dataset so that the drop paths stay exercised (the real
  files have many more; the marker lists them): CASME II 8 'others' rows (2 of subject sub18,
  who has only 'others', as in the real file, and one in each of the six largest subjects); SAMM
  8 'Other' rows (2 of subject 025, who has only 'Other'); CAS(ME)^2 4 'others' micro rows (one
  of subject s15, who has only that, and one in each of the three largest subjects) and one
  macro-expression row per long video. Their frames are written too.
* **Pseudo-subjects that differ as people do.** Every subject is made from
  ``skimage.data.astronaut()`` (the one real face photo a required package ships), placed with
  its own scale, in-plane rotation, mirroring and position, then given its own **face geometry**
  by a smooth landmark-anchored warp (a Gaussian radial-basis interpolation of landmark moves:
  face and jaw width, eye distance, brow height, nose length, chin length, mouth width, each up
  to about 8 % of the inter-ocular distance) and its own **appearance** (gamma, skin tone,
  a lighting gradient, a fixed skin-texture pattern, how visibly its skin wrinkles). dlib's
  detector and 68-point predictor find the face on every subject (landmarks, box and masks of
  each subject are computed once, with dlib, on its neutral face).
* **Expression style per subject.** Every class is a *set* of FACS-like action-unit (AU)
  combinations, each with the share of people whose style draws it (``_AU_SETS``, after the
  action-unit columns of CASME II and SAMM):

  ==========  ==============================================================================
  surprise    AU1+2 (40 %), AU1 (12 %), AU2 (16 %), AU1+2+5 (16 %), AU1+2+26 (8 %), AU5+26
  negative    AU4, AU4+7, AU9, AU4+9, AU10, AU9+10, AU1+4, AU1+4+15 (brow, lid and nose), and
              AU14, AU15, AU17, AU14+17, AU15+17 (mouth; mostly under the lip mask)
  positive    AU12 (45 %), AU6+12 (33 %), AU6 (12 %), AU12+25 (10 %)
  ==========  ==============================================================================

  The sets overlap as real expressions do: AU1 is in sadness-like negatives and in surprise,
  AU6 and AU7 both lift the skin under the eye, mouth AUs belong to negative and positive.
  A subject prefers one or (40 % of subjects) two combinations per class; 10 % of its clips
  show another combination of the set. Each subject has its own intensity of every AU, its
  own direction and spread of each AU's movement (a turn of sd 15 degrees, spread x 0.8-1.25),
  and 40 % of subjects a **habit** (a frown, lip press, lid tightening... in 75 % of their
  clips, at 0.4-0.8 of their intensity) that carries no class. Clips come in **episodes**: a
  clip joins an earlier episode of its subject and class with probability 0.5 and then shows
  the same combination with the same timing, as clips elicited by one stimulus do. **Label
  ambiguity**: 6 % of the three-class clips (exactly ``round(0.06 x N)``, chosen from the
  seed) show a combination of another class, as coders' labels and what a face shows
  sometimes disagree. The marker lists every subject's preferred combinations and the number of
  ambiguous clips.
  plus a left/right bias (up to +-30 %), a gain (log-normal, mean 1, sigma 0.3: some people are
  more expressive), an onset->apex share of the clip (0.25-0.6) and a time-profile shape (a
  raised cosine to the power 0.6-1.7: broad or peaky apex). Every AU is a smooth displacement
  field (Gaussian bumps centred on landmark regions, applied with ``cv2.remap``) and, like real
  skin, a **FACS-like appearance change** that deepens with the expression: horizontal
  forehead lines (AU1, AU2), a vertical furrow between the brows (AU4), lines across the nasal
  bridge (AU9, AU10), crow's feet at the outer eye corners (AU6) and a deeper nasolabial fold
  (AU12) -- ``_WRINKLE_GL_PER_PX`` grey levels per pixel of displacement at the apex times the
  subject's wrinkle visibility (0.6-1.4), i.e. a few grey levels. Motion and wrinkles are zero
  inside the eye (landmarks 36-41, 42-47) and outer-lip (48-59) polygons that stage 1 blacks
  out, fading in smoothly outside them. Because style differs between people, recognising an
  unseen subject is harder than recognising a new clip of a subject already seen.
* **Realistic amplitude.** ``amplitude`` is the peak expression displacement in pixels on a
  face whose dlib box is 200 px tall (:data:`REFERENCE_FACE_PX`); it is scaled to the actual
  face, measured by dlib on the subject's neutral frame (the face is placed at about 0.42 x the
  frame height; dlib's boxes come in steps: 216 or 259 px at 480 lines). A clip's peak is
  ``amplitude x face/200 x subject gain x clip factor`` (clip factor 0.8-1.2); dropped
  ('others') clips move at half strength and CAS(ME)^2 macro-expressions at four times.
* **Nuisances.** A slow head drift (a smooth path of up to 1 px at 200 px over a clip; the
  background stays still), blinks (15 % of clips, 0.10-0.16 s, inside the eye polygons only, so
  stage 1's masks hide them), a per-frame illumination flicker (global gain, sd 1 %), a per-clip
  exposure change (gain +-4 %, offset +-3 grey levels) and sensor noise (Gaussian, sd 2 grey
  levels).
* **Quirks** of the real files, written so the loaders are exercised on them: CASME II
  subjects as text ('01') in some rows and numbers in others, one ApexFrame '/' (sub04
  EP12_01f, as in the real file); SAMM's 13 preamble rows, one apex outside onset..offset (a
  clip of subject 028, as in the real v2 file), one Offset Frame '?'; CAS(ME)^2's header-less
  sheets, macro-expression rows (dropped by the loader), one micro row with offset 0 (its apex
  is exactly mid-clip, so apex + (apex - onset) is the true offset), video codes stored as text
  and as numbers; SMIC's unpadded subject folders. ``STANDIN.json`` lists them.
* **Files.** SAMM frames are grayscale JPEG, SMIC frames BMP, the others colour JPEG
  (quality 90); workbooks carry fixed timestamps, so the same seed and parameters give
  byte-identical files (also with several worker processes: every subject and clip draws from
  its own seeded generator).

**Where what lives.** This module draws the subjects, clips and pixels, the same for every
dataset; what is particular to one dataset (its label spellings, clip names, frame numbers,
folder and file names, quirks and annotation file) is in that dataset's plug-in module in
:mod:`mer_utils.datasets` (``standin_layout``, ``standin_frames``, ``standin_annotation``),
beside the reader that must read it back. Seeds derive from each dataset's fixed ``seed_id``.

Parameters: ``frame_scale`` (quick profile 0.5: 240x320, SAMM 544x1020; paper profile 1.0),
``amplitude`` (see the calibration below), and, for tests and the smoke profile only,
``subjects`` (keep the N subjects with the most three-class clips, ties in table order) and
``max_clip_frames`` (cap every clip's length; the apex moves with it).

A ``STANDIN.json`` marker (seed, parameters, generator version, expected class counts, dropped
rows, subjects and their styles, the quirks written) is written LAST and atomically, so an
interrupted generation is never taken for a complete one; while generating, a
``STANDIN.partial`` file marks the folder as a stand-in being written (so it may be deleted and
regenerated, while a folder with neither file, e.g. a licensed copy, is never deleted).

CAS(ME)^2 naming rule followed (the loader's, see :mod:`mer_utils.datasets`): the first sheet's
participant number maps through sheet ``naming rule1`` (three columns: folder number, folder
name, participant, e.g. ``15 | s15 | 1``) to the subject folder (``s15``); the expression name's
stem (``disgust1`` of ``disgust1_2``) maps through sheet ``naming rule2`` to a 4-digit video code
(``0101``); the long video is ``rawpic/s15/15_0101<title>/`` (the title, e.g.
``disgustingteeth``, is part of the folder name only).

Calibration of ``amplitude``
----------------------------
``benchmarks/calibrate_standins.py`` (run on the 2-core machine, 27 minutes) generates the
CASME II and SMIC stand-ins at the quick frame scale (0.5) for amplitudes of 1, 2, 3, 4, 6, 12
and 24 px (on a 200 px face), runs stage 1 at the quick profile's ``size`` (32) and ``n_frames``
(8), and evaluates the paper's best variant, MER-DACWB3DCNNST (augmentation x 2 and class
weights; the quick profile's model and training: 8 epochs, batch 16, early stopping on the
validation loss) under two 5-fold cross-validations: ``subject`` (``StratifiedGroupKFold`` over
subjects: the test subjects are unseen) and ``clip`` (``StratifiedKFold`` over clips: the same
people in training and test); in both, validation is the next fold and predictions are pooled.
Beside the CNN on raw frames (the paper's input) it reports two references on the same folds:
a linear **probe** (logistic regression on one image per clip, the middle sampled frames
minus the first and last) and the **same CNN on onset-subtracted frames**
(``128 + 3 x (frame - first frame)``; a diagnostic, not the paper's method). Accuracy / UF1
(seed 0; the majority baseline is 0.62 / 0.25 on CASME II, 0.36 / 0.25 subject-wise and
0.43 / 0.20 clip-wise on SMIC):

=====  ========  ===============  ===============  ===============  ===============
px     dataset   CNN, raw         CNN, raw         CNN, onset-      probe UF1
                 subject          clip             subtracted       subject / clip
                                                   subject / clip
=====  ========  ===============  ===============  ===============  ===============
1      CASME II  0.53 / 0.43      0.49 / 0.47      0.35 / 0.47      0.50 / 0.64
2      CASME II  0.46 / 0.40      0.47 / 0.45      0.40 / 0.68      0.66 / 0.84
**3**  CASME II  0.50 / 0.36      0.48 / 0.46      0.65 / 0.81      0.78 / 0.93
4      CASME II  0.46 / 0.40      0.43 / 0.42      0.75 / 0.87      0.85 / 0.93
6      CASME II  0.49 / 0.33      0.43 / 0.42      0.81 / 0.89      0.88 / 0.95
12     CASME II  0.59 / 0.47      0.42 / 0.40      0.89 / 0.96      0.89 / 0.96
24     CASME II  0.62 / 0.49      0.70 / 0.64      0.91 / 0.99      0.92 / 0.98
1      SMIC      0.46 / 0.39      0.43 / 0.38      0.37 / 0.44      0.49 / 0.73
2      SMIC      0.40 / 0.29      0.45 / 0.38      0.56 / 0.72      0.62 / 0.83
**3**  SMIC      0.40 / 0.30      0.48 / 0.44      0.60 / 0.80      0.71 / 0.91
4      SMIC      0.38 / 0.27      0.45 / 0.41      0.69 / 0.88      0.72 / 0.94
6      SMIC      0.40 / 0.30      0.46 / 0.42      0.77 / 0.92      0.76 / 0.98
12     SMIC      0.39 / 0.31      0.51 / 0.50      0.93 / 0.98      0.74 / 0.99
24     SMIC      0.56 / 0.50      0.78 / 0.78      0.89 / 1.00      0.78 / 0.98
=====  ========  ===============  ===============  ===============  ===============

(the onset-subtracted CNN's accuracy at 3 px: CASME II 0.69 subject / 0.82 clip, SMIC 0.60 /
0.80; the probe's: CASME II 0.82 / 0.95, SMIC 0.69 / 0.91.)

What this shows: the planted expression is in stage 1's output at every realistic amplitude
(the probe and the onset-subtracted CNN rise steadily with it, and recognising an unseen
subject is always harder than a new clip of a known one), but **the paper's 3D CNN on raw
frames does not learn it at any realistic amplitude (up to 6 px)** in the quick profile: its
UF1 stays where a classifier that merely spreads its guesses over the classes (as class
weights make it do) lands, about 0.3-0.45, with accuracy below the majority baseline, under
both protocols; it starts to learn only at about 24 px, four times a large micro-expression.
While developing the generator, the raw CNN also stayed at that level at 4-6 px with wrinkles
three times deeper (5 grey levels per px), with broad (blurred) wrinkles, with no nuisances at
all (no noise, flicker, drift, blinks or exposure changes), with one expression style shared
by every subject, with 24 epochs and with 64 x 64 frames. The amplitude is therefore not
raised to suit the model: it is set to **3 px** in the quick and paper profiles (smoke too),
a realistic micro-expression at which the signal is clearly learnable from the frames
(onset-subtracted CNN: subject-independent UF1 0.65 on CASME II and 0.60 on SMIC against a
baseline of 0.25, accuracy below 0.9, clip-level 0.81 / 0.80 above it). Whether the raw-frame
CNN needs more data, more epochs or another input is a finding about the paper's model, not
about the stand-ins.

Generator version 3 (the current one) added the overlapping AU sets, habits, episodes and
label ambiguity above, because on version 2 (one fixed AU combination per subject and class)
the optical-flow baseline reached UF1 1.00 on unseen subjects: too easy to teach anything
about generalising. Re-measured at 3 px with the runner's own code (``experiment.run_protocols``,
quick profile, seed 0, one split each; subject-grouped 5-fold ``kfold`` / one clip-level 10 %
``paper`` split, test sets of 156 / 16 clips on CASME II and 164 / 17 on SMIC), UF1:

==================  ===============  ===============
method              CASME II         SMIC-HS
                    kfold / paper    kfold / paper
==================  ===============  ===============
FLOW-LINEAR         0.75 / 0.86      0.75 / 0.94
DIFF-3DCNN          0.43 / 0.21      0.47 / 0.73
MER-DACWB3DCNNST    0.38 / 0.19      0.28 / 0.53
majority baseline   0.25 / 0.26      0.22 / 0.19
==================  ===============  ===============

The flow baseline lands clearly above the baseline and clearly below 1.0 on unseen subjects;
the 3D CNNs, trained for 8 epochs on 32 x 32 frames, stay close to chance there (the 16-17
clip ``paper`` splits are too small to say more; the book's repeated runs give intervals).
These single runs were measured before every layer of the network got its own seed
(:func:`mer_utils.models.layer_seed`) and before detection moved to a 320 px copy; the same seed
now starts the networks from other initial weights, so their single-run values move within
their run-to-run spread; the quick book built after both changes gives the same kfold UF1 for
FLOW-LINEAR (0.75 / 0.75) and MER-DACWB3DCNNST 0.24 / 0.33, DIFF-3DCNN 0.37 / 0.47.

At the paper profile's settings (128 x 128 frames, 16 frames per clip, up to 50 epochs, patience
10; ``calibrate_standins.py --profile paper --amplitudes 3 --datasets casme2``, one run, 16 min
on 2 cores), the raw-frame MER-DACWB3DCNNST on the CASME II stand-in under subject-grouped
5-fold cross-validation (156 pooled test clips) reached UF1 0.39 with accuracy 0.45, against the
majority baseline's 0.25 / 0.62: some learning at a realistic amplitude when the frames keep
their resolution, but one run cannot say how much (no interval) and the accuracy stays below
always answering "negative".
``tests/test_standin_learning.py`` checks the flow baseline's side of this on every run.

Paragraph for the book: *The stand-ins move as much as real micro-expressions do: the peak
displacement is 3 pixels on a face 200 pixels tall, with every pseudo-subject expressing each
class in its own way (which action units, which side, how strongly and how fast). We calibrated
this amplitude on the CASME II and SMIC stand-ins with five-fold cross-validation
(``benchmarks/calibrate_standins.py``). The expression is in the frames: a linear classifier on
apex-minus-onset difference images recognises unseen subjects with UF1 0.78 (CASME II) and 0.71
(SMIC), and known subjects' new clips with 0.93 and 0.91, against 0.25 for always guessing the
majority class. The paper's 3D CNN trained on the raw frames with the quick profile, however,
stays near chance at every realistic amplitude (up to 6 pixels) and begins to learn only at
24 pixels, four times a large micro-expression; fed frames from which the onset frame has been
subtracted, the same network reaches UF1 0.65 and 0.60 on unseen subjects. We kept the
realistic amplitude: the stand-ins are not tuned to flatter the model.*
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import math
import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

import cv2
import numpy as np

from . import atomic, config, faces
from .config import CLASSES
from .sources import MARKER, PARTIAL, expected_counts, is_standin
from .sources import read_marker as _read_marker

log = logging.getLogger(__name__)

__all__ = [
    "GENERATOR_VERSION",
    "MARKER",
    "PARTIAL",
    "REFERENCE_FACE_PX",
    "SubjectPlan",
    "ClipPlan",
    "Subject",
    "plan",
    "real_structure",
    "make_subject",
    "generate",
    "generate_all",
    "is_standin",
    "expected_counts",
]

GENERATOR_VERSION = 3
"""Bumped whenever the generator's output changes for the same parameters."""
REFERENCE_FACE_PX = 200.0
"""``amplitude`` is the peak displacement in px on a face whose dlib box is this tall."""
DEFAULT_AMPLITUDE = 3.0
"""Default ``amplitude`` (px on a 200 px face): the calibrated value of the quick profile."""

DROP = "others"
"""Internal name of the label every loader drops (spelled per dataset in its plug-in's
``STANDIN_LABELS``)."""
MACRO = "macro"
"""Internal label of CAS(ME)^2 macro-expression rows (dropped by the loader by type)."""

_FACE_FRACTION = 0.42  # dlib box height / frame height (x the subject's scale)
_NOISE_SD = 2.0  # sensor noise, grey levels
_FLICKER_SD = 0.01  # per-frame global gain
_CLIP_GAIN, _CLIP_OFFSET = 0.04, 3.0  # per-clip exposure change (+-)
_DRIFT_MAX = 1.0  # px at 200 px, end of clip
_DRIFT_SD = 0.4  # px at 200 px, per axis (then capped at _DRIFT_MAX)
_TURN_SD = 0.0  # degrees, in-plane head rotation at the end of a clip (capped at 2.5 sd)
_BLINK_P, _BLINK_S = 0.15, (0.10, 0.16)  # probability per clip, duration in seconds
_CLIP_FACTOR = (0.8, 1.2)
_DROP_FACTOR, _MACRO_FACTOR = 0.5, 4.0
_GAIN_SIGMA = 0.3

# Action units (AUs). Every class is a set of AU combinations, with the share of people whose
# style draws each (FACS-coded datasets: CASME II and SAMM action-unit columns). They overlap:
# AU1 is in sadness-like negatives (1+4) and in surprise, AU6 (cheek raise) and AU7 (lid
# tightener) both lift the skin under the eye, and the mouth AUs of negative (14, 15, 17) and
# positive (12) move mostly under the outer-lip mask.
_AU_SETS: dict[str, dict[str, float]] = {
    "surprise": {"1+2": 0.40, "1": 0.12, "2": 0.16, "1+2+5": 0.16, "1+2+26": 0.08, "5+26": 0.08},
    "negative": {
        "4": 0.14,
        "4+7": 0.10,
        "9": 0.06,
        "4+9": 0.08,
        "10": 0.06,
        "9+10": 0.04,
        "1+4": 0.07,
        "1+4+15": 0.05,
        "14": 0.10,
        "15": 0.07,
        "17": 0.08,
        "14+17": 0.08,
        "15+17": 0.07,
    },
    "positive": {"12": 0.45, "6+12": 0.33, "6": 0.12, "12+25": 0.10},
}
_MOUTH_AUS = frozenset({"12", "14", "15", "17", "25", "26"})  # mostly under the outer-lip mask
_EYE_AUS = frozenset({"5", "7"})  # mostly under the eye masks
_TWO_STYLES_P = 0.4  # share of subjects with two preferred combinations per class (else one)
_FIRST_STYLE_P = 0.65  # with two: share of the class's clips showing the first
_OFF_STYLE_P = 0.1  # share of clips showing another combination of the class's set
_AMBIGUOUS_RATE = 0.06  # share of three-class clips showing another class's AUs (see above)
_ONE_SIDED_P = 0.2  # subjects whose lip-corner AUs (12, 14) act on one side (at a quarter)
_AU_INTENSITY = (0.5, 1.0)  # a subject's own intensity of each AU within a combination
_CLIP_AU_JITTER = (0.7, 1.3)  # per clip, per AU
_SAME_EPISODE_P = 0.5  # a clip joins an earlier episode of its subject and class
_EPISODE_AU_JITTER = (0.9, 1.1)  # per AU between the clips of an episode
_HABITS = {"14": 1.0, "17": 1.0, "7": 1.0, "12": 0.6, "4": 0.5, "1+2": 0.3}
_HABIT_P = 0.4  # subjects with a habitual movement (a tic: frown, brow raise, lip press...)
_HABIT_CLIP_P = 0.75  # share of such a subject's clips in which the habit shows
_HABIT_STRENGTH = (0.4, 0.8)  # its intensity relative to the subject's own AU intensity
_AU_TURN_SD = 15.0  # degrees: a subject's own direction of each AU's movement (capped at 2 sd)
_AU_SPREAD = 1.25  # a subject's own spread of each AU's movement: x 1/1.25 .. 1.25
_WRINKLE_GL_PER_PX = 3.0  # grey levels of wrinkle depth per px of displacement (200 px face)
_SMIC_LENGTH = (11, 47, 2.0, 3.0)  # 11 + round(47 * Beta(2, 3))
_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 90]
_FIXED_TIME = datetime.datetime(2024, 1, 1)
_CHUNK_FRAMES = 1200  # render tasks hold at most this many frames (whole clips)

# Original label spellings of the real annotation files and how many of each the real files
# hold among the three-class clips (shared/reference/datasets.md); dealt exactly when the counts
# match, otherwise drawn with these weights.
# Subjects of the real files that have only dropped rows (not in subjects.csv), with the
# number of dropped rows the stand-in gives them; and how many of the largest subjects get one
# dropped row each.

# CAS(ME)^2 long videos: (4-digit code, expression-name stem, title in the folder name).
# Subject folder numbers of the real CAS(ME)^2 (participant 1 -> s15, 2 -> s16, ...).


# ---------------------------------------------------------------------------------------------
# The real structure (subjects.csv)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RealSubject:
    """One row of ``subjects.csv``: a real subject's folder name, clips per class and lengths."""

    id: str
    counts: tuple[int, int, int]  # CLASSES order
    lengths: tuple[int, ...]  # onset..offset frames (empty for SMIC)


@cache
def real_structure() -> dict[str, tuple[RealSubject, ...]]:
    """``mer_utils/data/subjects.csv`` per dataset: every real subject with three-class clips."""
    text = resources.files("mer_utils").joinpath("data", "subjects.csv").read_text("utf-8")
    out: dict[str, list[RealSubject]] = {name: [] for name in config.datasets()}
    for row in csv.DictReader(io.StringIO(text)):
        lengths = tuple(int(v) for v in (row["clip_frames_onset_to_offset"] or "").split())
        counts = tuple(int(row[c]) for c in CLASSES)
        if lengths and len(lengths) != sum(counts):
            raise ValueError(
                f"subjects.csv: {row['dataset']} {row['subject']}: "
                f"{len(lengths)} lengths for {sum(counts)} clips"
            )
        out[row["dataset"]].append(RealSubject(row["subject"], counts, lengths))
    return {name: tuple(subjects) for name, subjects in out.items()}


def _natural(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


# ---------------------------------------------------------------------------------------------
# Plans: everything about a stand-in except its pixels, drawn from the seed
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """Placement, geometry and appearance of one pseudo-subject (all drawn from the seed).

    Geometry values are moves in units of the inter-ocular distance (iod)."""

    scale: float  # face size relative to _FACE_FRACTION x frame height (dlib box)
    rotation: float  # degrees, in-plane
    mirror: bool
    shift: tuple[float, float]  # face-centre offset, fraction of (W, H)
    face_width: float  # cheeks and jaw outward (+) / inward (-), per side
    jaw_width: float  # lower jaw only
    chin: float  # chin down (+) / up (-)
    eye_distance: float  # eyes and brows outward, per side
    brow_height: float  # brows up (+) / down (-)
    nose_length: float  # nose tip and wings down (+) / up (-)
    mouth_width: float  # mouth corners outward, per side
    gamma: float
    tone: tuple[float, float, float]  # B, G, R gains
    light_strength: float  # gain change from frame centre to edge
    light_angle: float  # radians
    texture_sd: float  # grey levels
    texture_sigma: float  # px, relative to a 200 px face
    wrinkle: float  # how visibly the skin wrinkles (x _WRINKLE_GL_PER_PX)


AUs = tuple[tuple[str, float, float], ...]
"""Action units of a clip: (AU, weight on side 0, weight on side 1); side 0 = image left."""


def _au_key(au: str) -> int:
    return int(au)


def au_code(aus: AUs) -> str:
    """FACS-style code of action units, e.g. ``'1+2'``, ``'4+R14'`` (R/L: mostly one side;
    side 0, the image left, is the subject's right on an unmirrored face)."""
    parts = []
    for au, a, b in sorted(aus, key=lambda t: _au_key(t[0])):
        side = "" if min(a, b) >= 0.5 * max(a, b) else ("R" if a > b else "L")
        parts.append(f"{side}{au}")
    return "+".join(parts)


def parse_aus(code: str) -> AUs:
    """Action units of a plain code (``'6+12'``: both sides, weight 1)."""
    return tuple((au, 1.0, 1.0) for au in code.split("+"))


@dataclass(frozen=True)
class Style:
    """How one pseudo-subject expresses: per class its one or two preferred AU combinations
    (with the share of the class's clips showing each), its own intensity of every AU within a
    combination, its left/right weights (side 0 = image left), the sides of its lip-corner AUs,
    its gain, its onset->apex share and its time-profile shape."""

    preferred: dict[str, tuple[tuple[str, float], ...]]
    intensity: dict[str, float]
    bend: dict[str, tuple[float, float]]  # per AU: (degrees its movement turns, spread factor)
    habit: tuple[str, float] | None  # a habitual movement (AUs, strength) in many of its clips
    sides: tuple[float, float]
    one_sided: tuple[float, float] | None
    gain: float
    apex_share: float
    shape: float

    def codes(self, label: str) -> str:
        """The preferred combinations of a class, e.g. ``'4+7 / 14'``."""
        return " / ".join(code for code, _ in self.preferred[label])

    def aus(self, code: str, jitter: Sequence[float] | None = None) -> AUs:
        """The subject's action units for combination ``code`` (its intensities and sides),
        each AU's weight multiplied by ``jitter`` (one factor per AU, in code order)."""
        out = []
        for k, au in enumerate(code.split("+")):
            w = self.intensity[au] * (1.0 if jitter is None else float(jitter[k]))
            a, b = w * self.sides[0], w * self.sides[1]
            if self.one_sided is not None and au in ("12", "14"):
                a, b = a * self.one_sided[0], b * self.one_sided[1]
            out.append((au, round(a, 4), round(b, 4)))
        return tuple(out)


@dataclass(frozen=True)
class ClipPlan:
    """One clip (or a CAS(ME)^2 macro-expression) of a subject, except its pixels."""

    name: str  # clip name in the annotation (Filename / expression name / SMIC folder)
    label: str  # a class, DROP or MACRO
    emotion: str  # original spelling
    n: int  # frames onset..offset
    apex: int  # 0-based index of the apex within the clip
    start: int  # number of the first frame on disk (CAS(ME)^2: 1-based within its video)
    motion: str  # class whose action units the clip shows (label, unless ambiguous)
    factor: float  # peak displacement / (amplitude x face / 200): subject gain x clip factor
    key: int  # seed key of the clip's random draws (noise, drift, exposure)
    blink: tuple[int, int] | None = None  # (first frame, frames) of a blink
    drift: tuple[float, float, float] = (0.0, 0.0, 0.0)  # end point (dx, dy) px at 200, bend
    turn: float = 0.0  # in-plane head rotation at the clip's end, degrees
    quirk: str | None = None
    video: int | None = None  # CAS(ME)^2: index of the long video holding it
    aus: AUs = ()  # the action units it shows (weights per side; see Style.aus)
    ambiguous: bool = False  # labelled with one class, showing another class's AUs
    episode: int = 0  # the subject's stimulus episode (same class, same AUs)
    combination: str = ""  # the AU combination it shows (of motion's set), without the habit
    habit: bool = False  # whether the subject's habitual movement shows too


@dataclass(frozen=True)
class VideoPlan:
    """A CAS(ME)^2 long video: its folder name and segments (("rest", frames) or ("clip", k))."""

    code: str
    stem: str
    folder: str
    segments: tuple[tuple[str, int], ...]
    key: int


@dataclass(frozen=True)
class SubjectPlan:
    """One pseudo-subject: folder name, look, style and clips (everything but the pixels)."""

    dataset: str
    index: int  # position among the dataset's subjects (seed key; unchanged by ``subjects``)
    id: str  # folder name: sub01, 006, s1, s16
    look: Look
    style: Style
    clips: tuple[ClipPlan, ...]
    videos: tuple[VideoPlan, ...] = ()
    participant: int | None = None  # CAS(ME)^2 participant number (naming rule1)

    def counts(self) -> dict[str, int]:
        """Three-class clips per class (CLASSES order)."""
        return {c: sum(k.label == c for k in self.clips) for c in CLASSES}

    def video_frames(self, v: int) -> int:
        """Number of frames of CAS(ME)^2 long video ``v``."""
        return sum(n if kind == "rest" else self.clips[n].n for kind, n in self.videos[v].segments)


def _seed_id(name: str) -> int:
    """The dataset's fixed seed number (``seed_id`` in datasets.yaml), whatever its position."""
    return int(config.dataset_info(name)["seed_id"])


def _plugin(name: str):
    """The dataset's plug-in module (:mod:`mer_utils.datasets`): its stand-in layout, frames
    and annotation writer; a clear error for a dataset without one."""
    from . import datasets

    if name not in datasets.names():
        raise ValueError(f"unknown dataset {name!r}; choose from {list(datasets.names())}")
    module = datasets.plugin(name)
    if not hasattr(module, "standin_annotation"):
        raise ValueError(f"dataset {name!r} has no stand-in writer ({module.__name__})")
    return module


def _rng(seed: int, name: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), _seed_id(name), *[int(k) for k in keys]])


def _draw_look(rng: np.random.Generator) -> Look:
    g = lambda a: float(rng.uniform(-a, a))  # noqa: E731
    return Look(
        scale=float(rng.uniform(0.92, 1.12)),
        rotation=g(6.0),
        mirror=bool(rng.random() < 0.5),
        shift=(g(0.06), g(0.04)),
        face_width=g(0.07),
        jaw_width=g(0.08),
        chin=g(0.08),
        eye_distance=g(0.05),
        brow_height=g(0.08),
        nose_length=g(0.07),
        mouth_width=g(0.06),
        gamma=float(rng.uniform(0.75, 1.35)),
        tone=tuple(float(v) for v in rng.uniform(0.8, 1.1) * rng.uniform(0.9, 1.1, 3)),
        light_strength=float(rng.uniform(0.12, 0.35)),
        light_angle=float(rng.uniform(0, 2 * math.pi)),
        texture_sd=float(rng.uniform(2.0, 6.0)),
        texture_sigma=float(rng.uniform(1.0, 2.5)),
        wrinkle=float(rng.uniform(0.6, 1.4)),
    )


def _pick(rng: np.random.Generator, options: dict[str, float]) -> str:
    names = list(options)
    p = np.array([options[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _draw_style(rng: np.random.Generator) -> Style:
    """A subject's expression style: one or two preferred AU combinations per class (drawn by
    the shares of :data:`_AU_SETS`), its AU intensities, sides, gain and timing."""
    preferred = {}
    for label in CLASSES:
        options = _AU_SETS[label]
        names = list(options)
        p = np.array([options[k] for k in names], float)
        k = 2 if rng.random() < _TWO_STYLES_P else 1
        picked = [
            names[int(i)] for i in rng.choice(len(names), size=k, replace=False, p=p / p.sum())
        ]
        shares = (1.0,) if k == 1 else (_FIRST_STYLE_P, 1.0 - _FIRST_STYLE_P)
        preferred[label] = tuple(zip(picked, shares))
    aus = sorted(
        {au for options in _AU_SETS.values() for code in options for au in code.split("+")},
        key=_au_key,
    )
    intensity = {au: round(float(rng.uniform(*_AU_INTENSITY)), 4) for au in aus}
    turn = np.clip(rng.normal(0, _AU_TURN_SD, len(aus)), -2 * _AU_TURN_SD, 2 * _AU_TURN_SD)
    spread = np.exp(rng.uniform(-1, 1, len(aus)) * math.log(_AU_SPREAD))
    bend = {au: (round(float(t), 2), round(float(f), 3)) for au, t, f in zip(aus, turn, spread)}
    habit = None
    if rng.random() < _HABIT_P:
        habit = (_pick(rng, _HABITS), round(float(rng.uniform(*_HABIT_STRENGTH)), 3))
    bias = float(rng.uniform(-0.3, 0.3))
    one_sided = None
    if rng.random() < _ONE_SIDED_P:  # a one-sided smile / dimpler (contempt-like)
        one_sided = (1.0, 0.25) if rng.random() < 0.5 else (0.25, 1.0)
    gain = float(np.exp(rng.normal(-(_GAIN_SIGMA**2) / 2, _GAIN_SIGMA)))
    return Style(
        preferred=preferred,
        intensity=intensity,
        bend=bend,
        habit=habit,
        sides=(1.0 + bias, 1.0 - bias),
        one_sided=one_sided,
        gain=gain,
        apex_share=float(rng.uniform(0.25, 0.6)),
        shape=float(rng.uniform(0.6, 1.7)),
    )


def _draw_combination(
    style: Style, motion: str, rng: np.random.Generator
) -> tuple[str, np.ndarray]:
    """An AU combination showing class ``motion`` and its per-AU intensity factors: one of the
    subject's preferred combinations or (:data:`_OFF_STYLE_P`) another of the class's set, each
    AU's intensity varied by :data:`_CLIP_AU_JITTER`."""
    if rng.random() < _OFF_STYLE_P:
        code = _pick(rng, _AU_SETS[motion])
    else:
        code = _pick(rng, dict(style.preferred[motion]))
    return code, rng.uniform(*_CLIP_AU_JITTER, size=len(code.split("+")))


def _merged(aus: AUs, extra: AUs, strength: float) -> AUs:
    """``aus`` with ``extra`` at ``strength`` added (an AU in both keeps the larger weight)."""
    out = {au: (a, b) for au, a, b in aus}
    for au, a, b in extra:
        a0, b0 = out.get(au, (0.0, 0.0))
        out[au] = (max(a0, round(strength * a, 4)), max(b0, round(strength * b, 4)))
    return tuple((au, a, b) for au, (a, b) in out.items())


def _deal(rng: np.random.Generator, counts: dict[str, int], n: int) -> list[str]:
    """``n`` spellings with exactly ``counts`` when they add up to ``n``, else drawn by weight."""
    if sum(counts.values()) == n:
        out = [k for k, c in counts.items() for _ in range(c)]
    else:
        out = [_pick(rng, {k: float(v) for k, v in counts.items()}) for _ in range(n)]
    rng.shuffle(out)
    return out


def _smic_length(rng: np.random.Generator) -> int:
    lo, span, a, b = _SMIC_LENGTH
    return lo + int(round(span * rng.beta(a, b)))


def _apex(rng: np.random.Generator, n: int, share: float) -> int:
    share = float(np.clip(share + rng.normal(0, 0.06), 0.15, 0.8))
    return int(np.clip(round(share * (n - 1)), 1, max(1, n - 2)))


def _clip_extras(rng: np.random.Generator, n: int, fps: float) -> dict:
    blink = None
    if rng.random() < _BLINK_P:
        d = int(np.clip(round(fps * rng.uniform(*_BLINK_S)), 2, n))
        blink = (int(rng.integers(0, n - d + 1)), d)
    dx, dy = rng.normal(0, _DRIFT_SD, 2)
    norm = math.hypot(dx, dy)
    if norm > _DRIFT_MAX:
        dx, dy = dx * _DRIFT_MAX / norm, dy * _DRIFT_MAX / norm
    turn = float(np.clip(rng.normal(0, _TURN_SD), -2.5 * _TURN_SD, 2.5 * _TURN_SD))
    return {
        "blink": blink,
        "drift": (float(dx), float(dy), float(rng.uniform(-0.3, 0.3))),
        "turn": turn,
    }


def plan(
    name: str, seed: int = 0, subjects: int | None = None, max_clip_frames: int | None = None
) -> list[SubjectPlan]:
    """The plan of dataset ``name``'s stand-in: every subject and clip, without pixels.

    The full plan follows ``subjects.csv`` exactly (subjects, per-class counts, lengths) plus the
    dropped rows (see the module docstring). ``subjects=N`` keeps the N subjects with the most
    three-class clips (ties in table order; subjects with only dropped rows are not kept), in
    table order; ``max_clip_frames`` caps every clip's length. Both only select from and trim
    the full plan: a subject is the same person with the same clips in every subset.
    """
    kit = _plugin(name)
    real = real_structure()[name]
    fps = float(config.dataset_info(name)["fps"])
    ids = sorted([s.id for s in real] + list(kit.STANDIN_DROP_ONLY), key=_natural)
    by_id = {s.id: s for s in real}
    largest = sorted(real, key=lambda s: -sum(s.counts))[: kit.STANDIN_DROP_IN_LARGEST]
    n_dropped = {**{s.id: 1 for s in largest}, **kit.STANDIN_DROP_ONLY}
    # original spellings, dealt over the dataset's clips of each class in table order
    spell_rng = _rng(seed, name, 1)
    spellings = {
        label: iter(_deal(spell_rng, kit.STANDIN_LABELS[label], sum(s.counts[i] for s in real)))
        for i, label in enumerate(CLASSES)
    }
    pool = [n for s in real for n in s.lengths]
    plans = []
    for index, sid in enumerate(ids):
        rng = _rng(seed, name, 2, index)
        look, style = _draw_look(rng), _draw_style(rng)
        subject = by_id.get(sid, RealSubject(sid, (0, 0, 0), ()))
        labels = [c for c, k in zip(CLASSES, subject.counts) for _ in range(k)]
        emotions = [next(spellings[c]) for c in labels]
        lengths = list(subject.lengths) if subject.lengths else [_smic_length(rng) for _ in labels]
        rng.shuffle(lengths)
        for _ in range(n_dropped.get(sid, 0)):
            labels.append(DROP)
            emotions.append(next(iter(kit.STANDIN_LABELS[DROP])))
            lengths.append(int(rng.choice(pool)) if pool else _smic_length(rng))
        order = rng.permutation(len(labels))
        clips = []
        for key, i in enumerate(order):
            label, n = labels[i], int(lengths[i])
            motion = label if label in CLASSES else str(rng.choice(CLASSES))
            factor = style.gain * float(rng.uniform(*_CLIP_FACTOR))
            factor *= _DROP_FACTOR if label == DROP else 1.0
            clips.append(
                ClipPlan(
                    name="",
                    label=label,
                    emotion=emotions[i],
                    n=n,
                    apex=_apex(rng, n, style.apex_share),
                    start=0,
                    motion=motion,
                    factor=factor,
                    key=key,
                    **_clip_extras(rng, n, fps),
                )
            )
        plans.append(SubjectPlan(name, index, sid, look, style, tuple(clips)))
    plans = _with_aus(name, seed, plans)
    if subjects is not None:
        if int(subjects) < 1:
            raise ValueError(f"subjects must be >= 1, got {subjects}")
        ranked = sorted(
            (p for p in plans if sum(p.counts().values())), key=lambda p: -sum(p.counts().values())
        )[: int(subjects)]
        keep = {p.id for p in ranked}
        plans = [p for p in plans if p.id in keep]
    if max_clip_frames is not None:
        plans = [_capped(p, int(max_clip_frames)) for p in plans]
    return kit.standin_layout(
        seed, plans, None if max_clip_frames is None else int(max_clip_frames)
    )


def _with_aus(name: str, seed: int, plans: list[SubjectPlan]) -> list[SubjectPlan]:
    """Give every clip its episode and action units.

    Episodes: a subject's clips of one class come in episodes (one stimulus: several
    micro-expressions to the same video clip); each clip after the first of its class joins
    one of the class's earlier episodes with probability :data:`_SAME_EPISODE_P`. The clips of
    an episode show the same AU combination with the same intensities (each AU varies by
    :data:`_EPISODE_AU_JITTER` between them).

    Ambiguity: exactly ``round(_AMBIGUOUS_RATE x N)`` of the N three-class clips of the (full)
    dataset, chosen at random, show another class's AUs (the subject's style for the other
    class, chosen at random): their label is what the coders estimated, not what moves."""
    three = [
        (i, k) for i, p in enumerate(plans) for k, c in enumerate(p.clips) if c.label in CLASSES
    ]
    rng = _rng(seed, name, 9)
    n_ambiguous = int(round(_AMBIGUOUS_RATE * len(three)))
    flipped = {three[int(j)] for j in rng.choice(len(three), size=n_ambiguous, replace=False)}
    out = []
    for i, p in enumerate(plans):
        crng, hrng = _rng(seed, name, 10, p.index), _rng(seed, name, 11, p.index)
        episodes: dict[str, list[int]] = {label: [] for label in CLASSES}
        drawn: dict[int, tuple[str, np.ndarray, float]] = {}  # episode -> code, factors, apex
        n_episodes = 0
        clips = []
        for k, c in enumerate(p.clips):
            motion, ambiguous = c.motion, (i, k) in flipped
            if c.label in CLASSES and episodes[c.label] and crng.random() < _SAME_EPISODE_P:
                episode = episodes[c.label][int(crng.integers(len(episodes[c.label])))]
            else:
                episode, n_episodes = n_episodes, n_episodes + 1
                if c.label in CLASSES:
                    episodes[c.label].append(episode)
            if ambiguous:
                others = [x for x in CLASSES if x != c.label]
                motion = others[int(crng.integers(len(others)))]
            apex = c.apex
            if ambiguous or episode not in drawn:
                code, factors = _draw_combination(p.style, motion, crng)
                if not ambiguous:
                    drawn[episode] = (code, factors, c.apex / max(c.n - 1, 1))
            else:
                code, factors, share = drawn[episode]
                factors = factors * crng.uniform(*_EPISODE_AU_JITTER, size=len(factors))
                apex = int(np.clip(round(share * (c.n - 1)), 1, max(1, c.n - 2)))
            aus = p.style.aus(code, factors)
            habit = p.style.habit is not None and hrng.random() < _HABIT_CLIP_P
            if habit:
                aus = _merged(aus, p.style.aus(p.style.habit[0]), p.style.habit[1])
            clips.append(
                replace(
                    c,
                    motion=motion,
                    ambiguous=ambiguous,
                    episode=episode,
                    combination=code,
                    habit=habit,
                    aus=aus,
                    apex=apex,
                )
            )
        out.append(replace(p, clips=tuple(clips)))
    return out


def _capped(p: SubjectPlan, cap: int) -> SubjectPlan:
    if cap < 5:
        raise ValueError(f"max_clip_frames must be >= 5, got {cap}")
    clips = []
    for c in p.clips:
        if c.n <= cap:
            clips.append(c)
            continue
        apex = int(np.clip(round(c.apex * (cap - 1) / (c.n - 1)), 1, cap - 2))
        blink = (
            None
            if c.blink is None
            else (min(c.blink[0], cap - min(c.blink[1], cap)), min(c.blink[1], cap))
        )
        clips.append(replace(c, n=cap, apex=apex, blink=blink))
    return replace(p, clips=tuple(clips))


# Layout-specific naming, frame numbers and quirks, applied to the (possibly subset) plan.


# ---------------------------------------------------------------------------------------------
# Pseudo-subjects: neutral face, geometry, expression fields and wrinkles
# ---------------------------------------------------------------------------------------------


@cache
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


@cache
def _grid2(h: int, w: int) -> np.ndarray:
    """The identity map (h, w, 2) of ``cv2.remap`` (x, y per pixel)."""
    g = np.dstack(_grid(h, w))
    g.flags.writeable = False
    return g


@cache
def _dlib_models():
    """dlib's detector and 68-point predictor: the same loaded-once models stage 1 uses."""
    return faces._detector(), faces._predictor()


@cache
def _astronaut() -> tuple[np.ndarray, tuple[float, float], float]:
    """The astronaut photo (BGR float32), its dlib face-box centre and size."""
    from skimage import data

    rgb = data.astronaut()
    detector, _ = _dlib_models()
    box = detector(rgb, 0)[0]
    centre = ((box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.float32)
    bgr.flags.writeable = False
    return bgr, centre, float(box.height())


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _detect(img: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """68 dlib landmarks (x, y) and box (left, top, right, bottom) of the single face, or None."""
    detector, predictor = _dlib_models()
    boxes = detector(img, 0)
    if len(boxes) != 1:
        return None
    b = boxes[0]
    shape = predictor(img, b)
    lm = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    return lm, (b.left(), b.top(), b.right() + 1, b.bottom() + 1)


def _face_frame(lm: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Inter-ocular distance and the face's 'right' and 'down' unit vectors (image coords)."""
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    iod = float(np.linalg.norm(right - left))
    ex = ((right - left) / iod).astype(np.float32)
    ey = np.array([-ex[1], ex[0]], dtype=np.float32)
    return iod, ex, ey


def _place(look: Look, size: tuple[int, int]) -> np.ndarray:
    """The astronaut's face scaled, rotated, mirrored and moved into a frame of ``size``."""
    h, w = size
    src, (cx, cy), box = _astronaut()
    if look.mirror:
        src = src[:, ::-1]
        cx = src.shape[1] - 1 - cx
    k = look.scale * _FACE_FRACTION * h / box
    m = cv2.getRotationMatrix2D((cx, cy), look.rotation, k)
    m[:, 2] += (w / 2 + look.shift[0] * w - cx, 0.48 * h + look.shift[1] * h - cy)
    return cv2.warpAffine(
        np.ascontiguousarray(src), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def _landmark_moves(lm: np.ndarray, look: Look) -> np.ndarray:
    """Target moves (68 x 2 px) of the landmarks for the look's face geometry."""
    iod, ex, ey = _face_frame(lm)
    centre = lm[27:36].mean(0)
    u = (lm - centre) @ ex / iod  # horizontal position in iod, + = image right
    side = np.sign(np.where(np.abs(u) < 0.05, 0, u))[:, None]
    moves = np.zeros_like(lm)
    jaw = np.arange(0, 17)
    moves[jaw] += look.face_width * iod * u[jaw, None] / 2 * ex
    lower = np.arange(4, 13)
    moves[lower] += look.jaw_width * iod * u[lower, None] / 2 * ex
    for i, w in ((6, 0.3), (7, 0.7), (8, 1.0), (9, 0.7), (10, 0.3)):
        moves[i] += look.chin * iod * w * ey
    eyes_brows = np.r_[17:27, 36:48]
    moves[eyes_brows] += look.eye_distance * iod * side[eyes_brows] * ex
    moves[17:27] -= look.brow_height * iod * ey
    for i, w in ((30, 0.6), (31, 1.0), (32, 1.0), (33, 1.0), (34, 1.0), (35, 1.0)):
        moves[i] += look.nose_length * iod * w * ey
    for i, w in (
        (48, 1.0),
        (54, 1.0),
        (49, 0.5),
        (53, 0.5),
        (59, 0.5),
        (55, 0.5),
        (60, 0.8),
        (64, 0.8),
    ):
        moves[i] += look.mouth_width * iod * w * side[i] * ex
    return moves


def _geometry_map(
    lm: np.ndarray, look: Look, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (map_x, map_y) of the smooth warp that moves the landmarks by
    :func:`_landmark_moves`: a Gaussian radial-basis interpolation of the moves, with still
    anchor points on a ring around the face (computed on a coarse grid, then upsampled)."""
    h, w = size
    iod, _, _ = _face_frame(lm)
    centre = lm.mean(0)
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    ring = centre + 2.3 * iod * np.c_[np.cos(angles), 1.2 * np.sin(angles)]
    points = np.vstack([lm, ring]).astype(np.float64)
    moves = np.vstack([_landmark_moves(lm, look), np.zeros_like(ring)]).astype(np.float64)
    sigma = 0.55 * iod
    d2 = ((points[:, None] - points[None]) ** 2).sum(-1)
    weights = np.linalg.solve(np.exp(-d2 / (2 * sigma**2)) + 1e-3 * np.eye(len(points)), moves)
    step = 4
    cy, cx = np.mgrid[0 : h + step : step, 0 : w + step : step].astype(np.float64)
    coarse = np.zeros((*cy.shape, 2))
    for p, wt in zip(points, weights):
        coarse += np.exp(-((cx - p[0]) ** 2 + (cy - p[1]) ** 2) / (2 * sigma**2))[..., None] * wt
    disp = cv2.resize(
        coarse.astype(np.float32),
        (cx.shape[1] * step, cx.shape[0] * step),
        interpolation=cv2.INTER_LINEAR,
    )[:h, :w]
    gx, gy = _grid(h, w)
    return gx - disp[..., 0], gy - disp[..., 1]


@dataclass(frozen=True)
class Motion:
    """What a clip's action units do to a subject's head region (ROI-sized arrays).

    ``field`` (HxWx2, px per px of peak displacement) is the sum of the AUs' displacement fields
    divided by its peak BEFORE the masks, then faded to zero inside (and 1 px around) the eye and
    outer-lip polygons: an AU that moves mostly under a mask (AU12 at the lip corners, AU5 on the
    upper lid) keeps only the small part that shows outside it. ``wrinkles`` (the frame's
    channels) is the AUs' darkening pattern, about 1 at the apex of a unit-intensity AU, scaled
    by the local brightness and faded like the field."""

    aus: AUs
    field: np.ndarray
    wrinkles: np.ndarray

    @property
    def visible(self) -> float:
        """Peak of the field outside the masks (1 = the whole peak displacement shows)."""
        return float(np.linalg.norm(self.field, axis=-1).max())


@dataclass
class Subject:
    """One rendered pseudo-subject: its neutral frame and everything its clips move.

    ``base`` is the lit neutral frame (float32, HxWx3 BGR or HxW gray); ``roi`` = (y0, y1, x0,
    x1) the head region where anything moves; ``landmarks`` the 68 dlib points (x, y) and
    ``box`` the dlib box of the neutral face, ``face_px`` its height; ``mask`` the filled eye
    and outer-lip polygons (HxW bool); ``weight`` (ROI-sized) 0 inside (and 1 px around) the
    masks rising smoothly to 1 outside; ``lum`` the ROI's brightness relative to its median
    (wrinkles darken bright skin more); ``head`` the maps of a 1 px head drift in x and in y
    (ROI-sized HxWx2: 1 px on the head, 0 at the ROI border), ``turn`` the map of a 1 degree
    in-plane head rotation (same fading) and ``blink`` the eye-closing field (inside the eye
    polygons). :meth:`motion` gives the field and wrinkles of any action units.
    """

    plan: SubjectPlan
    base: np.ndarray
    roi: tuple[int, int, int, int]
    landmarks: np.ndarray
    box: tuple[int, int, int, int]
    mask: np.ndarray
    weight: np.ndarray
    lum: np.ndarray
    head: tuple[np.ndarray, np.ndarray]
    turn: np.ndarray
    blink: np.ndarray

    @property
    def face_px(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def look(self) -> Look:
        return self.plan.look

    @property
    def style(self) -> Style:
        return self.plan.style

    @property
    def local_landmarks(self) -> np.ndarray:
        """The landmarks in ROI coordinates."""
        return self.landmarks - np.array([self.roi[2], self.roi[0]], np.float32)

    def motion(self, aus: AUs | str) -> Motion:
        """The :class:`Motion` of action units ``aus`` (a code such as ``'6+12'``: both sides,
        weight 1)."""
        if isinstance(aus, str):
            aus = parse_aus(aus)
        y0, y1, x0, x1 = self.roi
        shape = (y1 - y0, x1 - x0)
        local = self.local_landmarks
        weights = {au: (a, b) for au, a, b in aus}
        raw = _field(weights, local, shape, self.style.bend)
        peak = float(np.linalg.norm(raw, axis=-1).max())
        field = (raw * (self.weight[..., None] / max(peak, 1e-6))).astype(np.float32)
        strongest = max((max(a, b) for _, a, b in aus), default=1.0)
        wr = _wrinkles(weights, local, shape) * (self.weight * self.lum / max(strongest, 1e-6))
        if self.base.ndim == 3:
            wr = np.repeat(wr[..., None], 3, -1)
        return Motion(tuple(aus), field, np.ascontiguousarray(wr, dtype=np.float32))

    def render_roi(
        self,
        motion: Motion | None = None,
        disp: float = 0.0,
        wrinkle: float = 0.0,
        drift: tuple[float, float] = (0.0, 0.0),
        blink: float = 0.0,
        turn: float = 0.0,
    ) -> np.ndarray:
        """The head region with ``disp`` px of ``motion``'s field (peak), ``wrinkle`` grey
        levels of its wrinkles, head drift (dx, dy) px, in-plane head rotation ``turn``
        degrees and eye closure ``blink`` (0-1)."""
        y0, y1, x0, x1 = self.roi
        src = self.base[y0:y1, x0:x1]
        if motion is not None and wrinkle:
            src = cv2.scaleAdd(motion.wrinkles, -float(wrinkle), src)
        m = _grid2(y1 - y0, x1 - x0)
        moved = False
        if motion is not None and disp:
            m, moved = cv2.scaleAdd(motion.field, -float(disp), m), True
        if drift[0] or drift[1]:
            m = cv2.scaleAdd(self.head[0], -float(drift[0]), m)
            m, moved = cv2.scaleAdd(self.head[1], -float(drift[1]), m), True
        if turn:
            m, moved = cv2.scaleAdd(self.turn, -float(turn), m), True
        if blink:
            m, moved = cv2.scaleAdd(self.blink, -float(blink), m), True
        if not moved:
            return np.array(src, dtype=np.float32)
        return cv2.remap(src, m, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def render(
        self,
        motion: Motion | None = None,
        disp: float = 0.0,
        wrinkle: float = 0.0,
        drift: tuple[float, float] = (0.0, 0.0),
        blink: float = 0.0,
        turn: float = 0.0,
    ) -> np.ndarray:
        """The whole frame (float32, no noise, no clipping); see :meth:`render_roi`."""
        out = self.base.copy()
        y0, y1, x0, x1 = self.roi
        out[y0:y1, x0:x1] = self.render_roi(motion, disp, wrinkle, drift, blink, turn)
        return out

    def peak_px(self, amplitude: float, clip: ClipPlan) -> float:
        """Peak displacement (px) of ``clip`` in this subject's frames (before the masks)."""
        return amplitude * self.face_px / REFERENCE_FACE_PX * clip.factor


def make_subject(
    plan_: SubjectPlan, frame_size: Sequence[int], gray: bool = False, seed: int = 0
) -> Subject:
    """Render pseudo-subject ``plan_`` at ``frame_size`` (H, W): place the astronaut, warp its
    geometry, tone, texture and light it, find it with dlib, build its fields and wrinkles.

    If dlib does not find exactly one face, the look's rotation and geometry are halved and
    the subject is tried again (at most 4 times)."""
    size = (int(frame_size[0]), int(frame_size[1]))
    look = plan_.look
    for attempt in range(5):
        found = _neutral(plan_, look, size, gray, seed)
        if found is not None:
            break
        log.debug("subject %s of %s: no face at attempt %d", plan_.id, plan_.dataset, attempt)
        look = replace(
            look,
            rotation=look.rotation / 2,
            **{
                k: getattr(look, k) / 2
                for k in (
                    "face_width",
                    "jaw_width",
                    "chin",
                    "eye_distance",
                    "brow_height",
                    "nose_length",
                    "mouth_width",
                )
            },
        )
    else:
        raise RuntimeError(f"no detectable face for subject {plan_.id} of {plan_.dataset}")
    base, lm, box = found
    return _build_subject(replace(plan_, look=look), base, lm, box)


def _neutral(
    plan_: SubjectPlan, look: Look, size: tuple[int, int], gray: bool, seed: int
) -> tuple[np.ndarray, np.ndarray, tuple] | None:
    h, w = size
    placed = _place(look, size)
    first = _detect(_to_uint8(placed))
    if first is None:
        return None
    mx, my = _geometry_map(first[0], look, size)
    img = cv2.remap(placed, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img = 255.0 * np.power(np.clip(img, 0, 255) / 255.0, look.gamma, dtype=np.float32)
    img *= np.asarray(look.tone, dtype=np.float32)
    face = first[1][3] - first[1][1]
    rng = _rng(seed, plan_.dataset, 4, plan_.index)
    texture = rng.standard_normal((h, w), dtype=np.float32)
    texture = cv2.GaussianBlur(
        texture, (0, 0), max(0.6, look.texture_sigma * face / REFERENCE_FACE_PX)
    )
    texture *= look.texture_sd / max(float(texture.std()), 1e-6)
    img += texture[..., None]
    if gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    gx, gy = _grid(h, w)
    proj = (gx - w / 2) * math.cos(look.light_angle) + (gy - h / 2) * math.sin(look.light_angle)
    gain = 1.0 + look.light_strength * proj / (0.5 * math.hypot(w, h))
    img = (img * (gain if gray else gain[..., None])).astype(np.float32)
    found = _detect(_to_uint8(img))
    if found is None:
        return None
    return img, *found


def _mask(lm: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Filled convex hulls of the eye and outer-lip landmarks, as stage 1 draws them."""
    mask = np.zeros(size, np.uint8)
    hulls = faces.mask_polygons(np.rint(lm).astype(np.int32))
    cv2.fillPoly(mask, hulls, 1, lineType=cv2.LINE_8)
    return mask.astype(bool)


def _roi(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    bw, bh = right - left, bottom - top
    return (
        max(0, int(top - 0.75 * bh)),
        min(size[0], int(bottom + 0.45 * bh) + 1),
        max(0, int(left - 0.55 * bw)),
        min(size[1], int(right + 0.55 * bw) + 1),
    )


def _build_subject(plan_: SubjectPlan, base: np.ndarray, lm: np.ndarray, box: tuple) -> Subject:
    size = base.shape[:2]
    roi = _roi(box, size)
    y0, y1, x0, x1 = roi
    mask = _mask(lm, size)
    local = lm - np.array([x0, y0], np.float32)
    rmask = mask[y0:y1, x0:x1]
    weight = _outside_weight(rmask, local)
    shape = (y1 - y0, x1 - x0)
    lit = base[y0:y1, x0:x1]
    lum = ((lit if lit.ndim == 2 else lit.mean(-1)) / max(float(np.median(lit)), 1.0)).astype(
        np.float32
    )
    bw, bh = box[2] - box[0], box[3] - box[1]
    gx, gy = _grid(*shape)
    cx, cy = (box[0] + box[2]) / 2 - x0, (box[1] + box[3]) / 2 - 0.15 * bh - y0
    r = np.sqrt(((gx - cx) / bw) ** 2 + ((gy - cy) / bh) ** 2)
    t = np.clip((1.0 - r) / 0.25, 0, 1)
    head_weight = (t * t * (3 - 2 * t)).astype(np.float32)
    zero = np.zeros_like(head_weight)
    head = (np.dstack([head_weight, zero]), np.dstack([zero, head_weight]))  # x and y drift maps
    # a 1 degree in-plane rotation about the face centre (the neck below it: the box's bottom)
    px, py = (box[0] + box[2]) / 2 - x0, box[3] - y0
    rad = math.radians(1.0)
    turn = np.dstack([-(gy - py) * rad * head_weight, (gx - px) * rad * head_weight]).astype(
        np.float32
    )
    return Subject(
        plan_,
        base,
        roi,
        lm,
        tuple(int(v) for v in box),
        mask,
        weight,
        lum,
        head,
        turn,
        _blink_field(rmask, local, shape),
    )


def _outside_weight(mask: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """0 inside (and 1 px around) the masked polygons, rising smoothly to 1 outside."""
    iod, _, _ = _face_frame(lm)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
    dist = cv2.distanceTransform((1 - grown).astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(dist / (0.12 * iod), 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def _blink_field(mask: np.ndarray, lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Eye-closing field: inside each eye polygon, content is drawn from the lids (up above the
    eye's centre line, down below it) by up to the distance to the polygon edge."""
    _, _, ey = _face_frame(lm)
    gx, gy = _grid(*shape)
    out = np.zeros((*shape, 2), np.float32)
    for group in (faces.EYE_RIGHT, faces.EYE_LEFT):
        eye = np.zeros(shape, np.uint8)
        cv2.fillPoly(eye, [cv2.convexHull(np.rint(lm[list(group)]).astype(np.int32))], 1)
        dist = cv2.distanceTransform(eye, cv2.DIST_L2, 3)
        c = lm[list(group)].mean(0)
        above = ((gx - c[0]) * ey[0] + (gy - c[1]) * ey[1]) < 0
        sign = np.where(above, 1.0, -1.0).astype(np.float32)
        out += (dist * sign)[..., None] * ey
    return out


# Action units as Gaussian bumps: (centre, displacement vector, sigma), all from landmarks.
# Side 0 is the image-left half (dlib points 17-21, 36-41, 48, 31), side 1 the image-right half.
_SIDES = (
    {
        "inner": (21, 20),
        "mid": 19,
        "outer": (17, 18),
        "eye": tuple(range(36, 42)),
        "corner_eye": 36,
        "corner": 48,
        "wing": 31,
        "jaw": 3,
        "lip": 50,
    },
    {
        "inner": (22, 23),
        "mid": 24,
        "outer": (26, 25),
        "eye": tuple(range(42, 48)),
        "corner_eye": 45,
        "corner": 54,
        "wing": 35,
        "jaw": 13,
        "lip": 52,
    },
)


def _bumps(au: str, side: int, lm: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    iod, ex, ey = _face_frame(lm)
    up, down = -ey, ey
    s = _SIDES[side]
    out_ = -ex if side == 0 else ex  # outward
    in_ = -out_
    corner_out = lm[s["corner"]] - lm[102 - s["corner"]]
    corner_out = corner_out / max(float(np.linalg.norm(corner_out)), 1e-6)
    mouth = lm[48:60].mean(0)
    glabella = 0.5 * (lm[21] + lm[22])
    b: list[tuple[np.ndarray, np.ndarray, float]] = []
    if au == "1":  # inner brow raiser
        for i, w in zip(s["inner"], (1.0, 0.85)):
            b.append((lm[i] + 0.08 * iod * up, w * up, 0.22 * iod))
        b.append((lm[s["mid"]] + 0.08 * iod * up, 0.45 * up, 0.22 * iod))
        b.append((glabella + 0.45 * iod * up + 0.15 * iod * out_, 0.45 * up, 0.3 * iod))
    elif au == "2":  # outer brow raiser
        for i, w in zip(s["outer"], (1.0, 0.9)):
            b.append((lm[i] + 0.08 * iod * up, w * (up + 0.25 * out_), 0.22 * iod))
        b.append((lm[s["mid"]] + 0.08 * iod * up, 0.55 * up, 0.22 * iod))
        b.append((lm[s["outer"][1]] + 0.4 * iod * up, 0.4 * up, 0.3 * iod))
    elif au == "4":  # brow lowerer: down and together
        for i, w in zip(s["inner"], (1.0, 0.85)):
            b.append((lm[i], w * (0.8 * down + 0.6 * in_), 0.22 * iod))
        b.append((lm[s["mid"]], 0.6 * down, 0.22 * iod))
        b.append((lm[s["outer"][1]], 0.35 * down, 0.22 * iod))
        b.append((glabella + 0.1 * iod * out_ + 0.05 * iod * down, 0.5 * in_, 0.12 * iod))
    elif au == "9":  # nose wrinkler
        b.append((lm[s["wing"]] + 0.05 * iod * up, 0.9 * up, 0.16 * iod))
        b.append((lm[28] + 0.22 * iod * out_, 0.6 * (up + in_), 0.14 * iod))
        b.append((lm[s["inner"][0]], 0.35 * down, 0.2 * iod))
    elif au == "10":  # upper lip raiser: skin between nose and upper lip up
        b.append((0.5 * lm[33] + 0.5 * lm[s["lip"]] + 0.12 * iod * out_, 0.8 * up, 0.13 * iod))
        b.append((lm[s["wing"]] + 0.1 * iod * out_ + 0.08 * iod * down, 0.4 * up, 0.15 * iod))
    elif au == "6":  # cheek raiser
        cheek = 0.45 * lm[list(s["eye"])].mean(0) + 0.25 * lm[s["corner"]] + 0.30 * lm[s["jaw"]]
        b.append((cheek + 0.1 * iod * down, up, 0.3 * iod))
        b.append((lm[s["corner_eye"]] + 0.2 * iod * out_, 0.3 * up + 0.4 * in_, 0.12 * iod))
    elif au == "5":  # upper lid raiser: the lid (under the eye mask) and a little skin above it
        lid = 0.5 * (lm[s["eye"][1]] + lm[s["eye"][2]])
        b.append((lid, up, 0.09 * iod))
    elif au == "7":  # lid tightener: the lower lid up and in (mostly under the eye mask)
        lid = 0.5 * (lm[s["eye"][4]] + lm[s["eye"][5]])
        b.append((lid, up + 0.3 * in_, 0.1 * iod))
        b.append((lm[s["corner_eye"]] + 0.05 * iod * out_, 0.3 * in_, 0.08 * iod))
    # Mouth AUs: the movement is centred on the lips, under the outer-lip mask; only its edge
    # (skin around the corners, the chin, the nasolabial fold) shows.
    elif au == "12":  # lip corner puller
        corner = 0.78 * lm[s["corner"]] + 0.22 * mouth
        b.append((corner, 0.8 * corner_out + 0.6 * up, 0.12 * iod))
        fold = 0.5 * (lm[s["wing"]] + lm[s["corner"]]) + 0.12 * iod * corner_out
        b.append((fold, 0.12 * corner_out + 0.2 * up, 0.15 * iod))
    elif au == "14":  # dimpler: the lip corner tightened inward
        corner = 0.8 * lm[s["corner"]] + 0.2 * mouth
        b.append((corner, -0.9 * corner_out, 0.11 * iod))
    elif au == "15":  # lip corner depressor
        corner = 0.8 * lm[s["corner"]] + 0.2 * mouth
        b.append((corner, 0.9 * down + 0.2 * corner_out, 0.12 * iod))
    elif au == "17":  # chin raiser: the lower lip and the chin boss pushed up
        lower = 0.5 * (lm[57] + lm[58 if side == 0 else 56])
        b.append((lower, up, 0.13 * iod))
        b.append(
            (
                0.4 * lm[57] + 0.6 * lm[8] + (-0.12 if side == 0 else 0.12) * iod * ex,
                0.2 * up,
                0.18 * iod,
            )
        )
    elif au == "25":  # lips part: the lower lip down (all under the mask)
        b.append(
            (0.5 * (lm[57] + lm[66]) + (-0.1 if side == 0 else 0.1) * iod * ex, down, 0.1 * iod)
        )
    elif au == "26":  # jaw drop: the lower lip and the chin move down
        b.append(
            (0.5 * (lm[57] + lm[66]) + (-0.12 if side == 0 else 0.12) * iod * ex, down, 0.14 * iod)
        )
        chin = 0.5 * (lm[57] + lm[8]) + (0.15 if side else -0.15) * iod * ex
        b.append((chin, 0.25 * down, 0.25 * iod))
    else:
        raise ValueError(f"no field for action unit {au!r}")
    return b


def _field(
    aus: dict[str, tuple[float, float]],
    lm: np.ndarray,
    shape: tuple[int, int],
    bend: dict[str, tuple[float, float]] | None = None,
) -> np.ndarray:
    """Sum of the action units' Gaussian bumps (each side weighted), in px (not normalised).
    ``bend`` gives per AU the subject's own turn of its movement (degrees, mirror-symmetric:
    positive turns an upward movement outward on both sides) and spread (a factor on the
    bumps' sizes)."""
    field = np.zeros((*shape, 2), np.float32)
    for au, weights in aus.items():
        degrees, spread = (bend or {}).get(au, (0.0, 1.0))
        for side, w in enumerate(weights):
            a = math.radians(degrees) * (-1.0 if side == 0 else 1.0)  # image x: side 0 is left
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
            for centre, vec, sigma in _bumps(au, side, lm):
                vec = rot @ np.asarray(vec, np.float32)
                _add_gaussian(field, centre, sigma * spread, w * vec)
    return field


def _window(shape: tuple[int, int], centre: np.ndarray, radius: float):
    h, w = shape
    x0, x1 = max(0, int(centre[0] - radius)), min(w, int(centre[0] + radius) + 2)
    y0, y1 = max(0, int(centre[1] - radius)), min(h, int(centre[1] + radius) + 2)
    if x0 >= x1 or y0 >= y1:
        return None
    gx, gy = _grid(h, w)
    return (slice(y0, y1), slice(x0, x1)), gx[y0:y1, x0:x1], gy[y0:y1, x0:x1]


def _add_gaussian(out: np.ndarray, centre, sigma: float, value) -> None:
    win = _window(out.shape[:2], centre, 3.5 * sigma)
    if win is None:
        return
    sl, gx, gy = win
    g = np.exp(-((gx - centre[0]) ** 2 + (gy - centre[1]) ** 2) / (2 * sigma**2))
    out[sl] += g[..., None] * value if out.ndim == 3 else g * value


def _wrinkles(
    aus: dict[str, tuple[float, float]], lm: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Darkening pattern (positive = darker) of the action units' skin folds."""
    iod, ex, ey = _face_frame(lm)
    out = np.zeros(shape, np.float32)
    glabella = 0.5 * (lm[21] + lm[22])
    brows = lm[17:27].mean(0)

    def lines(centre, half_u, half_v, period, w, curve=0.0, vertical=False):
        """Parallel thin lines (across ey, or across ex if vertical) in a Gaussian envelope."""
        win = _window(shape, centre, 3.0 * max(half_u, half_v))
        if win is None:
            return
        sl, gx, gy = win
        u = (gx - centre[0]) * ex[0] + (gy - centre[1]) * ex[1]
        v = (gx - centre[0]) * ey[0] + (gy - centre[1]) * ey[1]
        v = v + curve * u * u / iod
        across = u if vertical else v
        pattern = np.maximum(np.cos(2 * np.pi * across / period), 0) ** 6
        env = np.exp(-0.5 * ((u / half_u) ** 2 + (v / half_v) ** 2))
        out[sl] += w * pattern * env

    def fold(a, b, width, w):
        """A dark line along the segment a-b."""
        win = _window(shape, 0.5 * (a + b), 0.5 * float(np.linalg.norm(b - a)) + 3 * width)
        if win is None:
            return
        sl, gx, gy = win
        ab = b - a
        t = np.clip(((gx - a[0]) * ab[0] + (gy - a[1]) * ab[1]) / float(ab @ ab), 0, 1)
        d2 = (gx - a[0] - t * ab[0]) ** 2 + (gy - a[1] - t * ab[1]) ** 2
        out[sl] += w * np.exp(-d2 / (2 * width**2)) * np.sqrt(np.abs(np.sin(np.pi * t)))

    for au, (w0, w1) in aus.items():
        for side, w in enumerate((w0, w1)):
            s = _SIDES[side]
            out_ = -ex if side == 0 else ex
            if au == "1":
                lines(
                    brows - 0.42 * iod * ey + 0.15 * iod * out_,
                    0.3 * iod,
                    0.2 * iod,
                    0.13 * iod,
                    w,
                    curve=0.3,
                )
            elif au == "2":
                lines(
                    lm[s["outer"][1]] - 0.38 * iod * ey,
                    0.25 * iod,
                    0.18 * iod,
                    0.13 * iod,
                    w,
                    curve=0.3,
                )
            elif au == "4":
                a = glabella + 0.07 * iod * out_ - 0.12 * iod * ey
                fold(a, a + 0.3 * iod * ey, 0.025 * iod, 1.2 * w)
            elif au in ("9", "10"):
                lines(
                    lm[28] + 0.1 * iod * out_,
                    0.12 * iod,
                    0.1 * iod,
                    0.07 * iod,
                    w if au == "9" else 0.5 * w,
                )
            elif au == "6":
                c = lm[s["corner_eye"]] + 0.18 * iod * out_
                lines(c, 0.08 * iod, 0.12 * iod, 0.06 * iod, w, vertical=True)
            elif au == "7":  # a fine line under the lower lid
                lid = 0.5 * (lm[s["eye"][4]] + lm[s["eye"][5]])
                lines(lid + 0.14 * iod * ey, 0.14 * iod, 0.04 * iod, 0.06 * iod, 0.6 * w)
            elif au in ("12", "14", "15"):
                corner_out = lm[s["corner"]] - lm[102 - s["corner"]]
                corner_out = corner_out / max(float(np.linalg.norm(corner_out)), 1e-6)
                c = lm[s["corner"]]
                if au == "12":  # a deeper nasolabial fold
                    a = lm[s["wing"]] + 0.12 * iod * out_ - 0.03 * iod * ey
                    fold(a, c + 0.2 * iod * corner_out + 0.12 * iod * ey, 0.035 * iod, 0.7 * w)
                elif au == "14":  # the dimple beside the corner
                    d = c + 0.12 * iod * corner_out
                    fold(d - 0.07 * iod * ey, d + 0.07 * iod * ey, 0.03 * iod, 0.8 * w)
                else:  # a short fold down from the corner
                    a = c + 0.08 * iod * corner_out + 0.05 * iod * ey
                    fold(a, a + 0.25 * iod * ey + 0.05 * iod * corner_out, 0.03 * iod, 0.7 * w)
            elif au == "17":  # the chin boss wrinkles
                chin = 0.4 * lm[57] + 0.6 * lm[8] + 0.1 * iod * out_
                lines(chin, 0.1 * iod, 0.08 * iod, 0.05 * iod, 0.6 * w, vertical=True)
    return out


# ---------------------------------------------------------------------------------------------
# Rendering clips into frames
# ---------------------------------------------------------------------------------------------


def _profile(n: int, apex: int, shape: float = 1.0) -> np.ndarray:
    """Onset -> apex -> offset profile: a raised cosine (to the power ``shape``), 0 at both
    ends and 1 at the apex."""
    t = np.arange(n, dtype=np.float64)
    rise = 0.5 - 0.5 * np.cos(np.pi * t / max(apex, 1))
    fall = 0.5 + 0.5 * np.cos(np.pi * (t - apex) / max(n - 1 - apex, 1))
    return np.clip(np.where(t <= apex, rise, fall), 0, 1) ** shape


class _Renderer:
    """Turns clip plans of one subject into uint8 frames (nuisances included)."""

    _BANK, _PAD = 6, 16

    def __init__(self, subject: Subject, amplitude: float, seed: int):
        self.subject = subject
        self.amplitude = float(amplitude)
        self.scale = subject.face_px / REFERENCE_FACE_PX
        p = subject.plan
        rng = _rng(seed, p.dataset, 5, p.index)
        h, w = subject.base.shape[:2]
        shape = (self._BANK, h + self._PAD, w + self._PAD, *subject.base.shape[2:])
        self.noise_bank = rng.standard_normal(shape, dtype=np.float32) * _NOISE_SD
        self.seed = seed

    def _noise(self, rng: np.random.Generator) -> np.ndarray:
        """Sensor noise for one frame: a random crop of a random noise-bank entry."""
        h, w = self.subject.base.shape[:2]
        b = int(rng.integers(self._BANK))
        y, x = (int(v) for v in rng.integers(0, self._PAD + 1, 2))
        return self.noise_bank[b, y : y + h, x : x + w]

    def clip(
        self,
        clip: ClipPlan,
        start: Sequence[float] = (0.0, 0.0, 0.0),
        exposure: tuple[float, float] | None = None,
    ) -> tuple[list[np.ndarray], tuple[float, float, float]]:
        """Frames onset..offset of one planned clip (or MACRO), and the head pose at its end
        (x, y px, rotation in degrees). ``start`` is the head pose at its start (a missing
        rotation is 0); ``exposure`` the (gain, offset) of the clip (drawn per clip when None;
        CAS(ME)^2 uses one per long video)."""
        s, p = self.subject, self.subject.plan
        start_turn = float(start[2]) if len(start) > 2 else 0.0
        rng = _rng(self.seed, p.dataset, 6, p.index, clip.key)
        if exposure is None:
            exposure = (
                1 + rng.uniform(-_CLIP_GAIN, _CLIP_GAIN),
                rng.uniform(-_CLIP_OFFSET, _CLIP_OFFSET),
            )
        profile = (
            _profile(clip.n, clip.apex, p.style.shape) if clip.label != "rest" else np.zeros(clip.n)
        )
        peak = self.amplitude * self.scale * clip.factor
        depth = _WRINKLE_GL_PER_PX * p.look.wrinkle * self.amplitude * clip.factor
        motion = s.motion(clip.aus) if clip.label != "rest" and clip.aus else None
        closure = np.zeros(clip.n)
        if clip.blink is not None:
            b0, d = clip.blink
            closure[b0 : b0 + d] = rng.uniform(0.6, 1.0) * np.sin(np.pi * (np.arange(d) + 0.5) / d)
        dx, dy, bend = (v * self.scale for v in clip.drift)
        t = np.linspace(0.0, 1.0, clip.n)
        arc = np.sin(np.pi * t)
        path_x = (
            start[0] + dx * t - bend * dy / max(math.hypot(dx, dy), 1e-6) * arc * 0.3 * self.scale
        )
        path_y = (
            start[1] + dy * t + bend * dx / max(math.hypot(dx, dy), 1e-6) * arc * 0.3 * self.scale
        )
        turn = start_turn + (clip.turn - start_turn) * (0.5 - 0.5 * np.cos(np.pi * t))
        out = []
        y0, y1, x0, x1 = s.roi
        for i in range(clip.n):
            roi = s.render_roi(
                motion,
                peak * profile[i],
                depth * profile[i],
                (float(path_x[i]), float(path_y[i])),
                float(closure[i]),
                float(turn[i]),
            )
            noise = self._noise(rng)
            frame = cv2.add(s.base, noise)
            frame[y0:y1, x0:x1] = cv2.add(roi, noise[y0:y1, x0:x1])
            gain = exposure[0] * (
                1 + _FLICKER_SD * float(np.clip(rng.standard_normal(), -2.5, 2.5))
            )
            # saturating round to uint8 (the few values below 0 fold back: dark-level noise)
            out.append(cv2.convertScaleAbs(frame, alpha=float(gain), beta=float(exposure[1])))
        return out, (float(path_x[-1]), float(path_y[-1]), float(turn[-1]))


def _rest(n: int, key: int) -> ClipPlan:
    """A stretch of neutral frames of a CAS(ME)^2 long video (slow drift, no expression)."""
    return ClipPlan("", "rest", "", n, 0, 0, CLASSES[0], 0.0, key, drift=(0.0, 0.0, 0.0))


def _imwrite(path: Path, img: np.ndarray) -> None:
    params = _JPEG if path.suffix.lower() == ".jpg" else []
    if not cv2.imwrite(str(path), img, params):
        raise OSError(f"cv2.imwrite could not write {path}")


def _long_videos(name: str) -> bool:
    """Whether the dataset's clips are cut from long videos (CAS(ME)^2), not one folder each."""
    return bool(getattr(_plugin(name), "STANDIN_LONG_VIDEOS", False))


def _frames_folder(name: str, p: SubjectPlan, c: ClipPlan) -> tuple[str, str]:
    """(folder relative to the dataset root, file name pattern with ``{}`` = frame number),
    from the dataset's plug-in."""
    return _plugin(name).standin_frames(p, c)


@dataclass(frozen=True)
class _Task:
    """One unit of rendering work: some clips (or all long videos) of one subject."""

    name: str
    seed: int
    root: str
    params: dict
    subject: SubjectPlan
    clips: tuple[int, ...]  # indices into subject.clips (not CAS(ME)^2)

    @property
    def frames(self) -> int:
        if _long_videos(self.name):
            return sum(self.subject.video_frames(v) for v in range(len(self.subject.videos)))
        return sum(self.subject.clips[k].n for k in self.clips)

    @property
    def n_clips(self) -> int:
        return sum(self.subject.clips[k].label in (*CLASSES, DROP) for k in self.clips)


_SUBJECT_CACHE: dict[tuple, Subject] = {}


def _cached_subject(task: _Task) -> Subject:
    """The task's subject, rebuilt only when a worker moves on to another subject."""
    size = tuple(task.params["frame_size"])
    key = (task.seed, task.name, task.subject.index, size)
    if key not in _SUBJECT_CACHE:
        _SUBJECT_CACHE.clear()
        _SUBJECT_CACHE[key] = make_subject(
            task.subject,
            size,
            gray=bool(config.dataset_info(task.name).get("gray")),
            seed=task.seed,
        )
    return _SUBJECT_CACHE[key]


def _render_task(task: _Task) -> int:
    """Render and write the frames of one task; return the number of frames written."""
    subject = _cached_subject(task)
    render = _Renderer(subject, task.params["amplitude"], task.seed)
    root = Path(task.root)
    p = task.subject
    written = 0
    if _long_videos(task.name):
        fps = float(config.dataset_info(task.name)["fps"])
        for v, video in enumerate(p.videos):
            rng = _rng(task.seed, task.name, 7, p.index, v)
            exposure = (
                1 + rng.uniform(-_CLIP_GAIN, _CLIP_GAIN),
                rng.uniform(-_CLIP_OFFSET, _CLIP_OFFSET),
            )
            frames: list[np.ndarray] = []
            pos = (0.0, 0.0, 0.0)
            for j, (kind, n) in enumerate(video.segments):
                clip = _rest(n, 5000 + 100 * v + j) if kind == "rest" else p.clips[n]
                new, end = render.clip(clip, tuple(0.7 * v_ for v_ in pos), exposure)
                frames += new
                pos = end
            folder = root / "rawpic" / p.id / video.folder
            folder.mkdir(parents=True, exist_ok=True)
            for i, img in enumerate(frames, start=1):
                _imwrite(folder / f"img{i}.jpg", img)
            written += len(frames)
            if task.params["casme_sq_videos"]:
                _write_video(root / "rawvideo" / p.id / f"{video.folder}.avi", frames, fps)
        return written
    for k in task.clips:
        clip = p.clips[k]
        rel, pattern = _frames_folder(task.name, p, clip)
        folder = root / rel
        folder.mkdir(parents=True, exist_ok=True)
        frames, _ = render.clip(clip)
        for i, img in enumerate(frames):
            _imwrite(folder / pattern.format(clip.start + i), img)
        written += len(frames)
    return written


def _write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"cv2.VideoWriter could not open {path}")
    for img in frames:
        writer.write(img)
    writer.release()


def _tasks(name: str, seed: int, root: Path, params: dict, plans: list[SubjectPlan]) -> list[_Task]:
    out = []
    for p in plans:
        if _long_videos(name):
            out.append(_Task(name, seed, str(root), params, p, tuple(range(len(p.clips)))))
            continue
        chunk: list[int] = []
        frames = 0
        for k, c in enumerate(p.clips):
            if chunk and frames + c.n > _CHUNK_FRAMES:
                out.append(_Task(name, seed, str(root), params, p, tuple(chunk)))
                chunk, frames = [], 0
            chunk.append(k)
            frames += c.n
        if chunk:
            out.append(_Task(name, seed, str(root), params, p, tuple(chunk)))
    return out


def _worker_init() -> None:
    cv2.setNumThreads(1)


def _run_tasks(tasks: list[_Task], workers: int, bars: dict[str, Any]) -> None:
    """Render every task, the costliest first, in ``workers`` processes (spawned: safe even
    when the parent process has started TensorFlow)."""
    order = sorted(tasks, key=lambda t: -t.frames * math.prod(t.params["frame_size"]))
    if workers <= 1 or len(order) < 2:
        for task in order:
            _render_task(task)
            bars[task.name].update(task.n_clips)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(int(workers), mp_context=ctx, initializer=_worker_init) as pool:
        futures = {pool.submit(_render_task, task): task for task in order}
        for future in as_completed(futures):
            future.result()
            task = futures[future]
            bars[task.name].update(task.n_clips)


# ---------------------------------------------------------------------------------------------
# Annotation files, one writer per layout
# ---------------------------------------------------------------------------------------------


def _save_workbook(wb, path: Path) -> None:
    """Save an openpyxl workbook atomically with fixed timestamps (byte-reproducible)."""
    wb.properties.created = _FIXED_TIME
    raw = io.BytesIO()
    wb.save(raw)
    fixed = io.BytesIO()
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps 'modified' at save time
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            dst.writestr(
                zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6]),
                data,
                compress_type=zipfile.ZIP_DEFLATED,
            )
    atomic.write_bytes(path, fixed.getvalue())


def _new_workbook():
    from openpyxl import Workbook

    return Workbook()


def _aus(p: SubjectPlan, c: ClipPlan) -> str:
    """The Action Units cell: the action units the clip shows."""
    return au_code(c.aus)


# Objective classes (Davison et al. 2018) by action units, first match wins; VII = others.
_OBJECTIVE_RULES: tuple[tuple[int, frozenset[str]], ...] = (
    (6, frozenset({"1", "2", "4"})),
    (1, frozenset({"12"})),
    (1, frozenset({"6"})),
    (4, frozenset({"9"})),
    (4, frozenset({"10"})),
    (5, frozenset({"1", "4"})),
    (5, frozenset({"15"})),
    (3, frozenset({"4"})),
    (2, frozenset({"1", "2"})),
    (2, frozenset({"5"})),
    (2, frozenset({"26"})),
    (5, frozenset({"1"})),
    (2, frozenset({"2"})),
    (3, frozenset({"17"})),
)


def _objective(aus: AUs) -> int:
    """The objective class (1-7) of a clip's action units."""
    have = {au for au, _, _ in aus}
    return next((k for k, need in _OBJECTIVE_RULES if need <= have), 7)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _params(
    name: str,
    frame_scale: float = 0.5,
    amplitude: float = DEFAULT_AMPLITUDE,
    subjects: int | None = None,
    max_clip_frames: int | None = None,
    casme_sq_videos: bool = False,
    **legacy: Any,
) -> dict:
    """Validated parameters of one dataset's stand-in, with the derived frame size and number
    of subjects (what the marker records and :func:`generate_all` compares)."""
    if "clip_frames" in legacy:  # the generator before version 2
        warnings.warn(
            "synthetic: clip_frames is deprecated; the clip lengths are the real ones "
            "(use max_clip_frames to cap them)",
            DeprecationWarning,
            stacklevel=3,
        )
        lo_hi = legacy.pop("clip_frames")
        if max_clip_frames is None:
            max_clip_frames = int(lo_hi[1])
    if legacy:
        raise TypeError(
            f"unknown stand-in parameters {sorted(legacy)} (version {GENERATOR_VERSION} "
            "takes frame_scale, amplitude, subjects, max_clip_frames, casme_sq_videos)"
        )
    kit = _plugin(name)
    info = config.dataset_info(name)
    frame_scale = float(frame_scale)
    size = [int(round(v * frame_scale)) for v in info["frame_size"]]
    if min(size) < 120:
        raise ValueError(f"frame_scale {frame_scale} gives {size}: too small for dlib (min 120 px)")
    if not 0 < float(amplitude) <= 50:
        raise ValueError(f"amplitude must be in (0, 50] px, got {amplitude}")
    if max_clip_frames is not None and int(max_clip_frames) < 5:
        raise ValueError(f"max_clip_frames must be >= 5, got {max_clip_frames}")
    n_real = len(real_structure()[name])
    n_subjects = (
        n_real + len(kit.STANDIN_DROP_ONLY) if subjects is None else min(int(subjects), n_real)
    )
    if subjects is not None and int(subjects) < 1:
        raise ValueError(f"subjects must be >= 1, got {subjects}")
    return {
        "frame_scale": frame_scale,
        "frame_size": size,
        "amplitude": float(amplitude),
        "subjects": None if subjects is None else int(subjects),
        "max_clip_frames": None if max_clip_frames is None else int(max_clip_frames),
        "casme_sq_videos": bool(casme_sq_videos),
        "n_subjects": n_subjects,
    }


def _prepare_root(root: Path) -> None:
    """Create ``root``; clear it only if it is empty or holds a (possibly partial) stand-in."""
    if root.exists() and any(root.iterdir()):
        if not ((root / MARKER).exists() or (root / PARTIAL).exists()):
            raise FileExistsError(
                f"{root} exists, is not empty and is not a stand-in "
                f"(no {MARKER} or {PARTIAL}): refusing to overwrite it"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_text(root / PARTIAL, "stand-in generation in progress\n")


def generate(
    name: str,
    root: str | Path,
    seed: int = 0,
    frame_scale: float = 0.5,
    amplitude: float = DEFAULT_AMPLITUDE,
    subjects: int | None = None,
    max_clip_frames: int | None = None,
    casme_sq_videos: bool = False,
    workers: int = 1,
    progress: bool = False,
    **legacy: Any,
) -> Path:
    """Write the stand-in of dataset ``name`` into ``root`` (the dataset's own folder).

    ``frame_scale`` scales the real frame size (``datasets.yaml``; 0.5 gives 240x320, SAMM
    544x1020); ``amplitude`` is the mean peak expression displacement in px on a face 200 px
    tall (scaled to the actual face); ``subjects`` (keep the N subjects with the most clips)
    and ``max_clip_frames`` (cap clip lengths) shrink the dataset for tests only;
    ``casme_sq_videos`` also writes CAS(ME)^2's ``rawvideo/*.avi`` (MJPG); ``workers`` renders
    in that many processes (same files). A non-empty ``root`` that is not a stand-in raises
    ``FileExistsError``; an existing stand-in there is replaced. Returns ``root``.
    """
    params = _params(
        name, frame_scale, amplitude, subjects, max_clip_frames, casme_sq_videos, **legacy
    )
    return _generate({name: Path(root)}, seed, {name: params}, workers, progress)[name]


def _generate(
    roots: dict[str, Path], seed: int, params: dict[str, dict], workers: int, progress: bool
) -> dict[str, Path]:
    """Generate several datasets, rendering all their subjects in one process pool."""
    from tqdm import tqdm

    plans, tasks, bars = {}, [], {}
    for name, root in roots.items():
        prm = params[name]
        plans[name] = plan(name, seed, prm["subjects"], prm["max_clip_frames"])
        _prepare_root(root)
        tasks += _tasks(name, seed, root, prm, plans[name])
        total = sum(c.label in (*CLASSES, DROP) for p in plans[name] for c in p.clips)
        bars[name] = tqdm(total=total, desc=f"stand-in {name}", unit="clip", disable=not progress)
    try:
        _run_tasks(tasks, workers, bars)
    finally:
        for bar in bars.values():
            bar.close()
    for name, root in roots.items():
        quirks = _plugin(name).standin_annotation(root, seed, plans[name])
        atomic.write_json(root / MARKER, _marker(name, seed, params[name], plans[name], quirks))
        (root / PARTIAL).unlink()
        log.info("stand-in %s written to %s", name, root)
    return roots


def _marker(
    name: str, seed: int, params: dict, plans: list[SubjectPlan], quirks: list[str]
) -> dict:
    clips = [c for p in plans for c in p.clips]
    counts = {label: sum(c.label == label for c in clips) for label in CLASSES}
    dropped = {}
    labels = _plugin(name).STANDIN_LABELS
    if DROP in labels:
        spelling = next(iter(labels[DROP])).casefold()
        dropped[f"label {spelling}"] = sum(c.label == DROP for c in clips)
    if _long_videos(name):
        dropped["type macro-expression"] = sum(c.label == MACRO for c in clips)
    return {
        "standin": True,
        "dataset": name,
        "display": config.dataset_info(name)["display"],
        "generator": "mer_utils.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "params": params,
        "expected_counts": counts,
        "dropped_rows": dropped,
        "subjects": [p.id for p in plans],
        "frames": sum(c.n for c in clips)
        + sum(n for p in plans for v in p.videos for kind, n in v.segments if kind == "rest"),
        "ambiguous_clips": sum(c.ambiguous for c in clips),
        "styles": {
            p.id: {
                "preferred": {label: p.style.codes(label) for label in CLASSES},
                "gain": round(p.style.gain, 3),
                "apex_share": round(p.style.apex_share, 3),
                "mirror": p.look.mirror,
            }
            for p in plans
        },
        "quirks": quirks,
        "note": (
            "Synthetic stand-in built from skimage.data.astronaut() by mer_utils.synthetic; "
            "NOT the licensed dataset. Same subjects, clips per class and clip lengths as "
            "the real dataset (subjects.csv); frames scaled by frame_scale."
        ),
    }


def generate_all(
    data_root: str | Path,
    seed: int = 0,
    datasets: Iterable[str] | None = None,
    progress: bool = False,
    workers: int = 2,
    **params: Any,
) -> dict[str, Path]:
    """Generate every dataset (or ``datasets``) into ``data_root/<folder>`` (folder names from
    ``datasets.yaml``); ``params`` are :func:`generate`'s (``frame_scale``, ``amplitude``,
    ``subjects``, ``max_clip_frames``, ``casme_sq_videos``). A dataset whose marker already
    records the same seed, parameters and generator version is kept as is; the others are
    rendered together in ``workers`` processes."""
    names = list(config.datasets() if datasets is None else datasets)
    todo: dict[str, Path] = {}
    resolved: dict[str, dict] = {}
    out = {}
    for name in names:
        root = Path(data_root) / config.dataset_info(name)["folder"]
        resolved[name] = _params(name, **params)
        marker = _read_marker(root)
        if (
            marker
            and marker.get("dataset") == name
            and marker.get("seed") == seed
            and marker.get("params") == resolved[name]
            and marker.get("generator_version") == GENERATOR_VERSION
        ):
            log.info("stand-in %s in %s is up to date", name, root)
        else:
            todo[name] = root
        out[name] = root
    if todo:
        _generate(todo, seed, {n: resolved[n] for n in todo}, workers, progress)
    return out
