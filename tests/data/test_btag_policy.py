"""b-tag values outside [0, 1]: NanoAOD defaults replaced only when asked, other values
refused or dropped — for the network and the baselines alike, never used silently."""

from __future__ import annotations

import logging

import awkward as ak
import numpy as np
import pytest

from hepattn.data import PadSpec, read_events, write_tree
from hepattn.data.btag import BtagPolicy, classify_scores
from hepattn.errors import DataError

SPEC = {"jets": PadSpec(("log_pt", "btag_score"), 8)}


def test_classify_scores_by_hand():
    x = np.array([-1.0, -2.0, -999.0, -0.5, 0.0, 1.0, 1.0 + 1e-7, 1.5, 3.0, np.nan, -0.0])
    default, outside = classify_scores(x)
    assert default.tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert outside.tolist() == [0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]


@pytest.mark.parametrize("bad", [-1.0, 1.5, float("nan")])
def test_a_default_must_be_a_score(bad):
    with pytest.raises(DataError, match="--btag-default"):
        BtagPolicy(default=bad)
    with pytest.raises(DataError, match="out-of-range"):
        BtagPolicy(out_of_range="clip")


def nano(path, scores_per_event):
    """A NanoAOD-layout file (tree Events) whose jets carry the given b-tag values."""
    counts = [len(s) for s in scores_per_event]
    flat = np.concatenate([np.asarray(s, np.float32) for s in scores_per_event])
    n = len(flat)
    jet = {
        "pt": np.linspace(200, 30, n),
        "eta": np.zeros(n),
        "phi": np.linspace(-3, 3, n),
        "mass": np.full(n, 5.0),
        "btagDeepFlavB": flat,
    }
    jets = ak.zip({k: ak.unflatten(v.astype(np.float32), counts) for k, v in jet.items()})
    write_tree(path, {"Jet": jets, "event": np.arange(len(counts), dtype=np.uint64)}, "Events")
    return path


def test_nanoaod_defaults_are_refused_naming_the_branch(tmp_path):
    path = nano(tmp_path / "nano.root", [[0.2, 0.9], [0.5, -1.0, 0.1], [-1.0]])
    with pytest.raises(DataError) as err:
        read_events(path, "nanoaod", SPEC)
    msg = str(err.value)
    assert "nano.root" in msg and "'Jet_btagDeepFlavB'" in msg and "entry 1" in msg
    assert "2 b-tag default values" in msg and "--btag-default" in msg and "\n" not in msg


def test_defaults_replaced_when_asked_and_counted(tmp_path, caplog):
    path = nano(tmp_path / "nano.root", [[0.2, 0.9], [0.5, -1.0, 0.1], [-1.0]])
    with caplog.at_level(logging.WARNING):
        ev = read_events(path, "nanoaod", SPEC, btag=BtagPolicy(default=0.0))
    j = ev["jets"]
    scores = j.values[..., 1][j.mask]
    assert sorted(scores.tolist()) == pytest.approx([0, 0, 0.1, 0.2, 0.5, 0.9])
    assert j.mask.sum(1).tolist() == [2, 3, 1]  # no jet lost
    (line,) = [r.getMessage() for r in caplog.records if "default" in r.getMessage()]
    assert "'Jet_btagDeepFlavB'" in line and "2 b-tag default values (-1" in line
    assert "used as 0" in line


def test_other_out_of_range_values_refused_or_dropped(tmp_path, caplog):
    path = nano(tmp_path / "nano.root", [[0.2, 3.0], [0.5, 0.1], [1.2, -0.3, 0.4]])
    with pytest.raises(DataError, match=r"3 values outside the b-tag score range.*entry 0: 3"):
        read_events(path, "nanoaod", SPEC, btag=BtagPolicy(default=0.0))
    with caplog.at_level(logging.WARNING):
        ev = read_events(path, "nanoaod", SPEC, btag=BtagPolicy(out_of_range="drop"))
    j = ev["jets"]
    assert j.mask.sum(1).tolist() == [1, 2, 1]
    assert j.index[2, 0] == 2  # the kept jet keeps its position in the file's own order
    assert any(
        "3 objects with b-tag values outside [0, 1] dropped" in r.getMessage()
        for r in caplog.records
    )


def test_integer_btag_branches_are_decisions_not_scores(tmp_path):
    """Delphes' Jet.BTag is a bit mask: read as it is."""
    counts = [2, 1]
    jets = ak.zip(
        {
            "pt": ak.unflatten(np.array([50, 40, 30], np.float32), counts),
            "eta": ak.unflatten(np.zeros(3, np.float32), counts),
            "phi": ak.unflatten(np.zeros(3, np.float32), counts),
            "mass": ak.unflatten(np.ones(3, np.float32), counts),
            "btag": ak.unflatten(np.array([0, 3, 1], np.int32), counts),
        }
    )
    path = write_tree(tmp_path / "d.root", {"Jet": jets}, "Events")
    schema = {
        "name": "bits",
        "tree": "Events",
        "collections": {
            "jets": {
                "kinematics": "ptetaphim",
                "branches": {
                    "pt": "Jet_pt",
                    "eta": "Jet_eta",
                    "phi": "Jet_phi",
                    "mass": "Jet_mass",
                },
                "fields": {"btag": "Jet_btag"},
            }
        },
    }
    ev = read_events(path, schema, {"jets": PadSpec(("btag",), 4)})
    assert ev["jets"].values[0, :2, 0].tolist() == [0, 3]


def test_dropped_objects_leave_the_others_their_file_positions(tmp_path):
    """After ``nonfinite="drop"`` (or a b-tag drop) the padded ``index`` still names each kept
    object's position in the file, so that assignments point at the user's own jets."""
    path = nano(tmp_path / "nano.root", [[0.2, np.nan, 0.4], [0.5]])
    ev = read_events(path, "nanoaod", SPEC, nonfinite="drop")
    j = ev["jets"]
    assert j.mask.sum(1).tolist() == [2, 1]
    assert j.index[0, :2].tolist() == [0, 2]  # pT order 0 > 2; jet 1 dropped


def test_convert_to_spanet_applies_the_policy(tmp_path):
    """``hepattn convert`` reads b-tags through the same policy: NanoAOD defaults refused,
    or replaced with --btag-default."""
    pytest.importorskip("h5py")
    from hepattn.data.spanet import write_spanet_h5

    path = nano(tmp_path / "nano.root", [[0.2, 0.9], [0.5, -1.0, 0.1]])
    schema = {"name": "n", "tree": "Events", "collections": {"jets": {
        "kinematics": "ptetaphim",
        "branches": {"pt": "Jet_pt", "eta": "Jet_eta", "phi": "Jet_phi", "mass": "Jet_mass"},
        "fields": {"btag": "Jet_btagDeepFlavB"}, "labels": {"parton": "Jet_parton"}}}}  # fmt: skip
    import uproot

    counts = [2, 3]
    labels = ak.unflatten(np.full(5, -1, np.int32), counts)
    arrays = uproot.open(path)["Events"].arrays()
    jets = ak.zip({k: arrays[f"Jet_{k}"] for k in ("pt", "eta", "phi", "mass", "btagDeepFlavB")})
    jets = ak.with_field(jets, labels, "parton")
    write_tree(path, {"Jet": jets}, "Events")
    with pytest.raises(DataError, match="--btag-default"):
        write_spanet_h5(tmp_path / "a.h5", path, schema=schema)
    s = write_spanet_h5(tmp_path / "b.h5", path, schema=schema, btag_policy=BtagPolicy(0.0))
    assert s.events == 2
