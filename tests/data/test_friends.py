"""Friend files: ``--friend`` on ``train``, ``eval`` and ``compare`` reads the labels that
``hepattn label`` wrote next to a NanoAOD file, without copying the data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hepattn.cli import main
from hepattn.data import write_tree
from hepattn.data.root import iterate_branches
from hepattn.data.schema import get_schema
from tests.labels.test_label import JETS, _event, ttbar_genpart, write_nanoaod

SCHEMA = """\
name: nano-labelled
tree: Events
collections:
  jets:
    kinematics: ptetaphim
    branches: {pt: Jet_pt, eta: Jet_eta, phi: Jet_phi, mass: Jet_mass}
    fields: {btag: Jet_btagDeepFlavB, btag_score: Jet_btagDeepFlavB}
    labels: {parton: jet_parton}
    counter: nJet
event: {event: event}
"""

TRAIN = ["--device", "cpu", "--threads", "1", "--epochs", "1", "--no-progress"]


def _events(n: int, jets=JETS) -> list[dict]:
    # all-hadronic events (labelled) and lepton+jets ones (all -1), with jitter on the jets
    rng = np.random.default_rng(n)
    out = []
    for i in range(n):
        js = [(eta + rng.normal(0, 0.02), phi) for eta, phi in jets]
        out.append(_event(ttbar_genpart("had" if i % 4 else "lep"), jets=js))
    return out


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    d = tmp_path_factory.mktemp("friends")
    nano, labels = d / "nano.root", d / "nano_labels.root"
    write_nanoaod(nano, _events(24))
    assert main(["label", str(nano), "-o", str(labels), "--topology", "ttbar-allhad"]) == 0
    schema = d / "nano_labelled.yaml"
    schema.write_text(SCHEMA)
    return d, nano, labels, schema


def _err(capsys) -> list[str]:
    lines = capsys.readouterr().err.strip().splitlines()
    return [x for x in lines if not x.startswith(("INFO ", "WARNING "))]


def test_iterate_branches_merges_the_friend(labelled):
    d, nano, labels, schema = labelled
    s = get_schema(str(schema))
    chunks = list(
        iterate_branches(nano, s, ["nJet", "Jet_pt", "jet_parton"], friends=[labels], step_size=10)
    )
    assert [(c.start, c.stop) for c in chunks] == [(0, 10), (10, 20), (20, 24)]
    for c in chunks:
        assert list(c.arrays) == ["nJet", "Jet_pt", "jet_parton"]
        assert (np.asarray(c.arrays["nJet"]) == [len(x) for x in c.arrays["jet_parton"]]).all()
    assert chunks[0].arrays["jet_parton"].tolist()[1] == [5, -1, 0, 1, 4, 3, -1, -1, -1]


def test_train_eval_compare_with_friend(labelled, tmp_path, capsys):
    d, nano, labels, schema = labelled
    out = tmp_path / "model"
    argv = ["train", "matcher", "--train", str(nano), "--friend", str(labels)]
    argv += ["--val", str(nano), "--val-friend", str(labels), "--schema", str(schema)]
    assert main([*argv, "--out", str(out), *TRAIN]) == 0
    assert "trained ttbar-allhad matcher" in capsys.readouterr().out
    summary = json.loads((out / "best" / "training.json").read_text())
    assert summary["train_events"] > 0
    js = tmp_path / "eval.json"
    assert main(["eval", "matcher", str(nano), "--friend", str(labels), "--model",
                 str(out / "best"), "--json", str(js), "--no-progress"]) == 0  # fmt: skip
    assert json.loads(js.read_text())["files"] == [str(nano)]
    cj = tmp_path / "compare.json"
    assert main(["compare", str(nano), "--friend", str(labels), "--model", str(out / "best"),
                 "--timing-events", "4", "--json", str(cj), "--no-progress",
                 "--btag-wp", "0.2783"]) == 0  # fmt: skip
    assert json.loads(cj.read_text())["events"] == 24
    # without the friend the labels are missing, in one line naming the branch
    assert main(["eval", "matcher", str(nano), "--model", str(out / "best")]) == 1
    err = _err(capsys)
    assert len(err) == 1 and "jet_parton" in err[0]


def test_stream_with_friend(labelled, tmp_path, capsys):
    d, nano, labels, schema = labelled
    out = tmp_path / "model"
    argv = ["train", "matcher", "--train", str(nano), "--friend", str(labels), "--stream"]
    argv += ["--val-fraction", "0.25", "--chunk-entries", "10", "--schema", str(schema)]
    assert main([*argv, "--out", str(out), *TRAIN]) == 0
    assert (out / "best").is_dir()


def test_friend_errors_one_line(labelled, tmp_path, capsys):
    d, nano, labels, schema = labelled
    short, short_labels = tmp_path / "short.root", tmp_path / "short_labels.root"
    write_nanoaod(short, _events(5))
    assert main(["label", str(short), "-o", str(short_labels), "--topology", "ttbar-allhad"]) == 0
    fewer, fewer_labels = tmp_path / "fewer.root", tmp_path / "fewer_labels.root"
    write_nanoaod(fewer, _events(24, jets=JETS[:7]))  # same events, other jet counts
    assert main(["label", str(fewer), "-o", str(fewer_labels), "--topology", "ttbar-allhad"]) == 0
    nolabel = tmp_path / "nolabel.root"
    write_tree(nolabel, {"other": np.zeros(24, dtype=np.int32)}, tree="labels")
    h5 = tmp_path / "x.h5"
    h5.write_bytes(b"")
    capsys.readouterr()
    base = ["train", "matcher", "--val-fraction", "0.25", "--schema", str(schema), *TRAIN]
    out = ["--out", str(tmp_path / "m")]
    cases = [
        (["--train", str(nano), "--friend", str(short_labels)], "has 5 entries but"),
        (["--train", str(nano), "--friend", str(fewer_labels)], "comes from the friend"),
        (["--train", str(nano), "--friend", str(nolabel)], "no branch 'jet_parton'"),
        (["--train", str(nano), "--friend", str(labels), str(labels)], "2 friend file(s) for 1"),
        (["--train", str(h5), "--friend", str(labels)], "SPANet HDF5"),
        (["--train", str(nano), "--val-friend", str(labels)], "--val-friend goes with --val"),
    ]
    for extra, needle in cases:
        assert main([*base, *extra, *out]) == 1, extra
        err = _err(capsys)
        assert len(err) == 1 and err[0].startswith("hepattn train: error:"), err
        assert needle in err[0], err[0]
    # the messages name both files
    assert main([*base, "--train", str(nano), "--friend", str(short_labels), *out]) == 1
    err = _err(capsys)[0]
    assert str(short_labels) in err and str(nano) in err
    assert main([*base, "--train", str(nano), "--friend", str(nolabel), *out]) == 1
    err = _err(capsys)[0]
    assert str(nolabel) in err and str(nano) in err


def test_friend_tree_named_as_file_colon_tree(labelled, tmp_path, capsys):
    """A friend file holding several trees, none named labels/hepattn: FILE:TREE (uproot's
    notation) names the one to read; without it, or with a tree the file lacks, one line."""
    import uproot

    d, nano, labels, schema = labelled
    arrays = uproot.open(labels)["labels"].arrays(["jet_parton", "parton_jet"], library="ak")
    two = tmp_path / "two_trees.root"
    write_tree(two, {k: arrays[k] for k in arrays.fields}, tree="truth")
    with uproot.update(two) as f:
        f.mktree("other", {"x": np.int32}).extend({"x": np.zeros(24, dtype=np.int32)})
    s = get_schema(str(schema))
    (chunk,) = iterate_branches(nano, s, ["nJet", "jet_parton"], friends=[f"{two}:truth"])
    assert chunk.arrays["jet_parton"].tolist() == arrays["jet_parton"].tolist()
    argv = ["train", "matcher", "--train", str(nano), "--val-fraction", "0.25"]
    argv += ["--schema", str(schema), "--out", str(tmp_path / "m"), *TRAIN]
    assert main([*argv, "--friend", f"{two}:truth"]) == 0
    capsys.readouterr()
    for friend, needle in ((str(two), f"name it as {two}:TREE"), (f"{two}:nope", "no tree 'nope'")):
        assert main([*argv, "--friend", friend]) == 1
        err = _err(capsys)
        assert len(err) == 1 and needle in err[0], err
