"""Synthetic stand-ins for the four micro-expression datasets, in their real on-disk layouts.

The licensed datasets (CASME II, SAMM, SMIC-HS, CAS(ME)^2) may not be redistributed, so the
study's default run reads stand-ins that this package generates. Each stand-in is written in
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
  ``11 + round(47 x Beta(2, 3))`` frames (11-58 frames, i.e. 0.1-0.6 s). Original labels follow
  the real files (CASME II negative = 63 disgust, 27 repression, 4 sadness, 2 fear; SAMM
  negative = 57 Anger, 12 Contempt, 9 Disgust, 8 Fear, 6 Sadness), dealt at random; CASME II's
  so that the MEGC 2019 composite's stricter rule (negative = disgust and repression), with the
  five CASME II clips its list leaves out (named as in the real file), gives the composite's
  per-subject counts too (``mer_utils/data/megc2019_subjects.csv``; :mod:`.layouts.casme2`).
  Frame rates and real frame sizes are in ``datasets.yaml``; ``frame_scale`` scales the frame
  size, never the clips or subjects.
* **Rows the loaders drop**, a few per dataset so that the drop paths stay exercised (the real
  files have many more; the marker lists them): CASME II 8 'others' rows (2 of subject sub18,
  who has only 'others', as in the real file, and one in each of the six largest subjects); SAMM
  8 'Other' rows (2 of subject 025, who has only 'Other'); CAS(ME)^2 4 'others' micro rows (one
  of subject s15, who has only that, and one in each of the three largest subjects) and one
  macro-expression row per long video. Their frames are written too.
* **Pseudo-subjects that differ as people do.** Every subject is the one real face photo a
  required package ships (``skimage.data.astronaut()``) with its own placement, face geometry
  and appearance (:mod:`.looks`), and its own way of expressing each class (:mod:`.style`):
  which action-unit combinations, which side, how strongly, how fast, perhaps a habit that
  carries no class. Clips come in episodes (clips elicited by one stimulus show the same
  combination), and 6 % of the three-class clips show another class's movement, as coders'
  labels and what a face shows sometimes disagree. Because style differs between people,
  recognising an unseen subject is harder than recognising a new clip of a subject already seen.
* **Motion as small as a micro-expression.** Every action unit is a smooth displacement field
  around landmark regions with a FACS-like wrinkle that deepens with it (:mod:`.motion`), zero
  inside the eye and outer-lip polygons that stage 1 blacks out. ``amplitude`` is the peak
  displacement in pixels on a face whose dlib box is 200 px tall (:data:`REFERENCE_FACE_PX`),
  scaled to the actual face; a clip's peak is ``amplitude x face/200 x subject gain x clip
  factor`` (clip factor 0.8-1.2); dropped ('others') clips move at half strength and
  CAS(ME)^2 macro-expressions at four times. The profiles use 3 px; how it was chosen, and what
  it means for what the stand-ins can show, is the book page *The stand-ins*
  (``book/method/standins.md``; measurements from ``benchmarks/calibrate_standins.py`` in
  ``benchmarks/results/``).
* **Nuisances** (:mod:`.nuisances`): head drift, blinks under the eye masks, flicker, exposure
  changes and sensor noise.
* **Quirks** of the real files, written so the loaders are exercised on them: CASME II
  subjects as text ('01') in some rows and numbers in others, one ApexFrame '/' (sub04
  EP12_01f, as in the real file); SAMM's 13 preamble rows, one apex outside onset..offset (a
  clip of subject 028, as in the real v2 file), one Offset Frame '?'; CAS(ME)^2's header-less
  sheets, macro-expression rows (dropped by the loader), one micro row with offset 0 (its apex
  is exactly mid-clip, so apex + (apex - onset) is the true offset), video codes stored as text
  and as numbers; SMIC's unpadded subject folders. ``STANDIN.json`` lists them.
* **Files.** SAMM frames are grayscale JPEG, SMIC frames BMP, the others colour JPEG
  (quality 90); workbooks carry fixed timestamps, so the same seed and parameters give
  byte-identical files, also with several worker processes (:mod:`.seeds`).

Parameters: ``frame_scale`` (quick profile 0.5: 240x320, SAMM 544x1020; paper profile 1.0),
``amplitude``, and, for tests and the smoke profile only, ``subjects`` (keep the N subjects with
the most three-class clips, ties in table order) and ``max_clip_frames`` (cap every clip's
length; the apex moves with it).

**Where what lives**, one step per module:

=====================  =========================================================================
:mod:`.subjects`       the real structure and the plan: subjects, clips, labels, lengths, styles
:mod:`.style`          action-unit combinations per class, a subject's expression style
:mod:`.looks`          a pseudo-subject's face: placement, geometry, appearance, masks, fields
:mod:`.motion`         action-unit displacement fields, wrinkles, the time profile
:mod:`.nuisances`      drift, blinks, flicker, exposure, sensor noise
:mod:`.render`         clips into frames, the worker pool
:mod:`.files`          frames, videos and workbooks with fixed timestamps
:mod:`.write`          parameters, the folder, the marker: :func:`generate`, :func:`generate_all`
:mod:`.layouts`        one module per dataset: names, frame numbers, quirks, annotation files
:mod:`.seeds`          the seeded generators, one stream per kind of draw
=====================  =========================================================================

Whether a folder holds a stand-in, and its expected counts, are read by :mod:`mer_utils.sources`
without importing this package; the dataset readers (:mod:`mer_utils.datasets`) know nothing of
it either.
"""

from __future__ import annotations

from ..sources import MARKER, PARTIAL, expected_counts, is_standin
from .looks import REFERENCE_FACE_PX, Subject, make_subject
from .motion import Motion
from .subjects import (
    DROP,
    MACRO,
    ClipPlan,
    RealSubject,
    SubjectPlan,
    VideoPlan,
    plan,
    real_structure,
)
from .write import DEFAULT_AMPLITUDE, GENERATOR_VERSION, generate, generate_all

__all__ = [
    "DEFAULT_AMPLITUDE",
    "DROP",
    "GENERATOR_VERSION",
    "MACRO",
    "MARKER",
    "PARTIAL",
    "REFERENCE_FACE_PX",
    "ClipPlan",
    "Motion",
    "RealSubject",
    "Subject",
    "SubjectPlan",
    "VideoPlan",
    "expected_counts",
    "generate",
    "generate_all",
    "is_standin",
    "make_subject",
    "plan",
    "real_structure",
]
