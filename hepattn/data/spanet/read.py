"""Read SPANet-layout HDF5 files (:mod:`.layout`) as padded :class:`~hepattn.data.reader.Events`.

:func:`read_spanet_h5` computes features with the same code as the ROOT reader
(:class:`~hepattn.data.features.ObjectFeatures` on the masked jets,
:class:`~hepattn.data.padding.JaggedLayout` for the p_T sort and truncation), so a converted
file reads back to the same padded arrays as the ROOT file. ``index`` holds the jet's slot in
the HDF5 file (= its position in the ROOT file for a converted file);
``labels["parton"][e, n] = p`` when target ``p`` points at that jet (−1 otherwise; if two
targets point at one jet, the lower ``p`` wins, logged). Other per-jet datasets of
``INPUTS/Source`` (``btag``, ``qtag``, …) are available as features by name. With a topology,
each one-object collection is read as a one-slot collection of that name (features computed
the same way) and each transverse collection C gives the event fields ``C_pt``, ``C_phi`` —
what the topology matcher reads from a ROOT file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import awkward as ak
import numpy as np

from hepattn.data.features import AXIS_FEATURES, FEATURES, ObjectFeatures, to_vector
from hepattn.data.padding import JaggedLayout, PaddedCollection, TruncationStats
from hepattn.data.reader import Events, MissingTargetError
from hepattn.data.root import Paths, resolve_paths
from hepattn.data.spanet.layout import (
    KINEMATIC_INPUTS,
    get_dataset,
    open_h5,
    parton_labels,
    spanet_targets,
)
from hepattn.errors import DataError, SchemaError
from hepattn.topology import JETS, Topology, topology_from_entry

log = logging.getLogger(__package__)  # "hepattn.data.spanet", as before the split

__all__ = ["read_spanet_h5"]


def _check_finite(path: Path, name: str, flat: np.ndarray, event: np.ndarray) -> None:
    if np.issubdtype(flat.dtype, np.floating) and not np.isfinite(flat).all():
        bad = ~np.isfinite(flat)
        raise DataError(
            f"{path}: dataset {name!r} has {int(bad.sum())} non-finite values (NaN/inf) in "
            f"real jets, first in event {int(event[np.flatnonzero(bad)[0]])}"
        )


def _padded(
    path: Path,
    group: str,
    flat: dict[str, np.ndarray],
    mask: np.ndarray,
    features: tuple[str, ...],
    max_objects: int,
    stats: TruncationStats,
    label: np.ndarray | None,
    what: str = "per-jet",
) -> PaddedCollection:
    """The padded collection of the masked objects ``flat`` (slots ``mask: bool[B, M]``),
    with the features of the ROOT reader (:class:`ObjectFeatures`, :class:`JaggedLayout`)."""
    n_ev = len(mask)
    counts = mask.sum(axis=1).astype(np.int64)
    objs = to_vector({k: ak.Array(flat[k]) for k in KINEMATIC_INPUTS}, "ptetaphim")
    extra = {k: v for k, v in flat.items() if k not in KINEMATIC_INPUTS}
    if label is not None:
        extra["parton"] = label
    feats = ObjectFeatures(objs, counts, extra)
    for name in features:
        if name not in FEATURES and name not in AXIS_FEATURES and name not in extra:
            raise SchemaError(
                f"{path}: unknown feature {name!r}: kinematic features are {sorted(FEATURES)}, "
                f"axis features {sorted(AXIS_FEATURES)}, and the {what} datasets of "
                f"'{group}' are {sorted(flat)}"
            )
    layout = JaggedLayout(ak.unflatten(feats.kin("pt"), counts), max_objects)
    stats.add(layout.counts, max_objects)
    values = np.empty((n_ev, max_objects, len(features)), np.float32)
    for i, name in enumerate(features):
        values[..., i] = layout.pad_flat(feats(name))
    p4 = np.stack([layout.pad_flat(feats.kin(c)) for c in ("px", "py", "pz", "E")], axis=-1)
    # JaggedLayout's index counts masked objects; map it to the HDF5 slot (equal if no holes)
    local = layout.index()
    index = np.full_like(local, -1)
    if counts.sum():
        slots = np.nonzero(mask)[1]
        starts = np.cumsum(counts) - counts
        real = local >= 0
        index[real] = slots[(starts[:, None] + local)[real]]
    return PaddedCollection(
        values=values,
        mask=layout.mask,
        p4=p4,
        index=index,
        features=features,
        labels={"parton": layout.pad_flat(label, fill=-1, dtype=np.int64)}
        if label is not None
        else {},
        counts=layout.counts,
    )


def _input_group(f, path: Path, name: str, topology: Topology, what: str):
    group = f.get(f"INPUTS/{name}")
    if group is None or hasattr(group, "shape"):
        inputs = f.get("INPUTS")
        have = sorted(inputs.keys()) if inputs is not None and not hasattr(inputs, "shape") else []
        raise DataError(
            f"{path}: topology {topology.name!r} needs the input 'INPUTS/{name}' ({what}); "
            f"the file's INPUTS are {have}"
        )
    return group


def _event_dataset(f, path: Path, name: str, sel: slice, n_total: int) -> np.ndarray:
    ds = get_dataset(f, path, name)
    if ds.shape != (n_total,):
        raise DataError(
            f"{path}: dataset {name!r} has shape {ds.shape}, expected ({n_total},): one value "
            "per event, as many events as the jets' MASK"
        )
    return np.asarray(ds[sel])


def _read_object(
    f,
    path: Path,
    name: str,
    features: tuple[str, ...],
    sel: slice,
    n_total: int,
    topology: Topology,
) -> PaddedCollection:
    """The one-object collection ``INPUTS/<name>`` (a lepton) as a 1-slot collection."""
    group = _input_group(f, path, name, topology, "one object per event: pt, eta, phi, mass")
    prefix = f"INPUTS/{name}"
    if "MASK" in group:
        mask = _event_dataset(f, path, f"{prefix}/MASK", sel, n_total).astype(bool)
    else:  # a SPANet global input: always present
        mask = np.ones(sel.stop - sel.start, bool)
    event = np.arange(sel.start, sel.stop)[mask]
    names = [k for k, v in group.items() if hasattr(v, "shape") and k != "MASK"]
    flat: dict[str, np.ndarray] = {}
    for key in [*KINEMATIC_INPUTS, *(n for n in names if n not in KINEMATIC_INPUTS)]:
        if key not in KINEMATIC_INPUTS and group[key].shape != (n_total,):
            continue  # not a per-event value
        values = _event_dataset(f, path, f"{prefix}/{key}", sel, n_total)[mask]
        if values.dtype == bool:
            values = values.astype(np.float32)
        _check_finite(path, f"{prefix}/{key}", values, event)
        flat[key] = values
    return _padded(
        path, prefix, flat, mask[:, None], features, 1, TruncationStats(), None, "per-event"
    )


def _read_transverse(
    f, path: Path, name: str, sel: slice, n_total: int, topology: Topology
) -> dict[str, np.ndarray]:
    """``{<name>_pt, <name>_phi}`` of the transverse collection ``INPUTS/<name>`` (MET)."""
    _input_group(f, path, name, topology, "the missing transverse momentum: met, phi")
    out = {}
    for key, part in (("met", "pt"), ("phi", "phi")):
        values = _event_dataset(f, path, f"INPUTS/{name}/{key}", sel, n_total)
        _check_finite(path, f"INPUTS/{name}/{key}", values, np.arange(sel.start, sel.stop))
        out[f"{name}_{part}"] = values
    return out


def _read_one(
    path: Path,
    features: tuple[str, ...],
    max_objects: int,
    labels: tuple[str, ...],
    source: str,
    targets: Sequence[tuple[str, str]],
    partons: Sequence[int],
    topology: Topology,
    objects: Mapping[str, tuple[str, ...]],
    start: int,
    stop: int | None,
    stats: TruncationStats,
    regressions: Mapping[str, str] | None = None,
    require_regressions: bool = False,
) -> tuple[
    PaddedCollection,
    dict[str, PaddedCollection],
    dict[str, np.ndarray],
    np.ndarray,
    int,
    dict[str, np.ndarray],
]:
    with open_h5(path) as f:
        written = f.attrs.get("topology")  # hepattn writes it for all but all-hadronic tt̄
        if written is not None and written != topology.name:
            raise DataError(
                f"{path}: written for topology {written!r}, read as {topology.name!r}; "
                f"read it with --topology {written}"
            )
        group = f"INPUTS/{source}"
        mask_ds = get_dataset(f, path, f"{group}/MASK")
        if mask_ds.ndim != 2:
            raise DataError(
                f"{path}: dataset '{group}/MASK' has shape {mask_ds.shape}, expected "
                "[N_events, MAX_JETS]"
            )
        n_total = mask_ds.shape[0]
        sel = slice(min(start, n_total), n_total if stop is None else min(stop, n_total))
        mask = np.asarray(mask_ds[sel]).astype(bool)
        counts = mask.sum(axis=1).astype(np.int64)
        event = np.repeat(np.arange(sel.start, sel.stop), counts)
        names = [k for k, v in f[group].items() if hasattr(v, "shape") and k != "MASK"]
        flat: dict[str, np.ndarray] = {}
        for name in [*KINEMATIC_INPUTS, *(n for n in names if n not in KINEMATIC_INPUTS)]:
            ds = get_dataset(f, path, f"{group}/{name}")
            if ds.shape != mask_ds.shape:
                if name in KINEMATIC_INPUTS:
                    raise DataError(
                        f"{path}: dataset '{group}/{name}' has shape {ds.shape}, but "
                        f"'{group}/MASK' has {mask_ds.shape}: they must be equal"
                    )
                continue  # not a per-jet input
            values = np.asarray(ds[sel])[mask]
            if values.dtype == bool:
                values = values.astype(np.float32)
            _check_finite(path, f"{group}/{name}", values, event)
            flat[name] = values
        label = None
        if labels:
            unknown = [lab for lab in labels if lab != "parton"]
            if unknown:
                raise SchemaError(
                    f"{path}: SPANet files give only the label 'parton' (from TARGETS), "
                    f"not {unknown}"
                )
            label = parton_labels(f, path, mask, sel, n_total, targets, partons, topology)
        event_fields = _read_event_fields(f, path, sel, n_total)
        others: dict[str, PaddedCollection] = {}
        for c in topology.collections:
            if c.name == JETS:
                continue
            if c.transverse:  # hepattn/event's record (the source's dtype) wins if there
                for k, v in _read_transverse(f, path, c.name, sel, n_total, topology).items():
                    event_fields.setdefault(k, v)
            else:
                feats = objects.get(c.name, KINEMATIC_INPUTS)
                others[c.name] = _read_object(f, path, c.name, feats, sel, n_total, topology)
        regs = {}
        for key, name in (regressions or {}).items():
            if f.get(name) is None:
                if require_regressions:
                    raise MissingTargetError(str(path), key, name)
                regs[key] = np.full(sel.stop - sel.start, np.nan)
                continue
            regs[key] = _event_dataset(f, path, name, sel, n_total).astype(np.float64)
    coll = _padded(path, group, flat, mask, features, max_objects, stats, label)
    entry = np.arange(sel.start, sel.stop, dtype=np.int64)
    return coll, others, event_fields, entry, n_total, regs


def _read_event_fields(f, path: Path, sel: slice, n_total: int) -> dict[str, np.ndarray]:
    """``hepattn/event/*`` (in ``attrs["fields"]`` order) if present, else ``WEIGHTS/*``."""
    group = f.get("hepattn/event")
    if group is not None:
        names = [str(n) for n in group.attrs.get("fields", sorted(group.keys()))]
        prefix = "hepattn/event"
    elif f.get("WEIGHTS") is not None and not hasattr(f["WEIGHTS"], "shape"):
        names = sorted(k for k, v in f["WEIGHTS"].items() if hasattr(v, "shape"))
        prefix = "WEIGHTS"
    else:
        return {}
    out = {}
    for name in names:
        ds = get_dataset(f, path, f"{prefix}/{name}")
        if ds.shape != (n_total,):
            raise DataError(
                f"{path}: dataset '{prefix}/{name}' has shape {ds.shape}, expected ({n_total},): "
                "one value per event"
            )
        out[name] = np.asarray(ds[sel])
    return out


def read_spanet_h5(
    paths: Paths,
    features: Sequence[str],
    max_objects: int,
    *,
    labels: Sequence[str] | None = ("parton",),
    collection: str = "jets",
    source: str = "Source",
    targets: Sequence[tuple[str, str]] | None = None,
    topology: str | os.PathLike | Topology | None = None,
    objects: Mapping[str, Sequence[str]] | None = None,
    entry_start: int = 0,
    entry_stop: int | None = None,
    regressions: Mapping[str, str] | None = None,
    require_regressions: bool = False,
) -> Events:
    """Padded jets of SPANet HDF5 file(s), as :func:`~hepattn.data.reader.read_events` gives.

    Args:
        paths: one file, a glob or a list; events are concatenated in order.
        features: per-jet features (names of :mod:`hepattn.data.features`, or per-jet
            datasets of ``INPUTS/<source>`` such as ``btag``).
        max_objects: N, jets kept per event, leading in p_T (stable sort, as the ROOT reader).
        labels: ``("parton",)`` to rebuild per-jet parton labels (the index in the
            topology's parton order: 0…5 for all-hadronic tt̄) from ``TARGETS``, ``()`` or
            None for none.
        collection: name of the collection in the returned :class:`Events`.
        source: the ``INPUTS`` group of the jets.
        targets: the (particle, product) datasets of the topology's jet daughters in parton
            order; default those of the topology (:func:`spanet_targets`: ``t1/b`` … ``t2/q2``
            for all-hadronic tt̄).
        topology: the file's topology (a built-in name, a YAML file or a
            :class:`~hepattn.topology.Topology`); None: all-hadronic tt̄. A file written for
            another topology (its ``topology`` attribute) is refused.
        objects: features of each one-object collection of the topology (a lepton; default
            pt, eta, phi, mass).
        entry_start, entry_stop: event range counted over all files, as one chain.
        regressions: name → dataset of regression targets (``REGRESSIONS/EVENT/nu_pz``,
            :func:`~hepattn.data.spanet.layout.regression_dataset`) read into
            :attr:`Events.targets`: NaN where a file lacks the dataset, a
            :class:`~hepattn.data.reader.MissingTargetError` there with
            ``require_regressions``.

    Returns:
        :class:`Events` with ``collections[collection]``: values ``float32[B, N, F]``, mask
        ``bool[B, N]``, p4 ``float32[B, N, 4]``, index ``int64[B, N]`` (HDF5 slot, −1 pad),
        labels ``{"parton": int64[B, N]}``, counts ``int64[B]``; each one-object collection
        of the topology as a collection of that name with one slot (mask False where its
        ``MASK`` is); ``event`` the fields of ``hepattn/event`` (or ``WEIGHTS``) and, per
        transverse collection C (MET), ``C_pt``, ``C_phi``; ``entry`` the row in each file.
    """
    features = tuple(features)
    labels = tuple(labels or ())
    topo = topology_from_entry(topology)
    partons = [p for _, _, p in spanet_targets(topo)]
    if int(max_objects) < 1:
        raise SchemaError(f"max_objects must be ≥ 1, got {max_objects}")
    if targets is None:
        targets = [(r, d) for r, d, _ in spanet_targets(topo)]
    targets = [tuple(t) for t in targets]
    if len(targets) != len(partons):
        raise SchemaError(
            f"targets must name the {len(partons)} jet daughters of topology {topo.name!r} "
            f"({[f'{r}/{d}' for r, d, _ in spanet_targets(topo)]}), got {list(targets)}"
        )
    objects = {k: tuple(v) for k, v in (objects or {}).items()}
    files = resolve_paths(paths)
    stats = TruncationStats()
    parts: list[Events] = []
    offset = 0  # events in the files before this one
    for i, path in enumerate(files):
        start = max(entry_start - offset, 0)
        stop = None if entry_stop is None else max(entry_stop - offset, 0)
        coll, others, event, entry, n_total, regs = _read_one(
            path,
            features,
            int(max_objects),
            labels,
            source,
            targets,
            partons,
            topo,
            objects,
            start,
            stop,
            stats,
            regressions,
            require_regressions,
        )
        offset += n_total
        if len(entry) == 0 and (i < len(files) - 1 or parts):
            continue
        parts.append(
            Events(
                collections={collection: coll, **others},
                event=event,
                entry=entry,
                file_index=np.zeros(len(entry), dtype=np.int64),
                files=[str(path)],
                targets=regs,
            )
        )
        if entry_stop is not None and offset >= entry_stop:
            break
    if stats.truncated_events:
        log.info(
            "%s: %d of %d events have more than %d jets (up to %d); %d lowest-pT jets dropped",
            collection,
            stats.truncated_events,
            stats.events,
            max_objects,
            stats.largest,
            stats.dropped_objects,
        )
    keys = [set(p.event) for p in parts]
    if any(k != keys[0] for k in keys):
        raise DataError(
            f"the HDF5 files hold different event-level fields: "
            f"{ {p.files[0]: sorted(p.event) for p in parts} }"
        )
    return Events.concatenate(parts)
