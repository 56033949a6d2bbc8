"""Pairwise physics features of particle pairs (a, b), the inputs of the P-MHA interaction.

Particle Transformer (arXiv:2202.03772) biases its attention logits with an embedding of four
symmetric features of every pair of particles, computed from their 4-momenta
``p = (px, py, pz, E)`` in GeV:

========  ===============================================================================
ln Δ      Δ = sqrt((y_a − y_b)² + (φ_a − φ_b)²), the φ difference wrapped to (−π, π]
ln k_T    k_T = min(pT_a, pT_b) · Δ
ln z      z = min(pT_a, pT_b) / (pT_a + pT_b)
ln m²     m² = (E_a + E_b)² − |p_a + p_b|²
========  ===============================================================================

**Transverse-only objects** (the missing transverse momentum, MET, whose p_z and mass are
unknown): a pair with one is computed from the *transverse projections* of both members,
``(px, py, 0, E_T)`` with ``E_T = sqrt(E² − p_z²) = sqrt(pT² + m²)``; then y = 0 for both, so
Δ = |Δφ|, k_T = min(pT) |Δφ|, z is unchanged and m² is the transverse mass squared
``(E_Ta + E_Tb)² − |pT_a + pT_b|²`` (:func:`pair_features` with ``transverse``).

Every logarithm's argument is clamped to ``≥ eps`` (1e-8), so coincident, zero-pT, massless
and padded objects give finite values and finite gradients. The two-particle functions take
4-momenta ``pa`` and ``pb`` of broadcastable shapes ``(..., 4)`` and return ``(...)``;
:func:`pair_features` builds the full ``(B, N, N, K)`` matrix of a padded batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from hepattn.physics.kinematics import EPS, mass2, phi, pt, rapidity, wrap_phi

#: Names accepted by :func:`pair_features`, in ParT's order.
PAIR_FEATURES: tuple[str, ...] = ("ln_delta", "ln_kt", "ln_z", "ln_m2")


def _delta2(ya: Tensor, phia: Tensor, yb: Tensor, phib: Tensor) -> Tensor:
    """``Δ² = (y_a − y_b)² + wrap(φ_a − φ_b)²``."""
    return (ya - yb).square() + wrap_phi(phia - phib).square()


#: Objects whose E² − |p|² is below this fraction of E² are taken as massless: rounding a
#: massless 4-vector to float32 leaves |E² − |p|²| ~ 1e-7 E², noise that ln m² would amplify.
MASSLESS_FRACTION = 1e-5


def _kin(p4: Tensor, eps: float) -> dict[str, Tensor]:
    """Per-object quantities every pair feature is built from (each of shape ``p4[..., 0]``):
    pT, rapidity, φ, m² (0 below :data:`MASSLESS_FRACTION` · E²) and mT = √(pT² + m²)."""
    pt_ = pt(p4, eps)
    m2 = mass2(p4)
    m2 = torch.where(m2 > MASSLESS_FRACTION * p4[..., 3].square(), m2, torch.zeros_like(m2))
    kin = {"p4": p4, "pt": pt_, "y": rapidity(p4, eps), "phi": phi(p4, eps), "m2": m2}
    kin["mt"] = (pt_.square() + m2).sqrt()
    return kin


def _ln_delta(a: dict[str, Tensor], b: dict[str, Tensor], eps: float) -> Tensor:
    # ln Δ = ½ ln max(Δ², eps²): no square root, so no infinite gradient at Δ = 0.
    return 0.5 * _delta2(a["y"], a["phi"], b["y"], b["phi"]).clamp(min=eps * eps).log()


def _ln_kt(a: dict[str, Tensor], b: dict[str, Tensor], eps: float) -> Tensor:
    d = _delta2(a["y"], a["phi"], b["y"], b["phi"]).clamp(min=eps * eps).sqrt()
    return (torch.minimum(a["pt"], b["pt"]) * d).clamp(min=eps).log()


def _ln_z(a: dict[str, Tensor], b: dict[str, Tensor], eps: float) -> Tensor:
    z = torch.minimum(a["pt"], b["pt"]) / (a["pt"] + b["pt"]).clamp(min=eps)
    return z.clamp(min=eps).log()


def _sinh(x: Tensor) -> Tensor:
    """sinh x from ``exp`` (exportable to ONNX opset 17, which has no Sinh), with the series
    x + x³/6 + x⁵/120 for |x| < 0.1, where (eˣ − e⁻ˣ)/2 would lose digits to cancellation
    (the next term, x⁷/5040, is < 2e-11 there)."""
    x2 = x.square()
    series = x * (1 + x2 / 6 * (1 + x2 / 20))
    return torch.where(x.abs() < 0.1, series, 0.5 * (x.exp() - (-x).exp()))


def _ln_m2(a: dict[str, Tensor], b: dict[str, Tensor], eps: float) -> Tensor:
    # m² = m_a² + m_b² + 2 (E_a E_b − p_a·p_b) with, from E = mT cosh y, pz = mT sinh y,
    # E_a E_b − p_a·p_b = 2 mT_a mT_b sinh²(Δy/2) + 2 pT_a pT_b sin²(Δφ/2)
    #                     + (m_a² pT_b² + m_b² pT_a² + m_a² m_b²) / (mT_a mT_b + pT_a pT_b):
    # every term ≥ 0 (no cancellation between large numbers), and exactly 4 m_a² for an
    # object paired with itself (0 for a massless one, whatever its float32 rounding).
    dy = a["y"] - b["y"]
    dphi = wrap_phi(a["phi"] - b["phi"])
    mass_term = (a["m2"] * b["pt"].square() + b["m2"] * a["pt"].square() + a["m2"] * b["m2"]) / (
        a["mt"] * b["mt"] + a["pt"] * b["pt"]
    ).clamp(min=eps)
    cross = (
        2 * a["mt"] * b["mt"] * _sinh(0.5 * dy).square()
        + 2 * a["pt"] * b["pt"] * torch.sin(0.5 * dphi).square()
        + mass_term
    )
    return (a["m2"] + b["m2"] + 2 * cross).clamp(min=eps).log()


_FEATURES: dict[str, Callable[[dict[str, Tensor], dict[str, Tensor], float], Tensor]] = {
    "ln_delta": _ln_delta,
    "ln_kt": _ln_kt,
    "ln_z": _ln_z,
    "ln_m2": _ln_m2,
}


def delta(pa: Tensor, pb: Tensor, eps: float = EPS) -> Tensor:
    """Angular distance ``Δ = sqrt(max((y_a − y_b)² + Δφ², eps²))``, Δφ wrapped to (−π, π].

    Args:
        pa, pb: 4-momenta ``(px, py, pz, E)``, broadcastable shapes ``(..., 4)``.

    Returns:
        ``(...)``. The clamp (Δ ≥ eps) keeps the gradient finite for coincident objects.
    """
    ya, yb = rapidity(pa, eps), rapidity(pb, eps)
    return _delta2(ya, phi(pa, eps), yb, phi(pb, eps)).clamp(min=eps * eps).sqrt()


def ln_delta(pa: Tensor, pb: Tensor, eps: float = EPS) -> Tensor:
    """``ln Δ = ln max(Δ, eps)`` with Δ as in :func:`delta`. Shapes ``(..., 4) → (...)``."""
    return _ln_delta(_kin(pa, eps), _kin(pb, eps), eps)


def ln_kt(pa: Tensor, pb: Tensor, eps: float = EPS) -> Tensor:
    """``ln k_T = ln max(min(pT_a, pT_b) · Δ, eps)``. Shapes ``(..., 4) → (...)``."""
    return _ln_kt(_kin(pa, eps), _kin(pb, eps), eps)


def ln_z(pa: Tensor, pb: Tensor, eps: float = EPS) -> Tensor:
    """``ln z = ln max(min(pT_a, pT_b) / max(pT_a + pT_b, eps), eps)``.

    Shapes ``(..., 4) → (...)``. ``z ≤ ½``, with ``z = ½`` for equal pT.
    """
    return _ln_z(_kin(pa, eps), _kin(pb, eps), eps)


def ln_m2(pa: Tensor, pb: Tensor, eps: float = EPS) -> Tensor:
    """``ln m² = ln max((E_a + E_b)² − |p_a + p_b|², eps)``. Shapes ``(..., 4) → (...)``.

    Evaluated without cancellation (see ``_ln_m2``): an object paired with itself gives
    exactly ``ln max(4 m², eps)``, and a massless one (m² < 1e-5 E²) ``ln eps``, so float32
    rounding of the inputs (e.g. φ shifted by 2π) cannot move it.
    """
    return _ln_m2(_kin(pa, eps), _kin(pb, eps), eps)


def transverse_p4(p4: Tensor, eps: float = EPS) -> Tensor:
    """The transverse projection ``(px, py, 0, E_T)``, ``E_T = sqrt(max(E² − p_z², eps²))``
    (the clamp keeps the gradient finite for a zero 4-vector)."""
    et = (p4[..., 3].square() - p4[..., 2].square()).clamp(min=eps * eps).sqrt()
    return torch.stack([p4[..., 0], p4[..., 1], torch.zeros_like(et), et], dim=-1)


def _matrix(p4: Tensor, features: Sequence[str], eps: float) -> Tensor:
    """``(..., N, N, K)``: the features of every pair (no masking)."""
    kin = _kin(p4, eps)
    # Object a runs along dim -2 of the pair matrix, object b along dim -1.
    a = {k: v.unsqueeze(-1) for k, v in kin.items() if k != "p4"}  # (..., N, 1)
    b = {k: v.unsqueeze(-2) for k, v in kin.items() if k != "p4"}  # (..., 1, N)
    a["p4"], b["p4"] = p4.unsqueeze(-2), p4.unsqueeze(-3)  # (..., N, 1, 4), (..., 1, N, 4)
    return torch.stack([_FEATURES[name](a, b, eps) for name in features], dim=-1)


def pair_features(
    p4: Tensor,
    mask: Tensor | None = None,
    features: Sequence[str] = PAIR_FEATURES,
    eps: float = EPS,
    transverse: Tensor | None = None,
) -> Tensor:
    """Matrix of pairwise features of every pair of objects in a padded batch.

    ``out[..., a, b, k]`` is feature ``features[k]`` (see the module docstring) of objects
    ``a`` and ``b``; the matrix is symmetric in ``(a, b)``. The diagonal holds each object
    paired with itself (Δ = 0, so ``ln Δ = ln eps``).

    Args:
        p4: ``(..., N, 4)`` 4-momenta ``(px, py, pz, E)`` in GeV.
        mask: ``(..., N)`` bool, True for real objects; None means all are real. The 4-momenta
            of padded objects are never read, so they may hold any value, and they receive an
            exactly zero gradient.
        features: names from :data:`PAIR_FEATURES`, in the order wanted.
        eps: lower clamp of every logarithm's argument.
        transverse: ``(..., N)`` bool, True for transverse-only objects (MET): pairs with
            one use both members' transverse projections (module docstring).

    Returns:
        ``(..., N, N, K)`` with ``K = len(features)``; pairs involving a padded object are 0.
    """
    unknown = [name for name in features if name not in _FEATURES]
    if unknown or not features:
        raise ValueError(
            f"unknown pair feature(s) {unknown} (or none requested); choose from {PAIR_FEATURES}"
        )
    if mask is not None:
        # Replace padded 4-vectors by zeros before any arithmetic: garbage there can neither
        # overflow nor send a NaN gradient back through the masked-out branches.
        p4 = p4.masked_fill(~mask.unsqueeze(-1), 0.0)
    out = _matrix(p4, features, eps)  # (..., N, N, K)
    if transverse is not None and transverse.any():
        either = transverse.unsqueeze(-1) | transverse.unsqueeze(-2)  # (..., N, N)
        out = torch.where(either.unsqueeze(-1), _matrix(transverse_p4(p4, eps), features, eps), out)
    if mask is not None:
        pair_mask = mask.unsqueeze(-1) & mask.unsqueeze(-2)  # (..., N, N)
        out = out.masked_fill(~pair_mask.unsqueeze(-1), 0.0)
    return out
