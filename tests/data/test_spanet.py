"""SPANet HDF5 files: exact ROOT → h5 conversion, reading back, the CLI, bad inputs."""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.cli import main
from hepattn.data import PadSpec, read_events, write_tree
from hepattn.data.spanet import read_spanet_h5, write_spanet_h5
from hepattn.errors import DataError, SchemaError
from hepattn.tasks.matching import Matcher, MatcherDataConfig, MatcherRunConfig

h5py = pytest.importorskip("h5py")

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "ttbar_allhad.root"
FEATURES = ("log_pt", "eta", "phi", "log_e", "mass", "btag", "pt", "energy", "dr")

# Per event, jets in file order (deliberately not pT-sorted): pt, eta, phi, mass, btag, parton.
EVENTS = [
    [
        (30.0, 0.5, 1.0, 5.0, True, 2),
        (80.0, -1.0, -2.0, 10.0, False, 0),
        (55.0, 2.0, 3.0, 7.0, True, -1),
        (41.0, 0.3, -0.4, 6.5, False, 1),
    ],
    [],
    [(40.0, 0.1, 0.2, 4.0, False, 5)],
    [
        (25.0, 1.1, -3.1, 3.0, False, -1),
        (26.0, -0.3, 3.1, 6.0, True, 1),
        (90.0, 0.0, 0.0, 12.0, True, 3),
        (27.0, 0.7, 1.5, 2.0, False, 4),
        (60.0, -2.2, 0.9, 8.0, True, 0),
        (33.0, 1.9, -1.2, 4.4, False, 2),
        (21.0, 0.2, 2.2, 3.3, False, 5),
    ],
]


def toy_root(path: Path) -> Path:
    """A small file in the hepattn-ttbar layout (jets, weight, event) from EVENTS."""
    counts = [len(e) for e in EVENTS]
    cols = list(zip(*[j for e in EVENTS for j in e], strict=True))

    def jag(i, dtype):
        return ak.unflatten(np.asarray(cols[i], dtype=dtype), counts)

    jets = ak.zip(
        {
            "pt": jag(0, np.float32),
            "eta": jag(1, np.float32),
            "phi": jag(2, np.float32),
            "mass": jag(3, np.float32),
            "btag": jag(4, np.bool_),
            "flavour": jag(5, np.int32),
            "parton": jag(5, np.int32),
        }
    )
    n = len(EVENTS)
    write_tree(
        path,
        {
            "jet": jets,
            "weight": np.linspace(0.5, 2.0, n).astype(np.float32),
            "event": np.arange(100, 100 + n, dtype=np.int64),
        },
        tree="events",
    )
    return path


def assert_same_events(a, b, collection: str = "jets") -> None:
    ca, cb = a[collection], b[collection]
    assert ca.features == cb.features
    for name in ("values", "mask", "p4", "index", "counts"):
        x, y = getattr(ca, name), getattr(cb, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert set(ca.labels) == set(cb.labels)
    for name in ca.labels:
        np.testing.assert_array_equal(ca.labels[name], cb.labels[name])
    assert list(a.event) == list(b.event)
    for name in a.event:
        assert a.event[name].dtype == b.event[name].dtype, name
        np.testing.assert_array_equal(a.event[name], b.event[name], err_msg=name)
    np.testing.assert_array_equal(a.entry, b.entry)
    np.testing.assert_array_equal(a.file_index, b.file_index)


def run_config(max_objects: int = 16) -> MatcherRunConfig:
    return MatcherRunConfig(data=MatcherDataConfig(max_objects=max_objects, features=FEATURES))


def load_matching_data(paths, run: MatcherRunConfig, need_labels: bool = True):
    return Matcher(run).read(paths, need_labels=need_labels)


def test_sample_round_trip_is_exact(tmp_path):
    """The shipped sample: h5 layout, and the matcher reads identical Events from both."""
    out = tmp_path / "ttbar.h5"
    s = write_spanet_h5(out, SAMPLE)
    root = load_matching_data(SAMPLE, run_config())
    h5 = load_matching_data(out, run_config())
    assert_same_events(root, h5)
    assert h5.files == [str(out)]
    assert s.events == len(root) and s.max_jets == int(root.derived["n_jets"].max())
    ok = np.stack([(root.derived[f"target_{r}"] >= 0).all(-1) for r in (0, 1)], 1)
    assert s.both_tops == int(ok.all(-1).sum()) and s.one_top == int((ok.sum(-1) == 1).sum())
    with h5py.File(out, "r") as f:
        src = f["INPUTS/Source"]
        assert src["MASK"].dtype == bool and src["MASK"].shape == (s.events, s.max_jets)
        for name in ("pt", "eta", "phi", "mass", "btag"):
            assert src[name].dtype == np.float32 and src[name].shape == (s.events, s.max_jets)
        for t in ("t1", "t2"):
            assert sorted(f["TARGETS"][t]) == ["b", "q1", "q2"]
            assert f[f"TARGETS/{t}/b"].dtype == np.int64
        np.testing.assert_array_equal(f["WEIGHTS/weight"][:], root.event["weight"])
        # slot j is jet j of the ROOT file; values straight from the branches
        first = np.flatnonzero(root.derived["n_jets"] == 7)[0]
        jets = uproot.open(SAMPLE)["events"].arrays(
            ["jet_pt", "jet_mass"], entry_start=first, entry_stop=first + 1
        )
        np.testing.assert_array_equal(src["pt"][first, :7], np.asarray(jets.jet_pt[0]))
        np.testing.assert_array_equal(src["mass"][first, :7], np.asarray(jets.jet_mass[0]))
        assert not src["MASK"][first, 7:].any() and (src["pt"][first, 7:] == 0).all()


@pytest.mark.parametrize("max_objects", [16, 5, 3])
def test_toy_round_trip_unsorted_and_truncated(tmp_path, max_objects):
    """Unsorted jets, an empty event, pT truncation at read: identical to the ROOT reader."""
    root = toy_root(tmp_path / "toy.root")
    out = write_spanet_h5(tmp_path / "toy.h5", root).path
    spec = {"jets": PadSpec(FEATURES, max_objects, labels=("parton",))}
    a = read_events(root, "hepattn-ttbar", spec)
    b = read_spanet_h5(out, FEATURES, max_objects)
    assert_same_events(a, b)
    assert b.files == [str(out)]
    ra, rb = (
        load_matching_data(root, run_config(max_objects)),
        load_matching_data(out, run_config(max_objects)),
    )
    for name in ("truth", "target_0", "target_1", "n_jets"):
        np.testing.assert_array_equal(ra.derived[name], rb.derived[name])
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(
            [f[f"TARGETS/{t}/{q}"][3] for t in ("t1", "t2") for q in ("b", "q1", "q2")],
            [4, 1, 5, 2, 3, 6],
        )
        np.testing.assert_array_equal(f["INPUTS/Source/btag"][0, :4], [1, 0, 1, 0])


def test_entry_range_and_several_files(tmp_path):
    root = toy_root(tmp_path / "toy.root")
    one = write_spanet_h5(tmp_path / "a.h5", root).path
    two = write_spanet_h5(tmp_path / "b.h5", root).path
    ev = read_spanet_h5([one, two], ("pt",), 8, entry_start=2, entry_stop=6)
    np.testing.assert_array_equal(ev.entry, [2, 3, 0, 1])
    np.testing.assert_array_equal(ev.file_index, [0, 0, 1, 1])
    assert ev.files == [str(one), str(two)]
    np.testing.assert_array_equal(ev["jets"].counts, [1, 7, 4, 0])


def test_write_from_events_and_max_jets(tmp_path, caplog):
    root = toy_root(tmp_path / "toy.root")
    ev = read_events(root, "hepattn-ttbar", {"jets": PadSpec(FEATURES, 8, labels=("parton",))})
    from_events = write_spanet_h5(tmp_path / "ev.h5", ev).path
    from_root = write_spanet_h5(tmp_path / "root.h5", root).path
    with h5py.File(from_events, "r") as f, h5py.File(from_root, "r") as g:
        for name in ("INPUTS/Source/MASK", "INPUTS/Source/pt", "INPUTS/Source/mass"):
            np.testing.assert_array_equal(f[name][:], g[name][:])
        for t in ("t1", "t2"):
            for q in ("b", "q1", "q2"):
                np.testing.assert_array_equal(f[f"TARGETS/{t}/{q}"][:], g[f"TARGETS/{t}/{q}"][:])
    truncated = read_events(root, "hepattn-ttbar", {"jets": PadSpec(FEATURES, 3)})
    with pytest.raises(DataError, match="truncated to 3 jets"):
        write_spanet_h5(tmp_path / "bad.h5", truncated)
    assert not (tmp_path / "bad.h5").exists()

    with caplog.at_level(logging.WARNING, logger="hepattn.data.spanet"):
        s = write_spanet_h5(tmp_path / "cut.h5", root, max_jets=5)
    assert (s.max_jets, s.truncated_events, s.dropped_jets, s.lost_targets) == (5, 1, 2, 2)
    assert "1 of 4 events have more than 5 jets (up to 7): 2 jets dropped" in caplog.text
    with h5py.File(s.path, "r") as f:
        assert f["INPUTS/Source/MASK"].shape == (4, 5)
        assert f["TARGETS/t1/q2"][3] == -1 and f["TARGETS/t2/q2"][3] == -1
        assert f["TARGETS/t1/b"][3] == 4
    assert not list(tmp_path.glob("*.tmp"))


def test_cli_convert(tmp_path, capsys):
    root = toy_root(tmp_path / "toy.root")
    out = tmp_path / "sub" / "toy.h5"
    assert main(["convert", str(root), "--to", "spanet-h5", str(out)]) == 0
    text = capsys.readouterr().out
    assert "converted 4 events" in text and "MAX_JETS = 7" in text
    assert "all in 1 events, some in 1, none in 2 (per resonance: t1 2, t2 1)" in text
    assert main(["convert", str(root), "--to", "spanet-h5", str(out), "--max-jets", "5"]) == 0
    assert "1 events truncated, 2 jets dropped, 2 targets set to -1" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "nope.root"), "--to", "spanet-h5", str(out)]) == 1
    assert "nope.root: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert", str(root), "--to", "csv", str(out)])


def spanet_file(path: Path, mask, pt, targets=None, **extra) -> Path:
    """A hand-written SPANet file; ``targets`` maps 't1/b' -> int[B]."""
    mask = np.asarray(mask, bool)
    pt = np.asarray(pt, np.float32)
    with h5py.File(path, "w") as f:
        f["INPUTS/Source/MASK"] = mask
        f["INPUTS/Source/pt"] = pt
        for name in ("eta", "phi"):
            f[f"INPUTS/Source/{name}"] = np.zeros_like(pt)
        f["INPUTS/Source/mass"] = np.full_like(pt, 5.0)
        for name, value in extra.items():
            f[name] = value
        for name, value in (targets or {}).items():
            f[f"TARGETS/{name}"] = np.asarray(value, np.int64)
    return path


def full_targets(b: int, **override):
    t = {f"{t}/{q}": [-1] * b for t in ("t1", "t2") for q in ("b", "q1", "q2")}
    t.update(override)
    return t


def test_generic_spanet_file(tmp_path, caplog):
    """Holes in MASK, float b-tag score, other per-jet inputs, shared jets, no event fields."""
    mask = [[True, False, True, True], [True, True, False, False]]
    pt = [[10.0, 0.0, 30.0, 20.0], [5.0, 50.0, 0.0, 0.0]]
    targets = full_targets(2, **{"t1/b": [3, 0], "t1/q1": [2, 1], "t2/b": [0, 1]})
    path = spanet_file(
        tmp_path / "x.hdf5",
        mask,
        pt,
        targets,
        **{
            "INPUTS/Source/btag": np.array([[0.9, 0, 0.1, 0.5], [0.2, 0.7, 0, 0]], np.float32),
            "INPUTS/Source/qtag": np.ones((2, 4), np.float32),
        },
    )
    with caplog.at_level(logging.WARNING, logger="hepattn.data.spanet"):
        ev = read_spanet_h5(path, ("pt", "btag", "qtag"), 3)
    jets = ev["jets"]
    np.testing.assert_array_equal(jets.index, [[2, 3, 0], [1, 0, -1]])
    np.testing.assert_allclose(jets.values[..., 0], [[30, 20, 10], [50, 5, 0]])
    np.testing.assert_allclose(jets.values[..., 1], [[0.1, 0.5, 0.9], [0.7, 0.2, 0]], rtol=1e-6)
    np.testing.assert_array_equal(jets.labels["parton"], [[1, 0, 3], [1, 0, -1]])
    assert "1 targets point at a jet already claimed" in caplog.text
    assert ev.event == {}
    plain = load_matching_data(path, run_config(), need_labels=False)
    assert plain["jets"].labels == {} and plain.event == {} and list(plain.derived) == ["n_jets"]


def test_custom_target_names(tmp_path):
    names = [("top", "bjet"), ("top", "j1"), ("top", "j2"), ("atop", "bjet")]
    names += [("atop", "j1"), ("atop", "j2")]
    path = spanet_file(
        tmp_path / "c.h5",
        [[True, True]],
        [[10.0, 20.0]],
        {f"{t}/{q}": [-1] for t, q in names} | {"top/bjet": [1], "atop/j2": [0]},
    )
    with pytest.raises(DataError) as err:
        read_spanet_h5(path, ("pt",), 4)
    msg = str(err.value)
    assert "c.h5" in msg and "TARGETS/t1/b" in msg
    assert "'atop': ['bjet', 'j1', 'j2']" in msg and "'top': ['bjet', 'j1', 'j2']" in msg
    ev = read_spanet_h5(path, ("pt",), 4, targets=names)
    np.testing.assert_array_equal(ev["jets"].labels["parton"], [[0, 5, -1, -1]])


def test_bad_inputs(tmp_path):
    spec = (("pt", "btag"), 4)
    with pytest.raises(DataError, match="nope.h5: no such file"):
        read_spanet_h5(tmp_path / "nope.h5", *spec)
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5\n")
    with pytest.raises(DataError, match=r"notes.h5: not an HDF5 file: it starts with b'not hdf5'"):
        read_spanet_h5(text, *spec)
    with pytest.raises(DataError, match="notes.h5: not an HDF5 file"):
        load_matching_data(text, run_config())

    # missing dataset: the message lists what the file has
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f["INPUTS/Source/MASK"] = np.ones((2, 3), bool)
        f["INPUTS/Source/pt"] = np.ones((2, 3), np.float32)
    with pytest.raises(DataError) as err:
        read_spanet_h5(path, *spec)
    assert "m.h5: no dataset 'INPUTS/Source/eta'" in str(err.value)
    assert "['INPUTS/Source/MASK', 'INPUTS/Source/pt']" in str(err.value)
    with pytest.raises(DataError, match="no dataset 'INPUTS/Jets/MASK'"):
        read_spanet_h5(path, *spec, source="Jets")

    # shape mismatches
    ones = np.ones((2, 3), np.float32)
    bad = spanet_file(tmp_path / "s.h5", np.ones((2, 3)), ones, full_targets(2))
    with h5py.File(bad, "r+") as f:
        del f["INPUTS/Source/phi"]
        f["INPUTS/Source/phi"] = np.ones((2, 4), np.float32)
    with pytest.raises(DataError, match=r"'INPUTS/Source/phi' has shape \(2, 4\), but "):
        read_spanet_h5(bad, ("pt",), 4)
    short = spanet_file(tmp_path / "t.h5", np.ones((2, 3)), ones, full_targets(2, **{"t2/q1": [1]}))
    with pytest.raises(DataError, match=r"t.h5: dataset 'TARGETS/t2/q1' has shape \(1,\)"):
        read_spanet_h5(short, ("pt",), 4)
    with pytest.raises(DataError, match=r"'INPUTS/Source/MASK' has shape \(2,\)"):
        read_spanet_h5(spanet_file(tmp_path / "u.h5", [True, True], [1.0, 2.0]), ("pt",), 4)

    # targets out of range, or pointing at absent jets
    far = spanet_file(tmp_path / "r.h5", np.ones((2, 3)), ones, full_targets(2, **{"t1/b": [0, 3]}))
    with pytest.raises(DataError, match=r"'TARGETS/t1/b' holds 1 jet indices outside -1..2"):
        read_spanet_h5(far, ("pt",), 4)
    holes = spanet_file(
        tmp_path / "h.h5", [[True, False, True]] * 2, ones, full_targets(2, **{"t2/b": [-1, 1]})
    )
    with pytest.raises(DataError, match=r"'TARGETS/t2/b' points at masked .* event 1, jet 1"):
        read_spanet_h5(holes, ("pt",), 4)

    # non-finite kinematics of real jets; unknown features and labels
    nan = spanet_file(tmp_path / "n.h5", np.ones((1, 2)), [[1.0, np.nan]])
    with pytest.raises(DataError, match=r"'INPUTS/Source/pt' has 1 non-finite values"):
        read_spanet_h5(nan, ("pt",), 4, labels=())
    ok = spanet_file(tmp_path / "ok.h5", np.ones((1, 2)), [[1.0, 2.0]])
    with pytest.raises(SchemaError, match=r"unknown feature 'btag'.* datasets of 'INPUTS/Source'"):
        read_spanet_h5(ok, ("pt", "btag"), 4, labels=())
    with pytest.raises(SchemaError, match="only the label 'parton'"):
        read_spanet_h5(ok, ("pt",), 4, labels=("flavour",))
    with pytest.raises(DataError, match="missing target datasets .*no TARGETS group"):
        read_spanet_h5(ok, ("pt",), 4)


def test_writer_bad_source(tmp_path):
    root = toy_root(tmp_path / "toy.root")
    with pytest.raises(SchemaError, match="has no label 'parton'"):
        write_spanet_h5(tmp_path / "x.h5", root, schema="cartesian")
    with pytest.raises(DataError, match="max_jets must be"):
        write_spanet_h5(tmp_path / "x.h5", root, max_jets=0)
    ev = read_events(root, "hepattn-ttbar", {"jets": PadSpec(("pt", "eta"), 8)})
    with pytest.raises(DataError, match=r"need features \['pt', 'eta', 'phi', 'mass', 'btag'\]"):
        write_spanet_h5(tmp_path / "x.h5", ev)
    assert not list(tmp_path.glob("x.h5*"))
