"""Resolved-jet events shared by the tt̄ and HH generators: towers → jets → labels → arrays.

One event, from Pythia's stable particles:

1. towers from :class:`hepattn.generate.detector.Calorimeter`;
2. anti-kt jets (R = 0.4) on the towers, calibrated with the card's jet energy scale, with
   pT > 25 GeV (after calibration) and |η| < 2.5, sorted by pT descending; optionally
   without the jets within ΔR < 0.4 of an isolated electron (whose ECAL deposit makes a jet;
   the card's ``UniqueObjectFinder`` gives the electron precedence);
3. truth flavour from B/C hadrons (pT > 5 GeV) within ΔR < 0.4, a b-tag score and decision;
4. partons matched to jets uniquely with ΔR < 0.4, globally closest pair first
   (:func:`hepattn.generate.matching.match_unique`); partons that are not quarks (a lepton,
   a neutrino) are never matched to jets.

:class:`Rows` collects the per-event arrays of a chunk and :meth:`Rows.branches` turns them
into the writer's branches (jagged ``jet_*``, ``parton_*``, optional ``lepton_*``, scalars).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepattn.generate.clustering import Jets, cluster, jet_flavour
from hepattn.generate.detector import Calorimeter, Towers, btag, btag_score, jet_energy_scale
from hepattn.generate.matching import delta_r, match_unique
from hepattn.generate.pythia import Particles, heavy_flavour
from hepattn.generate.runner import jagged
from hepattn.physics.kinematics import invariant_mass

__all__ = ["JetCuts", "Reco", "ResolvedConfig", "Rows", "reconstruct", "run_resolved"]

JET_FIELDS = ("pt", "eta", "phi", "mass", "btag", "flavour", "parton", "btag_score")
JET_TYPES = (np.float32,) * 4 + (np.bool_, np.int32, np.int32, np.float32)
PARTON_FIELDS = ("pt", "eta", "phi", "mass", "pdgid", "jet")
PARTON_TYPES = (np.float32,) * 4 + (np.int32, np.int32)
LEPTON_FIELDS = ("pt", "eta", "phi", "mass", "charge", "pdgid", "truth")
LEPTON_TYPES = (np.float32,) * 4 + (np.int32, np.int32, np.int32)


@dataclass(frozen=True)
class JetCuts:
    """Small-R jet definition and matching radius."""

    radius: float = 0.4
    pt_min: float = 25.0
    eta_max: float = 2.5
    match_dr: float = 0.4


@dataclass(frozen=True)
class ResolvedConfig:
    """Settings shared by the resolved-jet samples (tt̄, HH). ``n_events``: events written;
    ``min_jets``: keep only events with at least this many jets (0 keeps all);
    ``chunk_size``: events per chunk file; ``fast``: the fast event source
    (:mod:`hepattn.generate.source`)."""

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
        from hepattn.errors import DataError
        from hepattn.generate.detector import check_detector

        if self.n_events <= 0:
            raise DataError(f"n_events must be positive, got {self.n_events}")
        if self.min_jets < 0:
            raise DataError(f"min_jets must be >= 0, got {self.min_jets}")
        if self.chunk_size <= 0:
            raise DataError(f"chunk_size must be positive, got {self.chunk_size}")
        check_detector(self.detector, particle_level=False)

    @property
    def cuts(self) -> JetCuts:
        return JetCuts(self.jet_radius, self.jet_pt_min, self.jet_eta_max, self.match_dr)

    def describe(self) -> str:
        """The reconstruction and selection part of the file's ``generator`` metadata."""
        return (
            f"MPI/ISR/FSR/hadronization on; {self.detector} towers; anti-kt R={self.jet_radius} "
            f"pT>{self.jet_pt_min} |eta|<{self.jet_eta_max}; min_jets={self.min_jets}; "
            f"n_events={self.n_events}"
        )


def run_resolved(
    output,
    config: ResolvedConfig,
    *,
    process: str,
    fmt: str,
    topology: str,
    generator: str,
    work,
    collections: tuple[str, ...] = ("jet", "parton"),
    jobs: int | None = None,
    progress: bool | None = None,
):
    """Generate a resolved-jet sample in chunks (:func:`hepattn.generate.runner.run_chunks`):
    ``work(config, chunk)`` makes a chunk; the file's metadata records the format, the
    ``topology`` its partons follow, the seed, ``generator`` + :meth:`ResolvedConfig.describe`,
    the detector and the b-tag working points. Resumable."""
    import json
    from dataclasses import asdict
    from functools import partial

    from hepattn.generate.detector import BTAG_WORKING_POINTS, detector_metadata
    from hepattn.generate.runner import chunk_plan, run_chunks

    metadata = {
        "hepattn_format": fmt,
        "topology": topology,
        "seed": str(config.seed),
        "generator": f"{generator}, {config.describe()}",
        **detector_metadata(config.detector),
        "btag_working_points": json.dumps(BTAG_WORKING_POINTS),
    }
    return run_chunks(
        output,
        config={"process": process, "format": fmt, **asdict(config)},
        chunks=chunk_plan(config.n_events, config.chunk_size),
        work=partial(work, config),
        tree="events",
        collections=collections,
        metadata=metadata,
        jobs=jobs,
        progress=progress,
        unit="events",
    )


@dataclass(frozen=True)
class Reco:
    """One reconstructed event: towers, jets (selected), their flavour and b-tag score."""

    towers: Towers
    jets: Jets
    flavour: np.ndarray
    score: np.ndarray


def reconstruct(
    parts: Particles,
    calo: Calorimeter,
    rng: np.random.Generator,
    cuts: JetCuts,
    veto_eta: np.ndarray | None = None,
    veto_phi: np.ndarray | None = None,
) -> Reco:
    """Steps 1–3 of the module docstring; jets within ΔR < ``cuts.radius`` of a
    (``veto_eta``, ``veto_phi``) direction (isolated electrons) are removed."""
    final = parts.final
    towers = calo.towers(
        parts.pdgid[final], parts.px[final], parts.py[final], parts.pz[final], parts.e[final], rng
    )
    jets = cluster(towers, cuts.radius, 0.5 * cuts.pt_min)
    jets = jets.scaled(jet_energy_scale(jets.pt, jets.eta))
    keep = (jets.pt > cuts.pt_min) & (np.abs(jets.eta) < cuts.eta_max)
    if veto_eta is not None and len(veto_eta) and len(jets):
        dr = delta_r(jets.eta[:, None], jets.phi[:, None], veto_eta[None], veto_phi[None])
        keep &= (dr >= cuts.radius).all(axis=1)
    jets = jets.select(keep)
    pt, eta, phi = parts.pt, parts.eta, parts.phi
    hf = heavy_flavour(parts.pdgid)
    heavy = (hf > 0) & (pt > 5.0)
    flavour = jet_flavour(jets.eta, jets.phi, hf[heavy], eta[heavy], phi[heavy])
    return Reco(towers, jets, flavour, btag_score(flavour, jets.eta, rng))


@dataclass
class Rows:
    """Per-event arrays of one chunk, appended event by event."""

    jets: list[tuple] = field(default_factory=list)
    partons: list[tuple] = field(default_factory=list)
    leptons: list[tuple] = field(default_factory=list)
    scalars: dict[str, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.jets)

    def add(
        self,
        reco: Reco,
        parts: Particles,
        partons: np.ndarray,
        cuts: JetCuts,
        scalars: dict[str, float],
    ) -> None:
        """Add one event: ``partons`` are record indices in the topology's parton order;
        only quarks (|id| ≤ 5) are matched to jets (step 4)."""
        jets = reco.jets
        eta, phi = parts.eta[partons], parts.phi[partons]
        quark = np.abs(parts.pdgid[partons]) <= 5
        q_jet, jet_q = match_unique(eta[quark], phi[quark], jets.eta, jets.phi, cuts.match_dr)
        q_index = np.flatnonzero(quark)
        parton_jet = np.full(len(partons), -1, np.int32)
        parton_jet[q_index] = q_jet
        jet_parton = np.full(len(jet_q), -1, np.int64)  # no partons (a background): all −1
        if q_index.size:
            jet_parton = np.where(jet_q >= 0, q_index[np.maximum(jet_q, 0)], -1)
        p4 = np.stack([parts.px, parts.py, parts.pz, parts.e], -1)[partons]
        self.jets.append(
            (
                jets.pt,
                jets.eta,
                jets.phi,
                jets.mass,
                btag(reco.score),
                reco.flavour,
                jet_parton,
                reco.score,
            )
        )
        self.partons.append(
            (parts.pt[partons], eta, phi, invariant_mass(p4), parts.pdgid[partons], parton_jet)
        )
        for k, v in scalars.items():
            self.scalars.setdefault(k, []).append(v)

    def branches(self) -> dict[str, Any]:
        """The writer's branches: jagged ``jet``, ``parton`` (and ``lepton``) records and
        one array per scalar (``event`` int64, the rest float32)."""
        out: dict[str, Any] = {
            "jet": _zip(self.jets, JET_FIELDS, JET_TYPES),
            "parton": _zip(self.partons, PARTON_FIELDS, PARTON_TYPES),
        }
        if self.leptons:
            out["lepton"] = _zip(self.leptons, LEPTON_FIELDS, LEPTON_TYPES)
        for k, v in self.scalars.items():
            out[k] = np.asarray(v, dtype=np.int64 if k == "event" else np.float32)
        return out


def _zip(rows: list[tuple], fields: tuple[str, ...], types: tuple[type, ...]) -> Any:
    import awkward as ak

    return ak.zip(
        {
            f: jagged([row[k] for row in rows], t)
            for k, (f, t) in enumerate(zip(fields, types, strict=True))
        }
    )
