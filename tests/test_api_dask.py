"""hepattn.api on dask-awkward arrays: one lazy graph whose answers equal the eager ones, and
on a distributed cluster of worker processes, each worker loading the model once."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import hepattn.api as ha
from hepattn.errors import DataError

dak = pytest.importorskip("dask_awkward")
SAMPLES = Path(__file__).parents[1] / "samples"


def _jets(n=300):
    fields = ["jet_pt", "jet_eta", "jet_phi", "jet_mass", "jet_btag_score"]
    a = uproot.open(SAMPLES / "ttbar_allhad.root")["events"].arrays(fields, entry_stop=n)
    return ak.zip({k[4:]: a[k] for k in a.fields})


def _towers(n=60):
    fields = ["tower_pt", "tower_eta", "tower_phi", "tower_e"]
    a = uproot.open(SAMPLES / "prongs.root")["jets"].arrays(fields, entry_stop=n)
    return ak.zip({k[6:]: a[k] for k in a.fields})


def _same(got, want):
    """The same assignments; probabilities to float32 rounding (a partition's events are
    batched, hence padded, with other neighbours than in one call)."""
    for field in ("t1_b", "t2_q2"):
        assert ak.all(got.assignment[field] == want.assignment[field])
    got_p, want_p = ak.to_numpy(got.prob.t1), ak.to_numpy(want.prob.t1)
    np.testing.assert_allclose(got_p, want_p, rtol=1e-4, atol=1e-5)


def test_lazy_match_and_tag_equal_the_eager_answers():
    jets = _jets()
    lazy = ha.match(dak.from_awkward(jets, npartitions=3))
    assert isinstance(lazy, dak.Array) and lazy.npartitions == 3
    assert lazy.fields == ["assignment", "prob", "detection"]  # declared, nothing computed
    _same(lazy.compute(scheduler="sync"), ha.match(jets))
    towers = _towers()
    tags = ha.tag(dak.from_awkward(towers, npartitions=2)).compute(scheduler="sync")
    want = ha.tag(towers)
    np.testing.assert_array_equal(ak.to_numpy(tags.pred), ak.to_numpy(want.pred))


def test_mixed_lazy_and_eager_inputs_are_refused():
    jets = _jets(20)
    with pytest.raises(DataError, match="all inputs as dask-awkward arrays"):
        ha.match({"jets": dak.from_awkward(jets, 1), "lepton": jets}, topology="ttbar-ljets")


def test_on_a_cluster_each_worker_loads_the_model_once():
    distributed = pytest.importorskip("distributed")
    jets = _jets(400)
    lazy = ha.match(dak.from_awkward(jets, npartitions=8))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        got = lazy.compute(scheduler=client)
        loads = client.run(lambda: __import__("hepattn.api").api._load.cache_info().misses)
    _same(got, ha.match(jets))
    assert len(loads) == 2 and all(n <= 1 for n in loads.values()) and sum(loads.values()) >= 1
