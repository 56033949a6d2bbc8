"""SPANet HDF5 of declared topologies (``ttbar-ljets``, ``hh-4b``): the layout written,
round trips through the topology matcher's reader, the CLI's ``--topology``, clear errors;
all-hadronic output unchanged."""

from __future__ import annotations

import hashlib
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hepattn.cli import main
from hepattn.data import write_tree
from hepattn.data.spanet import read_spanet_h5, spanet_targets, write_spanet_h5
from hepattn.errors import DataError, SchemaError
from hepattn.tasks.matching import Matcher, MatcherRunConfig
from hepattn.tasks.presets import run_config_dict
from hepattn.topology import TOPOLOGIES, load_topology
from tests.data.test_spanet import assert_same_events, toy_root

h5py = pytest.importorskip("h5py")

LJ_TARGETS = spanet_targets(TOPOLOGIES["ttbar-ljets"])

# Per event, jets in file order (not pT-sorted): pt, eta, phi, mass, btag, parton label in
# the topology's parton order (ttbar-ljets: 0 b_had, 1 q1, 2 q2, 3 b_lep; hh-4b: b1..b4).
LJETS = [
    [
        (30.0, 0.5, 1.0, 5.0, True, 3),
        (80.0, -1.0, -2.0, 10.0, False, 1),
        (55.0, 2.0, 3.0, 7.0, True, 0),
        (41.0, 0.3, -0.4, 6.5, False, 2),
    ],
    [(40.0, 0.1, 0.2, 4.0, True, 0), (35.0, 1.2, -2.2, 5.0, True, 3)],
    [
        (25.0, 1.1, -3.1, 3.0, False, -1),
        (26.0, -0.3, 3.1, 6.0, True, 3),
        (90.0, 0.0, 0.0, 12.0, True, 0),
        (27.0, 0.7, 1.5, 2.0, False, 2),
        (60.0, -2.2, 0.9, 8.0, False, 1),
    ],
]
# Per event, leptons (pt, eta, phi, mass, charge, pdgid): event 2 has two, the leading second.
LEPTONS = [
    [(35.0, 0.4, -1.0, 0.000511, -1, 11)],
    [(28.0, -1.5, 2.0, 0.1057, 1, -13)],
    [(22.0, 0.2, 0.3, 0.000511, 1, -11), (47.0, -0.7, -2.9, 0.1057, -1, 13)],
]
MET = [(55.0, 0.7), (12.5, -2.5), (80.0, 3.0)]
HH = [
    [
        (70.0, 0.1, 0.5, 9.0, True, 2),
        (65.0, -0.8, 2.5, 8.0, True, 0),
        (50.0, 1.5, -1.0, 7.0, True, 3),
        (45.0, 0.9, -2.0, 6.0, True, 1),
        (30.0, -2.0, 1.0, 4.0, False, -1),
    ],
    [(90.0, 0.0, 0.0, 10.0, True, 1), (44.0, 1.0, 1.0, 5.0, False, -1)],
    [(41.0, -1.0, -1.0, 5.5, True, 2)],
]


def jagged(events, i, dtype):
    cols = [o[i] for e in events for o in e]
    return ak.unflatten(np.asarray(cols, dtype=dtype), [len(e) for e in events])


def jets_record(events):
    return ak.zip(
        {
            "pt": jagged(events, 0, np.float32),
            "eta": jagged(events, 1, np.float32),
            "phi": jagged(events, 2, np.float32),
            "mass": jagged(events, 3, np.float32),
            "btag": jagged(events, 4, np.bool_),
            "flavour": jagged(events, 5, np.int32),
            "parton": jagged(events, 5, np.int32),
        }
    )


def ljets_root(path: Path, leptons=LEPTONS) -> Path:
    """A small file in the hepattn-ttbar-ljets layout (jets, lepton, MET, weight, event)."""
    lep = ak.zip(
        {
            "pt": jagged(leptons, 0, np.float32),
            "eta": jagged(leptons, 1, np.float32),
            "phi": jagged(leptons, 2, np.float32),
            "mass": jagged(leptons, 3, np.float32),
            "charge": jagged(leptons, 4, np.int32),
            "pdgid": jagged(leptons, 5, np.int32),
        }
    )
    n = len(LJETS)
    write_tree(
        path,
        {
            "jet": jets_record(LJETS),
            "lepton": lep,
            "weight": np.linspace(0.5, 2.0, n).astype(np.float32),
            "event": np.arange(10, 10 + n, dtype=np.int64),
            "met_pt": np.asarray([m[0] for m in MET], np.float32),
            "met_phi": np.asarray([m[1] for m in MET], np.float32),
        },
        tree="events",
    )
    return path


def hh_root(path: Path) -> Path:
    n = len(HH)
    write_tree(
        path,
        {
            "jet": jets_record(HH),
            "weight": np.ones(n, np.float32),
            "event": np.arange(n, dtype=np.int64),
            "mhh": np.asarray([400.0, 520.0, 610.0], np.float32),
        },
        tree="events",
    )
    return path


def reader(topology: str) -> Matcher:
    """An untrained topology matcher: it reads events as a trained one would (the b-tag
    decision: a SPANet file has one b-tag dataset, ``btag``)."""
    cfg = run_config_dict("topology-matcher")
    cfg["data"]["features"] = ["log_pt", "eta", "log_e", "mass", "btag"]
    cfg["model"]["topology"] = topology
    cfg["data"]["schema"] = load_topology(topology).defaults.schema
    return Matcher(MatcherRunConfig.from_dict(cfg))


def assert_same_collection(a, b) -> None:
    for name in ("values", "mask", "p4", "index", "counts"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_targets_of_each_topology():
    assert [f"{r}/{d}" for r, d, _ in spanet_targets(TOPOLOGIES["ttbar-allhad"])] == [
        "t1/b", "t1/q1", "t1/q2", "t2/b", "t2/q1", "t2/q2"
    ]  # fmt: skip
    assert spanet_targets(TOPOLOGIES["ttbar-ljets"]) == (
        ("t_had", "b_had", 0), ("t_had", "q1", 1), ("t_had", "q2", 2), ("t_lep", "b_lep", 3)
    )  # fmt: skip
    assert spanet_targets(TOPOLOGIES["hh-4b"]) == (
        ("H1", "b1", 0), ("H1", "b2", 1), ("H2", "b3", 2), ("H2", "b4", 3)
    )  # fmt: skip


def test_ljets_layout_and_round_trip(tmp_path):
    root = ljets_root(tmp_path / "lj.root")
    s = write_spanet_h5(tmp_path / "lj.h5", root, topology="ttbar-ljets")
    assert (s.events, s.max_jets, s.topology) == (3, 5, "ttbar-ljets")
    assert s.resonances == {"t_had": 2, "t_lep": 3} and (s.both_tops, s.one_top) == (2, 1)
    assert s.missing_objects == {"lepton": 0} and s.extra_objects == {"lepton": 1}
    with h5py.File(s.path, "r") as f:
        assert f.attrs["topology"] == "ttbar-ljets"
        assert f.attrs["parton_order"] == "t_had/b_had,t_had/q1,t_had/q2,t_lep/b_lep"
        assert sorted(f["TARGETS"]) == ["t_had", "t_lep"]
        assert sorted(f["TARGETS/t_had"]) == ["b_had", "q1", "q2"]
        assert list(f["TARGETS/t_lep"]) == ["b_lep"]
        got = {f"{t}/{q}": f[f"TARGETS/{t}/{q}"][:].tolist() for t, q, _ in LJ_TARGETS}
        assert got == {
            "t_had/b_had": [2, 0, 2],
            "t_had/q1": [1, -1, 4],
            "t_had/q2": [3, -1, 3],
            "t_lep/b_lep": [0, 1, 1],
        }
        lep = f["INPUTS/lepton"]
        assert lep["pt"].shape == (3,) and lep["pt"].dtype == np.float32
        np.testing.assert_array_equal(lep["MASK"][:], [True, True, True])
        np.testing.assert_allclose(lep["pt"][:], [35.0, 28.0, 47.0])  # the leading lepton
        np.testing.assert_array_equal(lep["charge"][:], [-1, 1, -1])
        met = f["INPUTS/met"]
        np.testing.assert_allclose(met["met"][:], [m[0] for m in MET])
        np.testing.assert_allclose(met["cos_phi"][:], np.cos([m[1] for m in MET]), rtol=1e-6)
        assert "TARGETS/t1" not in f and f["INPUTS/Source/MASK"].shape == (3, 5)

    task = reader("ttbar-ljets")
    a = task.read(root, need_labels=True)
    b = task.read(s.path, need_labels=True)
    assert_same_events(a, b)
    # the lepton: one slot, features as the ROOT reader computes them (index: its slot 0 in
    # the HDF5 file, where the ROOT reader names the leading lepton's position, 1 in event 2)
    la, lb = a["lepton"], b["lepton"]
    np.testing.assert_array_equal(la.index[:, 0], [0, 0, 1])
    np.testing.assert_array_equal(lb.index[:, 0], [0, 0, 0])
    for name in ("values", "mask", "p4"):
        np.testing.assert_array_equal(getattr(la, name), getattr(lb, name), err_msg=name)
    assert set(a.derived) == set(b.derived)
    for name in a.derived:  # truth, per-resonance targets, lepton / MET inputs
        np.testing.assert_array_equal(a.derived[name], b.derived[name], err_msg=name)
    # event 0, jets by pT: q1 (80), b_had (55), q2 (41), b_lep (30); l and ν are not jets
    np.testing.assert_array_equal(b.derived["truth"][0], [1, 0, 2, 3, 0, 0])


def test_hh_round_trip_and_a_user_topology_file(tmp_path):
    root = hh_root(tmp_path / "hh.root")
    s = write_spanet_h5(tmp_path / "hh.h5", root, topology="hh-4b", schema="hepattn-hh4b")
    assert s.resonances == {"H1": 1, "H2": 1} and (s.both_tops, s.one_top) == (1, 0)
    with h5py.File(s.path, "r") as f:
        assert sorted(f["TARGETS"]) == ["H1", "H2"]
        assert f["TARGETS/H1/b1"][:].tolist() == [1, -1, -1]
        assert f["TARGETS/H2/b4"][:].tolist() == [2, -1, -1]
        assert f["TARGETS/H1/b2"][:].tolist() == [3, 0, -1]
        assert sorted(f["INPUTS"]) == ["Source"]  # jets only
        assert list(f["hepattn/event"].attrs["fields"]) == ["weight", "event", "mhh"]
    task = reader("hh-4b")
    a, b = task.read(root, need_labels=True), task.read(s.path, need_labels=True)
    assert_same_events(a, b)
    for name in a.derived:
        np.testing.assert_array_equal(a.derived[name], b.derived[name], err_msg=name)
    # a user's topology YAML works the same way (its own names in TARGETS)
    user = tmp_path / "xx.yaml"
    user.write_text(
        "name: xx\ncollections: {jets: {}}\nresonances:\n"
        "  X: {daughters: {j1: jets, j2: jets}, symmetric: [j1, j2]}\n"
        "  Y: {daughters: {k1: jets, k2: jets}}\n"
    )
    u = write_spanet_h5(tmp_path / "u.h5", root, topology=str(user))
    with h5py.File(u.path, "r") as f:
        assert sorted(f["TARGETS/X"]) == ["j1", "j2"] and f.attrs["topology"] == "xx"
    ev = read_spanet_h5(u.path, ("pt",), task.run.data.max_objects, topology=str(user))
    np.testing.assert_array_equal(ev["jets"].labels["parton"], b["jets"].labels["parton"])


def test_a_spanet_written_file_without_hepattn_records(tmp_path):
    """SPANet's own files: global inputs without MASK, no topology attribute, no hepattn
    group; the MET's event fields come from INPUTS/met."""
    path = tmp_path / "spanet.h5"
    with h5py.File(path, "w") as f:
        f["INPUTS/Source/MASK"] = np.array([[True, True, False], [True, True, True]])
        for name, v in (("pt", 40.0), ("eta", 0.1), ("phi", 0.2), ("mass", 5.0), ("btag", 1)):
            f[f"INPUTS/Source/{name}"] = np.full((2, 3), v, np.float32)
        for name, v in (("pt", [30.0, 20.0]), ("eta", [0.0, 1.0]), ("phi", [1.0, -1.0])):
            f[f"INPUTS/lepton/{name}"] = np.asarray(v, np.float32)
        f["INPUTS/lepton/mass"] = np.zeros(2, np.float32)
        f["INPUTS/lepton/charge"] = np.asarray([1.0, -1.0], np.float32)
        f["INPUTS/met/met"] = np.asarray([50.0, 60.0], np.float32)
        f["INPUTS/met/phi"] = np.asarray([0.5, -0.5], np.float32)
        for (t, q, _), v in zip(LJ_TARGETS, ([0, 2], [1, 0], [-1, 1], [-1, -1]), strict=True):
            f[f"TARGETS/{t}/{q}"] = np.asarray(v, np.int64)
    ev = read_spanet_h5(
        path, ("pt",), 4, topology="ttbar-ljets", objects={"lepton": ("pt", "charge")}
    )
    assert sorted(ev.collections) == ["jets", "lepton"]
    np.testing.assert_allclose(ev["lepton"].values[:, 0], [[30, 1], [20, -1]])
    assert ev["lepton"].mask.all()
    np.testing.assert_array_equal(ev.event["met_pt"], [50.0, 60.0])
    np.testing.assert_array_equal(ev["jets"].labels["parton"][1], [1, 2, 0, -1])
    got = reader("ttbar-ljets").read(path, need_labels=True)
    np.testing.assert_array_equal(got.derived["truth"], [[0, 1, -1, -1, 0, 0], [2, 0, 1, -1, 0, 0]])


def test_cli_convert_topology(tmp_path, capsys):
    root = ljets_root(tmp_path / "lj.root")
    out = tmp_path / "lj.h5"
    assert (
        main(["convert", str(root), "--to", "spanet-h5", "--topology", "ttbar-ljets", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    assert "SPANet layout of topology ttbar-ljets, MAX_JETS = 5" in text
    assert "all in 2 events, some in 1, none in 0 (per resonance: t_had 2, t_lep 3)" in text
    hh = hh_root(tmp_path / "hh.root")
    assert (
        main(
            [
                "convert",
                str(hh),
                "--to",
                "spanet-h5",
                "--topology",
                "hh-4b",
                "-o",
                str(tmp_path / "hh.h5"),
            ]
        )
        == 0
    )
    assert "topology hh-4b, MAX_JETS = 5" in capsys.readouterr().out
    with h5py.File(tmp_path / "hh.h5", "r") as f:  # hepattn-hh4b picked: mhh carried
        assert "mhh" in f["hepattn/event"]


def test_errors_name_the_topology_and_key(tmp_path, capsys):
    lj = write_spanet_h5(
        tmp_path / "lj.h5", ljets_root(tmp_path / "lj.root"), topology="ttbar-ljets"
    )
    allhad = write_spanet_h5(tmp_path / "a.h5", toy_root(tmp_path / "a.root"))
    with pytest.raises(
        DataError, match="written for topology 'ttbar-ljets', read as 'ttbar-allhad'"
    ):
        Matcher(MatcherRunConfig()).read(lj.path, need_labels=True)
    with pytest.raises(DataError, match="written for topology 'ttbar-ljets', read as 'hh-4b'"):
        reader("hh-4b").read(lj.path, need_labels=True)
    with pytest.raises(DataError) as err:  # an all-hadronic file read as lepton+jets
        read_spanet_h5(allhad.path, ("pt",), 8, topology="ttbar-ljets", labels=())
    assert "topology 'ttbar-ljets' needs the input 'INPUTS/lepton'" in str(err.value)
    assert "the file's INPUTS are ['Source']" in str(err.value)
    with pytest.raises(DataError, match=r"missing target datasets \['TARGETS/t_had/b_had'"):
        with h5py.File(allhad.path, "r+") as f:
            f.attrs["topology"] = "ttbar-ljets"
            f["INPUTS/lepton/pt"] = np.ones(4, np.float32)
            for k in ("eta", "phi", "mass"):
                f[f"INPUTS/lepton/{k}"] = np.zeros(4, np.float32)
            f["INPUTS/met/met"] = np.ones(4, np.float32)
            f["INPUTS/met/phi"] = np.ones(4, np.float32)
        read_spanet_h5(allhad.path, ("pt",), 8, topology="ttbar-ljets")
    with pytest.raises(SchemaError, match="4 jet daughters of topology 'hh-4b'"):
        read_spanet_h5(lj.path, ("pt",), 8, topology="hh-4b", targets=[("H1", "b1")])
    with h5py.File(lj.path, "r+") as f:
        del f["INPUTS/met/phi"]
    with pytest.raises(DataError, match="no dataset 'INPUTS/met/phi'"):
        reader("ttbar-ljets").read(lj.path, need_labels=True)

    # the command line: one line each, nothing written
    allhad_root = tmp_path / "a.root"
    hh = hh_root(tmp_path / "hh.root")
    out = tmp_path / "out" / "x.h5"
    cases = [
        (["--topology", "nope"], str(allhad_root), "nope: neither a built-in topology"),
        (["--topology", "ttbar-ljets"], str(allhad_root), "reading ['jets', 'lepton']"),
        (
            ["--topology", "ttbar-ljets", "--schema", "hepattn-ttbar"],
            str(allhad_root),
            "topology 'ttbar-ljets' needs the collection 'lepton': schema 'hepattn-ttbar'",
        ),
        (
            ["--topology", "ttbar-ljets", "--schema", "hepattn-hh4b"],
            str(hh),
            "needs the collection 'lepton'",
        ),
    ]
    capsys.readouterr()
    for extra, source, message in cases:
        assert main(["convert", source, "--to", "spanet-h5", *extra, "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert message in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_lepton_written_masked_and_refused_on_read(tmp_path):
    leptons = [LEPTONS[0], [], LEPTONS[2]]
    root = ljets_root(tmp_path / "lj.root", leptons)
    s = write_spanet_h5(tmp_path / "lj.h5", root, topology="ttbar-ljets")
    assert s.missing_objects == {"lepton": 1}
    with h5py.File(s.path, "r") as f:
        np.testing.assert_array_equal(f["INPUTS/lepton/MASK"][:], [True, False, True])
        assert f["INPUTS/lepton/pt"][1] == 0
    with pytest.raises(DataError, match="entry 1: no lepton object"):
        reader("ttbar-ljets").read(s.path, need_labels=True)


def test_all_hadronic_output_is_unchanged(tmp_path):
    """No topology, or ttbar-allhad: the same bytes as before topologies (the layout of
    test_spanet.py), no topology attribute."""
    root = toy_root(tmp_path / "a.root")
    default = write_spanet_h5(tmp_path / "d.h5", root).path
    named = write_spanet_h5(tmp_path / "n.h5", root, topology="ttbar-allhad").path
    with h5py.File(default, "r") as f, h5py.File(named, "r") as g:
        assert "topology" not in f.attrs and "topology" not in g.attrs
        names = []
        f.visititems(lambda k, v: names.append(k) if hasattr(v, "shape") else None)
        assert sorted(n for n in names if n.startswith("TARGETS")) == sorted(
            f"TARGETS/{t}/{q}" for t in ("t1", "t2") for q in ("b", "q1", "q2")
        )
        for n in names:
            np.testing.assert_array_equal(f[n][:], g[n][:])
            assert f[n].dtype == g[n].dtype
        assert f.attrs["parton_order"] == "t1/b,t1/q1,t1/q2,t2/b,t2/q1,t2/q2"
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (default, named)]
    assert digest[0] == digest[1]  # byte for byte


def test_write_from_events(tmp_path):
    """Padded Events (jets with pt, eta, phi, mass, btag; the lepton with pt, eta, phi, mass;
    the MET event fields) write the same layout as the ROOT file."""
    from hepattn.data import PadSpec, read_events

    root = ljets_root(tmp_path / "lj.root")
    kin = ("pt", "eta", "phi", "mass")
    spec = {
        "jets": PadSpec((*kin, "btag"), 8, labels=("parton",)),
        "lepton": PadSpec((*kin, "charge"), 1),
    }
    ev = read_events(root, "hepattn-ttbar-ljets", spec)
    a = write_spanet_h5(tmp_path / "ev.h5", ev, topology="ttbar-ljets").path
    b = write_spanet_h5(tmp_path / "root.h5", root, topology="ttbar-ljets").path
    with h5py.File(a, "r") as f, h5py.File(b, "r") as g:
        names = [*(f"INPUTS/lepton/{k}" for k in ("MASK", *kin, "charge"))]
        names += [f"INPUTS/met/{k}" for k in ("met", "phi", "sin_phi", "cos_phi")]
        names += [f"TARGETS/{t}/{q}" for t, q, _ in LJ_TARGETS] + ["INPUTS/Source/pt"]
        for name in names:
            np.testing.assert_array_equal(f[name][:], g[name][:], err_msg=name)
    jets_only = read_events(root, "hepattn-ttbar-ljets", {"jets": spec["jets"]})
    with pytest.raises(DataError, match="needs the collection 'lepton'; the Events hold"):
        write_spanet_h5(tmp_path / "bad.h5", jets_only, topology="ttbar-ljets")
