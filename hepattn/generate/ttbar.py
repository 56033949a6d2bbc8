"""All-hadronic tt̄ events: Pythia 8 → towers → anti-kt R = 0.4 jets → parton labels.

Process: pp → tt̄ at √s = 13 TeV (``Top:gg2ttbar``, ``Top:qqbar2ttbar``), both W bosons forced
to hadrons (``24:onMode = off``, ``24:onIfAny = 1 2 3 4 5``), with multiparton interactions,
ISR, FSR and hadronization on (Pythia defaults).

Reconstruction: towers from :class:`hepattn.generate.detector.Calorimeter`; anti-kt R = 0.4
jets, calibrated with the Delphes ATLAS jet energy scale, with pT > 25 GeV (after
calibration) and |η| < 2.5, sorted by pT descending; truth flavour from B/C hadrons
(pT > 5 GeV) within ΔR < 0.4; parametrized b-tag.

Partons (always six, in this order): (b, q1, q2) from the top (pdgId +6), then (b′, q1′, q2′)
from the anti-top, where b is the quark from t → W b and q1, q2 are the W's decay products in
the order Pythia lists them; all taken before the parton shower (first copies after the
decay). Partons are matched to jets uniquely with ΔR < 0.4, globally closest pair first
(:func:`hepattn.generate.matching.match_unique`).

Output (one entry per event, tree ``events``): see ``samples/README.md`` and
:data:`BRANCHES`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepattn.errors import DataError
from hepattn.generate.clustering import cluster, jet_flavour
from hepattn.generate.detector import (
    BTAG_WORKING_POINTS,
    Calorimeter,
    btag,
    btag_score,
    check_detector,
    detector_metadata,
    jet_energy_scale,
)
from hepattn.generate.matching import match_unique
from hepattn.generate.pythia import (
    ArrayChain,
    EventChain,
    chunk_rngs,
    decay_products,
    heavy_flavour,
)
from hepattn.generate.runner import Chunk, ChunkResult, chunk_plan, jagged, run_chunks
from hepattn.generate.source import events
from hepattn.physics.kinematics import invariant_mass

log = logging.getLogger(__name__)

__all__ = ["BRANCHES", "FORMAT", "TtbarConfig", "generate_chunk", "generate_ttbar"]

FORMAT = "ttbar-v1"
#: Pythia settings of the process (added to the common ones of :mod:`.pythia`).
SETTINGS = (
    "Top:gg2ttbar = on",
    "Top:qqbar2ttbar = on",
    "24:onMode = off",
    "24:onIfAny = 1 2 3 4 5",
)
#: Branches of the output tree and their meaning.
BRANCHES = {
    "njet": "number of jets (anti-kt R=0.4 towers, pT > 25 GeV, |eta| < 2.5)",
    "jet_pt": "jet pT [GeV], float32, sorted descending",
    "jet_eta": "jet pseudorapidity",
    "jet_phi": "jet azimuth in [-pi, pi]",
    "jet_mass": "jet mass [GeV]",
    "jet_btag": "b-tag decision: jet_btag_score above the medium (70 % b) working point",
    "jet_btag_score": "b-tag score in [0, 1] (logit-normal per truth flavour; 0 for |eta| >= 2.5)",
    "jet_flavour": "truth flavour: 5 b, 4 c, 0 light (B/C hadrons with pT > 5 GeV in dR < 0.4)",
    "jet_parton": "index 0..5 of the matched parton (b, q1, q2, b', q1', q2') or -1",
    "nparton": "number of partons (always 6)",
    "parton_pt": "parton pT [GeV]",
    "parton_eta": "parton pseudorapidity",
    "parton_phi": "parton azimuth",
    "parton_mass": "parton mass [GeV]",
    "parton_pdgid": "parton PDG id",
    "parton_jet": "index of the matched jet or -1",
    "weight": "event weight from Pythia",
    "event": "event number: chunk index * 10^7 + generated event index in the chunk",
}
#: Event numbers are ``chunk.index * EVENT_STRIDE + i`` (i: generated event in the chunk).
EVENT_STRIDE = 10_000_000
#: Stream identifier of ttbar chunks in :func:`hepattn.generate.pythia.chunk_rngs`.
STREAM = 6


@dataclass(frozen=True)
class TtbarConfig:
    """Settings of a tt̄ sample. ``n_events``: events written; ``min_jets``: keep only events
    with at least this many jets (0 keeps all); ``chunk_size``: events per chunk file."""

    n_events: int
    seed: int = 1
    min_jets: int = 0
    chunk_size: int = 500
    jet_radius: float = 0.4
    jet_pt_min: float = 25.0
    jet_eta_max: float = 2.5
    match_dr: float = 0.4
    detector: str = "delphes-atlas"
    fast: bool = True

    def __post_init__(self) -> None:
        if self.n_events <= 0:
            raise DataError(f"n_events must be positive, got {self.n_events}")
        if self.min_jets < 0:
            raise DataError(f"min_jets must be >= 0, got {self.min_jets}")
        if self.chunk_size <= 0:
            raise DataError(f"chunk_size must be positive, got {self.chunk_size}")
        check_detector(self.detector)


def top_partons(chain: EventChain | ArrayChain, pdgid: np.ndarray) -> list[int]:
    """Record indices of the six partons (b, q1, q2, b′, q1′, q2′) of a tt̄ event.

    ``chain``: the record's history; ``pdgid``: the record's ids, shape (n,)."""
    out: list[int] = []
    for top_id in (6, -6):
        first = np.flatnonzero(pdgid == top_id)
        if len(first) == 0:
            raise DataError(f"no particle with pdgId {top_id} in a ttbar event")
        b, w = -1, -1
        for d in chain.daughters(chain.bottom_copy(int(first[0]))):
            aid = abs(chain.pdgid(d))
            if aid == 24:
                w = d
            elif 1 <= aid <= 5:
                b = d
        quarks = decay_products(chain, w) if w >= 0 else []
        if b < 0 or len(quarks) != 2:
            raise DataError("a top quark did not decay to a quark and a hadronic W")
        out.extend([b, *quarks])
    return out


def generate_chunk(config: TtbarConfig, chunk: Chunk) -> ChunkResult:
    """Generate ``chunk.size`` events passing ``config.min_jets``, as writer branches."""
    pythia_seed, rng = chunk_rngs(config.seed, STREAM, chunk.index)
    calo = Calorimeter.named(config.detector)
    cols: dict[str, list[Any]] = {k: [] for k in ("jets", "partons", "weight", "event")}
    n_generated = 0
    for ev in events(SETTINGS, pythia_seed, fast=config.fast):
        n_generated = (ev.number + 1) if ev is not None else n_generated + 1
        if n_generated >= 1000 * chunk.size:
            raise DataError(f"--min-jets {config.min_jets} keeps almost no events")
        if ev is None:
            continue
        parts = ev.parts
        final = parts.final
        towers = calo.towers(
            parts.pdgid[final],
            parts.px[final],
            parts.py[final],
            parts.pz[final],
            parts.e[final],
            rng,
        )
        jets = cluster(towers, config.jet_radius, 0.5 * config.jet_pt_min)
        jets = jets.scaled(jet_energy_scale(jets.pt, jets.eta))
        jets = jets.select((jets.pt > config.jet_pt_min) & (np.abs(jets.eta) < config.jet_eta_max))
        if len(jets) < config.min_jets:
            continue
        pt, eta, phi = parts.pt, parts.eta, parts.phi
        hf = heavy_flavour(parts.pdgid)
        heavy = (hf > 0) & (pt > 5.0)
        flavour = jet_flavour(jets.eta, jets.phi, hf[heavy], eta[heavy], phi[heavy])
        score = btag_score(flavour, jets.eta, rng)
        idx = np.asarray(top_partons(ev.chain, parts.pdgid))
        p_mass = invariant_mass(np.stack([parts.px, parts.py, parts.pz, parts.e], -1)[idx])
        parton_jet, jet_parton = match_unique(
            eta[idx], phi[idx], jets.eta, jets.phi, config.match_dr
        )
        cols["jets"].append(
            (jets.pt, jets.eta, jets.phi, jets.mass, btag(score), flavour, jet_parton, score)
        )
        cols["partons"].append((pt[idx], eta[idx], phi[idx], p_mass, parts.pdgid[idx], parton_jet))
        cols["weight"].append(ev.weight)
        cols["event"].append(chunk.index * EVENT_STRIDE + ev.number)
        if len(cols["event"]) == chunk.size:
            break
    return ChunkResult(branches=_assemble(cols), n_generated=n_generated)


def _assemble(cols: dict[str, list[Any]]) -> dict[str, Any]:
    import awkward as ak

    jet_fields = ("pt", "eta", "phi", "mass", "btag", "flavour", "parton", "btag_score")
    jet_types = (np.float32,) * 4 + (np.bool_, np.int32, np.int32, np.float32)
    parton_fields = ("pt", "eta", "phi", "mass", "pdgid", "jet")
    parton_types = (np.float32,) * 4 + (np.int32, np.int32)
    jets = ak.zip(
        {
            f: jagged([row[k] for row in cols["jets"]], t)
            for k, (f, t) in enumerate(zip(jet_fields, jet_types, strict=True))
        }
    )
    partons = ak.zip(
        {
            f: jagged([row[k] for row in cols["partons"]], t)
            for k, (f, t) in enumerate(zip(parton_fields, parton_types, strict=True))
        }
    )
    return {
        "jet": jets,
        "parton": partons,
        "weight": np.asarray(cols["weight"], dtype=np.float32),
        "event": np.asarray(cols["event"], dtype=np.int64),
    }


def generate_ttbar(
    output: str | Path,
    config: TtbarConfig,
    *,
    jobs: int | None = None,
    progress: bool | None = None,
) -> Path:
    """Generate an all-hadronic tt̄ sample into ``output`` (ROOT, tree ``events``).

    Resumable: re-running after an interruption reuses the chunks in ``output``.parts/.
    """
    from functools import partial

    chunks = chunk_plan(config.n_events, config.chunk_size)
    summary = (
        f"hepattn generate ttbar: pythia8mc 8.317.2, pp->ttbar 13 TeV all-hadronic "
        f"({', '.join(SETTINGS)}), MPI/ISR/FSR/hadronization on; {config.detector} towers; "
        f"anti-kt R={config.jet_radius} pT>{config.jet_pt_min} |eta|<{config.jet_eta_max}; "
        f"min_jets={config.min_jets}; n_events={config.n_events}"
    )
    metadata = {
        "hepattn_format": FORMAT,
        "seed": str(config.seed),
        "generator": summary,
        **detector_metadata(config.detector),
        "btag_working_points": json.dumps(BTAG_WORKING_POINTS),
    }
    return run_chunks(
        output,
        config={"process": "ttbar", "format": FORMAT, **asdict(config)},
        chunks=chunks,
        work=partial(generate_chunk, config),
        tree="events",
        collections=("jet", "parton"),
        metadata=metadata,
        jobs=jobs,
        progress=progress,
        unit="events",
    )
