"""Event topologies: which partons an event holds, how they group, and its symmetries.

The one place that knows parton order. A :class:`Topology` declares its resonances (a top:
b, q1, q2), each with the daughters that can be exchanged without changing the event (the
W's two light quarks), and which resonances can be exchanged with each other (t ↔ t̄ when
the flavour of the jets cannot tell them apart). Everything that orders partons — the
matcher's heads and decoding, its training targets, the matching metrics, the χ² baseline,
the SPANet layout — derives its indices from here.

Two orders are in use:

- the **parton order**: the resonances' daughters one after the other, e.g.
  ``(b, q1, q2, b′, q1′, q2′)`` for all-hadronic tt̄ — the order of assignments
  ``int[B, P]`` (jet index per parton, −1 where none) in files, metrics and the χ²;
- the **head order** of one resonance: its exchangeable daughters first, then the others —
  ``(q1, q2, b)`` for a top — the index order ``(i, j, k)`` in which a symmetric tensor
  attention head scores jet triplets (symmetric in i, j).

``log_multiplicity`` is the log of the number of orderings of a resonance's exchangeable
daughters (``log 2`` for a top): the probability of an *unordered* light-quark pair is
``P(i, j, k) + P(j, i, k) = 2 P(i, j, k)``.

Declared in YAML (read with ``yaml.safe_load``'s loader, which here also refuses a key
repeated in one mapping; the built-ins are ``hepattn/configs/topologies/*.yaml``, loaded by
name with :func:`load_topology`, which also takes a user's file; a built-in name wins over a
file of that name)::

    name: ttbar-ljets
    collections:            # the input collections daughters are drawn from
      jets: {}              # the collection the heads choose from (any number of objects)
      lepton: {max_objects: 1}
      met: {max_objects: 1, transverse: true}  # MET: one object, transverse only
    resonances:             # in parton order; names unique
      t_had:
        daughters: {b: jets, q1: jets, q2: jets}   # name: collection, in parton order
        symmetric: [q1, q2]                        # exchangeable daughters (one group)
      t_lep:
        daughters: {b: jets, l: lepton, nu: met}
    exchangeable: []        # groups of exchangeable resonances, e.g. [[t1, t2]]
    defaults:               # optional: what commands use when the user does not say
      schema: hepattn-ttbar-ljets   # the schema of `hepattn generate`'s files
      baseline: chi2-ljets          # the classical baseline (hepattn.baselines.registry)
      model: matcher-ttbar-ljets    # the bundled matcher (hepattn/models/<model>)
      genpart: ttbar-semileptonic   # how `hepattn label` finds its partons in GenPart
    regressions:            # optional: truth quantities the matcher may regress (value + σ)
      - {name: nu_pz, field: truth_nu_pz}                       # event-level
      - {name: pt, field: truth_t_had_pt, resonance: t_had, weight: 0.5}   # per resonance
    classifications:        # optional: event classes a matcher may tell apart (signal first)
      - {name: process, classes: [signal, qcd, ttbar], weight: 1.0}
    report:                 # optional: the efficiency tables (hepattn.metrics.matching)
      columns: [event, t_had, t_lep]     # default: event and each resonance
      labels: {}                         # column headers other than ε_<column>
      aliases: {}                        # extra keys older outputs used for a metric

A resonance may also list ``aliases``: names older outputs gave it (the all-hadronic
ONNX graph's ``log_prob_top1``).

Only daughters drawn from ``jets`` are chosen by the network: each resonance has 1, 2 or 3 of
them (the order of its symmetric tensor attention head). A daughter from another collection
is that collection's object (index 0 of a one-object collection): nothing to choose.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

import yaml

from hepattn.errors import HepattnError

__all__ = [
    "BUILTIN_TOPOLOGIES",
    "REPORT_METRICS",
    "JETS",
    "LOG2",
    "MAX_HEAD_ORDER",
    "TOPOLOGIES",
    "TTBAR_ALLHAD",
    "Source",
    "Defaults",
    "Regression",
    "Classification",
    "Report",
    "Resonance",
    "Topology",
    "TopologyError",
    "load_topology",
    "topology_entry",
    "topology_from_dict",
    "topology_from_entry",
    "topology_name",
]

#: log 2: the two orderings of a top's light-quark pair (and of any symmetric index pair).
LOG2 = math.log(2.0)
#: The collection the network's heads choose daughters from.
JETS = "jets"
#: The highest order of a symmetric tensor attention head (triplets).
MAX_HEAD_ORDER = 3
#: Metrics of the efficiency tables besides one per resonance (:mod:`hepattn.metrics.matching`):
#: ``event`` all resonances correct; ``full`` the fraction of correct resonances in events
#: with all reconstructable (SPA-Net's ε_2^top); ``single`` the one reconstructable resonance
#: correct in events with exactly one (ε_1^top).
REPORT_METRICS = ("event", "full", "single")


class TopologyError(HepattnError, ValueError):
    """A topology declaration is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Source:
    """One input collection daughters are drawn from (SPANet's "input source"; a schema's
    collection of the same name supplies it).

    Attributes:
        name: e.g. ``"jets"``, ``"lepton"``, ``"met"``.
        max_objects: at most this many objects per event (1 for a lepton or MET); ``None``
            for any number (jets).
        transverse: only its transverse momentum is measured (MET): its pair features are
            transverse (:mod:`hepattn.physics.pairwise`).
    """

    name: str
    max_objects: int | None = None
    transverse: bool = False


@dataclass(frozen=True)
class Resonance:
    """One decaying particle: its daughters in parton order, and which may be exchanged.

    Attributes:
        name: e.g. ``"t"``.
        daughters: daughter names in parton order, e.g. ``("b", "q1", "q2")``.
        symmetric: the daughters that can be exchanged freely (at most one group), e.g.
            ``("q1", "q2")``; they come first in the head order.
        sources: the collection of each daughter, parallel to ``daughters``; empty = all
            :data:`JETS`.
        aliases: other names older outputs gave the resonance (``top1``).
    """

    name: str
    daughters: tuple[str, ...]
    symmetric: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(set(self.daughters)) != len(self.daughters):
            raise ValueError(f"resonance {self.name!r}: repeated daughters {self.daughters}")
        if not set(self.symmetric) <= set(self.daughters):
            raise ValueError(f"resonance {self.name!r}: {self.symmetric} are not all daughters")
        if self.sources and len(self.sources) != len(self.daughters):
            raise ValueError(f"resonance {self.name!r}: one source per daughter expected")

    def source(self, i: int) -> str:
        """The collection of daughter ``i`` (parton order)."""
        return self.sources[i] if self.sources else JETS

    @property
    def jet_daughters(self) -> tuple[int, ...]:
        """Positions (parton order) of the daughters drawn from :data:`JETS`."""
        return tuple(i for i in range(len(self.daughters)) if self.source(i) == JETS)

    @property
    def order(self) -> int:
        """The order of the resonance's head: its number of jet daughters."""
        return len(self.jet_daughters)

    @property
    def head_order(self) -> tuple[int, ...]:
        """Daughter positions (in parton order) in head order: exchangeable ones first."""
        sym = [self.daughters.index(d) for d in self.symmetric]
        return (*sym, *(i for i in range(len(self.daughters)) if i not in sym))

    @property
    def from_head(self) -> tuple[int, ...]:
        """The inverse of :attr:`head_order`: head positions in parton order."""
        order = self.head_order
        return tuple(order.index(i) for i in range(len(order)))

    @property
    def log_multiplicity(self) -> float:
        """log of the number of orderings of the exchangeable daughters (log 2 for a top)."""
        return math.log(math.factorial(len(self.symmetric)))

    @property
    def shape(self) -> tuple[tuple[str, ...], int]:
        """What two exchangeable resonances must share: sources in head order, group size."""
        return tuple(self.source(i) for i in self.head_order), len(self.symmetric)


@dataclass(frozen=True)
class Defaults:
    """What commands use for a topology when the user does not say.

    Attributes:
        schema: the schema of ``hepattn generate``'s files of this topology.
        baseline: the classical baseline's name (:mod:`hepattn.baselines.registry`).
        model: the bundled matcher's directory name under ``hepattn/models``.
        genpart: how its partons are found in NanoAOD GenPart (``hepattn label``;
            :data:`hepattn.labels.GENPART_FINDERS`).
    """

    schema: str | None = None
    baseline: str | None = None
    model: str | None = None
    genpart: str | None = None


@dataclass(frozen=True)
class Report:
    """The columns of the efficiency tables (:mod:`hepattn.metrics.matching`).

    Attributes:
        columns: metrics shown, each a :data:`REPORT_METRICS` entry or a resonance name;
            empty: ``event`` and each resonance.
        labels: ``(column, header)`` pairs for headers other than ``ε_<column>``.
        aliases: ``(key, alias)`` pairs: a row's ``key`` (and ``key_err``) also written as
            ``alias`` (and ``alias_err``), as older outputs named them.
    """

    columns: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Regression:
    """A truth quantity the matcher may regress (a value and its uncertainty), as SPANet's
    event file declares its regressions.

    Attributes:
        name: e.g. ``"nu_pz"``; unique among the event-level regressions, and among those of
            one resonance.
        field: the event-level field of the input that holds the target: an event field of
            the schema, else a branch of the file (``truth_nu_pz``).
        resonance: the resonance it belongs to (``t_had``), or None: event-level.
        weight: the weight of its loss in the matcher's loss.
    """

    name: str
    field: str
    resonance: str | None = None
    weight: float = 1.0

    @property
    def key(self) -> str:
        """The name of its outputs: ``EVENT_<name>`` or ``<resonance>_<name>``."""
        return f"{self.resonance or 'EVENT'}_{self.name}"


@dataclass(frozen=True)
class Classification:
    """An event-level classification a matcher may learn beside its assignments (SPANet's
    classification heads): signal against backgrounds.

    Attributes:
        name: e.g. ``"process"``.
        classes: the class names; the first is the topology's own events (the *signal*, whose
            partons the assignment heads learn); the others are backgrounds, whose parton
            labels are ignored. ``hepattn match`` writes ``EVENT_<class>_prob`` per class.
        weight: the weight of its cross-entropy in the matcher's loss.
    """

    name: str
    classes: tuple[str, ...]
    weight: float = 1.0

    @property
    def signal(self) -> str:
        """The class of the topology's own events (the first)."""
        return self.classes[0]

    def outputs(self) -> tuple[str, ...]:
        """The names of its outputs: ``EVENT_<class>_prob`` per class."""
        return tuple(f"EVENT_{c}_prob" for c in self.classes)


@dataclass(frozen=True)
class Topology:
    """A declared event topology.

    Attributes:
        name: e.g. ``"ttbar-allhad"``.
        resonances: in parton order.
        exchangeable: ``True``: all resonances can be exchanged with each other (t ↔ t̄ for
            jets that do not tell top from anti-top); ``False``: none; or groups of resonance
            names, e.g. ``(("H1", "H2"),)``. Predictions are compared with the truth, and the
            loss taken, in the resonance order that fits best.
        collections: the input collections daughters are drawn from.
        defaults: the schema, baseline and bundled model of the topology.
        report: the columns of its efficiency tables.
        regressions: the truth quantities a matcher may regress (:class:`Regression`).
        classifications: the event classifications a matcher may learn
            (:class:`Classification`).
    """

    name: str
    resonances: tuple[Resonance, ...]
    exchangeable: bool | tuple[tuple[str, ...], ...] = True
    collections: tuple[Source, ...] = field(default=(Source(JETS),))
    defaults: Defaults = field(default=Defaults())
    report: Report = field(default=Report())
    regressions: tuple[Regression, ...] = ()
    classifications: tuple[Classification, ...] = ()

    def classification(self, name: str) -> Classification:
        """The declared classification ``name`` (``process``)."""
        return self._declared(self.classifications, "classification", name)

    def regression(self, key: str) -> Regression:
        """The declared regression of :attr:`Regression.key` ``key`` (``EVENT_nu_pz``)."""
        return self._declared(self.regressions, "regression", key)

    def _declared(self, items, what: str, name: str):
        known = [getattr(x, "key", x.name) for x in items]
        if name in known:
            return items[known.index(name)]
        raise TopologyError(
            f"topology {self.name!r} declares no {what} {name!r} (it declares {known})"
        )

    @cached_property
    def partons(self) -> tuple[str, ...]:
        """All daughter names in parton order; a name already used by an earlier resonance
        gets one prime per earlier use (``b, q1, q2, b′, q1′, q2′`` for tt̄)."""
        seen: dict[str, int] = {}
        out = []
        for res in self.resonances:
            for d in res.daughters:
                out.append(d + "′" * seen.get(d, 0))
                seen[d] = seen.get(d, 0) + 1
        return tuple(out)

    @cached_property
    def qualified(self) -> tuple[str, ...]:
        """``resonance_daughter`` names in parton order (``t_had_b``, …): output branch names."""
        return tuple(f"{r.name}_{d}" for r in self.resonances for d in r.daughters)

    @property
    def n_partons(self) -> int:
        return sum(len(r.daughters) for r in self.resonances)

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """Position of each resonance's first daughter in the parton order."""
        sizes = [len(r.daughters) for r in self.resonances]
        return tuple(sum(sizes[:i]) for i in range(len(sizes)))

    @cached_property
    def head_index(self) -> tuple[tuple[int, ...], ...]:
        """Per resonance, parton-order indices in head order (``((1, 2, 0), (4, 5, 3))`` for
        tt̄): ``assignment[:, head_index[r]]`` are resonance r's jets as a head scores them."""
        return tuple(
            tuple(o + i for i in res.head_order)
            for o, res in zip(self.offsets, self.resonances, strict=True)
        )

    @cached_property
    def jet_head_index(self) -> tuple[tuple[int, ...], ...]:
        """Like :attr:`head_index`, jet daughters only: what each head chooses."""
        return tuple(
            tuple(o + i for i in res.head_order if res.source(i) == JETS)
            for o, res in zip(self.offsets, self.resonances, strict=True)
        )

    @property
    def orders(self) -> tuple[int, ...]:
        """Per resonance, the order of its head (its number of jet daughters)."""
        return tuple(r.order for r in self.resonances)

    @cached_property
    def groups(self) -> tuple[tuple[int, ...], ...]:
        """Groups of exchangeable resonances as resonance indices (only groups of ≥ 2)."""
        n = len(self.resonances)
        if self.exchangeable is True:
            return ((*range(n),),) if n > 1 else ()
        if self.exchangeable is False:
            return ()
        names = [r.name for r in self.resonances]
        return tuple(tuple(names.index(x) for x in g) for g in self.exchangeable if len(g) > 1)

    @cached_property
    def permutations(self) -> tuple[tuple[int, ...], ...]:
        """Resonance orders equivalent under the symmetry, identity first: ``((0, 1), (1, 0))``
        for tt̄ (straight and crossed), only the identity when none is exchangeable.
        ``perm[r]`` is the resonance whose prediction is compared with true resonance r."""
        ident = tuple(range(len(self.resonances)))
        out = []
        for choice in itertools.product(*(itertools.permutations(g) for g in self.groups)):
            perm = list(ident)
            for g, p in zip(self.groups, choice, strict=True):
                for src, dst in zip(g, p, strict=True):
                    perm[src] = dst
            out.append(tuple(perm))
        return tuple(out) if out else (ident,)

    @property
    def order_string(self) -> str:
        """The parton order as written in file metadata: ``"b,q1,q2,b',q1',q2'"``."""
        return ",".join(p.replace("′", "'") for p in self.partons)

    @property
    def n_jet_daughters(self) -> int:
        """Jets an event needs for every resonance (6 for all-hadronic tt̄)."""
        return sum(self.orders)

    def partons_from(self, collection: str) -> tuple[int, ...]:
        """Parton-order indices of the daughters drawn from ``collection``."""
        return tuple(
            off + k
            for r, off in zip(self.resonances, self.offsets, strict=True)
            for k in range(len(r.daughters))
            if r.source(k) == collection
        )

    @property
    def report_columns(self) -> tuple[str, ...]:
        """The efficiency tables' columns (:class:`Report`; default event + resonances)."""
        return self.report.columns or ("event", *(r.name for r in self.resonances))

    def declaration(self) -> dict[str, Any]:
        """The topology as its YAML mapping (:func:`topology_from_dict` reads it back)."""
        names = [r.name for r in self.resonances]
        out: dict[str, Any] = {
            "name": self.name,
            "collections": {
                c.name: {
                    **({"max_objects": c.max_objects} if c.max_objects is not None else {}),
                    **({"transverse": True} if c.transverse else {}),
                }
                for c in self.collections
            },
            "resonances": {
                r.name: {
                    "daughters": {d: r.source(i) for i, d in enumerate(r.daughters)},
                    **({"symmetric": list(r.symmetric)} if r.symmetric else {}),
                    **({"aliases": list(r.aliases)} if r.aliases else {}),
                }
                for r in self.resonances
            },
            "exchangeable": [[names[i] for i in g] for g in self.groups],
        }
        defaults = {k: v for k, v in vars(self.defaults).items() if v is not None}
        if defaults:
            out["defaults"] = defaults
        if self.report != Report():
            out["report"] = {
                "columns": list(self.report.columns),
                "labels": dict(self.report.labels),
                "aliases": dict(self.report.aliases),
            }
        if self.regressions:
            out["regressions"] = [
                {
                    "name": r.name,
                    "field": r.field,
                    **({"resonance": r.resonance} if r.resonance is not None else {}),
                    **({"weight": r.weight} if r.weight != 1.0 else {}),
                }
                for r in self.regressions
            ]
        if self.classifications:
            out["classifications"] = [
                {
                    "name": c.name,
                    "classes": list(c.classes),
                    **({"weight": c.weight} if c.weight != 1.0 else {}),
                }
                for c in self.classifications
            ]
        return out


def _fail(where: str, key: str, message: str) -> None:
    raise TopologyError(f"{where}: {key}: {message}")


def _names(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _fail(where, key, f"expected a list of names, got {value!r}")
    if len(set(value)) != len(value):
        _fail(where, key, f"duplicate names in {value}")
    return tuple(value)


def _mapping(value: Any, where: str, key: str) -> Mapping:
    if not isinstance(value, Mapping):
        _fail(where, key, f"expected a mapping, got {value!r}")
    return value


def _unknown(data: Mapping, allowed: set[str], where: str, key: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        _fail(where, key, f"unknown keys {extra} (allowed: {sorted(allowed)})")


def _collections(data: Any, where: str) -> tuple[Source, ...]:
    out = []
    for name, spec in _mapping(data, where, "collections").items():
        key = f"collections.{name}"
        spec = _mapping({} if spec is None else spec, where, key)
        _unknown(spec, {"max_objects", "transverse"}, where, key)
        most = spec.get("max_objects")
        if most is not None and (not isinstance(most, int) or isinstance(most, bool) or most < 1):
            _fail(where, f"{key}.max_objects", f"must be a positive integer, got {most!r}")
        transverse = spec.get("transverse", False)
        if not isinstance(transverse, bool):
            _fail(where, f"{key}.transverse", f"must be true or false, got {transverse!r}")
        out.append(Source(str(name), most, transverse))
    if JETS not in [c.name for c in out]:
        _fail(where, "collections", f"the {JETS!r} collection the heads choose from is missing")
    jets = next(c for c in out if c.name == JETS)
    if jets.max_objects is not None:
        _fail(where, f"collections.{JETS}.max_objects", "the jet collection takes no limit")
    if jets.transverse:
        _fail(where, f"collections.{JETS}.transverse", "jets are measured in three dimensions")
    return tuple(out)


def _resonance(name: str, spec: Any, known: dict[str, Source], where: str) -> Resonance:
    key = f"resonances.{name}"
    spec = _mapping(spec, where, key)
    _unknown(spec, {"daughters", "symmetric", "aliases"}, where, key)
    if "daughters" not in spec:
        _fail(where, f"{key}.daughters", "missing")
    daughters = _mapping(spec["daughters"], where, f"{key}.daughters")
    for d, src in daughters.items():
        if src not in known:
            _fail(where, f"{key}.daughters.{d}", f"unknown collection {src!r} ({sorted(known)})")
        if src != JETS and known[src].max_objects is None:
            _fail(
                where,
                f"{key}.daughters.{d}",
                f"only {JETS!r} daughters are chosen by the heads; a daughter from {src!r} "
                "needs a collection with max_objects",
            )
    n_jets = sum(src == JETS for src in daughters.values())
    if not 1 <= n_jets <= MAX_HEAD_ORDER:
        _fail(
            where,
            f"{key}.daughters",
            f"{n_jets} daughters from {JETS!r}; the heads serve 1 to {MAX_HEAD_ORDER}",
        )
    symmetric = _names(spec.get("symmetric", []), where, f"{key}.symmetric")
    for d in symmetric:
        if d not in daughters:
            _fail(where, f"{key}.symmetric", f"{d!r} is not a daughter of {name!r}")
        if daughters[d] != JETS:
            _fail(where, f"{key}.symmetric", f"{d!r} is not a {JETS!r} daughter")
    if len(symmetric) == 1:
        _fail(where, f"{key}.symmetric", "a symmetry group needs at least two daughters")
    if n_jets == MAX_HEAD_ORDER and len(symmetric) != 2:
        _fail(
            where,
            f"{key}.symmetric",
            "a resonance with three jet daughters is served by the triplet kernels, which "
            "need exactly one exchangeable pair (q1 ↔ q2)",
        )
    aliases = _names(spec.get("aliases", []), where, f"{key}.aliases")
    return Resonance(
        str(name), tuple(map(str, daughters)), symmetric, tuple(daughters.values()), aliases
    )


def topology_from_dict(data: Any, where: str = "topology") -> Topology:
    """Build and check a :class:`Topology` from its YAML mapping (module docstring).

    Raises:
        TopologyError: naming ``where`` and the key at fault — an unknown collection, a
            number of jet daughters the heads cannot serve, a symmetry naming a missing
            daughter or resonance, duplicate names, unknown keys.
    """
    data = _mapping(data, where, "(top level)")
    allowed = {
        *("name", "collections", "resonances", "exchangeable", "defaults", "report"),
        "regressions",
        "classifications",
    }
    _unknown(data, allowed, where, "(top level)")
    for key in ("name", "collections", "resonances"):
        if key not in data:
            _fail(where, key, "missing")
    if not isinstance(data["name"], str) or not data["name"]:
        _fail(where, "name", f"must be a non-empty string, got {data['name']!r}")
    collections = _collections(data["collections"], where)
    known = {c.name: c for c in collections}
    specs = _mapping(data["resonances"], where, "resonances")
    if not specs:
        _fail(where, "resonances", "at least one resonance is needed")
    resonances = tuple(_resonance(str(n), s, known, where) for n, s in specs.items())
    for c in collections:
        used = sum(r.source(i) == c.name for r in resonances for i in range(len(r.daughters)))
        if c.max_objects is not None and used > c.max_objects:
            _fail(
                where, f"collections.{c.name}", f"{used} daughters but max_objects {c.max_objects}"
            )
    groups = data.get("exchangeable", [])
    if not isinstance(groups, list):
        _fail(where, "exchangeable", f"expected a list of groups of resonances, got {groups!r}")
    seen: set[str] = set()
    for g in groups:
        g = _names(g, where, "exchangeable")
        for x in g:
            if x not in specs:
                _fail(where, "exchangeable", f"{x!r} is not a resonance ({list(specs)})")
            if x in seen:
                _fail(where, "exchangeable", f"{x!r} is in two groups")
            seen.add(x)
        shapes = {next(r for r in resonances if r.name == x).shape for x in g}
        if len(shapes) > 1:
            _fail(
                where,
                "exchangeable",
                f"{list(g)} differ in their daughters' collections or symmetry",
            )
    names = [r.name for r in resonances]
    taken = [a for r in resonances for a in r.aliases]
    if len(set(names + taken)) != len(names) + len(taken):
        _fail(where, "resonances", "an alias repeats a resonance name or another alias")
    return Topology(
        data["name"],
        resonances,
        tuple(tuple(g) for g in groups),
        collections,
        _defaults(data.get("defaults", {}), where),
        _report(data.get("report", {}), names, where),
        regressions := _regressions(data.get("regressions", []), resonances, where),
        _classifications(data.get("classifications", []), regressions, where),
    )


def _weight(spec: dict, where: str, key: str) -> float:
    weight = spec.get("weight", 1.0)
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or weight < 0
    ):
        _fail(where, f"{key}.weight", f"must be a number >= 0, got {weight!r}")
    return float(weight)


def _classifications(
    data: Any, regressions: tuple[Regression, ...], where: str
) -> tuple[Classification, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        _fail(where, "classifications", f"expected a list of classifications, got {data!r}")
    out: list[Classification] = []
    taken = {f"{r.key}" for r in regressions} | {f"{r.key}_sigma" for r in regressions}
    for i, spec in enumerate(data):
        key = f"classifications[{i}]"
        spec = _mapping(spec, where, key)
        _unknown(spec, {"name", "classes", "weight"}, where, key)
        for k in ("name", "classes"):
            if k not in spec:
                _fail(where, f"{key}.{k}", "missing")
        name = spec["name"]
        if not isinstance(name, str) or not name.isidentifier():
            _fail(where, f"{key}.name", f"must be a name (letters, digits, _), got {name!r}")
        if any(c.name == name for c in out):
            _fail(where, f"{key}.name", f"{name!r} is declared twice")
        classes = _names(spec["classes"], where, f"{key}.classes")
        if len(classes) < 2:
            _fail(where, f"{key}.classes", f"at least two classes are needed, got {list(classes)}")
        for c in classes:
            if not c.isidentifier():
                _fail(where, f"{key}.classes", f"{c!r} must be a name (letters, digits, _)")
        cls = Classification(name, classes, _weight(spec, where, key))
        clash = [o for o in cls.outputs() if o in taken]
        if clash:
            _fail(where, f"{key}.classes", f"output {clash[0]!r} is already another output's")
        taken.update(cls.outputs())
        out.append(cls)
    return tuple(out)


def _regressions(
    data: Any, resonances: tuple[Resonance, ...], where: str
) -> tuple[Regression, ...]:
    names = [r.name for r in resonances]

    def daughters_of(res: str) -> tuple[str, ...]:
        return next(r for r in resonances if r.name == res).daughters

    if data is None:
        return ()
    if not isinstance(data, list):
        _fail(where, "regressions", f"expected a list of regressions, got {data!r}")
    out: list[Regression] = []
    for i, spec in enumerate(data):
        key = f"regressions[{i}]"
        spec = _mapping(spec, where, key)
        _unknown(spec, {"name", "field", "resonance", "weight"}, where, key)
        for k in ("name", "field"):
            if k not in spec:
                _fail(where, f"{key}.{k}", "missing")
            if not isinstance(spec[k], str) or not spec[k]:
                _fail(where, f"{key}.{k}", f"must be a non-empty string, got {spec[k]!r}")
        name = spec["name"]
        if not name.isidentifier():
            _fail(where, f"{key}.name", f"{name!r} must be a name (letters, digits, _)")
        res = spec.get("resonance")
        if res is not None and res not in names:
            _fail(where, f"{key}.resonance", f"{res!r} is not a resonance ({names})")
        weight = _weight(spec, where, key)
        if res is not None:
            taken = {"prob", "detection", *daughters_of(res)}
            if name in taken:
                _fail(
                    where,
                    f"{key}.name",
                    f"{name!r} would write {res}_{name}, a branch of the assignment "
                    f"(taken for {res!r}: {sorted(taken)})",
                )
        reg = Regression(name, spec["field"], res, float(weight))
        if any(r.key == reg.key for r in out):
            owner = f"resonance {res!r}" if res is not None else "the event"
            _fail(where, f"{key}.name", f"{name!r} is declared twice for {owner}")
        out.append(reg)
    return tuple(out)


def _defaults(data: Any, where: str) -> Defaults:
    data = _mapping({} if data is None else data, where, "defaults")
    _unknown(data, {"schema", "baseline", "model", "genpart"}, where, "defaults")
    for key, value in data.items():
        if not isinstance(value, str) or not value:
            _fail(where, f"defaults.{key}", f"must be a non-empty string, got {value!r}")
    return Defaults(**data)


def _report(data: Any, resonances: list[str], where: str) -> Report:
    data = _mapping({} if data is None else data, where, "report")
    _unknown(data, {"columns", "labels", "aliases"}, where, "report")
    known = [*REPORT_METRICS, *resonances]
    columns = _names(data.get("columns", []), where, "report.columns")
    for c in columns:
        if c not in known:
            _fail(where, "report.columns", f"{c!r} is neither a metric nor a resonance {known}")
    pairs = {}
    for key in ("labels", "aliases"):
        mapping = _mapping(data.get(key, {}) or {}, where, f"report.{key}")
        for k, v in mapping.items():
            if not isinstance(v, str) or not v:
                _fail(where, f"report.{key}.{k}", f"must be a non-empty string, got {v!r}")
        pairs[key] = tuple((str(k), v) for k, v in mapping.items())
    for k, _ in pairs["labels"]:
        if k not in known:
            _fail(where, "report.labels", f"{k!r} is neither a metric nor a resonance {known}")
    return Report(columns, pairs["labels"], pairs["aliases"])


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, refusing a key repeated in one mapping (PyYAML keeps the
    last silently: two resonances or daughters of the same name would merge)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        for key in keys:
            if keys.count(key) > 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _builtin_dir():
    return resources.files("hepattn") / "configs" / "topologies"


#: Names of the built-in topologies (``hepattn/configs/topologies/NAME.yaml``).
BUILTIN_TOPOLOGIES: tuple[str, ...] = tuple(
    sorted(
        p.name.removesuffix(".yaml") for p in _builtin_dir().iterdir() if p.name.endswith(".yaml")
    )
)


def load_topology(name_or_path: str | os.PathLike) -> Topology:
    """A built-in topology by name (:data:`BUILTIN_TOPOLOGIES`), or a user's YAML file."""
    if str(name_or_path) in TOPOLOGIES:
        return TOPOLOGIES[str(name_or_path)]
    path = os.fspath(name_or_path)
    if not os.path.isfile(path):
        raise TopologyError(
            f"{path}: neither a built-in topology ({', '.join(BUILTIN_TOPOLOGIES)}) nor a file"
        )
    return _read(path, path)


def _read(source, where: str) -> Topology:
    try:
        text = source.read_text() if hasattr(source, "read_text") else open(source).read()
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except OSError as err:
        raise TopologyError(f"{where}: cannot read the topology ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise TopologyError(f"{where}: not valid YAML ({err})") from None
    return topology_from_dict(data, where)


#: Built-in topologies by name.
TOPOLOGIES: dict[str, Topology] = {
    n: _read(_builtin_dir() / f"{n}.yaml", f"built-in topology {n!r}") for n in BUILTIN_TOPOLOGIES
}

#: All-hadronic tt̄: t → b W(→ q1 q2), twice; tops exchangeable. The default topology.
TTBAR_ALLHAD = TOPOLOGIES["ttbar-allhad"]


def topology_entry(topology: str | os.PathLike) -> str | dict:
    """What a run config stores as ``model.topology``: a built-in's name, or the declaration
    read from a user's YAML file (so that a saved model does not depend on the file)."""
    if str(topology) in TOPOLOGIES:
        return str(topology)
    load_topology(topology)  # checked, errors naming the file and key
    with open(topology, encoding="utf-8") as f:
        return yaml.load(f, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def topology_from_entry(entry: str | os.PathLike | Mapping | Topology | None) -> Topology:
    """The :class:`Topology` of a run config's ``model.topology``: a name, a file, a
    declaration mapping, a topology, or None (the default, all-hadronic tt̄)."""
    if entry is None:
        return TTBAR_ALLHAD
    if isinstance(entry, Topology):
        return entry
    if isinstance(entry, Mapping):
        return topology_from_dict(entry, "model.topology")
    return load_topology(entry)


def topology_name(topology: str | os.PathLike) -> str:
    """The name of ``topology``: a built-in's, or the ``name`` of a YAML file; any other
    string is taken as a name (that of a user's topology a saved model stores in its run
    config, whose YAML file is then not needed)."""
    if str(topology) in TOPOLOGIES or os.path.isfile(topology):
        return load_topology(topology).name
    return str(topology)
