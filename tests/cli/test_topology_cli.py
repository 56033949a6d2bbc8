"""``hepattn match --topology`` (the network, and the chi2/pairing baselines without a model)
and ``hepattn compare --topology … --json`` on hand-built lepton+jets and HH -> 4b files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import uproot

from hepattn.cli import main
from tests.tasks.test_topology_task import event_file, shuffled_copy, train_tiny

LJETS_D = ["t_had_b_had", "t_had_q1", "t_had_q2", "t_lep_b_lep", "t_lep_l", "t_lep_nu"]
HH_D = ["H1_b1", "H1_b2", "H2_b3", "H2_b4"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Per topology: a training file, a held-out file and a tiny model trained on the first."""
    d = tmp_path_factory.mktemp("topo_cli")
    out = {}
    for topology, key in (("ttbar-ljets", "lj"), ("hh-4b", "hh")):
        train = event_file(d / f"{key}_train.root", topology, n=64, seed=1)
        test = event_file(d / f"{key}_test.root", topology, n=40, seed=2)
        train_tiny(topology, train, train, d / f"run_{key}")
        out[key] = (test, d / f"run_{key}" / "best")
    return out


def _strings(path) -> dict[str, str]:
    with uproot.open(path) as f:
        return {k.split(";")[0]: str(f[k]) for k in f.keys() if f[k].classname == "TObjString"}


def test_match_network_ljets(setup, tmp_path, capsys):
    src, model = setup["lj"]
    out = tmp_path / "m.root"
    argv = ["match", str(src), "-o", str(out), "--topology", "ttbar-ljets", "--model", str(model)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "matched 40 events (ttbar-ljets) with the network method" in printed
    assert f"wrote {out}:hepattn" in printed
    with uproot.open(out) as f:
        tree = f["hepattn"]
        assert tree.num_entries == 40
        names = LJETS_D + ["t_had_prob", "t_had_detection", "t_lep_prob", "t_lep_detection"]
        assert sorted(tree.keys()) == sorted(["assignment", *names, "prob"])
        arrays = tree.arrays(library="np")
    assert all(arrays[n].dtype == np.int32 for n in LJETS_D)
    assert np.all(arrays["t_lep_l"] == 0) and np.all(arrays["t_lep_nu"] == 0)
    meta = _strings(out)
    assert meta["topology"] == "ttbar-ljets" and meta["method"] == "network"
    assert meta["assignment_order"] == "b_had,q1,q2,b_lep,l,nu"
    assert "R_d = -1" in meta["sentinels"] and "R_detection" in meta["sentinels"]
    assert meta["model"] == str(model)


def test_match_network_hh4b(setup, tmp_path, capsys):
    src, model = setup["hh"]
    out = tmp_path / "m.root"
    argv = ["match", str(src), "-o", str(out), "--topology", "hh-4b", "--model", str(model)]
    assert main(argv) == 0
    assert "(hh-4b) with the network method" in capsys.readouterr().out
    with uproot.open(out) as f:
        keys = set(f["hepattn"].keys())
    assert keys == {*HH_D, "H1_prob", "H1_detection", "H2_prob", "H2_detection"} | {
        "assignment",
        "prob",
    }


def test_match_chi2_ljets_without_a_model_in_file_order(setup, tmp_path, capsys):
    """The baseline needs no model; its jet indices are the file's own, also when the jets
    are not pT-sorted."""
    src, _ = setup["lj"]
    mixed = shuffled_copy(src, tmp_path / "mixed.root", seed=3)
    outs = []
    for f in (src, mixed):
        out = tmp_path / f"chi2_{f.stem}.root"
        argv = ["match", str(f), "-o", str(out), "--topology", "ttbar-ljets", "--method", "chi2"]
        assert main([*argv, "--btag-wp", "0.5"]) == 0  # the copy has no recorded point
        outs.append(out)
    assert "with the chi2 method" in capsys.readouterr().out
    with uproot.open(outs[0]) as f:
        a = f["hepattn"].arrays(library="np")
    with uproot.open(outs[1]) as f:
        b = f["hepattn"].arrays(library="np")
    assert set(a) == {"assignment", *LJETS_D, "chi2"} and a["chi2"].dtype == np.float64
    meta = _strings(outs[0])
    assert meta["method"] == "chi2" and "neutrino pz from m_W" in meta["baseline"]
    assert np.allclose(a["chi2"], b["chi2"], rtol=1e-5)
    with uproot.open(src) as f:
        pt = f["events"]["jet_pt"].array()
    with uproot.open(mixed) as f:
        pt_mixed = f["events"]["jet_pt"].array()
    for name in LJETS_D[:4]:
        assert np.all(a[name] >= 0)  # every hand-built event has at least four jets
        for e in range(len(pt)):
            assert pt[e][a[name][e]] == pt_mixed[e][b[name][e]]


def test_match_pairing_hh4b_without_a_model(setup, tmp_path, capsys):
    src, _ = setup["hh"]
    out = tmp_path / "p.root"
    argv = ["match", str(src), "-o", str(out), "--topology", "hh-4b", "--method", "pairing"]
    assert main(argv) == 0
    assert "with the pairing method" in capsys.readouterr().out
    with uproot.open(out) as f:
        a = f["hepattn"].arrays(library="np")
    assert set(a) == {"assignment", *HH_D, "dhh"} and a["dhh"].dtype == np.float64
    assert np.all(np.isfinite(a["dhh"])) and np.all(a["dhh"] >= 0)
    jets = np.stack([a[n] for n in HH_D], 1)
    assert all(len(set(row.tolist())) == 4 for row in jets)  # four distinct jets
    assert "D_HH" in _strings(out)["baseline"]


@pytest.mark.parametrize(
    ("key", "topology", "baseline", "resonances"),
    [("lj", "ttbar-ljets", "chi2", ["t_had", "t_lep"]), ("hh", "hh-4b", "pairing", ["H1", "H2"])],
)
def test_compare_json_contract(setup, tmp_path, capsys, key, topology, baseline, resonances):
    src, model = setup[key]
    out = tmp_path / "c.json"
    argv = ["compare", str(src), "--topology", topology, "--model", str(model), "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"Matching efficiencies, {topology}: 40 events read" in printed
    assert f"{baseline} ε_event" in printed and "network ε_event" in printed
    d = json.loads(out.read_text())
    contract = {"topology", "rows", "events", "baseline", "model", "files", "definitions"}
    assert contract <= set(d)  # contracts are extended, never renamed
    assert d["weighted"] is None  # unweighted unless --weight names a field
    assert d["topology"] == topology and d["events"] == 40 and d["model"] == str(model)
    assert d["files"] == [str(src)] and isinstance(d["baseline"], str)
    assert isinstance(d["definitions"], (str, dict)) and d["definitions"]
    assert "inclusive" in d["rows"]
    cell_keys = {"event", "event_err", "n_events"}
    for r in resonances:
        cell_keys |= {r, f"{r}_err", f"n_{r}"}
    for row in d["rows"].values():
        assert set(row) == {baseline, "network"}
        for cell in row.values():
            assert set(cell) >= cell_keys
            for name in ["event", *resonances]:
                v = cell[name]
                assert v is None or 0 <= v <= 1
    inclusive = d["rows"]["inclusive"]
    for m in (baseline, "network"):
        for n in ["n_events", *(f"n_{r}" for r in resonances)]:
            rows = [v[m][n] for k, v in d["rows"].items() if k != "inclusive"]
            assert sum(rows) == inclusive[m][n]
        assert inclusive[m]["n_events"] > 0
    # both methods are counted on the same events
    assert inclusive[baseline]["n_events"] == inclusive["network"]["n_events"]
