"""Schemas: which branches of a ROOT file hold which collections, and how.

A :class:`Schema` names a tree and a set of :class:`Collection` objects (jets, towers,
partons, …). Each collection says how its 4-momenta are stored (``kinematics``), which branch
holds each kinematic component, which extra per-object branches it has (``fields``: b-tag
scores, …), which integer per-object branches are labels/targets (``labels``), and optionally
a counter branch (``nJet``) that is checked against the jagged lengths. ``event`` maps
event-level names to branches (weights, jet-level quantities of a one-jet-per-entry file).

Kinematic conventions (``kinematics``) and the components they need:

==================  ==============================================  ==========================
value               components (role names in ``branches``)         example
==================  ==============================================  ==========================
``ptetaphim``       pt, eta, phi, mass                              NanoAOD ``Jet_pt`` …
``ptetaphie``       pt, eta, phi, energy (pt may be E_T of a tower) Delphes ``Tower.ET`` …
``pxpypze``         px, py, pz, energy                              ``Jet_Px`` … in HZZ
``tlorentzvector``  p4 (one ``std::vector<TLorentzVector>`` branch) ``jetp4``
==================  ==============================================  ==========================

Users write their own schema in YAML (see :func:`load_schema`) or build the dataclasses in
Python; neither requires touching the package::

    name: myntuple
    tree: Events
    collections:
      jets:
        kinematics: ptetaphim
        branches: {pt: Jet_pt, eta: Jet_eta, phi: Jet_phi, mass: Jet_mass}
        fields: {btag: Jet_btagDeepFlavB}
        counter: nJet
    event: {weight: genWeight}
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hepattn.errors import SchemaError

__all__ = [
    "BUILTIN_SCHEMAS",
    "KINEMATICS",
    "Collection",
    "Schema",
    "close_matches",
    "detect_schema",
    "get_schema",
    "load_schema",
]

#: Components needed by each kinematic convention, in the order vector expects them.
KINEMATICS: dict[str, tuple[str, ...]] = {
    "ptetaphim": ("pt", "eta", "phi", "mass"),
    "ptetaphie": ("pt", "eta", "phi", "energy"),
    "pxpypze": ("px", "py", "pz", "energy"),
    "tlorentzvector": ("p4",),
}


def _text(value: Any, what: str, optional: bool = True) -> str | None:
    """``value`` checked to be a string (or None where ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise SchemaError(f"{what} must be a string, got {value!r}")
    return value


def _frozen_dict(value: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SchemaError(f"{what} must be a mapping of name -> branch, got {value!r}")
    out = {}
    for key, branch in value.items():
        if not isinstance(key, str) or not isinstance(branch, str):
            raise SchemaError(f"{what}: {key!r}: {branch!r} is not a name -> branch string pair")
        out[key] = branch
    return out


@dataclass(frozen=True)
class Collection:
    """One jagged collection of objects (per event, a variable-length list).

    Attributes:
        kinematics: one of :data:`KINEMATICS`.
        branches: kinematic role -> branch name (the roles :data:`KINEMATICS` lists).
        fields: extra per-object feature name -> branch name (e.g. ``btag``).
        labels: per-object integer target name -> branch name; padded with −1.
        counter: optional branch with the number of objects per event, checked.
    """

    kinematics: str
    branches: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    counter: str | None = None

    def __post_init__(self) -> None:
        if self.kinematics not in KINEMATICS:
            raise SchemaError(
                f"unknown kinematics {self.kinematics!r}; choose one of {sorted(KINEMATICS)}"
            )
        missing = [r for r in KINEMATICS[self.kinematics] if r not in self.branches]
        if missing:
            raise SchemaError(
                f"kinematics {self.kinematics!r} needs branches for {missing}, "
                f"got {sorted(self.branches)}"
            )
        extra = set(self.branches) - set(KINEMATICS[self.kinematics])
        if extra:
            raise SchemaError(
                f"branches {sorted(extra)} are not kinematic components of {self.kinematics!r}; "
                "put other per-object branches under `fields` or `labels`"
            )
        clash = (set(self.fields) & set(self.labels)) | (set(self.fields) | set(self.labels)) & set(
            KINEMATICS[self.kinematics]
        )
        if clash:
            raise SchemaError(f"names used twice in one collection: {sorted(clash)}")

    def all_branches(self) -> dict[str, str]:
        """Every role -> branch this collection reads (kinematics, fields, labels)."""
        return {**self.branches, **self.fields, **self.labels}

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> Collection:
        if not isinstance(d, Mapping):
            raise SchemaError(f"collection {name!r} must be a mapping, got {d!r}")
        unknown = set(d) - {"kinematics", "branches", "fields", "labels", "counter"}
        if unknown:
            raise SchemaError(f"collection {name!r}: unknown keys {sorted(unknown)}")
        if "kinematics" not in d or "branches" not in d:
            raise SchemaError(f"collection {name!r} needs `kinematics` and `branches`")
        return cls(
            kinematics=_text(d["kinematics"], f"collection {name!r} kinematics", False),
            branches=_frozen_dict(d["branches"], f"collection {name!r} branches"),
            fields=_frozen_dict(d.get("fields"), f"collection {name!r} fields"),
            labels=_frozen_dict(d.get("labels"), f"collection {name!r} labels"),
            counter=_text(d.get("counter"), f"collection {name!r} counter"),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kinematics": self.kinematics, "branches": dict(self.branches)}
        if self.fields:
            d["fields"] = dict(self.fields)
        if self.labels:
            d["labels"] = dict(self.labels)
        if self.counter:
            d["counter"] = self.counter
        return d


@dataclass(frozen=True)
class Schema:
    """A tree name, its collections and its event-level fields."""

    name: str
    collections: dict[str, Collection]
    tree: str | None = None
    event: dict[str, str] = field(default_factory=dict)
    description: str = ""
    #: event fields a file may lack (truth quantities only signal simulation has, e.g. m_HH):
    #: read where present, NaN elsewhere (a background or data file reads with the same schema)
    optional_event: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.collections and not self.event:
            raise SchemaError(f"schema {self.name!r} reads nothing: no collections, no event")
        unknown = [f for f in self.optional_event if f not in self.event]
        if unknown:
            raise SchemaError(
                f"schema {self.name!r}: optional_event {unknown[0]!r} is not an event field "
                f"({sorted(self.event)})"
            )

    def optional_branches(self) -> set[str]:
        """The branches of :attr:`optional_event`."""
        return {self.event[f] for f in self.optional_event}

    def collection(self, name: str) -> Collection:
        try:
            return self.collections[name]
        except KeyError:
            raise SchemaError(
                f"schema {self.name!r} has no collection {name!r}; "
                f"it has {sorted(self.collections)}"
            ) from None

    def branches(self, collections: Iterable[str] | None = None) -> list[str]:
        """Every branch read for ``collections`` (default all) and the event fields."""
        names = self.collections if collections is None else list(collections)
        out: list[str] = []
        for name in names:
            coll = self.collection(name)
            out += list(coll.all_branches().values())
            if coll.counter:
                out.append(coll.counter)
        out += list(self.event.values())
        return list(dict.fromkeys(out))

    def required(self, collections: Iterable[str] | None = None) -> set[str]:
        """The branches a file must hold to be read with this schema: kinematics, labels and
        counters of ``collections`` (default all) and the event fields. Per-object ``fields``
        (b-tags, …) are read only when a model uses them, so they may be missing."""
        names = self.collections if collections is None else list(collections)
        out = set(self.event.values()) - self.optional_branches()
        for name in names:
            c = self.collection(name)
            out |= {*c.branches.values(), *c.labels.values(), *([c.counter] if c.counter else [])}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], name: str | None = None) -> Schema:
        if not isinstance(d, Mapping):
            raise SchemaError(f"a schema must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {"name", "tree", "collections", "event", "description", "optional_event"}
        if unknown:
            raise SchemaError(f"schema: unknown keys {sorted(unknown)}")
        name = d.get("name", name)
        if not name:
            raise SchemaError("a schema needs a `name`")
        name = _text(name, "the schema's `name`", False)
        colls = d.get("collections") or {}
        if not isinstance(colls, Mapping):
            raise SchemaError(f"schema {name!r}: `collections` must be a mapping")
        return cls(
            name=name,
            tree=_text(d.get("tree"), f"schema {name!r} tree"),
            collections={k: Collection.from_dict(k, v) for k, v in colls.items()},
            event=_frozen_dict(d.get("event"), f"schema {name!r} event"),
            description=_text(d.get("description", ""), f"schema {name!r} description") or "",
            optional_event=tuple(str(f) for f in d.get("optional_event") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tree": self.tree,
            "description": self.description,
            "collections": {k: c.to_dict() for k, c in self.collections.items()},
            "event": dict(self.event),
            **({"optional_event": list(self.optional_event)} if self.optional_event else {}),
        }


def _ptetaphim(prefix: str, sep: str, names=("pt", "eta", "phi", "mass")) -> dict[str, str]:
    roles = KINEMATICS["ptetaphim"]
    return {role: f"{prefix}{sep}{n}" for role, n in zip(roles, names, strict=True)}


def _resolved_collections() -> dict[str, Collection]:
    """The jets and partons of ``hepattn generate``'s resolved-jet files (tt̄, HH)."""
    return {
        "jets": Collection(
            "ptetaphim",
            _ptetaphim("jet", "_"),
            fields={
                "btag": "jet_btag",
                "btag_score": "jet_btag_score",
                "flavour": "jet_flavour",
            },
            labels={"parton": "jet_parton"},
            counter="njet",
        ),
        "partons": Collection(
            "ptetaphim",
            _ptetaphim("parton", "_"),
            fields={"pdgid": "parton_pdgid"},
            labels={"jet": "parton_jet"},
            counter="nparton",
        ),
    }


BUILTIN_SCHEMAS: dict[str, Schema] = {
    s.name: s
    for s in [
        Schema(
            name="hepattn-ttbar",
            description="hepattn's all-hadronic ttbar samples (`hepattn generate ttbar`)",
            tree="events",
            collections={
                **_resolved_collections(),
            },
            event={"weight": "weight", "event": "event"},
        ),
        Schema(
            name="hepattn-ttbar-ljets",
            description="hepattn's lepton+jets ttbar samples (`hepattn generate ttbar "
            "--channel ljets`): jets, partons, one lepton, MET",
            tree="events",
            collections={
                **_resolved_collections(),
                "lepton": Collection(
                    "ptetaphim",
                    _ptetaphim("lepton", "_"),
                    fields={"charge": "lepton_charge", "pdgid": "lepton_pdgid"},
                    counter="nlepton",
                ),
            },
            event={"weight": "weight", "event": "event", "met_pt": "met_pt", "met_phi": "met_phi"},
        ),
        Schema(
            name="hepattn-hh4b",
            description="hepattn's HH -> 4b samples (`hepattn generate hh4b`)",
            tree="events",
            collections={
                **_resolved_collections(),
            },
            event={"weight": "weight", "event": "event", "mhh": "mhh"},
            optional_event=("mhh",),
        ),
        Schema(
            name="hepattn-prongs",
            description="hepattn's boosted N-prong jets, one jet per entry "
            "(`hepattn generate prongs`)",
            tree="jets",
            collections={
                "towers": Collection(
                    "ptetaphie",
                    {
                        "pt": "tower_pt",
                        "eta": "tower_eta",
                        "phi": "tower_phi",
                        "energy": "tower_e",
                    },
                    counter="ntower",
                )
            },
            event={
                "jet_pt": "jet_pt",
                "jet_eta": "jet_eta",
                "jet_phi": "jet_phi",
                "jet_mass": "jet_mass",
                "label": "label",
                "n_contained": "n_contained",
                "weight": "weight",
                "event": "event",
            },
        ),
        Schema(
            name="nanoaod",
            description="CMS NanoAOD (Events tree, AK4 jets with DeepJet b-tag)",
            tree="Events",
            collections={
                "jets": Collection(
                    "ptetaphim",
                    _ptetaphim("Jet", "_"),
                    fields={"btag": "Jet_btagDeepFlavB", "btag_score": "Jet_btagDeepFlavB"},
                    counter="nJet",
                )
            },
            event={"event": "event"},
        ),
        Schema(
            name="delphes",
            description="Delphes output (Delphes tree: Jet and Tower branches)",
            tree="Delphes",
            collections={
                "jets": Collection(
                    "ptetaphim",
                    _ptetaphim("Jet", ".", ("PT", "Eta", "Phi", "Mass")),
                    fields={"btag": "Jet.BTag"},
                ),
                "towers": Collection(
                    "ptetaphie",
                    {"pt": "Tower.ET", "eta": "Tower.Eta", "phi": "Tower.Phi", "energy": "Tower.E"},
                ),
            },
        ),
        Schema(
            name="cartesian",
            description="Cartesian jet 4-momenta (Jet_Px, Jet_Py, Jet_Pz, Jet_E), "
            "as in the CMS HEP-tutorial file uproot-HZZ.root",
            tree="events",
            collections={
                "jets": Collection(
                    "pxpypze",
                    {"px": "Jet_Px", "py": "Jet_Py", "pz": "Jet_Pz", "energy": "Jet_E"},
                    fields={"btag": "Jet_btag"},
                    counter="NJet",
                )
            },
            event={"weight": "EventWeight"},
        ),
        Schema(
            name="cartesian-objects",
            description="jets as std::vector<TLorentzVector> (uproot-HZZ-objects.root)",
            tree="events",
            collections={
                "jets": Collection("tlorentzvector", {"p4": "jetp4"}, fields={"btag": "jetbtag"})
            },
            event={"weight": "eventweight"},
        ),
    ]
}


def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``candidates`` that look like ``name`` (case-insensitive)."""
    candidates = list(candidates)
    lower = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.6)
    return [lower[h] for h in hits]


def load_schema(path: str | os.PathLike) -> Schema:
    """Read a user schema from a YAML file (``yaml.safe_load``)."""
    path = Path(path)
    try:
        d = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SchemaError(f"schema file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise SchemaError(f"schema file {path} is not valid YAML: {err}") from None
    try:
        return Schema.from_dict(d, name=path.stem)
    except SchemaError as err:
        raise SchemaError(f"{path}: {err}") from None


def get_schema(schema: str | os.PathLike | Schema | Mapping[str, Any]) -> Schema:
    """A :class:`Schema` from a built-in name, a YAML path, a dict or a Schema."""
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, Mapping):
        return Schema.from_dict(schema)
    key = str(schema)
    if key in BUILTIN_SCHEMAS:
        return BUILTIN_SCHEMAS[key]
    if key.endswith((".yaml", ".yml")) or os.path.exists(key):
        return load_schema(key)
    hint = close_matches(key, BUILTIN_SCHEMAS)
    raise SchemaError(
        f"unknown schema {key!r}: built-in schemas are {sorted(BUILTIN_SCHEMAS)}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
        + "; or give the path of a YAML schema file"
    )


def detect_schema(
    tree_name: str, branches: Iterable[str], collections: Iterable[str] | None = None
) -> Schema | None:
    """The built-in schema that reads tree ``tree_name`` and finds all its branches — or,
    with ``collections``, those of these collections and the event fields — if any."""
    have = set(branches)
    want = None if collections is None else list(collections)
    for schema in BUILTIN_SCHEMAS.values():
        if want is not None and not set(want) <= set(schema.collections):
            continue
        if schema.tree in (None, tree_name) and schema.required(want) <= have:
            return schema
    return None
