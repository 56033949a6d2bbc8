"""The calorimeter model against hand-computed values (no generator needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepattn.generate.detector import (
    Calorimeter,
    btag,
    ecal_fraction,
    ecal_resolution,
    hcal_resolution,
    jet_energy_scale,
    lognormal_smear,
    visible,
)
from hepattn.generate.pythia import heavy_flavour


def test_ecal_resolution_hand_values():
    # sigma(10) = sqrt((0.017)^2 + 0.010201 * 10) = sqrt(0.000289 + 0.10201)
    assert ecal_resolution(10.0) == pytest.approx(math.sqrt(0.000289 + 0.10201))
    # sigma(100) = sqrt(0.17^2 + 1.0201) = sqrt(0.0289 + 1.0201) = 1.02421...
    assert ecal_resolution(np.array([100.0]))[0] == pytest.approx(math.sqrt(1.049), rel=1e-12)


def test_hcal_resolution_hand_values_and_eta_switch():
    # central, E = 100: sqrt(3.02^2 + 0.5205^2 * 100 + 1.59^2) = sqrt(9.1204 + 27.092 + 2.5281)
    central = math.sqrt(9.1204 + 0.5205**2 * 100 + 2.5281)
    # forward, E = 100: sqrt(5^2 + 0.706^2 * 100) = sqrt(25 + 49.8436)
    forward = math.sqrt(25 + 49.8436)
    got = hcal_resolution(np.array([100.0, 100.0, 100.0, 100.0]), np.array([0.0, 1.7, -1.71, 3.0]))
    np.testing.assert_allclose(got, [central, central, forward, forward], rtol=1e-12)


def test_energy_sharing_table():
    ids = np.array([11, -11, 22, 111, 310, 3122, -3122, 211, -321, 2212, 130, 2112])
    np.testing.assert_array_equal(ecal_fraction(ids), [1, 1, 1, 1, 0.3, 0.3, 0.3, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(
        visible(np.array([12, -14, 16, 13, -13, 22, 211])),
        [False, False, False, False, False, True, True],
    )


def test_thresholds():
    calo = Calorimeter()
    # ECAL: E > 0.5 and E > 2 sigma(E); sigma(0.6) = 0.0783 -> kept; 0.45 below E_min
    # HCAL: E > 1 and E > 2 sigma(E, eta). Central: E > 2 sigma needs E > 3.776 GeV, so 3.5 is
    # dropped and 4.0 kept; forward (|eta| > 1.7) 2 sigma(2.5) = 2.24 < 2.5 -> kept.
    ecal = np.array([0.6, 0.45, 0.0, 0.0, 0.0])
    hcal = np.array([0.0, 0.0, 3.5, 4.0, 2.5])
    eta = np.array([0.0, 0.0, 0.0, 0.0, 2.0])
    np.testing.assert_allclose(calo.threshold(ecal, hcal, eta), [0.6, 0.0, 0.0, 4.0, 2.5])
    # E^2 > 4 sigma^2  <=>  0.99635 E^2 - 1.08368 E - 10.1124 > 0  <=>  E > 3.7757 GeV
    assert 2 * hcal_resolution(3.776, 0.0) < 3.776 and 2 * hcal_resolution(3.775, 0.0) > 3.775


def test_lognormal_mean_and_width():
    rng = np.random.default_rng(0)
    e = np.full(200_000, 50.0)
    sigma = np.full_like(e, 10.0)
    out = lognormal_smear(e, sigma, rng)
    assert out.min() > 0
    assert out.mean() == pytest.approx(50.0, rel=0.005)
    assert out.std() == pytest.approx(10.0, rel=0.01)
    assert lognormal_smear(np.array([0.0]), np.array([1.0]), rng)[0] == 0.0


def test_cells_and_single_particle_towers():
    calo = Calorimeter(smear_center=False)
    assert calo.deta == pytest.approx(0.1)
    eta, phi = calo.cell_center(calo.cell_index(np.array([0.03]), np.array([0.01])))
    assert eta[0] == pytest.approx(0.05) and abs(phi[0] - 0.01) < calo.dphi / 2
    assert calo.cell_index(np.array([3.3]), np.array([0.0]))[0] == -1
    rng = np.random.default_rng(1)
    # a 100 GeV photon at eta = 0 -> one ECAL tower with E smeared by ~1 %
    # a 100 GeV muon and neutrino -> nothing
    px = np.array([100.0, 100.0, 0.0])
    py = np.array([0.0, 0.0, 100.0])
    pz = np.zeros(3)
    towers = calo.towers(np.array([22, 13, 12]), px, py, pz, np.full(3, 100.0), rng)
    assert len(towers) == 1
    assert towers.e[0] == pytest.approx(100.0, abs=5 * ecal_resolution(100.0))
    assert towers.eta[0] == pytest.approx(0.05)
    assert towers.pt[0] == pytest.approx(towers.e[0] / math.cosh(0.05))


def test_towers_shared_cell_and_sorting():
    calo = Calorimeter()
    rng = np.random.default_rng(2)
    # two pions in one cell sum before smearing; a 20 GeV photon elsewhere
    ids = np.array([211, -211, 22])
    px = np.array([30.0, 30.0, 0.0])
    py = np.array([0.0, 0.001, 20.0])
    towers = calo.towers(ids, px, py, np.zeros(3), np.array([30.0, 30.0, 20.0]), rng)
    assert len(towers) == 2
    assert np.all(np.diff(towers.pt) <= 0)
    assert towers.e[0] == pytest.approx(60.0, abs=5 * hcal_resolution(60.0, 0.0))


def test_jet_energy_scale_and_btag_rates():
    assert jet_energy_scale(np.array([40.0]), np.array([0.0]))[0] == pytest.approx(
        math.sqrt(9 / 40 + 1)
    )
    rng = np.random.default_rng(3)
    n = 100_000
    for flavour, eff in ((5, 0.70), (4, 0.15), (0, 0.01)):
        tags = btag(np.full(n, flavour), np.zeros(n), rng)
        assert tags.mean() == pytest.approx(eff, abs=0.01)
    assert not btag(np.full(100, 5), np.full(100, 2.6), rng).any()


def test_heavy_flavour_codes():
    ids = np.array([511, -521, 5122, 553, 421, -4122, 211, 5, 5101, 2212, 22, 1000521])
    np.testing.assert_array_equal(heavy_flavour(ids), [5, 5, 5, 5, 4, 4, 0, 0, 0, 0, 0, 0])
