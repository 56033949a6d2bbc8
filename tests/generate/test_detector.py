"""The calorimeter model against hand-computed values (no generator needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepattn.generate.detector import (
    BTAG_WORKING_POINTS,
    Calorimeter,
    btag,
    btag_score,
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
    np.testing.assert_array_equal(calo.keep_ecal(np.array([0.6, 0.45]), np.zeros(2)), [True, False])
    # HCAL: E > 1 and E > 2 sigma(E, eta). Central: E > 2 sigma needs E > 3.776 GeV, so 3.5 is
    # dropped and 4.0 kept; forward (|eta| > 1.7) 2 sigma(2.5) = 2.24 < 2.5 -> kept.
    got = calo.keep_hcal(np.array([3.5, 4.0, 2.5, 0.9]), np.array([0.0, 0.0, 2.0, 2.0]))
    np.testing.assert_array_equal(got, [False, True, True, False])
    # E^2 > 4 sigma^2  <=>  0.99635 E^2 - 1.08368 E - 10.1124 > 0  <=>  E > 3.7757 GeV
    assert 2 * hcal_resolution(3.776, 0.0) < 3.776 and 2 * hcal_resolution(3.775, 0.0) > 3.775


def test_card_grids():
    calo = Calorimeter()
    ecal, hcal = calo.ecal, calo.hcal
    # ECAL barrel: 0.0174 x 1 degree; the cell holding eta = 0.01 is (0, 0.0174]
    e0, e1, p0, p1 = ecal.cell_bounds(ecal.cell_index(np.array([0.01]), np.array([0.3])))
    assert (e0[0], e1[0]) == pytest.approx((0.0, 0.0174))
    assert p1[0] - p0[0] == pytest.approx(math.pi / 180) and p0[0] <= 0.3 < p1[0]
    # end-cap: edges 1.4964 + i * 0.0174; eta = 2.0 lies in (1.9836, 2.001]
    e0, e1, p0, p1 = ecal.cell_bounds(ecal.cell_index(np.array([2.0]), np.array([-3.0])))
    assert (e0[0], e1[0]) == pytest.approx((1.4964 + 28 * 0.0174, 1.4964 + 29 * 0.0174))
    assert p1[0] - p0[0] == pytest.approx(math.pi / 180)
    # ECAL forward cell (2.958, 3.125] has 10 degree bins
    _, _, p0, p1 = ecal.cell_bounds(ecal.cell_index(np.array([3.0]), np.array([0.0])))
    assert p1[0] - p0[0] == pytest.approx(math.pi / 18)
    # HCAL: 0.1 x 10 degrees up to 2.6; (2.6, 2.8] has 20 degree bins
    e0, e1, p0, p1 = hcal.cell_bounds(hcal.cell_index(np.array([0.05, 2.7]), np.array([0.0, 0.0])))
    np.testing.assert_allclose(e0, [0.0, 2.6])
    np.testing.assert_allclose(e1, [0.1, 2.8])
    np.testing.assert_allclose(p1 - p0, [math.pi / 18, math.pi / 9])
    # 1-degree ECAL cells: 84 + 84 end-cap, 171 barrel and (-1.4964, -1.479], |eta| < 2.958
    assert sum(n for n in ecal.n_phi if n == 360) == (84 + 84 + 171 + 1) * 360
    assert ecal.cell_index(np.array([5.1]), np.array([0.0]))[0] == -1
    # every cell index round-trips through its centre
    idx = np.arange(0, ecal.n_cells, 997)
    assert np.array_equal(ecal.cell_index(*ecal.cell_center(idx)), idx)
    idx = np.arange(hcal.n_cells)
    assert np.array_equal(hcal.cell_index(*hcal.cell_center(idx)), idx)


def test_lognormal_mean_and_width():
    rng = np.random.default_rng(0)
    e = np.full(200_000, 50.0)
    sigma = np.full_like(e, 10.0)
    out = lognormal_smear(e, sigma, rng)
    assert out.min() > 0
    assert out.mean() == pytest.approx(50.0, rel=0.005)
    assert out.std() == pytest.approx(10.0, rel=0.01)
    assert lognormal_smear(np.array([0.0]), np.array([1.0]), rng)[0] == 0.0


def test_single_particle_towers():
    calo = Calorimeter(smear_center=False)
    rng = np.random.default_rng(1)
    # a 100 GeV photon at eta = 0 -> one ECAL tower with E smeared by ~1 %
    # a 100 GeV muon and neutrino -> nothing
    px = np.array([100.0, 100.0, 0.0])
    py = np.array([0.0, 0.0, 100.0])
    pz = np.zeros(3)
    towers = calo.towers(np.array([22, 13, 12]), px, py, pz, np.full(3, 100.0), rng)
    assert len(towers) == 1
    assert towers.e[0] == pytest.approx(100.0, abs=5 * ecal_resolution(100.0))
    # cells are (low, high]: eta = 0 lies in (-0.0174, 0]
    assert towers.eta[0] == pytest.approx(-0.0174 / 2)
    assert towers.pt[0] == pytest.approx(towers.e[0] / math.cosh(0.0087))
    # a 100 GeV K0S: 30 GeV in an ECAL tower, 70 GeV in an HCAL tower at the HCAL cell centre
    towers = calo.towers(np.array([310]), np.array([100.0]), np.zeros(1), np.zeros(1),
                         np.array([100.0]), rng)  # fmt: skip
    assert len(towers) == 2
    assert sorted(towers.e) == pytest.approx([30.0, 70.0], rel=0.3)
    assert sorted(towers.eta) == pytest.approx([-0.05, -0.0087])
    # outside the acceptance: nothing
    far = calo.towers(np.array([22]), np.array([1.0]), np.zeros(1), np.array([20.0]),
                      np.array([20.025]), rng)  # fmt: skip
    assert len(far) == 0


def test_fine_ecal_resolves_photons_the_uniform_grid_merges():
    rng = np.random.default_rng(5)
    # two 10 GeV photons 0.03 apart in eta (same 0.1 cell, different ECAL cells)
    eta = np.array([0.305, 0.335])
    args = (np.array([22, 22]), 10 / np.cosh(eta), np.zeros(2), 10 * np.tanh(eta), np.full(2, 10.0))
    assert len(Calorimeter().towers(*args, rng)) == 2
    assert len(Calorimeter.named("uniform").towers(*args, rng)) == 1


def test_towers_placed_inside_their_cell():
    calo = Calorimeter()
    rng = np.random.default_rng(7)
    n = 300
    eta = rng.uniform(-3, 3, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    pt = np.full(n, 50.0)
    p4 = (pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta))
    # photons make ECAL towers only, pions HCAL towers only: one tower per hit cell, each
    # placed inside that cell (not at its centre)
    for pid, grid in ((22, calo.ecal), (211, calo.hcal)):
        towers = calo.towers(np.full(n, pid), *p4, rng)
        cells = np.unique(grid.cell_index(eta, phi))
        assert len(towers) == len(cells)
        np.testing.assert_array_equal(np.unique(grid.cell_index(towers.eta, towers.phi)), cells)
        centre_eta, _ = grid.cell_center(grid.cell_index(towers.eta, towers.phi))
        assert not np.allclose(towers.eta, centre_eta)


def test_towers_shared_cell_and_sorting():
    calo = Calorimeter()
    rng = np.random.default_rng(2)
    # two pions in one HCAL cell sum before smearing; a 20 GeV photon elsewhere
    ids = np.array([211, -211, 22])
    px = np.array([30.0, 30.0, 0.0])
    py = np.array([0.0, 0.001, 20.0])
    towers = calo.towers(ids, px, py, np.zeros(3), np.array([30.0, 30.0, 20.0]), rng)
    assert len(towers) == 2
    assert np.all(np.diff(towers.pt) <= 0)
    assert towers.e[0] == pytest.approx(60.0, abs=5 * hcal_resolution(60.0, 0.0))


def test_jet_energy_scale_and_btag_scores():
    assert jet_energy_scale(np.array([40.0]), np.array([0.0]))[0] == pytest.approx(
        math.sqrt(9 / 40 + 1)
    )
    rng = np.random.default_rng(3)
    n = 200_000
    expected = {5: (0.85, 0.70, 0.60), 4: (0.30, 0.15, 0.095), 0: (0.035, 0.010, 0.0047)}
    for flavour, effs in expected.items():
        score = btag_score(np.full(n, flavour), np.zeros(n), rng)
        assert score.dtype == np.float32 and score.min() >= 0 and score.max() <= 1
        for wp, eff in zip(("loose", "medium", "tight"), effs, strict=True):
            assert btag(score, wp).mean() == pytest.approx(eff, rel=0.05, abs=0.001)
        assert np.array_equal(btag(score), score > BTAG_WORKING_POINTS["medium"])
    # light jets pile up near 0, b jets near 1
    assert np.median(btag_score(np.zeros(n), np.zeros(n), rng)) < 0.05
    assert np.median(btag_score(np.full(n, 5), np.zeros(n), rng)) > 0.95
    assert not btag_score(np.full(100, 5), np.full(100, 2.6), rng).any()


def test_heavy_flavour_codes():
    ids = np.array([511, -521, 5122, 553, 421, -4122, 211, 5, 5101, 2212, 22, 1000521])
    np.testing.assert_array_equal(heavy_flavour(ids), [5, 5, 5, 5, 4, 4, 0, 0, 0, 0, 0, 0])
