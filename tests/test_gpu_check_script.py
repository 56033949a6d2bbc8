"""benchmarks/gpu_check.sh, the one script a GPU machine runs: its dry run lists every step
and exits 0 here; without a GPU a real run says so in one line and exits 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "gpu_check.sh"


def _run(*args):
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "PY": sys.executable}
    return subprocess.run(["sh", str(SCRIPT), *args], capture_output=True, text=True, env=env)


def test_dry_run_lists_every_step():
    r = _run("--dry-run")
    assert r.returncode == 0, r.stderr
    steps = [line.split(":")[0] for line in r.stdout.splitlines() if line.startswith("step ")]
    assert steps == [
        "step gpu-tests", "step triplet", "step triplet-bf16-check", "step train-matcher-bf16",
        "step train-tagger-bf16", "step nccl-2proc", "step onnx-cuda", "step tables",
    ]  # fmt: skip
    assert "torchrun --standalone --nproc-per-node 2" in r.stdout


def test_without_a_gpu_it_says_so():
    import torch

    if torch.cuda.is_available():
        return
    r = _run()
    assert r.returncode == 1 and "no CUDA device here" in r.stdout
