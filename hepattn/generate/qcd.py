"""QCD multijet events, the background of every resolved-jet topology: Pythia 8 → towers →
jets, the file layout of the signal samples (no partons: every ``jet_parton`` is −1).

Process: Pythia's hard 2 → 2 QCD processes (``HardQCD:all``: gg, qg, qq̄ → two partons, with
the b and c quarks of the 5-flavour proton) at √s = 13 TeV, MPI/ISR/FSR/hadronization on,
with a threshold on the hard process's transverse momentum ``PhaseSpace:pTHatMin`` (``pthat_min``,
default 100 GeV) so that the selection that matters for a 4- or 6-jet analysis (``min_jets``,
jets of pT > 25 GeV) is populated efficiently; events below it are not generated — choose it
well below the lowest leading-jet pT your selection keeps (the shipped recipe's selection is
``min_jets``; check ``jet_pt[:, 0]`` against ``pthat_min`` in the summary). ``heavy_flavour``
keeps only the hard processes with a b b̄ pair in the final state (``HardQCD:hardbbbar``:
gg → b b̄ and q q̄ → b b̄), the part of the background that survives b-tagging, at its own
(much smaller) cross-section.

Weights for physical proportions: the file records Pythia's estimate of the cross-section of
the events it generated (``cross_section_pb``, ``cross_section_err_pb``: σ_gen after the
p̂T threshold, combined over chunks) and how many it generated (``n_generated``); the events
written (passing ``min_jets``) stand for ``cross_section_pb / n_generated`` pb each, the same
for every event (``HardQCD`` without a p̂T bias has unit event weights).

Reconstruction: :mod:`hepattn.generate.resolved` (towers, anti-kt R = 0.4 jets with the card's
jet energy scale, pT > 25 GeV, |η| < 2.5, truth flavour, b-tag score), exactly as the signal.
Output (tree ``events``): the jet branches of :data:`hepattn.generate.ttbar.BRANCHES`, ``nparton``
0 (no partons), ``weight``, ``event``; metadata ``topology`` = ``none`` (a background of any).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepattn.errors import DataError
from hepattn.generate.detector import Calorimeter
from hepattn.generate.pythia import chunk_rngs
from hepattn.generate.resolved import ResolvedConfig, Rows, reconstruct, run_resolved
from hepattn.generate.runner import Chunk, ChunkResult
from hepattn.generate.source import events

__all__ = ["FORMAT", "QcdConfig", "generate_qcd", "settings"]

FORMAT = "qcd-v1"
#: The file's ``topology`` metadata: the partons of no topology (a background).
TOPOLOGY = "none"
#: Stream identifier of QCD chunks in :func:`hepattn.generate.pythia.chunk_rngs`.
STREAM = 9
EVENT_STRIDE = 10_000_000
NO_PARTONS = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class QcdConfig(ResolvedConfig):
    """A QCD multijet sample (:class:`~hepattn.generate.resolved.ResolvedConfig`):
    ``pthat_min`` the hard process's p̂T threshold [GeV], ``heavy_flavour`` only b b̄ final
    states (module doc)."""

    pthat_min: float = 100.0
    heavy_flavour: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (math.isfinite(self.pthat_min) and self.pthat_min > 0):
            raise DataError(f"--pthat-min must be a positive number of GeV, got {self.pthat_min}")

    def describe(self) -> str:
        return f"pTHatMin={self.pthat_min:g} GeV; {super().describe()}"


def settings(config: QcdConfig) -> tuple[str, ...]:
    """Pythia settings of the sample's hard process."""
    process = "HardQCD:hardbbbar = on" if config.heavy_flavour else "HardQCD:all = on"
    return (process, f"PhaseSpace:pTHatMin = {config.pthat_min:g}")


def generate_chunk(config: QcdConfig, chunk: Chunk) -> ChunkResult:
    """Generate ``chunk.size`` events with at least ``config.min_jets`` jets; the chunk's
    cross-section is Pythia's estimate after its last generated event."""
    pythia_seed, rng = chunk_rngs(config.seed, STREAM, chunk.index)
    calo = Calorimeter.named(config.detector)
    rows = Rows()
    n_generated, sigma, sigma_err = 0, math.nan, math.nan
    for ev in events(settings(config), pythia_seed, fast=config.fast):
        n_generated = (ev.number + 1) if ev is not None else n_generated + 1
        if n_generated >= 1000 * chunk.size:
            raise DataError(
                f"--min-jets {config.min_jets} keeps almost no events at --pthat-min "
                f"{config.pthat_min:g}; raise the threshold"
            )
        if ev is None:
            continue
        sigma, sigma_err = ev.sigma_pb, ev.sigma_err_pb
        reco = reconstruct(ev.parts, calo, rng, config.cuts)
        if len(reco.jets) < config.min_jets:
            continue
        scalars = {"weight": ev.weight, "event": chunk.index * EVENT_STRIDE + ev.number}
        rows.add(reco, ev.parts, NO_PARTONS, config.cuts, scalars)
        if len(rows) == chunk.size:
            break
    return ChunkResult(rows.branches(), n_generated, sigma, sigma_err)


def generate_qcd(
    output: str | Path,
    config: QcdConfig,
    *,
    jobs: int | None = None,
    progress: bool | None = None,
) -> Path:
    """Generate a QCD multijet sample into ``output`` (ROOT, tree ``events``); resumable."""
    what = "b b-bar final states (HardQCD:hardbbbar)" if config.heavy_flavour else "HardQCD:all"
    return run_resolved(
        output,
        config,
        process="qcd",
        fmt=FORMAT,
        topology=TOPOLOGY,
        generator=f"hepattn generate qcd: pythia8mc 8.317.2, pp->jets 13 TeV, {what}",
        work=generate_chunk,
        jobs=jobs,
        progress=progress,
    )
