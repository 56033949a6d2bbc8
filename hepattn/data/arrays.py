"""In-memory awkward records as the reader's input: which field of the user's records holds
which role of a collection, turned into branches and a schema for
:func:`~hepattn.data.reader.read_events` (given a mapping instead of paths, it reads them
through the same checks, features and padding as ROOT files).

The user's collections are jagged record arrays — coffea NanoEvents' ``events.Jet`` with
fields ``pt, eta, phi, mass, btagDeepFlavB``, or any ``ak.zip`` of jagged arrays — and event
fields flat arrays. Each role of a schema collection (a kinematic component such as ``pt``,
a field such as ``btag``) is found in the records by, in order:

1. the user's field mapping: ``{role: field}`` (e.g. ``{"btag": "btagDeepFlavB"}``), per
   collection ``{collection: {role: field}}``; a ``"kinematics"`` key changes the convention
   (:data:`~hepattn.data.schema.KINEMATICS`);
2. the schema's branch name (``Jet_pt``), or that name without its collection prefix, up to the
   first ``_`` or ``.`` (``pt``): NanoEvents strips ``Jet_`` the same way, so the built-in
   ``nanoaod`` schema reads ``events.Jet`` as it is.

A role found nowhere is a :class:`~hepattn.errors.DataError` naming the field looked for, the
collection and the fields the records have.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import awkward as ak

from hepattn.data.features import AXIS_FEATURES, FEATURES
from hepattn.data.reader import ARRAYS, PadSpec
from hepattn.data.schema import KINEMATICS, Collection, Schema, close_matches
from hepattn.errors import DataError

__all__ = ["array_branches", "field_overrides"]


def field_overrides(mapping: Mapping[str, Any] | None, main: str) -> dict[str, dict[str, str]]:
    """``{collection: {role: field}}`` from a user's field mapping: ``{role: field}`` for the
    ``main`` collection, or already per collection."""
    if not mapping:
        return {}
    if all(isinstance(v, str) for v in mapping.values()):
        return {main: dict(mapping)}
    out = {}
    for name, roles in mapping.items():
        if not isinstance(roles, Mapping) or not all(isinstance(v, str) for v in roles.values()):
            raise DataError(
                f"field mapping: expected {{role: field}} or {{collection: {{role: field}}}}, "
                f"got {name!r}: {roles!r}"
            )
        out[name] = dict(roles)
    return out


def _stripped(branch: str) -> str:
    """``Jet_pt`` → ``pt``, ``Jet.PT`` → ``PT``; a name without a prefix as it is."""
    parts = re.split(r"[_.]", branch, maxsplit=1)
    return parts[1] if len(parts) == 2 and parts[1] else branch


def _fields_of(records: Any, name: str) -> tuple[ak.Array, list[str]]:
    arr = records if isinstance(records, ak.Array) else ak.Array(records)
    fields = ak.fields(arr)
    if not fields:
        raise DataError(
            f"{ARRAYS}: collection {name!r} must be a jagged array of records with fields "
            f"(e.g. events.Jet, or ak.zip of pt, eta, ...), got type {arr.type}"
        )
    return arr, fields


def array_branches(
    inputs: Mapping[str, Any],
    schema: Schema,
    collections: Mapping[str, PadSpec],
    event_fields: Sequence[str] = (),
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[dict[str, ak.Array], Schema]:
    """The branches and the schema that read ``inputs`` as ``schema`` reads files.

    Args:
        inputs: collection name → jagged record array; event field name → flat array.
        schema: the schema whose roles are wanted (a model's, or the user's choice).
        collections: what is padded of each collection (its features decide which of the
            schema's fields are needed; labels too).
        event_fields: event-level fields needed, by the schema's names.
        overrides: ``{collection: {role: field}}`` (:func:`field_overrides`).

    Returns:
        ``(branches, schema)``: branch ``"<collection>.<field>"`` → array, and a schema
        naming those branches, for :func:`~hepattn.data.reader.read_events`.
    """
    overrides = overrides or {}
    unknown = set(overrides) - set(collections)
    if unknown:
        raise DataError(
            f"field mapping for {sorted(unknown)}: the model reads only {sorted(collections)}"
        )
    branches: dict[str, ak.Array] = {}
    colls: dict[str, Collection] = {}
    for name, spec in collections.items():
        if name not in inputs:
            raise DataError(
                f"{ARRAYS}: no collection {name!r} given (the model reads {sorted(collections)}"
                + (f" and the event fields {list(event_fields)}" if event_fields else "")
                + f"; got {sorted(inputs)})"
            )
        records, have = _fields_of(inputs[name], name)
        base = schema.collections.get(name)
        over = dict(overrides.get(name, {}))
        kinematics = over.pop("kinematics", base.kinematics if base is not None else None)
        if kinematics not in KINEMATICS:
            raise DataError(
                f"{ARRAYS}: collection {name!r}: give its kinematics, one of {sorted(KINEMATICS)}"
                f" (schema {schema.name!r} does not have it), e.g. {{'kinematics': 'ptetaphim'}}"
            )
        extra = [f for f in spec.features if f not in FEATURES and f not in AXIS_FEATURES]
        extra += list(spec.labels or ())
        known = base.all_branches() if base is not None else {}
        found: dict[str, str] = {}
        for role in (*KINEMATICS[kinematics], *extra):
            if role in over:
                want = [over[role]]
            elif role in known:
                want = list(dict.fromkeys((known[role], _stripped(known[role]))))
            else:
                want = [role]
            field = next((f for f in want if f in have), None)
            if field is None:
                close = close_matches(want[-1], have)
                raise DataError(
                    f"{ARRAYS}: collection {name!r} has no field {want[-1]!r} (the {role!r} "
                    f"of schema {schema.name!r}); its fields are {sorted(have)}"
                    + (f" (close matches: {close})" if close else "")
                    + f"; name the field with schema={{{role!r}: 'FIELD'}}"
                )
            found[role] = field
            branches[f"{name}.{field}"] = records[field]
        kin = {r: f"{name}.{found[r]}" for r in KINEMATICS[kinematics]}
        labels = set(spec.labels or ())
        colls[name] = Collection(
            kinematics,
            kin,
            fields={r: f"{name}.{found[r]}" for r in extra if r not in labels},
            labels={r: f"{name}.{found[r]}" for r in extra if r in labels},
        )
    for field in event_fields:
        if field not in inputs:
            raise DataError(
                f"{ARRAYS}: no event field {field!r} given (one value per event; got "
                f"{sorted(inputs)})"
            )
        branches[field] = inputs[field]
    event = {f: f for f in event_fields}
    return branches, Schema(f"{schema.name} (awkward input)", colls, event=event)
