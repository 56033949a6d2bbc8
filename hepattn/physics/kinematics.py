"""Per-object kinematics from Cartesian 4-momenta ``p4 = (px, py, pz, E)`` in GeV.

Every function takes a tensor of shape ``(..., 4)`` and returns a tensor of shape ``(...)``;
:func:`mass2` and :func:`invariant_mass` — the one invariant-mass function of hepattn, used by
the χ² baseline and the substructure observables alike — also take numpy arrays. They are
written for padded batches: zero 4-vectors (padding) and zero-pT objects give finite
values *and* finite gradients, because every square root, logarithm and ``atan2`` is guarded
against its singular point.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

#: Lower clamp of every logarithm's (and guarded square root's) argument.
EPS = 1e-8


def pt2(p4: Tensor) -> Tensor:
    """Squared transverse momentum, ``pT² = px² + py²``."""
    return p4[..., 0].square() + p4[..., 1].square()


def pt(p4: Tensor, eps: float = EPS) -> Tensor:
    """Transverse momentum, ``pT = sqrt(max(px² + py², eps²))``.

    The clamp keeps the gradient finite at ``pT = 0`` (it is zero there); below ``eps`` the
    value is ``eps`` rather than 0.
    """
    return pt2(p4).clamp(min=eps * eps).sqrt()


def phi(p4: Tensor, eps: float = EPS) -> Tensor:
    """Azimuth, ``φ = atan2(py, px)`` in (−π, π].

    Objects with ``pT² < eps²`` get ``φ = 0`` and a zero gradient (``atan2`` has none at the
    origin).
    """
    px, py = p4[..., 0], p4[..., 1]
    small = pt2(p4) < eps * eps
    # Evaluate atan2 at (0, 1) instead of (0, 0) so that its backward stays finite.
    return torch.atan2(
        torch.where(small, torch.zeros_like(py), py),
        torch.where(small, torch.ones_like(px), px),
    )


def rapidity(p4: Tensor, eps: float = EPS) -> Tensor:
    """Rapidity, ``y = ½ ln(max(E + pz, eps) / max(E − pz, eps))``.

    A zero 4-vector gets ``y = 0``. The clamps bound ``|y|`` for (unphysical) ``|pz| ≥ E``.
    """
    e, pz = p4[..., 3], p4[..., 2]
    return 0.5 * ((e + pz).clamp(min=eps).log() - (e - pz).clamp(min=eps).log())


def mass2(p4: Tensor | np.ndarray) -> Tensor | np.ndarray:
    """Squared invariant mass, ``m² = E² − px² − py² − pz²`` (may be slightly negative);
    a torch tensor or a numpy array."""
    e, p = p4[..., 3], p4[..., :3]
    return e * e - (p * p).sum(-1)


def invariant_mass(p4: Tensor | np.ndarray) -> Tensor | np.ndarray:
    """Invariant mass ``m = sqrt(max(E² − |p|², 0))`` of ``p4 (..., 4)``: shape ``(...)``, a
    torch tensor or a numpy array like the input. Sum the four-vectors first for the mass of
    a system (``invariant_mass(p4[:, [b, q1, q2]].sum(1))``)."""
    m2 = mass2(p4)
    if isinstance(m2, Tensor):
        return m2.clamp(min=0.0).sqrt()
    return np.sqrt(np.maximum(m2, 0.0))


def pt_eta_phi_e(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(pT, η, φ, E)`` in float64 of numpy four-momenta ``p4 (..., 4)`` = (px, py, pz, E):
    ``pT = hypot(px, py)``, ``η = asinh(pz / pT)`` (pT floored at 1e-9), ``φ = atan2(py, px)``."""
    p4 = np.asarray(p4, dtype=np.float64)
    pt_ = np.hypot(p4[..., 0], p4[..., 1])
    eta = np.arcsinh(p4[..., 2] / np.maximum(pt_, 1e-9))
    return pt_, eta, np.arctan2(p4[..., 1], p4[..., 0]), p4[..., 3]


def wrap_phi(dphi: Tensor) -> Tensor:
    """Wrap an angle difference into (−π, π]: ``Δφ − 2π·ceil((Δφ − π) / 2π)``."""
    return dphi - (2.0 * math.pi) * torch.ceil((dphi - math.pi) / (2.0 * math.pi))
