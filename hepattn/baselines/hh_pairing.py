"""HH → b b̄ b b̄ jet pairing baselines (REFERENCE §6), vectorized in numpy.

Four jets are chosen: the four highest-pT b-tagged jets when b-tags are given (the rule of
the all-hadronic χ², :mod:`hepattn.baselines.chi2`: tagged when ``btag > btag_threshold``;
an event with fewer than four tags completes them with its highest-pT untagged jets), else
the four highest-pT jets. They pair into two Higgs candidates in one of three ways; for each
pairing the candidate with the larger scalar sum of jet pT is H1 (ATLAS's convention), and

- ``method="dm"`` (CMS-style): the pairing minimising ``|m_H1 − m_H2|``;
- ``method="dhh"`` (ATLAS resolved): the pairing minimising
  ``D_HH = |m_H1 − (120/110) m_H2| / sqrt(1 + (120/110)²)``, the distance of
  ``(m_H1, m_H2)`` from the line through the origin and (120, 110) GeV (the expected
  reconstructed masses, below m_H = 125 GeV). ATLAS's tie-break between pairings with close
  D_HH (the higher-pT H1 within 30 GeV) is not applied.

The result is in the parton order of ``hh-4b`` (b1, b2 from H1; b3, b4 from H2; within a
Higgs the higher-pT jet first), jet indices in the input's own order.
"""

from __future__ import annotations

import math

import numpy as np

from hepattn.baselines.chi2 import check_inputs
from hepattn.config import ConfigError
from hepattn.topology import TOPOLOGIES

__all__ = ["D_HH_SLOPE", "PAIRINGS", "pair_hh"]

TOPOLOGY = TOPOLOGIES["hh-4b"]
#: Slope of ATLAS's D_HH line, m_H1 / m_H2 = 120 / 110.
D_HH_SLOPE = 120.0 / 110.0
#: The three pairings of four jets (0, 1, 2, 3 in decreasing pT), each ((a, b), (c, d)).
PAIRINGS = np.array([[[0, 1], [2, 3]], [[0, 2], [1, 3]], [[0, 3], [1, 2]]], dtype=np.int64)
METHODS = ("dhh", "dm")


def _choose_jets(p4, mask, btag, threshold) -> np.ndarray:
    """``int64[B, 4]``: the four jets (module docstring), in decreasing pT."""
    pt = np.where(mask, np.hypot(p4[..., 0], p4[..., 1]), -np.inf)  # [B, N]
    untagged = np.ones_like(mask) if btag is None else ~(mask & (btag > threshold))
    four = np.lexsort((-pt, untagged), axis=-1)[:, :4]  # tagged first, each by decreasing pT
    by_pt = np.argsort(-np.take_along_axis(pt, four, 1), axis=1, kind="stable")
    return np.take_along_axis(four, by_pt, 1)


def pair_hh(
    p4: np.ndarray,
    mask: np.ndarray,
    btag: np.ndarray | None = None,
    method: str = "dhh",
    btag_threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair four jets into two Higgs candidates (module docstring).

    Args:
        p4: ``float[B, N, 4]`` jets ``(px, py, pz, E)`` in GeV; ``mask: bool[B, N]``.
        btag: optional ``[B, N]``.
        method: ``"dhh"`` or ``"dm"``.

    Returns:
        ``assignment int64[B, 4]`` (b1, b2, b3, b4) and ``score float64[B]`` (D_HH or
        ``|m_H1 − m_H2|`` in GeV); events with fewer than 4 real jets: −1 and inf.
    """
    from hepattn.physics.kinematics import invariant_mass

    if method not in METHODS:
        raise ConfigError(f"pair_hh: method must be one of {list(METHODS)}, got {method!r}")
    p4, mask, btag = check_inputs(p4, mask, btag)
    b = len(p4)
    assignment = np.full((b, TOPOLOGY.n_partons), -1, dtype=np.int64)
    score = np.full(b, np.inf)
    ev = np.flatnonzero(mask.sum(axis=1) >= 4)
    if not len(ev):
        return assignment, score
    jets = _choose_jets(p4[ev], mask[ev], None if btag is None else btag[ev], btag_threshold)
    j4 = np.take_along_axis(p4[ev], jets[:, :, None], axis=1)  # [E, 4, 4]
    pt = np.hypot(j4[..., 0], j4[..., 1])  # [E, 4]
    m = invariant_mass(j4[:, PAIRINGS].sum(axis=3))  # [E, 3 pairings, 2 candidates]
    ht = pt[:, PAIRINGS].sum(axis=3)  # [E, 3, 2]
    first = np.argmax(ht, axis=2)  # [E, 3]: which candidate is H1 (the first on ties)
    m1 = np.take_along_axis(m, first[..., None], 2)[..., 0]
    m2 = np.take_along_axis(m, 1 - first[..., None], 2)[..., 0]
    if method == "dm":
        s = np.abs(m1 - m2)
    else:
        s = np.abs(m1 - D_HH_SLOPE * m2) / math.sqrt(1 + D_HH_SLOPE**2)
    best = np.argmin(s, axis=1)  # [E]
    rows = np.arange(len(ev))
    pair = PAIRINGS[best]  # [E, 2, 2] positions among the four, each pair in decreasing pT
    h1 = first[rows, best]
    ordered = np.stack([pair[rows, h1], pair[rows, 1 - h1]], axis=1).reshape(-1, 4)
    assignment[ev] = np.take_along_axis(jets, ordered, axis=1)
    score[ev] = s[rows, best]
    return assignment, score
