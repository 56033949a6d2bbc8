from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.data import TreeWriter, write_tree
from hepattn.errors import DataError


def test_friend_tree_aligned_entry_by_entry(tmp_path):
    n = 1001
    prob = np.random.default_rng(0).random((n, 7)).astype(np.float32)
    jets = ak.zip({"score": ak.unflatten(np.arange(n * 2, dtype=np.float32), 2)})
    path = write_tree(
        tmp_path / "out.root",
        {"pred": prob.argmax(1).astype(np.int32), "prob": prob, "jet": jets},
        tree="hepattn",
        metadata={"classes": "1,2,3,4b,4q,6,8"},
        step=100,
    )
    with uproot.open(path) as f:
        assert f.classnames()["hepattn;1"] == "TTree"
        assert str(f["classes"]) == "1,2,3,4b,4q,6,8"
        t = f["hepattn"]
        assert t.num_entries == n
        np.testing.assert_array_equal(t["prob"].array(library="np"), prob)
        np.testing.assert_array_equal(t["pred"].array(library="np"), prob.argmax(1))
        assert ak.to_list(t["jet_score"].array()[5]) == [10.0, 11.0]
    assert not (tmp_path / "out.root.tmp").exists()


def test_no_half_written_file_on_error(tmp_path):
    path = tmp_path / "out.root"
    with pytest.raises(RuntimeError), TreeWriter(path) as w:
        w.extend({"a": np.arange(3)})
        raise RuntimeError("crash mid-way")
    assert not path.exists() and not (tmp_path / "out.root.tmp").exists()


def test_length_mismatch_is_refused(tmp_path):
    with pytest.raises(DataError, match="different numbers of entries"):
        write_tree(tmp_path / "x.root", {"a": np.arange(3), "b": np.arange(4)})
