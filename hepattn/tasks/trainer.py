"""Training orchestration: a task trained end to end from its files.

:func:`train_task` takes a :class:`~hepattn.tasks.base.Task` subclass, a run config, the
training and validation files and :class:`TrainOptions`, and does what every task's training
does: reads the files through the task's hooks, splits off the validation entries, fits the
standardization, builds the datasets (in memory, or streamed chunk by chunk), runs
:func:`hepattn.training.loop.fit` and writes the card and ``training.json`` of the best model.
``Task.train(run, train_paths, val_paths, out_dir, **options)`` is the same call with the
options as keywords. This module knows the tasks only through their hooks.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

import torch

from hepattn.data import Events, RootStreamDataset
from hepattn.data.outputs import write_json, write_text
from hepattn.data.schema import get_schema
from hepattn.errors import DataError, HepattnError
from hepattn.training.distributed import is_main

__all__ = ["TrainOptions", "describe_files", "train_lr_grid", "train_task"]


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How :func:`train_task` trains (the ``hepattn train`` options beyond the run config).

    Attributes:
        val_fraction: validate on this fraction of the training entries, chosen by entry
            (:class:`~hepattn.data.split.EntrySplit`, seeded by ``training.seed``; recorded in
            ``training.json``, the card and the checkpoint, so a resume with another split is
            refused); None: validation files are given instead. Exactly one of the two.
        schema: replaces the run config's schema (the saved model remembers it).
        tree: the input files' tree, where the schema's default does not fit.
        resume: continue from ``out_dir/last.pt`` (same run config and files).
        force_resume: resume even where the run config or files differ.
        progress: progress bars (the CLI asks for them on a terminal).
        max_train: read at most this many training entries.
        nonfinite: ``"error"`` (default) or ``"drop"`` objects holding NaN/inf.
        class_weights: the class balance of a classification head's training
            (:mod:`hepattn.tasks.classification`): ``balanced``, ``physical`` or ``none``.
        nonfinite_targets: NaN/inf regression targets ``"mask"``-ed out of their loss
            (default) or refused (``"error"``; :attr:`~hepattn.tasks.matching.Matcher.
            nonfinite_targets`).
        command: the command line, recorded in the card.
        stream: read the training files chunk by chunk during each epoch
            (:class:`~hepattn.data.RootStreamDataset`, sharded over ranks and loader workers)
            instead of holding them in memory; the standardization is fitted on the first
            ``chunk_entries`` entries and the card's counts are scaled from them; a validation
            fraction is then collected in one chunked pass.
        chunk_entries: entries per streamed chunk.
        friends: one friend file per training file (``hepattn label`` output), read for the
            branches the files lack (:func:`~hepattn.data.root.iterate_branches`).
        val_friends: the same per validation file (with validation files only).
        btag: b-tag values outside [0, 1] in the files
            (:class:`~hepattn.data.btag.BtagPolicy`; default: refused).
        init_from: start from this saved model's weights and standardization (a model
            directory or ``"default"``; :mod:`hepattn.tasks.finetune`), None: from scratch.
        refit_standardization: with ``init_from``, fit the standardization on this training
            set instead of keeping the model's.
        freeze: parts of the network not trained (``("encoder",)``).
    """

    val_fraction: float | None = None
    schema: str | None = None
    tree: str | None = None
    resume: bool = False
    force_resume: bool = False
    progress: bool = False
    max_train: int | None = None
    nonfinite: str = "error"
    nonfinite_targets: str = "mask"
    class_weights: str = "balanced"
    command: str = ""
    stream: bool = False
    chunk_entries: int = 20_000
    friends: Any = None
    val_friends: Any = None
    btag: Any = None
    init_from: Any = None
    refit_standardization: bool = False
    freeze: tuple[str, ...] = ()


def describe_files(files) -> str:
    """Markdown list of input files, shortened to the first and last when there are many."""
    names = [f"`{f}`" for f in files]
    if len(names) <= 3:
        return ", ".join(names)
    return f"{len(names)} files, {names[0]} … {names[-1]}"


def _check(train_paths, val_paths, opts: TrainOptions) -> None:
    """Refuse a validation choice that is not exactly one of files and fraction, and
    streaming of files that cannot be streamed."""
    if (val_paths is None) == (opts.val_fraction is None):
        raise HepattnError(
            "give either validation files (--val) or a validation fraction of the training "
            "entries (--val-fraction), " + ("not both" if val_paths is not None else "one of them")
        )
    if opts.val_friends is not None and val_paths is None:
        raise HepattnError(
            "--val-friend goes with --val files; with --val-fraction the validation "
            "entries are read with the training files' --friend"
        )
    if opts.stream:
        from hepattn.data import input_format

        if input_format(train_paths) == "spanet-h5":
            raise DataError("--stream reads ROOT files; SPANet HDF5 training files are read whole")


def _class_labels(task_cls, run, train_paths, val_paths):
    """``(train files, validation files, {file: class} or None)``: the ``FILE:CLASS``
    entries of a matcher with classification heads split (:func:`hepattn.tasks.
    classification.split_class_labels`); a classification head without them is an error."""
    topology = getattr(run, "topology", None)
    names = run.model.get("classifications") if isinstance(run.model, dict) else None
    if not names or topology is None:
        return train_paths, val_paths, None
    from hepattn.tasks.classification import split_class_labels

    declared = [topology.classification(n) for n in names]
    train_paths, classes = split_class_labels(train_paths, declared, "--train")
    if classes is None:
        raise DataError(
            f"model.classifications {list(names)}: give each training file its class as "
            f"FILE:CLASS (classes {[c for d in declared for c in d.classes]})"
        )
    if val_paths is not None:
        val_paths, val_classes = split_class_labels(val_paths, declared, "--val")
        if val_classes is None:
            raise DataError("--val: give each validation file its class as FILE:CLASS")
        classes = {**classes, **val_classes}
    from hepattn.tasks.classification import check_signal_files

    check_signal_files(classes, declared, topology.name)
    return train_paths, val_paths, classes


def train_task(
    task_cls: type, run, train_paths, val_paths, out_dir, options: TrainOptions | None = None
) -> dict:
    """Train a model of ``task_cls`` (a :class:`~hepattn.tasks.base.Task` subclass) with run
    config ``run`` end to end; the best one lands in ``out_dir/best``.

    Validation: the files ``val_paths``, or (``val_paths`` None) the fraction
    ``options.val_fraction`` of the training entries (:class:`TrainOptions`). Event weights
    (``data.weight``) enter the loss and the validation metrics
    (:mod:`hepattn.tasks.weights`). Returns the summary also written to
    ``out_dir/best/training.json``.
    """
    from hepattn.data.split import EntrySplit, file_offsets
    from hepattn.training.loop import seed_everything

    opts = options or TrainOptions()
    t0 = time.perf_counter()
    train_paths, val_paths, file_classes = _class_labels(task_cls, run, train_paths, val_paths)
    _check(train_paths, val_paths, opts)
    split = None if opts.val_fraction is None else EntrySplit(opts.val_fraction, run.training.seed)
    seed_everything(run.training.seed)
    if opts.schema is not None:
        run = dataclasses.replace(run, data=dataclasses.replace(run.data, schema=opts.schema))
    task = task_cls(run)
    task.nonfinite_targets = opts.nonfinite_targets
    if file_classes is not None:
        task.file_classes, task.class_weighting = file_classes, opts.class_weights
    base = None
    if opts.init_from is not None:  # a bad model or another network fails before reading
        from hepattn.tasks.finetune import check_same_network, load_init

        base = load_init(task_cls, run, opts.init_from)
        check_same_network(base, run)
    max_train, friends, chunk = opts.max_train, opts.friends, opts.chunk_entries
    head_stop = min(chunk, max_train or chunk) if opts.stream else max_train
    read = {
        "need_labels": True,
        "tree": opts.tree,
        "nonfinite": opts.nonfinite,
        "require_weight": True,
        "require_targets": True,
        "btag": opts.btag,
    }
    head = task.read(train_paths, entry_stop=head_stop, friends=friends, **read)
    offsets = None
    train_part = head if split is None else split.part(head, "train")  # what the files hold
    if split is None:
        ev_train = task.trainable(head)
        ev_val = task.trainable(task.read(val_paths, friends=opts.val_friends, **read))
    else:
        ev_train = task.trainable(train_part)
        if opts.stream:  # one chunked pass over the training files, keeping the validation part
            offsets = file_offsets(train_paths, opts.tree, get_schema(run.data.schema))
            keep = functools.partial(split.part, which="val", offsets=offsets)
            ev_val = task.read(
                train_paths, entry_stop=max_train, select=keep, friends=friends, **read
            )
            ev_val = task.trainable(ev_val)
        else:
            ev_val = task.trainable(split.part(head, "val"))
    if len(ev_train) == 0:
        raise DataError(
            f"no training {task_cls.unit} carries a loss in {ev_train.files}: nothing to learn from"
        )
    task.standardizers = task.fit_standardizers(ev_train)
    if base is not None and not opts.refit_standardization:
        task.standardizers = dict(base.standardizers)  # the inputs as the model knows them
    # the domain of the events the training files hold, also those without a loss (an event
    # of too few jets gets no answer, not a wrong one)
    task.domain = task.measure_domain(
        train_part,
        f"the first {len(train_part):,} {task_cls.unit} of the training files, read before "
        "streaming"
        if opts.stream
        else f"all {len(train_part):,} {task_cls.unit} of the training files",
    )
    train_set = task.dataset(ev_train)
    n_train, files = len(ev_train), ev_train.files
    if opts.stream:
        train_set = _stream(task, train_paths, ev_train, opts, split, offsets)
        n_train, files = len(train_set), train_set.paths
    d = run.data
    val_files = files if split is not None else ev_val.files
    info = {
        "schema": d.schema,
        "collection": d.collection,
        "features": ", ".join(f"`{f}`" for f in d.features),
        "max_objects": d.max_objects,
        "command": opts.command,
        "train_files": describe_files(files),
        f"train_{task_cls.unit}": n_train,
        "val_files": describe_files(val_files) if split is None else split.describe(),
        f"val_{task_cls.unit}": len(ev_val),
        "weights": (
            f"event field `{d.weight}` (schema `{d.schema}`), in the loss "
            "(Σ w·ℓ / Σ|w|) and the validation metrics (Σ w·x / Σ w)"
            if d.weight is not None
            else "none (unweighted)"
        ),
        "val_fraction": None if split is None else split.fraction,
        **task.card_info(ev_train, n_train / len(ev_train)),
        "seconds": time.perf_counter() - t0,
    }
    paths = {
        "train_paths": [str(Path(f).resolve()) for f in files],
        "val_paths": [str(Path(f).resolve()) for f in val_files],
    }
    record = split.record() if split is not None else {"val_fraction": None, "rule": "files"}
    return _fit(task, train_set, task.dataset(ev_val), out_dir, info, paths, record, opts, base)


def train_lr_grid(
    task_cls: type,
    run,
    train_paths,
    val_paths,
    out_dir,
    grid,
    options: TrainOptions | None = None,
) -> tuple[dict, Path]:
    """Train ``run`` once per peak learning rate of ``grid`` and keep the one that scores
    best on the validation set (the first of equals).

    Each candidate is a whole :func:`train_task` run (the run's epoch cap, early stopping and
    seed) in ``out_dir/lr_<lr>``; the test set plays no part in the choice. Returns the
    chosen run's summary, with ``lr`` the chosen rate, ``lr_grid`` mapping each rate (as
    ``f"{lr:g}"``) to its run's ``val_score``, ``epochs``, ``best_epoch`` and ``cpu_seconds``
    (the training loop's), and ``lr_grid_cpu_seconds`` their sum; and the chosen run's
    directory (its model in ``best/``).
    """
    if not grid:
        raise HepattnError("the learning-rate grid is empty")
    runs = {}
    for lr in grid:
        cand = dataclasses.replace(run, training=dataclasses.replace(run.training, lr=float(lr)))
        where = Path(out_dir) / f"lr_{lr:g}"
        runs[lr] = (train_task(task_cls, cand, train_paths, val_paths, where, options), where)
    chosen = max(grid, key=lambda lr: runs[lr][0]["val_score"])
    keys = ("val_score", "epochs", "best_epoch", "cpu_seconds")
    table = {f"{lr:g}": {k: runs[lr][0][k] for k in keys} for lr in grid}
    summary, where = runs[chosen]
    total = sum(v["cpu_seconds"] for v in table.values())
    return {**summary, "lr_grid": table, "lr_grid_cpu_seconds": round(total, 1)}, where


def _stream(task, paths, head: Events, opts: TrainOptions, split, offsets):
    """A shuffled :class:`RootStreamDataset` of the training files for ``--stream`` (of
    their training part under ``split``, an :class:`~hepattn.data.split.EntrySplit` with
    the files' ``offsets``); the fraction of ``head`` (the first chunk, already read and
    split) kept sizes ``len()``."""
    d = task.run.data
    transform = task.prepare
    if split is not None:
        transform = functools.partial(task.prepare_part, split=split, offsets=offsets)
    ds = RootStreamDataset(
        paths,
        d.schema,
        d.collection,
        task.spec(True),
        task.standardizers.get("objects"),
        tree=opts.tree,
        chunk_entries=opts.chunk_entries,
        shuffle=True,
        seed=task.run.training.seed,
        transform=transform,
        entry_stop=opts.max_train,
        nonfinite=opts.nonfinite,
        friends=opts.friends,
        btag=opts.btag,
        targets=task.target_branches(d.schema),
    )
    read = min(ds.num_entries, opts.chunk_entries)
    ds.expected_events = max(1, round(ds.num_entries * len(head) / max(read, 1)))
    return ds


def _fit(
    task, train_set, val_set, out_dir, info, paths, split, opts: TrainOptions, base=None
) -> dict:
    """Run :func:`hepattn.training.loop.fit` (from ``base``'s weights when fine-tuning),
    then write the card and the summary (``split``: the validation split's record, compared
    on resume)."""
    from hepattn.data import collate
    from hepattn.training.loop import ended_by, fit, pick_device

    t0 = time.perf_counter()
    net = task.build()
    if base is not None:
        from hepattn.tasks.finetune import freeze

        net.load_state_dict(base.net.state_dict())
        info["frozen_params"] = freeze(net, opts.freeze)
    cfg = task.run.training
    history = fit(
        task,
        net,
        train_set,
        val_set,
        collate,
        cfg,
        out_dir,
        run_config={**task.saved_config(), "files": paths, "split": split},
        resume=opts.resume or opts.force_resume,
        force_resume=opts.force_resume,
        progress=opts.progress,
    )
    best = max(history, key=lambda h: h["val_score"])
    info = {
        **info,
        "params": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "epochs": len(history),
        "seconds": info["seconds"] + time.perf_counter() - t0,
        "best_epoch": best["epoch"],
        "cpu_seconds": history[-1].get("cpu_seconds", 0.0),
        "ended_by": ended_by(history, cfg),
        "device": str(pick_device(cfg.device)),
        "threads": torch.get_num_threads(),
        "max_epochs": cfg.epochs,
        "patience": cfg.patience,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
    }
    if base is not None:
        info["init_from"] = str(base.path)
    summary = {k: v for k, v in info.items() if isinstance(v, int | float | str)}
    summary.update({k: v for k, v in best.items() if k.startswith("val_")})
    if is_main():  # under torchrun only rank 0 writes
        best_dir = Path(out_dir) / "best"
        card = task.card_template.format(**info, val_percent=100 * best["val_score"])
        write_text(best_dir / "card.md", card.rstrip("\n") + "\n\n" + task.domain.card())
        if base is not None:
            from hepattn.models import set_card_section

            std = "refitted on this training set" if opts.refit_standardization else "kept"
            frozen = ", ".join(opts.freeze) or "nothing"
            set_card_section(
                best_dir / "card.md",
                "Initialized from",
                f"Fine-tuned from `{base.path}` (its weights; its standardization {std}; "
                f"frozen: {frozen}, {info['frozen_params']:,} parameters).",
            )
        record = {f"split_{k}" if k != "val_fraction" else k: v for k, v in split.items()}
        write_json(best_dir / "training.json", {**summary, **record, **paths})
    return summary
