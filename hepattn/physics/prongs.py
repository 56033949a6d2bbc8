"""Truth-level prong physics of a boosted jet: how far apart its decay quarks are, how soft the
softest is, and how many of them a detector of a given granularity can tell apart.

For the n prongs of one jet (decay quarks before the shower; arrays of shape (n,)) with
pseudorapidity η_i, azimuth φ_i and energy E_i:

- ``ΔR_ij = sqrt((η_i − η_j)² + Δφ_ij²)``, Δφ wrapped to (−π, π];
- smallest pairwise distance ``min_{i<j} ΔR_ij`` (∞ for fewer than two prongs);
- smallest energy fraction ``z_min = min_i E_i / Σ_j E_j``;
- prongs resolvable at distance d: the number of groups left when every two prongs closer than
  d are merged, transitively (single linkage: connected components of the graph with an edge
  where ΔR_ij < d). With d = 0.1, the HCAL cell of the Delphes ATLAS card, two prongs in one
  group can fall in one hadronic tower.

Plain numpy functions of one jet; callers loop over jets (a few prongs each).
"""

from __future__ import annotations

import numpy as np

__all__ = ["min_energy_fraction", "min_pair_dr", "pair_dr", "resolvable_prongs"]


def pair_dr(eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Matrix of ΔR_ij = sqrt((η_i − η_j)² + Δφ_ij²), Δφ wrapped to (−π, π]; shape (n, n)."""
    eta = np.asarray(eta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    dphi = phi[:, None] - phi[None, :]
    dphi = np.pi - np.mod(np.pi - dphi, 2.0 * np.pi)  # into (−π, π]
    return np.hypot(eta[:, None] - eta[None, :], dphi)


def min_pair_dr(eta: np.ndarray, phi: np.ndarray) -> float:
    """Smallest ΔR between two of the prongs, ``min_{i<j} ΔR_ij`` (∞ for n < 2)."""
    n = len(eta)
    if n < 2:
        return float("inf")
    d = pair_dr(eta, phi)
    return float(d[np.triu_indices(n, k=1)].min())


def min_energy_fraction(energy: np.ndarray) -> float:
    """``z_min = min_i E_i / Σ_j E_j`` of the prongs (NaN for none, or a zero sum)."""
    e = np.asarray(energy, dtype=np.float64)
    total = e.sum()
    if len(e) == 0 or total <= 0:
        return float("nan")
    return float(e.min() / total)


def resolvable_prongs(eta: np.ndarray, phi: np.ndarray, dr: float) -> int:
    """Number of groups of prongs left after merging every two closer than ``dr``
    (transitively; single linkage). 0 for no prongs."""
    n = len(eta)
    if n == 0:
        return 0
    near = pair_dr(eta, phi) < dr
    group = np.arange(n)
    for _ in range(n):  # propagate the smallest index over the edges until stable
        new = np.array([group[near[i]].min() for i in range(n)])
        if np.array_equal(new, group):
            break
        group = new
    return int(len(np.unique(group)))
