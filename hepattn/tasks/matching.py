"""The jet–parton matching task (all-hadronic tt̄): data, loss, metrics, saved matchers.

Jets of schema ``hepattn-ttbar`` (or any schema with a jet collection; truth labels are
needed only to train and evaluate): per jet the parton label 0…5 in the parton order of
:data:`hepattn.topology.TTBAR_ALLHAD` — (b, q1, q2, b′, q1′, q2′) — or −1. The network is
:class:`~hepattn.nn.matcher.JetPartonMatcher`; predictions are assignments ``int[B, 6]`` of
jet indices **in the input file's own jet order**, −1 where none (:data:`SENTINELS`).

:class:`Matcher` is the task (:class:`~hepattn.tasks.base.Task`): ``Matcher.train(run, ...)``
trains one, ``Matcher.load(dir)`` loads one, ``matcher.predict(ev)`` decodes assignments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hepattn.config import Config, ConfigError
from hepattn.data import Events, PadSpec
from hepattn.errors import DataError
from hepattn.nn.matcher import (
    JetPartonMatcher,
    MatcherConfig,
    decode_assignments,
    symmetric_top_nll,
)
from hepattn.tasks.base import Task, refuse
from hepattn.tasks.weights import (
    batch_weights,
    weight_note,
    weighted_by,
    weighted_loss,
    weighted_ratio,
)
from hepattn.topology import TTBAR_ALLHAD
from hepattn.training.loop import TrainingConfig

__all__ = [
    "SENTINELS",
    "TOPOLOGY",
    "Matcher",
    "MatcherDataConfig",
    "MatcherRunConfig",
    "build_matcher",
    "chi2_slots",
    "slots_to_file_order",
]

DEFAULT_FEATURES = ("log_pt", "eta", "phi", "log_e", "mass", "btag")
TOPOLOGY = TTBAR_ALLHAD
#: What the outputs of ``hepattn match`` hold where there is no answer (also in the file).
SENTINELS = (
    "assignment = -1: no jet for that parton (fewer than 6 jets, or a top left unassigned); "
    "prob = NaN: no triplet chosen for that top (network); chi2 = inf: fewer than 6 jets, "
    "no assignment (chi2 method)"
)


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
        weight: event-level field with the per-event weight (e.g. NanoAOD's ``genWeight``
            through the schema's ``event:``) used in the loss and the validation metrics;
            ``None``: unweighted (:mod:`hepattn.tasks.weights`).
    """

    schema: str = "hepattn-ttbar"
    collection: str = "jets"
    features: tuple[str, ...] = DEFAULT_FEATURES
    max_objects: int = 16
    label: str = "parton"
    weight: str | None = None


@dataclasses.dataclass(frozen=True)
class MatcherRunConfig(Config):
    """A whole matcher run (one YAML file): model, data, optimisation.

    The model section is checked (:class:`~hepattn.nn.matcher.MatcherConfig`) when the run
    config is built, so a bad key fails when the YAML is loaded.
    """

    model: dict = dataclasses.field(default_factory=dict)
    data: MatcherDataConfig = dataclasses.field(default_factory=MatcherDataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        try:
            model_config(self.model, len(self.data.features))
        except ConfigError as err:
            raise ConfigError(f"MatcherRunConfig.model: {err}") from None


def model_config(model: dict, n_features: int) -> MatcherConfig:
    """The checked network config (``input_dim`` filled in here)."""
    enc = {**model.get("encoder", {}), "input_dim": n_features}
    return MatcherConfig.from_dict({**model, "encoder": enc})


def build_matcher(model: dict, n_features: int) -> JetPartonMatcher:
    return JetPartonMatcher(model_config(model, n_features))


def slots_to_file_order(slots: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Map jet slots ``int[B, 6]`` (pT-sorted, truncated) to the file's jet indices (−1 kept)."""
    b = np.arange(len(slots))[:, None]
    return np.where(slots >= 0, index[b, np.maximum(slots, 0)], -1)


def chi2_setup(ev: Events, collection: str = "jets", config=None, btag_wp: float | None = None):
    """``(config, b-tag values or None, rule in words)`` of the χ² on ``ev``'s jets: the
    b-tag the jets carry and its working point (:func:`hepattn.baselines.btag.btag_rule`)
    laid into ``config`` (default :class:`~hepattn.baselines.chi2.Chi2Config()`)."""
    from hepattn.baselines.btag import btag_rule
    from hepattn.baselines.chi2 import Chi2Config

    rule = btag_rule(ev, collection, btag_wp)
    cfg = dataclasses.replace(config or Chi2Config(), btag_threshold=rule.threshold)
    words = cfg.describe(rule.values is not None)
    if rule.values is not None:
        words += f" ({rule.describe()})"
    return cfg, rule.values, words


def chi2_slots(
    ev: Events,
    collection: str = "jets",
    config=None,
    progress: bool = False,
    btag_wp: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The χ² baseline on the padded jets of ``ev``: ``(slots int64[B, 6], chi2 float[B])``.

    Uses the jets' b-tag (decision, or score at ``btag_wp``; :func:`chi2_setup`); ``config``
    defaults to :class:`~hepattn.baselines.chi2.Chi2Config()` (the ``mt`` form, as
    ``hepattn compare``).
    """
    from hepattn.baselines.chi2 import solve_chi2
    from hepattn.progress import bar

    cfg, btag, _ = chi2_setup(ev, collection, config, btag_wp)
    jets = ev[collection]
    p4 = jets.p4.astype(np.float64)
    slots, chi2 = [], []
    block = 8192
    with bar(progress, len(ev), "chi2", "events") as b:
        for s in range(0, max(len(ev), 1), block):
            sl = slice(s, s + block)
            out = solve_chi2(p4[sl], jets.mask[sl], None if btag is None else btag[sl], cfg)
            slots.append(out[0])
            chi2.append(out[1])
            b.update(len(out[1]))
    return np.concatenate(slots), np.concatenate(chi2)


CARD = """# hepattn jet–parton matcher (SPA-Net style)

- **Task**: assign jets to the six partons (b, q1, q2, b′, q1′, q2′) of all-hadronic tt̄.
- **Model**: P-MHA encoder + two symmetric tensor attention heads, {params:,} trainable
  parameters; config in `config.yaml`.
- **Inputs**: jets of schema `{schema}`, features {features}, leading {max_objects} jets by pT.
- **Training command**: `{command}`
- **Training data**: {train_files} — {train_events:,} events with at least one
  reconstructable top ({both:,} with both); validation: {val_files} — {val_events:,}
  events.
- **Event weights**: {weights}.
- **Budget**: {epochs} epochs (max {max_epochs}), batch size {batch_size}, AdamW lr {lr},
  {seconds:.0f} s wall time on {device} ({threads} CPU threads).
- **Validation top efficiency** (best epoch {best_epoch}): {val_percent:.2f} % of
  reconstructable tops correct.
"""


class Matcher(Task):
    """The matching task; a trained matcher once loaded (``Matcher.load(dir)``).

    Derived fields of events read with labels: ``derived["truth"]``: ``int[B, 6]`` jet slots
    of the partons; ``derived["targets"]``: ``int[B, 2, 3]`` slots per top in head order
    (q1, q2, b); always ``derived["n_jets"]``. Paths ending in ``.h5`` / ``.hdf5`` are read
    as SPANet files (:func:`hepattn.data.spanet.read_spanet_h5`).
    """

    name = "matcher"
    run_config = MatcherRunConfig
    unit = "events"
    card_template = CARD

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
        from hepattn.data.spanet import is_spanet_path, read_spanet_h5

        if isinstance(paths, Mapping) or not is_spanet_path(paths):
            return super().read_source(
                paths, schema, spec, entry_stop, tree, nonfinite, select, friends, entry_start
            )
        d = self.run.data  # SPANet-layout HDF5: the layout is the schema
        ev = read_spanet_h5(
            paths,
            spec.features,
            spec.max_objects,
            labels=spec.labels,
            collection=d.collection,
            entry_start=entry_start,
            entry_stop=entry_stop,
        )
        return ev if select is None else select(ev)

    def finish(self, ev: Events, need_labels: bool) -> Events:
        from hepattn.metrics.matching import truth_from_parton_labels

        d = self.run.data
        ev.derived["n_jets"] = ev[d.collection].counts
        if need_labels:
            labels = ev[d.collection].labels[d.label]
            n = TOPOLOGY.n_partons
            refuse(
                ev,
                ((labels < -1) | (labels >= n)).any(axis=1),
                lambda i: (
                    f"entry {ev.entry[i]}: parton labels must be in -1..{n - 1} "
                    f"({TOPOLOGY.order_string}), got {sorted(set(labels[i].tolist()))}"
                ),
                "events",
            )
            truth = truth_from_parton_labels(labels)  # (B, 6) slots
            ev.derived["truth"] = truth
            ev.derived["targets"] = np.stack([truth[:, list(h)] for h in TOPOLOGY.head_index], 1)
        return ev

    def trainable(self, ev: Events) -> Events:
        """Events with at least one reconstructable top (the others carry no loss)."""
        ok = (ev.derived["targets"] >= 0).all(-1).any(-1)
        return ev.select(np.flatnonzero(ok))

    def build(self) -> JetPartonMatcher:
        return build_matcher(self.run.model, len(self.run.data.features))

    def loss(self, model: JetPartonMatcher, batch) -> torch.Tensor:
        """``Σ w ℓ / Σ |w|`` of the top-symmetric NLL over the events with a reconstructable
        top (:func:`~hepattn.tasks.weights.weighted_loss`; w = 1 unweighted)."""
        heads = model(batch.x, batch.p4, batch.mask)
        targets = batch.derived["targets"]
        nll, used = symmetric_top_nll(model.target_logprob(heads, batch.mask, targets), targets)
        return weighted_loss(nll, batch_weights(batch), used)

    @torch.no_grad()
    def evaluate(self, model: JetPartonMatcher, loader, device) -> dict:
        """Weighted sums: ``Σ w ℓ`` and ``Σ w`` over the events with a reconstructable top;
        ``Σ w · (correct tops)`` and ``Σ w · (reconstructable tops)``."""
        from hepattn.metrics.matching import reconstructable, top_correct

        model.eval()
        total, n_used, correct, n_tops = 0.0, 0.0, 0.0, 0.0
        for batch in loader:
            batch = batch.to(device)
            heads = model(batch.x, batch.p4, batch.mask)
            targets = batch.derived["targets"]
            nll, used = symmetric_top_nll(model.target_logprob(heads, batch.mask, targets), targets)
            w = batch_weights(batch).to(nll.dtype)
            total += float((nll * w)[used].sum())
            n_used += float(w[used].sum())
            pred = decode_assignments(model, heads, batch.mask).cpu().numpy()
            truth = batch.derived["truth"].cpu().numpy()
            ok = reconstructable(truth)
            wn = w.double().cpu().numpy()
            correct += float(((top_correct(pred, truth) & ok).sum(axis=1) * wn).sum())
            n_tops += float((ok.sum(axis=1) * wn).sum())
        model.train()
        return {"loss_sum": total, "n_used": n_used, "correct": correct, "n_tops": n_tops}

    def summarize(self, sums: dict[str, float]) -> dict:
        eff = weighted_ratio(sums["correct"], sums["n_tops"], "top efficiency")
        return {
            "loss": weighted_ratio(sums["loss_sum"], sums["n_used"], "loss"),
            "top_efficiency": eff,
            "score": eff,
        }

    def card_info(self, ev_train: Events, scale: float) -> dict[str, Any]:
        both = int((ev_train.derived["targets"] >= 0).all(-1).all(-1).sum())
        return {"both": round(both * scale)}

    @torch.no_grad()
    def predict(
        self, ev: Events, batch_size: int = 1024, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(slots int64[B, 6], prob float32[B, 2])``.

        ``slots`` index the padded, pT-sorted jets of ``ev`` (map them to the file's own jet
        order with :func:`slots_to_file_order`); ``prob`` holds each chosen triplet's
        probability under its head (unordered light quarks: P(i, j, k) + P(j, i, k)); NaN
        where no triplet was chosen.
        """
        slots, probs = [], []
        for batch in self.predict_batches(ev, batch_size, progress, "matching"):
            heads = self.net(batch.x, batch.p4, batch.mask)
            out, p = decode_assignments(self.net, heads, batch.mask, with_prob=True)
            slots.append(out.numpy())
            probs.append(p.float().numpy())
        slots_all = np.concatenate(slots) if slots else np.zeros((0, 6), np.int64)
        prob_all = np.concatenate(probs) if probs else np.zeros((0, 2), np.float32)
        # with 6 or more jets both tops get a triplet: a NaN there is the model's, not a sentinel
        n_jets = ev[self.run.data.collection].counts
        self.refuse_nan(ev, np.isnan(prob_all).any(axis=1) & (n_jets >= 6))
        return slots_all, prob_all

    def match(
        self,
        ev: Events,
        method: str = "network",
        chi2_config=None,
        progress: bool = False,
        btag_wp: float | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """The branches and metadata ``hepattn match`` writes: ``assignment int32[B, 6]`` in
        the file's own jet order (−1: none), and ``prob float32[B, 2]`` (network; NaN: no
        triplet for that top) or ``chi2 float64[B]`` (χ²; inf: no assignment; b-tag scores
        cut at ``btag_wp``, :func:`chi2_setup`)."""
        jets = ev[self.run.data.collection]
        if method == "network":
            slots, prob = self.predict(ev, progress=progress)
            extra = {"prob": prob.astype(np.float32)}
        elif method == "chi2":
            coll = self.run.data.collection
            chi2_config, _, chi2_words = chi2_setup(ev, coll, chi2_config, btag_wp)
            slots, chi2 = chi2_slots(ev, coll, chi2_config, progress, btag_wp)
            extra = {"chi2": chi2.astype(np.float64)}
        else:
            raise DataError(f"unknown matching method {method!r}; choose network or chi2")
        assignment = slots_to_file_order(slots, jets.index).astype(np.int32)
        metadata = {
            "assignment_order": TOPOLOGY.order_string,
            "method": method,
            "model": str(self.path),
            "sentinels": SENTINELS,
        }
        if method == "chi2":
            metadata["chi2"] = chi2_words
        return {"assignment": assignment, **extra}, metadata

    def report(self, ev: Events, progress: bool = False) -> tuple[dict, dict]:
        from hepattn.metrics.matching import efficiency_table

        slots, _ = self.predict(ev, progress=progress)
        w = ev.derived.get("weight")
        table = efficiency_table(slots, ev.derived["truth"], ev.derived["n_jets"], w)
        return {"events": len(ev), "weighted": weighted_by(self, ev), "rows": table}, {}

    def format_report(self, report: dict) -> str:
        from hepattn.metrics.matching import format_table

        title = f"{report['events']:,} events, model {report['model']}"
        return format_table({"network": report["rows"]}, title + weight_note(report))

    def plot(self, report: dict, arrays: dict, out_dir: Path) -> list[Path]:
        from hepattn.plotting import efficiency_png

        path = out_dir / "efficiency.png"
        efficiency_png({"network": report["rows"]}, path, "jet-parton matching")
        return [path]
