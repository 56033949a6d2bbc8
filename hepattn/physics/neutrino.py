"""The neutrino of a leptonic W decay from the W-mass constraint (REFERENCE §6).

The neutrino's transverse momentum is the missing transverse momentum, ``p_T^ν = MET``;
its ``p_z`` follows from ``m(ℓν) = m_W``. With massless ν,

    m_W² = m_ℓ² + 2 (E_ℓ E_ν − p_T^ℓ·p_T^ν − p_z^ℓ p_z^ν)

and ``E_ν = sqrt(|p_T^ν|² + p_z^ν²)``, squaring gives a quadratic in ``p_z^ν`` whose roots are

    μ    = (m_W² − m_ℓ²)/2 + p_T^ℓ·p_T^ν            (transverse dot product)
    a    = E_ℓ² − p_z^ℓ²                            (= p_T^ℓ² + m_ℓ²)
    Δ    = μ² p_z^ℓ² − a (E_ℓ² |p_T^ν|² − μ²)
    p_z^ν = (μ p_z^ℓ ± sqrt(Δ)) / a

(for a massless lepton, REFERENCE §6's formula). When ``Δ < 0`` (the measured MET makes
``m_T(ℓν) > m_W``) there is no real solution and both are the real part ``μ p_z^ℓ / a``.
Numpy arrays or torch tensors; shapes broadcast over the leading dimensions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["M_W", "neutrino_p4", "neutrino_pz"]

#: W mass in GeV (PDG, rounded; the χ² baselines' value).
M_W = 80.4


def _xp(a: Any):
    """numpy or torch, whichever ``a`` belongs to."""
    if isinstance(a, np.ndarray):
        return np
    import torch

    return torch


def neutrino_pz(lepton: Any, met: Any, m_w: float = M_W) -> tuple[Any, Any, Any]:
    """Both p_z solutions of the W-mass constraint (module docstring).

    Args:
        lepton: ``(..., 4)`` the charged lepton's ``(px, py, pz, E)`` in GeV.
        met: ``(..., 2)`` the missing transverse momentum ``(px, py)`` in GeV.
        m_w: the W mass in GeV.

    Returns:
        ``(pz_plus, pz_minus, complex)``, each ``(...)``: the ``+`` and ``−`` roots (equal,
        the real part, where ``complex``: Δ < 0).
    """
    xp = _xp(lepton)
    px, py, pz, e = (lepton[..., i] for i in range(4))
    mx, my = met[..., 0], met[..., 1]
    m_l2 = e * e - px * px - py * py - pz * pz
    mu = 0.5 * (m_w * m_w - m_l2) + px * mx + py * my
    a = e * e - pz * pz
    disc = mu * mu * pz * pz - a * (e * e * (mx * mx + my * my) - mu * mu)
    root = xp.sqrt(xp.where(disc > 0, disc, disc * 0))
    centre = mu * pz / a
    return centre + root / a, centre - root / a, disc < 0


def neutrino_p4(lepton: Any, met: Any, m_w: float = M_W) -> Any:
    """``(..., 2, 4)``: the neutrino four-momenta ``(MET_x, MET_y, p_z, |p|)`` of the two
    solutions of :func:`neutrino_pz` (``+`` first)."""
    xp = _xp(lepton)
    plus, minus, _ = neutrino_pz(lepton, met, m_w)
    pz = xp.stack([plus, minus], -1)  # (..., 2)
    mx = xp.stack([met[..., 0]] * 2, -1)
    my = xp.stack([met[..., 1]] * 2, -1)
    e = xp.sqrt(mx * mx + my * my + pz * pz)
    return xp.stack([mx, my, pz, e], -1)  # (..., 2, 4)
