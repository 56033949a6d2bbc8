"""The README's coffea example, run: a processor over NanoAOD-layout files (written here from
the shipped sample), the bundled matcher's assignments building the top candidates, their
mass in a ``hist`` histogram — with coffea's Runner, in one process and on Dask workers."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

pytest.importorskip("coffea")
hist = pytest.importorskip("hist")

SAMPLE = Path(__file__).parents[1] / "samples" / "ttbar_allhad.root"


def nanoaod_file(path: Path, start: int, stop: int) -> Path:
    """Events [start, stop) of the shipped sample in the NanoAOD layout: ``nJet``, ``Jet_pt``
    … ``Jet_btagDeepFlavB`` and the event ID branches."""
    names = ["jet_pt", "jet_eta", "jet_phi", "jet_mass", "jet_btag_score", "event"]
    a = uproot.open(SAMPLE)["events"].arrays(names, entry_start=start, entry_stop=stop)
    jet = ak.zip({"pt": a.jet_pt, "eta": a.jet_eta, "phi": a.jet_phi, "mass": a.jet_mass,
                  "btagDeepFlavB": a.jet_btag_score})  # fmt: skip
    n = len(a)
    ids = {"run": np.ones(n, np.uint32), "luminosityBlock": np.ones(n, np.uint32),
           "event": a.event.to_numpy().astype(np.uint64)}  # fmt: skip
    with uproot.recreate(path) as f:
        f.mktree(
            "Events",
            {"Jet": jet.type.content, **{k: v.dtype for k, v in ids.items()}},
            field_name=lambda outer, inner: f"{outer}_{inner}",
            counter_name=lambda counted: f"n{counted}",
        )
        f["Events"].extend({"Jet": jet, **ids})
    return path


# --- the README's example (keep the two in step) -------------------------------------------
from coffea import processor  # noqa: E402

import hepattn.api as ha  # noqa: E402


class TopCandidates(processor.ProcessorABC):
    """The mass of the first top candidate the bundled matcher assigns, per dataset."""

    def process(self, events):
        jets = events.Jet
        out = ha.match(jets, schema="nanoaod")  # assignment: indices into events.Jet
        a = out.assignment
        ok = (a.t1_b >= 0) & (a.t1_q1 >= 0) & (a.t1_q2 >= 0)  # a full triplet
        jets, a = jets[ok], a[ok]
        b, q1, q2 = (jets[ak.singletons(a[d])][:, 0] for d in ("t1_b", "t1_q1", "t1_q2"))
        top = b + q1 + q2
        h = hist.Hist.new.Reg(40, 0, 400, name="mass", label="m(bqq) [GeV]").Double()
        h.fill(mass=ak.to_numpy(top.mass))
        return {events.metadata["dataset"]: {"mass": h, "events": len(events)}}

    def postprocess(self, accumulator):
        return accumulator


# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fileset(tmp_path_factory):
    d = tmp_path_factory.mktemp("nano")
    files = [nanoaod_file(d / f"nano{i}.root", 1000 * i, 1000 * (i + 1)) for i in range(3)]
    return {"ttbar": {"files": {str(f): "Events" for f in files}}}


def _run(fileset, executor):
    from coffea.nanoevents import NanoAODSchema

    runner = processor.Runner(executor=executor, schema=NanoAODSchema, chunksize=700)
    return runner(fileset, processor_instance=TopCandidates(), treename="Events")


def test_the_coffea_example_finds_the_top_mass(fileset):
    out = _run(fileset, processor.IterativeExecutor())["ttbar"]
    h = out["mass"]
    assert out["events"] == 3000 and h.sum() > 1500
    centers = h.axes[0].centers
    peak = centers[np.argmax(h.values())]
    assert 150 < peak < 190  # the top quark mass, from the network's triplets


def test_the_same_on_dask_workers(fileset):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        out = _run(fileset, processor.DaskExecutor(client=client, status=False))["ttbar"]
    one = _run(fileset, processor.IterativeExecutor())["ttbar"]
    assert out["events"] == one["events"]
    np.testing.assert_array_equal(out["mass"].values(), one["mass"].values())
