"""HH -> 4b generation (``generate_hh4b``): four b partons, two per Higgs boson, m_HH, labels,
metadata, reproducibility."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from hepattn.errors import DataError  # noqa: E402
from hepattn.generate.hh4b import HH4bConfig, generate_hh4b  # noqa: E402
from tests.generate.test_ljets import p4_mass  # noqa: E402
from tests.generate.test_ttbar import JET, PARTON  # noqa: E402

EVENTS = 30


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("hh4b") / "hh.root"
    generate_hh4b(path, HH4bConfig(n_events=EVENTS, seed=5, chunk_size=15), jobs=1, progress=False)
    return path


@pytest.fixture(scope="module")
def arrays(sample):
    with uproot.open(sample) as f:
        return f["events"].arrays()


def test_schema_and_metadata(sample, arrays):
    with uproot.open(sample) as f:
        assert str(f["topology"]) == "hh-4b"
        assert str(f["hepattn_format"]) == "hh4b-v2" and str(f["seed"]) == "5"
        assert "gg->X->hh->bbbb" in str(f["generator"])
        assert set(JET + PARTON + ["mhh", "weight", "event"]) <= set(f["events"].keys())
        assert f["events"].num_entries == EVENTS
    a = arrays
    assert ak.all(a.njet == ak.num(a.jet_pt))
    assert ak.all(ak.flatten(a.jet_pt) > 25) and ak.all(abs(ak.flatten(a.jet_eta)) < 2.5)
    assert ak.all(ak.flatten(a.jet_pt[:, :-1] - a.jet_pt[:, 1:]) >= 0)


def test_four_b_partons_two_per_higgs(arrays):
    a = arrays
    assert ak.all(a.nparton == 4)
    pdg = ak.to_numpy(a.parton_pdgid)
    assert np.all(np.abs(pdg) == 5)
    assert np.all(pdg[:, 0] == -pdg[:, 1]) and np.all(pdg[:, 2] == -pdg[:, 3])  # b bbar each
    for cols in ([0, 1], [2, 3]):
        assert np.allclose(p4_mass(a, cols), 125.0, atol=1.0)
    mhh = ak.to_numpy(a.mhh)
    assert np.all(mhh >= 250) and np.all(np.isfinite(mhh))
    assert np.allclose(p4_mass(a, [0, 1, 2, 3]), mhh, rtol=1e-3)


def test_labels(arrays):
    a = arrays
    assert set(np.unique(ak.flatten(a.jet_parton)).tolist()) <= {-1, 0, 1, 2, 3}
    pj = ak.to_numpy(a.parton_jet)
    assert (pj >= 0).any()
    flav = ak.to_numpy(ak.flatten(a.jet_flavour))
    matched = ak.to_numpy(ak.flatten(a.jet_parton)) >= 0
    assert np.mean(flav[matched] == 5) > 0.8  # jets matched to b quarks hold B hadrons
    for p_jet, j_parton in zip(pj.tolist(), a.jet_parton.tolist(), strict=True):
        matched = [j for j in p_jet if j >= 0]
        assert len(matched) == len(set(matched))
        for i, j in enumerate(p_jet):
            if j >= 0:
                assert j_parton[j] == i


def test_same_seed_same_file_min_jets_and_bad_arguments(tmp_path, arrays):
    path = tmp_path / "again.root"
    generate_hh4b(path, HH4bConfig(n_events=15, seed=5, chunk_size=15), jobs=1, progress=False)
    with uproot.open(path) as f:
        b = f["events"].arrays()
    for name in b.fields:
        assert ak.all(ak.ravel(b[name]) == ak.ravel(arrays[name][:15])), name
    path = tmp_path / "min.root"
    generate_hh4b(path, HH4bConfig(n_events=5, seed=2, min_jets=5), jobs=1, progress=False)
    with uproot.open(path) as f:
        assert ak.all(f["events"]["njet"].array() >= 5)
    with pytest.raises(DataError, match="positive"):
        HH4bConfig(n_events=0)
    with pytest.raises(DataError, match="min_jets"):
        HH4bConfig(n_events=3, min_jets=-2)
    with pytest.raises(DataError, match="unknown detector"):
        HH4bConfig(n_events=3, detector="cms")


def test_truth_regression_targets(arrays):
    """m_HH of the Higgs bosons equals the four b quarks' (their decay products); each Higgs'
    pT is that of its two b quarks."""
    a = arrays
    np.testing.assert_allclose(a.truth_hh_mass, a.mhh, rtol=1e-4)
    for h, cols in (("h1", [0, 1]), ("h2", [2, 3])):
        pt, phi = (ak.to_numpy(a[f"parton_{k}"])[:, cols] for k in ("pt", "phi"))
        ptsum = np.hypot((pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1))
        np.testing.assert_allclose(a[f"truth_{h}_pt"], ptsum, rtol=2e-3, atol=0.1)
