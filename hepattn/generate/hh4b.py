"""HH → b b̄ b b̄ events: Pythia 8 → towers → jets → parton labels (topology ``hh-4b``).

Process: gg → X → h h at √s = 13 TeV, both Higgs bosons (m_h = 125 GeV) forced to b b̄, with
multiparton interactions, ISR, FSR and hadronization on. Pythia 8 has no non-resonant gg → HH
matrix element; X is its heavy scalar H2 (``HiggsBSM:gg2H2``, pdgId 35) made broad — a
Breit–Wigner of m0 = 500 GeV and Γ = 300 GeV truncated to 255–1200 GeV — so that m_HH is
spread over the range the SM process covers (its m_HH distribution rises from threshold and
peaks near 400 GeV; the sample's percentiles are printed in the sample's summary). The jets,
the b-jet kinematics and the pairing problem are those of the SM process; the m_HH shape is not
exactly.

Reconstruction: :mod:`hepattn.generate.resolved` (towers, anti-kt R = 0.4 jets with the card's
jet energy scale, pT > 25 GeV, |η| < 2.5, truth flavour, b-tag score).

Partons (always four, the parton order of ``hh-4b``): (b1, b2) from the first Higgs boson in
the record, (b3, b4) from the second, quark before antiquark as Pythia lists them; taken
before the parton shower (first copies after the decay), matched to jets uniquely with
ΔR < 0.4.

Output (one entry per event, tree ``events``): the branches of
:data:`hepattn.generate.ttbar.BRANCHES` with four partons, ``mhh`` (the four b quarks' mass) and
the truth regression targets ``truth_hh_mass``, ``truth_h1_pt``, ``truth_h2_pt`` (the Higgs
bosons at their decay; H1 the Higgs of b1, b2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepattn.errors import DataError
from hepattn.generate.detector import Calorimeter
from hepattn.generate.pythia import ArrayChain, EventChain, chunk_rngs, decay_products
from hepattn.generate.resolved import ResolvedConfig, Rows, reconstruct, run_resolved
from hepattn.generate.runner import Chunk, ChunkResult
from hepattn.generate.source import events
from hepattn.physics.kinematics import invariant_mass

__all__ = ["FORMAT", "SETTINGS", "HH4bConfig", "generate_hh4b", "higgs_partons"]

FORMAT = "hh4b-v2"  # v2: truth regression targets
TOPOLOGY = "hh-4b"
SETTINGS = (
    "Higgs:useBSM = on",
    "HiggsBSM:gg2H2 = on",
    "35:m0 = 500.",
    "35:mWidth = 300.",
    "35:doForceWidth = on",
    "35:mMin = 255.",
    "35:mMax = 1200.",
    "35:onMode = off",
    "35:onIfMatch = 25 25",
    "25:onMode = off",
    "25:onIfMatch = 5 -5",
)
#: Stream identifier of HH chunks in :func:`hepattn.generate.pythia.chunk_rngs`.
STREAM = 7
EVENT_STRIDE = 10_000_000


@dataclass(frozen=True)
class HH4bConfig(ResolvedConfig):
    """Settings of an HH → 4b sample (:class:`~hepattn.generate.resolved.ResolvedConfig`)."""


def higgs_bosons(chain: EventChain | ArrayChain, pdgid: np.ndarray) -> list[int]:
    """Record indices of the two Higgs bosons of the heavy scalar's decay (H1, then H2)."""
    x = np.flatnonzero(pdgid == 35)
    if len(x) == 0:
        raise DataError("no heavy scalar (pdgId 35) in an HH event")
    return [d for d in chain.daughters(chain.bottom_copy(int(x[0]))) if chain.pdgid(d) == 25]


def hh_truth(chain: EventChain | ArrayChain, parts) -> dict[str, float]:
    """The truth regression targets: ``truth_hh_mass`` and ``truth_h1_pt``, ``truth_h2_pt``
    (the Higgs bosons at their decay, H1 the one of b1, b2)."""
    p4 = np.stack([parts.px, parts.py, parts.pz, parts.e], -1)
    h = [chain.bottom_copy(i) for i in higgs_bosons(chain, parts.pdgid)]
    return {
        "truth_hh_mass": float(invariant_mass(p4[h].sum(0))),
        "truth_h1_pt": float(np.hypot(*p4[h[0], :2])),
        "truth_h2_pt": float(np.hypot(*p4[h[1], :2])),
    }


def higgs_partons(chain: EventChain | ArrayChain, pdgid: np.ndarray) -> list[int]:
    """Record indices of (b1, b2, b3, b4): the b quarks of the first, then the second Higgs."""
    higgs = higgs_bosons(chain, pdgid)
    out: list[int] = []
    for h in higgs:
        out.extend(decay_products(chain, h))
    if len(higgs) != 2 or len(out) != 4:
        raise DataError("an HH event without two Higgs bosons decaying to b b-bar")
    return out


def generate_chunk(config: HH4bConfig, chunk: Chunk) -> ChunkResult:
    """Generate ``chunk.size`` events with at least ``config.min_jets`` jets."""
    pythia_seed, rng = chunk_rngs(config.seed, STREAM, chunk.index)
    calo = Calorimeter.named(config.detector)
    rows = Rows()
    n_generated, sigma, sigma_err = 0, None, None
    for ev in events(SETTINGS, pythia_seed, fast=config.fast):
        n_generated = (ev.number + 1) if ev is not None else n_generated + 1
        if n_generated >= 1000 * chunk.size:
            raise DataError(f"--min-jets {config.min_jets} keeps almost no events")
        if ev is None:
            continue
        sigma, sigma_err = ev.sigma_pb, ev.sigma_err_pb  # Pythia's estimate so far
        parts = ev.parts
        reco = reconstruct(parts, calo, rng, config.cuts)
        if len(reco.jets) < config.min_jets:
            continue
        idx = np.asarray(higgs_partons(ev.chain, parts.pdgid))
        p4 = np.stack([parts.px, parts.py, parts.pz, parts.e], -1)[idx]
        scalars = {
            "weight": ev.weight,
            "event": chunk.index * EVENT_STRIDE + ev.number,
            "mhh": float(invariant_mass(p4.sum(0))),
            **hh_truth(ev.chain, parts),
        }
        rows.add(reco, parts, idx, config.cuts, scalars)
        if len(rows) == chunk.size:
            break
    return ChunkResult(rows.branches(), n_generated, sigma, sigma_err)


def generate_hh4b(
    output: str | Path,
    config: HH4bConfig,
    *,
    jobs: int | None = None,
    progress: bool | None = None,
) -> Path:
    """Generate an HH → 4b sample into ``output`` (ROOT, tree ``events``); resumable."""
    return run_resolved(
        output,
        config,
        process="hh4b",
        fmt=FORMAT,
        topology=TOPOLOGY,
        generator="hepattn generate hh4b: pythia8mc 8.317.2, gg->X->hh->bbbb 13 TeV (broad "
        "scalar X: m0=500 GeV, width=300 GeV, 255-1200 GeV)",
        work=generate_chunk,
        jobs=jobs,
        progress=progress,
    )
