"""Event classification heads of the matcher (issue 25): classes declared in the topology,
each file's class given as FILE:CLASS, the assignment loss on the signal only, the class
balance, the EVENT_<class>_prob outputs, and the bad inputs one line each."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import uproot
import yaml

from hepattn.cli import main
from hepattn.errors import DataError
from hepattn.tasks.classification import class_weights, split_class_labels
from hepattn.tasks.matching import Matcher, MatcherRunConfig
from hepattn.topology import TopologyError, load_topology, topology_from_dict
from tests.tasks.test_matching_task import TINY, slice_file

HH = Path(__file__).parents[2] / "samples" / "hh4b.root"


def background_file(path, start, stop):
    """HH → 4b events in the all-hadronic file layout: four b jets, a background to tt̄ that
    a classifier can tell apart (and parton labels, which a background's must not keep)."""
    from tests.tasks.test_matching_task import BRANCHES

    t = uproot.open(HH)["events"]
    a = t.arrays([*BRANCHES, "weight", "event"], entry_start=start, entry_stop=stop)
    p = t.arrays([f"parton_{x}" for x in ("pt", "eta", "phi", "mass", "pdgid", "jet")],
                 entry_start=start, entry_stop=stop)  # fmt: skip
    import awkward as ak

    from hepattn.baselines.btag import file_working_points
    from hepattn.data.writer import write_tree

    write_tree(
        path,
        {
            "jet": ak.zip({b[4:]: a[b] for b in BRANCHES}),
            "parton": ak.zip({k[7:]: p[k] for k in p.fields}),
            "weight": a["weight"].to_numpy(),
            "event": a["event"].to_numpy(),
        },
        tree="events",
        metadata={"btag_working_points": json.dumps(file_working_points(HH))},
    )
    return path


def config(epochs=4):
    cfg = copy.deepcopy(TINY)
    cfg["model"]["classifications"] = "all"
    cfg["training"]["epochs"] = epochs
    return cfg


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cls")
    return {
        "sig": slice_file(d / "sig.root", 0, 1200),
        "bkg": background_file(d / "bkg.root", 0, 600),
        "sig_val": slice_file(d / "sig_val.root", 1200, 1600),
        "bkg_val": background_file(d / "bkg_val.root", 600, 1000),
        "dir": d,
    }


@pytest.fixture(scope="module")
def trained(files):
    d = files["dir"]
    train = [f"{files['sig']}:ttbar", f"{files['bkg']}:qcd"]
    val = [f"{files['sig_val']}:ttbar", f"{files['bkg_val']}:qcd"]
    summary = Matcher.train(MatcherRunConfig.from_dict(config()), train, val, d / "run")
    return d / "run" / "best", summary


def test_topology_declares_classifications():
    hh = load_topology("hh-4b")
    assert hh.classification("process").classes == ("hh", "qcd", "ttbar")
    assert hh.classifications[0].outputs()[0] == "EVENT_hh_prob"
    back = topology_from_dict(hh.declaration(), "x")
    assert back.classifications == hh.classifications
    bad = hh.declaration()
    bad["classifications"] = [{"name": "process", "classes": ["hh"]}]
    with pytest.raises(TopologyError, match="at least two classes"):
        topology_from_dict(bad, "x.yaml")
    bad["classifications"] = [{"name": "p", "classes": ["hh", "qcd"], "wieght": 1}]
    with pytest.raises(TopologyError, match="wieght"):
        topology_from_dict(bad, "x.yaml")


def test_file_labels_split_and_checked(files):
    classes = load_topology("ttbar-allhad").classifications
    paths, labels = split_class_labels([f"{files['sig']}:ttbar", f"{files['bkg']}:qcd"], classes)
    assert paths == [str(files["sig"]), str(files["bkg"])]
    assert labels == {str(files["sig"]): "ttbar", str(files["bkg"]): "qcd"}
    assert split_class_labels([str(files["sig"])], classes) == ([str(files["sig"])], None)
    with pytest.raises(DataError, match=r"class 'wjets' is not declared.*\['ttbar', 'qcd'\]"):
        split_class_labels([f"{files['sig']}:wjets"], classes)
    with pytest.raises(DataError, match="no class; give every file its class"):
        split_class_labels([f"{files['sig']}:ttbar", str(files["bkg"])], classes)


def test_balanced_class_weights_by_hand():
    labels = np.array([[0], [0], [0], [1], [-1]])
    np.testing.assert_allclose(class_weights(labels, "balanced"), [2 / 3, 2 / 3, 2 / 3, 2, 1])
    assert class_weights(labels, "none") is None


def test_training_learns_the_classes_and_keeps_the_assignments(trained, files, caplog):
    model, summary = trained
    m = Matcher.load(model)
    assert [c.name for c in m.classifications] == ["process"]
    card = (model / "card.md").read_text()
    assert "**Classifications**: `process`" in card and "qcd" in card
    history = json.loads((model / "training.json").read_text())
    assert "classification_accuracy_process" in json.dumps(history)
    m.file_classes = {str(files["sig_val"]): "ttbar", str(files["bkg_val"]): "qcd"}
    with caplog.at_level(logging.WARNING):
        ev = m.read_labelled([files["sig_val"], files["bkg_val"]])
    assert "background events carry parton labels" in caplog.text
    bg = ev.derived["class_label"][:, 0] == 1
    assert bg.sum() == 400 and (ev.derived["truth"][bg] == -1).all()
    probs = m.predict_classes(ev)
    assert set(probs) == {"EVENT_ttbar_prob", "EVENT_qcd_prob"}
    np.testing.assert_allclose(probs["EVENT_ttbar_prob"] + probs["EVENT_qcd_prob"], 1, rtol=1e-5)
    p = probs["EVENT_ttbar_prob"]
    assert p[~bg].mean() > p[bg].mean() + 0.2  # four b jets against tt̄: learnt quickly


def test_match_writes_the_class_probabilities(trained, files, tmp_path):
    model, _ = trained
    out = tmp_path / "m.root"
    assert main(["match", str(files["bkg_val"]), "--model", str(model), "-o", str(out)]) == 0
    t = uproot.open(out)["hepattn"]
    p = t["EVENT_ttbar_prob"].array(library="np") + t["EVENT_qcd_prob"].array(library="np")
    np.testing.assert_allclose(p, 1, rtol=1e-5)


def test_training_without_file_classes_is_one_line(files, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(config(1)))
    args = ["train", "matcher", "--config", str(cfg), "--train", str(files["sig"])]
    args += ["--val", str(files["sig_val"]), "-o", str(tmp_path / "r"), "--no-progress"]
    assert main(args) == 1
    assert "give each training file its class as FILE:CLASS" in capsys.readouterr().err
    args[5] = f"{files['sig']}:signal"
    assert main(args) == 1
    assert "class 'signal' is not declared" in capsys.readouterr().err


@pytest.mark.parametrize("decode", [False, True])
def test_onnx_gives_the_class_probabilities(trained, tmp_path, decode):
    """The exported graph's last outputs are EVENT_<class>_prob, as the task computes them
    (the padded inputs of the ONNX topology tests, an all-hadronic model)."""
    ort = pytest.importorskip("onnxruntime")
    import onnx

    from hepattn.export import export_onnx
    from tests.test_export_onnx_topology import padded_inputs

    model, _ = trained
    task = Matcher.load(model)
    path = export_onnx(model, "matcher", tmp_path / "m.onnx", decode=decode)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    assert names[-2:] == ["EVENT_ttbar_prob", "EVENT_qcd_prob"]
    feed = padded_inputs(task, 3, 9, seed=5)
    got = sess.run(None, {k: v.numpy() for k, v in feed.items()})
    with torch.no_grad():
        logits = task.net(feed["x"], feed["p4"], feed["mask"]).classification
    want = task.net.class_probabilities(logits)[0].numpy()
    np.testing.assert_allclose(np.stack(got[-2:], 1), want, rtol=1e-4, atol=1e-5)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["classifications"]) == {"process": ["ttbar", "qcd"]}


def test_the_event_tree_baseline_on_the_same_events(trained, files):
    pytest.importorskip("sklearn")
    from hepattn.baselines.event_tree import EventTree, event_features
    from hepattn.metrics.classification import one_vs_rest_auc, rejection_at

    model, _ = trained
    m = Matcher.load(model)
    pairs = (("sig", "ttbar"), ("bkg", "qcd"), ("sig_val", "ttbar"), ("bkg_val", "qcd"))
    m.file_classes = {str(files[k]): c for k, c in pairs}
    train = m.read_labelled([files["sig"], files["bkg"]])
    test = m.read_labelled([files["sig_val"], files["bkg_val"]])
    names, x = event_features(m, train)
    assert names[:5] == ["ht", "n_jets", "n_btags", "jet1_pt", "score"]
    assert {"m_t1", "m_t2", "m_t1_q1q2", "m_all"} <= set(names)
    labels = train.derived["class_label"][:, 0]
    tree = EventTree(seed=1).fit(names, x, labels)
    prob = tree.predict_proba(event_features(m, test)[1])
    truth = test.derived["class_label"][:, 0]
    assert one_vs_rest_auc(prob, truth, 2)[0] > 0.8  # four b jets: n_btags alone separates
    assert rejection_at(prob[:, 0], truth == 0, 0.5) > 2
    assert "HistGradientBoostingClassifier" in tree.describe()


def test_physical_proportions_from_the_files_cross_sections(files, tmp_path):
    """Backgrounds weighted by σ / N_gen of their files, all of them as heavy as the signal;
    a file without the metadata is one line naming it."""
    import dataclasses

    from hepattn.data.writer import write_tree
    from hepattn.tasks.classification import class_weights

    def with_xsec(src, dst, sigma, n_gen):
        a = uproot.open(src)["events"].arrays()
        meta = {"cross_section_pb": repr(sigma), "n_generated": str(n_gen)}
        write_tree(dst, {k: a[k] for k in a.fields}, tree="events", metadata=meta)
        return dst

    qcd = with_xsec(files["sig_val"], tmp_path / "qcd.root", 1000.0, 100_000)  # 0.01 pb each
    tt = with_xsec(files["sig_val"], tmp_path / "tt.root", 500.0, 1000)  # 0.5 pb each
    sig = files["bkg_val"]  # HH events: the signal of hh-4b
    m = Matcher(MatcherRunConfig.from_dict({**config(1), "model": {**config(1)["model"],
                                            "topology": "hh-4b"}}))  # fmt: skip
    m.file_classes = {str(sig): "hh", str(qcd): "qcd", str(tt): "ttbar"}
    ev = m.read([sig, qcd, tt], need_labels=True, schema="hepattn-ttbar")
    labels = ev.derived["class_label"]
    w = class_weights(labels, "physical", ev)
    c = labels[:, 0]
    assert w[c == 0] == pytest.approx(1.0)
    assert w[c > 0].sum() == pytest.approx((c == 0).sum())
    assert w[c == 2].sum() / w[c == 1].sum() == pytest.approx(50.0)  # 0.5 pb / 0.01 pb
    m.file_classes = {str(sig): "hh", str(files["sig_val"]): "qcd"}
    ev = m.read([sig, files["sig_val"]], need_labels=True, schema="hepattn-ttbar")
    with pytest.raises(DataError, match=r"sig_val.root: no generated cross-section"):
        class_weights(ev.derived["class_label"], "physical", ev)
    assert dataclasses.is_dataclass(ev)


def test_a_signal_file_of_another_topology_is_one_line(files, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(config(1)))
    args = ["train", "matcher", "--config", str(cfg), "--train", f"{HH}:ttbar"]
    args += [f"{files['bkg']}:qcd", "--val", f"{files['sig_val']}:ttbar", f"{files['bkg_val']}:qcd"]
    assert main([*args, "-o", str(tmp_path / "r"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "hh4b.root: given as the signal class 'ttbar'" in err and "topology 'hh-4b'" in err
