"""Write ROOT samples (or padded :class:`~hepattn.data.reader.Events`) in the SPANet HDF5
layout (:mod:`.layout`), so that hepattn and SPANet run on identical events.

:func:`write_spanet_h5` keeps the file's own jet order (slot ``j`` of event ``e`` is jet ``j``
of entry ``e`` of the ROOT file) and takes pt, eta, phi and mass directly from the branches
(for ``ptetaphim`` schemas; other kinematic conventions are converted with vector). ``M`` is
the largest jet multiplicity unless ``max_jets`` is given; then the jets beyond slot
``max_jets − 1`` are dropped and targets pointing at them become −1 (logged with counts). A
parton carried by several jets (ambiguous) is written as −1, as
:func:`~hepattn.metrics.matching.truth_from_parton_labels` does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepattn.data.btag import BtagPolicy
from hepattn.data.outputs import atomic_path
from hepattn.data.reader import Events
from hepattn.data.root import Paths, schema_for
from hepattn.data.schema import Schema
from hepattn.data.spanet.layout import (
    KINEMATIC_INPUTS,
    check_schema,
    regression_dataset,
    require_h5py,
    spanet_targets,
    target_slots,
)
from hepattn.data.spanet.sources import (
    jets_from_events,
    jets_from_root,
    leading_objects,
    objects_from_events,
)
from hepattn.errors import DataError
from hepattn.topology import JETS, TTBAR_ALLHAD, Topology, topology_from_entry

log = logging.getLogger(__package__)  # "hepattn.data.spanet", as before the split

__all__ = ["SpanetSummary", "write_spanet_h5"]


@dataclass
class SpanetSummary:
    """What :func:`write_spanet_h5` wrote.

    Attributes:
        path: the file written.
        events: B.
        max_jets: M, jet slots per event.
        both_tops: events with every resonance reconstructable (all its jet daughters' targets
            ≥ 0, distinct jets): both tops for all-hadronic tt̄.
        one_top: events with some but not all resonances reconstructable (exactly one top
            for all-hadronic tt̄).
        truncated_events: events with more than M jets (only with ``max_jets``).
        dropped_jets: jets beyond slot M − 1, summed over events.
        lost_targets: targets set to −1 because their jet was dropped.
        ambiguous_targets: partons carried by several jets, written as −1.
        topology: the topology's name.
        resonances: per resonance, the events in which it is reconstructable.
        missing_objects: per one-object collection (a lepton), events without one (MASK
            False).
        extra_objects: per one-object collection, events with several (the leading in pT is
            written).
    """

    path: Path
    events: int
    max_jets: int
    both_tops: int
    one_top: int
    truncated_events: int = 0
    dropped_jets: int = 0
    lost_targets: int = 0
    ambiguous_targets: int = 0
    topology: str = TTBAR_ALLHAD.name
    resonances: dict[str, int] = field(default_factory=dict)
    missing_objects: dict[str, int] = field(default_factory=dict)
    extra_objects: dict[str, int] = field(default_factory=dict)


def _pad_file_order(jagged: ak.Array, n_slot: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(dtype[B, M], keep)``: jets in file order in their slot, 0 after; kept-jet flags."""
    counts = np.asarray(ak.num(jagged, axis=1), dtype=np.int64)
    flat = np.asarray(ak.flatten(jagged, axis=1))
    local = np.asarray(ak.flatten(ak.local_index(jagged, axis=1)), dtype=np.int64)
    event = np.repeat(np.arange(len(counts)), counts)
    keep = local < n_slot
    out = np.zeros(len(counts) * n_slot, dtype=dtype)
    out[event[keep] * n_slot + local[keep]] = flat[keep]
    return out.reshape(len(counts), n_slot), keep


def write_spanet_h5(
    path: str | os.PathLike,
    source: Paths | Events,
    *,
    schema: str | Schema | Mapping[str, Any] | None = None,
    max_jets: int | None = None,
    collection: str = "jets",
    label: str = "parton",
    btag: str = "btag",
    tree: str | None = None,
    compression: str | None = "gzip",
    progress: bool = False,
    topology: str | os.PathLike | Topology | None = None,
    btag_policy: BtagPolicy | None = None,
) -> SpanetSummary:
    """Write jets, the topology's other inputs and the parton targets in the SPANet layout
    (:mod:`hepattn.data.spanet.layout`); atomic.

    Args:
        path: the ``.h5`` file to write (under a unique temporary name, renamed when
            complete).
        source: ROOT file(s) read with ``schema``, or padded :class:`Events` whose
            ``collection`` has features pt, eta, phi, mass, btag, label ``label``, and no jet
            truncated (``index`` restores the file's jet order); with a topology reading a
            lepton, its collection with features pt, eta, phi, mass; with a MET, the event
            fields ``met_pt``, ``met_phi``.
        schema: schema of the ROOT file(s): a jet collection with field ``btag`` and per-jet
            label ``label`` (the index in the topology's parton order, e.g. 0…5 = b, q1, q2,
            b′, q1′, q2′, −1), and the topology's other collections (a collection of the
            same name; a MET: event fields ``<name>_pt``, ``<name>_phi``); None: the
            built-in schema that reads ``collection`` of the first file, detected as
            ``hepattn inspect`` does.
        max_jets: M; default the largest jet multiplicity. Jets beyond are dropped (warned).
        compression: h5py compression of every dataset (None for none).
        progress: show a progress bar while reading.
        topology: a built-in topology's name, a YAML file or a
            :class:`~hepattn.topology.Topology`; None: all-hadronic tt̄ (the layout written
            before topologies existed, unchanged).
        btag_policy: b-tag values outside [0, 1] in ROOT files
            (:class:`~hepattn.data.btag.BtagPolicy`; default: refused).

    Returns:
        A :class:`SpanetSummary` (events, M, events with all / some resonances
        reconstructable, …).
    """
    h5py = require_h5py()
    topo = topology_from_entry(topology)
    targets = spanet_targets(topo)
    others = [c for c in topo.collections if c.name != JETS]
    single = [c.name for c in others if not c.transverse]
    path = Path(path)
    missing: dict[str, int] = {}
    extra: dict[str, int] = {}
    if isinstance(source, Events):
        jets, fields = jets_from_events(source, collection, label)
        objects, missing, extra = objects_from_events(source, topo)
        regressions = dict(source.targets)
    else:
        schema = schema_for(source, schema, tree, [collection, *single])
        check_schema(schema, topo)
        wanted = {r.key: schema.event.get(r.field, r.field) for r in topo.regressions}
        jets, fields, raw_objects, regressions = jets_from_root(
            source, schema, collection, label, btag, tree, progress, single, wanted, btag_policy
        )
        objects = {}
        for name, obj in raw_objects.items():
            objects[name], missing[name], extra[name] = leading_objects(obj)
    for c in others:
        if c.transverse:
            lacking = [f"{c.name}_{k}" for k in ("pt", "phi") if f"{c.name}_{k}" not in fields]
            if lacking:
                raise DataError(
                    f"topology {topo.name!r} needs the transverse collection {c.name!r}: the "
                    f"source has no event fields {lacking} (it has {sorted(fields)})"
                )
    counts = np.asarray(ak.num(jets["pt"], axis=1), dtype=np.int64)
    largest = int(counts.max(initial=0))
    n_slot = max(largest, 1) if max_jets is None else int(max_jets)
    if n_slot < 1:
        raise DataError(f"max_jets must be ≥ 1, got {max_jets}")
    padded = {k: _pad_file_order(jets[k], n_slot, np.float32)[0] for k in KINEMATIC_INPUTS}
    padded["btag"] = _pad_file_order(jets["btag"], n_slot, np.float32)[0]
    mask = np.arange(n_slot) < np.minimum(counts, n_slot)[:, None]
    truth, lost, ambiguous = target_slots(jets["label"], n_slot, [p for *_, p in targets])
    over = counts > n_slot
    ok = np.stack(
        [
            (truth[:, [k for k, t in enumerate(targets) if t[0] == r.name]] >= 0).all(axis=1)
            for r in topo.resonances
        ],
        axis=1,
    )
    summary = SpanetSummary(
        path=path,
        events=len(counts),
        max_jets=n_slot,
        both_tops=int(ok.all(axis=1).sum()),
        one_top=int((ok.any(axis=1) & ~ok.all(axis=1)).sum()),
        truncated_events=int(over.sum()),
        dropped_jets=int((counts[over] - n_slot).sum()),
        lost_targets=lost,
        ambiguous_targets=ambiguous,
        topology=topo.name,
        resonances={r.name: int(ok[:, i].sum()) for i, r in enumerate(topo.resonances)},
        missing_objects=missing,
        extra_objects=extra,
    )
    if summary.truncated_events:
        log.warning(
            "%s: %d of %d events have more than %d jets (up to %d): %d jets dropped, "
            "%d targets pointing at them set to -1",
            path,
            summary.truncated_events,
            summary.events,
            n_slot,
            largest,
            summary.dropped_jets,
            lost,
        )
    if ambiguous:
        log.warning(
            "%s: %d partons are matched to several jets; SPANet targets hold one jet, written -1",
            path,
            ambiguous,
        )
    for name, n in extra.items():
        if n:
            log.info(
                "%s: %d events have several %s objects; the leading in pT is written", path, n, name
            )
    opts = {} if compression is None else {"compression": compression}
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        src = f.create_group("INPUTS/Source")
        src.create_dataset("MASK", data=mask, **opts)
        for name, values in padded.items():
            src.create_dataset(name, data=values, **opts)
        for c in others:  # SPANet global inputs: one value per event
            group = f.create_group(f"INPUTS/{c.name}")
            if c.transverse:
                met = np.asarray(fields[f"{c.name}_pt"])
                phi = np.asarray(fields[f"{c.name}_phi"])
                group.create_dataset("met", data=met, **opts)
                group.create_dataset("phi", data=phi, **opts)
                group.create_dataset("sin_phi", data=np.sin(phi).astype(np.float32), **opts)
                group.create_dataset("cos_phi", data=np.cos(phi).astype(np.float32), **opts)
            else:
                for name, values in objects[c.name].items():
                    group.create_dataset(name, data=values, **opts)
        for k, (t, q, _) in enumerate(targets):
            f.create_dataset(f"TARGETS/{t}/{q}", data=truth[:, k], **opts)
        for reg in topo.regressions:  # those the source has (SPANet's REGRESSIONS)
            values = regressions.get(reg.key)
            if values is not None and not np.isnan(values).all():
                data = np.asarray(values, np.float32)
                f.create_dataset(regression_dataset(reg), data=data, **opts)
        if "weight" in fields:
            f.create_dataset("WEIGHTS/weight", data=fields["weight"], **opts)
        if fields:
            ev_group = f.create_group("hepattn/event")
            ev_group.attrs["fields"] = list(fields)
            for name, values in fields.items():
                ev_group.create_dataset(name, data=values, **opts)
        meta = f.require_group("hepattn")
        meta.attrs["source"] = "Events" if isinstance(source, Events) else str(source)
        f.attrs["max_jets"] = n_slot
        f.attrs["parton_order"] = ",".join(f"{t}/{q}" for t, q, _ in targets)
        if topo != TTBAR_ALLHAD:  # the default: a file without the attribute is read as it
            f.attrs["topology"] = topo.name
    log.info("wrote %d events (%d jet slots) to %s", summary.events, n_slot, path)
    return summary
