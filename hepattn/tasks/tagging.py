"""The prong-class jet tagging task: data, models, loss, metrics, saved taggers.

Input: one large-R jet per entry with its calorimeter towers (schema ``hepattn-prongs`` or
any schema with a tower collection and an event-level integer ``label``). Classes, in
order: 1, 2, 3, 4b, 4q, 6, 8 prongs (:data:`CLASSES`).

Three model kinds share the training loop and the saved-model format:

- ``transformer``: :class:`~hepattn.nn.tagger.TransformerTagger` (P-MHA on or off through
  ``model.encoder.interaction.enabled``);
- ``pfn``: :class:`~hepattn.baselines.pfn.PFN` on the same per-tower features;
- ``mass_hl``: :class:`~hepattn.baselines.mass_hl.MassHLNet` on jet mass + 16 high-level
  substructure features computed from all towers (up to :data:`HL_MAX_TOWERS`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from hepattn.config import Config, ConfigError, check
from hepattn.data import Events, PaddedDataset, PadSpec, Standardizer, collate, read_events
from hepattn.errors import DataError
from hepattn.models import save_model
from hepattn.tasks.common import (
    TrainedModel,
    describe_files,
    head_entries,
    run_training,
    stream_training_set,
)
from hepattn.training.distributed import mean_over_ranks
from hepattn.training.loop import TrainingConfig

log = logging.getLogger(__name__)

__all__ = [
    "CLASSES",
    "KINDS",
    "Tagger",
    "TaggerDataConfig",
    "TaggerNet",
    "TaggerRunConfig",
    "TaggerTask",
    "build_network",
    "classification_report",
    "load_tagging_data",
]

CLASSES = ("1", "2", "3", "4b", "4q", "6", "8")
KINDS = ("transformer", "pfn", "mass_hl")
HL_MAX_TOWERS = 230
DEFAULT_FEATURES = ("log_pt", "log_e", "log_pt_rel", "log_e_rel", "deta", "dphi", "dr")


@dataclasses.dataclass(frozen=True)
class TaggerDataConfig(Config):
    """Which towers and features a tagger reads.

    Attributes:
        schema: default schema of the input files (a command-line ``--schema`` overrides it).
        collection: the schema's tower collection.
        features: per-tower input features (see :mod:`hepattn.data.features`).
        max_objects: towers kept per jet (leading in p_T).
        label: event-level field with the class index (0 … 6), for training and evaluation.
        weight: event-level per-jet weight (``None``: none). hepattn's prong samples store
            weights that make jet mass and pT flat and equal across classes; the loss and the
            accuracies use them so that a tagger cannot win on the mass spectrum alone.
    """

    schema: str = "hepattn-prongs"
    collection: str = "towers"
    features: tuple[str, ...] = DEFAULT_FEATURES
    max_objects: int = 64
    label: str = "label"
    weight: str | None = "weight"


@dataclasses.dataclass(frozen=True)
class TaggerRunConfig(Config):
    """A whole tagger run: model kind and config, data, optimisation (one YAML file)."""

    kind: str = "transformer"
    model: dict = dataclasses.field(default_factory=dict)
    data: TaggerDataConfig = dataclasses.field(default_factory=TaggerDataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        check(self.kind in KINDS, "TaggerRunConfig", f"kind must be one of {KINDS}")


class TaggerNet(nn.Module):
    """Uniform front of the three model kinds: ``forward(x, p4, mask, hl) -> logits[B, 7]``."""

    def __init__(self, kind: str, net: nn.Module) -> None:
        super().__init__()
        self.kind = kind
        self.net = net

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor, hl: Tensor | None = None) -> Tensor:
        if self.kind == "transformer":
            return self.net(x, p4, mask)
        if self.kind == "pfn":
            return self.net(x, mask)
        if hl is None:
            raise DataError("a mass_hl tagger needs the high-level features `hl`")
        return self.net(hl)


def build_network(kind: str, model: dict, n_features: int) -> TaggerNet:
    """Build the network of ``kind`` from its config dict (``input_dim`` filled in here)."""
    if kind == "transformer":
        from hepattn.nn.tagger import TaggerConfig, TransformerTagger

        enc = {**model.get("encoder", {}), "input_dim": n_features}
        cfg = TaggerConfig.from_dict({**model, "encoder": enc, "num_classes": len(CLASSES)})
        return TaggerNet(kind, TransformerTagger(cfg))
    if kind == "pfn":
        from hepattn.baselines.pfn import PFN, PFNConfig

        cfg = PFNConfig.from_dict({**model, "input_dim": n_features, "num_classes": len(CLASSES)})
        return TaggerNet(kind, PFN(cfg))
    if kind == "mass_hl":
        from hepattn.baselines.mass_hl import MassHLConfig, MassHLNet

        return TaggerNet(
            kind, MassHLNet(MassHLConfig.from_dict({**model, "num_classes": len(CLASSES)}))
        )
    raise ConfigError(f"unknown tagger kind {kind!r}; choose one of {KINDS}")


def _hl_inputs(ev: Events, collection: str, chunk: int = 2048) -> np.ndarray:
    from hepattn.baselines.mass_hl import mass_hl_inputs

    towers = ev[collection]
    parts = []
    for s in range(0, len(ev), chunk):
        p4 = torch.from_numpy(towers.p4[s : s + chunk]).double()
        mask = torch.from_numpy(towers.mask[s : s + chunk])
        parts.append(mass_hl_inputs(p4, mask).float().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, 17), np.float32)


def load_tagging_data(
    paths,
    run: TaggerRunConfig,
    *,
    schema: str | None = None,
    need_labels: bool = True,
    entry_stop: int | None = None,
) -> Events:
    """Read jets for a tagger of ``run``'s kind: padded towers, labels, and HL inputs."""
    d = run.data
    ev = read_events(
        paths, schema or d.schema, {d.collection: tagging_spec(run)}, entry_stop=entry_stop
    )
    return finish_tagging_events(ev, run, need_labels)


def tagging_spec(run: TaggerRunConfig) -> PadSpec:
    """What a tagger of ``run``'s kind reads per jet: its towers' features, or for the
    Mass+HL baseline all towers (up to :data:`HL_MAX_TOWERS`) with no features."""
    d = run.data
    hl = run.kind == "mass_hl"
    return PadSpec(() if hl else d.features, HL_MAX_TOWERS if hl else d.max_objects, labels=())


def finish_tagging_events(ev: Events, run: TaggerRunConfig, need_labels: bool = True) -> Events:
    """Checked labels and weights, and the HL inputs for the Mass+HL kind (in place)."""
    d = run.data
    if need_labels:
        if d.label not in ev.event:
            raise DataError(f"the schema gives no event field {d.label!r} with the class labels")
        labels = ev.event[d.label]
        bad = (labels < 0) | (labels >= len(CLASSES))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{ev.files[ev.file_index[i]]}: label {labels[i]} in entry {ev.entry[i]} is out "
                f"of range 0…{len(CLASSES) - 1} (classes {', '.join(CLASSES)}); "
                f"{int(bad.sum())} entries affected"
            )
        ev.event[d.label] = labels.astype(np.int64)
    if need_labels and d.weight is not None and d.weight in ev.event:  # training, evaluation
        w = ev.event[d.weight].astype(np.float32)
        if (w < 0).any():
            i = int(np.flatnonzero(w < 0)[0])
            raise DataError(
                f"{ev.files[ev.file_index[i]]}: negative jet weight {w[i]} in "
                f"entry {ev.entry[i]} ({d.weight!r}); weights must be ≥ 0"
            )
        ev.event[d.weight] = w
    if run.kind == "mass_hl":
        ev.event["hl"] = _hl_inputs(ev, d.collection)
    return ev


def fit_standardizers(ev: Events, run: TaggerRunConfig) -> dict[str, Standardizer]:
    towers = ev[run.data.collection]
    if run.kind == "mass_hl":
        hl = ev.event["hl"][:, None, :]  # (B, 1, 17): one "object" per jet
        names = ["jet_mass", *_hl_names()]
        return {"jet": Standardizer.fit(hl, np.ones(hl.shape[:2], bool), names)}
    return {"objects": Standardizer.fit(towers.values, towers.mask, towers.features)}


def _hl_names() -> list[str]:
    from hepattn.physics.substructure import HL_FEATURES

    return list(HL_FEATURES)


def standardize_hl(ev: Events, run: TaggerRunConfig, std: dict[str, Standardizer]) -> Events:
    """For the Mass+HL kind, ``ev`` with its HL inputs standardized (a copy); else ``ev``."""
    if run.kind != "mass_hl":
        return ev
    hl = ev.event["hl"][:, None, :]
    hl = std["jet"].transform(hl, np.ones(hl.shape[:2], bool))[:, 0]
    return dataclasses.replace(ev, event={**ev.event, "hl": hl.astype(np.float32)})


def make_dataset(ev: Events, run: TaggerRunConfig, std: dict[str, Standardizer]) -> PaddedDataset:
    """A dataset of standardized inputs (HL inputs standardized in place of the raw ones)."""
    return PaddedDataset(standardize_hl(ev, run, std), run.data.collection, std.get("objects"))


def _stream_transform(ev: Events, run: TaggerRunConfig, std: dict[str, Standardizer]) -> Events:
    return standardize_hl(finish_tagging_events(ev, run), run, std)


def jet_weights(ev: Events, run: TaggerRunConfig) -> np.ndarray | None:
    """The per-jet weights of ``ev`` named by ``run.data.weight``, if the file has them."""
    w = run.data.weight
    return ev.event[w] if w is not None and w in ev.event else None


def classification_report(
    prob: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, seed: int = 0
) -> dict:
    """Accuracy ± bootstrap error, per-class accuracy, confusion matrix (all weighted when
    ``weights`` are given, with the unweighted accuracy beside), one-vs-rest AUCs
    (unweighted)."""
    from hepattn.metrics import (
        accuracy_with_error,
        confusion_matrix,
        one_vs_rest_auc,
        per_class_accuracy,
    )

    k = len(CLASSES)
    acc, err = accuracy_with_error(prob, labels, weights, seed=seed)
    plain, plain_err = accuracy_with_error(prob, labels, seed=seed)
    per_class = per_class_accuracy(prob, labels, k, weights).tolist()
    return {
        "n_jets": int(len(labels)),
        "weighted": weights is not None,
        "accuracy": acc,
        "accuracy_err": err,
        "accuracy_unweighted": plain,
        "accuracy_unweighted_err": plain_err,
        "classes": list(CLASSES),
        "per_class_accuracy": dict(zip(CLASSES, per_class, strict=True)),
        "auc_one_vs_rest": dict(
            zip(CLASSES, one_vs_rest_auc(prob, labels, k).tolist(), strict=True)
        ),
        "confusion": confusion_matrix(prob, labels, k, weights).tolist(),
    }


class TaggerTask:
    """The training loop's view of tagging (see :mod:`hepattn.training.loop`)."""

    def __init__(
        self, run: TaggerRunConfig, standardizers: dict[str, Standardizer], card: str | None = None
    ) -> None:
        self.run = run
        self.standardizers = standardizers
        self.card = card

    def logits(self, model: nn.Module, batch) -> Tensor:
        return model(batch.x, batch.p4, batch.mask, batch.event.get("hl"))

    def _weights(self, batch, labels: Tensor) -> Tensor:
        w = self.run.data.weight
        if w is not None and w in batch.event:
            return batch.event[w].to(torch.float32)
        return torch.ones_like(labels, dtype=torch.float32)

    def loss(self, model: nn.Module, batch) -> Tensor:
        labels = batch.event[self.run.data.label]
        ce = F.cross_entropy(self.logits(model, batch), labels, reduction="none")
        w = self._weights(batch, labels)
        return (ce * w).sum() / mean_over_ranks(w.sum()).clamp(min=1e-12)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: DataLoader, device) -> dict:
        model.eval()
        total, correct, wsum = 0.0, 0.0, 0.0
        for batch in loader:
            batch = batch.to(device)
            logits = self.logits(model, batch)
            labels = batch.event[self.run.data.label]
            w = self._weights(batch, labels)
            total += (F.cross_entropy(logits, labels, reduction="none") * w).sum().item()
            correct += ((logits.argmax(1) == labels).float() * w).sum().item()
            wsum += w.sum().item()
        model.train()
        return {"loss_sum": total, "correct": correct, "weight": wsum}

    def summarize(self, sums: dict[str, float]) -> dict:
        w = max(sums["weight"], 1e-12)
        acc = sums["correct"] / w
        return {"loss": sums["loss_sum"] / w, "accuracy": acc, "score": acc}

    def saved_config(self) -> dict[str, Any]:
        return {"task": "tagger", "classes": list(CLASSES), **self.run.to_dict()}

    def save_model(self, model: nn.Module, directory: Path, metrics: dict) -> None:
        save_model(directory, self.saved_config(), model, self.standardizers, metrics, self.card)


class Tagger(TrainedModel):
    """A trained tagger loaded from a model directory (or the bundled default)."""

    task = "tagger"
    run_config = TaggerRunConfig
    load_data = staticmethod(load_tagging_data)

    def build(self) -> TaggerNet:
        return build_network(self.run.kind, self.run.model, len(self.run.data.features))

    @torch.no_grad()
    def predict(self, ev: Events, batch_size: int = 512, device: str = "cpu") -> np.ndarray:
        """Class probabilities ``float32[B, 7]`` for the jets of ``ev`` (file order)."""
        ds = make_dataset(ev, self.run, self.standardizers)
        loader = DataLoader(ds, batch_size=batch_size, collate_fn=collate)
        net = self.net.to(device)
        out = []
        for batch in loader:
            batch = batch.to(device)
            logits = net(batch.x, batch.p4, batch.mask, batch.event.get("hl"))
            out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


CARD = """# hepattn prong tagger ({kind})

- **Task**: 7-class prong tagging of large-R jets from their calorimeter towers,
  classes {classes}.
- **Model**: {kind}, {params:,} trainable parameters; config in `config.yaml`.
- **Inputs**: towers of schema `{schema}` (collection `{collection}`), features
  {features}, leading {max_objects} towers by pT; standardization in `standardization.json`.
- **Training command**: `{command}`
- **Training data**: {train_files} — {train_jets:,} jets (per class: {train_counts});
  validation: {val_files} — {val_jets:,} jets.
- **Budget**: {epochs} epochs (max {max_epochs}, early-stopping patience {patience}),
  batch size {batch_size}, AdamW lr {lr}, {seconds:.0f} s wall time on {device}
  ({threads} CPU threads).
- **Validation accuracy** (best epoch {best_epoch}): {val_accuracy:.2f} %.
"""


def train_tagger(
    run: TaggerRunConfig,
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
    """Train a tagger end to end; the best model lands in ``out_dir/best``. Returns a summary.

    With ``stream`` the training files are read chunk by chunk during each epoch, sharded over
    ranks and loader workers (see :func:`hepattn.tasks.matching.train_matcher`); the
    standardization and the class counts of the card come from the first ``chunk_entries``.
    """
    from hepattn.training.loop import seed_everything

    t0 = time.perf_counter()
    seed_everything(run.training.seed)
    head_stop = head_entries(stream, chunk_entries, max_train)
    ev_train = load_tagging_data(train_paths, run, schema=schema, entry_stop=head_stop)
    ev_val = load_tagging_data(val_paths, run, schema=schema)
    std = fit_standardizers(ev_train, run)
    net = build_network(run.kind, run.model, len(run.data.features))
    labels = ev_train.event[run.data.label]
    train_set = make_dataset(ev_train, run, std)
    n_train, files = len(ev_train), ev_train.files
    if stream:
        train_set = stream_training_set(
            train_paths,
            schema or run.data.schema,
            run.data.collection,
            tagging_spec(run),
            std.get("objects"),
            functools.partial(_stream_transform, run=run, std=std),
            seed=run.training.seed,
            chunk_entries=chunk_entries,
            entry_stop=max_train,
            head=ev_train,
        )
        n_train, files = len(train_set), train_set.paths
    info = {
        "kind": run.kind,
        "classes": ", ".join(CLASSES),
        "schema": schema or run.data.schema,
        "collection": run.data.collection,
        "features": ", ".join(f"`{f}`" for f in run.data.features),
        "max_objects": run.data.max_objects,
        "command": command,
        "train_files": describe_files(files),
        "train_jets": n_train,
        "train_counts": " / ".join(str(c) for c in np.bincount(labels, minlength=len(CLASSES))),
        "val_files": describe_files(ev_val.files),
        "val_jets": len(ev_val),
        "seconds": time.perf_counter() - t0,
    }
    return run_training(
        TaggerTask(run, std),
        net,
        train_set,
        make_dataset(ev_val, run, std),
        run,
        out_dir,
        resume=resume,
        progress=progress,
        info=info,
        card=lambda i: CARD.format(**i, val_accuracy=100 * i["best"]["val_accuracy"]),
    )
