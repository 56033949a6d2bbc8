"""Lepton+jets ttbar generation (``TtbarConfig(channel="ljets")``): the lepton selection, the
parton order (b_had, q1, q2, b_lep, l, nu), W charges by chunk, labels, MET, electron-jet
overlap removal; ``ljets_partons`` on hand-made decay records."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from hepattn.errors import DataError  # noqa: E402
from hepattn.generate import ttbar  # noqa: E402
from hepattn.generate.matching import delta_r  # noqa: E402
from hepattn.generate.ttbar import (  # noqa: E402
    LJETS_BRANCHES,
    LJETS_SETTINGS,
    TtbarConfig,
    generate_ttbar,
    ljets_partons,
    top_partons,
)
from tests.generate.test_ttbar import JET, PARTON  # noqa: E402

EVENTS, CHUNK = 40, 20
#: Electric charge of quarks (×3) by |pdgId|.
QUARK_CHARGE3 = {1: -1, 2: 2, 3: -1, 4: 2, 5: -1}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Two chunks: chunk 0 (W+ hadronic) and chunk 1 (W- hadronic)."""
    path = tmp_path_factory.mktemp("ljets") / "lj.root"
    config = TtbarConfig(n_events=EVENTS, seed=4, chunk_size=CHUNK, channel="ljets")
    generate_ttbar(path, config, jobs=1, progress=False)
    return path


@pytest.fixture(scope="module")
def arrays(sample):
    with uproot.open(sample) as f:
        return f["events"].arrays()


def charge3(pdgid: np.ndarray) -> np.ndarray:
    """3 × electric charge of quarks and leptons."""
    a = np.abs(pdgid)
    q = np.where(a <= 5, np.vectorize(QUARK_CHARGE3.get)(np.clip(a, 1, 5)), 0)
    q = np.where((a == 11) | (a == 13), -3, q)
    return np.sign(pdgid) * q


def p4_mass(a, cols) -> np.ndarray:
    """Invariant mass of the partons ``cols`` (truth, before the shower)."""
    pt, eta, phi, m = (ak.to_numpy(a[f"parton_{k}"])[:, cols] for k in ("pt", "eta", "phi", "mass"))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    s = [x.sum(axis=1) for x in (px, py, pz, e)]
    return np.sqrt(np.maximum(s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2, 0))


def test_schema_and_metadata(sample, arrays):
    a = arrays
    with uproot.open(sample) as f:
        assert str(f["topology"]) == "ttbar-ljets"
        assert str(f["hepattn_format"]) == "ttbar-v2" and str(f["seed"]) == "4"
        assert "lepton+jets" in str(f["generator"])
        tree = f["events"]
        assert set(JET + PARTON + list(LJETS_BRANCHES) + ["weight", "event"]) <= set(tree.keys())
        assert tree.num_entries == EVENTS
    assert ak.all(a.nparton == 6) and ak.all(a.njet == ak.num(a.jet_pt))
    assert ak.all(ak.flatten(a.jet_pt) > 25) and ak.all(abs(ak.flatten(a.jet_eta)) < 2.5)
    assert ak.all(ak.flatten(a.jet_pt[:, :-1] - a.jet_pt[:, 1:]) >= 0)
    assert len(np.unique(a.event)) == EVENTS


def test_exactly_one_selected_lepton(arrays):
    a = arrays
    assert ak.all(a.nlepton == 1) and ak.all(ak.num(a.lepton_pt) == 1)
    pt, eta = ak.to_numpy(a.lepton_pt)[:, 0], ak.to_numpy(a.lepton_eta)[:, 0]
    assert np.all(pt > 25) and np.all(np.abs(eta) < 2.5)
    pdg = ak.to_numpy(a.lepton_pdgid)[:, 0]
    assert set(pdg.tolist()) <= {11, -11, 13, -13}
    assert np.array_equal(ak.to_numpy(a.lepton_charge)[:, 0], -np.sign(pdg))
    mass = ak.to_numpy(a.lepton_mass)[:, 0]
    assert np.allclose(mass, np.where(np.abs(pdg) == 11, 0.000511, 0.10566), rtol=1e-4)
    truth = ak.to_numpy(a.lepton_truth)[:, 0]
    assert set(truth.tolist()) <= {0, 1} and truth.mean() > 0.8
    # a truth-matched lepton is the W's: same signed flavour as parton l
    lpdg = ak.to_numpy(a.parton_pdgid)[:, 4]
    assert np.all(pdg[truth == 1] == lpdg[truth == 1])


def test_parton_order_and_w_charges_by_chunk(arrays):
    """b_had, q1, q2 (quarks), then b_lep, l, nu; even chunks W+ -> q q' (t_had is the top,
    its b has a positive pdgId, the lepton is negative), odd chunks the reverse."""
    a = arrays
    pdg = ak.to_numpy(a.parton_pdgid)
    chunk = ak.to_numpy(a.event) // ttbar.EVENT_STRIDE
    assert set(chunk.tolist()) == {0, 1}
    sign = np.where(chunk % 2 == 0, 1, -1)  # the sign of the hadronic top
    assert np.all(np.abs(pdg[:, :4]) <= 5) and np.all(pdg[:, :4] != 0)
    assert np.all(np.isin(np.abs(pdg[:, [0, 3]]), [1, 3, 5]))
    assert np.mean(np.abs(pdg[:, [0, 3]]) == 5) > 0.9
    assert np.all(np.sign(pdg[:, 0]) == sign) and np.all(np.sign(pdg[:, 3]) == -sign)
    assert np.all(charge3(pdg[:, 1]) + charge3(pdg[:, 2]) == 3 * sign)  # W+ or W- to quarks
    # a charged lepton then its neutrino, of the W of the other sign
    assert np.all(np.isin(np.abs(pdg[:, 4]), [11, 13]))
    assert np.all(np.abs(pdg[:, 5]) == np.abs(pdg[:, 4]) + 1)
    assert np.all(np.sign(pdg[:, 4]) == sign) and np.all(np.sign(pdg[:, 5]) == -sign)
    assert np.all(charge3(pdg[:, 4]) == -3 * sign)
    # the truth tops and W bosons
    assert 165 < np.median(p4_mass(a, [0, 1, 2])) < 180
    assert 165 < np.median(p4_mass(a, [3, 4, 5])) < 180
    assert 75 < np.median(p4_mass(a, [1, 2])) < 86 and 75 < np.median(p4_mass(a, [4, 5])) < 86


def test_labels(arrays):
    a = arrays
    assert set(np.unique(ak.flatten(a.jet_parton)).tolist()) <= {-1, 0, 1, 2, 3}
    pj = ak.to_numpy(a.parton_jet)
    assert np.all(pj[:, 4:] == -1)  # the lepton and the neutrino are never matched to jets
    assert (pj[:, :4] >= 0).any()
    for p_jet, j_parton in zip(pj.tolist(), a.jet_parton.tolist(), strict=True):
        matched = [j for j in p_jet if j >= 0]
        assert len(matched) == len(set(matched))
        for i, j in enumerate(p_jet):
            if j >= 0:
                assert j_parton[j] == i
        assert sorted(p for p in j_parton if p >= 0) == [i for i, j in enumerate(p_jet) if j >= 0]


def test_met_and_electron_jet_overlap(arrays):
    a = arrays
    met, phi = ak.to_numpy(a.met_pt), ak.to_numpy(a.met_phi)
    assert np.all(np.isfinite(met)) and np.all(met >= 0)
    assert np.all(np.isfinite(phi)) and np.all(np.abs(phi) <= np.pi)
    assert np.median(met) > 20  # a neutrino of a W decay
    electron = np.abs(ak.to_numpy(a.lepton_pdgid)[:, 0]) == 11
    assert electron.any() and (~electron).any()
    for e in np.flatnonzero(electron):
        dr = delta_r(
            ak.to_numpy(a.jet_eta[e]),
            ak.to_numpy(a.jet_phi[e]),
            a.lepton_eta[e][0],
            a.lepton_phi[e][0],
        )
        assert np.all(dr >= 0.4)


def test_settings_alternate_the_hadronic_w():
    even, odd = LJETS_SETTINGS
    assert "24:onPosIfAny = 1 2 3 4 5" in even and "24:onNegIfAny = 11 13" in even
    assert "24:onPosIfAny = 11 13" in odd and "24:onNegIfAny = 1 2 3 4 5" in odd
    with pytest.raises(DataError, match="unknown channel"):
        TtbarConfig(n_events=5, channel="dilepton")


class Chain:
    """A hand-made decay record: ``ids`` by index, ``kids`` the daughters of each index."""

    def __init__(self, ids: dict[int, int], kids: dict[int, list[int]]):
        self.ids, self.kids = ids, kids
        self.array = np.array([ids.get(i, 0) for i in range(max(ids) + 1)])

    def pdgid(self, i):
        return self.ids[i]

    def daughters(self, i):
        return self.kids.get(i, [])

    def bottom_copy(self, i):
        return i


def record(w_plus: list[int], w_minus: list[int]) -> Chain:
    """t (1) -> b (3) W+ (4); tbar (2) -> bbar (5) W- (6); W+ -> 7, 8; W- -> 9, 10."""
    ids = {0: 2212, 1: 6, 2: -6, 3: 5, 4: 24, 5: -5, 6: -24}
    ids.update(dict(zip([7, 8], w_plus, strict=True)))
    ids.update(dict(zip([9, 10], w_minus, strict=True)))
    kids = {1: [3, 4], 2: [5, 6], 4: [7, 8], 6: [9, 10]}
    return Chain(ids, kids)


def test_ljets_partons_on_hand_made_records():
    chain = record([2, -1], [11, -12])  # W+ -> u dbar, W- -> e- nubar
    assert ljets_partons(chain, chain.array) == [3, 7, 8, 5, 9, 10]
    chain = record([-13, 14], [3, -4])  # W+ -> mu+ nu, W- -> s cbar
    assert ljets_partons(chain, chain.array) == [5, 9, 10, 3, 7, 8]
    chain = record([14, -13], [1, -2])  # the neutrino listed first: charged lepton still first
    assert ljets_partons(chain, chain.array) == [5, 9, 10, 3, 8, 7]
    allhad = record([2, -1], [1, -2])
    assert top_partons(allhad, allhad.array) == [3, 7, 8, 5, 9, 10]
    with pytest.raises(DataError, match="one hadronic and one leptonic top"):
        ljets_partons(allhad, allhad.array)
    with pytest.raises(DataError, match="hadronic W"):
        top_partons(chain, chain.array)


def test_truth_regression_targets(arrays):
    """The neutrino is the ν parton (slot 5); the tops' pT and the pair's mass are those of
    b q q and b ℓ ν within the shower's reach (partons before the shower, the tops at decay)."""
    a = arrays
    pt, eta, phi = (ak.to_numpy(a[f"parton_{k}"])[:, 5] for k in ("pt", "eta", "phi"))
    np.testing.assert_allclose(a.truth_nu_px, pt * np.cos(phi), atol=0.05, rtol=1e-3)
    np.testing.assert_allclose(a.truth_nu_py, pt * np.sin(phi), atol=0.05, rtol=1e-3)
    np.testing.assert_allclose(a.truth_nu_pz, pt * np.sinh(eta), atol=0.05, rtol=1e-3)
    np.testing.assert_allclose(a.truth_nu_eta, eta, atol=1e-3)
    m = ak.to_numpy(a.truth_ttbar_mass)
    assert np.all(m > 2 * 160) and np.all(ak.to_numpy(a.truth_t_had_pt) >= 0)
    # the six decay products carry the pair's mass, less what the shower radiates before
    assert np.median(p4_mass(a, [0, 1, 2, 3, 4, 5]) / m) == pytest.approx(1.0, abs=0.05)
