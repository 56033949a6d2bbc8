from __future__ import annotations

import pytest
import torch

from hepattn.training.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


class Evil:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_round_trip_and_rng_restore(tmp_path):
    state = {"model": {"w": torch.arange(3.0)}, "epoch": 2, "rng": rng_state()}
    save_checkpoint(tmp_path / "c.pt", state)
    a = torch.rand(3)
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded["format"] == CHECKPOINT_FORMAT and loaded["epoch"] == 2
    set_rng_state(loaded["rng"])
    torch.testing.assert_close(torch.rand(3), a)
    assert not (tmp_path / "c.pt.tmp").exists()


def test_pickled_code_is_refused(tmp_path):
    torch.save({"format": CHECKPOINT_FORMAT, "model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(tmp_path / "evil.pt")


def test_incompatible_version_and_garbage(tmp_path):
    torch.save({"format": 999}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="format 999 is not supported"):
        load_checkpoint(tmp_path / "new.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
