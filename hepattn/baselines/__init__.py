"""Baselines the attention models must beat, implemented seriously.

- :mod:`hepattn.baselines.pfn` — Particle Flow Network (per-tower MLP Φ → sum → MLP F).
- :mod:`hepattn.baselines.mass_hl` — fully connected network on the jet mass plus the 16
  high-level substructure features of :mod:`hepattn.physics.substructure`.
"""

from __future__ import annotations

from torch import nn

from hepattn.baselines.mass_hl import MassHLConfig, MassHLNet, mass_hl_inputs
from hepattn.baselines.pfn import PFN, PFNConfig


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable, by default) parameters of ``model``, each shared tensor once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = [
    "PFN",
    "MassHLConfig",
    "MassHLNet",
    "PFNConfig",
    "count_parameters",
    "mass_hl_inputs",
]

from hepattn.baselines.chi2 import Chi2Config, measure_resolutions, solve_chi2  # noqa: E402

__all__ += ["Chi2Config", "measure_resolutions", "solve_chi2"]
