"""Constituents through index maps (PFNano): grouping by hand, bad indices one line, and the
real CMS PFNano file read both with uproot and through coffea's NanoEvents."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hepattn.data.index_map import group_by_jet, pfnano_constituents
from hepattn.errors import DataError

PFNANO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "pfnano.root"
needs_file = pytest.mark.skipif(
    not PFNANO.exists(), reason=f"the real PFNano file {PFNANO} is not on this machine"
)


def test_group_by_jet_by_hand():
    items = ak.Array([[10, 11, 12, 13], [20], []])
    jet = ak.Array([[1, 0, 1, 1], [2], []])
    out = group_by_jet(items, jet, [3, 3, 1])
    assert out.tolist() == [[[11], [10, 12, 13], []], [[], [], [20]], [[]]]
    with pytest.raises(DataError, match=r"FatJetPFCands_jetIdx: index 3 in event 0 is outside"):
        group_by_jet(items, ak.Array([[3, 0, 0, 0], [0], []]), [3, 3, 1], "FatJetPFCands_jetIdx")


@needs_file
def test_real_pfnano_file_constituents_and_tagging():
    import uproot

    import hepattn.api as ha

    c = pfnano_constituents(PFNANO)
    jets = uproot.open(PFNANO)["Events"].arrays(["FatJet_pt"])
    assert ak.all(ak.num(c, axis=1) == ak.num(jets.FatJet_pt, axis=1))
    px = ak.sum(c.pt * np.cos(c.phi), axis=2)
    py = ak.sum(c.pt * np.sin(c.phi), axis=2)
    ratio = ak.flatten(np.hypot(px, py) / jets.FatJet_pt)
    assert 0.8 < float(np.median(ratio)) < 1.05  # the candidates make up the jet
    tags = ha.tag(c, domain="ignore")
    assert ak.all(ak.num(tags, axis=1) == ak.num(c, axis=1))
    assert ak.all((tags.pred >= 0) == (ak.num(c, axis=2) > 0))


@needs_file
def test_coffea_nanoevents_give_the_same_constituents():
    pytest.importorskip("coffea")
    from coffea.nanoevents import NanoEventsFactory, PFNanoAODSchema

    events = NanoEventsFactory.from_root(
        {str(PFNANO): "Events"}, schemaclass=PFNanoAODSchema, mode="eager"
    ).events()
    assoc = events.FatJetPFCands
    pf = assoc.pf
    records = ak.zip({"pt": pf.pt, "eta": pf.eta, "phi": pf.phi, "mass": pf.mass})
    c = group_by_jet(records, assoc.jetIdx, ak.num(events.FatJet))
    ref = pfnano_constituents(PFNANO)
    for x in ("pt", "eta", "phi"):
        assert ak.all(c[x] == ref[x])
