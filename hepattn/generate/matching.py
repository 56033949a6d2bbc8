"""Angular distance and unique parton–jet matching.

ΔR = √(Δη² + Δφ²) with Δφ wrapped into [−π, π].

Matching is greedy on the global ΔR matrix: the closest (parton, jet) pair is matched first,
both are removed, and the next closest remaining pair is taken, until no pair is closer than
``max_dr``. Each parton gets at most one jet and each jet at most one parton.
"""

from __future__ import annotations

import numpy as np

__all__ = ["delta_phi", "delta_r", "match_unique"]


def delta_phi(phi1: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """φ1 − φ2 wrapped into [−π, π); arrays broadcast."""
    return np.mod(np.asarray(phi1) - np.asarray(phi2) + np.pi, 2 * np.pi) - np.pi


def delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """ΔR = √(Δη² + Δφ²); arrays broadcast."""
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), delta_phi(phi1, phi2))


def match_unique(
    parton_eta: np.ndarray,
    parton_phi: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    max_dr: float = 0.4,
) -> tuple[np.ndarray, np.ndarray]:
    """Match partons (shape (P,)) to jets (shape (J,)) uniquely, globally closest pair first.

    Returns ``(parton_jet, jet_parton)``: int32 arrays of shape (P,) and (J,) holding the index
    of the matched jet (parton), or −1. A pair is matched only if ΔR < ``max_dr``.
    """
    n_p, n_j = len(parton_eta), len(jet_eta)
    parton_jet = np.full(n_p, -1, dtype=np.int32)
    jet_parton = np.full(n_j, -1, dtype=np.int32)
    if n_p == 0 or n_j == 0:
        return parton_jet, jet_parton
    dr = delta_r(
        np.asarray(parton_eta)[:, None],
        np.asarray(parton_phi)[:, None],
        np.asarray(jet_eta)[None, :],
        np.asarray(jet_phi)[None, :],
    ).astype(np.float64)
    for _ in range(min(n_p, n_j)):
        flat = int(np.argmin(dr))
        i, j = divmod(flat, n_j)
        if not dr[i, j] < max_dr:
            break
        parton_jet[i], jet_parton[j] = j, i
        dr[i, :] = np.inf
        dr[:, j] = np.inf
    return parton_jet, jet_parton
