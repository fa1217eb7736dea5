"""mer_utils: the helper package of the micro-expression recognition study.

One module per step of Irawan et al. (2024) and of this study's evaluation, so that every step
has one obvious home; follow one clip from its folder (``datasets``) through ``stage1``, a
``method`` and its ``folds`` to a record (``results``) and a table (``report``):

==================  ==========================================================
module              what it serves
==================  ==========================================================
``datasets``        read the licensed datasets as distributed (+ labels); the
                    MEGC 2019 composite from its parts
``standins``        generate stand-in datasets in the same on-disk layouts
``sources``         where each dataset's data come from; is a folder a stand-in?
``locks``           locks on stand-in folders (one writer, or many readers)
``faces``           stage 1 on one clip: landmarks, eye/mouth masks, crop, gray
``stage1``          stage 1 on a dataset, with the per-clip content cache
``augment``         stage 2a: one random augmentation draw per clip
``balance``         stage 2b: class weights (Eq. 1) and SMOTE
``models``          stage 3: the 3D CNN
``flow``            the optical-flow baseline
``methods``         the methods as typed plug-ins (one module per kind); stage 2's
                    resampling
``protocols``       the splits: clip-level, subject, k-fold, leave-one-subject-out
``profile``         a run profile, resolved once into a typed, frozen object
``folds``           one fold: split, resample, fit, predict; the fold store
``code``            the code a fold depends on (its key's import closure)
``experiment``      a method under its protocols -> records
``metrics``         accuracy, F1, UF1, UAR, the majority baseline
``chance``          the permutation chance level
``intervals``       intervals and paired differences
``schema``          the record tables, checked on every read
``results``         reading and writing the record tables
``reference``       the paper's (and the benchmark's) published numbers
``reconstruction``  which sampling could have printed the paper's numbers
``report``          tables, charts and sentences the book shows
``config``          the YAML tables: labels, layouts, profiles, methods, grid
``atomic``          crash-safe file writes shared by caches and results
``environment``     the environment every process computes in
``build``           what runs the book, a subpackage: the runner, the grid of
                    pages, templates, fingerprints, Dask, the publishing guard,
                    the command line ``python -m mer_utils.build``. Nothing
                    above imports it.
==================  ==========================================================
"""

import os as _os

from .environment import kernel_environment as _kernel_environment

# TensorFlow reads these when it is first imported, so they are set here, before any module of
# this package can import it (a kernel, a Dask worker unpickling a fold task, a test): oneDNN
# kernels on (Conv3D training is 6-10x faster on a CPU; book: environment) and GPU memory
# growth (several processes share one card). A variable the user set keeps their value.
_kernel_environment()
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
