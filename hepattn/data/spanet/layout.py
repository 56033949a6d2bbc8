"""The SPANet HDF5 layout: how a topology maps to SPANet's groups and datasets, and the checks
and helpers the reader (:mod:`.read`) and the writer (:mod:`.write`) share.

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
    REGRESSIONS/EVENT/<name>        float32[B]   an event-level regression target of the
                                                 topology (written where the source has it;
                                                 NaN: missing)
    REGRESSIONS/<resonance>/<name>  float32[B]   a resonance's regression target
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

Targets ↔ per-jet parton labels, both directions: :func:`parton_labels` (reading: the label
``p`` of the jet that target ``p`` points at) and :func:`target_slots` (writing: the slot of
the one jet labelled ``p``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import awkward as ak
import numpy as np

from hepattn._optional import require
from hepattn.data.root import Paths
from hepattn.data.schema import Schema
from hepattn.errors import DataError
from hepattn.topology import JETS, TTBAR_ALLHAD, Topology

log = logging.getLogger(__package__)  # "hepattn.data.spanet", as before the split

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


def spanet_targets(topology: Topology) -> tuple[tuple[str, str, int], ...]:
    """``(resonance, daughter, parton index)`` of the ``TARGETS`` datasets of ``topology``:
    its jet daughters, in parton order (:data:`TARGETS` with 0…5 for all-hadronic tt̄)."""
    return tuple(
        (r.name, r.daughters[i], off + i)
        for r, off in zip(topology.resonances, topology.offsets, strict=True)
        for i in r.jet_daughters
    )


def regression_dataset(regression) -> str:
    """The dataset of a :class:`~hepattn.topology.Regression` 's targets in SPANet's layout:
    ``REGRESSIONS/EVENT/<name>`` or ``REGRESSIONS/<resonance>/<name>``."""
    return f"REGRESSIONS/{regression.resonance or 'EVENT'}/{regression.name}"


def require_h5py():
    """The h5py module (an optional dependency: ``pip install 'hepattn[h5]'``)."""
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


def open_h5(path: Path):
    """``path`` opened read-only as an h5py File (a one-line DataError if it is none)."""
    h5py = require_h5py()
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


def get_dataset(f, path: Path, name: str):
    """The dataset ``name`` of the open file ``f`` (a DataError listing the file's datasets
    if it has none of that name)."""
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


def parton_labels(
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
        raise DataError(
            f"{path}: missing target datasets {missing}; the file has {listed}. hepattn needs "
            f"topology {topology.name!r}'s jet daughters {names}"
        )
    shared = 0
    taken = np.zeros(mask.shape, dtype=bool)
    rows = np.arange(n_ev)
    for p, (t, q) in zip(partons, targets, strict=True):
        name = f"TARGETS/{t}/{q}"
        ds = get_dataset(f, path, name)
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


def target_slots(
    label: ak.Array, n_slot: int, partons: Sequence[int] | None = None
) -> tuple[np.ndarray, int, int]:
    """``int64[B, len(partons)]`` slot of the one jet with label p of ``partons`` (default:
    every parton of all-hadronic tt̄) (−1 if none, several or dropped)."""
    if partons is None:
        partons = range(TTBAR_ALLHAD.n_partons)
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


def check_schema(schema: Schema, topology: Topology) -> None:
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
                    f"{sorted(schema.event)}; map them to the file's branches under `event:`)"
                )
        elif c.name not in schema.collections:
            raise DataError(
                f"topology {topology.name!r} needs the collection {c.name!r}: schema "
                f"{schema.name!r} has {sorted(schema.collections)}"
            )
