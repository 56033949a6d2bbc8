"""Distributed data parallel training under ``torchrun`` (NCCL on CUDA, gloo on CPU).

``torchrun --nproc_per_node=K …`` (or ``--nnodes=… --rdzv-endpoint=…`` for several machines)
sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`init` then joins the process group.
Without those variables everything runs in one process and these helpers are no-ops.

The global batch size is the configured ``batch_size``; each of the ``W`` ranks takes
``batch_size / W`` events per step from its shard of one shared random permutation, so that
W ranks see exactly the events one process would see in the same step, and the gradient
averaged by DDP equals the single-process gradient of a mean loss.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "DDP",
    "all_reduce_sum",
    "barrier",
    "exit_now",
    "init",
    "is_main",
    "local_device",
    "rank",
    "shutdown",
    "world_size",
]

_joined_here = False  # True while init() holds a process group it created itself


def init() -> bool:
    """Join the process group when started by torchrun; True when distributed."""
    global _joined_here
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        _joined_here = True
    return True


def shutdown() -> None:
    """Wait for every rank, then leave the process group that :func:`init` created.

    Left to the interpreter's exit, gloo's background threads are sometimes torn down while
    still joinable and the rank aborts (``terminate called without an active exception``)
    after training finished; a group the caller created is left to the caller.
    """
    global _joined_here
    barrier()
    if _joined_here and dist.is_initialized():
        dist.destroy_process_group()
        _joined_here = False


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """Only rank 0 writes files and logs progress."""
    return rank() == 0


def local_device(name: str) -> torch.device:
    """The device of this rank: ``cuda:LOCAL_RANK`` under torchrun on GPUs, else ``name``."""
    if world_size() > 1 and name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def barrier() -> None:
    """Wait for every rank (nothing in one process)."""
    if world_size() > 1:
        dist.barrier()


def all_reduce_sum(*values: float) -> list[float]:
    """Sum each value over the ranks (identity in one process)."""
    if world_size() == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return t.cpu().tolist()


def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of a scalar over the ranks, detached (``value`` itself in one process).

    A loss written as ``Σ_local ℓ·w / mean_over_ranks(Σ_local w)`` becomes, after DDP averages
    the gradients over the W ranks, the gradient of the global weighted mean
    ``Σ_all ℓ·w / Σ_all w`` — not the mean of per-rank means, which differs whenever the
    ranks' weight sums (or numbers of used events) differ.
    """
    value = value.detach()
    if world_size() == 1:
        return value
    t = value.to(torch.float64).reshape(1)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return (t / world_size()).to(value.device, value.dtype).reshape(value.shape)


def exit_now(code: int = 0) -> None:
    """End a torchrun rank at once with ``code``, its output flushed — but only when it was
    one of several ranks (``WORLD_SIZE`` > 1; else nothing happens).

    Even with the process group destroyed (:func:`shutdown`), gloo's background threads are
    sometimes still joinable when the interpreter tears down, and the rank aborts
    (``terminate called without an active exception``) after its work is done and written —
    torchrun then reports the whole run as failed. Leaving with ``os._exit`` skips that
    teardown; everything the rank writes is written (atomically) before.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class DDP(DistributedDataParallel):
    """DistributedDataParallel that also forwards task methods (``target_logprob`` …)."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)
