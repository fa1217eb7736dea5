"""SAMM (Davison et al. 2018): ``<Subject>/<Filename>/<Subject>_<5 digits>.jpg`` and sheet
``MICRO_ONLY`` of ``SAMM_Micro_FACS_Codes_v2.xlsx``, whose header row (13 preamble rows in v2) is
found by content; read by the coding-sheet layout it shares with CASME II (:mod:`._coded`)."""

from __future__ import annotations

from ._coded import read

__all__ = ["read"]
