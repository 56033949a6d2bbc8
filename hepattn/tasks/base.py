"""One task abstraction: reading, training, saving, loading and evaluating a model.

A :class:`Task` is a model of one kind of problem (prong tagging, jet–parton matching)
together with its run config and its input standardization. It is what the training loop
drives (``loss``, ``evaluate``, ``summarize``, ``save_model``), what a saved model directory
loads into (:meth:`Task.load`), and the one training entry point (:meth:`Task.train`, which
hands the orchestration — reading, splitting, streaming, fitting, the card — to
:func:`hepattn.tasks.trainer.train_task`). Subclasses supply only what differs, through
these hooks:

- ``spec(need_labels)`` and ``finish(ev, need_labels)``: what to read per object, and the
  checked labels and training targets derived from freshly read events (into
  ``ev.derived``, apart from the schema's own fields); ``read_source`` for other formats;
- ``trainable(ev)``: the events that carry a loss; ``standardized(ev)``: event-level inputs
  standardized; ``fit_standardizers(ev)``; ``build()``: the network;
- ``loss``, ``evaluate`` (additive validation sums), ``summarize`` (metrics with ``"loss"``
  and ``"score"``);
- ``card_info(ev_train, scale)`` and the ``card_template``: the model card;
- ``report(ev)``, ``format_report(report)`` and ``plot(report, arrays, out_dir)``: what
  ``hepattn eval`` prints and writes (:meth:`Task.evaluate_files`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from hepattn.config import Config
from hepattn.data import Events, PaddedDataset, PadSpec, Standardizer
from hepattn.data.btag import BtagPolicy
from hepattn.data.outputs import write_json
from hepattn.data.schema import get_schema
from hepattn.errors import DataError, HepattnError, SchemaMismatchError
from hepattn.models import (
    ModelError,
    check_standardizers,
    load_saved,
    load_state,
    resolve_model,
    save_model,
)
from hepattn.tasks.domain import Domain, DomainTally, Quantity, domain_summary
from hepattn.tasks.trainer import TrainOptions, train_task
from hepattn.tasks.weights import check_weight_field, read_weights

log = logging.getLogger(__name__)

__all__ = ["Task", "refuse"]


def refuse(ev: Events, bad: np.ndarray, message: Callable[[int], str], unit: str) -> None:
    """A :class:`DataError` naming the file of the first event flagged in ``bad: bool[B]``,
    ``message(i)`` about it, and how many ``unit`` are flagged; nothing if none is."""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{ev.files[ev.file_index[i]]}: {message(i)}; {int(bad.sum())} {unit} affected"
        )


class Task:
    """A model of one task with its run config and standardization (see the module doc).

    Attributes:
        run: the run config (model, data, training sections).
        standardizers: the fitted input standardizations, by name (``"objects"``, …).
        net: the network (a loaded model's, in eval mode), or None before training.
        path: the model directory it was loaded from, or None.
        metrics: the validation metrics saved with the model.
        domain: the domain of its training data, checked at inference
            (:mod:`hepattn.tasks.domain`); None for models saved without one.
    """

    #: The ``task`` key of ``config.yaml``: ``"tagger"``, ``"matcher"``.
    name: ClassVar[str]
    #: The run config class (a :class:`~hepattn.config.Config`).
    run_config: ClassVar[type[Config]]
    #: What one input entry is, in counts: ``"jets"``, ``"events"``.
    unit: ClassVar[str]
    #: The model card, ``str.format`` ted with the training info
    #: (:func:`~hepattn.tasks.trainer.train_task`).
    card_template: ClassVar[str]
    #: Entries per inference batch; divides :data:`hepattn.tasks.friends.BATCH_ALIGN`, so
    #: that answers read in chunks equal those of one read bit for bit.
    predict_batch: ClassVar[int] = 1024

    def __init__(
        self,
        run,
        standardizers: dict[str, Standardizer] | None = None,
        net: torch.nn.Module | None = None,
        path: Path | None = None,
        metrics: dict | None = None,
        domain: Domain | None = None,
    ) -> None:
        self.run = run
        self.standardizers = dict(standardizers or {})
        self.net = net
        self.path = path
        self.metrics = dict(metrics or {})
        #: the domain of the training data (:mod:`hepattn.tasks.domain`); None: not recorded
        self.domain = domain

    # ---- hooks -------------------------------------------------------------------------

    def spec(self, need_labels: bool) -> PadSpec:
        """What to pad per object of ``run.data.collection``."""
        raise NotImplementedError

    def finish(self, ev: Events, need_labels: bool) -> Events:
        """Checked labels and derived fields of freshly read events (in place)."""
        return ev

    def input_layout(self, need_labels: bool = False) -> tuple[dict[str, PadSpec], tuple[str, ...]]:
        """What the model reads: the schema collections with what is padded of each, and the
        event-level fields (beyond the labels and weights); default: ``run.data.collection``."""
        return {self.run.data.collection: self.spec(need_labels)}, ()

    def read_source(
        self,
        paths,
        schema: str,
        spec: PadSpec,
        entry_stop,
        tree,
        nonfinite: str = "error",
        select: Callable[[Events], Events] | None = None,
        friends=None,
        entry_start: int = 0,
        btag: BtagPolicy | None = None,
        require_targets: bool = False,
    ) -> Events:
        """Read entries [``entry_start``, ``entry_stop``) of ``paths`` — ROOT files through
        ``schema``, in-memory arrays, or SPANet-layout HDF5 — as the model reads them
        (:meth:`input_layout`, the main collection padded by ``spec``), through the one reader
        entry :func:`~hepattn.data.read_inputs` (``nonfinite``, ``select``, ``friends`` and
        ``btag`` as there); with labels also the :meth:`target_branches` (regression
        targets), which a file must then hold when ``require_targets`` (training)."""
        from hepattn.data import read_inputs

        colls, _ = self.input_layout()
        colls[self.run.data.collection] = spec
        return read_inputs(
            paths,
            schema,
            colls,
            entry_start=entry_start,
            entry_stop=entry_stop,
            tree=tree,
            nonfinite=nonfinite,
            select=select,
            friends=friends,
            collection=self.run.data.collection,
            topology=self.input_topology(),
            btag=btag,
            targets=self.target_branches(schema) if spec.labels else None,
            require_targets=require_targets,
        )

    def target_branches(self, schema) -> dict[str, str]:
        """Event-level target branches read with the labels (name → branch; default none)."""
        return {}

    def input_topology(self):
        """The declared topology the inputs must serve (:mod:`hepattn.topology`), or None."""
        return None

    def trainable(self, ev: Events) -> Events:
        """The events that carry a loss (default: all)."""
        return ev

    def standardized(self, ev: Events) -> Events:
        """``ev`` with event-level inputs standardized (default: none to standardize)."""
        return ev

    def fit_standardizers(self, ev: Events) -> dict[str, Standardizer]:
        objs = ev[self.run.data.collection]
        return {"objects": Standardizer.fit(objs.values, objs.mask, objs.features)}

    def build(self) -> torch.nn.Module:
        raise NotImplementedError

    def loss(self, model: torch.nn.Module, batch) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, model: torch.nn.Module, loader, device) -> dict:
        raise NotImplementedError

    def summarize(self, sums: dict[str, float]) -> dict:
        raise NotImplementedError

    def card_info(self, ev_train: Events, scale: float) -> dict[str, Any]:
        """Task-specific entries of the card (``scale``: events of the training set per
        event of ``ev_train``, above 1 when streaming)."""
        return {}

    def report(self, ev: Events, progress: bool = False) -> tuple[dict, dict]:
        """Metrics of this trained model on labelled events (JSON-ready), and the arrays
        its plots need."""
        raise NotImplementedError

    def format_report(self, report: dict) -> str:
        raise NotImplementedError

    def plot(self, report: dict, arrays: dict, out_dir: Path) -> list[Path]:
        """Write the report's plots into ``out_dir``; return their paths."""
        return []

    # ---- shared ------------------------------------------------------------------------

    def apply_weight(self, weight: str | None) -> bool:
        """Evaluate with the event weights of ``weight``: None keeps the run config's
        ``data.weight`` (read where the files have it), ``"none"`` evaluates unweighted, a
        field name weights by that event field, which the inputs must then have. Returns
        whether the field is required (:meth:`read`'s ``require_weight``)."""
        if weight is None:
            return False
        field = None if weight.lower() == "none" else weight
        self.run = dataclasses.replace(
            self.run, data=dataclasses.replace(self.run.data, weight=field)
        )
        return field is not None

    def read(
        self,
        paths,
        schema: str | None = None,
        need_labels: bool = False,
        entry_stop: int | None = None,
        tree: str | None = None,
        nonfinite: str = "error",
        check: bool = True,
        require_weight: bool = False,
        select: Callable[[Events], Events] | None = None,
        friends=None,
        entry_start: int = 0,
        btag: BtagPolicy | None = None,
        domain: str = "warn",
        require_targets: bool = False,
    ) -> Events:
        """Read ``paths`` as this model expects (features, padding), optionally with labels
        (and then the event weights of ``data.weight``, :mod:`hepattn.tasks.weights`);
        entries [``entry_start``, ``entry_stop``) counted over all files, as one chain.

        ``paths``: files, globs, or a mapping of branch name → in-memory array
        (:func:`~hepattn.data.read_events`). ``schema`` overrides the one the run config
        (hence a saved model) remembers; ``nonfinite="drop"`` drops objects holding NaN/inf
        (default: an error). A loaded model also checks the inputs against what it was
        trained on (:meth:`check_inputs`) unless ``check`` is False (inputs the network will
        not see: ``match --method chi2``). ``require_weight`` (training): a weight field the
        schema lacks is an error rather than unweighted events. ``select``: keep only these
        events of each chunk read (a validation split). ``friends``: one friend file per
        input file (``hepattn label`` output), read for the branches the inputs lack
        (:func:`~hepattn.data.root.iterate_branches`); ROOT inputs only. ``btag``: b-tag
        values outside [0, 1] (:class:`~hepattn.data.btag.BtagPolicy`: defaults replaced,
        others refused or dropped; default: refused), for the network and the baselines
        alike. ``domain``: inputs outside the loaded model's domain are counted and warned
        about (``"warn"``), refused (``"error"``) or not checked (``"ignore"``)
        (:mod:`hepattn.tasks.domain`; with ``check`` only). ``require_targets`` (training):
        with labels, a target branch (:meth:`target_branches`) the inputs lack is an error
        rather than NaN targets.
        """
        from hepattn.data import input_format

        d = self.run.data
        spec = self.spec(need_labels)
        name = schema or d.schema
        root = input_format(paths) != "spanet-h5"
        if spec.labels and root:
            have = get_schema(name).collection(d.collection).labels
            missing = [lab for lab in spec.labels if lab not in have]
            if missing:
                raise DataError(
                    f"schema {get_schema(name).name!r} gives collection {d.collection!r} no "
                    f"label {missing[0]!r} (it has {sorted(have)}): {self.name} training and "
                    "evaluation need it"
                )
        if need_labels and require_weight and d.weight is not None and root:
            s = get_schema(name)
            check_weight_field(d.weight, s.event, s.name)
        try:
            ev = self.read_source(
                paths,
                name,
                spec,
                entry_stop,
                tree,
                nonfinite,
                select,
                friends=friends,
                entry_start=entry_start,
                btag=btag,
                require_targets=need_labels and require_targets,
            )
        except SchemaMismatchError as err:
            if schema is not None or self.path is None:
                raise
            raise SchemaMismatchError(
                f"{err} [schema {name!r} is the one the model remembers; --schema overrides it]"
            ) from None
        label = str(name) if isinstance(name, str | os.PathLike) else get_schema(name).name
        ev = self._finish(ev, need_labels, require_weight, label)
        if check and self.path is not None:
            self.check_inputs(ev, name)
            self.check_domain(ev, domain)
        return ev

    def _finish(self, ev: Events, need_labels: bool, require_weight: bool, schema: str) -> Events:
        """:meth:`finish`, then with labels the event weights (:func:`read_weights`)."""
        ev = self.finish(ev, need_labels)
        if need_labels:
            read_weights(ev, self.run.data.weight, schema, require_weight)
        return ev

    def check_inputs(self, ev: Events, schema: str) -> None:
        """Refuse inputs outside what the loaded model was trained on: a feature that was
        0 or 1 in all its training objects (a b-tag decision) must be 0 or 1 here too — a
        continuous score would silently change the answers."""
        objs = ev[self.run.data.collection]
        std = self.standardizers.get("objects")
        coll = get_schema(schema).collections.get(self.run.data.collection)
        for feature in std.binary if std is not None else ():
            if feature not in objs.features:
                continue
            col = objs.values[..., objs.features.index(feature)]
            bad = (col != 0) & (col != 1) & objs.mask
            branch = coll.all_branches().get(feature, feature) if coll is not None else feature
            refuse(
                ev,
                bad.any(axis=1),
                lambda i, col=col, bad=bad, feature=feature, branch=branch: (
                    f"branch {branch!r} holds values that are neither 0 nor 1 (entry "
                    f"{ev.entry[i]}: {float(col[i][bad[i]][0]):.4g}), but model {self.path} "
                    f"was trained on 0/1 {feature} decisions; give it the decision (score above "
                    "your working point → 1, else 0), e.g. with a schema reading the decision "
                    "branch"
                ),
                "events",
            )
        self._warn_decisions_for_scores(objs, std, coll)

    def _warn_decisions_for_scores(self, objs, std, coll) -> None:
        """Warn when a feature that was continuous in training (a b-tag score) holds only 0
        and 1 here (a decision given where the model reads the score): the answers are then
        those of jets the model never saw, not wrong in a detectable way."""
        binary = set(std.binary) if std is not None else set()
        for feature in objs.features:
            if feature in binary or not feature.startswith("btag"):
                continue
            col = objs.values[..., objs.features.index(feature)][objs.mask]
            if col.size >= 20 and np.isin(col, (0.0, 1.0)).all():
                branch = coll.all_branches().get(feature, feature) if coll is not None else feature
                log.warning(
                    "branch %r holds only 0 and 1, but model %s was trained on continuous %s "
                    "values (a b-tag score): give it the score branch, not the decision",
                    branch,
                    self.path,
                    feature,
                )

    def quantities(self, ev: Events) -> dict[str, Quantity]:
        """What the domain records and checks (:mod:`hepattn.tasks.domain`): every feature of
        every collection the model reads, per object (``<collection>.<feature>``, with the
        standardization the network applies), the objects per event before truncation
        (``<collection>.count``) and the event-level inputs (``event.<field>``)."""
        colls, event = self.input_layout()
        main = self.run.data.collection
        out: dict[str, Quantity] = {}
        for name in colls:
            objs = ev[name]
            std = self.standardizers.get("objects" if name == main else name)
            for i, feature in enumerate(objs.features):
                norm = None
                if std is not None and feature in std.features:
                    j = std.features.index(feature)
                    norm = (float(std.mean[j]), float(std.std[j]))
                out[f"{name}.{feature}"] = Quantity(objs.values[..., i], objs.mask, norm)
            if objs.counts is not None:
                out[f"{name}.count"] = Quantity(objs.counts.astype(np.float64))
        for field in event:
            out[f"event.{field}"] = Quantity(np.asarray(ev.event[field], np.float64))
        return out

    def object_counts(self, ev: Events) -> dict[str, np.ndarray]:
        """Objects per event before truncation of the collection the model cuts at
        ``max_objects`` (the main one; one-object collections take their leading object by
        design)."""
        counts = ev[self.run.data.collection].counts
        return {} if counts is None else {self.run.data.collection: counts}

    def measure_domain(self, ev: Events, source: str = "") -> Domain:
        """The domain of the training events ``ev`` (after :meth:`fit_standardizers`)."""
        caps = {self.run.data.collection: int(self.spec(False).max_objects)}
        return Domain.measure(self.quantities(ev), caps, source)

    def record_domain(self, paths, source: str, entry_stop: int | None = None) -> Domain:
        """Measure the domain of a saved model from (a part of) its training files and write
        it into the model directory: ``domain.json`` and the card's "Domain" section
        (replaced where there is one); the weights are not touched. For models saved before
        domains were recorded, from the start of the same training recipe."""
        if self.path is None:
            raise ModelError("record_domain needs a saved model (Task.load)")
        ev = self.read(paths, need_labels=True, entry_stop=entry_stop, check=False)
        self.domain = self.measure_domain(ev, source)
        from hepattn.models import set_card_section

        write_json(self.path / "domain.json", self.domain.to_dict())
        title, _, body = self.domain.card().partition("\n")
        set_card_section(self.path / "card.md", title.removeprefix("## "), body)
        return self.domain

    def check_domain(self, ev: Events, policy: str = "warn") -> DomainTally | None:
        """Count (or refuse, ``policy="error"``) the inputs outside the model's domain
        (:meth:`Domain.check`); nothing for a model without a recorded domain."""
        if self.domain is None or policy == "ignore":
            return None

        def where(i: int) -> str:
            return f"{ev.files[ev.file_index[i]]}: entry {ev.entry[i]}"

        return self.domain.check(
            self.quantities(ev), self.object_counts(ev), where, str(self.path), policy
        )

    def dataset(self, ev: Events) -> PaddedDataset:
        """A dataset of the standardized inputs of ``ev``."""
        objs = self.standardizers.get("objects")
        return PaddedDataset(self.standardized(ev), self.run.data.collection, objs)

    def prepare(self, ev: Events) -> Events:
        """A freshly read training chunk as the model trains on it (streamed training)."""
        ev = self._finish(ev, True, True, str(self.run.data.schema))
        return self.standardized(self.trainable(ev))

    def prepare_part(self, ev: Events, split, offsets: Mapping[str, int]) -> Events:
        """:meth:`prepare` of the training part of a streamed chunk (``--val-fraction``)."""
        return self.prepare(split.part(ev, "train", offsets))

    def saved_config(self) -> dict[str, Any]:
        return {"task": self.name, **self.run.to_dict()}

    def save_model(self, model: torch.nn.Module, directory: Path, metrics: dict) -> None:
        domain = None if self.domain is None else self.domain.to_dict()
        save_model(
            directory, self.saved_config(), model, self.standardizers, metrics, domain=domain
        )

    #: Task names models of this task were saved under before (loaded as this task).
    former_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def upgrade_config(cls, config: dict) -> dict:
        """A saved ``config.yaml`` of an earlier version as this version reads it (default:
        unchanged)."""
        return config

    @classmethod
    def load(cls, model: str | os.PathLike | None = None):
        """A model directory, or ``None`` / ``"default"`` for the bundled model of the task."""
        return cls.load_dir(resolve_model(model, cls.name))

    @classmethod
    def load_dir(cls, path: str | os.PathLike):
        """The model saved in directory ``path`` (:func:`hepattn.models.load_saved`)."""
        saved = load_saved(path, cls.name, cls.former_names)
        saved.config = cls.upgrade_config(saved.config)
        cfg = {k: v for k, v in saved.config.items() if k not in ("task", "classes")}
        try:
            run = cls.run_config.from_dict(cfg)
        except (HepattnError, TypeError, ValueError) as err:
            raise ModelError(f"{saved.path / 'config.yaml'}: {err}") from None
        task = cls(run, saved.standardizers, None, saved.path)
        check_standardizers(saved, task.standardizer_features())
        task.metrics = saved.metrics
        if saved.domain is not None:
            task.domain = Domain.from_dict(saved.domain, str(saved.path / "domain.json"))
        task.net = task.build()
        load_state(saved, task.net)
        task.net.eval()
        return task

    def standardizer_features(self) -> dict[str, tuple[str, ...] | int]:
        """The standardization records the network needs: name → features, in order (or
        their number where ``config.yaml`` does not name them)."""
        return {"objects": tuple(self.run.data.features)}

    def _training_info(self) -> dict:
        """The model's ``training.json`` (what its card says), or {}."""
        import json

        if self.path is None or not (self.path / "training.json").exists():
            return {}
        return json.loads((self.path / "training.json").read_text())

    def has_training_info(self) -> bool:
        """Whether the model directory records its training and validation files."""
        info = self._training_info()
        return any(info.get(k) for k in ("train_paths", "train_files", "val_paths", "val_files"))

    def data_role(self, path: str | os.PathLike) -> str | None:
        """``"training"`` or ``"validation"`` when the model's card (``training.json``) lists
        ``path`` among its training or validation files, else None."""
        info = self._training_info()
        target = Path(path).resolve()
        for role in ("training", "validation"):
            key = role[:5] if role == "training" else role[:3]  # train_files, val_files
            listed = list(info.get(f"{key}_paths", []))
            listed += re.findall(r"`([^`]+)`", str(info.get(f"{key}_files", "")))
            for item in listed:
                parts = Path(item).parts
                if Path(item).is_absolute():
                    if Path(item) == target:
                        return role
                elif parts and target.parts[-len(parts) :] == parts:
                    return role
        return None

    def data_note(self, path: str | os.PathLike, entries: int) -> str | None:
        """A sentence for the user when ``path`` (``entries`` long) is listed as training or
        validation data of this model (:meth:`data_role`), else None."""
        role = self.data_role(path)
        if role is None:
            return None
        info = self._training_info()
        files = info.get("train_paths" if role == "training" else "val_paths") or [None]
        listed = info.get(f"{'train' if role == 'training' else 'val'}_{self.unit}")
        split = info.get("val_fraction") is not None  # the file holds both parts
        if len(files) == 1 and isinstance(listed, int) and listed != entries and not split:
            return (
                f"{path} has the name of this model's {role} data in its card, which lists "
                f"{listed:,} {self.unit} where this file has {entries:,}: it may have been "
                "regenerated since"
            )
        return (
            f"{path} is part of this model's {role} data (model card): its accuracy is not a "
            "held-out measurement"
        )

    @classmethod
    def train(
        cls,
        run,
        train_paths,
        val_paths,
        out_dir,
        **options: Any,
    ) -> dict:
        """Train a model of this task end to end; the best one lands in ``out_dir/best``.

        :func:`hepattn.tasks.trainer.train_task` with the keywords ``options`` as its
        :class:`~hepattn.tasks.trainer.TrainOptions` (``val_fraction``, ``schema``, ``tree``,
        ``resume``, ``stream``, ``btag``, …: their meaning is documented there). Returns the
        summary also written to ``out_dir/best/training.json``.
        """
        options = TrainOptions(**options)
        return train_task(cls, run, train_paths, val_paths, out_dir, options)

    def read_labelled(
        self,
        paths,
        schema: str | None = None,
        tree: str | None = None,
        nonfinite: str = "error",
        friends=None,
        weight: str | None = None,
        *,
        btag: BtagPolicy | None = None,
        domain: str = "warn",
        require_targets: bool = False,
    ) -> Events:
        """Labelled events to measure this model on (:meth:`read` with labels), weighted by
        the event field ``weight`` (:meth:`apply_weight`: None keeps the model's
        ``data.weight`` where the files have it, ``"none"`` is unweighted); ``btag`` and
        ``domain`` as :meth:`read`."""
        return self.read(
            paths,
            schema=schema,
            need_labels=True,
            tree=tree,
            nonfinite=nonfinite,
            friends=friends,
            require_weight=self.apply_weight(weight),
            btag=btag,
            domain=domain,
        )

    def evaluate_files(
        self,
        paths,
        *,
        schema: str | None = None,
        tree: str | None = None,
        out_dir: str | os.PathLike | None = None,
        json_path: str | os.PathLike | None = None,
        progress: bool = False,
        nonfinite: str = "error",
        friends=None,
        weight: str | None = None,
        btag: BtagPolicy | None = None,
        domain: str = "warn",
        calibration_dir: str | os.PathLike | None = None,
        variations=(),
        vary_options=None,
    ) -> tuple[dict, list[Path]]:
        """``hepattn eval``: the report on labelled files (with ``model``, ``files`` and the
        inputs outside the model's ``domain``), and the files written —
        ``out_dir/metrics.json`` and the plots, ``json_path``. ``friends``: one friend file
        per input (the labels), as :meth:`read`; ``weight``: the event weights of the
        metrics (:meth:`apply_weight`); ``btag``, ``domain`` as :meth:`read`;
        ``calibration_dir``: also the reliability of the model's probabilities
        (:meth:`write_calibration`); ``variations`` (:mod:`hepattn.tasks.systematics`, sizes
        ``vary_options``): the report again on each varied copy of the events, under
        ``variations: {name: {"report", "shift": {row: {"network": Δ}}}}`` (Δ of
        :meth:`headline`)."""
        with domain_summary() as tally:
            ev = self.read_labelled(
                paths, schema, tree, nonfinite, friends, weight, btag=btag, domain=domain
            )
        report, arrays = self.report(ev, progress)
        report = {"model": str(self.path), "files": ev.files, **report}
        if self.domain is not None and domain != "ignore":
            report["domain"] = tally.to_dict()
        if variations:
            report["variations"] = self._varied_reports(
                ev, report, variations, vary_options, schema, tree
            )
        written: list[Path] = []
        if out_dir is not None:
            out = Path(out_dir)
            written.append(write_json(out / "metrics.json", report))
            written += self.plot(report, arrays, out)
        if json_path is not None:
            written.append(write_json(json_path, report))
        if calibration_dir is not None:
            written += self.write_calibration(ev, Path(calibration_dir), progress)
        return report, written

    def headline(self, report: dict) -> dict[str, dict[str, float]]:
        """The figure of merit of a :meth:`report` per row and method (what a systematic
        variation shifts)."""
        raise NotImplementedError

    def _varied_reports(self, ev: Events, nominal: dict, names, options, schema, tree) -> dict:
        """:meth:`report` on each varied copy of ``ev`` and the shift of its :meth:`headline`;
        the b-tag variations reweight ``ev`` instead, their shift measured from the report
        with the central scale factors (``reference``)."""
        from hepattn.tasks.systematics import WEIGHT_VARIATIONS, btag_weights, vary_counted

        collection = self.run.data.collection
        base = self.headline(nominal)
        weights = None
        out = {}
        for name in names:
            extra, against = {}, base
            if name in WEIGHT_VARIATIONS:
                if weights is None:
                    weights, counted = btag_weights(
                        ev, collection, options, schema or self.run.data.schema, tree
                    )
                    central = self._reweighted(ev, weights["btag-central"])
                    reference = self.report(central)[0]
                against = self.headline(reference)
                report, _ = self.report(self._reweighted(ev, weights[name]))
                extra = {"reference": "btag-central", "reference_report": reference,
                         "counted": counted}  # fmt: skip
            else:
                varied, counted = vary_counted(ev, collection, name, options)
                report, _ = self.report(self.finish(varied, True))
                if counted["outside"]:
                    extra = {"counted": counted}
            head = self.headline(report)
            shift = {r: {m: head[r][m] - v for m, v in row.items()} for r, row in against.items()}
            out[name] = {"report": report, "shift": shift, **extra}
        return out

    @staticmethod
    def _reweighted(ev: Events, weight: np.ndarray) -> Events:
        """``ev`` with the event weights ``weight`` (a shallow copy; ``ev`` is unchanged)."""
        import dataclasses

        return dataclasses.replace(ev, derived={**ev.derived, "weight": weight})

    def write_calibration(self, ev: Events, out_dir: Path, progress: bool = False) -> list[Path]:
        """Write how far the model's probabilities can be trusted on labelled ``ev`` into
        ``out_dir`` (the files written); a task without probabilities to check refuses."""
        raise HepattnError(f"the {self.name} has no calibration report")

    def refuse_nan(self, ev: Events, nan: np.ndarray) -> None:
        """A :class:`~hepattn.models.ModelError` if the model answered NaN for an entry
        (``nan: bool[B]``) that has an answer: NaN weights or a broken standardization,
        never a result to write."""
        if nan.any():
            i = int(np.flatnonzero(nan)[0])
            raise ModelError(
                f"model {self.path} gives NaN outputs for {int(nan.sum())} of {len(nan)} "
                f"{self.unit} (first: {ev.files[ev.file_index[i]]} entry {ev.entry[i]}); "
                "its weights or standardization are broken, nothing was written"
            )

    def predict_batches(self, ev: Events, batch_size: int | None, progress: bool, desc: str):
        """Batches of the standardized inputs of ``ev`` in event order, with a progress bar."""
        from hepattn.progress import bar

        batch_size = batch_size or self.predict_batch
        ds = self.dataset(ev)
        with bar(progress, len(ev), desc, self.unit) as b:
            for batch in ds.batches(batch_size):
                yield batch
                b.update(len(batch))
