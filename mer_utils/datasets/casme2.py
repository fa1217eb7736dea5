"""CASME II (Yan et al. 2014): ``CASME2_RAW_selected/subNN/<Filename>/img<N>.jpg`` and a coding
spreadsheet (``CASME2-coding-*.xlsx``...), read by the coding-sheet layout it shares with SAMM
(:mod:`._coded`). Subject ``'01'`` or ``1`` -> ``sub01``; apex ``'/'`` -> ``<NA>``."""

from __future__ import annotations

from ._coded import read

__all__ = ["read"]
