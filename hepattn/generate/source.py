"""Where a chunk's Pythia events come from: the plain path or the fast path.

Both paths run the same Pythia settings (MPI, ISR, FSR and hadronization on) and hand the
process modules the same things per event: the record as arrays, its decay history and the
event weight.

plain
    ``Pythia.next()`` per event, then a Python loop copies the record
    (:func:`~hepattn.generate.pythia.read_particles`); history questions go to the C++ record.

fast
    1. User hooks (:class:`Preselection`) veto, inside Pythia, events that cannot give an
       entry the process keeps: at process level (after the hard process and its resonance
       decays, before any shower) and at parton level (after showers and MPI, before
       hadronization). A vetoed event costs only the steps it went through. The cuts are the
       process module's (e.g. :func:`hepattn.generate.prongs.preselection`), chosen loose;
       what they lose is measured by ``benchmarks/bench_generate.py`` (the plain path with
       the hooks in dry-run: ``GenEvent.preselected``).
    2. Events are generated ``batch_size`` at a time with ``Pythia.nextBatch``, which fills
       arrays in C++ (:func:`~hepattn.generate.pythia.read_batch`): same record, no Python
       loop over particles.

The two paths consume Pythia's random numbers differently (a vetoed event is replaced), so the
same seed gives different events; their distributions are the same, which the benchmark tests
with two-sample tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hepattn.generate.pythia import (
    ArrayChain,
    EventChain,
    Particles,
    make_pythia,
    read_batch,
    read_particles,
    require_pythia,
)

log = logging.getLogger(__name__)

__all__ = ["GenEvent", "Preselection", "events"]

#: A process-level cut: (process record as arrays, its history) → keep the event?
ProcessCut = Callable[[Particles, EventChain], bool]
#: A parton-level cut: the ``pythia8mc.Event`` after showers and MPI → keep the event?
PartonCut = Callable[[Any], bool]


@dataclass(frozen=True)
class Preselection:
    """Cuts that the fast path applies inside Pythia (either may be ``None``)."""

    process: ProcessCut | None = None
    parton: PartonCut | None = None


@dataclass(frozen=True)
class GenEvent:
    """One generated event: its record, history, weight and position in the chunk's stream.

    ``number``: 0-based count of events generated in the chunk before this one, vetoed ones
    included; ``preselected``: False when a dry-run preselection would have vetoed it;
    ``sigma_pb``, ``sigma_err_pb``: Pythia's running ``sigmaGen`` and ``sigmaErr`` (after the
    preselection's vetoes) in pb.
    """

    parts: Particles
    chain: EventChain | ArrayChain
    weight: float
    number: int
    preselected: bool = True
    #: Pythia's estimate of the generated process's cross-section so far, and its error (pb)
    sigma_pb: float = float("nan")
    sigma_err_pb: float = float("nan")


def _hooks(cuts: Preselection, dry_run: bool) -> Any:
    """A ``pythia8mc.UserHooks`` applying ``cuts`` (or, in ``dry_run``, only recording them)."""
    pythia8mc = require_pythia()

    class Hooks(pythia8mc.UserHooks):
        def __init__(self) -> None:
            pythia8mc.UserHooks.__init__(self)
            self.vetoed = 0
            self.last_keep = True

        def canVetoProcessLevel(self) -> bool:  # noqa: N802 (Pythia's names)
            return cuts.process is not None

        def doVetoProcessLevel(self, process: Any) -> bool:  # noqa: N802
            keep = cuts.process(read_particles(process), EventChain(process))
            self.last_keep = keep
            return self._veto(keep)

        def canVetoPartonLevel(self) -> bool:  # noqa: N802
            return cuts.parton is not None

        def doVetoPartonLevel(self, event: Any) -> bool:  # noqa: N802
            if cuts.process is None:
                self.last_keep = True
            keep = self.last_keep and cuts.parton(event)
            self.last_keep = keep
            return self._veto(keep)

        def _veto(self, keep: bool) -> bool:
            if keep or dry_run:
                return False
            self.vetoed += 1
            return True

    return Hooks()


#: picobarn per millibarn (Pythia's cross-sections are in mb)
PB_PER_MB = 1e9


def _sigma(info: Any) -> tuple[float, float]:
    """Pythia's running cross-section estimate and its error, in pb."""
    return info.sigmaGen() * PB_PER_MB, info.sigmaErr() * PB_PER_MB


def events(
    settings: tuple[str, ...],
    seed: int,
    *,
    fast: bool,
    cuts: Preselection | None = None,
    dry_run: bool = False,
    batch_size: int = 16,
) -> Iterator[GenEvent | None]:
    """Endless stream of a chunk's events (``None`` for an event Pythia failed to make).

    ``fast``: the fast path (hooks with ``cuts`` + batches), else the plain one; ``dry_run``:
    install the hooks but only record their verdict in :attr:`GenEvent.preselected` (to
    check that the cuts lose nothing kept).
    """
    if fast and dry_run:
        raise ValueError("dry_run checks the preselection on the plain path (fast=False)")
    hooks = _hooks(cuts, dry_run) if cuts is not None and (fast or dry_run) else None
    pythia = make_pythia(settings, seed, hooks=hooks)
    number = 0
    if not fast:
        while True:
            if not pythia.next():
                number += 1
                yield None
                continue
            keep = True if hooks is None else hooks.last_keep
            parts = read_particles(pythia.event)
            info = pythia.infoPython()
            yield GenEvent(
                parts, EventChain(pythia.event), info.weight(), number, keep, *_sigma(info)
            )
            number += 1
    while True:
        vetoed_before = 0 if hooks is None else hooks.vetoed
        batch = pythia.nextBatch(batch_size)
        vetoed = 0 if hooks is None else hooks.vetoed - vetoed_before
        # Vetoed events were generated (and replaced) before the batch's events; spread them
        # in front so that event numbers stay increasing and count every generated event.
        number += vetoed
        sigma = _sigma(pythia.infoPython())
        for parts, weight in read_batch(batch):
            yield GenEvent(parts, ArrayChain(parts), weight, number, True, *sigma)
            number += 1
