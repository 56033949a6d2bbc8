"""A model's domain: the inputs it was trained on, recorded with it and checked at inference.

A network answers for any input, also for one it never saw: a NanoAOD jet with b-tag score
−1, a jet of one tower, an event of 500 towers cut to 128. Such answers are not wrong in a
way anyone can see, so every model records the domain of its training data, and every
command that runs it counts the inputs outside.

**Recorded** (:meth:`Domain.measure`, at training, into ``domain.json`` of the model
directory): per *quantity* — each input feature of each collection read (per object, in the
units the network reads before standardization, e.g. ``jets.log_pt``; with the standardized
range beside it), the number of objects per event of each collection before truncation
(``jets.count``), event-level inputs (``met.pt``) and what a task adds (the tagger: the jet's
pT and mass from its towers, ``jet.pt``, ``jet.mass``, in GeV) — its minimum, maximum and the
quantiles :data:`QUANTILES`; and each collection's ``max_objects``.

**Checked** (:meth:`Domain.check`): a value is outside when it lies below
``min − m·(max − min)`` or above ``max + m·(max − min)``, with the margin ``m`` =
:data:`MARGIN`. Every value outside is counted (the outputs' metadata,
:meth:`DomainTally.to_dict`). A quantity is *reported* when more of its values are outside
than the tails of the training sample explain: of N values drawn like n training values, the
chance of one falling beyond the training extremes is at most 2/(n + 1), so the count outside
is at most Poisson with mean λ = 2N/(n + 1); the quantity is reported when a count as large
has a probability below :data:`ALPHA` (:func:`beyond_tails`). A jet of one tower among a
handful, b-tag defaults, a fifth of the scores outside [0, 1] are reported; the one 1.8 TeV
jet of a sample as large as the training set is not. Events with more objects than
``max_objects`` (whose lowest-pT objects the model never sees) are counted apart, and
reported when the training events never had that many.

The ``--domain`` policy: ``warn`` (default) logs one warning line per reported quantity (how
many, the farthest value and how far in widths of the range, the model's range), ``error``
refuses such an input with one line naming the file, entry, quantity and value, ``ignore``
checks nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from hepattn.errors import DataError

log = logging.getLogger(__name__)

__all__ = [
    "MARGIN",
    "POLICIES",
    "QUANTILES",
    "Domain",
    "DomainTally",
    "Quantity",
    "QuantityRange",
    "beyond_tails",
    "domain_summary",
]

#: ``--domain`` choices.
POLICIES = ("warn", "error", "ignore")
#: Quantiles recorded per quantity (shown in the card).
QUANTILES = (0.001, 0.01, 0.5, 0.99, 0.999)
#: Values within this fraction of the range's width beyond its ends are inside.
MARGIN = 0.1
#: A count outside is reported when its probability under the training tails is below this.
ALPHA = 1e-2
#: ``domain.json`` format version.
VERSION = 1


@dataclasses.dataclass(frozen=True)
class Quantity:
    """One quantity of some events, as checked: ``values`` ``float[B, N]`` with ``mask``
    ``bool[B, N]`` (per object) or ``float[B]`` with ``mask`` None (per event);
    ``standardize``: ``(mean, std)`` of the network's standardization, or None."""

    values: np.ndarray
    mask: np.ndarray | None = None
    standardize: tuple[float, float] | None = None

    @property
    def unit(self) -> str:
        return "events" if self.mask is None else "objects"

    def real(self) -> np.ndarray:
        """The values of real objects (all values per event), flat."""
        return self.values.ravel() if self.mask is None else self.values[self.mask]


@dataclasses.dataclass(frozen=True)
class QuantityRange:
    """The training range of one quantity: ``min``, ``max``, ``quantiles`` (q → value), the
    standardized range ``(lo, hi)`` where the network standardizes it, and ``n`` values."""

    min: float
    max: float
    quantiles: dict[str, float]
    unit: str
    n: int
    standardized: tuple[float, float] | None = None
    integer: bool = False

    @classmethod
    def measure(cls, q: Quantity) -> QuantityRange:
        x = q.real().astype(np.float64)
        if x.size == 0:
            raise DataError("no training value to measure a domain from")
        lo, hi = float(x.min()), float(x.max())
        qs = np.quantile(x, QUANTILES)
        std = None
        if q.standardize is not None:
            mean, sd = q.standardize
            std = ((lo - mean) / sd, (hi - mean) / sd)
        return cls(
            lo, hi, {f"{p:g}": float(v) for p, v in zip(QUANTILES, qs, strict=True)}, q.unit,
            int(x.size), std, bool(np.all(x == np.round(x))),
        )  # fmt: skip

    @property
    def width(self) -> float:
        return self.max - self.min

    def bounds(self) -> tuple[float, float]:
        """``(min − m·w, max + m·w)``: values outside are outside the domain (module doc);
        ``m = 0`` for a quantity of whole numbers (objects per event, 0/1 decisions)."""
        pad = 0.0 if self.integer else MARGIN * self.width
        return self.min - pad, self.max + pad

    def to_dict(self) -> dict[str, Any]:
        out = {"unit": self.unit, "min": self.min, "max": self.max, "n": self.n}
        out["integer"] = self.integer
        out["quantiles"] = self.quantiles
        if self.standardized is not None:
            out["standardized"] = list(self.standardized)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> QuantityRange:
        std = d.get("standardized")
        return cls(
            float(d["min"]), float(d["max"]), {str(k): float(v) for k, v in d["quantiles"].items()},
            str(d["unit"]), int(d["n"]), None if std is None else (float(std[0]), float(std[1])),
            bool(d.get("integer", False)),
        )  # fmt: skip


def beyond_tails(k: int, n_checked: int, n_train: int, alpha: float = ALPHA) -> bool:
    """Whether ``k`` values outside among ``n_checked`` are more than the tails of ``n_train``
    training values explain: ``P(K ≥ k) < alpha`` for ``K ~ Poisson(λ)``,
    ``λ = 2·n_checked / (n_train + 1)`` (module doc)."""
    if k <= 0:
        return False
    lam = 2.0 * n_checked / (n_train + 1)
    if k > lam + 10.0 * math.sqrt(lam) + 10.0:
        return True
    term = math.exp(-lam)  # P(K = 0)
    below = 0.0
    for j in range(k):  # P(K < k)
        below += term
        term *= lam / (j + 1)
    return 1.0 - below < alpha


def _label(name: str) -> str:
    """``jets.count`` → ``jets per event``; ``jets.log_pt`` → ``jets log_pt``."""
    coll, _, what = name.partition(".")
    return f"{coll} per event" if what == "count" else f"{coll} {what}"


@dataclasses.dataclass
class _Count:
    """What was outside for one quantity, summed over reads."""

    outside: int = 0
    total: int = 0
    events: int = 0
    farthest: float = 0.0
    distance: float = -1.0  # in widths of the range; −1: none yet

    def reported(self, n_train: int) -> bool:
        return beyond_tails(self.outside, self.total, n_train)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outside": self.outside,
            "total": self.total,
            "events": self.events,
            "farthest": self.farthest if self.outside else None,
        }


@dataclasses.dataclass
class DomainTally:
    """The counts of :meth:`Domain.check` over one or more reads (per quantity, and the
    events over ``max_objects`` per collection)."""

    model: str = ""
    policy: str = "warn"
    events: int = 0
    counts: dict[str, _Count] = dataclasses.field(default_factory=dict)
    ranges: dict[str, QuantityRange] = dataclasses.field(default_factory=dict)
    truncated: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)

    def add(self, other: DomainTally) -> None:
        self.model, self.policy = other.model, other.policy
        self.events += other.events
        self.ranges.update(other.ranges)
        for name, c in other.counts.items():
            mine = self.counts.setdefault(name, _Count())
            mine.outside += c.outside
            mine.total += c.total
            mine.events += c.events
            if c.distance > mine.distance:
                mine.farthest, mine.distance = c.farthest, c.distance
        for coll, t in other.truncated.items():
            mine_t = self.truncated.setdefault(coll, {"events": 0, "objects": 0, "largest": 0})
            mine_t["events"] += t["events"]
            mine_t["objects"] += t["objects"]
            mine_t["largest"] = max(mine_t["largest"], t["largest"])
            mine_t["max_objects"] = t["max_objects"]
            mine_t["seen"] = t.get("seen", False)

    @property
    def outside(self) -> int:
        """Events or objects outside, over all quantities, plus events truncated."""
        return sum(c.outside for c in self.counts.values()) + sum(
            t["events"] for t in self.truncated.values()
        )

    def lines(self) -> list[str]:
        """One warning line per quantity with values outside, and per truncated collection."""
        out = []
        for name, c in sorted(self.counts.items()):
            r = self.ranges[name]
            if not c.reported(r.n):
                continue
            lo, hi = r.bounds()
            side = "below" if c.farthest < lo else "above"
            per = f" (in {c.events:,} events)" if r.unit == "objects" else ""
            coll, _, what = name.partition(".")
            cap = self.truncated.get(coll, {}).get("max_objects")
            reads = (
                f"; the model reads the {cap} of highest pT"
                if what == "count" and cap is not None and c.farthest > cap
                else ""
            )
            out.append(
                f"domain: {_label(name)}: {c.outside:,} of {c.total:,} {r.unit}{per} outside "
                f"the range model {self.model} was trained on, {r.min:.4g} to {r.max:.4g} "
                f"(farthest {c.farthest:.4g}, {c.distance:.2g} range widths {side}){reads}"
            )
        for coll, t in sorted(self.truncated.items()):
            if t["events"] and not t.get("seen", False):
                out.append(
                    f"domain: {coll}: {t['events']:,} of {self.events:,} events have more than "
                    f"the {t['max_objects']} objects model {self.model} reads (up to "
                    f"{t['largest']}); their {t['objects']:,} lowest-pT objects are not seen"
                )
        return out

    def log(self) -> None:
        for line in self.lines():
            log.warning("%s", line)

    def to_dict(self) -> dict[str, Any]:
        """The counts, JSON-ready (what output files record as their ``domain``)."""
        return {
            "policy": self.policy,
            "model": self.model,
            "events": self.events,
            "outside": {
                name: {**c.to_dict(), "range": [self.ranges[name].min, self.ranges[name].max]}
                for name, c in sorted(self.counts.items())
                if c.outside
            },
            "over_max_objects": {
                k: {x: v[x] for x in ("events", "objects", "largest", "max_objects")}
                for k, v in self.truncated.items()
                if v["events"]
            },
        }


_TALLY: contextvars.ContextVar[DomainTally | None] = contextvars.ContextVar(
    "domain_tally", default=None
)


@contextlib.contextmanager
def domain_summary() -> Iterator[DomainTally]:
    """Within this context the counts of every check are summed (into the tally yielded)
    and logged once on leaving it — one line per quantity for a file read in chunks."""
    tally = DomainTally()
    token = _TALLY.set(tally)
    try:
        yield tally
    finally:
        _TALLY.reset(token)
    tally.log()


@dataclasses.dataclass(frozen=True)
class Domain:
    """A model's domain (module doc): the training range of each quantity, each collection's
    ``max_objects``, how many training events it was measured on and from what."""

    ranges: dict[str, QuantityRange]
    max_objects: dict[str, int]
    events: int
    source: str = ""

    @classmethod
    def measure(
        cls, quantities: Mapping[str, Quantity], max_objects: Mapping[str, int], source: str = ""
    ) -> Domain:
        """The domain of the training quantities (:meth:`hepattn.tasks.base.Task.quantities`)."""
        ranges = {name: QuantityRange.measure(q) for name, q in quantities.items()}
        events = max((len(q.values) for q in quantities.values()), default=0)
        return cls(ranges, dict(max_objects), events, source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "events": self.events,
            "source": self.source,
            "margin": MARGIN,
            "max_objects": self.max_objects,
            "quantities": {name: r.to_dict() for name, r in self.ranges.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "domain.json") -> Domain:
        from hepattn.models import ModelError

        try:
            if int(d.get("version", 0)) != VERSION:
                raise ValueError(f"version {d.get('version')!r}, this hepattn reads {VERSION}")
            ranges = {str(k): QuantityRange.from_dict(v) for k, v in d["quantities"].items()}
            caps = {str(k): int(v) for k, v in d["max_objects"].items()}
            return cls(ranges, caps, int(d["events"]), str(d.get("source", "")))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ModelError(f"{where}: not a domain record ({err})") from None

    def check(
        self,
        quantities: Mapping[str, Quantity],
        counts: Mapping[str, np.ndarray],
        where: Any,
        model: str,
        policy: str = "warn",
    ) -> DomainTally:
        """Count the values of ``quantities`` outside the domain and the events of ``counts``
        (collection → ``int[B]`` objects before truncation) over ``max_objects``.

        ``policy`` ``"error"``: a :class:`DataError` at the first quantity outside, naming
        ``where(i)`` (the file and entry of event ``i``); ``"warn"``: the counts are logged
        (at once, or once per :func:`domain_summary`). Returns this check's counts.
        """
        if policy not in POLICIES:
            raise DataError(f"--domain must be one of {POLICIES}, got {policy!r}")
        tally = DomainTally(model=model, policy=policy)
        if policy == "ignore":
            return tally
        for name, q in quantities.items():
            r = self.ranges.get(name)
            if r is None:
                continue
            tally.ranges[name] = r
            tally.events = max(tally.events, len(q.values))
            lo, hi = r.bounds()
            bad = (q.values < lo) | (q.values > hi)
            if q.mask is not None:
                bad &= q.mask
            c = tally.counts.setdefault(name, _Count())
            c.total += int(q.mask.sum()) if q.mask is not None else len(q.values)
            if not bad.any():
                continue
            per_event = bad.any(axis=1) if bad.ndim > 1 else bad
            x = q.values[bad].astype(np.float64)
            dist = np.maximum(r.min - x, x - r.max) / (r.width if r.width > 0 else 1.0)
            k = int(np.argmax(dist))
            c.outside, c.events = int(bad.sum()), int(per_event.sum())
            c.farthest, c.distance = float(x[k]), float(dist[k])
            if policy == "error" and c.reported(r.n):
                i = int(np.flatnonzero(per_event)[0])
                first = float(q.values[i][bad[i]][0]) if bad.ndim > 1 else float(q.values[i])
                raise DataError(
                    f"{where(i)}: {_label(name)} {first:.4g} is outside the range model {model} "
                    f"was trained on, {r.min:.4g} to {r.max:.4g} ({c.outside:,} {r.unit} of "
                    f"this read); --domain warn runs it anyway (counted in a warning), "
                    "--domain ignore without a word"
                )
        for coll, n in counts.items():
            cap = self.max_objects.get(coll)
            if cap is None:
                continue
            over = n > cap
            count = self.ranges.get(f"{coll}.count")
            seen = count is not None and count.max > cap  # training events were cut too
            tally.truncated[coll] = {
                "events": int(over.sum()),
                "objects": int((n - cap)[over].sum()),
                "largest": int(n.max(initial=0)),
                "max_objects": cap,
                "seen": seen,
            }
            if policy == "error" and over.any() and not seen:
                i = int(np.flatnonzero(over)[0])
                raise DataError(
                    f"{where(i)}: {int(n[i])} {coll}, more than the {cap} model {model} reads "
                    f"({int(over.sum()):,} events of this read); --domain warn runs it anyway "
                    "(the lowest-pT ones unseen, counted in a warning), --domain ignore without "
                    "a word"
                )
        collecting = _TALLY.get()
        if collecting is not None:
            collecting.add(tally)
        else:
            tally.log()
        return tally

    def card(self) -> str:
        """The model card's "Domain" section: one table row per quantity."""
        rows = [
            "## Domain",
            "",
            f"Measured on {self.events:,} training events ({self.source or 'the training set'}); "
            f"at inference, values outside [min − {MARGIN:g}·w, max + {MARGIN:g}·w] (w = max − "
            "min; whole-number quantities: [min, max]) are counted, and reported when more than "
            "the tails of this sample explain (`--domain warn|error|ignore`).",
            "",
            "| quantity | per | min | 0.1 % | 1 % | median | 99 % | 99.9 % | max |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, r in self.ranges.items():
            q = [r.quantiles.get(f"{p:g}", float("nan")) for p in QUANTILES]
            cells = " | ".join(f"{v:.4g}" for v in (r.min, *q, r.max))
            rows.append(f"| `{name}` | {r.unit[:-1]} | {cells} |")
        caps = ", ".join(f"{k} {v}" for k, v in self.max_objects.items())
        rows += ["", f"Objects read per event (more are cut, lowest pT first): {caps}.", ""]
        return "\n".join(rows)
