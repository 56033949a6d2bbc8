"""The baselines behind one signature, found from the topology's declaration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepattn.baselines.chi2_ljets import measure_ljets_resolutions
from hepattn.baselines.registry import BASELINES, get_baseline
from hepattn.errors import DataError
from hepattn.tasks.matching import Matcher
from hepattn.tasks.presets import load_run_config

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_unknown_or_missing_baselines_are_one_line():
    with pytest.raises(DataError, match="topology 'mine' declares no classical baseline"):
        get_baseline(None, "mine")
    with pytest.raises(DataError, match="unknown baseline 'chi3'"):
        get_baseline("chi3", "mine")
    with pytest.raises(DataError, match="declares the baseline 'chi2-ljets', which assigns"):
        get_baseline("chi2-ljets", "tth", "b_had,q1,q2,b_lep,l,nu,b1,b2")
    assert {b.method for b in BASELINES.values()} == {"chi2", "pairing"}


@pytest.mark.parametrize(
    ("topology", "sample", "method", "score"),
    [
        ("ttbar-allhad", "ttbar_allhad.root", "chi2", "chi2"),
        ("ttbar-ljets", "ttbar_ljets.root", "chi2", "chi2"),
        ("hh-4b", "hh4b.root", "pairing", "dhh"),
    ],
)
def test_each_topology_runs_its_baseline_through_one_signature(topology, sample, method, score):
    matcher = Matcher(load_run_config("matcher", topology=topology))
    ev = matcher.read(SAMPLES / sample, entry_stop=300)
    base, result = matcher.baseline(ev)
    assert (base.method, base.score) == (method, score) == (matcher.baseline_method(), score)
    topo = matcher.topology
    assert result.slots.shape == (300, topo.n_partons) and result.score.shape == (300,)
    for c in topo.collections[1:]:  # daughters of other collections: their one object
        assert (result.slots[:, list(topo.partons_from(c.name))] == 0).all()
    enough = ev.derived["n_jets"] >= topo.n_jet_daughters
    assert np.isfinite(result.score[enough]).mean() > 0.5 and "b-tag" in result.description
    branches, meta = matcher.match(ev, method)
    assert score in branches and branches["assignment"].shape == (300, topo.n_partons)
    assert meta["method"] == method and meta[method] == result.description


def test_ljets_resolutions_from_arrays():
    """Widths of the lepton+jets χ² terms from truth-matched jets, measured on the shipped
    sample through the matcher's read (arrays in, no task inside the baseline)."""
    matcher = Matcher(load_run_config("matcher", topology="ttbar-ljets"))
    ev = matcher.read(SAMPLES / "ttbar_ljets.root", need_labels=True, entry_stop=3000)
    r = measure_ljets_resolutions(
        ev["jets"].p4,
        ev.derived["truth"],
        ev.derived["lepton_p4"][:, 0],
        ev.derived["met_p4"][:, 0, :2],
    )
    assert 60 < r["median_w"] < 100 and 140 < r["median_t_had"] < 200
    assert 5 < r["sigma_w"] < 25 and 10 < r["sigma_t_had"] < 40 and 10 < r["sigma_t_lep"] < 50
    assert r["n_had"] > 100 and r["n_lep"] > r["n_had"]
