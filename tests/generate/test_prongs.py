"""Boosted prong-class jets: schema, selection windows, containment, flat weights."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.errors import DataError
from hepattn.generate.plots import system_mass
from hepattn.generate.prongs import CLASSES, ProngsConfig, flat_weights, plan


def test_config_errors():
    with pytest.raises(DataError, match="unknown prong class"):
        ProngsConfig(n_jets=5, classes=("2", "5"))
    with pytest.raises(DataError, match="positive"):
        ProngsConfig(n_jets=0)
    with pytest.raises(DataError, match="twice"):
        ProngsConfig(n_jets=3, classes=("2", "2"))


def test_plan_alternates_classes():
    tasks = plan(ProngsConfig(n_jets=5, chunk_size=2, classes=("1", "8")))
    assert [(c.index, c.size, cls) for c, cls in tasks] == [
        (0, 2, "1"), (1, 2, "8"), (2, 2, "1"), (3, 2, "8"), (4, 1, "1"), (5, 1, "8"),
    ]  # fmt: skip


def test_flat_weights_flatten_each_class():
    rng = np.random.default_rng(0)
    n = 20_000
    label = rng.integers(0, 2, n)
    # class 0 falls steeply with mass, class 1 is flat
    mass = np.where(label == 0, 300 + rng.exponential(80, n) % 400, rng.uniform(300, 700, n))
    pt = rng.uniform(1000, 1200, n)
    w = flat_weights(label, mass, pt)
    for c in (0, 1):
        sel = label == c
        assert w[sel].sum() == pytest.approx(sel.sum(), rel=1e-5)
        hist, _ = np.histogram(mass[sel], bins=np.linspace(300, 700, 9), weights=w[sel])
        np.testing.assert_allclose(hist / hist.mean(), 1.0, atol=0.02)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    from hepattn.generate.prongs import generate_prongs

    path = tmp_path_factory.mktemp("prongs") / "pr.root"
    config = ProngsConfig(n_jets=6, seed=4, classes=("1", "4q", "6"), contained=True)
    generate_prongs(path, config, jobs=1, progress=False)
    return path


def test_schema_and_windows(sample):
    with uproot.open(sample) as f:
        assert str(f["hepattn_format"]) == "prongs-v1"
        assert str(f["classes"]) == ",".join(CLASSES) == "1,2,3,4b,4q,6,8"
        assert str(f["seed"]) == "4"
        a = f["jets"].arrays()
    names = {"jet_pt", "jet_eta", "jet_phi", "jet_mass", "label", "n_prongs", "n_contained"}
    names |= {"weight", "event", "ntower", "tower_pt", "tower_eta", "tower_phi", "tower_e"}
    assert names <= set(a.fields)
    label = ak.to_numpy(a.label)
    assert sorted(np.unique(label, return_counts=True)[1].tolist()) == [6, 6, 6]
    assert set(label.tolist()) == {0, 4, 5}
    np.testing.assert_array_equal(ak.to_numpy(a.n_prongs), np.array([1, 2, 3, 4, 4, 6, 8])[label])
    assert np.all(ak.to_numpy(a.n_contained) >= ak.to_numpy(a.n_prongs))  # contained=True
    assert ak.all((a.jet_pt > 1000) & (a.jet_pt < 1200))
    assert ak.all((a.jet_mass > 300) & (a.jet_mass < 700))
    assert ak.all((a.ntower > 0) & (a.ntower <= 230))
    assert ak.all(ak.flatten(a.tower_pt[:, :-1] - a.tower_pt[:, 1:]) >= 0)
    for c in (0, 4, 5):
        assert ak.sum(a.weight[label == c]) == pytest.approx(6, rel=1e-4)
    # the jet is the sum of its (massless) towers unless they were truncated at 230
    m = np.array(
        [
            system_mass(pt, eta, phi, np.zeros(len(pt)))
            for pt, eta, phi in zip(
                a.tower_pt.to_list(), a.tower_eta.to_list(), a.tower_phi.to_list(), strict=True
            )
        ]
    )
    np.testing.assert_allclose(m, ak.to_numpy(a.jet_mass), rtol=1e-3)


def test_plots_and_summary(sample, tmp_path):
    pytest.importorskip("matplotlib")
    from hepattn.generate.plots import plot_prongs, prong_summary

    written = plot_prongs(sample, tmp_path)
    names = ["prongs_mass.png", "prongs_towers.png", "prongs_jet_images.png"]
    assert [p.name for p in written] == names
    assert all(p.stat().st_size > 1000 for p in written)
    summary = prong_summary(sample)
    assert set(summary) == {"1", "4q", "6"}
    assert all(v["jets"] == 6 and v["frac_all_contained"] == 1.0 for v in summary.values())
    assert all(v["mean_towers"] <= v["p99_towers"] <= v["max_towers"] for v in summary.values())
