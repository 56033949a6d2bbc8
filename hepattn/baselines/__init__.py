"""Baselines the attention models must beat, implemented seriously.

- :mod:`hepattn.baselines.chi2` — the χ² jet–parton assignment for all-hadronic tt̄ (numpy).
- :mod:`hepattn.baselines.chi2_ljets` — the χ² for lepton+jets tt̄ (neutrino p_z from the
  W-mass constraint).
- :mod:`hepattn.baselines.hh_pairing` — HH → 4b pairing by min |m_H1 − m_H2| or ATLAS's D_HH.
- :mod:`hepattn.baselines.pfn` — Particle Flow Network (per-tower MLP Φ → sum → MLP F).
- :mod:`hepattn.baselines.mass_hl` — fully connected network on the jet mass plus the 16
  high-level substructure features of :mod:`hepattn.physics.substructure`.

The names below are imported on first use, so that ``hepattn.baselines.chi2`` (which the
command line reads for its options) does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Chi2Config": "chi2",
    "measure_resolutions": "chi2",
    "solve_chi2": "chi2",
    "Chi2LjetsConfig": "chi2_ljets",
    "solve_chi2_ljets": "chi2_ljets",
    "pair_hh": "hh_pairing",
    "MassHLConfig": "mass_hl",
    "MassHLNet": "mass_hl",
    "mass_hl_inputs": "mass_hl",
    "PFN": "pfn",
    "PFNConfig": "pfn",
}

__all__ = [*_EXPORTS, "count_parameters"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"hepattn.baselines.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'hepattn.baselines' has no attribute {name!r}")


def count_parameters(model, trainable_only: bool = True) -> int:
    """Number of (trainable, by default) parameters of ``model``, each shared tensor once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
