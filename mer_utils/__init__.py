"""mer_utils: the helper package of the micro-expression recognition study.

One module per stage of Irawan et al. (2024), so that every step of the paper has one
obvious home:

==================  ==========================================================
module              stage
==================  ==========================================================
``datasets``        read the four licensed datasets as distributed (+ labels)
``standins``        generate stand-in datasets in the same on-disk layouts
``sources``         where each dataset's data come from; is a folder a stand-in?
``locks``           locks on stand-in folders (one writer, or many readers)
``faces``           stage 1: landmarks, eye/mouth masks, crop, resize, gray
``augment``         stage 2a: one random augmentation draw per clip
``balance``         stage 2b: class weights (Eq. 1) and SMOTE
``models``          stage 3: the 3D CNN
``protocols``       paper / subject / loso splits
``metrics``         accuracy, precision, recall, F1, UF1, UAR, baselines
``experiment``      one variant under one protocol -> one tidy record
``study``           the papermill runner over the grid (``python -m mer_utils.study``)
``report``          tables and charts the book shows
``config``          the YAML tables: labels, layouts, profiles, variants, grid
``atomic``          crash-safe file writes shared by caches and results
==================  ==========================================================
"""

import os as _os

from .processes import kernel_environment as _kernel_environment

# TensorFlow reads these when it is first imported, so they are set here, before any module of
# this package can import it (a kernel, a Dask worker unpickling a fold task, a test): oneDNN
# kernels on (Conv3D training is 6-10x faster on a CPU; book: environment) and GPU memory
# growth (several processes share one card). A variable the user set keeps their value.
_kernel_environment()
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
