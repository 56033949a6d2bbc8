"""Tagging and matching in memory, for analyses that never write files: awkward arrays in,
awkward arrays out, aligned with the input.

>>> import hepattn.api as ha
>>> out = ha.match(events.Jet, schema="nanoaod")     # coffea NanoEvents, b-tag scores
>>> out.assignment.t1_b                               # per event: index into events.Jet, -1 none
>>> out.prob.t1                                       # the chosen triplet's probability
>>> tags = ha.tag(towers)                             # [jets][towers] (or [events][jets][towers])
>>> tags.prob, tags.pred                              # float32[7] in CLASSES order; class, -1 none

The records go through the same checks, features, padding and model code as ``hepattn match``
and ``hepattn tag`` on ROOT files (:func:`hepattn.data.read_events` given a mapping of arrays),
so the answers are the same. Which field holds which role (:mod:`hepattn.data.arrays`):
``schema`` None reads with the model's own schema (its branch names, or those names without
their collection prefix: ``jet_pt`` → ``pt``); a schema name reads as that schema does
(``"nanoaod"``: ``Jet_btagDeepFlavB`` → ``btagDeepFlavB``, NanoEvents' own names); a mapping
``{role: field}`` names fields over the model's schema, e.g.
``{"btag_score": "btagDeepFlavB"}``. A role the records lack is one
:class:`~hepattn.errors.DataError` naming the field; NaN/inf values, negative pT and the
model's input checks (a b-tag score fed to a model trained on 0/1
decisions) are refused as for files. Loaded models are cached per process (``model`` may also
be a loaded :class:`~hepattn.tasks.base.Task`).

Lazy arrays (dask-awkward, coffea's NanoEvents with ``dask``): given dask-awkward collections,
:func:`tag` and :func:`match` return a dask-awkward collection — one lazy graph, computed with
the user's own scheduler — built with ``dask_awkward.map_partitions`` and the output's
structure declared up front (from the model's answer on zero events, no eager compute of the
inputs). Each task carries the model's *path*, never its weights: a worker process loads a
model once (:func:`load`'s cache) and reuses it for every partition it runs. The answers are
those of the eager call: the same assignments and classes, probabilities to float32 rounding (a
partition's events are batched with other neighbours).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import awkward as ak
import numpy as np

from hepattn.data.arrays import array_branches, field_overrides
from hepattn.data.schema import Schema, get_schema
from hepattn.errors import DataError

__all__ = ["load", "match", "tag"]

Model = str | os.PathLike | Any


@functools.lru_cache(maxsize=8)
def _load(task: str, model: str, topology: str | None):
    from hepattn.tasks.presets import task_class

    cls = task_class(task)
    return cls.load(model) if topology is None else cls.load(model, topology)


def load(task: str, model: Model = "default", topology: str | None = None):
    """The model ``task`` (``"tagger"`` or ``"matcher"``) as :func:`tag` and :func:`match` use
    it: a model directory or ``"default"`` (the bundled model; of ``topology`` for a matcher,
    all-hadronic tt̄ when None; a model directory must be for ``topology`` when given), loaded
    once per process; a loaded :class:`~hepattn.tasks.base.Task` is returned as is."""
    from hepattn.tasks.base import Task

    if isinstance(model, Task):
        return model
    return _load(task, str(model), None if task == "tagger" else topology)


def _schema_and_overrides(task, schema) -> tuple[Schema, dict[str, dict[str, str]]]:
    """The schema whose roles are read, and the user's ``{collection: {role: field}}``."""
    main = task.run.data.collection
    if schema is None:
        return get_schema(task.run.data.schema), {}
    if isinstance(schema, Mapping) and "collections" not in schema:
        return get_schema(task.run.data.schema), field_overrides(schema, main)
    return get_schema(schema), {}


def _read(task, inputs: Mapping[str, Any], schema, nonfinite: str, checks: Mapping[str, Any]):
    """The events of ``inputs`` (collection → records, event field → values) read as the
    model reads files; ``checks``: ``domain``, ``btag_default``, ``btag_out_of_range``."""
    from hepattn.data.btag import BtagPolicy

    colls, event = task.input_layout()
    base, overrides = _schema_and_overrides(task, schema)
    branches, mem = array_branches(inputs, base, colls, event, overrides)
    btag = BtagPolicy(checks.get("btag_default"), checks.get("btag_out_of_range", "error"))
    return task.read(
        branches, schema=mem, nonfinite=nonfinite, btag=btag, domain=checks.get("domain", "warn")
    )


def _is_lazy(x) -> bool:
    """Whether ``x`` (or a value of the mapping ``x``) is a dask-awkward collection."""
    values = x.values() if isinstance(x, Mapping) else [x]
    return any(type(v).__module__.startswith("dask_awkward") for v in values)


def _model_ref(task: str, model: Model, topology: str | None) -> str:
    """What a lazy graph's tasks carry of ``model``: its directory (or ``"default"``)."""
    from hepattn.tasks.base import Task

    if isinstance(model, Task):
        if model.path is None:
            raise DataError(f"a {task} not saved to a directory cannot run on dask-awkward arrays")
        return str(model.path)
    return str(model)


def _partition(name: str, keys, kwargs: dict, *parts):
    """One partition of a lazy :func:`tag` / :func:`match` (module-level: tasks pickle it by
    reference, with the model's path). On dask-awkward's typetracers (its column
    optimisation, and the output structure) the inputs' columns are marked as needed and the
    structure of the answer on zero events is returned: the model does not run on them."""
    func = {"tag": tag, "match": match}[name]
    lazy = any(ak.backend(p) == "typetracer" for p in parts)
    if lazy:
        for p in parts:
            ak.typetracer.touch_data(p)
        parts = tuple(ak.typetracer.length_zero_if_typetracer(p) for p in parts)
    data = dict(zip(keys, parts, strict=True)) if keys is not None else parts[0]
    out = func(data, **kwargs)
    return ak.Array(out.layout.to_typetracer(forget_length=True)) if lazy else out


def _lazy(name: str, data, kwargs: dict):
    """:func:`tag` / :func:`match` of dask-awkward ``data`` as one ``map_partitions`` node,
    its output structure taken from the answer on zero events."""
    from hepattn._optional import require

    dak = require("dask_awkward", "tagging and matching dask-awkward arrays")
    keys = list(data) if isinstance(data, Mapping) else None
    colls = [data[k] for k in keys] if keys is not None else [data]
    if not all(isinstance(c, dak.Array) for c in colls):
        raise DataError(f"{name}: give all inputs as dask-awkward arrays, or none")
    meta = _partition(name, keys, kwargs, *(c._meta for c in colls))
    run = functools.partial(_partition, name, keys, kwargs)
    return dak.map_partitions(run, *colls, meta=meta, label=f"hepattn-{name}")


def _length(inputs: Mapping[str, Any], name: str) -> int:
    arr = inputs.get(name)
    return len(arr) if arr is not None else 0


def tag(
    towers, model: Model = "default", schema=None, *, nonfinite: str = "error", domain: str = "warn"
) -> ak.Array:
    """Class probabilities of jets from their towers (constituents).

    Args:
        towers: per jet, its towers: a jagged record array ``[jets][towers]`` with the
            kinematic fields of the model's schema (``pt, eta, phi, e`` for the bundled
            tagger), or ``[events][jets][towers]``.
        model: a tagger directory, ``"default"`` (bundled) or a loaded tagger.
        schema: which fields hold which role (module doc).
        nonfinite: ``"error"`` or ``"drop"`` objects holding NaN/inf.
        domain: jets outside the tagger's domain (:mod:`hepattn.tasks.domain`: tower count,
            jet pT and mass, each feature) counted in a warning (``"warn"``), refused
            (``"error"``) or not checked (``"ignore"``).

    Returns:
        Records aligned with the jets of ``towers`` (``[jets]`` or ``[events][jets]``):
        ``prob`` (float32[7], class order :data:`hepattn.tasks.presets.CLASSES`; NaN for a jet
        with no towers) and ``pred`` (int32, the most probable class, −1 none) — the branches
        of ``hepattn tag``.
    """
    from hepattn.tasks.presets import CLASSES

    if _is_lazy(towers):
        ref = _model_ref("tagger", model, None)
        return _lazy("tag", towers, {"model": ref, "schema": schema, "nonfinite": nonfinite,
                                     "domain": domain})  # fmt: skip
    tagger = load("tagger", model)
    arr = towers if isinstance(towers, ak.Array) else ak.Array(towers)
    counts = None
    if arr.ndim == 3:  # events → jets → towers: tag the jets, then regroup them by event
        counts = ak.num(arr, axis=1)
        arr = ak.flatten(arr, axis=1)
    elif arr.ndim != 2:
        raise DataError(
            f"towers must be [jets][towers] or [events][jets][towers] records, got {arr.type}"
        )
    k = len(CLASSES)
    if len(arr) == 0:
        branches = {"prob": np.zeros((0, k), np.float32), "pred": np.zeros(0, np.int32)}
    else:
        ev = _read(tagger, {tagger.run.data.collection: arr}, schema, nonfinite, {"domain": domain})
        branches = tagger.tag(ev)
    out = ak.zip({"prob": ak.Array(branches["prob"]), "pred": branches["pred"]}, depth_limit=1)
    return out if counts is None else ak.unflatten(out, counts)


def match(
    jets,
    model: Model = "default",
    topology: str | None = None,
    schema=None,
    *,
    nonfinite: str = "error",
    domain: str = "warn",
    btag_default: float | None = None,
    btag_out_of_range: str = "error",
) -> ak.Array:
    """Jet–parton assignments of each event.

    Args:
        jets: the jets, a jagged record array ``[events][jets]`` (e.g. NanoEvents'
            ``events.Jet``); or, for a topology that also reads a lepton and the MET, a
            mapping ``{"jets": …, "lepton": [events][leptons] records (the leading one is
            used), "met_pt": …, "met_phi": …}``.
        model: a matcher directory, ``"default"`` (the bundled matcher of ``topology``) or a
            loaded matcher.
        topology: ``ttbar-allhad``, ``ttbar-ljets``, ``hh-4b`` or a topology YAML file; None:
            the model's (all-hadronic tt̄ for the bundled default).
        schema: which fields hold which role (module doc).
        nonfinite: ``"error"`` or ``"drop"`` objects holding NaN/inf.
        domain: inputs outside the matcher's domain (:mod:`hepattn.tasks.domain`) counted
            in a warning (``"warn"``), refused (``"error"``) or not checked (``"ignore"``).
        btag_default: the score used in place of b-tag defaults (NanoAOD's −1 for jets
            without b-tag information), e.g. 0; None: they are refused
            (:mod:`hepattn.data.btag`).
        btag_out_of_range: other b-tag values outside [0, 1]: ``"error"`` or ``"drop"`` those
            jets.

    Returns:
        One record per event: ``assignment`` with one field per parton of the topology
        (``t1_b, t1_q1, …``, :attr:`~hepattn.topology.Topology.qualified`) holding the index
        of its jet **in the event's own jet order** (−1: none; a lepton or MET daughter: 0),
        ``prob`` with one field per resonance (the chosen jets' probability, NaN: none) and,
        for matchers with the detection head, ``detection`` (probability that the resonance
        is reconstructable) and, for matchers with regression heads, ``regression`` with
        ``EVENT_<name>`` / ``<R>_<name>`` and its ``_sigma`` per regression (in the target's
        units) and, for matchers with classification heads, ``classification`` with
        ``EVENT_<class>_prob`` per class — the branches of ``hepattn match``.
    """
    if _is_lazy(jets):
        kwargs = {"model": _model_ref("matcher", model, topology), "topology": topology,
                  "schema": schema, "nonfinite": nonfinite, "domain": domain,
                  "btag_default": btag_default, "btag_out_of_range": btag_out_of_range}  # fmt: skip
        return _lazy("match", jets, kwargs)
    matcher = load("matcher", model, topology)
    main = matcher.run.data.collection
    inputs = dict(jets) if isinstance(jets, Mapping) else {main: jets}
    if main not in inputs and "jets" in inputs:
        inputs[main] = inputs.pop("jets")
    topo = matcher.topology
    n, r = topo.n_partons, len(topo.resonances)
    assignment, prob = np.zeros((0, n), np.int32), np.zeros((0, r), np.float32)
    det = prob if matcher.has_detection else None
    keys = [k for reg in matcher.regressions for k in (reg.key, f"{reg.key}_sigma")]
    regression = dict.fromkeys(keys, np.zeros(0, np.float32))
    class_keys = [o for c in matcher.classifications for o in c.outputs()]
    classes = dict.fromkeys(class_keys, np.zeros(0, np.float32))
    if _length(inputs, main) > 0:
        checks = {
            "domain": domain,
            "btag_default": btag_default,
            "btag_out_of_range": btag_out_of_range,
        }
        ev = _read(matcher, inputs, schema, nonfinite, checks)
        branches, _ = matcher.match(ev)
        assignment, prob = branches["assignment"], branches["prob"]
        if det is not None:
            det = np.stack([branches[f"{res.name}_detection"] for res in topo.resonances], 1)
        regression = {k: branches[k] for k in keys}
        classes = {k: branches[k] for k in class_keys}
    fields = {
        "assignment": ak.zip({q: assignment[:, p] for p, q in enumerate(topo.qualified)}),
        "prob": ak.zip({res.name: prob[:, i] for i, res in enumerate(topo.resonances)}),
    }
    if det is not None:
        fields["detection"] = ak.zip({res.name: det[:, i] for i, res in enumerate(topo.resonances)})
    if regression:
        fields["regression"] = ak.zip(regression)
    if classes:
        fields["classification"] = ak.zip(classes)
    return ak.zip(fields, depth_limit=1)
