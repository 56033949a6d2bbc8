"""Bad inputs to the topology matcher: each one clear line on stderr, no traceback, naming the
branch, event field, model or label at fault; nothing written."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.cli import main
from tests.reliability._helpers import rewrite, snapshot
from tests.tasks.test_topology_task import event_file, tiny_config, train_tiny

#: A user's schema of lepton+jets files that maps no MET event fields.
NO_MET_SCHEMA = """\
name: ljets-no-met
tree: events
collections:
  jets:
    kinematics: ptetaphim
    branches: {pt: jet_pt, eta: jet_eta, phi: jet_phi, mass: jet_mass}
    fields: {btag: jet_btag}
    labels: {parton: jet_parton}
    counter: njet
  lepton:
    kinematics: ptetaphim
    branches: {pt: lepton_pt, eta: lepton_eta, phi: lepton_phi, mass: lepton_mass}
    fields: {charge: lepton_charge}
    counter: nlepton
event: {weight: weight}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("topo_bad")
    lj = event_file(d / "lj.root", "ttbar-ljets", n=40, seed=1)
    hh = event_file(d / "hh.root", "hh-4b", n=40, seed=1)
    train_tiny("ttbar-ljets", lj, lj, d / "run_lj")
    train_tiny("hh-4b", hh, hh, d / "run_hh")
    return {"lj": lj, "hh": hh, "m_lj": d / "run_lj" / "best", "m_hh": d / "run_hh" / "best"}


def _refused(capsys, argv, *words) -> str:
    assert main(argv) == 1, argv
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = [
        ln for ln in captured.err.splitlines() if not ln.startswith(("INFO", "WARNING", "DEBUG"))
    ]
    assert len(lines) == 1 and all(w in lines[0] for w in words), lines
    return lines[0]


def _without(src, dst, *names):
    return rewrite(src, dst, "events", lambda d: {k: v for k, v in d.items() if k not in names})


@pytest.mark.parametrize(("drop", "branch"), [("lepton", "'lepton_pt'"), ("met_pt", "'met_pt'")])
def test_file_lacking_the_lepton_or_met_branches(data, tmp_path, capsys, drop, branch):
    bad = _without(data["lj"], tmp_path / "bad.root", drop)
    out = tmp_path / "m.root"
    before = snapshot(tmp_path)
    topo = ["--topology", "ttbar-ljets"]
    model = ["--model", str(data["m_lj"])]
    _refused(capsys, ["match", str(bad), "-o", str(out), *topo, *model], "bad.root", branch)
    _refused(capsys, ["match", str(bad), "-o", str(out), *topo, "--method", "chi2"], branch)
    _refused(capsys, ["compare", str(bad), *topo, *model], branch)
    argv = ["train", "matcher", *topo, "--config", str(tiny_config(tmp_path))]
    argv += ["--train", str(bad), "--val", str(bad), "-o", str(tmp_path / "run")]
    _refused(capsys, argv, branch)
    assert not out.exists() and not (tmp_path / "run").exists()
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.endswith("tiny.yaml")} == before


def test_schema_without_met_event_fields(data, tmp_path, capsys):
    schema = tmp_path / "no_met.yaml"
    schema.write_text(NO_MET_SCHEMA)
    out = tmp_path / "m.root"
    args = ["--topology", "ttbar-ljets", "--schema", str(schema)]
    words = ("'met'", "'ljets-no-met'", "['met_pt', 'met_phi']")
    _refused(capsys, ["match", str(data["lj"]), "-o", str(out), *args, "--method", "chi2"], *words)
    _refused(
        capsys,
        ["match", str(data["lj"]), "-o", str(out), *args, "--model", str(data["m_lj"])],
        *words,
    )
    argv = ["train", "matcher", *args, "--config", str(tiny_config(tmp_path))]
    argv += ["--train", str(data["lj"]), "--val", str(data["lj"]), "-o", str(tmp_path / "r")]
    _refused(capsys, argv, *words)
    assert not out.exists()


def test_model_of_another_topology_is_refused(data, tmp_path, capsys):
    out = tmp_path / "m.root"
    lj, hh = str(data["m_lj"]), str(data["m_hh"])
    _refused(
        capsys,
        ["match", str(data["hh"]), "-o", str(out), "--topology", "hh-4b", "--model", lj],
        "matches topology 'ttbar-ljets', not 'hh-4b'",
        "--topology ttbar-ljets",
    )
    _refused(
        capsys,
        ["compare", str(data["lj"]), "--topology", "ttbar-ljets", "--model", hh],
        "matches topology 'hh-4b', not 'ttbar-ljets'",
    )
    _refused(
        capsys,
        ["match", str(data["lj"]), "-o", str(out), "--topology", "tth-ljets", "--model", lj],
        "matches topology 'ttbar-ljets', not 'tth-ljets'",
    )
    # named all-hadronic (the default topology of the bundled model): refused for this model
    _refused(
        capsys,
        ["match", str(data["lj"]), "-o", str(out), "--topology", "ttbar-allhad", "--model", lj],
        "matches topology 'ttbar-ljets', not 'ttbar-allhad'",
    )
    assert not out.exists()
    # without --topology a model is used with its own topology
    assert main(["match", str(data["lj"]), "-o", str(out), "--model", lj]) == 0
    with uproot.open(out) as f:
        assert "t_lep_b_lep" in f["hepattn"].keys()


def test_baselines_belong_to_their_topology(data, tmp_path, capsys):
    out = tmp_path / "m.root"
    _refused(
        capsys,
        ["match", str(data["hh"]), "-o", str(out), "--topology", "hh-4b", "--method", "chi2"],
        "the baseline of topology 'hh-4b' is --method pairing, not chi2",
    )
    _refused(
        capsys,
        ["match", str(data["lj"]), "-o", str(out), "--topology", "ttbar-ljets"]
        + ["--method", "pairing"],
        "the baseline of topology 'ttbar-ljets' is --method chi2, not pairing",
    )
    assert not out.exists()


def test_unbundled_topology_asks_for_a_model(data, tmp_path, capsys):
    from hepattn.models import BUNDLED

    if (BUNDLED / "matcher-ttbar-ljets" / "config.yaml").exists():
        pytest.skip("a ttbar-ljets matcher is bundled")
    _refused(
        capsys,
        ["compare", str(data["lj"]), "--topology", "ttbar-ljets"],
        "no ttbar-ljets matcher is bundled",
        "--model",
    )


def test_jet_labels_outside_the_jet_daughters(data, tmp_path, capsys):
    """A jet labelled with the lepton's index (4 in b_had,q1,q2,b_lep,l,nu) is refused."""
    bad = event_file(tmp_path / "labels.root", "ttbar-ljets", n=20, seed=3, labels=[0, 1, 2, 4])
    _refused(
        capsys,
        ["compare", str(bad), "--topology", "ttbar-ljets", "--model", str(data["m_lj"])],
        "labels.root",
        "jet labels ('parton') must be -1 or a jet daughter's index [0, 1, 2, 3]",
        "b_had,q1,q2,b_lep,l,nu",
    )
    argv = ["train", "matcher", "--topology", "ttbar-ljets", "--config"]
    argv += [str(tiny_config(tmp_path)), "--train", str(bad), "--val", str(bad)]
    _refused(capsys, [*argv, "-o", str(tmp_path / "run")], "jet daughter's index [0, 1, 2, 3]")
    # hh-4b: 4 is past its partons b1..b4
    bad = event_file(tmp_path / "hh_labels.root", "hh-4b", n=20, seed=3, labels=[0, 1, 2, 4])
    _refused(
        capsys,
        ["compare", str(bad), "--topology", "hh-4b", "--model", str(data["m_hh"])],
        "jet daughter's index [0, 1, 2, 3] in b1,b2,b3,b4",
    )
    assert not (tmp_path / "run").exists()


def test_negative_met_and_a_missing_lepton(data, tmp_path, capsys):
    def negative(d):
        d["met_pt"] = np.where(np.arange(len(d["met_pt"])) == 5, -3.0, d["met_pt"])
        return d

    def no_lepton(d):
        d["lepton"] = {
            k: ak.Array([[] if i == 7 else x for i, x in enumerate(v.tolist())])
            for k, v in d["lepton"].items()
        }
        return d

    out = tmp_path / "m.root"
    model = ["--topology", "ttbar-ljets", "--model", str(data["m_lj"])]
    bad = rewrite(data["lj"], tmp_path / "neg.root", "events", negative)
    _refused(capsys, ["match", str(bad), "-o", str(out), *model], "entry 5", "met_pt >= 0")
    bad = rewrite(data["lj"], tmp_path / "nolep.root", "events", no_lepton)
    _refused(
        capsys, ["match", str(bad), "-o", str(out), *model], "entry 7", "no lepton", "ttbar-ljets"
    )
    assert not out.exists()
