"""Electrons, muons and MET after the Delphes ATLAS card (:mod:`hepattn.generate.leptons`):
efficiency by |η|, smearing, isolation on hand-made particle lists, determinism, MET."""

from __future__ import annotations

import numpy as np
import pytest

from hepattn.generate import leptons
from hepattn.generate.detector import Towers
from hepattn.generate.leptons import LEPTON_MASS, missing_et, reconstruct_leptons

ALWAYS = {11: ((0.0, 1.5, 2.5), (1.0, 1.0)), 13: ((0.0, 1.5, 2.7), (1.0, 1.0))}


def particles(rows):
    """(pdgid, px, py, pz, e) arrays from rows (pdgid, pt, eta, phi, mass)."""
    pdgid, pt, eta, phi, m = (np.asarray(c, dtype=float) for c in zip(*rows, strict=True))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    return pdgid.astype(np.int64), px, py, pz, e


def many(pdgid, n, pt, eta, phi=0.3):
    return particles([(pdgid, pt, eta, phi + 0.001 * i, 0.0) for i in range(n)])


@pytest.mark.parametrize(
    ("pdgid", "eta", "expected"),
    [(11, 1.0, 0.95), (11, -2.0, 0.85), (13, 0.4, 0.95), (-13, 2.6, 0.85), (-11, 0.0, 0.95)],
)
def test_efficiency_by_eta(pdgid, eta, expected):
    rng = np.random.default_rng(1)
    n = 4000
    rec = reconstruct_leptons(*many(pdgid, n, 40.0, eta), rng)
    assert abs(len(rec) / n - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    assert np.all(rec.pdgid == pdgid)


@pytest.mark.parametrize(("pdgid", "eta"), [(11, 2.51), (-11, -2.6), (11, 3.5), (13, 2.71)])
def test_no_lepton_beyond_the_acceptance(pdgid, eta):
    rec = reconstruct_leptons(*many(pdgid, 500, 60.0, eta), np.random.default_rng(2))
    assert len(rec) == 0 and rec.pt.shape == (0,) and rec.isolated.dtype == bool


def test_pt_threshold_and_flavours():
    """Only electrons and muons above 10 GeV are candidates (τ, pions, photons are not)."""
    rows = [(11, 9.9, 0.1, 0.0, 0), (13, 9.0, 0.5, 1.0, 0), (15, 50, 0.2, 2.0, 1.777)]
    rows += [(211, 50, -0.3, -2.0, 0.14), (22, 30, 1.0, 3.0, 0), (12, 60, 0.0, -1.0, 0)]
    assert len(reconstruct_leptons(*particles(rows), np.random.default_rng(0))) == 0


@pytest.mark.parametrize(("pdgid", "eta", "sigma"), [(13, 0.5, 0.02), (-13, 2.0, 0.03)])
def test_muon_pt_resolution(monkeypatch, pdgid, eta, sigma):
    monkeypatch.setattr(leptons, "EFFICIENCY", ALWAYS)
    n = 3000
    rec = reconstruct_leptons(*many(pdgid, n, 50.0, eta), np.random.default_rng(3))
    assert len(rec) == n
    ratio = rec.pt / 50.0
    assert abs(np.mean(ratio) - 1) < 4 * sigma / np.sqrt(n)
    assert abs(np.std(ratio) / sigma - 1) < 0.05
    # direction kept, PDG mass
    assert np.allclose(rec.eta, eta) and np.all(rec.mass == LEPTON_MASS[13])


def test_electron_energy_resolution(monkeypatch):
    monkeypatch.setattr(leptons, "EFFICIENCY", ALWAYS)
    n, e = 3000, 100.0
    rec = reconstruct_leptons(*many(11, n, e, 0.0), np.random.default_rng(4))  # η = 0: E = pT
    sigma = np.sqrt((0.0017 * e) ** 2 + 0.101**2 * e) / e
    assert abs(np.std(rec.pt / e) / sigma - 1) < 0.05
    assert np.all(rec.mass == LEPTON_MASS[11])


def test_sorted_by_pt_charge_and_particle_index(monkeypatch):
    monkeypatch.setattr(leptons, "EFFICIENCY", ALWAYS)
    rows = [(211, 3, 2.0, 2.0, 0.14), (-11, 30, 0.1, 0.0, 0), (13, 80, -1.0, 2.0, 0)]
    rows += [(11, 55, 1.2, -2.0, 0), (-13, 20, 0.5, -0.5, 0)]
    rec = reconstruct_leptons(*particles(rows), np.random.default_rng(5))
    assert rec.pdgid.tolist() == [13, 11, -11, -13]
    assert rec.particle.tolist() == [2, 3, 1, 4]
    assert np.all(np.diff(rec.pt) < 0)
    assert rec.charge.tolist() == [-1, -1, 1, 1]  # charge = -sign(pdgid)
    assert np.all(rec.charge == -np.sign(rec.pdgid))
    mu = rec.select(np.abs(rec.pdgid) == 13)
    assert mu.pdgid.tolist() == [13, -13] and mu.particle.tolist() == [2, 4]


def test_isolation_on_a_hand_made_event(monkeypatch):
    """I = Σ pT of visible non-lepton particles with pT > 0.5 GeV within ΔR < 0.5;
    isolated if I/pT < 0.12 (electrons) or < 0.25 (muons)."""
    monkeypatch.setattr(leptons, "EFFICIENCY", ALWAYS)
    rows = [
        (11, 40.0, 0.0, 0.0, 0),  # e: a 6 GeV pion at ΔR 0.3 → I/pT ≈ 0.15 > 0.12
        (211, 6.0, 0.3, 0.0, 0.14),
        (13, 40.0, 0.0, 2.0, 0),  # μ: a 6 GeV pion at ΔR 0.3 → 0.15 < 0.25
        (-211, 6.0, 0.0, 2.3, 0.14),
        (-11, 40.0, 1.5, -2.0, 0),  # e: 30 GeV pion at ΔR 0.6 (outside), a 50 GeV ν, a 20
        (211, 30.0, 1.5, -1.4, 0.14),  # GeV muon and 3 × 0.4 GeV pions inside: isolated
        (12, 50.0, 1.6, -2.0, 0),
        (-13, 20.0, 1.4, -2.1, 0),
        (111, 0.4, 1.5, -2.1, 0.135),
        (111, 0.4, 1.5, -1.9, 0.135),
        (111, 0.4, 1.6, -2.0, 0.135),
        (-13, 40.0, -1.0, 1.0, 0),  # μ: 11 GeV of photons inside → 0.275 > 0.25
        (22, 5.5, -1.2, 1.0, 0),
        (22, 5.5, -1.0, 1.3, 0),
    ]
    rec = reconstruct_leptons(*particles(rows), np.random.default_rng(6))
    iso = dict(zip(rec.particle.tolist(), rec.isolated.tolist(), strict=True))
    assert iso == {0: False, 2: True, 4: True, 7: True, 11: False}


def test_deterministic_with_a_seeded_rng():
    rows = [(11, 40.0, 0.2 * i, 0.5 * i, 0) for i in range(8)]
    rows += [(-13, 35.0, -0.3 * i, -0.4 * i, 0) for i in range(8)]
    rows += [(211, 2.0, 0.1 * i, 0.2 * i, 0.14) for i in range(20)]
    parts = particles(rows)
    a = reconstruct_leptons(*parts, np.random.default_rng(7))
    b = reconstruct_leptons(*parts, np.random.default_rng(7))
    c = reconstruct_leptons(*parts, np.random.default_rng(8))
    for f in a.__dataclass_fields__:
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert len(a) != len(c) or not np.array_equal(a.pt, c.pt)


def test_random_stream_is_the_documented_one(monkeypatch):
    """One uniform number per candidate (efficiency), then one normal number per kept lepton
    (momentum), in record order."""
    monkeypatch.setattr(leptons, "EFFICIENCY", ALWAYS)
    rows = [(13, 30.0 + 5 * i, 0.1 * i, 0.7 * i, 0) for i in range(6)]
    rows.insert(2, (211, 40.0, 2.0, 1.0, 0.14))
    rec = reconstruct_leptons(*particles(rows), np.random.default_rng(9))
    rng = np.random.default_rng(9)
    rng.random(6)
    z = rng.standard_normal(6)
    cand = [0, 1, 3, 4, 5, 6]
    expected = dict(zip(cand, [(30.0 + 5 * i) * (1 + 0.02 * z[i]) for i in range(6)], strict=True))
    assert sorted(rec.particle.tolist()) == cand
    assert np.allclose(rec.pt, [expected[i] for i in rec.particle])


def test_missing_et_against_a_hand_computation():
    towers = Towers(
        pt=np.array([50.0, 30.0, 10.0]),
        eta=np.array([0.1, -1.0, 2.0]),
        phi=np.array([0.0, np.pi / 2, -2.5]),
        e=np.array([50.3, 46.3, 37.6]),
    )
    rec = leptons.Leptons(
        pt=np.array([40.0, 25.0, 20.0]),
        eta=np.array([0.0, 1.0, -0.5]),
        phi=np.array([np.pi, -np.pi / 2, 1.0]),
        mass=np.array([0.10566, 0.000511, 0.10566]),
        pdgid=np.array([13, -11, -13]),
        isolated=np.array([True, True, False]),
        particle=np.array([0, 1, 2]),
    )
    # -(towers + both muons, isolated or not); the electron is in the towers already
    mx = -(50.0 + 0.0 + 10 * np.cos(-2.5) - 40.0 + 20 * np.cos(1.0))
    my = -(0.0 + 30.0 + 10 * np.sin(-2.5) + 0.0 + 20 * np.sin(1.0))
    met, phi = missing_et(towers, rec)
    assert met == pytest.approx(np.hypot(mx, my)) and phi == pytest.approx(np.arctan2(my, mx))
    # no towers, one muon: MET balances the muon exactly
    empty = Towers(*(np.zeros(0) for _ in range(4)))
    met, phi = missing_et(empty, rec.select(np.array([True, False, False])))
    assert met == pytest.approx(40.0) and abs(phi) == pytest.approx(0.0, abs=1e-12)
    met, _ = missing_et(empty, rec.select(np.zeros(3, bool)))
    assert met == 0.0
