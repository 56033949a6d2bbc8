"""Boosted N-prong large-R jets in seven classes: 1, 2, 3, 4b, 4q, 6, 8 prongs.

Signal classes come from gg → H2 (m = 2.5 TeV, width forced to 50 GeV) → X X, with X a new
colour-singlet scalar (pdgId 9000006; Breit–Wigner m0 = 500 GeV, Γ = 300 GeV, truncated to
300–700 GeV, so that X masses cover the jet-mass window) whose single open decay channel (meMode
100, isotropic) gives the prongs:

====== ============================== ===============================================
class  X decay                         decay quarks counted as prongs
====== ============================== ===============================================
2      X → q q̄ (d, u, s, c, b equally)  q, q̄
3      X → u d s (through a junction)   u, d, s
4b     X → h h, h → b b̄                 4 b quarks
4q     X → W⁺ W⁻, W → q q̄′              4 quarks from the W decays
6      X → t t̄, t → W b, W → q q̄′       2 b + 4 W quarks (X mass ≥ 360 GeV)
8      X → h h, h → W W*, W → q q̄′      8 quarks from the W decays
====== ============================== ===============================================

The 1-prong class is QCD dijets (``HardQCD:all``, 950 < p̂T < 1300 GeV); its "prongs" are
the two outgoing partons of the hard scattering.

Jets: anti-kt R = 1.2 from calorimeter towers (:mod:`hepattn.generate.detector`), uncalibrated,
kept if 1000 < pT < 1200 GeV, 300 < m < 700 GeV and |η| < 2.0. A signal jet must contain an
X (ΔR(jet, X) < 0.6); ``n_contained`` counts the decay quarks of that X within ΔR < 1.2 of the
jet axis (for QCD: hard partons within 1.2). With ``contained=True`` only jets containing all
their prongs are kept. Each jet's towers (pT, η, φ, E), sorted by pT, at most 230, are stored.
With ``detector="none"`` (particle level) the "towers" are the jet's stable visible particles
(massive; neutrinos dropped, muons kept), with the same selection, layout and cap.

Truth: the collection ``prong`` holds the four-momenta (pT, η, φ, E) and pdgIds of the jet's X's
decay quarks before the shower, in record order (for QCD: the two hard outgoing partons of the
event, of which usually one lies in the jet); ``nprong`` counts them.

Flat mass and pT: at merge time every jet gets ``weight = N_c / (B · n_c(bin))`` where the
(mass, pT) plane is cut into B = 8 × 4 bins (50 GeV each), n_c(bin) is the number of jets of
class c in the jet's bin and N_c the class's total; the weights are then rescaled so that they
sum to N_c. Weighted, every class has the same flat mass and pT distribution, so a tagger
cannot win on mass alone (QCD falls steeply with mass).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from hepattn.errors import DataError
from hepattn.generate.clustering import cluster
from hepattn.generate.detector import Calorimeter, check_detector, detector_metadata
from hepattn.generate.matching import delta_r
from hepattn.generate.pythia import (
    EventChain,
    Particles,
    chunk_rngs,
    decay_products,
    require_pythia,
)
from hepattn.generate.runner import Chunk, ChunkResult, jagged, run_chunks
from hepattn.generate.source import GenEvent, Preselection, events
from hepattn.prong_classes import CLASSES

log = logging.getLogger(__name__)

__all__ = ["CLASSES", "FORMAT", "N_PRONGS", "ProngsConfig", "flat_weights", "generate_prongs"]

FORMAT = "prongs-v1"
#: Nominal number of prongs of each class.
N_PRONGS = dict(zip(CLASSES, (1, 2, 3, 4, 4, 6, 8), strict=True))
X_ID = 9000006
#: Settings shared by the signal classes: the H2 → X X chain and hadronic W decays.
SIGNAL_SETTINGS = (
    "Higgs:useBSM = on",
    "HiggsBSM:gg2H2 = on",
    "35:m0 = 2500.",
    "35:doForceWidth = on",
    "35:mWidth = 50.",
    f"35:addChannel = 1 1.0 100 {X_ID} {X_ID}",
    "35:onMode = off",
    f"35:onIfMatch = {X_ID} {X_ID}",
    f"{X_ID}:new = X void 1 0 0 500. 300. 300. 700. 0.",
    f"{X_ID}:isResonance = on",
    "24:onMode = off",
    "24:onIfAny = 1 2 3 4 5",
)
#: Per-class Pythia settings.
CLASS_SETTINGS: dict[str, tuple[str, ...]] = {
    "1": ("HardQCD:all = on", "PhaseSpace:pTHatMin = 950.", "PhaseSpace:pTHatMax = 1300."),
    "2": SIGNAL_SETTINGS
    + tuple(f"{X_ID}:addChannel = 1 0.2 100 {q} -{q}" for q in (1, 2, 3, 4, 5)),
    "3": SIGNAL_SETTINGS + (f"{X_ID}:addChannel = 1 1.0 100 2 1 3",),
    "4b": SIGNAL_SETTINGS
    + (f"{X_ID}:addChannel = 1 1.0 100 25 25", "25:onMode = off", "25:onIfMatch = 5 -5"),
    "4q": SIGNAL_SETTINGS + (f"{X_ID}:addChannel = 1 1.0 100 24 -24",),
    "6": SIGNAL_SETTINGS + (f"{X_ID}:addChannel = 1 1.0 100 6 -6", f"{X_ID}:mMin = 360."),
    "8": SIGNAL_SETTINGS
    + (f"{X_ID}:addChannel = 1 1.0 100 25 25", "25:onMode = off", "25:onIfMatch = 24 -24"),
}
#: Event numbers are ``task * EVENT_STRIDE + i`` (i: generated event in the chunk).
EVENT_STRIDE = 10_000_000
#: Stream identifier of prong chunks in :func:`hepattn.generate.pythia.chunk_rngs`.
STREAM = 8
#: Truth branches ``prong_<name>`` (collection ``prong``, counter ``nprong``) and their types.
PRONG_FIELDS = (
    ("pt", np.float32),
    ("eta", np.float32),
    ("phi", np.float32),
    ("e", np.float32),
    ("pdgid", np.int32),
)
MASS_BINS = np.linspace(300.0, 700.0, 9)
PT_BINS = np.linspace(1000.0, 1200.0, 5)


@dataclass(frozen=True)
class ProngsConfig:
    """Settings of a prong sample. ``n_jets``: jets per class; ``classes``: which classes;
    ``contained``: keep only jets containing all their prongs; ``chunk_size``: jets per chunk
    (each chunk holds one class; chunks alternate between classes)."""

    n_jets: int
    seed: int = 1
    classes: tuple[str, ...] = CLASSES
    contained: bool = False
    chunk_size: int = 250
    radius: float = 1.2
    pt_range: tuple[float, float] = (1000.0, 1200.0)
    mass_range: tuple[float, float] = (300.0, 700.0)
    eta_max: float = 2.0
    max_towers: int = 230
    x_match_dr: float = 0.6
    prong_dr: float = 1.2
    detector: str = "delphes-atlas"
    fast: bool = True

    def __post_init__(self) -> None:
        if self.n_jets <= 0:
            raise DataError(f"n_jets (jets per class) must be positive, got {self.n_jets}")
        if self.chunk_size <= 0:
            raise DataError(f"chunk_size must be positive, got {self.chunk_size}")
        unknown = [c for c in self.classes if c not in CLASSES]
        if unknown or not self.classes:
            raise DataError(
                f"unknown prong class(es) {unknown or '(none given)'}; choose from "
                f"{', '.join(CLASSES)}"
            )
        if len(set(self.classes)) != len(self.classes):
            raise DataError(f"prong classes given twice: {list(self.classes)}")
        check_detector(self.detector)


def plan(config: ProngsConfig) -> list[tuple[Chunk, str]]:
    """Chunks with their class: class blocks of ``chunk_size`` jets, round-robin over classes.

    Chunk index k is the k-th block of the merged file (and its seed stream).
    """
    per_class = [config.chunk_size] * (config.n_jets // config.chunk_size)
    if config.n_jets % config.chunk_size:
        per_class.append(config.n_jets % config.chunk_size)
    out = []
    for block, size in enumerate(per_class):
        for k, cls in enumerate(config.classes):
            out.append((Chunk(block * len(config.classes) + k, size), cls))
    return out


def _event_prongs(ev: GenEvent, cls: str) -> list[tuple[int, np.ndarray]]:
    """For each "parent" of the event: its record index and its prongs' record indices
    (int64, (n,)). Parents are the X bosons, or for QCD the two hard outgoing partons (each
    its own parent, with both hard partons as prongs)."""
    parts = ev.parts
    if cls == "1":
        hard = np.flatnonzero(parts.status == -23).astype(np.int64)
        return [(int(i), hard) for i in hard]
    out = []
    bottoms = sorted({ev.chain.bottom_copy(int(i)) for i in np.flatnonzero(parts.pdgid == X_ID)})
    for b in bottoms:
        out.append((b, np.asarray(decay_products(ev.chain, b), dtype=np.int64)))
    return out


@dataclass(frozen=True)
class Preselect:
    """Loose cuts of the fast path for the signal classes (see :func:`preselection`), GeV.

    Process level: some X with pT > ``x_pt_min`` and |η| < ``x_eta_max`` and, for contained
    samples, all its decay quarks within ΔR < ``x_prong_dr`` of it. Parton level: some
    anti-kt R = 1.2 jet of the final-state partons (Pythia's ``SlowJet`` on FastJet's core)
    with pT > ``jet_pt_min`` and |y| < ``jet_y_max``.

    The parton-level cut loses nothing (0 of 2,000 kept jets per class in
    ``benchmarks/bench_generate.py``). The process-level cut is not exact: gg → H2 is a
    2 → 1 process, and hard initial-state radiation can boost an X that was soft (even
    30 GeV) at the process level into the jet window. Measured on the plain path with these
    hooks in dry-run, 0.15–0.8 % of kept jets per class come from such events (``lost_jets``
    in ``generate.json``); the two-sample tests find no difference in mass, pT, tower count,
    τ21, τ32 or containment. ``--plain`` generates without any veto. QCD (class 1) has no
    preselection: its jets' pT and mass are made by the shower, after the expensive steps.
    """

    x_pt_min: float = 600.0
    x_eta_max: float = 2.6
    x_prong_dr: float = 1.8
    jet_pt_min: float = 800.0
    jet_y_max: float = 2.6


PRESELECT = Preselect()


def preselection(
    config: ProngsConfig, cls: str, cuts: Preselect = PRESELECT
) -> Preselection | None:
    """The fast path's cuts for class ``cls`` (see :class:`Preselect` and
    :mod:`hepattn.generate.source`); ``None`` for QCD."""
    if cls == "1":
        return None
    pythia8mc = require_pythia()
    slow_jet = pythia8mc.SlowJet(-1, config.radius, cuts.jet_pt_min, 5.0, 2, 2, None, True)

    def process(parts: Particles, chain: EventChain) -> bool:
        for i in np.flatnonzero(parts.pdgid == X_ID):
            if parts.pt[i] < cuts.x_pt_min or abs(parts.eta[i]) > cuts.x_eta_max:
                continue
            if not config.contained:
                return True
            quarks = np.asarray(decay_products(chain, int(i)), dtype=np.int64)
            dr = delta_r(parts.eta[i], parts.phi[i], parts.eta[quarks], parts.phi[quarks])
            if len(quarks) and dr.max() < cuts.x_prong_dr:
                return True
        return False

    def parton(event: Any) -> bool:
        slow_jet.analyze(event)
        return any(abs(slow_jet.y(j)) < cuts.jet_y_max for j in range(slow_jet.sizeJet()))

    return Preselection(process=process, parton=parton)


def jets_of_event(
    config: ProngsConfig, cls: str, calo: Calorimeter, ev: GenEvent, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """The kept jets of one event, each a dict: ``pt``, ``eta``, ``phi``, ``mass``,
    ``n_contained``, ``max_prong_dr`` (largest ΔR of its X's prongs to the jet axis),
    ``towers`` (pT, η, φ, E arrays of its towers, pT-ordered, at most ``max_towers``) and
    ``prongs`` (pT, η, φ, E, pdgId arrays of its X's decay quarks before the shower, in
    record order; QCD: the two hard outgoing partons)."""
    parts = ev.parts
    final = parts.final
    towers = calo.towers(
        parts.pdgid[final], parts.px[final], parts.py[final], parts.pz[final], parts.e[final], rng
    )
    jets = cluster(towers, config.radius, 0.8 * config.pt_range[0])
    keep = (
        (jets.pt > config.pt_range[0])
        & (jets.pt < config.pt_range[1])
        & (jets.mass > config.mass_range[0])
        & (jets.mass < config.mass_range[1])
        & (np.abs(jets.eta) < config.eta_max)
    )
    if not keep.any():
        return []
    parents = _event_prongs(ev, cls)
    eta, phi = parts.eta, parts.phi
    out = []
    for j in np.flatnonzero(keep):
        dr_parent = [delta_r(jets.eta[j], jets.phi[j], eta[p], phi[p]) for p, _ in parents]
        if not dr_parent or min(dr_parent) >= config.x_match_dr:
            continue
        prongs = parents[int(np.argmin(dr_parent))][1]
        dr = delta_r(jets.eta[j], jets.phi[j], eta[prongs], phi[prongs])
        n_in = int(np.sum(dr < config.prong_dr))
        if config.contained and n_in < N_PRONGS[cls]:
            continue
        idx = jets.constituents[j][: config.max_towers]
        out.append(
            {
                "pt": jets.pt[j],
                "eta": jets.eta[j],
                "phi": jets.phi[j],
                "mass": jets.mass[j],
                "n_contained": n_in,
                "max_prong_dr": float(dr.max()) if len(dr) else 0.0,
                "towers": (towers.pt[idx], towers.eta[idx], towers.phi[idx], towers.e[idx]),
                "prongs": (
                    parts.pt[prongs],
                    eta[prongs],
                    phi[prongs],
                    parts.e[prongs],
                    parts.pdgid[prongs],
                ),
            }
        )
    return out


def generate_chunk(config: ProngsConfig, cls: str, chunk: Chunk) -> ChunkResult:
    """Generate ``chunk.size`` jets of class ``cls`` as writer branches."""
    pythia_seed, rng = chunk_rngs(config.seed, STREAM, chunk.index)
    calo = Calorimeter.named(config.detector)
    cuts = preselection(config, cls) if config.fast else None
    label, n_prongs = CLASSES.index(cls), N_PRONGS[cls]
    rows: list[dict[str, Any]] = []
    n_generated = 0
    for ev in events(CLASS_SETTINGS[cls], pythia_seed, fast=config.fast, cuts=cuts):
        n_generated = (ev.number + 1) if ev is not None else n_generated + 1
        if n_generated >= 200 * chunk.size + 1000:
            raise DataError(f"prong class {cls}: almost no jets pass the selection")
        if ev is None:
            continue
        event_id = chunk.index * EVENT_STRIDE + ev.number
        for jet in jets_of_event(config, cls, calo, ev, rng):
            rows.append({**jet, "event": event_id})
            if len(rows) == chunk.size:
                break
        if len(rows) == chunk.size:
            break
    return ChunkResult(branches=_assemble(rows, label, n_prongs), n_generated=n_generated)


def _assemble(rows: list[dict[str, Any]], label: int, n_prongs: int) -> dict[str, Any]:
    import awkward as ak

    n = len(rows)

    def col(key: str, dtype: Any) -> np.ndarray:
        return np.asarray([r[key] for r in rows], dtype=dtype)

    return {
        "jet_pt": col("pt", np.float32),
        "jet_eta": col("eta", np.float32),
        "jet_phi": col("phi", np.float32),
        "jet_mass": col("mass", np.float32),
        "label": np.full(n, label, dtype=np.int32),
        "n_prongs": np.full(n, n_prongs, dtype=np.int32),
        "n_contained": col("n_contained", np.int32),
        "weight": np.ones(n, dtype=np.float32),
        "event": col("event", np.int64),
        "tower": ak.zip(
            {
                name: jagged([r["towers"][k] for r in rows], np.float32)
                for k, name in enumerate(("pt", "eta", "phi", "e"))
            }
        ),
        "prong": ak.zip(
            {
                name: jagged([r["prongs"][k] for r in rows], dtype)
                for k, (name, dtype) in enumerate(PRONG_FIELDS)
            }
        ),
    }


def flat_weights(label: np.ndarray, mass: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Per-jet weights (float32, shape (n,)) flattening mass and pT within each class.

    w = N_c / (B · n_c(bin)) on the 8 × 4 (mass, pT) grid of :data:`MASS_BINS` ×
    :data:`PT_BINS`, rescaled to sum to N_c per class (see the module docstring).
    """
    label, mass, pt = np.asarray(label), np.asarray(mass), np.asarray(pt)
    im = np.clip(np.digitize(mass, MASS_BINS) - 1, 0, len(MASS_BINS) - 2)
    ip = np.clip(np.digitize(pt, PT_BINS) - 1, 0, len(PT_BINS) - 2)
    n_bins = (len(MASS_BINS) - 1) * (len(PT_BINS) - 1)
    cell = im * (len(PT_BINS) - 1) + ip
    weights = np.ones(len(label), dtype=np.float64)
    for c in np.unique(label):
        sel = label == c
        counts = np.bincount(cell[sel], minlength=n_bins)
        w = sel.sum() / (n_bins * counts[cell[sel]])
        weights[sel] = w * sel.sum() / w.sum()
    return weights.astype(np.float32)


def _finalize(paths: list[Path]) -> Any:
    """Weights for the merged file, computed once over all chunks, applied per chunk."""
    import uproot

    parts = []
    for p in paths:
        with uproot.open(p) as f:
            parts.append(f["jets"].arrays(["label", "jet_mass", "jet_pt"], library="np"))
    cat = {k: np.concatenate([a[k] for a in parts]) for k in ("label", "jet_mass", "jet_pt")}
    weights = flat_weights(cat["label"], cat["jet_mass"], cat["jet_pt"])
    starts = np.cumsum([0] + [len(a["label"]) for a in parts])

    def apply(pos: int, branches: dict[str, Any]) -> dict[str, Any]:
        return {**branches, "weight": weights[starts[pos] : starts[pos + 1]]}

    return apply


def generate_prongs(
    output: str | Path,
    config: ProngsConfig,
    *,
    jobs: int | None = None,
    progress: bool | None = None,
) -> Path:
    """Generate a prong-class sample into ``output`` (ROOT, tree ``jets``, one entry per jet).

    Resumable: re-running after an interruption reuses the chunks in ``output``.parts/.
    """
    tasks = plan(config)
    classes = {t[0].index: t[1] for t in tasks}
    inputs = (
        "particle level (stable visible particles, no neutrinos)"
        if config.detector == "none"
        else f"{config.detector} towers"
    )
    summary = (
        "hepattn generate prongs: pythia8mc 8.317.2, 13 TeV; QCD dijets (1 prong) and "
        f"gg->H2(2.5 TeV)->XX with X decays per class; {inputs}; anti-kt "
        f"R={config.radius}, {config.pt_range[0]:g}<pT<{config.pt_range[1]:g}, "
        f"{config.mass_range[0]:g}<m<{config.mass_range[1]:g}, |eta|<{config.eta_max:g}; "
        f"contained={config.contained}; n_jets per class={config.n_jets}; weights flatten "
        "(mass, pT) per class on an 8x4 grid"
    )
    metadata = {
        "hepattn_format": FORMAT,
        "classes": ",".join(CLASSES),
        "seed": str(config.seed),
        "generator": summary,
        **detector_metadata(config.detector),
    }
    return run_chunks(
        output,
        config={"process": "prongs", "format": FORMAT, **asdict(config)},
        chunks=[t[0] for t in tasks],
        work=partial(_work, config, classes),
        tree="jets",
        collections=("tower", "prong"),
        metadata=metadata,
        finalize=_finalize,
        jobs=jobs,
        progress=progress,
        unit="jets",
    )


def _work(config: ProngsConfig, classes: dict[int, str], chunk: Chunk) -> ChunkResult:
    return generate_chunk(config, classes[chunk.index], chunk)
