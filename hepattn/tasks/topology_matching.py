"""Jet–parton matching for a declared topology (``ttbar-ljets``, ``hh-4b``, a user's YAML).

The network is :class:`~hepattn.nn.topology_matcher.TopologyMatcher`: one encoder over the
topology's input collections, one symmetric tensor attention head per resonance, a
detection head. All-hadronic tt̄ keeps its own task (:mod:`hepattn.tasks.matching`, the
bundled matcher); this one serves every topology, all-hadronic included.

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
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from hepattn.config import Config, ConfigError
from hepattn.data import Events, PadSpec, Standardizer
from hepattn.errors import DataError
from hepattn.nn.encoder import EncoderConfig
from hepattn.nn.inputs import Inputs, combine_collections
from hepattn.nn.topology_matcher import TopologyMatcher, TopologyMatcherConfig
from hepattn.tasks.base import Task, refuse
from hepattn.tasks.matching import slots_to_file_order
from hepattn.tasks.weights import (
    batch_weights,
    weight_note,
    weighted_by,
    weighted_loss,
    weighted_ratio,
)
from hepattn.topology import JETS, Topology, TopologyError, load_topology, topology_from_dict
from hepattn.training.loop import TrainingConfig

__all__ = [
    "TopologyDataConfig",
    "TopologyMatching",
    "TopologyRunConfig",
    "default_schema",
]

#: Default schema of the generated files of each built-in topology.
SCHEMAS = {
    "ttbar-allhad": "hepattn-ttbar",
    "ttbar-ljets": "hepattn-ttbar-ljets",
    "hh-4b": "hepattn-hh4b",
}


def topology_entry(topology: str) -> str | dict:
    """What a run config stores as ``model.topology``: a built-in's name, or the declaration
    read from a user's YAML file (so that the saved model does not depend on the file)."""
    from hepattn.topology import TOPOLOGIES, _UniqueKeyLoader

    if topology in TOPOLOGIES:
        return topology
    load_topology(topology)  # checked, errors naming the file and key
    with open(topology, encoding="utf-8") as f:
        return yaml.load(f, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def resolve_topology(entry: str | dict) -> Topology:
    """The :class:`Topology` of a run config's ``model.topology`` (name, file or mapping)."""
    if isinstance(entry, dict):
        return topology_from_dict(entry, "model.topology")
    return load_topology(entry)


def topology_name(topology: str | os.PathLike) -> str:
    """The name of ``topology``: a built-in's, or the ``name`` of a YAML file; any other
    string is taken as a name (that of a user's topology a saved model stores in its run
    config, whose YAML file is then not needed)."""
    from hepattn.topology import TOPOLOGIES

    if str(topology) in TOPOLOGIES or os.path.isfile(topology):
        return resolve_topology(str(topology)).name
    return str(topology)


#: The classical baseline of each built-in topology (``hepattn match --method``).
BASELINES = {"ttbar-ljets": "chi2", "hh-4b": "pairing"}


def default_schema(topology: str) -> str:
    """The schema of ``hepattn generate``'s files for a built-in topology (else ttbar's)."""
    return SCHEMAS.get(topology, "hepattn-ttbar")


@dataclasses.dataclass(frozen=True)
class TopologyDataConfig(Config):
    """Which objects a topology matcher reads (see the module docstring).

    Attributes:
        schema: default schema of the input files.
        collection: the schema's jet collection.
        features: per-jet input features.
        max_objects: jets kept per event (leading in pT).
        label: per-jet parton label (index in the topology's parton order, −1 none).
        object_features: features of each one-object collection (a lepton).
        weight: event-level field with the per-event weight, in the loss and the validation
            metrics; ``None``: unweighted (:mod:`hepattn.tasks.weights`).
    """

    schema: str = "hepattn-ttbar-ljets"
    collection: str = "jets"
    features: tuple[str, ...] = ("log_pt", "eta", "log_e", "mass", "btag_score")
    max_objects: int = 16
    label: str = "parton"
    object_features: tuple[str, ...] = ("log_pt", "eta", "log_e", "charge")
    weight: str | None = None


@dataclasses.dataclass(frozen=True)
class TopologyRunConfig(Config):
    """A whole topology-matcher run: ``model`` (with ``topology``), data, optimisation."""

    model: dict = dataclasses.field(default_factory=dict)
    data: TopologyDataConfig = dataclasses.field(default_factory=TopologyDataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        try:
            network_config(self.model, self.data)
        except (ConfigError, TopologyError) as err:
            raise ConfigError(f"TopologyRunConfig.model: {err}") from None

    @property
    def topology(self) -> Topology:
        return resolve_topology(self.model.get("topology", "ttbar-allhad"))


def _widths(topology: Topology, data: TopologyDataConfig) -> dict[str, int]:
    """Feature count of each collection of ``topology``."""
    out = {}
    for c in topology.collections:
        if c.name == JETS:
            out[c.name] = len(data.features)
        elif c.transverse:
            out[c.name] = 1
        else:
            out[c.name] = len(data.object_features)
    return out


def network_config(model: dict, data: TopologyDataConfig) -> TopologyMatcherConfig:
    """The checked network config (``input_dim`` and ``num_types`` filled in here)."""
    topology = resolve_topology(model.get("topology", "ttbar-allhad"))
    for c in topology.collections:
        if c.name != JETS and c.max_objects != 1:
            raise ConfigError(
                f"topology {topology.name!r}: collection {c.name!r} needs max_objects: 1 "
                "(only the jets may hold several objects)"
            )
    n_col = len(topology.collections)
    enc = {
        **model.get("encoder", {}),
        "input_dim": max(_widths(topology, data).values()),
        "num_types": n_col if n_col > 1 else 0,
    }
    return TopologyMatcherConfig.from_dict(
        {**model, "topology": topology.name, "encoder": EncoderConfig.from_dict(enc).to_dict()}
    )


CARD = """# hepattn jet–parton matcher, topology `{topology}`

- **Task**: assign jets to the partons {partons} ({symmetries}).
- **Model**: encoder over {collections} + one symmetric tensor attention head per resonance and
  a detection head, {params:,} trainable parameters; config in `config.yaml`.
- **Inputs**: jets of schema `{schema}`, features {features}, leading {max_objects} jets by pT.
- **Training command**: `{command}`
- **Training data**: {train_files} — {train_events:,} events with at least one
  reconstructable resonance ({all_rec:,} with all); validation: {val_files} —
  {val_events:,} events.
- **Event weights**: {weights}.
- **Budget**: {epochs} epochs (max {max_epochs}), batch size {batch_size}, AdamW lr {lr},
  {seconds:.0f} s wall time on {device} ({threads} CPU threads).
- **Validation resonance efficiency** (best epoch {best_epoch}): {val_percent:.2f} % of
  reconstructable resonances correct.
"""


def model_dir(model: str | os.PathLike | None, topology: str) -> Path:
    """The model directory ``--model`` for ``topology``: ``None``/``"default"`` is the bundled
    matcher of a built-in topology (:func:`hepattn.models.bundled_topology_model`)."""
    from hepattn.models import resolve_model

    return resolve_model(model, TopologyMatching.name, topology_name(topology))


class TopologyMatching(Task):
    """The topology-matching task; a trained matcher once loaded (``TopologyMatching.load``)."""

    name = "topology-matcher"
    run_config = TopologyRunConfig
    unit = "events"
    card_template = CARD

    @classmethod
    def load(cls, model: str | os.PathLike | None = None, topology: str | None = None):
        """A model directory, or the bundled matcher of ``topology``; with ``topology``, a
        model trained for another topology is refused."""
        from hepattn.models import ModelError

        if topology is None:
            return super().load(model)
        task = super().load(model_dir(model, topology))
        want = topology_name(topology)
        if task.topology.name != want:
            raise ModelError(
                f"model {task.path} matches topology {task.topology.name!r}, not {want!r}; "
                f"give --topology {task.topology.name} or another --model"
            )
        return task

    @property
    def topology(self) -> Topology:
        return self.run.topology

    def others(self):
        """The topology's collections other than the jets."""
        return [c for c in self.topology.collections if c.name != JETS]

    def spec(self, need_labels: bool) -> PadSpec:
        d = self.run.data
        return PadSpec(d.features, d.max_objects, labels=(d.label,) if need_labels else ())

    def read_source(
        self,
        paths,
        schema: str,
        spec: PadSpec,
        entry_stop,
        tree,
        nonfinite: str = "error",
        select=None,
        friends=None,
        entry_start: int = 0,
    ) -> Events:
        from hepattn.data import read_events
        from hepattn.data.schema import get_schema
        from hepattn.data.spanet import is_spanet_path, read_spanet_h5

        if is_spanet_path(paths):  # SPANet-layout HDF5 of this topology: the layout is the schema
            d = self.run.data
            return read_spanet_h5(
                paths,
                spec.features,
                spec.max_objects,
                labels=spec.labels,
                collection=d.collection,
                topology=self.topology,
                objects={c.name: d.object_features for c in self.others() if not c.transverse},
                entry_stop=entry_stop,
            )
        s = get_schema(schema)
        colls, event = self.input_layout()
        colls[self.run.data.collection] = spec
        for c in self.others():
            if c.transverse:
                missing = [f"{c.name}_{k}" for k in ("pt", "phi") if f"{c.name}_{k}" not in s.event]
                if missing:
                    raise DataError(
                        f"topology {self.topology.name!r} needs the transverse collection "
                        f"{c.name!r}: schema {s.name!r} has no event fields {missing} "
                        f"(map them to the file's branches under `event:`)"
                    )
            elif c.name not in s.collections:
                raise DataError(
                    f"topology {self.topology.name!r} needs the collection {c.name!r}: "
                    f"schema {s.name!r} has {sorted(s.collections)}"
                )
        return read_events(
            paths,
            schema,
            colls,
            entry_start=entry_start,
            entry_stop=entry_stop,
            tree=tree,
            nonfinite=nonfinite,
            select=select,
            friends=friends,
        )

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

    def finish(self, ev: Events, need_labels: bool) -> Events:
        d, topo = self.run.data, self.topology
        jets = ev[d.collection]
        ev.derived["n_jets"] = jets.counts
        for c in self.others():
            if c.transverse:
                pt = np.asarray(ev.event[f"{c.name}_pt"], np.float64)
                phi = np.asarray(ev.event[f"{c.name}_phi"], np.float64)
                refuse(
                    ev,
                    ~np.isfinite(pt) | ~np.isfinite(phi) | (pt < 0),
                    lambda i, c=c, pt=pt, phi=phi: (
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
                    lambda i, c=c: (
                        f"entry {ev.entry[i]}: no {c.name} object, the topology "
                        f"{topo.name!r} needs one per event"
                    ),
                    "events",
                )
            ev.derived[f"{c.name}_x"] = np.asarray(x, np.float32)
            ev.derived[f"{c.name}_p4"] = np.asarray(p4, np.float32)
            ev.derived[f"{c.name}_mask"] = mask
        if need_labels:
            labels = jets.labels[d.label]
            n = topo.n_partons
            jet_partons = set(self.partons_from(JETS))
            bad = (labels >= 0) & ~np.isin(labels, sorted(jet_partons)) | (labels < -1)
            refuse(
                ev,
                bad.any(axis=1),
                lambda i: (
                    f"entry {ev.entry[i]}: jet labels ({d.label!r}) must be -1 or a jet "
                    f"daughter's index {sorted(jet_partons)} in {topo.order_string}, got "
                    f"{sorted(set(labels[i].tolist()))}"
                ),
                "events",
            )
            truth = np.full((len(ev), n), -1, np.int64)
            for p in sorted(jet_partons):
                hit = labels == p
                truth[:, p] = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
            twice = np.stack([(labels == p).sum(axis=1) > 1 for p in range(n)], 1).any(axis=1)
            refuse(
                ev,
                twice,
                lambda i: f"entry {ev.entry[i]}: a parton label appears on two jets",
                "events",
            )
            truth[:, [p for p in range(n) if p not in jet_partons]] = 0
            ev.derived["truth"] = truth
            for r, idx in enumerate(topo.jet_head_index):
                ev.derived[f"target_{r}"] = truth[:, list(idx)]
        return ev

    def trainable(self, ev: Events) -> Events:
        """Events with at least one reconstructable resonance."""
        ok = np.zeros(len(ev), bool)
        for r in range(len(self.topology.resonances)):
            ok |= (ev.derived[f"target_{r}"] >= 0).all(axis=1)
        return ev.select(np.flatnonzero(ok))

    def fit_standardizers(self, ev: Events) -> dict[str, Standardizer]:
        out = super().fit_standardizers(ev)
        for c in self.others():
            names = ("log_pt",) if c.transverse else self.run.data.object_features
            x, mask = ev.derived[f"{c.name}_x"], ev.derived[f"{c.name}_mask"]
            out[c.name] = Standardizer.fit(x, mask, names)
        return out

    def standardizer_features(self) -> dict[str, tuple[str, ...] | int]:
        out = super().standardizer_features()
        for c in self.others():
            out[c.name] = ("log_pt",) if c.transverse else tuple(self.run.data.object_features)
        return out

    def standardized(self, ev: Events) -> Events:
        derived = dict(ev.derived)
        for c in self.others():
            std = self.standardizers[c.name]
            x = derived[f"{c.name}_x"]
            derived[f"{c.name}_x"] = std.transform(x, derived[f"{c.name}_mask"]).astype(np.float32)
        return dataclasses.replace(ev, derived=derived)

    def build(self) -> TopologyMatcher:
        return TopologyMatcher(network_config(self.run.model, self.run.data), self.topology)

    def inputs(self, batch) -> Inputs:
        """The batch's collections as one set (:func:`~hepattn.nn.inputs.combine_collections`)."""
        parts = {JETS: (batch.x, batch.p4, batch.mask)}
        for c in self.others():
            dv = batch.derived
            parts[c.name] = (dv[f"{c.name}_x"], dv[f"{c.name}_p4"], dv[f"{c.name}_mask"])
        return combine_collections(self.topology, parts)

    def forward(self, model: TopologyMatcher, batch):
        inp = self.inputs(batch)
        types = inp.types if model.config.encoder.num_types else None
        transverse = inp.transverse if inp.transverse.any() else None
        return model(inp.x, inp.p4, inp.mask, types, transverse), inp.head_mask

    def targets(self, batch) -> list[torch.Tensor]:
        return [batch.derived[f"target_{r}"] for r in range(len(self.topology.resonances))]

    def loss(self, model: TopologyMatcher, batch) -> torch.Tensor:
        """The assignment NLL over the events with a reconstructable resonance plus
        ``detection_weight`` × the detection BCE over the events with jets, each a weighted
        mean ``Σ w ℓ / Σ |w|`` (:func:`~hepattn.tasks.weights.weighted_loss`; w = 1
        unweighted)."""
        outputs, head_mask = self.forward(model, batch)
        t = model.loss_terms(outputs, head_mask, self.targets(batch))
        w = batch_weights(batch)
        det = model.config.detection_weight
        return weighted_loss(t.nll, w, t.used) + det * weighted_loss(t.bce, w, t.real)

    @torch.no_grad()
    def evaluate(self, model: TopologyMatcher, loader, device) -> dict:
        """Weighted sums of the two loss terms and their weights, ``Σ w · (correct
        resonances)`` and ``Σ w · (reconstructable resonances)``."""
        from hepattn.metrics.topology import reconstructable, resonance_correct

        model.eval()
        sums = dict.fromkeys(("nll", "n_used", "bce", "n_real", "correct", "n_res"), 0.0)
        for batch in loader:
            batch = batch.to(device)
            outputs, head_mask = self.forward(model, batch)
            t = model.loss_terms(outputs, head_mask, self.targets(batch))
            w = batch_weights(batch).to(t.nll.dtype)
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
        bce = weighted_ratio(sums["bce"], sums["n_real"], "detection loss")
        det = network_config(self.run.model, self.run.data).detection_weight
        return {"loss": nll + det * bce, "resonance_efficiency": eff, "score": eff}

    def card_info(self, ev_train: Events, scale: float) -> dict[str, Any]:
        topo = self.topology
        all_rec = np.ones(len(ev_train), bool)
        for r in range(len(topo.resonances)):
            all_rec &= (ev_train.derived[f"target_{r}"] >= 0).all(axis=1)
        sym = [f"{'↔'.join(r.symmetric)} within {r.name}" for r in topo.resonances if r.symmetric]
        sym += ["↔".join(topo.resonances[i].name for i in g) for g in topo.groups]
        return {
            "topology": topo.name,
            "partons": topo.order_string,
            "symmetries": "exchangeable: " + ", ".join(sym) if sym else "no symmetries",
            "collections": ", ".join(c.name for c in topo.collections),
            "all_rec": round(int(all_rec.sum()) * scale),
        }

    @torch.no_grad()
    def predict(
        self, ev: Events, batch_size: int = 1024, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(slots int64[B, n_partons], prob float32[B, R], detection float32[B, R])``:
        jet slots (padded, pT-sorted; −1 none; non-jet daughters 0), each chosen tuple's
        probability (NaN where none), each resonance's detection probability."""
        slots, probs, dets = [], [], []
        for batch in self.predict_batches(ev, batch_size, progress, "matching"):
            outputs, head_mask = self.forward(self.net, batch)
            out, p, det = self.net.decode(outputs, head_mask)
            slots.append(out.numpy())
            probs.append(p.numpy())
            dets.append(det.numpy())
        n, r = self.topology.n_partons, len(self.topology.resonances)
        slots_all = np.concatenate(slots) if slots else np.zeros((0, n), np.int64)
        prob = np.concatenate(probs) if probs else np.zeros((0, r), np.float32)
        det = np.concatenate(dets) if dets else np.zeros((0, r), np.float32)
        self.refuse_nan(ev, np.isnan(det).any(axis=1))
        for c in self.others():  # the one object of each other collection
            slots_all[:, self.partons_from(c.name)] = 0
        return slots_all, prob.astype(np.float32), det.astype(np.float32)

    def partons_from(self, collection: str) -> list[int]:
        """Parton-order indices of the daughters drawn from ``collection``."""
        topo = self.topology
        return [
            off + k
            for r, off in zip(topo.resonances, topo.offsets, strict=True)
            for k in range(len(r.daughters))
            if r.source(k) == collection
        ]

    def match(self, ev: Events, progress: bool = False) -> tuple[dict, dict]:
        """The branches ``hepattn match --topology`` writes: per resonance R and daughter d
        ``R_d`` (int32: jet index in the file's own order, −1 none; a lepton/MET daughter:
        0, its collection's one object), ``R_prob`` and ``R_detection`` (float32)."""
        topo = self.topology
        slots, prob, det = self.predict(ev, progress=progress)
        branches = self._assignment_branches(ev, slots)
        for r, res in enumerate(topo.resonances):
            branches[f"{res.name}_prob"] = prob[:, r]
            branches[f"{res.name}_detection"] = det[:, r]
        metadata = {
            "topology": topo.name,
            "assignment_order": topo.order_string,
            "method": "network",
            "model": str(self.path),
            "sentinels": "R_d = -1: no jet for that daughter; R_prob = NaN: no jet tuple chosen "
            "for R; R_detection: probability that R is reconstructable",
        }
        return branches, metadata

    def baseline_name(self) -> str:
        """The topology's classical baseline (:data:`BASELINES`); a :class:`DataError` for a
        topology without one."""
        name = BASELINES.get(self.topology.name)
        if name is None:
            raise DataError(
                f"topology {self.topology.name!r} has no classical baseline; built-in "
                f"baselines: {BASELINES}"
            )
        return name

    def baseline(
        self, ev: Events, btag_wp: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """The topology's baseline on the padded jets of ``ev``: ``(slots int64[B, n_partons],
        score float64[B], description)``; slots as :meth:`predict`'s, score the χ² or the
        pairing's D_HH (inf where fewer than four jets). b-tags as the matcher reads them
        (decisions, or scores cut at ``btag_wp``: :func:`hepattn.baselines.btag.btag_rule`)."""
        from hepattn.baselines.btag import btag_rule

        name = self.baseline_name()
        jets = ev[self.run.data.collection]
        rule = btag_rule(ev, self.run.data.collection, btag_wp)
        btag = rule.values
        p4 = jets.p4.astype(np.float64)
        tags = f"b-tags {rule.describe()}"
        if name == "chi2":
            from hepattn.baselines.chi2_ljets import Chi2LjetsConfig, solve_chi2_ljets

            lep = ev.derived["lepton_p4"][:, 0].astype(np.float64)
            met = ev.derived["met_p4"][:, 0, :2].astype(np.float64)
            cfg = Chi2LjetsConfig(btag_threshold=rule.threshold)
            slots, score, _ = solve_chi2_ljets(p4, jets.mask, lep, met, btag, cfg)
            desc = (
                f"lepton+jets chi2 (sigma_W {cfg.sigma_w}, sigma_t,had {cfg.sigma_t_had}, "
                f"sigma_t,lep {cfg.sigma_t_lep} GeV; neutrino pz from m_W, better root), {tags}"
            )
        else:
            from hepattn.baselines.hh_pairing import pair_hh

            slots, score = pair_hh(p4, jets.mask, btag, "dhh", rule.threshold)
            desc = f"HH pairing by ATLAS's D_HH (four leading b-tagged jets), {tags}"
        slots = slots.copy()
        for c in self.others():
            slots[:, self.partons_from(c.name)] = 0
        return slots, score, desc

    def match_baseline(self, ev: Events, btag_wp: float | None = None) -> tuple[dict, dict]:
        """``hepattn match --topology … --method chi2|pairing``: ``R_d`` branches and the
        baseline's score (``chi2`` or ``dhh``, float64; inf: fewer than four jets)."""
        topo = self.topology
        slots, score, desc = self.baseline(ev, btag_wp)
        branches = self._assignment_branches(ev, slots)
        name = self.baseline_name()
        branches["chi2" if name == "chi2" else "dhh"] = score.astype(np.float64)
        metadata = {
            "topology": topo.name,
            "assignment_order": topo.order_string,
            "method": name,
            "baseline": desc,
            "sentinels": "R_d = -1: no jet for that daughter (fewer than four jets); score inf: "
            "no assignment",
        }
        return branches, metadata

    def _assignment_branches(self, ev: Events, slots: np.ndarray) -> dict[str, np.ndarray]:
        """``R_d`` int32 branches: jet indices in the file's own order (−1 none)."""
        topo = self.topology
        jet_cols = self.partons_from(JETS)
        files = slots.copy()
        index = ev[self.run.data.collection].index
        files[:, jet_cols] = slots_to_file_order(slots[:, jet_cols], index)
        return {name: files[:, p].astype(np.int32) for p, name in enumerate(topo.qualified)}

    def report(self, ev: Events, progress: bool = False) -> tuple[dict, dict]:
        from hepattn.metrics.topology import topology_efficiency_table

        slots, _, _ = self.predict(ev, progress=progress)
        w = ev.derived.get("weight")
        table = topology_efficiency_table(
            slots, ev.derived["truth"], ev.derived["n_jets"], self.topology, w
        )
        report = {"events": len(ev), "topology": self.topology.name, "rows": table}
        return {**report, "weighted": weighted_by(self, ev)}, {}

    def format_report(self, report: dict) -> str:
        from hepattn.metrics.topology import format_topology_table

        title = f"{report['events']:,} events, model {report['model']}" + weight_note(report)
        return format_topology_table({"network": report["rows"]}, self.topology, title)

    def plot(self, report: dict, arrays: dict, out_dir: Path) -> list[Path]:
        return []
