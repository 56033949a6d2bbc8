"""The topology matcher (``Matcher``) end to end: a training smoke run on generated
lepton+jets and HH -> 4b files (Python and ``hepattn train matcher --topology``), the branches
``match`` writes, jet indices in the file's own order, invariance under a shuffle of the
jets, and a user's topology YAML whose saved model needs no YAML file."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from hepattn.cli import main
from hepattn.data import write_tree
from hepattn.tasks.matching import Matcher
from hepattn.tasks.presets import load_run_config
from hepattn.topology import JETS, Topology, load_topology

#: A tiny network and one short epoch (a YAML run config: ``train matcher --config``).
TINY = {
    "model": {
        "encoder": {
            "dim": 16,
            "num_heads": 2,
            "num_layers": 1,
            "mlp_ratio": 1.0,
            "embed_hidden": [16],
            "interaction": {"enabled": True, "width": 8, "layers": 1},
        },
        "tensor_dim": 4,
    },
    "data": {"max_objects": 6},
    "training": {"epochs": 1, "batch_size": 8, "warmup_steps": 1, "threads": 1, "seed": 3},
}
#: ttH(H -> bb) lepton+jets, as a user declares it (README, "Declared topologies").
TTH = """\
name: tth-ljets
collections:
  jets: {}
  lepton: {max_objects: 1}
  met: {max_objects: 1, transverse: true}
resonances:
  t_had:
    daughters: {b: jets, q1: jets, q2: jets}
    symmetric: [q1, q2]
  t_lep:
    daughters: {b: jets, l: lepton, nu: met}
  H:
    daughters: {b1: jets, b2: jets}
    symmetric: [b1, b2]
"""


def tiny_config(directory: Path) -> Path:
    path = Path(directory) / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def jet_partons(topology: Topology) -> list[int]:
    """Parton-order indices of the topology's jet daughters."""
    return [
        off + k
        for r, off in zip(topology.resonances, topology.offsets, strict=True)
        for k in range(len(r.daughters))
        if r.source(k) == JETS
    ]


def event_file(path, topology="ttbar-ljets", n=48, seed=0, shuffle=False, labels=None) -> Path:
    """A hand-built file with the branches of ``hepattn generate``'s files for ``topology``
    (a name, a YAML file or a :class:`Topology`): jets (pT-sorted unless ``shuffle``) whose
    ``jet_parton`` labels are the topology's jet daughters on distinct jets (one missing in
    about a third of the events); a lepton and ``met_pt/met_phi`` if the topology reads them.
    ``labels``: the jet-daughter indices to write instead of the topology's."""
    topo = topology if isinstance(topology, Topology) else load_topology(topology)
    lab_values = jet_partons(topo) if labels is None else list(labels)
    rng = np.random.default_rng(seed)
    counts = rng.integers(len(lab_values), len(lab_values) + 5, n)
    cols = {k: [] for k in ("pt", "eta", "phi", "mass", "btag", "btag_score", "flavour", "parton")}
    for c in counts:
        pt = np.sort(rng.uniform(25, 250, c))[::-1]
        if shuffle:
            pt = rng.permutation(pt)
        lab = np.full(c, -1)
        slots = rng.permutation(c)[: len(lab_values)]
        lab[slots] = lab_values
        if rng.random() < 0.3:
            lab[slots[0]] = -1
        b = np.isin(lab, [p for p, d in enumerate(topo.partons) if d.startswith("b")])
        cols["pt"].append(pt)
        cols["eta"].append(rng.uniform(-2.4, 2.4, c))
        cols["phi"].append(rng.uniform(-np.pi, np.pi, c))
        cols["mass"].append(rng.uniform(2, 25, c))
        tagged = b | (rng.random(c) < 0.1)
        cols["btag"].append(tagged)
        cols["btag_score"].append(np.where(tagged, rng.uniform(0.5, 1, c), rng.uniform(0, 0.5, c)))
        cols["flavour"].append(np.where(b, 5, 0))
        cols["parton"].append(lab)
    types = {"btag": np.bool_, "flavour": np.int32, "parton": np.int32}
    jet = ak.zip(
        {
            k: ak.unflatten(np.concatenate(v).astype(types.get(k, np.float32)), counts)
            for k, v in cols.items()
        }
    )
    branches = {"jet": jet, "weight": np.ones(n, np.float32), "event": np.arange(n)}
    names = {c.name for c in topo.collections}
    if "lepton" in names:
        one = np.ones(n, np.int64)
        pdgid = rng.choice([11, -11, 13, -13], n).astype(np.int32)
        branches["lepton"] = ak.zip(
            {
                "pt": ak.unflatten(rng.uniform(26, 150, n).astype(np.float32), one),
                "eta": ak.unflatten(rng.uniform(-2.4, 2.4, n).astype(np.float32), one),
                "phi": ak.unflatten(rng.uniform(-np.pi, np.pi, n).astype(np.float32), one),
                "mass": ak.unflatten(np.full(n, 0.1, np.float32), one),
                "charge": ak.unflatten(-np.sign(pdgid).astype(np.int32), one),
                "pdgid": ak.unflatten(pdgid, one),
            }
        )
    if "met" in names:
        branches["met_pt"] = rng.uniform(5, 200, n).astype(np.float32)
        branches["met_phi"] = rng.uniform(-np.pi, np.pi, n).astype(np.float32)
    if topo.name == "hh-4b":
        branches["mhh"] = rng.uniform(250, 900, n).astype(np.float32)
    wps = json.dumps({"loose": 0.4, "medium": 0.5, "tight": 0.6})  # as hepattn generate records
    write_tree(path, branches, tree="events", metadata={"btag_working_points": wps})
    return Path(path)


def shuffled_copy(src, dst, seed=0) -> Path:
    """``src`` with each event's jets in a random order (not pT-sorted)."""
    from tests.reliability._helpers import rewrite

    rng = np.random.default_rng(seed)

    def shuffle(d):
        jets = d["jet"]
        perm = ak.Array([rng.permutation(int(k)).tolist() for k in ak.num(jets["pt"])])
        d["jet"] = {k: v[perm] for k, v in jets.items()}
        return d

    return rewrite(src, dst, "events", shuffle)


def generated(directory, topology: str, n: int = 40, seed: int = 6) -> Path:
    """A small ``hepattn generate`` file of a built-in topology (two chunks)."""
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    if topology == "ttbar-ljets":
        from hepattn.generate.ttbar import TtbarConfig, generate_ttbar

        path = Path(directory) / "lj.root"
        config = TtbarConfig(n_events=n, seed=seed, chunk_size=n // 2, channel="ljets")
        return generate_ttbar(path, config, jobs=1, progress=False)
    from hepattn.generate.hh4b import HH4bConfig, generate_hh4b

    path = Path(directory) / "hh.root"
    return generate_hh4b(path, HH4bConfig(n, seed=seed, chunk_size=n // 2), jobs=1, progress=False)


def train_tiny(topology, train, val, out, schema=None) -> dict:
    """``Matcher.train`` with :data:`TINY` (the model lands in ``out/best``)."""
    run = load_run_config("topology-matcher", tiny_config(Path(out).parent), topology=topology)
    return Matcher.train(run, [train], [val], out, schema=schema)


@pytest.fixture(scope="module")
def ljets(tmp_path_factory):
    """A generated lepton+jets file and a tiny model trained on it through the Python API."""
    d = tmp_path_factory.mktemp("topo_ljets")
    path = generated(d, "ttbar-ljets")
    summary = train_tiny("ttbar-ljets", path, path, d / "run")
    return path, d / "run" / "best", summary


@pytest.fixture(scope="module")
def hh4b(tmp_path_factory):
    """A generated HH -> 4b file and a tiny model trained on it through the command line."""
    d = tmp_path_factory.mktemp("topo_hh4b")
    path = generated(d, "hh-4b")
    argv = ["train", "matcher", "--topology", "hh-4b", "--config", str(tiny_config(d))]
    argv += ["--train", str(path), "--val", str(path), "-o", str(d / "run"), "--no-progress"]
    assert main(argv) == 0
    return path, d / "run" / "best"


def test_training_smoke_ljets(ljets):
    _, model, summary = ljets
    assert summary["epochs"] == 1 and summary["topology"] == "ttbar-ljets"
    assert 0 <= summary["val_resonance_efficiency"] <= 1 and np.isfinite(summary["val_loss"])
    assert summary["schema"] == "hepattn-ttbar-ljets"
    assert summary["collections"] == "jets, lepton, met"
    assert {"config.yaml", "weights.pt", "standardization.json", "card.md"} <= {
        p.name for p in model.iterdir()
    }
    config = yaml.safe_load((model / "config.yaml").read_text())
    assert config["task"] == "matcher" and config["model"]["topology"] == "ttbar-ljets"
    assert "b_had,q1,q2,b_lep,l,nu" in (model / "card.md").read_text()


def test_training_smoke_hh4b_cli(hh4b):
    _, model = hh4b
    config = yaml.safe_load((model / "config.yaml").read_text())
    assert config["model"]["topology"] == "hh-4b" and config["data"]["schema"] == "hepattn-hh4b"
    matcher = Matcher.load(model, "hh-4b")
    assert matcher.topology.name == "hh-4b" and matcher.metrics is not None


def test_match_branches_ljets(ljets):
    path, model, _ = ljets
    matcher = Matcher.load(model, "ttbar-ljets")
    ev = matcher.read(path)
    branches, metadata = matcher.match(ev)
    d = ["t_had_b_had", "t_had_q1", "t_had_q2", "t_lep_b_lep", "t_lep_l", "t_lep_nu"]
    extra = ["t_had_prob", "t_had_detection", "t_lep_prob", "t_lep_detection"]
    assert list(branches) == ["assignment", *d, "prob", *extra]
    assert branches["assignment"].shape == (len(branches["t_had_q1"]), 6)
    with uproot.open(path) as f:
        njet = f["events"]["njet"].array(library="np")
    for name in d:
        v = branches[name]
        assert v.dtype == np.int32 and v.shape == (len(njet),)
        assert np.all((v >= -1) & (v < njet))
    assert np.all(branches["t_lep_l"] == 0) and np.all(branches["t_lep_nu"] == 0)
    jets = np.stack([branches[n] for n in d[:4]], 1)
    for row in jets:  # no jet used twice
        used = row[row >= 0]
        assert len(used) == len(set(used.tolist()))
    for r in ("t_had", "t_lep"):
        prob, det = branches[f"{r}_prob"], branches[f"{r}_detection"]
        assert prob.dtype == det.dtype == np.float32
        assert np.all(np.isnan(prob) | ((prob >= 0) & (prob <= 1)))
        assert np.all((det >= 0) & (det <= 1))
    assert metadata["topology"] == "ttbar-ljets" and metadata["method"] == "network"
    assert metadata["assignment_order"] == "b_had,q1,q2,b_lep,l,nu"


def test_match_branches_hh4b(hh4b):
    path, model = hh4b
    matcher = Matcher.load(model, "hh-4b")
    branches, metadata = matcher.match(matcher.read(path))
    assert list(branches) == [
        "assignment",
        "H1_b1",
        "H1_b2",
        "H2_b3",
        "H2_b4",
        "prob",
        "H1_prob",
        "H1_detection",
        "H2_prob",
        "H2_detection",
    ]
    assert metadata["assignment_order"] == "b1,b2,b3,b4"


@pytest.mark.parametrize("which", ["ljets", "hh4b"])
def test_indices_in_file_order_and_invariant_under_a_jet_shuffle(request, tmp_path, which):
    """Jets in the file in a random order (not pT-sorted; more than ``max_objects`` = 6 in
    some events): ``R_d`` index the file's own jets, and the same physical jets are chosen
    with the same probabilities as from the pT-sorted file."""
    fixture = request.getfixturevalue(which)
    path, model = fixture[0], fixture[1]
    topology = "ttbar-ljets" if which == "ljets" else "hh-4b"
    matcher = Matcher.load(model, topology)
    mixed = shuffled_copy(path, tmp_path / "mixed.root", seed=1)
    with uproot.open(path) as f:
        pt = f["events"]["jet_pt"].array()
    with uproot.open(mixed) as f:
        pt_mixed = f["events"]["jet_pt"].array()
    assert not all(ak.to_list(ak.all(pt_mixed[:, :-1] >= pt_mixed[:, 1:], axis=1)))
    assert ak.max(ak.num(pt)) > 6
    ev = matcher.read(path)
    slots, _, _ = matcher.predict(ev)
    a, _ = matcher.match(ev)
    b, _ = matcher.match(matcher.read(mixed))
    jets = matcher.topology.partons_from(JETS)
    names = [matcher.topology.qualified[p] for p in jets]
    for p, name in zip(jets, names, strict=True):
        # the generated file is pT-sorted: file order is slot order
        assert np.array_equal(a[name], slots[:, p])
        for e in range(len(pt)):
            ja = pt[e][a[name][e]] if a[name][e] >= 0 else -1
            jb = pt_mixed[e][b[name][e]] if b[name][e] >= 0 else -1
            assert ja == jb, (name, e)
    for r in matcher.topology.resonances:
        for k in ("prob", "detection"):
            x, y = a[f"{r.name}_{k}"], b[f"{r.name}_{k}"]
            assert np.allclose(x, y, atol=1e-5, equal_nan=True)


def test_user_topology_trains_and_matches_without_its_yaml(tmp_path, capsys):
    """A ttH(bb) lepton+jets declaration trains for one epoch on a hand-built file; the run
    config stores the declaration, so the saved model loads and matches once the YAML is
    gone (Python API, and ``hepattn match --topology NAME`` with the model)."""
    topo_file = tmp_path / "tth.yaml"
    topo_file.write_text(TTH)
    data = event_file(tmp_path / "tth.root", topo_file, n=48, seed=2)
    with uproot.open(data) as f:  # labels of the jet daughters b, q1, q2, b', b1, b2
        assert set(ak.flatten(f["events"]["jet_parton"].array()).tolist()) == {
            -1,
            0,
            1,
            2,
            3,
            6,
            7,
        }
    argv = ["train", "matcher", "--topology", str(topo_file), "--config"]
    argv += [str(tiny_config(tmp_path)), "--schema", "hepattn-ttbar-ljets"]
    argv += ["--train", str(data), "--val", str(data), "-o", str(tmp_path / "run"), "--no-progress"]
    assert main(argv) == 0
    assert "resonance efficiency" in capsys.readouterr().out
    model = tmp_path / "run" / "best"
    stored = yaml.safe_load((model / "config.yaml").read_text())["model"]["topology"]
    assert stored == yaml.safe_load(TTH)
    topo_file.unlink()
    matcher = Matcher.load(model)
    assert matcher.topology.name == "tth-ljets" and matcher.topology.n_partons == 8
    branches, metadata = matcher.match(matcher.read(data))
    assert list(branches)[1:9] == [
        "t_had_b",
        "t_had_q1",
        "t_had_q2",
        "t_lep_b",
        "t_lep_l",
        "t_lep_nu",
        "H_b1",
        "H_b2",
    ]
    assert {"H_prob", "H_detection", "t_lep_detection"} <= set(branches)
    assert metadata["assignment_order"] == "b,q1,q2,b',l,nu,b1,b2"
    out = tmp_path / "m.root"
    argv = ["match", str(data), "-o", str(out), "--model", str(model), "--topology", "tth-ljets"]
    assert main(argv) == 0, capsys.readouterr().err
    with uproot.open(out) as f:
        assert f["hepattn"]["H_b1"].array(library="np").dtype == np.int32
        assert np.array_equal(f["hepattn"]["H_b2"].array(library="np"), branches["H_b2"])


def test_a_decision_given_where_the_model_reads_scores_is_warned(hh4b, tmp_path, caplog):
    """A score-trained matcher fed 0/1 values in its score branch warns, naming the branch."""
    from tests.reliability._helpers import rewrite

    src, model_dir = hh4b
    model = Matcher.load(model_dir, "hh-4b")

    def decisions(d):
        d["jet"]["btag_score"] = ak.values_astype(d["jet"]["btag"], np.float32)
        return d

    bad = rewrite(src, tmp_path / "dec.root", "events", decisions)
    with caplog.at_level("WARNING"):
        model.read(bad)
    assert "holds only 0 and 1" in caplog.text and "jet_btag_score" in caplog.text
