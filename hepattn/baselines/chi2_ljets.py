"""χ² jet–parton assignment for lepton+jets tt̄ (REFERENCE §6), vectorized in numpy.

Partons (:data:`hepattn.topology.TOPOLOGIES` ``["ttbar-ljets"]``): the hadronic top's
``b_had, q1, q2`` and the leptonic top's ``b_lep`` from the jets, its lepton ``l`` and
neutrino ``nu`` (the MET). Every assignment of four distinct jets to ``(b_had, {q1, q2},
b_lep)`` is scored with

    χ² = (m_q1q2 − m_W)²/σ_W² + (m_b_had q1 q2 − m_t)²/σ_t,had² + (m_ℓ ν b_lep − m_t)²/σ_t,lep²

where the neutrino is ``(MET, p_z^ν)`` with ``p_z^ν`` from the W-mass constraint
(:func:`hepattn.physics.neutrino.neutrino_pz`: both roots, the real part when complex), and
the better of the two solutions is kept per assignment. The smallest χ² wins.

b-tagging as in the all-hadronic χ² (:mod:`hepattn.baselines.chi2`): an event with at least
``min_btags`` tagged jets among the jets used puts ``b_had`` and ``b_lep`` on tagged jets only.

Algorithm: per event, ``m_qq`` for the ``C(n, 2)`` pairs, ``m_bqq`` for the ``n·C(n−1, 2)``
hadronic triplets and ``m_ℓνb`` for the ``n`` jets and both solutions (O(n³)); the hadronic
and leptonic costs add over the table of (triplet, ``b_lep``) with ``b_lep`` outside the
triplet. As the leptonic term depends on ``b_lep`` alone, the best p_z solution is chosen per
jet. Events are grouped by the number of jets used (the ``max_jets`` leading in pT).

Resolutions, measured with :func:`measure_ljets_resolutions` on the truth-matched events of the
lepton+jets validation file (``hepattn generate ttbar --channel ljets -n 5000 --min-jets 4
--seed 203``; not the shipped test sample)::

    python -c "from hepattn.baselines.chi2_ljets import measure_ljets_resolutions; \\
               print(measure_ljets_resolutions('data/ljets_val.root'))"

σ_W = 10.8 GeV and σ_t,had = 19.6 GeV (2,453 reconstructable hadronic tops; medians 78.5 and
163.3 GeV), σ_t,lep = 22.5 GeV (4,240 events with b_lep matched, the p_z root closer to m_t as
the χ² chooses; median 170.7 GeV), each half the 16–84 % inter-quantile range. The masses
stay the PDG ones, as in the all-hadronic χ².
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np

from hepattn.baselines.chi2 import M_T_PDG, M_W_PDG, check_inputs, leading_jets
from hepattn.config import Config, check
from hepattn.errors import DataError
from hepattn.topology import TOPOLOGIES

__all__ = ["Chi2LjetsConfig", "ljets_tables", "solve_chi2_ljets"]

TOPOLOGY = TOPOLOGIES["ttbar-ljets"]
#: Jets the assignment needs (the topology's jet daughters).
N_JETS = sum(TOPOLOGY.orders)


@dataclasses.dataclass(frozen=True)
class Chi2LjetsConfig(Config):
    """Masses, resolutions and options of the lepton+jets χ² (module docstring).

    Attributes:
        m_w, m_t: W and top masses in GeV.
        sigma_w, sigma_t_had, sigma_t_lep: resolutions in GeV.
        min_btags: with at least this many tagged jets, b slots go on tagged jets only.
        btag_threshold: a jet is tagged when ``btag > btag_threshold``.
        max_jets: only the ``max_jets`` highest-pT jets are used (4 … 16).
    """

    m_w: float = M_W_PDG
    m_t: float = M_T_PDG
    sigma_w: float = 10.8
    sigma_t_had: float = 19.6
    sigma_t_lep: float = 22.5
    min_btags: int = 2
    btag_threshold: float = 0.5
    max_jets: int = 10

    def __post_init__(self) -> None:
        where = type(self).__name__
        for name in ("sigma_w", "sigma_t_had", "sigma_t_lep"):
            check(getattr(self, name) > 0, where, f"{name} must be > 0")
        check(N_JETS <= self.max_jets <= 16, where, f"max_jets must be in {N_JETS}..16")
        check(self.min_btags >= 1, where, "min_btags must be >= 1")


@functools.cache
def ljets_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``triplets: int[T, 3]`` (b_had, q1 < q2) and ``assignments: int[A, 2]`` (triplet
    index, b_lep) with b_lep outside the triplet, for ``n`` jets."""
    trip = [(b, i, j) for i, j in itertools.combinations(range(n), 2) for b in range(n)]
    trip = np.array([t for t in trip if t[0] not in t[1:]], dtype=np.int64).reshape(-1, 3)
    tt, bl = np.meshgrid(np.arange(len(trip)), np.arange(n), indexing="ij")
    keep = (trip[tt] != bl[..., None]).all(axis=-1)
    assignments = np.stack([tt[keep], bl[keep]], axis=1)
    for arr in (trip, assignments):
        arr.setflags(write=False)
    return trip, assignments


def _solve_group(p4, lep, met, tagged, cfg: Chi2LjetsConfig):
    """``G`` events of ``n`` jets → (local ``int64[G, 4]`` (b_had, q1, q2, b_lep), χ²,
    the chosen p_z)."""
    from hepattn.physics.kinematics import invariant_mass
    from hepattn.physics.neutrino import neutrino_p4

    g, n, _ = p4.shape
    trip, assignments = ljets_tables(n)
    w = p4[:, trip[:, 1]] + p4[:, trip[:, 2]]  # [G, T, 4]
    cost_had = ((invariant_mass(w) - cfg.m_w) / cfg.sigma_w) ** 2
    cost_had += ((invariant_mass(w + p4[:, trip[:, 0]]) - cfg.m_t) / cfg.sigma_t_had) ** 2
    nu = neutrino_p4(lep, met, cfg.m_w)  # [G, 2, 4]
    lnu_b = (lep[:, None] + nu)[:, None] + p4[:, :, None]  # [G, n, 2, 4]
    cost_sol = ((invariant_mass(lnu_b) - cfg.m_t) / cfg.sigma_t_lep) ** 2  # [G, n, 2]
    sol = np.argmin(cost_sol, axis=2)  # [G, n] (first on ties: the + root)
    cost_lep = np.take_along_axis(cost_sol, sol[..., None], axis=2)[..., 0]  # [G, n]
    if tagged is not None:
        restrict = (tagged.sum(axis=1) >= cfg.min_btags)[:, None]  # [G, 1]
        cost_had = np.where(restrict & ~tagged[:, trip[:, 0]], np.inf, cost_had)
        cost_lep = np.where(restrict & ~tagged, np.inf, cost_lep)
    score = cost_had[:, assignments[:, 0]] + cost_lep[:, assignments[:, 1]]  # [G, A]
    best = np.argmin(score, axis=1)
    chi2 = score[np.arange(g), best]
    a = assignments[best]  # [G, 2]
    local = np.concatenate([trip[a[:, 0]], a[:, 1:]], axis=1)  # [G, 4]
    pz = nu[np.arange(g), sol[np.arange(g), a[:, 1]], 2]
    return local, chi2, pz


def solve_chi2_ljets(
    p4: np.ndarray,
    mask: np.ndarray,
    lepton: np.ndarray,
    met: np.ndarray,
    btag: np.ndarray | None = None,
    config: Chi2LjetsConfig | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """χ²-minimising lepton+jets assignment for each event.

    Args:
        p4: ``float[B, N, 4]`` jets ``(px, py, pz, E)`` in GeV; ``mask: bool[B, N]``.
        lepton: ``float[B, 4]`` the charged lepton; ``met: float[B, 2]`` ``(MET_x, MET_y)``.
        btag: optional ``[B, N]``, tagged when ``> config.btag_threshold``.

    Returns:
        ``assignment int64[B, 6]`` in the parton order of ``ttbar-ljets`` (b_had, q1, q2,
        b_lep, l, nu; jets in the input's order, q1 the higher-pT light jet, ``l = nu = 0``
        the one lepton and MET), ``chi2 float64[B]`` and ``pz float64[B]`` the chosen
        neutrino p_z; events with fewer than 4 real jets: −1, inf and NaN.
    """
    cfg = config if config is not None else Chi2LjetsConfig()
    p4, mask, btag = check_inputs(p4, mask, btag)
    lepton = np.asarray(lepton, dtype=np.float64)
    met = np.asarray(met, dtype=np.float64)
    if lepton.shape != (len(p4), 4) or met.shape != (len(p4), 2):
        raise DataError(
            f"lepton must be [B, 4] and met [B, 2] for B = {len(p4)}, got {lepton.shape} "
            f"and {met.shape}"
        )
    b = len(p4)
    assignment = np.full((b, TOPOLOGY.n_partons), -1, dtype=np.int64)
    chi2 = np.full(b, np.inf)
    pz = np.full(b, np.nan)
    order, n_used, p4_sorted = leading_jets(p4, mask, cfg.max_jets)
    tagged = None if btag is None else np.take_along_axis(btag, order, 1) > cfg.btag_threshold
    cols = [TOPOLOGY.partons.index(p) for p in ("b_had", "q1", "q2", "b_lep")]
    rest = [TOPOLOGY.partons.index(p) for p in ("l", "nu")]
    for n in range(N_JETS, min(cfg.max_jets, p4.shape[1]) + 1):
        ev = np.flatnonzero(n_used == n)
        if not len(ev):
            continue
        t = None if tagged is None else tagged[ev, :n]
        local, c, z = _solve_group(p4_sorted[ev, :n], lepton[ev], met[ev], t, cfg)
        assignment[np.ix_(ev, cols)] = np.take_along_axis(order[ev], local, axis=1)
        assignment[np.ix_(ev, rest)] = 0
        chi2[ev], pz[ev] = c, z
    return assignment, chi2, pz


def measure_ljets_resolutions(
    p4: np.ndarray,
    truth: np.ndarray,
    lepton: np.ndarray,
    met: np.ndarray,
    m_t: float = M_T_PDG,
) -> dict:
    """Robust widths of the three χ² terms from truth-matched jets of lepton+jets events:
    ``m_q1q2`` and ``m_b_had q1 q2`` where the hadronic top is reconstructable, ``m_ℓνb_lep``
    where ``b_lep`` has a jet, with the p_z root closer to ``m_t`` (the χ²'s choice). Each σ
    is half the 16–84 % inter-quantile range, as
    :func:`hepattn.baselines.chi2.measure_resolutions`.

    Args:
        p4: ``float[B, N, 4]`` jets; truth: ``int[B, P]`` jet slots in the parton order of
            ``ttbar-ljets`` (−1 none); lepton: ``float[B, 4]``; met: ``float[B, 2]``
            ``(MET_x, MET_y)`` — e.g. from the matcher's read of a lepton+jets file
            (``ev["jets"].p4``, ``ev.derived["truth"]``, ``ev.derived["lepton_p4"][:, 0]``,
            ``ev.derived["met_p4"][:, 0, :2]``).

    Returns ``{"sigma_w", "sigma_t_had", "sigma_t_lep", "median_w", "median_t_had",
    "median_t_lep": float, "n_had", "n_lep": int}``.
    """
    from hepattn.physics.kinematics import invariant_mass
    from hepattn.physics.neutrino import neutrino_p4

    p4 = np.asarray(p4, np.float64)
    t = np.asarray(truth)
    lep = np.asarray(lepton, np.float64)
    met = np.asarray(met, np.float64)
    i_b, i_q1, i_q2, i_bl = (TOPOLOGY.partons.index(p) for p in ("b_had", "q1", "q2", "b_lep"))
    rows = np.arange(len(t))

    def jet(i: int) -> np.ndarray:
        return p4[rows, np.maximum(t[:, i], 0)]

    had = (t[:, [i_b, i_q1, i_q2]] >= 0).all(axis=1)
    m_qq = invariant_mass(jet(i_q1) + jet(i_q2))[had]
    m_bqq = invariant_mass(jet(i_b) + jet(i_q1) + jet(i_q2))[had]
    m_lnub = invariant_mass((lep + jet(i_bl))[:, None] + neutrino_p4(lep, met))  # [B, 2]
    best = np.argmin(np.abs(m_lnub - m_t), axis=1)
    m_lnub = m_lnub[rows, best][t[:, i_bl] >= 0]

    def width(m: np.ndarray) -> tuple[float, float]:
        if not len(m):
            return float("nan"), float("nan")
        q16, q50, q84 = np.percentile(m, [16, 50, 84])
        return float((q84 - q16) / 2), float(q50)

    (sw, mw), (sth, mth), (stl, mtl) = width(m_qq), width(m_bqq), width(m_lnub)
    return {
        "sigma_w": sw,
        "sigma_t_had": sth,
        "sigma_t_lep": stl,
        "median_w": mw,
        "median_t_had": mth,
        "median_t_lep": mtl,
        "n_had": int(had.sum()),
        "n_lep": len(m_lnub),
    }
