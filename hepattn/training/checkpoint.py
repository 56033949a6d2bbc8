"""Training checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint is one file holding plain data and tensors only (no pickled code):

- ``format``: :data:`CHECKPOINT_FORMAT`, checked on load;
- ``model``, ``optimizer``, ``scheduler``: state dicts;
- ``epoch`` (epochs completed), ``step`` (optimizer steps), ``best_score``, ``bad_epochs``;
- ``rng``: torch, numpy and Python random states, so that a resumed run continues the same
  random stream;
- ``config``: the full run configuration (a plain dict); ``history``: the per-epoch metrics
  so far (in the same file, so a resumed run never loses an epoch's record).

``sha256``: a digest of everything else (tensor bytes, dtypes, shapes and the plain data),
recomputed on load, so flipped bytes are caught rather than resumed from. It is written to a
unique temporary file and renamed into place, so a crash while saving leaves the previous
checkpoint intact. :func:`save_training` and :func:`resume_training` write and
restore a whole run's state (:class:`TrainState` with the model, optimizer and scheduler).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hepattn.data.outputs import atomic_path
from hepattn.errors import HepattnError
from hepattn.models import safe_load

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "TrainState",
    "checkpoint_problem",
    "config_differences",
    "load_checkpoint",
    "resume_training",
    "rng_state",
    "save_checkpoint",
    "save_training",
    "state_digest",
]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


class CheckpointError(HepattnError):
    """A checkpoint is missing, unreadable, unsafe or of an incompatible format."""


def rng_state() -> dict[str, Any]:
    """The torch (CPU and every CUDA device), numpy and Python random states as plain data."""
    version, state, gauss = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 (global state that user code may use)
    return {
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": [version, list(state), gauss],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def state_digest(obj: Any) -> str:
    """SHA-256 of a checkpoint's content: nested dicts, lists, tensors and plain values."""
    h = hashlib.sha256()

    def feed(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous().reshape(-1)
            h.update(f"T{t.dtype}{tuple(x.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            h.update(f"D{len(x)}".encode())
            for k in sorted(x, key=repr):
                feed(k)
                feed(x[k])
        elif isinstance(x, list | tuple):
            h.update(f"L{len(x)}".encode())
            for v in x:
                feed(v)
        else:
            h.update(f"{type(x).__name__}:{x!r};".encode())

    feed(obj)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` (plus the format version and its digest) to ``path`` atomically."""
    payload = {"format": CHECKPOINT_FORMAT, **state}
    payload["sha256"] = state_digest(payload)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its format version."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # torch.save writes a zip archive
            raise CheckpointError(f"{path}: not a readable checkpoint (not a torch.save file)")
    state = safe_load(path, CheckpointError, "checkpoint")
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{path}: not a hepattn checkpoint (no format version)")
    if state["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {state['format']} is not supported by this hepattn "
            f"(it reads format {CHECKPOINT_FORMAT})"
        )
    recorded = state.pop("sha256", None)
    if recorded is not None and state_digest(state) != recorded:
        raise CheckpointError(
            f"{path}: damaged: its content does not match the digest stored when it was "
            "written (flipped bytes or a partial copy)"
        )
    return state


def checkpoint_problem(path: str | os.PathLike) -> str | None:
    """None if the checkpoint at ``path`` loads and passes its digest check, else why not."""
    try:
        load_checkpoint(path)
    except CheckpointError as err:
        return str(err)
    return None


@dataclass
class TrainState:
    """Where a run stands: epochs completed, optimizer steps, the best validation score so
    far, epochs since it improved, and the per-epoch history."""

    epoch: int = 0
    step: int = 0
    best: float = -math.inf
    bad_epochs: int = 0
    history: list[dict] = field(default_factory=list)


def save_training(
    path: str | os.PathLike, model, optimizer, scheduler, state: TrainState, config: dict
) -> None:
    """Checkpoint a run: model, optimizer and scheduler state, ``state``, the random states
    and the run ``config`` (see the module docstring)."""
    save_checkpoint(
        path,
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": state.epoch,
            "step": state.step,
            "best_score": state.best,
            "bad_epochs": state.bad_epochs,
            "rng": rng_state(),
            "config": config,
            "history": state.history,
        },
    )


#: Run-config keys a resumed run may change (how long and where it runs, not what it learns).
RESUMABLE_CHANGES = frozenset(
    f"training.{k}"
    for k in (
        "epochs",
        "patience",
        "cpu_budget_s",
        "device",
        "threads",
        "num_workers",
        "compile",
        "amp",
    )
)


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def config_differences(stored: dict, current: dict) -> list[str]:
    """The dotted keys (``training.seed``, ``files.train_paths``, ``model.encoder.dim``) on
    which two run configs differ, as ``key (stored → current)``; the keys of
    :data:`RESUMABLE_CHANGES` and sections one of them lacks (older checkpoints) are not
    compared."""
    a, b = _flat(stored), _flat(current)
    both = set(stored) & set(current)
    out = []
    for key in sorted(set(a) | set(b)):
        if key in RESUMABLE_CHANGES or key.split(".")[0] not in both:
            continue
        missing = "(none)"
        if a.get(key, missing) != b.get(key, missing):
            old, new = a.get(key, missing), b.get(key, missing)
            short = [x if len(repr(x)) < 60 else f"{repr(x)[:57]}…" for x in (old, new)]
            out.append(f"{key} ({short[0]!r} → {short[1]!r})")
    return out


def resume_training(
    path: str | os.PathLike,
    model,
    optimizer,
    scheduler,
    config: dict | None = None,
    force: bool = False,
) -> TrainState:
    """Restore what :func:`save_training` wrote into ``model``, ``optimizer``, ``scheduler``
    and the random states; return the run's :class:`TrainState`.

    ``config``: the run config of the command resuming; a :class:`CheckpointError` naming
    the differing keys (:func:`config_differences`) if the checkpoint was written by another
    run (other data files, seed, model), unless ``force``.
    """
    ckpt = load_checkpoint(path)
    if config is not None:
        diff = config_differences(ckpt.get("config") or {}, config)
        if diff and not force:
            raise CheckpointError(
                f"{path} was written by a different run: {'; '.join(diff)}; resume with the "
                "same data, seed and model, write to another directory, or pass --force-resume"
            )
        if diff:
            log.warning("--force-resume: %s differs from this run in %s", path, "; ".join(diff))
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    set_rng_state(ckpt["rng"])
    return TrainState(
        epoch=ckpt["epoch"],
        step=ckpt["step"],
        best=ckpt["best_score"],
        bad_epochs=ckpt["bad_epochs"],
        history=list(ckpt.get("history", [])),
    )
