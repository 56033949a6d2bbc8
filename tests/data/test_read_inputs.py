"""One reader entry (:func:`hepattn.data.read_inputs`): ROOT files, in-memory arrays and SPANet
HDF5 read as their own readers read them; options that do not apply to a format refused."""

from __future__ import annotations

import pytest
import uproot

from hepattn.data import PadSpec, input_format, read_events, read_inputs
from hepattn.data.spanet import read_spanet_h5, write_spanet_h5
from hepattn.errors import DataError, SchemaError
from tests.data.test_spanet import FEATURES, assert_same_events, toy_root
from tests.data.test_spanet_topology import ljets_root

pytest.importorskip("h5py")

SCHEMA = "hepattn-ttbar"
SPEC = {"jets": PadSpec(FEATURES, 5, labels=("parton",))}


@pytest.fixture
def root(tmp_path):
    return toy_root(tmp_path / "toy.root")


@pytest.fixture
def h5(tmp_path, root):
    return write_spanet_h5(tmp_path / "toy.h5", root).path


def test_input_format(tmp_path):
    assert input_format("a.root") == "root"
    assert input_format(tmp_path / "a.root") == "root"
    assert input_format(["a.h5", tmp_path / "b.HDF5"]) == "spanet-h5"
    assert input_format("data/*.h5") == "spanet-h5"
    assert input_format({"jet_pt": [[1.0]]}) == "arrays"
    mixed = r"mix SPANet HDF5 files \(\['a.h5'\]\) with other files \(\['b.root'\]\)"
    with pytest.raises(DataError, match=mixed):
        input_format(["a.h5", "b.root"])


def test_root_reads_as_read_events(root):
    def keep_odd(ev):
        return ev.select(ev.entry % 2 == 1)

    opts = {"entry_start": 1, "entry_stop": 4, "nonfinite": "drop", "select": keep_odd}
    a = read_inputs(root, SCHEMA, SPEC, tree="events", **opts)
    assert_same_events(a, read_events(root, SCHEMA, SPEC, tree="events", **opts))
    assert a.entry.tolist() == [1, 3]


def test_arrays_read_as_read_events(root):
    branches = uproot.open(root)["events"].arrays(library="ak")
    arrays = {name: branches[name] for name in branches.fields}
    assert_same_events(read_inputs(arrays, SCHEMA, SPEC), read_events(arrays, SCHEMA, SPEC))


def test_hdf5_reads_as_read_spanet_h5(h5, root):
    ev = read_inputs(h5, None, SPEC, entry_start=1, entry_stop=4)
    assert_same_events(ev, read_spanet_h5(h5, FEATURES, 5, entry_start=1, entry_stop=4))
    # the same padded jets as the ROOT file; the schema is not used for HDF5
    assert_same_events(read_inputs(h5, SCHEMA, SPEC), read_inputs(root, SCHEMA, SPEC))
    first = read_inputs([h5], "no such schema", SPEC, select=lambda e: e.select([0]))
    assert first.entry.tolist() == [0]
    unlabelled = read_inputs(h5, None, {"jets": PadSpec(("pt",), 3, labels=())})
    assert unlabelled["jets"].labels == {}
    assert set(read_inputs(h5, None, {"jets": PadSpec(("pt",), 3)})["jets"].labels) == {"parton"}


def test_hdf5_topology_objects(tmp_path):
    root = ljets_root(tmp_path / "lj.root")
    h5 = write_spanet_h5(tmp_path / "lj.h5", root, topology="ttbar-ljets").path
    lepton = ("pt", "eta", "charge")
    spec = {"jets": PadSpec(("log_pt", "eta"), 5, ("parton",)), "lepton": PadSpec(lepton, 1, ())}
    ev = read_inputs(h5, None, spec, topology="ttbar-ljets")
    ref = read_spanet_h5(
        h5, ("log_pt", "eta"), 5, topology="ttbar-ljets", objects={"lepton": lepton}
    )
    assert_same_events(ev, ref)
    assert_same_events(ev, ref, "lepton")
    assert ev["lepton"].features == lepton and ev.event["met_pt"].shape == (3,)
    # ROOT: the schema is checked against the topology
    assert set(
        read_inputs(root, "hepattn-ttbar-ljets", spec, topology="ttbar-ljets").collections
    ) == {
        "jets",
        "lepton",
    }
    with pytest.raises(DataError, match="topology 'ttbar-ljets' needs the collection 'lepton'"):
        read_inputs(root, SCHEMA, spec, topology="ttbar-ljets")


def test_refusals(h5, root):
    with pytest.raises(DataError, match="^--friend applies to ROOT inputs; SPANet HDF5"):
        read_inputs(h5, None, SPEC, friends=[root])
    with pytest.raises(DataError, match=r"a tree \('events'\) applies to ROOT inputs"):
        read_inputs(h5, None, SPEC, tree="events")
    with pytest.raises(DataError, match="nonfinite='drop' .* applies to ROOT inputs"):
        read_inputs(h5, None, SPEC, nonfinite="drop")
    with pytest.raises(ValueError, match="nonfinite must be 'error' or 'drop'"):
        read_inputs(root, SCHEMA, SPEC, nonfinite="keep")
    muons = {**SPEC, "muons": PadSpec(("pt",), 1, ())}
    with pytest.raises(DataError, match="holds the jets \\('jets'\\), not 'muons'"):
        read_inputs(h5, None, muons)
    with pytest.raises(DataError, match="one 'lepton' per event"):
        read_inputs(
            h5.with_name("x.h5"),
            None,
            {**SPEC, "lepton": PadSpec(("pt",), 2, ())},
            topology="ttbar-ljets",
        )
    with pytest.raises(SchemaError, match="collection 'jet' is not among"):
        read_inputs(h5, None, SPEC, collection="jet")
    with pytest.raises(SchemaError, match="reading ROOT files needs a schema"):
        read_inputs(root, None, SPEC)
    arrays = {"jet_pt": [[1.0]]}
    with pytest.raises(DataError, match="a tree \\('events'\\) applies to ROOT files"):
        read_inputs(arrays, SCHEMA, SPEC, tree="events")
    with pytest.raises(DataError, match="an entry range \\(0..10\\) applies to files"):
        read_inputs(arrays, SCHEMA, SPEC, entry_stop=10)
    with pytest.raises(DataError, match="friend files apply to ROOT input"):
        read_inputs(arrays, SCHEMA, {"jets": PadSpec(("pt",), 2)}, friends=[root])
