"""Lepton+jets χ²: against a brute force over every assignment and both p_z roots."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hepattn.baselines.chi2_ljets import Chi2LjetsConfig, ljets_tables, solve_chi2_ljets
from hepattn.errors import DataError
from hepattn.physics.kinematics import invariant_mass
from hepattn.physics.neutrino import neutrino_p4
from hepattn.topology import TOPOLOGIES


def brute(p4, mask, lep, met, btag, cfg):
    real = [i for i in range(len(mask)) if mask[i]]
    real = sorted(real, key=lambda i: -np.hypot(*p4[i, :2]))[: cfg.max_jets]
    tagged = {i for i in real if btag is not None and btag[i] > cfg.btag_threshold}
    restrict = len(tagged) >= cfg.min_btags
    nu = neutrino_p4(lep, met, cfg.m_w)
    best = (np.inf, None)
    for bh, q1, q2, bl in itertools.permutations(real, 4):
        if restrict and not {bh, bl} <= tagged:
            continue
        m_w = invariant_mass(p4[q1] + p4[q2])
        m_th = invariant_mass(p4[q1] + p4[q2] + p4[bh])
        lep_terms = [
            ((invariant_mass(lep + n + p4[bl]) - cfg.m_t) / cfg.sigma_t_lep) ** 2 for n in nu
        ]
        c = (
            ((m_w - cfg.m_w) / cfg.sigma_w) ** 2
            + ((m_th - cfg.m_t) / cfg.sigma_t_had) ** 2
            + min(lep_terms)
        )
        if c < best[0] - 1e-12:
            best = (c, (bh, {q1, q2}, bl))
    return best


@pytest.mark.parametrize("with_btag", [False, True])
def test_matches_brute_force(with_btag):
    rng = np.random.default_rng(2)
    b, n = 30, 7
    p = rng.normal(0, 70, (b, n, 3))
    p4 = np.concatenate([p, np.sqrt((p**2).sum(-1) + 36)[..., None]], -1)
    mask = rng.random((b, n)) < 0.8
    lp = rng.normal(0, 40, (b, 3))
    lep = np.concatenate([lp, np.linalg.norm(lp, axis=1, keepdims=True)], 1)
    met = rng.normal(0, 40, (b, 2))
    btag = rng.random((b, n)) if with_btag else None
    cfg = Chi2LjetsConfig(max_jets=6)
    a, chi2, pz = solve_chi2_ljets(p4, mask, lep, met, btag, cfg)
    topo = TOPOLOGIES["ttbar-ljets"]
    for e in range(b):
        if mask[e].sum() < 4:
            assert (a[e] == -1).all() and np.isinf(chi2[e]) and np.isnan(pz[e])
            continue
        want, (bh, qq, bl) = brute(
            p4[e], mask[e], lep[e], met[e], None if btag is None else btag[e], cfg
        )
        assert chi2[e] == pytest.approx(want, rel=1e-9)
        got = dict(zip(topo.partons, a[e].tolist(), strict=True))
        assert (got["b_had"], {got["q1"], got["q2"]}, got["b_lep"]) == (bh, qq, bl)
        assert got["l"] == got["nu"] == 0
        assert pz[e] in neutrino_p4(lep[e], met[e])[:, 2]


def test_tables_and_bad_shapes():
    trip, assignments = ljets_tables(5)
    assert len(trip) == 5 * 6 and len(assignments) == 5 * 6 * 2
    with pytest.raises(DataError, match="lepton must be"):
        solve_chi2_ljets(
            np.zeros((2, 4, 4)), np.ones((2, 4), bool), np.zeros((2, 3)), np.zeros((2, 2))
        )
