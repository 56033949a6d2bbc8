"""Jet–parton matching for any declared topology: data, loss, metrics, saved matchers.

One task for every topology (:mod:`hepattn.topology`): all-hadronic tt̄ (the default),
``ttbar-ljets``, ``hh-4b``, or a user's YAML. The network is
:class:`~hepattn.nn.matcher.JetPartonMatcher`: one encoder over the topology's input
collections, one symmetric tensor attention head per resonance, a detection head.

Inputs, per collection of the topology (:attr:`hepattn.topology.Topology.collections`):

- ``jets``: the schema's jet collection (``data.collection``), features ``data.features``,
  the leading ``data.max_objects`` jets by pT, per-jet parton labels ``data.label`` (the
  index of the parton in the topology's parton order, −1 for none) to train and evaluate;
- a one-object collection (a lepton): the schema collection of the same name, its leading
  object, features ``data.object_features`` (e.g. ``log_pt, eta, log_e, charge``);
- a transverse collection (the MET): the schema's event fields ``<name>_pt`` and
  ``<name>_phi``; its one feature is ``log(MET)``, its 4-momentum ``(MET_x, MET_y, 0, MET)``.

Derived fields (``ev.derived``): ``<name>_x``, ``<name>_p4``, ``<name>_mask`` of each
non-jet collection (standardized with their own standardization), ``n_jets``; with labels
``truth`` (``int[B, n_partons]`` jet slots in parton order, −1 where none; non-jet daughters
0) and ``target_<r>`` (resonance r's jet slots in head order).

Regressions (a run config's ``model.regressions``: keys of the topology's declared
:class:`~hepattn.topology.Regression` s; none for every matcher saved before them): with the
labels the target branches are read too (each regression's ``field``: an event field of the
schema, else a branch of the file; one the file lacks is an error when training, NaN
targets when evaluating), ``regression_target`` (``float32[B, K]``, standardized with the
model's ``"regression"`` record, NaN where the target is missing or not finite: left out of
that regression's loss). :meth:`Matcher.predict_regressions` gives each regression's value
and σ in the target's own units; ``hepattn match`` writes them as ``EVENT_<name>``,
``EVENT_<name>_sigma`` and ``<R>_<name>``, ``<R>_<name>_sigma``.

Predictions name jets **in the input file's own jet order** (:func:`slots_to_file_order`).
The classical baseline of the topology (:mod:`hepattn.baselines.registry`) runs through the
same reading (:meth:`Matcher.baseline`). Saved matchers of earlier versions load and answer
as before (:func:`upgrade_saved_config`): all-hadronic matchers without a detection head,
and the former ``topology-matcher`` task's.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hepattn.data import Events, PadSpec, Standardizer
from hepattn.data.reader import MissingTargetError
from hepattn.data.standardize import MIN_STD
from hepattn.errors import DataError
from hepattn.nn.inputs import Inputs, combine_collections
from hepattn.nn.matcher import JetPartonMatcher
from hepattn.tasks.base import Task, refuse
from hepattn.tasks.matcher_config import (
    CARD,
    LEGACY_TASK,
    MatcherDataConfig,
    MatcherRunConfig,
    network_config,
    upgrade_saved_config,
)
from hepattn.tasks.weights import (
    batch_weights,
    weight_note,
    weighted_by,
    weighted_loss,
    weighted_ratio,
)
from hepattn.topology import (
    JETS,
    TTBAR_ALLHAD,
    Classification,
    Regression,
    Topology,
    topology_name,
)

log = logging.getLogger(__name__)

__all__ = [
    "LEGACY_TASK",
    "Matcher",
    "MatcherDataConfig",
    "MatcherRunConfig",
    "network_config",
    "slots_to_file_order",
    "upgrade_saved_config",
]


def slots_to_file_order(slots: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Map jet slots ``int[B, K]`` (pT-sorted, truncated) to the file's jet indices (−1 kept)."""
    b = np.arange(len(slots))[:, None]
    return np.where(slots >= 0, index[b, np.maximum(slots, 0)], -1)


class Matcher(Task):
    """The matching task, any topology; a trained matcher once loaded (``Matcher.load``)."""

    name = "matcher"
    #: NaN/inf regression targets: ``"mask"`` them out of their loss and metrics (counted by
    #: the reader) or refuse them (``"error"``, ``--nonfinite-targets``).
    nonfinite_targets = "mask"
    #: resolved input file → its class (``FILE:CLASS``), for classification heads; None: the
    #: events have no class label (:mod:`hepattn.tasks.classification`)
    file_classes: dict[str, str] | None = None
    #: the class balance of the training loss (``balanced``, ``physical`` or ``none``)
    class_weighting = "balanced"
    run_config = MatcherRunConfig
    unit = "events"
    card_template = CARD

    @classmethod
    def load(cls, model: str | os.PathLike | None = None, topology: str | None = None):
        """A model directory, or ``None`` / ``"default"``: the bundled matcher of ``topology``
        (all-hadronic tt̄ when None). With ``topology``, a model trained for another topology
        is refused."""
        from hepattn.models import ModelError, resolve_model

        want = topology_name(topology) if topology is not None else TTBAR_ALLHAD.name
        task = cls.load_dir(resolve_model(model, cls.name, want))
        if topology is not None and task.topology.name != want:
            raise ModelError(
                f"model {task.path} matches topology {task.topology.name!r}, not {want!r}; "
                f"give --topology {task.topology.name} or another --model"
            )
        return task

    former_names = (LEGACY_TASK,)

    #: the isotonic maps of its probabilities (:mod:`hepattn.tasks.calibration`), or None
    calibration: dict | None = None

    @classmethod
    def load_dir(cls, path: str | os.PathLike):
        """:meth:`Task.load_dir`, with the model's probability calibration where it has one
        (``calibration_map.json``, bound to its weights by hash)."""
        from hepattn.tasks.calibration import load_calibration

        task = super().load_dir(path)
        task.calibration = load_calibration(task.path)
        return task

    @classmethod
    def upgrade_config(cls, config: dict) -> dict:
        return upgrade_saved_config(config)

    @property
    def topology(self) -> Topology:
        return self.run.topology

    @property
    def has_detection(self) -> bool:
        """Whether the network has the detection head (matchers saved before it had not)."""
        return bool(self.run.model.get("detection", True))

    @property
    def classifications(self) -> tuple[Classification, ...]:
        """The declared classifications the network learns (none for older matchers)."""
        names = network_config(self.run.model, self.run.data).classifications
        return tuple(self.topology.classification(n) for n in names)

    @property
    def regressions(self) -> tuple[Regression, ...]:
        """The declared regressions the network regresses (none for older matchers)."""
        keys = network_config(self.run.model, self.run.data).regressions
        return tuple(self.topology.regression(k) for k in keys)

    def target_branches(self, schema) -> dict[str, str]:
        """Each regression's target branch by key: its ``field``, through the schema's event
        fields where the schema maps it."""
        if not self.regressions:
            return {}
        from hepattn.data.schema import get_schema

        event = get_schema(schema).event if schema is not None else {}
        return {r.key: event.get(r.field, r.field) for r in self.regressions}

    def read_source(self, paths, schema, spec, *args, **kwargs) -> Events:
        """:meth:`Task.read_source`; a regression target the training files lack is one
        line naming the branch and the topology's declaration."""
        try:
            return super().read_source(paths, schema, spec, *args, **kwargs)
        except MissingTargetError as err:
            reg = self.topology.regression(err.name)
            i = self.topology.regressions.index(reg)
            raise DataError(
                f"{err.path}: no branch {err.branch!r}, the target of regression "
                f"{reg.key!r} (topology {self.topology.name!r}, regressions[{i}]: field "
                f"{reg.field!r}) that model.regressions trains; give files that hold it "
                "(format ttbar-v2 / hh4b-v2) or train without it"
            ) from None

    def others(self):
        """The topology's collections other than the jets."""
        return [c for c in self.topology.collections if c.name != JETS]

    def spec(self, need_labels: bool) -> PadSpec:
        d = self.run.data
        return PadSpec(d.features, d.max_objects, labels=(d.label,) if need_labels else ())

    def input_topology(self) -> Topology:
        return self.topology

    def input_layout(self, need_labels: bool = False) -> tuple[dict[str, PadSpec], tuple[str, ...]]:
        """The jets, the leading object of each one-object collection (``object_features``),
        and ``<name>_pt``, ``<name>_phi`` of each transverse collection."""
        colls = {self.run.data.collection: self.spec(need_labels)}
        event: list[str] = []
        for c in self.others():
            if c.transverse:
                event += [f"{c.name}_pt", f"{c.name}_phi"]
            else:
                colls[c.name] = PadSpec(self.run.data.object_features, 1, labels=())
        return colls, tuple(event)

    def _finish_other(self, ev: Events, c) -> None:
        """``<c>_x``, ``<c>_p4``, ``<c>_mask`` of one non-jet collection, checked."""
        topo = self.topology
        if c.transverse:
            pt = np.asarray(ev.event[f"{c.name}_pt"], np.float64)
            phi = np.asarray(ev.event[f"{c.name}_phi"], np.float64)
            refuse(
                ev,
                ~np.isfinite(pt) | ~np.isfinite(phi) | (pt < 0),
                lambda i: (
                    f"entry {ev.entry[i]}: {c.name} ({c.name}_pt {pt[i]}, {c.name}_phi "
                    f"{phi[i]}) must be finite with {c.name}_pt >= 0"
                ),
                "events",
            )
            x = np.log(np.maximum(pt, 1e-8))[:, None, None]
            p4 = np.stack([pt * np.cos(phi), pt * np.sin(phi), 0 * pt, pt], -1)[:, None]
            mask = np.ones((len(ev), 1), bool)
        else:
            obj = ev[c.name]
            x, p4, mask = obj.values, obj.p4, obj.mask
            refuse(
                ev,
                ~mask[:, 0],
                lambda i: (
                    f"entry {ev.entry[i]}: no {c.name} object, the topology "
                    f"{topo.name!r} needs one per event"
                ),
                "events",
            )
        ev.derived[f"{c.name}_x"] = np.asarray(x, np.float32)
        ev.derived[f"{c.name}_p4"] = np.asarray(p4, np.float32)
        ev.derived[f"{c.name}_mask"] = mask

    def finish(self, ev: Events, need_labels: bool) -> Events:
        from hepattn.metrics.matching import truth_from_parton_labels

        d, topo = self.run.data, self.topology
        jets = ev[d.collection]
        ev.derived["n_jets"] = jets.counts
        for c in self.others():
            self._finish_other(ev, c)
        if not need_labels:
            return ev
        labels = jets.labels[d.label]
        if self.classifications and self.file_classes is not None:
            labels = self._class_labels(ev, labels)
        jet_partons = sorted(topo.partons_from(JETS))
        bad = (labels >= 0) & ~np.isin(labels, jet_partons) | (labels < -1)
        refuse(
            ev,
            bad.any(axis=1),
            lambda i: (
                f"entry {ev.entry[i]}: jet labels ({d.label!r}) must be -1 or a jet "
                f"daughter's index {jet_partons} in {topo.order_string}, got "
                f"{sorted(set(labels[i].tolist()))}"
            ),
            "events",
        )
        truth = truth_from_parton_labels(labels, topo)
        twice = np.stack([(labels == p).sum(axis=1) > 1 for p in jet_partons], 1).any(axis=1)
        refuse(
            ev,
            twice,
            lambda i: f"entry {ev.entry[i]}: a parton label appears on two jets",
            "events",
        )
        ev.derived["truth"] = truth
        for r, idx in enumerate(topo.jet_head_index):
            ev.derived[f"target_{r}"] = truth[:, list(idx)]
        if self.regressions:
            missing = [r.key for r in self.regressions if r.key not in ev.targets]
            if missing:
                raise DataError(
                    f"regression targets {missing} were not read with these events: read "
                    "them with the labels (Matcher.read, or RootStreamDataset's targets=)"
                )
            raw = np.stack([ev.targets[r.key] for r in self.regressions], axis=1)
            if self.nonfinite_targets == "error":
                self._refuse_nonfinite_targets(ev, raw)
            ev.derived["regression_raw"] = np.where(np.isfinite(raw), raw, np.nan)
        return ev

    def _refuse_nonfinite_targets(self, ev: Events, raw: np.ndarray) -> None:
        """A :class:`DataError` naming the file, branch and first entry of a NaN/inf target
        (``--nonfinite-targets error``); a branch the file lacks (NaN throughout) is not
        refused here: its events simply have no target."""
        bad = ~np.isfinite(raw)
        for k, r in enumerate(self.regressions):
            rows = np.flatnonzero(bad[:, k])
            absent = np.isnan(raw[:, k]).all()  # branch not in these files
            if len(rows) and not absent:
                i = int(rows[0])
                raise DataError(
                    f"{ev.files[ev.file_index[i]]}: branch {r.field!r} (regression {r.key}) "
                    f"holds {len(rows):,} NaN/inf values in {len(raw):,} events (first: entry "
                    f"{ev.entry[i]}, {raw[i, k]}); refused by --nonfinite-targets error (mask: "
                    "leave those events out of this regression)"
                )

    def _class_labels(self, ev: Events, labels: np.ndarray) -> np.ndarray:
        """Put each event's class (its file's, :mod:`hepattn.tasks.classification`) into
        ``ev.derived["class_label"]``; return the parton labels with the background events'
        set to −1 (a background has no partons: labels found there are warned about)."""
        from hepattn.tasks.classification import background_rows, event_classes

        classes = event_classes(ev, self.file_classes, self.classifications)
        ev.derived["class_label"] = classes
        bg = background_rows(classes, self.classifications)
        carried = bg & (labels >= 0).any(axis=1)
        if carried.any():
            i = int(np.flatnonzero(carried)[0])
            log.warning(
                "%s: %d background events carry parton labels (first: entry %d); ignored",
                ev.files[ev.file_index[i]],
                int(carried.sum()),
                ev.entry[i],
            )
        return np.where(bg[:, None], -1, labels)

    def reconstructable(self, ev: Events) -> np.ndarray:
        """``bool[B, R]``: each resonance of each labelled event is reconstructable
        (:func:`hepattn.metrics.matching.reconstructable` of its truth)."""
        from hepattn.metrics.matching import reconstructable

        return reconstructable(ev.derived["truth"], self.topology)

    def trainable(self, ev: Events) -> Events:
        """Events with at least one reconstructable resonance or (with classification heads)
        a class label — the others carry no loss —, weighted by the class balance
        (:attr:`class_weighting`, :func:`~hepattn.tasks.classification.class_weights`)."""
        keep = self.reconstructable(ev).any(axis=1)
        classes = ev.derived.get("class_label")
        if classes is None:
            return ev.select(np.flatnonzero(keep))
        from hepattn.tasks.classification import class_weights

        ev = ev.select(np.flatnonzero(keep | (classes >= 0).any(axis=1)))
        factor = class_weights(ev.derived["class_label"], self.class_weighting, ev)
        if factor is not None:
            w = ev.derived.get("weight")
            w = factor if w is None else np.asarray(w, np.float64) * factor
            ev.derived["weight"] = w.astype(np.float32)
        return ev

    def fit_standardizers(self, ev: Events) -> dict[str, Standardizer]:
        out = super().fit_standardizers(ev)
        for c in self.others():
            x, mask = ev.derived[f"{c.name}_x"], ev.derived[f"{c.name}_mask"]
            out[c.name] = Standardizer.fit(x, mask, self.standardizer_features()[c.name])
        if self.regressions:
            out["regression"] = self.fit_regression(ev.derived["regression_raw"])
        return out

    def fit_regression(self, raw: np.ndarray) -> Standardizer:
        """The ``"regression"`` record: mean and std of each target ``raw: float[B, K]``
        over its finite values; a target without any is a :class:`DataError`."""
        mean, std = [], []
        for k, reg in enumerate(self.regressions):
            col = raw[:, k][np.isfinite(raw[:, k])]
            if len(col) == 0:
                raise DataError(
                    f"regression {reg.key!r} (field {reg.field!r}): no training event has a "
                    "finite target"
                )
            s = float(col.std())
            mean.append(float(col.mean()))
            std.append(s if s >= MIN_STD else 1.0)
        return Standardizer(tuple(r.key for r in self.regressions), tuple(mean), tuple(std))

    def standardizer_features(self) -> dict[str, tuple[str, ...] | int]:
        out = super().standardizer_features()
        for c in self.others():
            out[c.name] = ("log_pt",) if c.transverse else tuple(self.run.data.object_features)
        if self.regressions:
            out["regression"] = tuple(r.key for r in self.regressions)
        return out

    def standardized(self, ev: Events) -> Events:
        derived = dict(ev.derived)
        for c in self.others():
            std = self.standardizers[c.name]
            x = derived[f"{c.name}_x"]
            derived[f"{c.name}_x"] = std.transform(x, derived[f"{c.name}_mask"]).astype(np.float32)
        raw = derived.pop("regression_raw", None)
        if raw is not None:
            std = self.standardizers["regression"]
            y = (raw - np.asarray(std.mean)) / np.asarray(std.std)
            derived["regression_target"] = y.astype(np.float32)  # NaN where missing
        return dataclasses.replace(ev, derived=derived)

    def build(self) -> JetPartonMatcher:
        return JetPartonMatcher(network_config(self.run.model, self.run.data), self.topology)

    def inputs(self, batch) -> Inputs:
        """The batch's collections as one set (:func:`~hepattn.nn.inputs.combine_collections`)."""
        parts = {JETS: (batch.x, batch.p4, batch.mask)}
        for c in self.others():
            dv = batch.derived
            parts[c.name] = (dv[f"{c.name}_x"], dv[f"{c.name}_p4"], dv[f"{c.name}_mask"])
        return combine_collections(self.topology, parts)

    def forward(self, model: JetPartonMatcher, batch):
        """``(outputs, head_mask)``: the network on the batch, and the mask of its jets."""
        if not self.others():  # the jets alone: the set is the jet collection
            return model(batch.x, batch.p4, batch.mask), batch.mask
        inp = self.inputs(batch)
        types = inp.types if model.config.encoder.num_types else None
        transverse = inp.transverse if inp.transverse.any() else None
        return model(inp.x, inp.p4, inp.mask, types, transverse), inp.head_mask

    def targets(self, batch) -> list[torch.Tensor]:
        return [batch.derived[f"target_{r}"] for r in range(len(self.topology.resonances))]

    def loss_terms(self, model: JetPartonMatcher, batch):
        """``(outputs, head_mask, terms)``: the network on the batch and its loss terms
        (:func:`~hepattn.nn.matcher.matcher_loss_terms`), regressions included."""
        outputs, head_mask = self.forward(model, batch)
        reg = batch.derived.get("regression_target") if model.regressions else None
        cls = batch.derived.get("class_label") if model.classifications else None
        terms = model.loss_terms(outputs, head_mask, self.targets(batch), reg, cls)
        return outputs, head_mask, terms

    def loss(self, model: JetPartonMatcher, batch) -> torch.Tensor:
        """The assignment NLL over the events with a reconstructable resonance plus
        ``detection_weight`` × the detection BCE over the events with jets plus each
        regression's weight × its Gaussian NLL over the events with a finite target, each a
        weighted mean ``Σ w ℓ / Σ |w|`` (:func:`~hepattn.tasks.weights.weighted_loss`; w = 1
        unweighted)."""
        _, _, t = self.loss_terms(model, batch)
        w = batch_weights(batch)
        loss = weighted_loss(t.nll, w, t.used)
        if model.config.detection:
            loss = loss + model.config.detection_weight * weighted_loss(t.bce, w, t.real)
        if t.reg is not None:
            for k, weight in enumerate(model.regression_weights):
                loss = loss + weight * weighted_loss(t.reg[:, k], w, t.reg_ok[:, k])
        if t.cls is not None:
            for m, weight in enumerate(model.classification_weights):
                loss = loss + weight * weighted_loss(t.cls[:, m], w, t.cls_ok[:, m])
        return loss

    @torch.no_grad()
    def evaluate(self, model: JetPartonMatcher, loader, device) -> dict:
        """Weighted sums of the two loss terms and their weights, ``Σ w · (correct
        resonances)`` and ``Σ w · (reconstructable resonances)``."""
        from hepattn.metrics.matching import reconstructable, resonance_correct

        model.eval()
        sums = dict.fromkeys(("nll", "n_used", "bce", "n_real", "correct", "n_res"), 0.0)
        for reg in model.regressions:
            sums[f"reg_{reg.key}"] = sums[f"n_reg_{reg.key}"] = 0.0
        for c in model.classifications:
            sums[f"cls_{c.name}"] = sums[f"n_cls_{c.name}"] = sums[f"right_{c.name}"] = 0.0
        for batch in loader:
            batch = batch.to(device)
            outputs, head_mask, t = self.loss_terms(model, batch)
            w = batch_weights(batch).to(t.nll.dtype)
            for k, reg in enumerate(model.regressions if t.reg is not None else ()):
                ok = t.reg_ok[:, k]
                sums[f"reg_{reg.key}"] += float((t.reg[:, k] * w)[ok].sum())
                sums[f"n_reg_{reg.key}"] += float(w[ok].sum())
            if t.cls is not None:
                probs = model.class_probabilities(outputs.classification)
                labels = batch.derived["class_label"]
                for m, c in enumerate(model.classifications):
                    ok = t.cls_ok[:, m]
                    right = (probs[m].argmax(dim=-1) == labels[:, m]) & ok
                    sums[f"cls_{c.name}"] += float((t.cls[:, m] * w)[ok].sum())
                    sums[f"n_cls_{c.name}"] += float(w[ok].sum())
                    sums[f"right_{c.name}"] += float(w[right].sum())
            sums["nll"] += float((t.nll * w)[t.used].sum())
            sums["n_used"] += float(w[t.used].sum())
            sums["bce"] += float((t.bce * w)[t.real].sum())
            sums["n_real"] += float(w[t.real].sum())
            pred = model.decode(outputs, head_mask)[0].cpu().numpy()
            truth = batch.derived["truth"].cpu().numpy()
            ok = reconstructable(truth, self.topology)
            good = resonance_correct(pred, truth, self.topology) & ok
            wn = w.double().cpu().numpy()
            sums["correct"] += float((good.sum(axis=1) * wn).sum())
            sums["n_res"] += float((ok.sum(axis=1) * wn).sum())
        model.train()
        return sums

    def summarize(self, sums: dict[str, float]) -> dict:
        eff = weighted_ratio(sums["correct"], sums["n_res"], "resonance efficiency")
        nll = weighted_ratio(sums["nll"], sums["n_used"], "loss")
        net = network_config(self.run.model, self.run.data)
        loss = nll
        if net.detection:
            loss += net.detection_weight * weighted_ratio(sums["bce"], sums["n_real"], "bce")
        out = {}
        for reg in self.regressions:
            if f"reg_{reg.key}" not in sums:
                continue
            value = weighted_ratio(sums[f"reg_{reg.key}"], sums[f"n_reg_{reg.key}"], reg.key)
            out[f"regression_nll_{reg.key}"] = value
            loss += reg.weight * value
        for c in self.classifications:
            if not sums.get(f"n_cls_{c.name}"):
                continue
            value = weighted_ratio(sums[f"cls_{c.name}"], sums[f"n_cls_{c.name}"], c.name)
            out[f"classification_nll_{c.name}"] = value
            out[f"classification_accuracy_{c.name}"] = weighted_ratio(
                sums[f"right_{c.name}"], sums[f"n_cls_{c.name}"], c.name
            )
            loss += c.weight * value
        return {"loss": loss, "resonance_efficiency": eff, "score": eff, **out}

    def card_info(self, ev_train: Events, scale: float) -> dict[str, Any]:
        topo = self.topology
        all_rec = self.reconstructable(ev_train).all(axis=1)
        sym = [f"{'↔'.join(r.symmetric)} within {r.name}" for r in topo.resonances if r.symmetric]
        sym += ["↔".join(topo.resonances[i].name for i in g) for g in topo.groups]
        return {
            "topology": topo.name,
            "partons": topo.order_string,
            "symmetries": "exchangeable: " + ", ".join(sym) if sym else "no symmetries",
            "collections": ", ".join(c.name for c in topo.collections),
            "all_rec": round(int(all_rec.sum()) * scale),
            "regressions": self.regressions_note(ev_train),
            "classifications": self.classifications_note(ev_train, scale),
        }

    def classifications_note(self, ev_train: Events, scale: float) -> str:
        """The card's line on the classification heads: the classes, the training events of
        each (from the files' ``FILE:CLASS``), the class balance."""
        if not self.classifications:
            return "none"
        labels = ev_train.derived.get("class_label")
        parts = []
        for m, c in enumerate(self.classifications):
            counts = [
                f"{name} {round(int((labels[:, m] == k).sum()) * scale):,}"
                if labels is not None
                else name
                for k, name in enumerate(c.classes)
            ]
            parts.append(f"`{c.name}` (weight {c.weight:g}; training events: {', '.join(counts)})")
        return (
            "; ".join(parts)
            + f"; class balance `{self.class_weighting}`; outputs "
            + ", ".join(f"`{o}`" for c in self.classifications for o in c.outputs())
            + f" (softmax of the pooled event embedding); the signal class `"
            f"{self.classifications[0].signal}` alone carries parton labels"
        )

    def regressions_note(self, ev_train: Events) -> str:
        """The card's line on the regressions: each key, its field and weight, and the
        training events with its target (Gaussian NLL on standardized targets)."""
        if not self.regressions:
            return "none"
        raw = ev_train.derived["regression_raw"]
        parts = [
            f"`{r.key}` (field `{r.field}`, weight {r.weight:g}, "
            f"{int(np.isfinite(raw[:, k]).sum()):,} training events with it)"
            for k, r in enumerate(self.regressions)
        ]
        return (
            ", ".join(parts) + "; value and σ from the pooled event embedding, Gaussian "
            "negative log-likelihood on standardized targets"
        )

    @torch.no_grad()
    def predict(
        self,
        ev: Events,
        batch_size: int | None = None,
        progress: bool = False,
        calibrated: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(slots int64[B, n_partons], prob float32[B, R], detection float32[B, R] or
        None)``: jet slots (padded, pT-sorted; −1 none; non-jet daughters 0; map them to the
        file's own jet order with :func:`slots_to_file_order`), each chosen tuple's
        probability with unordered exchangeable daughters (NaN where none), each resonance's
        detection probability (None for a matcher without the detection head). With
        ``calibrated`` and a calibration stored with the model, both probabilities pass
        through its maps (:mod:`hepattn.tasks.calibration`)."""
        slots, probs, dets = [], [], []
        for batch in self.predict_batches(ev, batch_size, progress, "matching"):
            outputs, head_mask = self.forward(self.net, batch)
            out, p, det = self.net.decode(outputs, head_mask)
            slots.append(out.numpy())
            probs.append(p.numpy())
            dets.append(None if det is None else det.numpy())
        n, r = self.topology.n_partons, len(self.topology.resonances)
        slots_all = np.concatenate(slots) if slots else np.zeros((0, n), np.int64)
        prob = np.concatenate(probs) if probs else np.zeros((0, r), np.float32)
        det = None
        if self.has_detection:
            det = np.concatenate(dets) if dets else np.zeros((0, r), np.float32)
            self.refuse_nan(ev, np.isnan(det).any(axis=1))
        # with jets for every resonance each gets a tuple: a NaN there is the model's
        enough = ev.derived["n_jets"] >= self.topology.n_jet_daughters
        self.refuse_nan(ev, np.isnan(prob).any(axis=1) & enough)
        slots_all[:, [p for c in self.others() for p in self.topology.partons_from(c.name)]] = 0
        if calibrated and self.calibration is not None:
            from hepattn.tasks.calibration import calibrate

            prob, det = calibrate(self.calibration, self.topology, prob, det, ev.derived["n_jets"])
        return slots_all, prob.astype(np.float32), None if det is None else det.astype(np.float32)

    @torch.no_grad()
    def predict_regressions(
        self, ev: Events, batch_size: int | None = None, progress: bool = False
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per regression key (``EVENT_nu_pz``, ``t_had_pt``) its value and σ, each
        ``float32[B]`` in the target's own units (the model's ``"regression"`` record undone);
        empty for a matcher without regression heads."""
        regs = self.regressions
        if not regs:
            return {}
        parts = []
        for batch in self.predict_batches(ev, batch_size, progress, "regressing"):
            outputs, _ = self.forward(self.net, batch)
            parts.append(outputs.regression.float().numpy())
        out = np.concatenate(parts) if parts else np.zeros((0, len(regs), 2), np.float32)
        self.refuse_nan(ev, np.isnan(out).any(axis=(1, 2)))
        std = self.standardizers["regression"]
        mean, scale = np.asarray(std.mean), np.asarray(std.std)
        value = out[..., 0] * scale + mean  # (B, K)
        sigma = np.exp(out[..., 1]) * scale
        return {
            r.key: (value[:, k].astype(np.float32), sigma[:, k].astype(np.float32))
            for k, r in enumerate(regs)
        }

    @torch.no_grad()
    def predict_classes(
        self, ev: Events, batch_size: int | None = None, progress: bool = False
    ) -> dict[str, np.ndarray]:
        """Per class of each classification its probability ``float32[B]``, named as
        ``hepattn match`` writes it (``EVENT_<class>_prob``); empty without classification
        heads."""
        if not self.classifications:
            return {}
        parts = []
        for batch in self.predict_batches(ev, batch_size, progress, "classifying"):
            outputs, _ = self.forward(self.net, batch)
            parts.append(torch.cat(self.net.class_probabilities(outputs.classification), -1))
        n = sum(len(c.classes) for c in self.classifications)
        out = torch.cat(parts).numpy() if parts else np.zeros((0, n), np.float32)
        self.refuse_nan(ev, np.isnan(out).any(axis=1))
        names = [o for c in self.classifications for o in c.outputs()]
        return {name: out[:, k].astype(np.float32) for k, name in enumerate(names)}

    def baseline(
        self,
        ev: Events,
        btag_wp: float | None = None,
        chi2_mode: str | None = None,
        progress: bool = False,
    ):
        """The topology's classical baseline (its declaration's ``defaults.baseline``,
        :mod:`hepattn.baselines.registry`) on the padded jets of ``ev``: ``(baseline,
        result)`` with the result's slots as :meth:`predict`'s. b-tags as the matcher reads
        them (decisions, or scores cut at ``btag_wp``: :func:`hepattn.baselines.btag.
        btag_rule`); ``chi2_mode``: the all-hadronic χ²'s form."""
        from hepattn.baselines.registry import BaselineOptions, get_baseline

        topo = self.topology
        base = get_baseline(topo.defaults.baseline, topo.name, topo.order_string)
        options = BaselineOptions(btag_wp, chi2_mode, progress)
        result = base.run(ev, self.run.data.collection, options)
        slots = result.slots.copy()
        slots[:, [p for c in self.others() for p in topo.partons_from(c.name)]] = 0
        return base, dataclasses.replace(result, slots=slots)

    def baseline_method(self) -> str:
        """The ``--method`` name of the topology's baseline (``chi2``, ``pairing``)."""
        from hepattn.baselines.registry import get_baseline

        topo = self.topology
        return get_baseline(topo.defaults.baseline, topo.name, topo.order_string).method

    def match(
        self,
        ev: Events,
        method: str = "network",
        progress: bool = False,
        *,
        btag_wp: float | None = None,
        chi2_mode: str | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """The branches and metadata ``hepattn match`` writes: ``assignment int32[B, P]``
        (jet indices in the file's own order, parton order; −1 none; a lepton/MET daughter:
        0, its collection's one object) and per resonance R and daughter d ``R_d`` (the same
        indices); with the network ``prob float32[B, R]`` and per resonance ``R_prob`` (the
        chosen tuple's probability, NaN: none) and ``R_detection`` (the probability that R
        is reconstructable, when the model has the detection head), and per regression of the
        model (:meth:`predict_regressions`) ``EVENT_<name>`` / ``<R>_<name>`` and its
        ``_sigma``, and per class of its classifications ``EVENT_<class>_prob``
        (:meth:`predict_classes`); with the topology's baseline (``method`` its name,
        :meth:`baseline_method`) its score branch (``chi2``, ``dhh``; inf: no assignment)."""
        topo = self.topology
        metadata = {
            "topology": topo.name,
            "assignment_order": topo.order_string,
            "method": method,
        }
        if method == "network":
            slots, prob, det = self.predict(ev, progress=progress)
            extra = {"prob": prob}
            for r, res in enumerate(topo.resonances):
                extra[f"{res.name}_prob"] = prob[:, r]
                if det is not None:
                    extra[f"{res.name}_detection"] = det[:, r]
            for key, (value, sigma) in self.predict_regressions(ev, progress=progress).items():
                extra[key] = value
                extra[f"{key}_sigma"] = sigma
            extra.update(self.predict_classes(ev, progress=progress))
            metadata["model"] = str(self.path)
        elif method == self.baseline_method():
            base, result = self.baseline(ev, btag_wp, chi2_mode, progress)
            slots = result.slots
            extra = {base.score: result.score.astype(np.float64)}
            metadata["baseline"] = result.description
            metadata[base.method] = result.description
        else:
            raise DataError(
                f"unknown matching method {method!r} for topology {topo.name!r}; choose "
                f"network or {self.baseline_method()}"
            )
        metadata["sentinels"] = self.sentinels()
        assignment = self.file_order(ev, slots)
        branches = {"assignment": assignment}
        branches.update({name: assignment[:, p] for p, name in enumerate(topo.qualified)})
        return {**branches, **extra}, metadata

    def sentinels(self) -> str:
        """What the outputs of :meth:`match` hold where there is no answer (also in the file)."""
        from hepattn.baselines.registry import BASELINES

        topo = self.topology
        n = topo.n_jet_daughters
        text = (
            f"assignment and R_d = -1: no jet for that parton (fewer than {n} jets, or a "
            "resonance left unassigned); prob and R_prob = NaN: no jet tuple chosen for that "
            "resonance (network; for a top: no triplet); R_detection: the probability that R "
            "is reconstructable (network with the detection head)"
        )
        if self.regressions:
            text += (
                "; EVENT_<name>, R_<name> and their _sigma: the regressed value and its "
                "Gaussian uncertainty, in the target's units (network with regression heads)"
            )
        if self.classifications:
            text += (
                "; EVENT_<class>_prob: the probability of each class of the event "
                "classification (network with classification heads)"
            )
        base = BASELINES.get(topo.defaults.baseline)
        if base is not None:
            text += f"; {base.score} = inf: fewer than {n} jets, no assignment ({base.method})"
        return text

    def file_order(self, ev: Events, slots: np.ndarray) -> np.ndarray:
        """``int32[B, P]``: jet slots as jet indices in the file's own order (−1 none); the
        other collections' daughters stay 0."""
        cols = list(self.topology.partons_from(JETS))
        files = slots.copy()
        files[:, cols] = slots_to_file_order(slots[:, cols], ev[self.run.data.collection].index)
        return files.astype(np.int32)

    def report(self, ev: Events, progress: bool = False) -> tuple[dict, dict]:
        from hepattn.metrics.matching import efficiency_table

        slots, _, _ = self.predict(ev, progress=progress)
        w = ev.derived.get("weight")
        table = efficiency_table(slots, ev.derived["truth"], ev.derived["n_jets"], self.topology, w)
        report = {"events": len(ev), "topology": self.topology.name, "rows": table}
        regressions = self.regression_report(ev, progress)
        if regressions:
            report["regressions"] = regressions
        return {**report, "weighted": weighted_by(self, ev)}, {}

    def regression_report(self, ev: Events, progress: bool = False) -> dict[str, dict]:
        """Per regression of the model, on labelled ``ev`` (unweighted): resolution, bias,
        pull width and events with a target (:func:`~hepattn.metrics.regression.
        regression_metrics`). A target of a resonance that is exchangeable with another is
        left out (its prediction follows the network's resonance order)."""
        from hepattn.metrics.regression import regression_metrics

        if not self.regressions or "regression_raw" not in ev.derived:
            return {}
        regs = self.regressions
        grouped = {self.topology.resonances[i].name for g in self.topology.groups for i in g}
        raw = ev.derived["regression_raw"]
        out = {}
        for k, (key, (value, sigma)) in enumerate(
            self.predict_regressions(ev, None, progress).items()
        ):
            if regs[k].resonance not in grouped:
                out[key] = regression_metrics(value, sigma, raw[:, k])
        return out

    def write_calibration(self, ev: Events, out_dir: Path, progress: bool = False) -> list[Path]:
        """Reliability diagrams and ECE of the assignment and detection probabilities, and
        purity against efficiency beside the baseline (:mod:`hepattn.tasks.calibration`)."""
        from hepattn.tasks.calibration import calibration_report, write_calibration

        return write_calibration(calibration_report(self, ev, progress), out_dir)

    def headline(self, report: dict) -> dict[str, dict[str, float]]:
        column = self.topology.report_columns[0]
        return {row: {"network": float(v[column])} for row, v in report["rows"].items()}

    def format_report(self, report: dict) -> str:
        from hepattn.metrics.matching import format_table

        title = f"{report['events']:,} events, model {report['model']}" + weight_note(report)
        text = format_table({"network": report["rows"]}, self.topology, title)
        for key, m in report.get("regressions", {}).items():
            if m["events"]:
                text += (
                    f"\n{key}: resolution {m['resolution']:.4g}, bias {m['bias']:+.4g}, pull "
                    f"width {m['pull_width']:.3f} ({m['events']:,} events with the target)"
                )
            else:
                text += f"\n{key}: no event with the target"
        return text

    def plot(self, report: dict, arrays: dict, out_dir: Path) -> list[Path]:
        from hepattn.plotting import efficiency_png

        path = out_dir / "efficiency.png"
        efficiency_png({"network": report["rows"]}, path, self.topology, "jet-parton matching")
        return [path]
