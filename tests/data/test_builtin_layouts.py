"""Files laid out like NanoAOD and Delphes output, written with uproot, read by the schemas."""

from __future__ import annotations

import awkward as ak
import numpy as np

from hepattn.cli import main
from hepattn.data import PadSpec, read_events
from hepattn.data.writer import write_tree
from tests.conftest import jets_array


def test_nanoaod_layout(tmp_path):
    j = jets_array()
    nano = ak.zip({"pt": j.pt, "eta": j.eta, "phi": j.phi, "mass": j.mass, "btagDeepFlavB": j.btag})
    path = tmp_path / "nano.root"
    write_tree(path, {"Jet": nano, "event": np.arange(4, dtype=np.uint64)}, tree="Events")
    ev = read_events(path, "nanoaod", {"jets": PadSpec(("pt", "btag"), 4)})
    assert ev["jets"].mask.sum(1).tolist() == [3, 0, 1, 4]
    assert ev["jets"].values[0, :, 0].tolist() == [80.0, 55.0, 30.0, 0.0]
    assert ev.event["event"].tolist() == [0, 1, 2, 3]


def test_delphes_layout(tmp_path):
    j = jets_array()
    towers = ak.Array([[1.0, 2.0], [3.0], [], [4.0, 5.0, 6.0]])
    branches = {
        "Jet.PT": j.pt,
        "Jet.Eta": j.eta,
        "Jet.Phi": j.phi,
        "Jet.Mass": j.mass,
        "Jet.BTag": ak.values_astype(j.btag, np.int32),
        "Tower.ET": towers,
        "Tower.Eta": towers * 0.1,
        "Tower.Phi": towers * 0.2,
        "Tower.E": towers * 2.0,
    }
    path = tmp_path / "delphes.root"
    write_tree(path, branches, tree="Delphes")
    spec = {"jets": PadSpec(("pt", "btag"), 4), "towers": PadSpec(("pt", "energy", "eta"), 3)}
    ev = read_events(path, "delphes", spec)
    assert ev["jets"].values[3, :, 0].tolist() == [90.0, 27.0, 26.0, 25.0]
    assert ev["jets"].values[3, :, 1].tolist() == [1.0, 0.0, 1.0, 0.0]
    np.testing.assert_allclose(ev["towers"].values[3, :, 0], [6.0, 5.0, 4.0])
    np.testing.assert_allclose(ev["towers"].values[3, :, 1], [12.0, 10.0, 8.0], rtol=1e-6)
    assert ev["towers"].mask.sum(1).tolist() == [2, 1, 0, 3]


def test_delphes_decisions_to_the_bundled_score_matcher_is_one_line(tmp_path, capsys):
    """Delphes writes 0/1 b-tag decisions (Jet.BTag) and no score; the bundled matcher reads
    the score: one line saying which kind each side has and what to do, and no output."""
    j = jets_array()
    branches = {"Jet.PT": j.pt, "Jet.Eta": j.eta, "Jet.Phi": j.phi, "Jet.Mass": j.mass}
    branches["Jet.BTag"] = ak.values_astype(j.btag, np.int32)
    path = write_tree(tmp_path / "delphes.root", branches, tree="Delphes")
    out = tmp_path / "m.root"
    assert main(["match", str(path), "-o", str(out), "--schema", "delphes"]) == 1
    err = [x for x in capsys.readouterr().err.splitlines() if not x.startswith("INFO")]
    assert len(err) == 1 and "'btag_score'" in err[0] and "Jet.BTag" in err[0], err
    assert "0/1 decisions only" in err[0] and not out.exists()
