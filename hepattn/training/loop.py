"""One training loop for every task (tagger, matcher).

The task object supplies what differs between tasks:

- ``task.loss(model, batch) -> Tensor``: the scalar mean loss of a batch;
- ``task.evaluate(model, loader, device) -> dict[str, float]``: additive validation sums
  over the loader's events (loss sums, counts, …). Under torchrun each rank evaluates its
  own shard of the validation set and the sums are added over the ranks;
- ``task.summarize(sums) -> dict``: metrics from the summed values, with at least ``"loss"``
  and ``"score"`` (higher is better; used for best-model selection and early stopping);
- ``task.save_model(model, directory, metrics)``: write a loadable model directory.

:func:`fit` handles the rest: device choice, AdamW with linear warm-up then cosine decay,
gradient clipping, a checkpoint every epoch (``last.pt``, atomic, resumable), the best model
on validation kept in ``best/``, early stopping, an optional CPU-time budget
(``cpu_budget_s``; :func:`ended_by` says what ended a run), progress bars (only if asked: the
CLI owns output), per-epoch history in ``history.json``, and a clear error on a non-finite loss that
leaves the last good checkpoint in place. The pieces: :mod:`hepattn.training.loaders` (the
loaders, sharding and length bucketing), :func:`_epoch` (one pass, with no per-step
GPU→CPU synchronisation: the loss is read every :data:`SYNC_EVERY` steps), and
:func:`~hepattn.training.checkpoint.save_training` /
:func:`~hepattn.training.checkpoint.resume_training`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from hepattn.config import Config, check
from hepattn.data.outputs import write_text
from hepattn.errors import HepattnError
from hepattn.progress import bar as progress_bar
from hepattn.training import distributed as dist_utils
from hepattn.training.checkpoint import (
    TrainState,
    checkpoint_problem,
    resume_training,
    save_training,
)
from hepattn.training.loaders import Loaders, make_loaders

log = logging.getLogger(__name__)

__all__ = [
    "TrainableTask",
    "TrainingConfig",
    "TrainingError",
    "ended_by",
    "fit",
    "pick_device",
    "seed_everything",
]

#: Optimizer steps between the host's reads of the running loss (a GPU→CPU synchronisation):
#: the check for a non-finite loss and the progress bar's loss display.
SYNC_EVERY = 50


class TrainingError(HepattnError):
    """Training cannot go on (empty data, non-finite loss, …)."""


@dataclasses.dataclass(frozen=True)
class TrainingConfig(Config):
    """Optimisation settings shared by all tasks.

    Attributes:
        epochs: maximum number of passes over the training set.
        batch_size: events per optimizer step.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up steps; then cosine decay to 0 at the last step.
        grad_clip: maximum global gradient norm (0 disables clipping).
        patience: stop after this many epochs without a better validation score.
        num_workers: DataLoader worker processes.
        seed: seeds initialisation, shuffling and dropout.
        device: "auto" (CUDA if available, else CPU), "cpu" or "cuda[:N]".
        threads: CPU threads for torch (0: torch's default, all cores). On a machine shared
            with other jobs, 1 thread per training process is much faster than contention.
        amp: bf16 autocast on CUDA (ignored on CPU).
        compile: wrap the model in ``torch.compile`` (opt-in).
        bucket: batch events of similar object counts together (each batch is padded to its
            own longest event; see :mod:`hepattn.data.buckets`); still random across epochs
            and sharded over ranks.
        bucket_window: global batches per sorting window of the bucketing.
        cpu_budget_s: stop once training has spent this many CPU seconds (None: no cap):
            the process time of the training steps and validations, summed over resumed
            legs (DataLoader workers not counted), checked after every step (under torchrun
            every :data:`SYNC_EVERY` steps, on the largest of the ranks' times); the epoch in
            progress ends there and is validated like any other. Reading and preparing the
            data before the first epoch is not counted. The learning-rate schedule still
            spans ``epochs``.
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    grad_clip: float = 1.0
    patience: int = 5
    num_workers: int = 0
    seed: int = 1
    device: str = "auto"
    threads: int = 0
    amp: bool = True
    compile: bool = False
    bucket: bool = True
    bucket_window: int = 50
    cpu_budget_s: float | None = None

    def __post_init__(self) -> None:
        where = type(self).__name__
        for name in ("epochs", "batch_size", "patience", "bucket_window"):
            check(getattr(self, name) > 0, where, f"{name} must be positive")
        check(self.lr > 0, where, "lr must be positive")
        check(
            self.cpu_budget_s is None or self.cpu_budget_s > 0,
            where,
            "cpu_budget_s must be positive (or null: no cap)",
        )


class TrainableTask(Protocol):
    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor: ...

    def evaluate(self, model: torch.nn.Module, loader: DataLoader, device) -> dict: ...

    def summarize(self, sums: dict[str, float]) -> dict: ...

    def save_model(self, model: torch.nn.Module, directory: Path, metrics: dict) -> None: ...


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when available (this rank's GPU under torchrun), else CPU."""
    return dist_utils.local_device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (global state that user code may use)
    torch.manual_seed(seed)


def _schedule(cfg: TrainingConfig, total_steps: int) -> Callable[[int], float]:
    warm = max(1, min(cfg.warmup_steps, total_steps // 2))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, total_steps - warm)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _batches(loader: DataLoader, sync: bool):
    """The loader's batches; with ``sync`` (a streamed dataset under DDP, where ranks may hold
    different numbers of events) every rank stops as soon as any rank runs out, so that all
    take the same number of steps and no collective operation waits forever."""
    it = iter(loader)
    while True:
        batch = next(it, None)
        if sync:
            (have,) = dist_utils.all_reduce_sum(float(batch is not None))
            if have < dist_utils.world_size():
                return
        elif batch is None:
            return
        yield batch


def validate(task: TrainableTask, model: torch.nn.Module, loader: DataLoader, device) -> dict:
    """``task.summarize`` of ``task.evaluate``'s sums added over the ranks: every rank gets
    the same metrics, hence the same best-model and early-stopping decisions."""
    sums = task.evaluate(model, loader, device)
    keys = sorted(sums)
    return task.summarize(
        dict(zip(keys, dist_utils.all_reduce_sum(*(sums[k] for k in keys)), strict=True))
    )


class _CpuBudget:
    """The CPU seconds a run has spent (this leg's process time plus ``spent`` of earlier
    legs) against ``cfg.cpu_budget_s``; :meth:`exhausted` is the same on every rank."""

    def __init__(self, cfg: TrainingConfig, spent: float, distributed: bool) -> None:
        self.budget, self.before, self.distributed = cfg.cpu_budget_s, spent, distributed
        self.start = time.process_time()
        self.hit = False

    def seconds(self) -> float:
        return self.before + time.process_time() - self.start

    def exhausted(self, step: int) -> bool:
        """Whether the budget is spent (checked at every step, or under torchrun every
        :data:`SYNC_EVERY` steps, where ranks agree on the largest time)."""
        if self.budget is None or self.hit:
            return self.hit
        if self.distributed:
            if step % SYNC_EVERY:
                return False
            (over,) = dist_utils.all_reduce_sum(float(self.seconds() >= self.budget))
            self.hit = over > 0
        else:
            self.hit = self.seconds() >= self.budget
        return self.hit


def ended_by(history: list[dict], cfg: TrainingConfig) -> str:
    """What ended a finished run of :func:`fit` with ``history``: ``"early_stopping"`` (the
    last ``patience`` epochs brought no better score, :func:`stopped_early`), else
    ``"cpu_budget"`` (``cpu_budget_s`` spent), else ``"epoch_cap"``."""
    if not history:
        return "epoch_cap"
    best = max(history, key=lambda h: h["val_score"])["epoch"]
    if stopped_early(len(history), best, cfg.patience):
        return "early_stopping"
    if history[-1].get("cpu_budget_spent"):
        return "cpu_budget"
    return "epoch_cap"


def _epoch(
    task: TrainableTask,
    net: torch.nn.Module,
    model: torch.nn.Module,
    loaders: Loaders,
    optimizer,
    scheduler,
    cfg: TrainingConfig,
    device: torch.device,
    state: TrainState,
    bar,
    where: Path,
    budget: _CpuBudget,
) -> tuple[float, int]:
    """One pass over the training loader, cut short when ``budget`` is spent; returns (sum of
    batch losses × events, events).

    The losses stay on the device: the host reads them (one synchronisation) only every
    :data:`SYNC_EVERY` steps and at the end of the epoch, to check that they are finite and
    to show the running loss on the progress bar.
    """
    autocast = torch.autocast(
        "cuda", dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda"
    )
    total = torch.zeros((), dtype=torch.float64, device=device)  # Σ loss × events
    checked, n, since = 0.0, 0, state.step
    sync = loaders.streaming and dist_utils.world_size() > 1
    for batch in _batches(loaders.train, sync):
        batch = batch.to(device)
        with autocast:
            loss = task.loss(net, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        state.step += 1
        total += loss.detach().double() * len(batch)
        n += len(batch)
        bar.update()
        if state.step % SYNC_EVERY == 0:
            checked = _checked(total, state, since, where)
            since = state.step
            bar.set_postfix(loss=f"{checked / n:.4f}")
        if budget.exhausted(state.step):
            break
    return _checked(total, state, since, where), n


def _checked(total: torch.Tensor, state: TrainState, since: int, where: Path) -> float:
    """``total`` on the host, or a :class:`TrainingError` if a loss since step ``since`` was
    not finite (a NaN or ±inf loss makes the running sum non-finite)."""
    value = float(total)
    if not math.isfinite(value):
        last = where / "last.pt"
        if not last.exists():
            kept = "no checkpoint was written before it"
        elif (problem := checkpoint_problem(last)) is None:
            kept = f"the last good checkpoint is {last}"
        else:
            kept = f"no good checkpoint is left ({problem})"
        raise TrainingError(
            f"non-finite loss ({value}) at epoch {state.epoch + 1}, between steps {since + 1} "
            f"and {state.step}; {kept} — lower the learning rate or check the inputs for "
            "extreme values"
        )
    return value


def fit(
    task: TrainableTask,
    model: torch.nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    collate_fn: Callable,
    cfg: TrainingConfig,
    out_dir: str | os.PathLike,
    *,
    run_config: dict | None = None,
    resume: bool = False,
    force_resume: bool = False,
    progress: bool = False,
) -> list[dict]:
    """Train ``model`` on ``train_set``; return the per-epoch history.

    ``out_dir`` receives ``last.pt`` (checkpoint), ``best/`` (best model on validation,
    written by ``task.save_model``) and ``history.json``. With ``resume`` the run continues
    from ``out_dir/last.pt``, which must have been written with the same ``run_config``
    (data files, seed, model; :func:`~hepattn.training.checkpoint.config_differences`)
    unless ``force_resume``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if len(train_set) == 0:
        raise TrainingError("the training set is empty: nothing to train on")
    if len(val_set) == 0:
        raise TrainingError("the validation set is empty: cannot select the best model")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    distributed = dist_utils.init()
    world = dist_utils.world_size()
    main = dist_utils.is_main()
    if cfg.batch_size % world:
        raise TrainingError(f"batch_size {cfg.batch_size} is not divisible by {world} ranks")
    device = dist_utils.local_device(cfg.device)
    model.to(device)
    net = torch.compile(model) if cfg.compile else model
    if distributed:
        net = dist_utils.DDP(net, device_ids=[device.index] if device.type == "cuda" else None)
    log.info(
        "training on %s%s, %d train / %d validation events",
        device,
        f" × {world} ranks" if distributed else "",
        len(train_set),
        len(val_set),
    )
    loaders = make_loaders(train_set, val_set, collate_fn, cfg, world)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(cfg, cfg.epochs * loaders.steps_per_epoch)
    )
    state = TrainState()
    if resume and (out / "last.pt").exists():
        state = resume_training(
            out / "last.pt", model, optimizer, scheduler, run_config or {}, force_resume
        )
        log.info("resumed from %s after epoch %d", out / "last.pt", state.epoch)
    elif resume:
        log.warning("--resume: no checkpoint in %s, starting afresh", out)
    spent = state.history[-1].get("cpu_seconds", 0.0) if state.history else 0.0
    budget = _CpuBudget(cfg, spent, distributed)

    while state.epoch < cfg.epochs and state.bad_epochs < cfg.patience and not budget.hit:
        model.train()
        loaders.epoch_source.set_epoch(state.epoch)
        t0 = time.perf_counter()
        desc = f"epoch {state.epoch + 1}/{cfg.epochs}"
        with progress_bar(progress and main, loaders.steps_per_epoch, desc, "step") as bar:
            total, n = _epoch(
                task,
                net,
                model,
                loaders,
                optimizer,
                scheduler,
                cfg,
                device,
                state,
                bar,
                out,
                budget,
            )
        total, n = dist_utils.all_reduce_sum(total, n)
        metrics = validate(task, model, loaders.val, device)
        state.epoch += 1
        record = {
            "epoch": state.epoch,
            "train_loss": total / max(n, 1),
            "seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(budget.seconds(), 3),  # cumulative, all legs
            **({"cpu_budget_spent": True} if budget.hit else {}),
            **{f"val_{k}": v for k, v in metrics.items()},
        }
        state.history.append(record)
        improved = metrics["score"] > state.best
        if improved:
            state.best, state.bad_epochs = metrics["score"], 0
            if main:
                task.save_model(model, out / "best", metrics)
        else:
            state.bad_epochs += 1
        if main:
            _end_of_epoch(record, metrics, improved, state, cfg)
            save_training(out / "last.pt", model, optimizer, scheduler, state, run_config or {})
            write_text(out / "history.json", json.dumps(state.history, indent=1) + "\n")
    dist_utils.shutdown()  # ranks leave together, after rank 0 has written its files
    return state.history


def stopped_early(epochs: int, best_epoch: int, patience: int) -> bool:
    """Whether a finished run of ``epochs`` epochs, best at ``best_epoch`` (1-based), ended by
    early stopping: the loop stops once ``epochs − best_epoch ≥ patience`` epochs brought no
    better validation score. False means the epoch cap (or a CPU budget, :func:`ended_by`)
    ended a run that was still improving within its patience, i.e. it did not converge."""
    return epochs - best_epoch >= patience


def _end_of_epoch(record: dict, metrics: dict, improved: bool, state: TrainState, cfg) -> None:
    log.info(
        "epoch %d: train loss %.4f, val loss %.4f, val score %.4f%s (%.0f s)",
        record["epoch"],
        record["train_loss"],
        metrics["loss"],
        metrics["score"],
        " (best)" if improved else "",
        record["seconds"],
    )
    if state.bad_epochs >= cfg.patience:
        log.info("early stopping: no improvement for %d epochs", state.bad_epochs)
    elif record.get("cpu_budget_spent"):
        log.info("CPU budget of %.0f s spent (%.0f s)", cfg.cpu_budget_s, record["cpu_seconds"])
