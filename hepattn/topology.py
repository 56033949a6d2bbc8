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
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

__all__ = ["LOG2", "TOPOLOGIES", "TTBAR_ALLHAD", "Resonance", "Topology"]

#: log 2: the two orderings of a top's light-quark pair (and of any symmetric index pair).
LOG2 = math.log(2.0)


@dataclass(frozen=True)
class Resonance:
    """One decaying particle: its daughters in parton order, and which may be exchanged.

    Attributes:
        name: e.g. ``"t"``.
        daughters: daughter names in parton order, e.g. ``("b", "q1", "q2")``.
        symmetric: the daughters that can be exchanged freely (at most one group), e.g.
            ``("q1", "q2")``; they come first in the head order.
    """

    name: str
    daughters: tuple[str, ...]
    symmetric: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(set(self.daughters)) != len(self.daughters):
            raise ValueError(f"resonance {self.name!r}: repeated daughters {self.daughters}")
        if not set(self.symmetric) <= set(self.daughters):
            raise ValueError(f"resonance {self.name!r}: {self.symmetric} are not all daughters")

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


@dataclass(frozen=True)
class Topology:
    """A declared event topology.

    Attributes:
        name: e.g. ``"ttbar-allhad"``.
        resonances: in parton order.
        exchangeable: whether the resonances can be exchanged with each other (t ↔ t̄ for
            jets that do not tell top from anti-top): predictions are then compared with the
            truth, and the loss taken, in the resonance order that fits best.
    """

    name: str
    resonances: tuple[Resonance, ...]
    exchangeable: bool = True

    @cached_property
    def partons(self) -> tuple[str, ...]:
        """All daughter names in parton order (primed from the second resonance of a name on)."""
        return tuple(d + "′" * r for r, res in enumerate(self.resonances) for d in res.daughters)

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
    def permutations(self) -> tuple[tuple[int, ...], ...]:
        """Resonance orders equivalent under the symmetry, identity first: ``((0, 1), (1, 0))``
        for tt̄ (straight and crossed), only the identity when not :attr:`exchangeable`."""
        ident = tuple(range(len(self.resonances)))
        if not self.exchangeable:
            return (ident,)
        return tuple(itertools.permutations(ident))

    @property
    def order_string(self) -> str:
        """The parton order as written in file metadata: ``"b,q1,q2,b',q1',q2'"``."""
        return ",".join(p.replace("′", "'") for p in self.partons)


#: All-hadronic tt̄: t → b W(→ q1 q2), twice; tops exchangeable.
TTBAR_ALLHAD = Topology(
    name="ttbar-allhad",
    resonances=(
        Resonance("t", ("b", "q1", "q2"), symmetric=("q1", "q2")),
        Resonance("t", ("b", "q1", "q2"), symmetric=("q1", "q2")),
    ),
)

#: Built-in topologies by name.
TOPOLOGIES: dict[str, Topology] = {t.name: t for t in (TTBAR_ALLHAD,)}
