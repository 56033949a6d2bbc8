"""Read ROOT files through a schema into padded, masked arrays.

>>> from hepattn.data import PadSpec, read_events
>>> ev = read_events("ttbar.root", "hepattn-ttbar",
...                  {"jets": PadSpec(("log_pt", "eta", "phi", "log_e", "btag"), 16)})
>>> ev["jets"].values.shape, ev["jets"].mask.shape      # (B, 16, 5), (B, 16)

:func:`iterate_events` streams the same result chunk by chunk (``step_size`` entries or bytes
per chunk, as ``uproot.iterate``), so files larger than memory can be processed; the chunks
concatenated equal :func:`read_events`.

In-memory input: given a mapping of branch name → awkward (or numpy) array instead of paths,
both read it as one chunk through the same checks, features and padding (the files are then
``[ARRAYS]``; messages say "field" for "branch"). :mod:`hepattn.api` builds such a mapping
from the user's awkward records.

Validation, each with a :class:`~hepattn.errors.DataError` naming file and branch: every
branch of a collection must be jagged with the same number of objects per event (and agree
with the counter branch if the schema has one); event fields must hold one value per entry.

Non-finite values (NaN, ±inf) in the branches read: ``nonfinite="error"`` (default) raises,
naming the file, branch, count and first entry; ``nonfinite="drop"`` removes the objects that
hold them (events whose event-level field is non-finite are still an error) and logs the count
once per read (the command line's ``--nonfinite drop``). Events with zero objects are kept,
with an all-False mask.

Unphysical kinematics: a negative pT or energy is an error naming the branch, the count and
the first entry; a negative mass (rounding in a stored mass, or E < |p|) is kept as given
and counted in one warning per read.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepattn.data.btag import BtagPolicy, classify_scores, is_btag_role
from hepattn.data.features import ObjectFeatures, to_vector
from hepattn.data.padding import JaggedLayout, PaddedCollection, TruncationStats
from hepattn.data.root import Chunk, Paths, iterate_branches
from hepattn.data.schema import Collection, Schema, get_schema
from hepattn.errors import DataError, SchemaError

log = logging.getLogger(__name__)

__all__ = [
    "ARRAYS",
    "Events",
    "MissingTargetError",
    "PadSpec",
    "event_fields",
    "iterate_events",
    "log_notes",
    "new_notes",
    "prepare_collection",
    "read_events",
]


@dataclass(frozen=True)
class PadSpec:
    """What to pad from one collection: feature names, slot count, labels (default all)."""

    features: tuple[str, ...]
    max_objects: int
    labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))
        if int(self.max_objects) < 1:
            raise SchemaError(f"max_objects must be ≥ 1, got {self.max_objects}")


@dataclass
class Events:
    """Padded collections and event-level fields of B events.

    Attributes:
        collections: name -> :class:`PaddedCollection`.
        event: name -> ``[B]`` array of each event-level field of the schema.
        entry: ``int64[B]`` entry number of each event in its file.
        file_index: ``int64[B]`` index into ``files``.
        files: the files read, in order.
        derived: name -> ``[B, ...]`` arrays a task derives from the events (checked labels,
            training targets, jet counts, …), kept apart from the schema's ``event`` fields
            so that no user field name can collide with them.
        targets: name -> ``float64[B]`` event-level target values read as the file holds
            them (``targets=`` of :func:`iterate_events`; NaN where the file lacks the branch).
    """

    collections: dict[str, PaddedCollection]
    event: dict[str, np.ndarray]
    entry: np.ndarray
    file_index: np.ndarray
    files: list[str] = field(default_factory=list)
    derived: dict[str, np.ndarray] = field(default_factory=dict)
    targets: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entry)

    def __getitem__(self, name: str) -> PaddedCollection:
        return self.collections[name]

    def select(self, sel) -> Events:
        """The events ``sel`` (index array, slice or boolean mask)."""
        return Events(
            collections={k: c[sel] for k, c in self.collections.items()},
            event={k: v[sel] for k, v in self.event.items()},
            entry=self.entry[sel],
            file_index=self.file_index[sel],
            files=self.files,
            derived={k: v[sel] for k, v in self.derived.items()},
            targets={k: v[sel] for k, v in self.targets.items()},
        )

    @classmethod
    def concatenate(cls, parts: Sequence[Events]) -> Events:
        files = list(dict.fromkeys(f for p in parts for f in p.files))
        remap = [np.array([files.index(f) for f in p.files], dtype=np.int64) for p in parts]
        return cls(
            collections={
                k: PaddedCollection.concatenate([p.collections[k] for p in parts])
                for k in parts[0].collections
            },
            event={k: np.concatenate([p.event[k] for p in parts]) for k in parts[0].event},
            entry=np.concatenate([p.entry for p in parts]),
            file_index=np.concatenate([r[p.file_index] for r, p in zip(remap, parts, strict=True)]),
            files=files,
            derived={k: np.concatenate([p.derived[k] for p in parts]) for k in parts[0].derived},
            targets={k: np.concatenate([p.targets[k] for p in parts]) for k in parts[0].targets},
        )


#: The label of in-memory input in messages and in :attr:`Events.files`.
ARRAYS = "awkward input"


def _where(chunk: Chunk, branch: str) -> str:
    if branch in chunk.from_friend:
        return f"{chunk.friend} (friend of {chunk.path}): {chunk.what} {branch!r}"
    return f"{chunk.path}: {chunk.what} {branch!r}"


def _first_bad_entry(chunk: Chunk, bad_per_event: np.ndarray) -> int:
    return chunk.start + int(np.flatnonzero(bad_per_event)[0])


def check_jagged(chunk: Chunk, name: str, coll: Collection, raw: dict[str, ak.Array]) -> None:
    """All branches of a collection are jagged with equal counts (and match the counter)."""
    counts: dict[str, np.ndarray] = {}
    for role, branch in coll.all_branches().items():
        arr = raw[role]
        if arr.ndim < 2:
            raise DataError(
                f"{_where(chunk, branch)} holds one value per entry, but collection {name!r} "
                "needs a variable-length list per entry"
            )
        counts[branch] = np.asarray(ak.num(arr, axis=1))
    if coll.counter:
        counts[coll.counter] = np.asarray(chunk.arrays[coll.counter]).astype(np.int64)
    ref_branch, ref = next(iter(counts.items()))
    for branch, c in counts.items():
        if not np.array_equal(c, ref):
            bad = c != ref
            entry = _first_bad_entry(chunk, bad)
            i = int(np.flatnonzero(bad)[0])
            what = "fields" if chunk.what == "field" else "branches"
            raise DataError(
                f"{chunk.path}: {what} {ref_branch!r} and {branch!r} of collection {name!r} "
                f"disagree on the number of objects in {int(bad.sum())} entries "
                f"(first: entry {entry}, {ref[i]} vs {c[i]})"
                + (
                    f"; {branch!r} comes from the friend {chunk.friend}: is it the friend of "
                    "this file, aligned entry by entry?"
                    if branch in chunk.from_friend or ref_branch in chunk.from_friend
                    else ""
                )
            )


def _check_numbers(chunk: Chunk, coll: Collection, raw: dict[str, ak.Array]) -> None:
    """Every branch read holds numbers; kinematics not booleans (a branch of another type
    than the schema means: a file written by something else)."""
    for role, branch in coll.all_branches().items():
        arr = raw[role]
        for part in [arr[f] for f in arr.fields] if arr.fields else [arr]:
            dtype = np.asarray(ak.flatten(part, axis=None)).dtype
            kinematic = role in coll.branches
            if dtype.kind not in "iuf" + ("" if kinematic else "b"):
                what = "a kinematic quantity" if kinematic else "a value per object"
                raise DataError(
                    f"{_where(chunk, branch)} holds {dtype} values, but {what} "
                    f"({role!r} of collection) must be a number: is it the branch the schema "
                    "means?"
                )


def _finite_flat(arr: ak.Array) -> np.ndarray | None:
    """Per-object "all finite" flags of a jagged numeric array, or None if not floating."""
    flat = ak.flatten(arr, axis=None)
    content = np.asarray(flat)
    if not np.issubdtype(content.dtype, np.floating):
        return None
    fin = np.isfinite(content)
    if arr.ndim > 2:  # e.g. TLorentzVector components: flatten one more level per object
        per_obj = ak.unflatten(fin, ak.flatten(ak.num(arr, axis=2), axis=None))
        fin = np.asarray(ak.all(per_obj, axis=1))
    return fin


def prepare_collection(
    chunk: Chunk,
    name: str,
    coll: Collection,
    nonfinite: str,
    notes: _Notes | None = None,
    btag: BtagPolicy | None = None,
) -> dict[str, ak.Array]:
    """The branches of collection ``name`` of ``chunk`` by role, checked (jagged, finite,
    physical; b-tag values by ``btag``, :mod:`hepattn.data.btag`) with the objects
    ``nonfinite="drop"`` or ``btag.out_of_range="drop"`` remove taken out; what was dropped,
    replaced or kept with a negative mass is counted in ``notes``."""
    notes = _Notes() if notes is None else notes
    raw = {role: chunk.arrays[branch] for role, branch in coll.all_branches().items()}
    check_jagged(chunk, name, coll, raw)
    _check_numbers(chunk, coll, raw)
    if coll.kinematics == "tlorentzvector":
        p4 = raw["p4"]
        raw["p4"] = ak.zip(
            {"fX": p4["fP", "fX"], "fY": p4["fP", "fY"], "fZ": p4["fP", "fZ"], "fE": p4["fE"]}
        )
    good = None
    for role, branch in coll.all_branches().items():
        arr = raw[role]
        fields = [arr[f] for f in arr.fields] if arr.fields else [arr]
        for part in fields:
            fin = _finite_flat(part)
            if fin is None or fin.all():
                continue
            if nonfinite == "error":
                per_event = ak.any(ak.unflatten(~fin, ak.num(part, axis=1)), axis=1)
                raise DataError(
                    f"{_where(chunk, branch)} has {int((~fin).sum())} non-finite values "
                    f"(NaN/inf), first in entry {_first_bad_entry(chunk, np.asarray(per_event))}; "
                    "fix the input, or drop those objects with --nonfinite drop "
                    "(nonfinite='drop' in Python)"
                )
            good = fin if good is None else good & fin
            notes.dropped[branch] = notes.dropped.get(branch, 0) + int((~fin).sum())
    for role in coll.fields:
        if is_btag_role(role):
            good = _check_btag(chunk, coll, raw, role, btag or BtagPolicy(), good, notes)
    if good is not None:
        first = raw[next(iter(raw))]
        keep = ak.unflatten(good, ak.num(first, axis=1))
        # each kept object's position in the file's own order, for the outputs that name it
        raw = {role: arr[keep] for role, arr in raw.items()}
        raw[POSITION] = ak.local_index(first, axis=1)[keep]
    _check_physical(chunk, coll, raw, notes.negative_mass)
    if coll.kinematics == "tlorentzvector":
        p4 = raw["p4"]
        raw["p4"] = ak.zip({"fP": ak.zip({"fX": p4.fX, "fY": p4.fY, "fZ": p4.fZ}), "fE": p4.fE})
    return raw


def _check_btag(
    chunk: Chunk,
    coll: Collection,
    raw: dict[str, ak.Array],
    role: str,
    policy: BtagPolicy,
    good: np.ndarray | None,
    notes: _Notes,
) -> np.ndarray | None:
    """Apply ``policy`` to the b-tag field ``role`` (:mod:`hepattn.data.btag`): defaults
    replaced in ``raw`` (counted), other out-of-range values refused, or flagged in the
    returned per-object ``good`` flags (counted) for dropping."""
    arr = raw[role]
    counts = ak.num(arr, axis=1)
    flat = np.asarray(ak.flatten(arr, axis=None))
    if not np.issubdtype(flat.dtype, np.floating):
        return good  # a decision or bit mask, not a score
    branch = coll.fields[role]
    default, outside = classify_scores(flat)
    if default.any() and policy.default is not None:
        flat = np.where(default, np.asarray(policy.default, flat.dtype), flat)
        raw[role] = ak.unflatten(flat, counts)
        seen = notes.btag_defaults.setdefault(branch, {"count": 0, "values": set()})
        seen["count"] += int(default.sum())
        seen["values"].update(float(v) for v in np.unique(np.asarray(ak.flatten(arr))[default]))
        seen["used"] = policy.default
        default = np.zeros_like(default)
    bad = outside | default
    if not bad.any() or policy.out_of_range == "keep":
        return good
    if policy.out_of_range == "error":
        first = np.asarray(ak.any(ak.unflatten(bad, counts), axis=1))
        value = float(flat[np.flatnonzero(bad)[0]])
        if default.any():
            n_def = int(default.sum())
            raise DataError(
                f"{_where(chunk, branch)} holds {n_def} b-tag default values such as "
                f"{value:g} (first in entry {_first_bad_entry(chunk, first)}; NanoAOD writes -1 "
                "for jets without b-tag information), not scores in [0, 1]: give "
                "--btag-default VALUE to use in their place (e.g. 0, 'no tag'; "
                "btag_default= in Python), or drop those jets with --btag-out-of-range drop"
            )
        raise DataError(
            f"{_where(chunk, branch)} holds {int(bad.sum())} values outside the b-tag score "
            f"range [0, 1] (first in entry {_first_bad_entry(chunk, first)}: {value:g}); fix "
            "the input, or drop those jets with --btag-out-of-range drop "
            "(btag_out_of_range='drop' in Python)"
        )
    notes.btag_dropped[branch] = notes.btag_dropped.get(branch, 0) + int(bad.sum())
    return ~bad if good is None else good & ~bad


#: The role under which :func:`prepare_collection` keeps the file-order position of each object
#: when it dropped some (the padded ``index`` must name the object in the file, not among those
#: kept).
POSITION = "__position"

#: Kinematic components that must not be negative (role, or ``p4`` field of a TLorentzVector).
NON_NEGATIVE = {"pt": "pT", "energy": "energy", "fE": "energy"}


def _check_physical(
    chunk: Chunk, coll: Collection, raw: dict[str, ak.Array], negative_mass: dict[str, int]
) -> None:
    """A :class:`DataError` for a negative pT or energy; negative masses are counted per
    branch in ``negative_mass`` (one warning per read)."""
    parts = {role: (raw[role], branch) for role, branch in coll.branches.items()}
    if coll.kinematics == "tlorentzvector":
        parts = {"fE": (raw["p4"].fE, coll.branches["p4"])}
    for role, (arr, branch) in parts.items():
        if role not in NON_NEGATIVE and role != "mass":
            continue
        neg = np.asarray(ak.flatten(arr, axis=None)) < 0
        if not neg.any():
            continue
        if role == "mass":
            negative_mass[branch] = negative_mass.get(branch, 0) + int(neg.sum())
            continue
        per_event = np.asarray(ak.any(ak.unflatten(neg, ak.num(arr, axis=1)), axis=1))
        raise DataError(
            f"{_where(chunk, branch)} has {int(neg.sum())} negative {NON_NEGATIVE[role]} values, "
            f"first in entry {_first_bad_entry(chunk, per_event)}; {NON_NEGATIVE[role]} must be "
            "≥ 0 (is the schema's kinematics right?)"
        )


def _pad_collection(
    raw: dict[str, ak.Array], coll: Collection, spec: PadSpec, stats: TruncationStats
) -> PaddedCollection:
    raw = dict(raw)
    position = raw.pop(POSITION, None)
    counts = np.asarray(ak.num(raw[next(iter(coll.branches))], axis=1), dtype=np.int64)
    flat = {role: ak.flatten(arr, axis=1) for role, arr in raw.items()}
    objs = to_vector({role: flat[role] for role in coll.branches}, coll.kinematics)
    feats = ObjectFeatures(objs, counts, {k: flat[k] for k in (*coll.fields, *coll.labels)})
    layout = JaggedLayout(ak.unflatten(feats.kin("pt"), counts), spec.max_objects)
    stats.add(layout.counts, spec.max_objects)
    values = np.empty((layout.n_events, spec.max_objects, len(spec.features)), np.float32)
    for i, name in enumerate(spec.features):
        values[..., i] = layout.pad_flat(feats(name))
    p4 = np.stack([layout.pad_flat(feats.kin(c)) for c in ("px", "py", "pz", "E")], axis=-1)
    labels = spec.labels if spec.labels is not None else tuple(coll.labels)
    for lab in labels:
        if lab not in coll.labels:
            raise SchemaError(f"collection has no label {lab!r}; it has {sorted(coll.labels)}")
    return PaddedCollection(
        values=values,
        mask=layout.mask,
        p4=p4,
        index=layout.index()
        if position is None
        else layout.pad_flat(np.asarray(ak.flatten(position), np.int64), fill=-1, dtype=np.int64),
        features=spec.features,
        labels={
            lab: layout.pad_flat(np.asarray(flat[lab]), fill=-1, dtype=np.int64) for lab in labels
        },
        counts=layout.counts,
    )


def _needed(schema: Schema, name: str, spec: PadSpec) -> Collection:
    """Collection ``name`` of ``schema`` narrowed to what ``spec`` reads: its kinematics, the
    fields among ``spec.features`` and the labels ``spec.labels`` (all when None) — so that
    a file need not hold a field the model does not use. An unknown feature is an error
    naming the collection's features and fields."""
    import dataclasses

    from hepattn.data.features import AXIS_FEATURES, FEATURES

    coll = schema.collection(name)
    unknown = [f for f in spec.features if f not in FEATURES and f not in AXIS_FEATURES]
    unknown = [f for f in unknown if f not in coll.fields and f not in coll.labels]
    if unknown:
        raise SchemaError(
            f"unknown feature {unknown[0]!r} for collection {name!r} of schema {schema.name!r}: "
            f"kinematic features are {sorted(FEATURES)}, axis features {sorted(AXIS_FEATURES)}, "
            f"and this collection's fields {sorted({**coll.fields, **coll.labels})}"
            + _btag_hint(unknown[0], coll)
        )
    labels = coll.labels if spec.labels is None else {
        k: v for k, v in coll.labels.items() if k in spec.labels or k in spec.features
    }  # fmt: skip
    return dataclasses.replace(
        coll, fields={k: v for k, v in coll.fields.items() if k in spec.features}, labels=labels
    )


def _btag_hint(feature: str, coll: Collection) -> str:
    """Why a b-tag feature is missing when the other kind is there: models read either the
    0/1 decision (``btag``) or the continuous score (``btag_score``), never one for the other."""
    if feature == "btag_score" and "btag" in coll.fields:
        return (
            f"; the model reads continuous b-tag scores, this schema gives 0/1 decisions only "
            f"(btag: {coll.fields['btag']}): map a score branch as the jets field btag_score "
            "in a schema, or use a model trained on decisions (feature btag)"
        )
    if feature == "btag" and "btag_score" in coll.fields:
        return (
            "; the model reads 0/1 b-tag decisions, this schema gives scores only "
            f"(btag_score: {coll.fields['btag_score']}): write the decisions at your working "
            "point with hepattn label --btag-wp VALUE and read them as a friend"
        )
    return ""


def event_fields(chunk: Chunk, schema: Schema) -> dict[str, np.ndarray]:
    out = {}
    n = chunk.stop - chunk.start
    arrays = chunk.arrays
    have = set(arrays.fields) if isinstance(arrays, ak.Array) else set(arrays)
    for name, branch in schema.event.items():
        if name in schema.optional_event and branch not in have:
            out[name] = np.full(n, np.nan, dtype=np.float32)  # a file without it (background)
            continue
        arr = chunk.arrays[branch]
        if arr.ndim != 1:
            raise DataError(
                f"{_where(chunk, branch)} holds a list per entry, but event field {name!r} of "
                f"schema {schema.name!r} needs one value per entry"
            )
        values = np.asarray(arr)
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            bad = ~np.isfinite(values)
            raise DataError(
                f"{_where(chunk, branch)} has {int(bad.sum())} non-finite values, first in entry "
                f"{_first_bad_entry(chunk, bad)}"
            )
        out[name] = values
    return out


class MissingTargetError(DataError):
    """A target branch (``targets=`` of :func:`iterate_events`) the input lacks, where it is
    required (training). ``path``, ``name`` and ``branch`` say which."""

    def __init__(self, path: str, name: str, branch: str) -> None:
        self.path, self.name, self.branch = path, name, branch
        super().__init__(f"{path}: no branch {branch!r} for the target {name!r}")


def target_fields(
    chunk: Chunk, targets: Mapping[str, str], required: bool, notes: _Notes | None = None
) -> dict[str, np.ndarray]:
    """``float64[B]`` per target (name → branch) of ``chunk``: NaN where the file lacks the
    branch (a :class:`MissingTargetError` when ``required``); non-finite values kept (the
    task masks them) and counted in ``notes`` (when given)."""
    out = {}
    n = chunk.stop - chunk.start
    arrays = chunk.arrays
    have = set(arrays.fields) if isinstance(arrays, ak.Array) else set(arrays)
    for name, branch in targets.items():
        if branch not in have:
            if required:
                raise MissingTargetError(str(chunk.path), name, branch)
            out[name] = np.full(n, np.nan)
            continue
        arr = chunk.arrays[branch]
        if arr.ndim != 1:
            raise DataError(
                f"{_where(chunk, branch)} holds a list per entry, but the target {name!r} needs "
                "one value per entry"
            )
        values = np.asarray(arr)
        if values.dtype.kind not in "iuf":
            raise DataError(
                f"{_where(chunk, branch)} holds {values.dtype} values, but the target {name!r} "
                "must be a number"
            )
        values = values.astype(np.float64)
        bad = int((~np.isfinite(values)).sum())
        if bad and notes is not None:
            notes.nonfinite_targets[branch] = notes.nonfinite_targets.get(branch, 0) + bad
        out[name] = values
    return out


@dataclass
class _Notes:
    """The reader's notes, of one read or summed over reads (:func:`one_summary`)."""

    stats: dict[str, TruncationStats] = field(default_factory=dict)
    max_objects: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    negative_mass: dict[str, int] = field(default_factory=dict)
    #: branch → {"count", "values" (the defaults seen), "used" (what replaced them)}
    btag_defaults: dict[str, dict] = field(default_factory=dict)
    btag_dropped: dict[str, int] = field(default_factory=dict)
    nonfinite_targets: dict[str, int] = field(default_factory=dict)

    def add(self, other: _Notes) -> None:
        for name, s in other.stats.items():
            t = self.stats.setdefault(name, TruncationStats())
            t.events += s.events
            t.truncated_events += s.truncated_events
            t.dropped_objects += s.dropped_objects
            t.largest = max(t.largest, s.largest)
        self.max_objects.update(other.max_objects)
        for mine, theirs in (
            (self.dropped, other.dropped),
            (self.negative_mass, other.negative_mass),
            (self.btag_dropped, other.btag_dropped),
            (self.nonfinite_targets, other.nonfinite_targets),
        ):
            for branch, n in theirs.items():
                mine[branch] = mine.get(branch, 0) + n
        for branch, d in other.btag_defaults.items():
            mine = self.btag_defaults.setdefault(branch, {"count": 0, "values": set()})
            mine["count"] += d["count"]
            mine["values"] |= d["values"]
            mine["used"] = d["used"]


_NOTES: contextvars.ContextVar[_Notes | None] = contextvars.ContextVar("notes", default=None)


@contextlib.contextmanager
def one_summary() -> Iterator[None]:
    """Within this context the reader's notes (events over ``max_objects``, objects dropped
    for non-finite or out-of-range b-tag values, b-tag defaults replaced, negative masses)
    are summed over all reads and logged once on leaving it: one line per note for a file
    read in chunks, not one per chunk."""
    notes = _Notes()
    token = _NOTES.set(notes)
    try:
        yield
    finally:
        _NOTES.reset(token)
    _log_summary(notes)


def new_notes() -> _Notes:
    """Empty reader notes, for a caller of :func:`prepare_collection` to fill."""
    return _Notes()


def log_notes(notes: _Notes) -> None:
    """Log the notes a caller of :func:`prepare_collection` collected (once per read)."""
    _log_summary(notes)


def _log_summary(notes: _Notes) -> None:
    """Log the notes of a read, or add them to the :func:`one_summary` being collected."""
    collecting = _NOTES.get()
    if collecting is not None:
        collecting.add(notes)
        return
    for name, s in notes.stats.items():
        if s.truncated_events:
            log.info(
                "%s: %d of %d events have more than %d objects (up to %d); "
                "%d lowest-pT objects dropped",
                name,
                s.truncated_events,
                s.events,
                notes.max_objects[name],
                s.largest,
                s.dropped_objects,
            )
    for branch, n in notes.dropped.items():
        log.warning("branch %r: %d objects with non-finite values dropped", branch, n)
    for branch, n in notes.negative_mass.items():
        log.warning("branch %r: %d objects with a negative mass, used as given", branch, n)
    for branch, d in notes.btag_defaults.items():
        values = ", ".join(f"{v:g}" for v in sorted(d["values"]))
        log.warning(
            "branch %r: %d b-tag default values (%s: no b-tag information) used as %g "
            "(--btag-default)",
            branch,
            d["count"],
            values,
            d["used"],
        )
    for branch, n in notes.nonfinite_targets.items():
        log.warning(
            "branch %r: %d entries with a non-finite target (NaN/inf): those events have none "
            "(--nonfinite-targets: masked out of its loss and metrics, or refused)",
            branch,
            n,
        )
    for branch, n in notes.btag_dropped.items():
        log.warning(
            "branch %r: %d objects with b-tag values outside [0, 1] dropped "
            "(--btag-out-of-range drop)",
            branch,
            n,
        )


def _array_chunk(arrays: Mapping[str, Any], branches: Sequence[str]) -> Chunk:
    """In-memory input as one :class:`Chunk`: the ``branches`` of ``arrays``, checked to be
    there and of one length."""
    missing = [b for b in branches if b not in arrays]
    if missing:
        from hepattn.data.schema import close_matches

        close = close_matches(missing[0], arrays)
        raise DataError(
            f"{ARRAYS}: no field {missing[0]!r}"
            + (f" (close matches: {close})" if close else "")
            + f"; it has {sorted(arrays)}"
        )
    data = {
        b: arrays[b] if isinstance(arrays[b], ak.Array) else ak.Array(arrays[b]) for b in branches
    }
    lengths = {b: len(a) for b, a in data.items()}
    first = next(iter(lengths))
    for b, n in lengths.items():
        if n != lengths[first]:
            raise DataError(
                f"{ARRAYS}: fields {first!r} and {b!r} have different lengths "
                f"({lengths[first]} and {n} entries)"
            )
    if lengths[first] == 0:
        raise DataError(f"no entries to read: the {ARRAYS} is empty")
    return Chunk(ARRAYS, 0, lengths[first], data, what="field")


def iterate_events(
    paths: Paths | Mapping[str, Any],
    schema: str | Schema | Mapping[str, Any],
    collections: Mapping[str, PadSpec],
    *,
    tree: str | None = None,
    step_size: int | str = "100 MB",
    entry_start: int = 0,
    entry_stop: int | None = None,
    nonfinite: str = "error",
    friends: Paths | None = None,
    btag: BtagPolicy | None = None,
    targets: Mapping[str, str] | None = None,
    require_targets: bool = False,
) -> Iterator[Events]:
    """Yield padded :class:`Events` chunk by chunk from one file, many files or a glob — or,
    given a mapping of branch name → array, from that in-memory input (one chunk; ``tree``,
    ``step_size`` and the entry range do not apply). ``friends``: one friend file per input
    file, whose trees give the branches the inputs lack
    (:func:`~hepattn.data.root.iterate_branches`). ``btag``: what to do with b-tag values
    outside [0, 1] (:mod:`hepattn.data.btag`; default: refuse them). ``targets``: name →
    event-level branch of target values (regressions) put in :attr:`Events.targets`
    (:func:`target_fields`: NaN where the input lacks the branch, a
    :class:`MissingTargetError` there with ``require_targets``)."""
    schema = get_schema(schema)
    if nonfinite not in ("error", "drop"):
        raise ValueError(f"nonfinite must be 'error' or 'drop', got {nonfinite!r}")
    colls = {name: _needed(schema, name, collections[name]) for name in collections}
    branches = [b for c in colls.values() for b in (*c.all_branches().values(), c.counter) if b]
    maybe = schema.optional_branches()
    branches = list(
        dict.fromkeys([*branches, *(b for b in schema.event.values() if b not in maybe)])
    )
    notes = _Notes(
        stats={name: TruncationStats() for name in colls},
        max_objects={name: c.max_objects for name, c in collections.items()},
    )
    targets = dict(targets or {})
    files: list[Path | str] = []
    if isinstance(paths, Mapping):
        if friends is not None:
            raise DataError(f"friend files apply to ROOT input, not to an {ARRAYS}")
        have = [b for b in [*targets.values(), *maybe] if b in paths and b not in branches]
        chunks: Iterator[Chunk] = iter([_array_chunk(paths, [*branches, *have])])
    else:
        chunks = iterate_branches(
            paths,
            schema,
            branches,
            tree,
            step_size,
            entry_start,
            entry_stop,
            friends,
            optional=(*targets.values(), *sorted(maybe)),
        )
    for chunk in chunks:
        if not files or files[-1] != chunk.path:
            files.append(chunk.path)
        padded = {
            name: _pad_collection(
                prepare_collection(chunk, name, coll, nonfinite, notes, btag),
                coll,
                collections[name],
                notes.stats[name],
            )
            for name, coll in colls.items()
        }
        n = chunk.stop - chunk.start
        yield Events(
            collections=padded,
            event=event_fields(chunk, schema),
            entry=np.arange(chunk.start, chunk.stop, dtype=np.int64),
            file_index=np.zeros(n, dtype=np.int64),
            files=[str(chunk.path)],
            targets=target_fields(chunk, targets, require_targets, notes),
        )
    _log_summary(notes)


def read_events(
    paths: Paths | Mapping[str, Any],
    schema: str | Schema | Mapping[str, Any],
    collections: Mapping[str, PadSpec],
    *,
    select: Callable[[Events], Events] | None = None,
    **kwargs,
) -> Events:
    """All events of :func:`iterate_events` at once (same arguments). ``select`` (``Events →
    Events``), applied to each chunk before the chunks are joined, keeps only those events in
    memory (a validation split of large files, :mod:`hepattn.data.split`)."""
    chunks = iterate_events(paths, schema, collections, **kwargs)
    if select is not None:
        chunks = (select(c) for c in chunks)
    return Events.concatenate(list(chunks))
