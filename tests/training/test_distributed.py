"""Two CPU ranks (gloo, started by torchrun) train the same weights as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def run(args, tmp):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(args, env=env, cwd=tmp, timeout=240, capture_output=True, text=True)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"


def torchrun(tmp, out, *extra):
    """The worker on two gloo ranks, started by torchrun."""
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run([*args, str(WORKER), str(out), *extra], tmp)


def test_two_gloo_ranks_match_one_process(tmp_path):
    run([sys.executable, str(WORKER), str(tmp_path / "single")], tmp_path)
    torchrun(tmp_path, tmp_path / "ddp")
    a = torch.load(tmp_path / "single" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 3 * 6
    for k in a["model"]:
        torch.testing.assert_close(b["model"][k], a["model"][k], rtol=1e-5, atol=1e-6)
    # each rank validated its own shard; the summed metrics equal one process's
    ha = json.loads((tmp_path / "single" / "history.json").read_text())
    hb = json.loads((tmp_path / "ddp" / "history.json").read_text())
    for ra, rb in zip(ha, hb, strict=True):
        assert abs(ra["val_loss"] - rb["val_loss"]) <= 1e-5 * max(1.0, abs(ra["val_loss"]))
    # only rank 0 wrote: one checkpoint, one best model, one history
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "best",
        "history.json",
        "last.pt",
    ]


def test_streamed_ranks_with_uneven_data_stop_together(tmp_path):
    """Rank 0 streams 40 events, rank 1 24: with 8 per rank and step, both stop after 3 steps
    (no rank waits forever in a collective), every epoch."""
    torchrun(tmp_path, tmp_path / "ddp", "--stream")
    state = torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)
    assert state["step"] == 3 * 3
