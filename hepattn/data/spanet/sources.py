"""What a conversion to the SPANet layout writes, gathered from its source in file order:
the jets (pt, eta, phi, mass, b-tag, parton label), the event fields and the topology's
one-object collections, from ROOT files through a schema (:func:`jets_from_root`) or from
padded :class:`~hepattn.data.reader.Events` (:func:`jets_from_events`,
:func:`objects_from_events`). :mod:`.write` pads them and writes the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import awkward as ak
import numpy as np

from hepattn.data.btag import BtagPolicy
from hepattn.data.features import to_vector
from hepattn.data.reader import (
    Events,
    event_fields,
    log_notes,
    new_notes,
    prepare_collection,
    target_fields,
)
from hepattn.data.root import Paths, iterate_branches, open_tree, resolve_paths
from hepattn.data.schema import Schema
from hepattn.data.spanet.layout import KINEMATIC_INPUTS
from hepattn.errors import DataError, SchemaError
from hepattn.progress import bar
from hepattn.topology import JETS, Topology


def _kinematics(raw: dict[str, ak.Array], coll) -> dict[str, ak.Array]:
    """Jagged pt, eta, phi, mass of a collection read by :func:`prepare_collection`."""
    if coll.kinematics == "ptetaphim":
        return {k: raw[k] for k in KINEMATIC_INPUTS}
    counts = ak.num(raw[next(iter(coll.branches))], axis=1)
    vec = to_vector({r: ak.flatten(raw[r], axis=1) for r in coll.branches}, coll.kinematics)
    return {k: ak.unflatten(np.asarray(getattr(vec, k)), counts) for k in KINEMATIC_INPUTS}


def jets_from_root(
    paths: Paths,
    schema: Schema,
    collection: str,
    label: str,
    btag: str,
    tree: str | None,
    progress: bool = False,
    objects: Sequence[str] = (),
    targets: Mapping[str, str] | None = None,
    btag_policy: BtagPolicy | None = None,
) -> tuple[
    dict[str, ak.Array],
    dict[str, np.ndarray],
    dict[str, dict[str, ak.Array]],
    dict[str, np.ndarray],
]:
    """Jagged pt, eta, phi, mass, btag, label in file order, the event fields, the jagged
    pt, eta, phi, mass and fields of each collection of ``objects``, and the ``targets``
    (name → branch; NaN where a file lacks the branch: :func:`~hepattn.data.reader.
    target_fields`); b-tag values outside [0, 1] by ``btag_policy``
    (:mod:`hepattn.data.btag`)."""
    targets = dict(targets or {})
    coll = schema.collection(collection)
    for what, name, have in (("field", btag, coll.fields), ("label", label, coll.labels)):
        if name not in have:
            raise SchemaError(
                f"schema {schema.name!r}, collection {collection!r} has no {what} {name!r} "
                f"(it has {sorted(have)}); the SPANet layout needs b-tag and parton labels"
            )
    # only the b-tag field and the label of the jets are written (other fields may be absent)
    coll = dataclasses.replace(
        coll, fields={btag: coll.fields[btag]}, labels={label: coll.labels[label]}
    )
    branches = [*coll.branches.values(), coll.fields[btag], coll.labels[label]]
    branches += [coll.counter] if coll.counter else []
    branches = list(dict.fromkeys([*branches, *schema.branches(list(objects))]))
    branches += [b for b in schema.event.values() if b not in branches]
    jets: list[dict[str, ak.Array]] = []
    events: list[dict[str, np.ndarray]] = []
    others: dict[str, list[dict[str, ak.Array]]] = {c: [] for c in objects}
    total = sum(open_tree(p, tree, schema).num_entries for p in resolve_paths(paths))
    reading = bar(progress, total, "reading", "events")
    notes = new_notes()
    values: list[dict[str, np.ndarray]] = []
    optional = tuple(targets.values())
    for chunk in iterate_branches(paths, schema, branches, tree, "200 MB", optional=optional):
        reading.update(chunk.stop - chunk.start)
        values.append(target_fields(chunk, targets, False))
        raw = prepare_collection(chunk, collection, coll, "error", notes, btag_policy)
        jets.append({**_kinematics(raw, coll), "btag": raw[btag], "label": raw[label]})
        events.append(event_fields(chunk, schema))
        for c in objects:
            oc = schema.collection(c)
            raw = prepare_collection(chunk, c, oc, "error", notes, btag_policy)
            others[c].append({**_kinematics(raw, oc), **{k: raw[k] for k in oc.fields}})
    reading.close()
    log_notes(notes)  # b-tag defaults replaced, objects dropped: one warning each
    out = {k: ak.concatenate([j[k] for j in jets]) for k in jets[0]}
    ev = {k: np.concatenate([e[k] for e in events]) for k in events[0]}
    objs = {
        c: {k: ak.concatenate([o[k] for o in parts]) for k in parts[0]}
        for c, parts in others.items()
    }
    regs = {k: np.concatenate([v[k] for v in values]) for k in targets}
    return out, ev, objs, regs


def leading_objects(obj: dict[str, ak.Array]) -> tuple[dict[str, np.ndarray], int, int]:
    """Per event the leading object in pT (the first of equal pT, as the reader's stable
    sort): ``({"MASK": bool[B], name: float32[B]}, events without one, events with several)``."""
    n = np.asarray(ak.num(obj["pt"], axis=1))
    best = ak.argmax(obj["pt"], axis=1, keepdims=True)
    out: dict[str, np.ndarray] = {"MASK": n > 0}
    for name, values in obj.items():
        first = ak.fill_none(ak.firsts(values[best], axis=1), 0)
        out[name] = np.asarray(first).astype(np.float32)
    return out, int((n == 0).sum()), int((n > 1).sum())


def jets_from_events(
    ev: Events, collection: str, label: str
) -> tuple[dict[str, ak.Array], dict[str, np.ndarray]]:
    """The same from padded :class:`Events` holding pt, eta, phi, mass, btag features."""
    coll = ev[collection]
    need = [*KINEMATIC_INPUTS, "btag"]
    missing = [n for n in need if n not in coll.features]
    if missing or label not in coll.labels:
        raise DataError(
            f"Events to convert need features {need} and label {label!r}; they have features "
            f"{list(coll.features)} and labels {sorted(coll.labels)}"
        )
    if coll.counts is not None and (coll.counts > coll.mask.sum(axis=1)).any():
        raise DataError(
            "these Events were truncated to "
            f"{coll.mask.shape[1]} jets when read; convert from the ROOT file instead, or read "
            "with a larger max_objects"
        )
    counts = coll.mask.sum(axis=1)
    n_ev, n_slot = coll.mask.shape
    rows = np.broadcast_to(np.arange(n_ev)[:, None], coll.mask.shape)[coll.mask]
    pos = coll.index[coll.mask]  # file-order position of each real jet
    order = np.lexsort((pos, rows))  # event-major, file order within the event
    src = np.flatnonzero(coll.mask.ravel())[order]

    def jag(values: np.ndarray) -> ak.Array:
        return ak.unflatten(values.reshape(n_ev * n_slot)[src], counts)

    out = {n: jag(coll.values[..., coll.features.index(n)]) for n in need}
    out["label"] = jag(coll.labels[label])
    fields = {k: v for k, v in ev.event.items() if np.ndim(v) == 1 and k != "n_jets"}
    return out, fields


def objects_from_events(
    ev: Events, topology: Topology
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, int], dict[str, int]]:
    """Each one-object collection of ``topology`` from padded :class:`Events` (its leading
    object, slot 0, with features pt, eta, phi, mass and any others)."""
    out, missing, extra = {}, {}, {}
    for c in topology.collections:
        if c.name == JETS or c.transverse:
            continue
        if c.name not in ev.collections:
            raise DataError(
                f"topology {topology.name!r} needs the collection {c.name!r}; the Events hold "
                f"{sorted(ev.collections)}"
            )
        coll = ev[c.name]
        lacking = [n for n in KINEMATIC_INPUTS if n not in coll.features]
        if lacking:
            raise DataError(
                f"Events to convert need features {list(KINEMATIC_INPUTS)} of {c.name!r}; it "
                f"has {list(coll.features)}"
            )
        mask = coll.mask[:, 0]
        obj = {"MASK": mask}
        for i, name in enumerate(coll.features):
            obj[name] = np.where(mask, coll.values[:, 0, i], 0).astype(np.float32)
        out[c.name] = obj
        missing[c.name] = int((~mask).sum())
        n = coll.counts if coll.counts is not None else coll.mask.sum(axis=1)
        extra[c.name] = int((n > 1).sum())
    return out, missing, extra
