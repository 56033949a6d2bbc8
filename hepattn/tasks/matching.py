"""The jet–parton matching task (all-hadronic tt̄): data, loss, metrics, saved matchers.

Jets of schema ``hepattn-ttbar`` (or any schema with a jet collection; truth labels are
needed only to train and evaluate): per jet the parton label 0…5 = (b, q1, q2, b′, q1′, q2′)
or −1. The network is :class:`~hepattn.nn.matcher.JetPartonMatcher`; predictions are
assignments ``int[B, 6]`` (b, q1, q2, b′, q1′, q2′) of jet indices **in the input file's own
jet order**, −1 where none.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from hepattn.config import Config
from hepattn.data import Events, PaddedDataset, PadSpec, Standardizer, read_events
from hepattn.errors import DataError
from hepattn.metrics.matching import truth_from_parton_labels
from hepattn.models import save_model
from hepattn.nn.matcher import (
    JetPartonMatcher,
    MatcherConfig,
    decode_assignments,
    symmetric_top_loss,
)
from hepattn.tasks.common import (
    TrainedModel,
    describe_files,
    head_entries,
    run_training,
    stream_training_set,
)
from hepattn.training.distributed import mean_over_ranks
from hepattn.training.loop import TrainingConfig

__all__ = [
    "Matcher",
    "MatcherDataConfig",
    "MatcherRunConfig",
    "MatcherTask",
    "build_matcher",
    "chi2_slots",
    "load_matching_data",
    "slots_to_file_order",
    "train_matcher",
]

DEFAULT_FEATURES = ("log_pt", "eta", "phi", "log_e", "mass", "btag")


@dataclasses.dataclass(frozen=True)
class MatcherDataConfig(Config):
    """Which jets a matcher reads.

    Attributes:
        schema: default schema of the input files.
        collection: the schema's jet collection.
        features: per-jet input features.
        max_objects: jets kept per event (leading in p_T); partons of dropped jets count as
            unmatched.
        label: per-jet parton label (0…5, −1) for training and evaluation.
    """

    schema: str = "hepattn-ttbar"
    collection: str = "jets"
    features: tuple[str, ...] = DEFAULT_FEATURES
    max_objects: int = 16
    label: str = "parton"


@dataclasses.dataclass(frozen=True)
class MatcherRunConfig(Config):
    """A whole matcher run (one YAML file): model, data, optimisation."""

    model: dict = dataclasses.field(default_factory=dict)
    data: MatcherDataConfig = dataclasses.field(default_factory=MatcherDataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)


def build_matcher(model: dict, n_features: int) -> JetPartonMatcher:
    enc = {**model.get("encoder", {}), "input_dim": n_features}
    return JetPartonMatcher(MatcherConfig.from_dict({**model, "encoder": enc}))


def load_matching_data(
    paths,
    run: MatcherRunConfig,
    *,
    schema: str | None = None,
    need_labels: bool = True,
    entry_stop: int | None = None,
) -> Events:
    """Padded jets; with labels, ``ev.event["truth"]``: ``int[B, 6]`` jet slots of the partons
    and ``ev.event["targets"]``: ``int[B, 2, 3]`` (q1, q2, b) slots per top. Paths ending in
    ``.h5`` / ``.hdf5`` are read as SPANet files (:func:`hepattn.data.spanet.read_spanet_h5`)."""
    from hepattn.data.spanet import is_spanet_path, read_spanet_h5

    d = run.data
    labels = (d.label,) if need_labels else ()
    spec = PadSpec(d.features, d.max_objects, labels=labels)
    try:
        if is_spanet_path(paths):  # SPANet-layout HDF5: the layout is the schema
            ev = read_spanet_h5(
                paths,
                d.features,
                d.max_objects,
                labels=labels,
                collection=d.collection,
                entry_stop=entry_stop,
            )
        else:
            ev = read_events(paths, schema or d.schema, {d.collection: spec}, entry_stop=entry_stop)
    except Exception as err:
        if need_labels and "no label" in str(err):
            raise DataError(f"{err}: training and evaluation need per-jet parton labels") from None
        raise
    return finish_matching_events(ev, run, need_labels)


def finish_matching_events(ev: Events, run: MatcherRunConfig, need_labels: bool = True) -> Events:
    """Derived fields of freshly read events (in place): ``n_jets``; with labels, checked
    parton labels, ``truth`` and ``targets`` (see :func:`load_matching_data`)."""
    d = run.data
    ev.event["n_jets"] = ev[d.collection].counts
    if need_labels:
        labels = ev[d.collection].labels[d.label]
        bad = ((labels < -1) | (labels > 5)).any(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{ev.files[ev.file_index[i]]}: entry {ev.entry[i]}: parton labels must be in "
                f"-1..5 (b, q1, q2, b', q1', q2'), got {sorted(set(labels[i].tolist()))}; "
                f"{int(bad.sum())} events affected"
            )
        truth = truth_from_parton_labels(labels)  # (B, 6) slots
        ev.event["truth"] = truth
        ev.event["targets"] = np.stack([truth[:, [1, 2, 0]], truth[:, [4, 5, 3]]], axis=1)
    return ev


def slots_to_file_order(slots: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Map jet slots ``int[B, 6]`` (pT-sorted, truncated) to the file's jet indices (−1 kept)."""
    b = np.arange(len(slots))[:, None]
    return np.where(slots >= 0, index[b, np.maximum(slots, 0)], -1)


class MatcherTask:
    """The training loop's view of matching (see :mod:`hepattn.training.loop`)."""

    def __init__(
        self, run: MatcherRunConfig, standardizers: dict[str, Standardizer], card: str | None = None
    ) -> None:
        self.run = run
        self.standardizers = standardizers
        self.card = card

    def loss(self, model: JetPartonMatcher, batch) -> torch.Tensor:
        heads = model(batch.x, batch.p4, batch.mask)
        targets = batch.event["targets"]
        loss, used = symmetric_top_loss(model.target_logprob(heads, batch.mask, targets), targets)
        n_used = used.sum().to(loss.dtype)
        return loss * n_used / mean_over_ranks(n_used).clamp(min=1e-6)

    @torch.no_grad()
    def evaluate(self, model: JetPartonMatcher, loader: DataLoader, device) -> dict:
        from hepattn.metrics.matching import reconstructable, top_correct

        model.eval()
        total, n_used, correct, n_tops = 0.0, 0, 0, 0
        for batch in loader:
            batch = batch.to(device)
            heads = model(batch.x, batch.p4, batch.mask)
            targets = batch.event["targets"]
            loss, used = symmetric_top_loss(
                model.target_logprob(heads, batch.mask, targets), targets
            )
            total += loss.item() * int(used.sum())
            n_used += int(used.sum())
            pred = decode_assignments(model, heads, batch.mask).cpu().numpy()
            truth = batch.event["truth"].cpu().numpy()
            ok = reconstructable(truth)
            correct += int((top_correct(pred, truth) & ok).sum())
            n_tops += int(ok.sum())
        model.train()
        return {"loss_sum": total, "n_used": n_used, "correct": correct, "n_tops": n_tops}

    def summarize(self, sums: dict[str, float]) -> dict:
        eff = sums["correct"] / max(sums["n_tops"], 1)
        return {
            "loss": sums["loss_sum"] / max(sums["n_used"], 1),
            "top_efficiency": eff,
            "score": eff,
        }

    def saved_config(self) -> dict[str, Any]:
        return {"task": "matcher", **self.run.to_dict()}

    def save_model(self, model: nn.Module, directory: Path, metrics: dict) -> None:
        save_model(directory, self.saved_config(), model, self.standardizers, metrics, self.card)


class Matcher(TrainedModel):
    """A trained matcher loaded from a model directory (or the bundled default)."""

    task = "matcher"
    run_config = MatcherRunConfig
    load_data = staticmethod(load_matching_data)

    def build(self) -> JetPartonMatcher:
        return build_matcher(self.run.model, len(self.run.data.features))

    @torch.no_grad()
    def predict(self, ev: Events, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """``(slots int64[B, 6], prob float32[B, 2])``.

        ``slots`` index the padded, pT-sorted jets of ``ev`` (map them to the file's own jet
        order with :func:`slots_to_file_order`); ``prob`` holds each chosen triplet's
        probability under its head (unordered light quarks: P(i, j, k) + P(j, i, k)); NaN
        where no triplet was chosen.
        """
        ds = PaddedDataset(ev, self.run.data.collection, self.standardizers["objects"])
        slots, probs = [], []
        for batch in ds.batches(batch_size):
            heads = self.net(batch.x, batch.p4, batch.mask)
            out, p = decode_assignments(self.net, heads, batch.mask, with_prob=True)
            slots.append(out.numpy())
            probs.append(p.float().numpy())
        slots_all = np.concatenate(slots) if slots else np.zeros((0, 6), np.int64)
        prob_all = np.concatenate(probs) if probs else np.zeros((0, 2), np.float32)
        return slots_all, prob_all


def chi2_slots(ev: Events, collection: str = "jets", config=None) -> tuple[np.ndarray, np.ndarray]:
    """The χ² baseline on the padded jets of ``ev``: ``(slots int64[B, 6], chi2 float[B])``.

    Uses the jets' b-tag when ``btag`` is among the padded features.
    """
    from hepattn.baselines.chi2 import Chi2Config, solve_chi2

    jets = ev[collection]
    btag = jets.values[..., jets.features.index("btag")] if "btag" in jets.features else None
    return solve_chi2(jets.p4.astype(np.float64), jets.mask, btag, config or Chi2Config())


CARD = """# hepattn jet–parton matcher (SPA-Net style)

- **Task**: assign jets to the six partons (b, q1, q2, b′, q1′, q2′) of all-hadronic tt̄.
- **Model**: P-MHA encoder + two symmetric tensor attention heads, {params:,} trainable
  parameters; config in `config.yaml`.
- **Inputs**: jets of schema `{schema}`, features {features}, leading {max_objects} jets by pT.
- **Training command**: `{command}`
- **Training data**: {train_files} — {train_events:,} events with at least one
  reconstructable top ({both:,} with both); validation: {val_events:,} events.
- **Budget**: {epochs} epochs (max {max_epochs}), batch size {batch_size}, AdamW lr {lr},
  {seconds:.0f} s wall time on {device} ({threads} CPU threads).
- **Validation top efficiency** (best epoch {best_epoch}): {val_eff:.2f} % of reconstructable
  tops correct.
"""


def _trainable(ev: Events) -> Events:
    """Events with at least one reconstructable top (the others carry no loss)."""
    ok = (ev.event["targets"] >= 0).all(-1).any(-1)
    return ev.select(np.flatnonzero(ok))


def _stream_transform(ev: Events, run: MatcherRunConfig) -> Events:
    return _trainable(finish_matching_events(ev, run))


def train_matcher(
    run: MatcherRunConfig,
    train_paths,
    val_paths,
    out_dir,
    *,
    schema: str | None = None,
    resume: bool = False,
    progress: bool = False,
    max_train: int | None = None,
    command: str = "",
    stream: bool = False,
    chunk_entries: int = 20_000,
) -> dict:
    """Train a matcher end to end; the best model lands in ``out_dir/best``.

    With ``stream`` the training files are read chunk by chunk during each epoch
    (:class:`~hepattn.data.RootStreamDataset`, sharded over ranks and loader workers) instead
    of being held in memory; the standardization is fitted on the first ``chunk_entries``
    entries, and the event counts in the card are estimates scaled from them.
    """
    from hepattn.training.loop import seed_everything

    t0 = time.perf_counter()
    seed_everything(run.training.seed)
    d = run.data
    head_stop = head_entries(stream, chunk_entries, max_train)
    ev_train = _trainable(load_matching_data(train_paths, run, schema=schema, entry_stop=head_stop))
    ev_val = _trainable(load_matching_data(val_paths, run, schema=schema))
    if len(ev_train) == 0:
        raise DataError("no training event has a reconstructable top: nothing to learn from")
    coll = ev_train[d.collection]
    std = {"objects": Standardizer.fit(coll.values, coll.mask, coll.features)}
    both = int((ev_train.event["targets"] >= 0).all(-1).all(-1).sum())
    if stream:
        train_set = stream_training_set(
            train_paths,
            schema or d.schema,
            d.collection,
            PadSpec(d.features, d.max_objects, labels=(d.label,)),
            std["objects"],
            functools.partial(_stream_transform, run=run),
            seed=run.training.seed,
            chunk_entries=chunk_entries,
            entry_stop=max_train,
            head=ev_train,
        )
        scale = len(train_set) / len(ev_train)
        n_train, both, files = len(train_set), round(both * scale), train_set.paths
    else:
        train_set = PaddedDataset(ev_train, d.collection, std["objects"])
        n_train, files = len(ev_train), ev_train.files
    info = {
        "schema": schema or d.schema,
        "features": ", ".join(f"`{f}`" for f in d.features),
        "max_objects": d.max_objects,
        "command": command,
        "train_files": describe_files(files),
        "train_events": n_train,
        "both": both,
        "val_events": len(ev_val),
        "seconds": time.perf_counter() - t0,
    }
    return run_training(
        MatcherTask(run, std),
        build_matcher(run.model, len(d.features)),
        train_set,
        PaddedDataset(ev_val, d.collection, std["objects"]),
        run,
        out_dir,
        resume=resume,
        progress=progress,
        info=info,
        card=lambda i: CARD.format(**i, val_eff=100 * i["best"]["val_top_efficiency"]),
    )
