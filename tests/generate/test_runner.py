"""Chunked, resumable writing with a fake (generator-free) work function."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.errors import DataError
from hepattn.generate.runner import Chunk, ChunkResult, chunk_plan, parts_dir, run_chunks

CALLS: list[int] = []


def fake_work(chunk: Chunk, fail_at: int | None = None) -> ChunkResult:
    if chunk.index == fail_at:
        raise KeyboardInterrupt("simulated interruption")
    CALLS.append(chunk.index)
    rng = np.random.default_rng(chunk.index)
    counts = rng.integers(0, 5, chunk.size)
    pt = ak.unflatten(rng.uniform(0, 1, counts.sum()).astype(np.float32), counts)
    return ChunkResult(
        branches={
            "jet": ak.zip({"pt": pt}),
            "event": np.arange(chunk.size, dtype=np.int64) + 1000 * chunk.index,
        },
        n_generated=chunk.size + 1,
    )


def _run(path, work, config=None):
    return run_chunks(
        path,
        config=config or {"n": 10},
        chunks=chunk_plan(10, 3),
        work=work,
        tree="events",
        collections=("jet",),
        metadata={"hepattn_format": "test"},
        jobs=1,
        progress=False,
    )


def test_chunk_plan():
    assert [c.size for c in chunk_plan(10, 3)] == [3, 3, 3, 1]
    with pytest.raises(DataError, match="positive"):
        chunk_plan(0, 3)


def test_interrupted_run_leaves_no_file_and_resumes(tmp_path):
    out = tmp_path / "out.root"
    CALLS.clear()
    with pytest.raises(KeyboardInterrupt):
        _run(out, lambda c: fake_work(c, fail_at=2))
    assert not out.exists()
    assert sorted(p.name for p in parts_dir(out).glob("chunk-*.root")) == [
        "chunk-00000.root",
        "chunk-00001.root",
    ]
    assert not list(parts_dir(out).glob("*.tmp"))
    CALLS.clear()
    _run(out, fake_work)
    assert CALLS == [2, 3]  # the first two chunks were reused
    assert out.exists() and not parts_dir(out).exists()
    # identical to an uninterrupted run
    ref = tmp_path / "ref.root"
    _run(ref, fake_work)
    a, b = (uproot.open(p)["events"].arrays() for p in (out, ref))
    assert ak.all(a.event == b.event) and ak.all(ak.flatten(a.jet_pt) == ak.flatten(b.jet_pt))
    with uproot.open(out) as f:
        assert str(f["n_generated"]) == "14" and str(f["hepattn_format"]) == "test"
        assert f["events"].num_entries == 10


def test_resume_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "out.root"
    with pytest.raises(KeyboardInterrupt):
        _run(out, lambda c: fake_work(c, fail_at=1))
    with pytest.raises(DataError, match="other settings"):
        _run(out, fake_work, config={"n": 11})
