"""Neutrino p_z from the W-mass constraint: hand values, both roots on the W mass, the real
part when complex, numpy and torch alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hepattn.physics.kinematics import invariant_mass
from hepattn.physics.neutrino import M_W, neutrino_p4, neutrino_pz


def test_hand_values_of_both_roots():
    # massless lepton p_T = 30 (along x), p_z = 40, E = 50; MET = 40 along x.
    # μ = 80.4²/2 + 30·40 = 4432.08, a = 50² − 40² = 900,
    # Δ = μ²·40² − 900·(50²·40² − μ²) = 45 508 332 816,
    # p_z = (40 μ ± √Δ) / 900 = 434.01114, −40.04847
    plus, minus, cplx = neutrino_pz(np.array([30.0, 0, 40, 50]), np.array([40.0, 0]))
    assert plus == pytest.approx(434.0111351164284, rel=1e-12)
    assert minus == pytest.approx(-40.0484684497617, rel=1e-12)
    assert not cplx


def test_complex_roots_give_the_real_part():
    # MET = 60 opposite the lepton: m_T = √(2·30·60·2) = 84.9 > m_W, Δ < 0;
    # μ = 3232.08 − 1800 = 1432.08, real part μ p_z / a = 1432.08·40/900 = 63.648
    lep, met = np.array([30.0, 0, 40, 50]), np.array([-60.0, 0])
    plus, minus, cplx = neutrino_pz(lep, met)
    assert cplx and plus == minus == pytest.approx(63.648, rel=1e-12)


def test_both_roots_put_massive_leptons_on_the_w_mass_numpy_and_torch():
    rng = np.random.default_rng(0)
    p = rng.normal(0, 40, (200, 3))
    m_l = np.where(rng.random(200) < 0.5, 0.000511, 0.10566)  # e or μ
    lep = np.concatenate([p, np.sqrt((p**2).sum(1) + m_l**2)[:, None]], 1)
    met = rng.normal(0, 30, (200, 2))
    nu = neutrino_p4(lep, met)  # (200, 2, 4)
    _, _, cplx = neutrino_pz(lep, met)
    m = invariant_mass(lep[:, None] + nu)  # (200, 2)
    assert (~cplx).sum() > 100
    np.testing.assert_allclose(m[~cplx], M_W, rtol=1e-9)
    assert (m[cplx] > 0).all()
    nt = neutrino_p4(torch.from_numpy(lep), torch.from_numpy(met))
    np.testing.assert_allclose(nt.numpy(), nu, rtol=1e-12)
