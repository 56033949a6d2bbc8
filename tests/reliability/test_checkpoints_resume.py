"""Checkpoints carry a digest of their content: flipped bytes are refused on resume and a
damaged checkpoint is never called "the last good checkpoint"; ``--resume`` refuses a run
with other data files, seed or model, naming the keys (``--force-resume`` overrides)."""

from __future__ import annotations

import pytest
import torch
import yaml

from hepattn.cli import main
from hepattn.training import loop
from hepattn.training.checkpoint import CheckpointError, load_checkpoint
from hepattn.training.loop import TrainingConfig, TrainingError, fit
from tests.reliability._helpers import error_lines, snapshot
from tests.tasks.test_matching_task import TINY, slice_file
from tests.training.ddp_worker import collate
from tests.training.test_loop import Task, data


def _flip(path) -> None:
    raw = bytearray(path.read_bytes())
    # a byte inside the largest stored tensor (the zip entry data/…): change one weight
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def test_flipped_bytes_in_last_pt_are_refused(tmp_path):
    torch.manual_seed(0)
    cfg = TrainingConfig(epochs=1, batch_size=8, warmup_steps=1)
    fit(Task(), torch.nn.Sequential(torch.nn.Linear(3, 512), torch.nn.Linear(512, 1)),
        data(), data(8), collate, cfg, tmp_path)  # fmt: skip
    last = tmp_path / "last.pt"
    load_checkpoint(last)
    _flip(last)
    with pytest.raises(CheckpointError, match=r"last\.pt: (damaged|not a readable)"):
        load_checkpoint(last)


def test_a_damaged_checkpoint_is_not_called_the_last_good_one(tmp_path, monkeypatch):
    save = loop.save_training

    def save_then_damage(path, *args, **kwargs):
        save(path, *args, **kwargs)
        _flip(path)

    monkeypatch.setattr(loop, "save_training", save_then_damage)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 512), torch.nn.Linear(512, 1))
    cfg = TrainingConfig(epochs=5, batch_size=8, warmup_steps=1)
    with pytest.raises(TrainingError, match="non-finite loss") as err:
        fit(Task(poison_after=12), model, data(), data(8), collate, cfg, tmp_path)
    assert "last good checkpoint" not in str(err.value)
    assert "no good checkpoint is left" in str(err.value) and "last.pt" in str(err.value)


def test_resume_refuses_another_run_naming_the_keys(tmp_path, capsys):
    train = slice_file(tmp_path / "train.root", 0, 300)
    val = slice_file(tmp_path / "val.root", 300, 400)
    other = slice_file(tmp_path / "other.root", 400, 500)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    run = tmp_path / "run"
    base = ["train", "matcher", "--train", str(train), "--config", str(config), "-o", str(run),
            "--no-progress"]  # fmt: skip
    assert main([*base, "--val", str(val), "--seed", "2"]) == 0
    before = snapshot(tmp_path)
    for change, key in (
        (["--val", str(val), "--seed", "3"], "training.seed (2 → 3)"),
        (["--val", str(other), "--seed", "2"], "files.val_paths"),
    ):
        capsys.readouterr()
        assert main([*base, *change, "--resume", "--epochs", "2"]) == 1
        lines = error_lines(capsys)
        assert len(lines) == 1 and "last.pt was written by a different run" in lines[0], lines
        assert key in lines[0] and "--force-resume" in lines[0], lines
        assert snapshot(tmp_path) == before
    # the same run resumes (more epochs are allowed); --force-resume overrides a mismatch
    assert main([*base, "--val", str(val), "--seed", "2", "--resume", "--epochs", "2"]) == 0
    assert load_checkpoint(run / "last.pt")["epoch"] == 2
    capsys.readouterr()
    assert main([*base, "--val", str(val), "--seed", "3", "--force-resume", "--epochs", "3"]) == 0
    assert "--force-resume" in capsys.readouterr().err
    assert load_checkpoint(run / "last.pt")["epoch"] == 3
