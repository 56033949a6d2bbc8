"""``hepattn.api``: awkward records in memory (built like coffea NanoEvents) give the same
answers as ``hepattn match`` / ``hepattn tag`` on the same data written to a ROOT file."""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

import hepattn.api as ha
from hepattn.cli import main
from hepattn.data import write_tree
from hepattn.errors import DataError
from hepattn.models import ModelError

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def nano_events(n=120, seed=0, score=True) -> ak.Array:
    """Events like coffea NanoEvents: ``events.Jet`` jagged with fields pt, eta, phi, mass,
    btagDeepFlavB (scores, as NanoAOD has them, or 0/1 decisions), 0 … 12 jets per event, not
    pT-ordered."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 13, n)
    counts[:3] = [0, 12, 5]
    m = int(counts.sum())
    btag = rng.random(m) if score else (rng.random(m) < 0.3).astype(np.float32)
    jet = {
        "pt": rng.exponential(60, m) + 25,
        "eta": rng.uniform(-2.5, 2.5, m),
        "phi": rng.uniform(-np.pi, np.pi, m),
        "mass": rng.uniform(2, 20, m),
        "btagDeepFlavB": btag,
    }
    jets = ak.zip({k: ak.unflatten(v.astype(np.float32), counts) for k, v in jet.items()})
    return ak.zip({"Jet": jets, "event": np.arange(n, dtype=np.uint64)}, depth_limit=1)


def nano_file(path: Path, events: ak.Array) -> Path:
    """The NanoAOD layout of ``events`` (tree Events: nJet, Jet_pt, …, event)."""
    write_tree(path, {"Jet": events.Jet, "event": events.event.to_numpy()}, tree="Events")
    return path


def test_match_equals_the_command_line_on_nanoevents_like_records(tmp_path, capsys):
    events = nano_events()
    src = nano_file(tmp_path / "nano.root", events)
    assert main(["match", str(src), "-o", str(tmp_path / "m.root"), "--schema", "nanoaod"]) == 0
    capsys.readouterr()
    with uproot.open(tmp_path / "m.root") as f:
        want = f["hepattn"].arrays(["assignment", "prob"], library="np")
    out = ha.match(events.Jet, schema="nanoaod")
    assert len(out) == len(events)
    assert ak.fields(out.assignment) == ["t1_b", "t1_q1", "t1_q2", "t2_b", "t2_q1", "t2_q2"]
    got = np.stack([out.assignment[q].to_numpy() for q in ak.fields(out.assignment)], 1)
    np.testing.assert_array_equal(got, want["assignment"])
    prob = np.stack([out.prob.t1.to_numpy(), out.prob.t2.to_numpy()], 1)
    np.testing.assert_array_equal(prob, want["prob"])  # NaN where none, in both
    # indices in each event's own jet order: 0 jets → all −1; always within the event's jets
    assert (got[0] == -1).all() and (got[1] >= 0).all()
    assert (got < ak.num(events.Jet).to_numpy()[:, None]).all()
    # the same through a {role: field} mapping over the model's own schema
    mapped = ha.match(events.Jet, schema={"btag_score": "btagDeepFlavB"})
    np.testing.assert_array_equal(mapped.assignment.t2_q1.to_numpy(), want["assignment"][:, 4])
    # no events: an empty answer of the same type
    assert len(ha.match(events.Jet[:0], schema="nanoaod")) == 0


def test_bad_records_are_one_error_naming_the_field(decision_model, caplog):
    jets = nano_events(n=10).Jet
    with pytest.raises(DataError, match=r"no field 'btagDeepFlavB' \(the 'btag_score' of schema"):
        ha.match(ak.without_field(jets, "btagDeepFlavB"), schema="nanoaod")
    with pytest.raises(DataError, match="no field 'phi'.*close matches: \\['Phi'\\]"):
        renamed = ak.zip({("Phi" if k == "phi" else k): jets[k] for k in ak.fields(jets)})
        ha.match(renamed, schema="nanoaod")
    with pytest.raises(
        DataError, match="field 'jets.pt' has 6 non-finite values.*first in entry 1"
    ):
        bad = ak.with_field(jets, ak.where(ak.local_index(jets.pt) == 0, np.inf, jets.pt), "pt")
        ha.match(bad, schema="nanoaod")
    with pytest.raises(
        DataError, match="'jets.btagDeepFlavB' holds values that are neither 0 nor 1"
    ):  # scores to a model trained on 0/1 decisions
        ha.match(jets, model=decision_model, schema="nanoaod")
    with caplog.at_level(logging.WARNING):  # decisions to the bundled model, trained on scores
        ha.match(nano_events(n=30, score=False).Jet, schema="nanoaod")
    assert "holds only 0 and 1" in caplog.text and "btag_score" in caplog.text
    with pytest.raises(DataError, match="must be a jagged array of records"):
        ha.match(jets.pt, schema="nanoaod")


def test_tag_equals_the_command_line_and_keeps_the_event_grouping(tmp_path, capsys):
    with uproot.open(SAMPLES / "prongs.root") as f:
        a = f["jets"].arrays(["tower_pt", "tower_eta", "tower_phi", "tower_e"], entry_stop=30)
    towers = ak.zip({"pt": a.tower_pt, "eta": a.tower_eta, "phi": a.tower_phi, "e": a.tower_e})
    src = tmp_path / "towers.root"
    write_tree(src, {"tower": towers}, tree="jets")
    schema = {
        "name": "towers-only",
        "tree": "jets",
        "collections": {
            "towers": {
                "kinematics": "ptetaphie",
                "branches": {"pt": "tower_pt", "eta": "tower_eta", "phi": "tower_phi",
                             "energy": "tower_e"},
            }
        },
    }  # fmt: skip
    schema_path = tmp_path / "towers.yaml"
    schema_path.write_text(yaml.safe_dump(schema))
    out = tmp_path / "t.root"
    assert main(["tag", str(src), "-o", str(out), "--schema", str(schema_path)]) == 0
    capsys.readouterr()
    with uproot.open(out) as f:
        want = f["hepattn"].arrays(["prob", "pred"], library="np")
    got = ha.tag(towers)  # the bundled tagger's schema, fields without the `tower_` prefix
    np.testing.assert_array_equal(got.prob.to_numpy(), want["prob"])
    np.testing.assert_array_equal(got.pred.to_numpy(), want["pred"])
    # the bundled tagger's answers do not depend on the order of the towers in the file
    rng = np.random.default_rng(3)
    perm = ak.Array([rng.permutation(n).tolist() for n in ak.num(towers)])
    shuffled = tmp_path / "shuffled.root"
    write_tree(shuffled, {"tower": towers[perm]}, tree="jets")
    out2 = tmp_path / "t2.root"
    assert main(["tag", str(shuffled), "-o", str(out2), "--schema", str(schema_path)]) == 0
    with uproot.open(out2) as f:
        prob2 = f["hepattn"]["prob"].array(library="np")
    np.testing.assert_allclose(prob2, want["prob"], atol=1e-5)
    # [events][jets][towers]: the same jets, grouped by event
    grouped = ha.tag(ak.unflatten(towers, [4, 0, 26]))
    assert ak.num(grouped).tolist() == [4, 0, 26]
    np.testing.assert_array_equal(ak.flatten(grouped).pred.to_numpy(), want["pred"])
    with pytest.raises(DataError, match="collection 'towers' has no field 'e'"):
        ha.tag(ak.without_field(towers, "e"))


def test_match_with_a_topology_matcher_equals_the_command_line(tmp_path, capsys):
    """A (fresh, untrained) hh-4b matcher saved as a model directory: the R_d, R_prob and
    R_detection branches of `hepattn match --topology hh-4b` as records."""
    from hepattn.tasks.matching import Matcher, MatcherRunConfig

    events = nano_events(n=60, seed=3)
    src = nano_file(tmp_path / "nano.root", events)
    cfg = {
        "model": {
            "topology": "hh-4b",
            "encoder": {"dim": 16, "num_heads": 2, "num_layers": 1, "interaction": {"width": 8}},
            "tensor_dim": 6,
        },
        "data": {"schema": "nanoaod"},
    }
    task = Matcher(MatcherRunConfig.from_dict(cfg))
    task.standardizers = task.fit_standardizers(task.read(src))
    task.save_model(task.build(), tmp_path / "hh", {})
    model = str(tmp_path / "hh")
    argv = ["match", str(src), "-o", str(tmp_path / "m.root"), "--topology", "hh-4b"]
    assert main([*argv, "--model", model]) == 0
    capsys.readouterr()
    with uproot.open(tmp_path / "m.root") as f:
        want = f["hepattn"].arrays(library="np")
    out = ha.match(events.Jet, model=model, topology="hh-4b")
    assert ak.fields(out) == ["assignment", "prob", "detection"]
    for q in ("H1_b1", "H1_b2", "H2_b3", "H2_b4"):
        np.testing.assert_array_equal(out.assignment[q].to_numpy(), want[q])
    for r in ("H1", "H2"):
        np.testing.assert_array_equal(out.prob[r].to_numpy(), want[f"{r}_prob"])
        np.testing.assert_array_equal(out.detection[r].to_numpy(), want[f"{r}_detection"])
    # a model of another topology is refused, as on the command line
    with pytest.raises(ModelError, match="matches topology 'hh-4b', not 'ttbar-ljets'"):
        ha.match(events.Jet, model=model, topology="ttbar-ljets")
