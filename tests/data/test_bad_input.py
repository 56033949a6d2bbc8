"""Every kind of bad input gets a clear hepattn error naming what is at fault."""

from __future__ import annotations

import copy
import logging

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.data import PadSpec, read_events
from hepattn.data.writer import write_tree
from hepattn.errors import DataError, InputNotFoundError, SchemaError
from tests.conftest import JETS, SCHEMA, jets_array

SPEC = {"jets": PadSpec(("pt", "eta", "btag"), 4)}


def test_nonexistent_path(tmp_path):
    with pytest.raises(InputNotFoundError, match="nope.root: no such file"):
        read_events(tmp_path / "nope.root", SCHEMA, SPEC)
    with pytest.raises(InputNotFoundError, match="matches no file"):
        read_events(str(tmp_path / "*.root"), SCHEMA, SPEC)


def test_not_a_root_file(tmp_path):
    p = tmp_path / "notes.root"
    p.write_text("this is a text file\n")
    with pytest.raises(DataError, match=r"notes.root: not a ROOT file"):
        read_events(p, SCHEMA, SPEC)
    empty = tmp_path / "empty.root"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.root: not a ROOT file: it is empty"):
        read_events(empty, SCHEMA, SPEC)


def big_file(tmp_path):
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 8, 20_000)
    n = counts.sum()

    def jag(x):
        return ak.unflatten(x.astype(np.float32), counts)

    jets = ak.zip(
        {
            "pt": jag(rng.uniform(20, 200, n)),
            "eta": jag(rng.normal(0, 1, n)),
            "phi": jag(rng.uniform(-3, 3, n)),
            "mass": jag(rng.uniform(0, 20, n)),
            "btag": jag(rng.uniform(0, 1, n)),
            "parton": ak.unflatten(rng.integers(-1, 6, n).astype(np.int32), counts),
        }
    )
    path = tmp_path / "big.root"
    write_tree(
        path, {"jet": jets, "weight": np.ones(len(counts), np.float32)}, tree="events", step=5_000
    )
    return path


def test_truncated_file(tmp_path):
    src = big_file(tmp_path)
    data = src.read_bytes()
    cut = tmp_path / "cut.root"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.root"):
        read_events(cut, SCHEMA, SPEC)


def test_corrupt_file(tmp_path):
    src = big_file(tmp_path)
    data = bytearray(src.read_bytes())
    # overwrite a stretch of basket payload in the middle of the file
    mid = len(data) // 3
    data[mid : mid + 4000] = bytes(4000)
    bad = tmp_path / "corrupt.root"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt.root"):
        read_events(bad, SCHEMA, SPEC)


def test_tree_not_found_lists_trees(toy_file):
    schema = dict(SCHEMA, tree="Events")
    with pytest.raises(
        DataError, match=r"tree 'Events' not found; the file has trees \['events'\]"
    ):
        read_events(toy_file, schema, SPEC)


def test_missing_branch_names_schema_branch_and_close_matches(toy_file):
    schema = copy.deepcopy(SCHEMA)
    schema["collections"]["jets"]["fields"]["btag"] = "jet_btg"
    with pytest.raises(DataError) as err:
        read_events(toy_file, schema, SPEC)
    msg = str(err.value)
    assert "no branch 'jet_btg'" in msg and "schema 'toy'" in msg and "jet_btag" in msg


def test_mismatched_lengths(tmp_path):
    muons = ak.zip({"eta": ak.Array([[0.1], [], [0.3, 0.4], [0.5] * 4])})
    p = tmp_path / "mixed.root"
    write_tree(
        p, {"jet": jets_array(), "muon": muons, "weight": np.zeros(4, np.float32)}, tree="events"
    )
    schema = copy.deepcopy(SCHEMA)
    schema["collections"]["jets"]["branches"]["eta"] = "muon_eta"
    with pytest.raises(DataError, match=r"'jet_pt' and 'muon_eta'.*disagree.*first: entry 0"):
        read_events(p, schema, SPEC)
    schema = copy.deepcopy(SCHEMA)
    schema["collections"]["jets"]["counter"] = "nmuon"
    with pytest.raises(DataError, match=r"'nmuon'.*disagree"):
        read_events(p, schema, SPEC)


def test_scalar_branch_in_collection(toy_file):
    schema = copy.deepcopy(SCHEMA)
    schema["collections"]["jets"]["fields"]["btag"] = "weight"
    with pytest.raises(DataError, match=r"'weight' holds one value per entry"):
        read_events(toy_file, schema, SPEC)


def nan_file(tmp_path, value):
    jets = jets_array()
    eta = ak.to_numpy(ak.flatten(jets.eta)).copy()
    eta[3] = value  # event 2's only jet
    jets = ak.with_field(jets, ak.unflatten(eta, ak.num(jets.eta)), "eta")
    p = tmp_path / "nan.root"
    write_tree(p, {"jet": jets, "weight": np.zeros(4, np.float32)}, tree="events")
    return p


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_error_names_branch_and_entry(tmp_path, value):
    p = nan_file(tmp_path, value)
    with pytest.raises(DataError, match=r"'jet_eta' has 1 non-finite values.*first in entry 2"):
        read_events(p, SCHEMA, SPEC)


def test_nonfinite_drop_policy_counts(tmp_path, caplog):
    p = nan_file(tmp_path, np.nan)
    with caplog.at_level(logging.WARNING, logger="hepattn"):
        ev = read_events(p, SCHEMA, SPEC, nonfinite="drop")
    assert ev["jets"].mask.sum(1).tolist() == [3, 0, 0, 4]
    assert np.isfinite(ev["jets"].values).all()
    assert any(
        "'jet_eta': 1 objects with non-finite values dropped" in r.getMessage()
        for r in caplog.records
    )


def test_nonfinite_event_field(tmp_path):
    p = tmp_path / "w.root"
    write_tree(
        p, {"jet": jets_array(), "weight": np.array([1, np.nan, 1, 1], np.float32)}, tree="events"
    )
    with pytest.raises(DataError, match=r"'weight' has 1 non-finite values, first in entry 1"):
        read_events(p, SCHEMA, SPEC)


def test_zero_entries(tmp_path):
    p = tmp_path / "zero.root"
    with uproot.recreate(p) as f:
        f.mktree(
            "events",
            {
                "jet": ak.types.from_datashape(str(jets_array().type.content), highlevel=False),
                "weight": np.float32,
            },
        )
    with pytest.raises(DataError, match="zero.root is empty"):
        read_events(p, SCHEMA, SPEC)
    # alongside a good file, the empty one is skipped
    good = tmp_path / "good.root"
    write_tree(good, {"jet": jets_array(), "weight": np.zeros(4, np.float32)}, tree="events")
    assert len(read_events([p, good], SCHEMA, SPEC)) == 4


def test_file_without_trees(tmp_path):
    p = tmp_path / "notree.root"
    with uproot.recreate(p) as f:
        f["note"] = "just a string"
    with pytest.raises(DataError, match="the file has no TTree at all"):
        read_events(p, SCHEMA, SPEC)


def test_events_with_zero_objects_are_kept(tmp_path):
    p = tmp_path / "nojets.root"
    empty = [[] for _ in range(3)]
    write_tree(
        p, {"jet": jets_array([JETS[0]] + empty), "weight": np.zeros(4, np.float32)}, tree="events"
    )
    jets = read_events(p, SCHEMA, SPEC)["jets"]
    assert jets.mask.sum(1).tolist() == [3, 0, 0, 0]
    assert (jets.values[1:] == 0).all() and (jets.index[1:] == -1).all()


def test_bad_schema_definitions(toy_file):
    from hepattn.data import get_schema

    with pytest.raises(SchemaError, match="unknown kinematics"):
        get_schema({"name": "x", "collections": {"j": {"kinematics": "ptetaphi", "branches": {}}}})
    with pytest.raises(SchemaError, match=r"needs branches for \['mass'\]"):
        get_schema(
            {
                "name": "x",
                "collections": {
                    "j": {
                        "kinematics": "ptetaphim",
                        "branches": {"pt": "a", "eta": "b", "phi": "c"},
                    }
                },
            }
        )
    with pytest.raises(SchemaError, match="did you mean 'nanoaod'"):
        get_schema("nanoad")
    with pytest.raises(SchemaError, match="unknown feature 'btg'"):
        read_events(toy_file, SCHEMA, {"jets": PadSpec(("btg",), 2)})
