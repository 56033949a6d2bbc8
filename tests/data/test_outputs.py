"""Outputs never destroy anything: refused paths, unique temporary files, clear OSErrors."""

from __future__ import annotations

import errno
import json
import os
import threading

import numpy as np
import pytest
import uproot

from hepattn.data import outputs
from hepattn.data.outputs import atomic_path, check_output
from hepattn.data.writer import write_tree
from hepattn.errors import DataError


def test_output_that_is_an_input_is_refused(tmp_path, monkeypatch):
    inp = tmp_path / "in.root"
    inp.write_bytes(b"data")
    link = tmp_path / "link.root"
    link.symlink_to(inp)
    monkeypatch.chdir(tmp_path)
    for out in (inp, link, "in.root", tmp_path / "sub" / ".." / "in.root"):
        with pytest.raises(DataError, match="is the input file"):
            check_output(out, [inp])
    assert inp.read_bytes() == b"data"
    assert check_output(tmp_path / "other.root", [inp]) == tmp_path / "other.root"


def test_existing_non_regular_outputs_are_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        check_output(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        check_output("/dev/null")
    with pytest.raises(DataError, match="is a directory"):
        check_output(tmp_path)
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        check_output(afile / "out.root")
    with pytest.raises(DataError, match="not a directory"):
        check_output(afile, directory=True)
    assert check_output(tmp_path / "new" / "deeper" / "out.root")  # creatable


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_directory_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    with pytest.raises(DataError, match="not writable"):
        check_output(ro / "out.root")


def test_failure_leaves_nothing(tmp_path):
    out = tmp_path / "out.json"
    with pytest.raises(KeyboardInterrupt), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    out.write_text("old")
    with pytest.raises(ValueError), atomic_path(out) as tmp:
        raise ValueError
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["out.json"]


def test_os_error_is_one_line_naming_the_path(tmp_path, monkeypatch):
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "replace", full)
    out = tmp_path / "t.root"
    with pytest.raises(DataError, match=r"t\.root: cannot write \(No space left on device\)"):
        write_tree(out, {"x": np.arange(3)})
    assert os.listdir(tmp_path) == []


def test_concurrent_writers_each_write_a_whole_file(tmp_path):
    """Threads writing the same output: the file left is complete and is one writer's."""
    out = tmp_path / "same.root"
    n = 200_000

    def write(k):
        write_tree(out, {"x": np.full(n, k, dtype=np.int32)}, step=20_000)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with uproot.open(out) as f:
        x = f["hepattn"]["x"].array(library="np")
    assert len(x) == n and len(np.unique(x)) == 1
    assert os.listdir(tmp_path) == ["same.root"]
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~outputs._UMASK)


def test_json_output_is_strict(tmp_path):
    text = outputs.to_json({"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": 2}})
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": {"d": 2}}
    out = outputs.write_json(tmp_path / "sub" / "r.json", {"x": float("nan")})
    assert json.loads(out.read_text()) == {"x": None}
    assert sorted(q.name for q in out.parent.iterdir()) == ["r.json"]
