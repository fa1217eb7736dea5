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

# TensorFlow's oneDNN kernels are off by default in this build, and Conv3D training is 6-10x
# faster with them on (shared reference: environment.md). The flag is read when TensorFlow is
# first imported, so it is set here, before any module of this package can import it.
# A user who sets the variable explicitly (to 0 or 1) keeps their choice.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
