"""``generate prongs --detector none``: particle-level jets and the prong truth branches."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.errors import DataError
from hepattn.generate.detector import Calorimeter, ParticleLevel, check_detector
from hepattn.generate.prongs import ProngsConfig


def test_particle_level_keeps_visible_particles_only():
    # ν_e, ν_μ, ν_τ dropped; μ, γ, π⁺, K⁰_L kept with their own energies; pT = 0 dropped
    pdgid = np.array([12, -14, 16, 13, 22, 211, 130, 22])
    px = np.array([5.0, 6.0, 7.0, 3.0, 0.0, 4.0, 1.0, 0.0])
    py = np.array([0.0, 0.0, 0.0, 4.0, 2.0, 0.0, 0.0, 0.0])
    pz = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 3.0, 0.0, 9.0])
    e = np.sqrt(px**2 + py**2 + pz**2 + np.array([0, 0, 0, 0.1057, 0, 0.1396, 0.4976, 0]) ** 2)
    towers = ParticleLevel().towers(pdgid, px, py, pz, e)
    np.testing.assert_allclose(towers.pt, [5.0, 4.0, 2.0, 1.0])  # μ, π⁺, γ, K⁰_L by pT
    np.testing.assert_allclose(towers.e, e[[3, 5, 4, 6]])
    np.testing.assert_allclose(towers.eta[1], np.arcsinh(3.0 / 4.0))
    np.testing.assert_allclose(towers.phi[[0, 2]], [np.arctan2(4.0, 3.0), np.pi / 2])
    # the calorimeter models drop the muon (and the neutrinos): particle level keeps it
    assert len(Calorimeter.named("none").towers(pdgid, px, py, pz, e, None)) == 4


def test_none_is_for_prongs_only():
    check_detector("none")
    assert ProngsConfig(n_jets=1, detector="none").detector == "none"
    with pytest.raises(DataError, match="prong samples only"):
        check_detector("none", particle_level=False)
    from hepattn.generate.ttbar import TtbarConfig

    with pytest.raises(DataError, match="prong samples only"):
        TtbarConfig(n_events=1, detector="none")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same Pythia events (same seed) at particle level and through the card."""
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    from hepattn.generate.prongs import generate_prongs

    out = {}
    for det in ("none", "delphes-atlas"):
        path = tmp_path_factory.mktemp("pl") / f"{det}.root"
        config = ProngsConfig(n_jets=5, seed=7, classes=("1", "8"), contained=True, detector=det)
        generate_prongs(path, config, jobs=1, progress=False)
        out[det] = path
    return out


def _arrays(path):
    with uproot.open(path) as f:
        meta = {k: str(f[k]) for k in ("detector", "detector_config", "hepattn_format")}
        return f["jets"].arrays(), meta


def test_layout_and_metadata_as_the_card(pair):
    a, meta = _arrays(pair["none"])
    b, meta_card = _arrays(pair["delphes-atlas"])
    assert meta["detector"] == "none" and '"name": "none"' in meta["detector_config"]
    assert meta["hepattn_format"] == meta_card["hepattn_format"] == "prongs-v1"
    assert set(a.fields) == set(b.fields)
    assert {"nprong", "prong_pt", "prong_eta", "prong_phi", "prong_e", "prong_pdgid"} <= set(
        a.fields
    )
    assert ak.all((a.jet_pt > 1000) & (a.jet_pt < 1200) & (a.jet_mass > 300) & (a.jet_mass < 700))


def test_jet_is_the_sum_of_its_particles(pair):
    a, _ = _arrays(pair["none"])
    full = ak.to_numpy(a.ntower) < 230  # the stored list is complete
    assert full.any()
    pt, eta, phi, e = a.tower_pt, a.tower_eta, a.tower_phi, a.tower_e
    px = ak.to_numpy(ak.sum(pt * np.cos(phi), axis=1))
    py = ak.to_numpy(ak.sum(pt * np.sin(phi), axis=1))
    pz = ak.to_numpy(ak.sum(pt * np.sinh(eta), axis=1))
    en = ak.to_numpy(ak.sum(e, axis=1))
    mass = np.sqrt(np.maximum(en**2 - px**2 - py**2 - pz**2, 0))
    np.testing.assert_allclose(np.hypot(px, py)[full], ak.to_numpy(a.jet_pt)[full], rtol=1e-4)
    np.testing.assert_allclose(mass[full], ak.to_numpy(a.jet_mass)[full], rtol=1e-3)
    # particles are massive (E ≥ |p|, up to float32 rounding): m² ≥ −(1e-3 E)²
    m2 = ak.flatten(e**2 - (pt * np.cosh(eta)) ** 2)
    assert ak.all(m2 > -((1e-3 * ak.flatten(e)) ** 2))


def test_more_particles_than_towers_and_card_response(pair):
    """Jets found in both files (same event, ΔR < 0.2): at least as many particles as card
    towers (thresholds and cells merge them), and a card pT response near 0.98."""
    a, _ = _arrays(pair["none"])
    b, _ = _arrays(pair["delphes-atlas"])
    ev_b = ak.to_numpy(b.event)
    rows = []
    for i, ev in enumerate(ak.to_numpy(a.event)):
        for j in np.flatnonzero(ev_b == ev):
            dphi = (a.jet_phi[i] - b.jet_phi[j] + np.pi) % (2 * np.pi) - np.pi
            if np.hypot(a.jet_eta[i] - b.jet_eta[j], dphi) < 0.2:
                rows.append((a.ntower[i], b.ntower[j], b.jet_pt[j] / a.jet_pt[i]))
    r = np.asarray(rows, dtype=float)
    assert len(r) >= 5
    assert np.all(r[:, 0] >= r[:, 1])
    assert 0.95 < np.median(r[:, 2]) < 1.0


def test_prong_truth(pair):
    a, _ = _arrays(pair["none"])
    label = ak.to_numpy(a.label)
    nprong = ak.to_numpy(a.nprong)
    assert np.all(nprong[label == 0] == 2)  # QCD: the two hard partons
    assert np.all(nprong[label == 6] == 8)  # X → hh → WW*WW* → 8 quarks
    ids = np.abs(ak.to_numpy(ak.flatten(a.prong_pdgid[label == 6])))
    assert np.all((ids >= 1) & (ids <= 5))
    # contained: every decay quark of an 8-prong jet within ΔR < 1.2 of the axis
    dphi = (a.prong_phi - a.jet_phi + np.pi) % (2 * np.pi) - np.pi
    dr = np.sqrt((a.prong_eta - a.jet_eta) ** 2 + dphi**2)
    assert ak.all(dr[label == 6] < 1.2)
    np.testing.assert_array_equal(ak.to_numpy(ak.sum(dr < 1.2, axis=1)), a.n_contained)
