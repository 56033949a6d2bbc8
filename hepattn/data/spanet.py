"""SPANet-layout HDF5 files: read them as padded :class:`~hepattn.data.reader.Events`, and
write our ROOT samples in that layout, so that hepattn and SPANet run on identical events.

Layout (SPANet's ``docs/Dataset.md``; ``B`` events, ``M = MAX_JETS`` jet slots)::

    INPUTS/Source/MASK   bool[B, M]       True for a real jet; padding at the end
    INPUTS/Source/pt     float32[B, M]    GeV, 0 where padded
    INPUTS/Source/eta    float32[B, M]
    INPUTS/Source/phi    float32[B, M]
    INPUTS/Source/mass   float32[B, M]    GeV
    INPUTS/Source/btag   float32[B, M]    0 / 1 (or a score)
    TARGETS/t1/{b, q1, q2}  int64[B]      slot of the jet of each parton of top 1, −1 if none
    TARGETS/t2/{b, q1, q2}  int64[B]      the same for top 2
    WEIGHTS/weight       float32[B]       event weight (written when the source has one)
    hepattn/event/<name> [B]              every event-level field of the source (weight, event
                                          number, …), in the order of ``attrs["fields"]``

SPANet ignores the ``hepattn`` group. The parton labels 0…5 = (b, q1, q2, b′, q1′, q2′) of the
``hepattn-ttbar`` schema are ``t1/b, t1/q1, t1/q2, t2/b, t2/q1, t2/q2``.

**Other topologies** (``topology=``, ``hepattn convert --topology``; :mod:`hepattn.topology`):
one ``TARGETS`` group per resonance holding its *jet* daughters' datasets, in parton order
(:func:`spanet_targets`; SPANet assigns only sequential inputs), and each other collection of
the topology as a SPANet global input (one value per event, no element axis)::

    INPUTS/<lepton>/MASK        bool[B]     the event has one (a global input has no mask in
                                            SPANet; hepattn reads it if present)
    INPUTS/<lepton>/{pt, eta, phi, mass, <fields>}  float32[B]   the leading one in pT
    INPUTS/<met>/{met, phi, sin_phi, cos_phi}       [B]          a transverse collection
    TARGETS/<resonance>/<jet daughter>              int64[B]     e.g. t_had/{b_had, q1, q2},
                                                                 t_lep/b_lep; H1/{b1, b2}, …

``ttbar-ljets`` writes ``INPUTS/lepton`` (pt, eta, phi, mass, charge, pdgid), ``INPUTS/met``,
``TARGETS/t_had/{b_had, q1, q2}`` and ``TARGETS/t_lep/b_lep``; ``hh-4b`` writes
``TARGETS/H1/{b1, b2}`` and ``TARGETS/H2/{b3, b4}``. The file's ``topology`` attribute names
the topology (absent for all-hadronic tt̄, whose files are byte for byte those written before
topologies existed); a file is refused when read as another topology. The matching SPANet
event file declares ``Source`` as the sequential input, the other collections as global
inputs, ``EVENT: {<resonance>: [<jet daughters>]}`` and the exchangeable daughters and
resonances under ``PERMUTATIONS``.

**Writing** (:func:`write_spanet_h5`) keeps the file's own jet order (slot ``j`` of event ``e``
is jet ``j`` of entry ``e`` of the ROOT file) and takes pt, eta, phi and mass directly from the
branches (for ``ptetaphim`` schemas; other kinematic conventions are converted with vector).
``M`` is the largest jet multiplicity unless ``max_jets`` is given; then the jets beyond slot
``max_jets − 1`` are dropped and targets pointing at them become −1 (logged with counts). A
parton carried by several jets (ambiguous) is written as −1, as
:func:`~hepattn.metrics.matching.truth_from_parton_labels` does.

**Reading** (:func:`read_spanet_h5`) computes features with the same code as the ROOT reader
(:class:`~hepattn.data.features.ObjectFeatures` on the masked jets, :class:`JaggedLayout` for
the p_T sort and truncation), so a converted file reads back to the same padded arrays as the
ROOT file. ``index`` holds the jet's slot in the HDF5 file (= its position in the ROOT file for
a converted file); ``labels["parton"][e, n] = p`` when target ``p`` points at that jet (−1
otherwise; if two targets point at one jet, the lower ``p`` wins, logged). Other per-jet datasets
of ``INPUTS/Source`` (``btag``, ``qtag``, …) are available as features by name. With a
topology, each one-object collection is read as a one-slot collection of that name (features
computed the same way) and each transverse collection C gives the event fields ``C_pt``,
``C_phi`` — what the topology matcher reads from a ROOT file.

h5py is an optional dependency: ``pip install 'hepattn[h5]'``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepattn._optional import require
from hepattn.data.features import AXIS_FEATURES, FEATURES, ObjectFeatures, to_vector
from hepattn.data.outputs import atomic_path
from hepattn.data.padding import JaggedLayout, PaddedCollection, TruncationStats
from hepattn.data.reader import Events, _event_fields, _prepare_collection
from hepattn.data.root import Paths, iterate_branches, open_tree, resolve_paths, schema_for
from hepattn.data.schema import Schema
from hepattn.errors import DataError, SchemaError
from hepattn.progress import bar
from hepattn.topology import JETS, TTBAR_ALLHAD, Topology, load_topology

log = logging.getLogger(__name__)

__all__ = [
    "KINEMATIC_INPUTS",
    "TARGETS",
    "SpanetSummary",
    "is_spanet_path",
    "read_spanet_h5",
    "resolve_topology",
    "spanet_targets",
    "write_spanet_h5",
]

#: The per-jet kinematic datasets of ``INPUTS/<source>``, in vector's ``ptetaphim`` order.
KINEMATIC_INPUTS = ("pt", "eta", "phi", "mass")

#: Parton label p = 0…5 ↔ SPANet target (particle, decay product).
TARGETS: tuple[tuple[str, str], ...] = (
    ("t1", "b"),
    ("t1", "q1"),
    ("t1", "q2"),
    ("t2", "b"),
    ("t2", "q1"),
    ("t2", "q2"),
)

H5_SUFFIXES = (".h5", ".hdf5")


def resolve_topology(topology: str | os.PathLike | Topology | None) -> Topology:
    """A :class:`Topology` from a name, a YAML file, or None (all-hadronic tt̄)."""
    if topology is None:
        return TTBAR_ALLHAD
    if isinstance(topology, Topology):
        return topology
    return load_topology(topology)


def spanet_targets(topology: Topology) -> tuple[tuple[str, str, int], ...]:
    """``(resonance, daughter, parton index)`` of the ``TARGETS`` datasets of ``topology``:
    its jet daughters, in parton order (:data:`TARGETS` with 0…5 for all-hadronic tt̄)."""
    return tuple(
        (r.name, r.daughters[i], off + i)
        for r, off in zip(topology.resonances, topology.offsets, strict=True)
        for i in r.jet_daughters
    )


def _h5py():
    return require("h5py")


def is_spanet_path(paths: Paths) -> bool:
    """True if ``paths`` (one path, a glob or a list) name HDF5 files (``.h5`` / ``.hdf5``)."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    return bool(items) and all(os.fspath(p).lower().endswith(H5_SUFFIXES) for p in items)


def _listing(f) -> list[str]:
    """Every dataset path of an open HDF5 file."""
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if hasattr(obj, "shape") else None)
    return names


def _open_h5(path: Path):
    h5py = _h5py()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        with open(path, "rb") as fh:
            magic = fh.read(8)
        what = "is empty (0 bytes)" if not magic else f"starts with {magic!r}"
        raise DataError(f"{path}: not an HDF5 file: it {what}")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path}: cannot be opened as an HDF5 file ({err})") from None


def _dataset(f, path: Path, name: str):
    obj = f.get(name)
    if obj is None or not hasattr(obj, "shape"):
        have = _listing(f)
        raise DataError(
            f"{path}: no dataset {name!r} (SPANet layout); the file has "
            + (f"datasets {have}" if have else "no dataset at all")
        )
    return obj


def _target_names(f) -> dict[str, list[str]]:
    group = f.get("TARGETS")
    if group is None or hasattr(group, "shape"):
        return {}
    return {k: sorted(v.keys()) for k, v in group.items() if not hasattr(v, "shape")}


# --------------------------------------------------------------------------------------------
# reading


def _check_finite(path: Path, name: str, flat: np.ndarray, event: np.ndarray) -> None:
    if np.issubdtype(flat.dtype, np.floating) and not np.isfinite(flat).all():
        bad = ~np.isfinite(flat)
        raise DataError(
            f"{path}: dataset {name!r} has {int(bad.sum())} non-finite values (NaN/inf) in "
            f"real jets, first in event {int(event[np.flatnonzero(bad)[0]])}"
        )


def _parton_labels(
    f,
    path: Path,
    mask: np.ndarray,
    sel: slice,
    n_total: int,
    targets: Sequence[tuple[str, str]],
    partons: Sequence[int],
    topology: Topology,
) -> np.ndarray:
    """Flat per-jet labels (masked jets, event-major): ``partons[k]`` where target k points
    at the jet."""
    n_ev, n_slot = mask.shape
    flatpos = (np.cumsum(mask.ravel()) - 1).reshape(mask.shape)  # [B, M] flat jet position
    label = np.full(int(mask.sum()), -1, dtype=np.int64)
    have = _target_names(f)
    missing = [f"TARGETS/{t}/{q}" for t, q in targets if q not in have.get(t, [])]
    if missing:
        listed = have if have else "no TARGETS group"
        names = [f"{t}/{q}" for t, q in targets]
        need = (
            f"the six partons {names} (parton labels 0..5)"
            if topology == TTBAR_ALLHAD
            else f"topology {topology.name!r}'s jet daughters {names}"
        )
        raise DataError(
            f"{path}: missing target datasets {missing}; the file has {listed}. hepattn needs "
            + need
        )
    shared = 0
    taken = np.zeros(mask.shape, dtype=bool)
    rows = np.arange(n_ev)
    for p, (t, q) in zip(partons, targets, strict=True):
        name = f"TARGETS/{t}/{q}"
        ds = _dataset(f, path, name)
        if ds.shape != (n_total,):
            raise DataError(
                f"{path}: dataset {name!r} has shape {ds.shape}, expected ({n_total},): "
                "one jet index per event, as many events as the MASK"
            )
        tgt = np.asarray(ds[sel]).astype(np.int64)
        bad = (tgt < -1) | (tgt >= n_slot)
        if bad.any():
            raise DataError(
                f"{path}: dataset {name!r} holds {int(bad.sum())} jet indices outside "
                f"-1..{n_slot - 1} (first: event {sel.start + int(np.flatnonzero(bad)[0])}, value "
                f"{int(tgt[bad][0])})"
            )
        ok = tgt >= 0
        slot = np.where(ok, tgt, 0)
        off = ok & ~mask[rows, slot]
        if off.any():
            raise DataError(
                f"{path}: dataset {name!r} points at masked (absent) jets in {int(off.sum())} "
                f"events (first: event {sel.start + int(np.flatnonzero(off)[0])}, jet "
                f"{int(tgt[off][0])})"
            )
        dup = ok & taken[rows, slot]
        shared += int(dup.sum())
        first = ok & ~dup
        label[flatpos[rows[first], slot[first]]] = p
        taken[rows[first], slot[first]] = True
    if shared:
        log.warning(
            "%s: %d targets point at a jet already claimed by another parton; each jet keeps "
            "the label of the first (%s order) and the others count as unmatched",
            path,
            shared,
            ", ".join(topology.order_string.split(",")),
        )
    return label


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
    ds = _dataset(f, path, name)
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
) -> tuple[PaddedCollection, dict[str, PaddedCollection], dict[str, np.ndarray], np.ndarray, int]:
    with _open_h5(path) as f:
        written = f.attrs.get("topology")  # hepattn writes it for all but all-hadronic tt̄
        if written is not None and written != topology.name:
            raise DataError(
                f"{path}: written for topology {written!r}, read as {topology.name!r}; "
                f"read it with --topology {written}"
            )
        group = f"INPUTS/{source}"
        mask_ds = _dataset(f, path, f"{group}/MASK")
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
            ds = _dataset(f, path, f"{group}/{name}")
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
            label = _parton_labels(f, path, mask, sel, n_total, targets, partons, topology)
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
    coll = _padded(path, group, flat, mask, features, max_objects, stats, label)
    return coll, others, event_fields, np.arange(sel.start, sel.stop, dtype=np.int64), n_total


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
        ds = _dataset(f, path, f"{prefix}/{name}")
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
    topo = resolve_topology(topology)
    partons = [p for _, _, p in spanet_targets(topo)]
    if int(max_objects) < 1:
        raise SchemaError(f"max_objects must be ≥ 1, got {max_objects}")
    if targets is None:
        targets = [(r, d) for r, d, _ in spanet_targets(topo)]
    targets = [tuple(t) for t in targets]
    if len(targets) != len(partons):
        if topo == TTBAR_ALLHAD:
            raise SchemaError(f"targets must name the 6 partons (labels 0..5), got {list(targets)}")
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
        coll, others, event, entry, n_total = _read_one(
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


# --------------------------------------------------------------------------------------------
# writing


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


def _kinematics(raw: dict[str, ak.Array], coll) -> dict[str, ak.Array]:
    """Jagged pt, eta, phi, mass of a collection read by :func:`_prepare_collection`."""
    if coll.kinematics == "ptetaphim":
        return {k: raw[k] for k in KINEMATIC_INPUTS}
    counts = ak.num(raw[next(iter(coll.branches))], axis=1)
    vec = to_vector({r: ak.flatten(raw[r], axis=1) for r in coll.branches}, coll.kinematics)
    return {k: ak.unflatten(np.asarray(getattr(vec, k)), counts) for k in KINEMATIC_INPUTS}


def _check_schema(schema: Schema, topology: Topology) -> None:
    """The schema gives every collection ``topology`` reads besides the jets (error naming
    the topology, the collection and the schema's keys)."""
    for c in topology.collections:
        if c.name == JETS:
            continue
        if c.transverse:
            missing = [
                f"{c.name}_{k}" for k in ("pt", "phi") if f"{c.name}_{k}" not in schema.event
            ]
            if missing:
                raise DataError(
                    f"topology {topology.name!r} needs the transverse collection {c.name!r}: "
                    f"schema {schema.name!r} has no event fields {missing} (it has "
                    f"{sorted(schema.event)})"
                )
        elif c.name not in schema.collections:
            raise DataError(
                f"topology {topology.name!r} needs the collection {c.name!r}: schema "
                f"{schema.name!r} has {sorted(schema.collections)}"
            )


def _jets_from_root(
    paths: Paths,
    schema: Schema,
    collection: str,
    label: str,
    btag: str,
    tree: str | None,
    progress: bool = False,
    objects: Sequence[str] = (),
) -> tuple[dict[str, ak.Array], dict[str, np.ndarray], dict[str, dict[str, ak.Array]]]:
    """Jagged pt, eta, phi, mass, btag, label in file order, the event fields, and the
    jagged pt, eta, phi, mass and fields of each collection of ``objects``."""
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
    for chunk in iterate_branches(paths, schema, branches, tree, "200 MB"):
        reading.update(chunk.stop - chunk.start)
        raw = _prepare_collection(chunk, collection, coll, "error", {}, {})
        jets.append({**_kinematics(raw, coll), "btag": raw[btag], "label": raw[label]})
        events.append(_event_fields(chunk, schema))
        for c in objects:
            oc = schema.collection(c)
            raw = _prepare_collection(chunk, c, oc, "error", {}, {})
            others[c].append({**_kinematics(raw, oc), **{k: raw[k] for k in oc.fields}})
    reading.close()
    out = {k: ak.concatenate([j[k] for j in jets]) for k in jets[0]}
    ev = {k: np.concatenate([e[k] for e in events]) for k in events[0]}
    objs = {
        c: {k: ak.concatenate([o[k] for o in parts]) for k in parts[0]}
        for c, parts in others.items()
    }
    return out, ev, objs


def _leading(obj: dict[str, ak.Array]) -> tuple[dict[str, np.ndarray], int, int]:
    """Per event the leading object in pT (the first of equal pT, as the reader's stable
    sort): ``({"MASK": bool[B], name: float32[B]}, events without one, events with several)``."""
    n = np.asarray(ak.num(obj["pt"], axis=1))
    best = ak.argmax(obj["pt"], axis=1, keepdims=True)
    out: dict[str, np.ndarray] = {"MASK": n > 0}
    for name, values in obj.items():
        first = ak.fill_none(ak.firsts(values[best], axis=1), 0)
        out[name] = np.asarray(first).astype(np.float32)
    return out, int((n == 0).sum()), int((n > 1).sum())


def _jets_from_events(
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


def _objects_from_events(
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


def _targets(
    label: ak.Array, n_slot: int, partons: Sequence[int] = range(6)
) -> tuple[np.ndarray, int, int]:
    """``int64[B, len(partons)]`` slot of the one jet with label p of ``partons`` (−1 if
    none, several or dropped)."""
    out = np.full((len(label), len(partons)), -1, dtype=np.int64)
    lost = ambiguous = 0
    local = ak.local_index(label, axis=1)
    for col, p in enumerate(partons):
        hit = label == p
        n = np.asarray(ak.sum(hit, axis=1))
        first = np.asarray(ak.fill_none(ak.firsts(local[hit], axis=1), -1), dtype=np.int64)
        one = n == 1
        ambiguous += int((n > 1).sum())
        lost += int((one & (first >= n_slot)).sum())
        out[:, col] = np.where(one & (first < n_slot), first, -1)
    return out, lost, ambiguous


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
) -> SpanetSummary:
    """Write jets, the topology's other inputs and the parton targets in the SPANet layout
    (module docstring); atomic.

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

    Returns:
        A :class:`SpanetSummary` (events, M, events with all / some resonances
        reconstructable, …).
    """
    h5py = _h5py()
    topo = resolve_topology(topology)
    targets = spanet_targets(topo)
    others = [c for c in topo.collections if c.name != JETS]
    single = [c.name for c in others if not c.transverse]
    path = Path(path)
    missing: dict[str, int] = {}
    extra: dict[str, int] = {}
    if isinstance(source, Events):
        jets, fields = _jets_from_events(source, collection, label)
        objects, missing, extra = _objects_from_events(source, topo)
    else:
        schema = schema_for(source, schema, tree, [collection, *single])
        _check_schema(schema, topo)
        jets, fields, raw_objects = _jets_from_root(
            source, schema, collection, label, btag, tree, progress, single
        )
        objects = {}
        for name, obj in raw_objects.items():
            objects[name], missing[name], extra[name] = _leading(obj)
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
    truth, lost, ambiguous = _targets(jets["label"], n_slot, [p for *_, p in targets])
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
        if topo != TTBAR_ALLHAD:  # all-hadronic files stay as they were
            f.attrs["topology"] = topo.name
    log.info("wrote %d events (%d jet slots) to %s", summary.events, n_slot, path)
    return summary
