"""The prong-class jet tagging task: data, models, loss, metrics, saved taggers.

Input: one large-R jet per entry with its calorimeter towers (schema ``hepattn-prongs`` or
any schema with a tower collection and an event-level integer ``label``). Classes, in
order: 1, 2, 3, 4b, 4q, 6, 8 prongs (:data:`CLASSES`).

Three model kinds share the training loop and the saved-model format (their networks, behind
one front, in :mod:`hepattn.nn.tagger_nets`):

- ``transformer``: :class:`~hepattn.nn.tagger.TransformerTagger` (P-MHA on or off through
  ``model.encoder.interaction.enabled``; the ``transformer_no_interaction`` preset);
- ``pfn``: :class:`~hepattn.baselines.pfn.PFN` on the same per-tower features;
- ``mass_hl``: :class:`~hepattn.baselines.mass_hl.MassHLNet` on jet mass + 16 high-level
  substructure features computed from all towers (up to :data:`HL_MAX_TOWERS`); with
  ``model.inputs: nsub135`` (the ``mass_hl135`` preset) on jet mass + the 135 N-subjettiness
  values ``τ_N^(β)``, N = 1…45, β = 0.5, 1, 2.

:class:`Tagger` is the task (:class:`~hepattn.tasks.base.Task`): ``Tagger.train(run, ...)``
trains one, ``Tagger.load(dir)`` loads one, ``tagger.predict(ev)`` gives probabilities.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hepattn.config import Config, ConfigError, check
from hepattn.data import Events, PadSpec, Standardizer
from hepattn.errors import DataError
from hepattn.nn.tagger_nets import TaggerNet, build_network, model_config
from hepattn.physics.kinematics import pt
from hepattn.physics.substructure import jet_mass
from hepattn.prong_classes import CLASSES
from hepattn.tasks.base import Task, refuse
from hepattn.tasks.domain import Quantity
from hepattn.tasks.presets import KINDS
from hepattn.tasks.weights import batch_weights, weighted_loss, weighted_ratio
from hepattn.training.loop import TrainingConfig

log = logging.getLogger(__name__)

__all__ = [
    "CLASSES",
    "HL_MAX_TOWERS",
    "KINDS",
    "Tagger",
    "TaggerDataConfig",
    "TaggerNet",
    "TaggerRunConfig",
    "build_network",
    "classification_report",
    "format_report",
    "model_config",
]

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
        weight: event-level per-jet weight (``None``: none; :mod:`hepattn.tasks.weights`).
            hepattn's prong samples store weights that make jet mass and pT flat and equal
            across classes; the loss and the accuracies use them so that a tagger cannot win
            on the mass spectrum alone.
    """

    schema: str = "hepattn-prongs"
    collection: str = "towers"
    features: tuple[str, ...] = DEFAULT_FEATURES
    max_objects: int = 64
    label: str = "label"
    weight: str | None = "weight"


@dataclasses.dataclass(frozen=True)
class TaggerRunConfig(Config):
    """A whole tagger run: model kind and config, data, optimisation (one YAML file).

    The model section is checked against the kind's config class when the run config is
    built, so a bad key fails when the YAML is loaded, not after the data are read.
    """

    kind: str = "transformer"
    model: dict = dataclasses.field(default_factory=dict)
    data: TaggerDataConfig = dataclasses.field(default_factory=TaggerDataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        check(self.kind in KINDS, "TaggerRunConfig", f"kind must be one of {KINDS}")
        try:
            model_config(self.kind, self.model, len(self.data.features))
        except ConfigError as err:
            raise ConfigError(f"TaggerRunConfig.model: {err}") from None


def _hl_set(run: TaggerRunConfig) -> str:
    """The Mass+HL input set of ``run`` (:data:`hepattn.baselines.mass_hl.INPUT_SETS`)."""
    return run.model.get("inputs", "hl16")


def _hl_inputs(ev: Events, collection: str, inputs: str, chunk: int = 2048) -> np.ndarray:
    from hepattn.baselines.mass_hl import INPUT_SETS, mass_hl_inputs

    towers = ev[collection]
    parts = []
    for s in range(0, len(ev), chunk):
        p4 = torch.from_numpy(towers.p4[s : s + chunk]).double()
        mask = torch.from_numpy(towers.mask[s : s + chunk])
        parts.append(mass_hl_inputs(p4, mask, inputs=inputs).float().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, len(INPUT_SETS[inputs])), np.float32)


def _hl_names(inputs: str) -> list[str]:
    """Standardizer names of the set's inputs (the jet mass is ``jet_mass``)."""
    from hepattn.baselines.mass_hl import INPUT_SETS

    return ["jet_mass", *INPUT_SETS[inputs][1:]]


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


def format_report(report: dict) -> str:
    """The text table of a :func:`classification_report`."""
    lines = [
        f"jets: {report['n_jets']:,}",
        f"top-1 accuracy{' (weighted: flat mass and pT)' if report['weighted'] else ''}: "
        f"{100 * report['accuracy']:.2f} ± {100 * report['accuracy_err']:.2f} %",
        f"unweighted: {100 * report['accuracy_unweighted']:.2f} ± "
        f"{100 * report['accuracy_unweighted_err']:.2f} %",
        "",
        f"{'class':>6} {'accuracy':>9} {'AUC (1 vs rest)':>16}",
    ]
    for c in report["classes"]:
        lines.append(
            f"{c:>6} {100 * report['per_class_accuracy'][c]:8.2f}% "
            f"{report['auc_one_vs_rest'][c]:16.4f}"
        )
    return "\n".join(lines)


CARD = """# hepattn prong tagger ({kind})

- **Task**: 7-class prong tagging of large-R jets from their calorimeter towers,
  classes {classes}.
- **Model**: {kind}, {params:,} trainable parameters; config in `config.yaml`.
- **Inputs**: towers of schema `{schema}` (collection `{collection}`), features
  {features}, leading {max_objects} towers by pT; standardization in `standardization.json`.
- **Training command**: `{command}`
- **Training data**: {train_files} — {train_jets:,} jets (per class: {train_counts});
  validation: {val_files} — {val_jets:,} jets.
- **Event weights**: {weights}.
- **Budget**: {epochs} epochs (max {max_epochs}, early-stopping patience {patience}),
  batch size {batch_size}, AdamW lr {lr}, {seconds:.0f} s wall time on {device}
  ({threads} CPU threads).
- **Validation accuracy** (best epoch {best_epoch}): {val_percent:.2f} %.
"""


class Tagger(Task):
    """The tagging task; a trained tagger once loaded (``Tagger.load(dir)``)."""

    name = "tagger"
    run_config = TaggerRunConfig
    unit = "jets"
    card_template = CARD
    predict_batch = 512

    def spec(self, need_labels: bool) -> PadSpec:
        """The towers' features, or for the Mass+HL baseline all towers (up to
        :data:`HL_MAX_TOWERS`) with no features; the labels are event-level."""
        d = self.run.data
        hl = self.run.kind == "mass_hl"
        return PadSpec(() if hl else d.features, HL_MAX_TOWERS if hl else d.max_objects, ())

    def finish(self, ev: Events, need_labels: bool) -> Events:
        """Checked labels (``derived["label"]``) and the HL inputs of the Mass+HL kind
        (``derived["hl"]``); the weights are read by :meth:`Task.read`."""
        d = self.run.data
        if need_labels:
            if d.label not in ev.event:
                raise DataError(
                    f"the schema gives no event field {d.label!r} with the class labels"
                )
            labels = ev.event[d.label]
            refuse(
                ev,
                (labels < 0) | (labels >= len(CLASSES)),
                lambda i: (
                    f"label {labels[i]} in entry {ev.entry[i]} is out of range "
                    f"0…{len(CLASSES) - 1} (classes {', '.join(CLASSES)})"
                ),
                "entries",
            )
            ev.derived["label"] = labels.astype(np.int64)
        if self.run.kind == "mass_hl":
            ev.derived["hl"] = _hl_inputs(ev, d.collection, _hl_set(self.run))
        return ev

    def quantities(self, ev: Events) -> dict[str, Quantity]:
        """The towers' features and count (:meth:`Task.quantities`), the jet's pT and mass
        from its towers (``jet.pt``, ``jet.mass``, GeV: the window of the training files), and
        for the Mass+HL kind its inputs (``jet.<feature>``)."""
        out = super().quantities(ev)
        objs = ev[self.run.data.collection]
        p4 = torch.from_numpy(objs.p4).double()
        mask = torch.from_numpy(objs.mask)
        jet = p4.masked_fill(~mask.unsqueeze(-1), 0.0).sum(-2)  # (B, 4)
        out["jet.pt"] = Quantity(pt(jet).numpy())
        out["jet.mass"] = Quantity(jet_mass(p4, mask).double().numpy())
        if self.run.kind == "mass_hl" and "hl" in ev.derived:
            std = self.standardizers.get("jet")
            for j, name in enumerate(_hl_names(_hl_set(self.run))):
                norm = None if std is None else (float(std.mean[j]), float(std.std[j]))
                out[f"jet.{name}"] = Quantity(ev.derived["hl"][:, j].astype(np.float64), None, norm)
        return out

    def fit_standardizers(self, ev: Events) -> dict[str, Standardizer]:
        if self.run.kind != "mass_hl":
            return super().fit_standardizers(ev)
        hl = ev.derived["hl"][:, None, :]  # (B, 1, F): one "object" per jet
        names = _hl_names(_hl_set(self.run))
        return {"jet": Standardizer.fit(hl, np.ones(hl.shape[:2], bool), names)}

    def standardizer_features(self) -> dict[str, tuple[str, ...] | int]:
        if self.run.kind != "mass_hl":
            return super().standardizer_features()
        return {"jet": len(_hl_names(_hl_set(self.run)))}

    def standardized(self, ev: Events) -> Events:
        """For the Mass+HL kind, ``ev`` with its HL inputs standardized (a copy)."""
        if self.run.kind != "mass_hl":
            return ev
        hl = ev.derived["hl"][:, None, :]
        hl = self.standardizers["jet"].transform(hl, np.ones(hl.shape[:2], bool))[:, 0]
        return dataclasses.replace(ev, derived={**ev.derived, "hl": hl.astype(np.float32)})

    def build(self) -> TaggerNet:
        return build_network(self.run.kind, self.run.model, len(self.run.data.features))

    def logits(self, model: nn.Module, batch) -> Tensor:
        return model(batch.x, batch.p4, batch.mask, batch.derived.get("hl"))

    def loss(self, model: nn.Module, batch) -> Tensor:
        labels = batch.derived["label"]
        ce = F.cross_entropy(self.logits(model, batch), labels, reduction="none")
        return weighted_loss(ce, batch_weights(batch))

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader, device) -> dict:
        model.eval()
        total, correct, wsum = 0.0, 0.0, 0.0
        for batch in loader:
            batch = batch.to(device)
            logits = self.logits(model, batch)
            labels = batch.derived["label"]
            w = batch_weights(batch)
            total += (F.cross_entropy(logits, labels, reduction="none") * w).sum().item()
            correct += ((logits.argmax(1) == labels).float() * w).sum().item()
            wsum += w.sum().item()
        model.train()
        return {"loss_sum": total, "correct": correct, "weight": wsum}

    def summarize(self, sums: dict[str, float]) -> dict:
        acc = weighted_ratio(sums["correct"], sums["weight"], "accuracy")
        loss = weighted_ratio(sums["loss_sum"], sums["weight"], "loss")
        return {"loss": loss, "accuracy": acc, "score": acc}

    def saved_config(self) -> dict[str, Any]:
        return {"task": self.name, "classes": list(CLASSES), **self.run.to_dict()}

    def card_info(self, ev_train: Events, scale: float) -> dict[str, Any]:
        counts = np.bincount(ev_train.derived["label"], minlength=len(CLASSES))
        return {
            "kind": self.run.kind,
            "classes": ", ".join(CLASSES),
            "train_counts": " / ".join(str(c) for c in counts),
        }

    @torch.no_grad()
    def predict(
        self,
        ev: Events,
        batch_size: int | None = None,
        device: str = "cpu",
        progress: bool = False,
    ) -> np.ndarray:
        """Class probabilities ``float32[B, 7]`` for the jets of ``ev`` (file order); NaN
        for jets with no towers (no input to tag: counted in one warning). A NaN for a jet
        with towers is a :class:`~hepattn.models.ModelError`."""
        net = self.net.to(device)
        out = []
        for batch in self.predict_batches(ev, batch_size, progress, "tagging"):
            batch = batch.to(device)
            logits = net(batch.x, batch.p4, batch.mask, batch.derived.get("hl"))
            out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        prob = np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)
        empty = ev[self.run.data.collection].counts == 0
        self.refuse_nan(ev, np.isnan(prob).any(axis=1) & ~empty)
        if empty.any():
            prob[empty] = np.nan
            i = int(np.flatnonzero(empty)[0])
            log.warning(
                "%d of %d jets have no towers (first: %s entry %d): probabilities NaN, class -1",
                int(empty.sum()),
                len(empty),
                ev.files[ev.file_index[i]],
                ev.entry[i],
            )
        return prob

    def weights(self, ev: Events) -> np.ndarray | None:
        """The per-jet weights of ``ev`` (``derived["weight"]``), if its files have them."""
        return ev.derived.get("weight")

    def tag(
        self, ev: Events, progress: bool = False, refuse_empty: bool = True
    ) -> dict[str, np.ndarray]:
        """The branches ``hepattn tag`` writes: ``prob float32[B, 7]``, ``pred int32[B]``;
        jets with no towers get ``prob`` NaN and ``pred`` −1 (a :class:`DataError` if no jet
        has any, unless ``refuse_empty`` is False: ``ev`` is one chunk of a file, whose
        caller checks the whole file)."""
        prob = self.predict(ev, progress=progress).astype(np.float32)
        empty = np.isnan(prob).any(axis=1)
        if refuse_empty and len(prob) and empty.all():
            raise self.nothing_to_tag(ev.files, len(prob))
        pred = np.where(empty, -1, np.nan_to_num(prob).argmax(axis=1)).astype(np.int32)
        return {"prob": prob, "pred": pred}

    def nothing_to_tag(self, files, n: int) -> DataError:
        """The error for ``n`` jets of ``files`` none of which has towers."""
        return DataError(
            f"{', '.join(map(str, files))}: none of the {n:,} jets has towers in collection "
            f"{self.run.data.collection!r}: nothing to tag"
        )

    def report(self, ev: Events, progress: bool = False) -> tuple[dict, dict]:
        """Metrics on the jets with towers (those without have no probabilities: counted in
        :meth:`predict`'s warning and left out)."""
        prob = self.predict(ev, progress=progress)
        keep = ~np.isnan(prob).any(axis=1)
        if not keep.all():
            ev, prob = ev.select(np.flatnonzero(keep)), prob[keep]
        if len(ev) == 0:
            raise DataError(f"{', '.join(ev.files)}: no jet has towers: nothing to evaluate")
        labels = ev.derived["label"]
        report = classification_report(prob, labels, self.weights(ev))
        return report, {"prob": prob, "labels": labels}

    def headline(self, report: dict) -> dict[str, dict[str, float]]:
        return {"all": {"network": float(report["accuracy"])}}

    def format_report(self, report: dict) -> str:
        return format_report(report)

    def plot(self, report: dict, arrays: dict, out_dir: Path) -> list[Path]:
        from hepattn.metrics import roc_curve
        from hepattn.plotting import confusion_png, roc_png

        kind = self.run.kind
        title = f"{kind}: accuracy {100 * report['accuracy']:.1f} %"
        confusion_png(report["confusion"], CLASSES, out_dir / "confusion.png", title)
        prob, labels = arrays["prob"], arrays["labels"]
        curves = {
            c: (*roc_curve(prob[:, i], labels == i), report["auc_one_vs_rest"][c])
            for i, c in enumerate(CLASSES)
        }
        roc_png(curves, out_dir / "roc.png", f"{kind}: one vs rest")
        return [out_dir / "confusion.png", out_dir / "roc.png"]
