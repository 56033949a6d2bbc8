"""What the tasks share: loading a trained model directory, and one training run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch

from hepattn.config import Config
from hepattn.data import Events, RootStreamDataset, collate
from hepattn.errors import DataError
from hepattn.models import SavedModel, load_saved, resolve_model
from hepattn.training.distributed import is_main

__all__ = [
    "TrainedModel",
    "describe_files",
    "head_entries",
    "run_training",
    "stream_training_set",
]


def describe_files(files) -> str:
    """Markdown list of input files, shortened to the first and last when there are many."""
    names = [f"`{f}`" for f in files]
    if len(names) <= 3:
        return ", ".join(names)
    return f"{len(names)} files, {names[0]} … {names[-1]}"


class TrainedModel:
    """A trained model directory, rebuilt and ready to predict.

    Subclasses set ``task`` (the ``task`` key of ``config.yaml``), ``run_config`` (their run
    config class), ``load_data`` (their data reader) and implement :meth:`build`.
    """

    task: ClassVar[str]
    run_config: ClassVar[type[Config]]
    load_data: ClassVar[Callable[..., Events]]

    def __init__(self, saved: SavedModel) -> None:
        cfg = {k: v for k, v in saved.config.items() if k not in ("task", "classes")}
        self.run = self.run_config.from_dict(cfg)
        self.path = saved.path
        self.standardizers = saved.standardizers
        self.metrics = saved.metrics
        self.net = self.build()
        self.net.load_state_dict(saved.state_dict)
        self.net.eval()

    def build(self) -> torch.nn.Module:
        raise NotImplementedError

    @classmethod
    def load(cls, model: str | Path | None = None):
        """A model directory, or ``None`` / ``"default"`` for the bundled model of the task."""
        return cls(load_saved(resolve_model(model, cls.task), cls.task))

    def read(
        self,
        paths,
        schema: str | None = None,
        need_labels: bool = False,
        entry_stop: int | None = None,
    ) -> Events:
        """Read ``paths`` as this model expects (features, padding), optionally with labels."""
        return type(self).load_data(
            paths, self.run, schema=schema, need_labels=need_labels, entry_stop=entry_stop
        )


def head_entries(stream: bool, chunk_entries: int, max_train: int | None) -> int | None:
    """Entries of the training files read into memory up front: all (up to ``max_train``),
    or with ``stream`` only the first chunk, for the standardization and the card's counts."""
    return min(chunk_entries, max_train or chunk_entries) if stream else max_train


def stream_training_set(
    paths,
    schema,
    collection: str,
    spec,
    standardizer,
    transform: Callable,
    *,
    seed: int,
    chunk_entries: int,
    entry_stop: int | None,
    head: Events,
) -> RootStreamDataset:
    """A shuffled :class:`RootStreamDataset` of the training files for ``--stream``.

    ``head`` holds the first ``chunk_entries`` entries already read and transformed; the
    fraction of them that ``transform`` kept sizes ``len()`` (the schedule's estimate).
    """
    from hepattn.data.spanet import is_spanet_path

    if is_spanet_path(paths):
        raise DataError("--stream reads ROOT files; SPANet HDF5 training files are read whole")
    ds = RootStreamDataset(
        paths,
        schema,
        collection,
        spec,
        standardizer,
        chunk_entries=chunk_entries,
        shuffle=True,
        seed=seed,
        transform=transform,
        entry_stop=entry_stop,
    )
    read = min(ds.num_entries, chunk_entries)
    ds.expected_events = max(1, round(ds.num_entries * len(head) / max(read, 1)))
    return ds


def run_training(
    task,
    net: torch.nn.Module,
    train_set,
    val_set,
    run,
    out_dir,
    *,
    resume: bool,
    progress: bool,
    card: Callable[[dict], str],
    info: dict[str, Any],
) -> dict:
    """Train with :func:`hepattn.training.loop.fit`, then write the model card and a summary.

    ``card(info)`` renders the card from ``info`` completed with the run's budget: ``params``,
    ``epochs``, ``seconds``, ``best_epoch``, ``best`` (the best epoch's history record),
    ``device``, ``threads``, and the training settings.
    """
    from hepattn.training.loop import fit, pick_device

    t0 = time.perf_counter()
    history = fit(
        task,
        net,
        train_set,
        val_set,
        collate,
        run.training,
        out_dir,
        run_config=task.saved_config(),
        resume=resume,
        progress=progress,
    )
    best = max(history, key=lambda h: h["val_score"])
    info = {
        **info,
        "params": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "epochs": len(history),
        "seconds": info.get("seconds", 0.0) + time.perf_counter() - t0,
        "best_epoch": best["epoch"],
        "best": best,
        "device": str(pick_device(run.training.device)),
        "threads": torch.get_num_threads(),
        "max_epochs": run.training.epochs,
        "patience": run.training.patience,
        "batch_size": run.training.batch_size,
        "lr": run.training.lr,
    }
    summary = {k: v for k, v in info.items() if isinstance(v, int | float | str)}
    summary.update({f"val_{k[4:]}": v for k, v in best.items() if k.startswith("val_")})
    if is_main():  # under torchrun only rank 0 writes
        best_dir = Path(out_dir) / "best"
        (best_dir / "card.md").write_text(card(info))
        (best_dir / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
