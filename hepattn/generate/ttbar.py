"""tt̄ events, all-hadronic or lepton+jets: Pythia 8 → towers → jets (→ lepton, MET) → labels.

Process: pp → tt̄ at √s = 13 TeV (``Top:gg2ttbar``, ``Top:qqbar2ttbar``) with multiparton
interactions, ISR, FSR and hadronization on (Pythia defaults).

Channels (``TtbarConfig.channel``)
    ``allhad``: both W bosons forced to quarks (``24:onMode = off``, ``24:onIfAny = 1 2 3 4
    5``). ``ljets``: one W to quarks, the other to e ν or μ ν (τ excluded): in even-numbered
    chunks W⁺ → q q̄′ and W⁻ → ℓ⁻ ν̄ (``24:onPosIfAny = 1 2 3 4 5``, ``24:onNegIfAny = 11
    13``), in odd ones the reverse, so both lepton charges are equally present. An event is
    kept if it has exactly one isolated lepton (:mod:`hepattn.generate.leptons`, pT > 10 GeV)
    and that lepton has pT > 25 GeV and |η| < 2.5; jets within ΔR < 0.4 of an isolated
    electron are removed; MET from the towers and the muons.

Reconstruction: :mod:`hepattn.generate.resolved` (towers, anti-kt R = 0.4 jets with the card's
jet energy scale, pT > 25 GeV, |η| < 2.5, truth flavour, b-tag score).

Partons, in the parton order of the topology (:func:`hepattn.topology.load_topology`), taken
before the parton shower (first copies after the decay):

- ``allhad`` (``ttbar-allhad``): (b, q1, q2) from the top (pdgId +6), then (b′, q1′, q2′)
  from the anti-top; q1, q2 in the order Pythia lists the W's decay products;
- ``ljets`` (``ttbar-ljets``): (b_had, q1, q2) of the hadronic top, then (b_lep, ℓ, ν) of the
  leptonic one. Only quarks are matched to jets; ``lepton_truth`` says whether the
  reconstructed lepton is the W's (same flavour, ΔR < 0.1).

Output (one entry per event, tree ``events``): see ``samples/README.md`` and
:data:`BRANCHES`, the truth regression targets :data:`TRUTH_BRANCHES` (+ :data:`LJETS_BRANCHES`
for lepton+jets, with its own truth targets).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepattn.errors import DataError
from hepattn.generate.detector import Calorimeter
from hepattn.generate.leptons import missing_et, reconstruct_leptons
from hepattn.generate.matching import delta_r
from hepattn.generate.pythia import (
    ArrayChain,
    EventChain,
    chunk_rngs,
    decay_products,
)
from hepattn.generate.resolved import ResolvedConfig, Rows, reconstruct, run_resolved
from hepattn.generate.runner import Chunk, ChunkResult
from hepattn.generate.source import events
from hepattn.physics.kinematics import invariant_mass

log = logging.getLogger(__name__)

__all__ = [
    "BRANCHES",
    "CHANNELS",
    "FORMAT",
    "LJETS_BRANCHES",
    "TRUTH_BRANCHES",
    "ttbar_truth",
    "TtbarConfig",
    "generate_chunk",
    "generate_ttbar",
]

FORMAT = "ttbar-v2"  # v2: truth regression targets
#: Channels and the topology each one's parton order follows.
CHANNELS = {"allhad": "ttbar-allhad", "ljets": "ttbar-ljets"}
PROCESS = ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off")
#: Pythia settings of the process (added to the common ones of :mod:`.pythia`).
SETTINGS = (*PROCESS, "24:onIfAny = 1 2 3 4 5")
#: Lepton+jets settings of even (W⁺ hadronic) and odd (W⁻ hadronic) chunks.
LJETS_SETTINGS = (
    (*PROCESS, "24:onPosIfAny = 1 2 3 4 5", "24:onNegIfAny = 11 13"),
    (*PROCESS, "24:onPosIfAny = 11 13", "24:onNegIfAny = 1 2 3 4 5"),
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
    "jet_parton": "index of the matched parton in the parton order, or -1",
    "nparton": "number of partons (6 for ttbar)",
    "parton_pt": "parton pT [GeV]",
    "parton_eta": "parton pseudorapidity",
    "parton_phi": "parton azimuth",
    "parton_mass": "parton mass [GeV]",
    "parton_pdgid": "parton PDG id",
    "parton_jet": "index of the matched jet or -1 (always -1 for a lepton or neutrino)",
    "weight": "event weight from Pythia",
    "event": "event number: chunk index * 10^7 + generated event index in the chunk",
}
#: Extra branches of lepton+jets files.
LJETS_BRANCHES = {
    "nlepton": "number of selected leptons (always 1)",
    "lepton_pt": "lepton pT [GeV] (smeared)",
    "lepton_eta": "lepton pseudorapidity",
    "lepton_phi": "lepton azimuth",
    "lepton_mass": "lepton mass [GeV] (PDG)",
    "lepton_charge": "lepton charge (-1, +1)",
    "lepton_pdgid": "lepton PDG id (+-11, +-13)",
    "lepton_truth": "1 if the lepton is the W's (same flavour, dR < 0.1), else 0",
    "met_pt": "missing transverse momentum [GeV]: -(towers + muons)",
    "met_phi": "azimuth of the missing transverse momentum",
    "truth_nu_px": "truth neutrino px [GeV] (the W's, at its decay)",
    "truth_nu_py": "truth neutrino py [GeV]",
    "truth_nu_pz": "truth neutrino pz [GeV]",
    "truth_nu_eta": "truth neutrino pseudorapidity",
    "truth_t_had_pt": "truth pT of the hadronically decaying top [GeV] (at its decay)",
    "truth_t_lep_pt": "truth pT of the leptonically decaying top [GeV] (at its decay)",
}
#: Truth regression targets of every tt̄ file (both channels).
TRUTH_BRANCHES = {
    "truth_ttbar_mass": "truth invariant mass of the top pair [GeV] (the tops at their decay)",
}
#: Event numbers are ``chunk.index * EVENT_STRIDE + i`` (i: generated event in the chunk).
EVENT_STRIDE = 10_000_000
#: Stream identifier of ttbar chunks in :func:`hepattn.generate.pythia.chunk_rngs`.
STREAM = 6
#: Selected lepton: pT and |η| cuts [GeV]; truth match radius.
LEPTON_PT_MIN = 25.0
LEPTON_ETA_MAX = 2.5
LEPTON_TRUTH_DR = 0.1


@dataclass(frozen=True)
class TtbarConfig(ResolvedConfig):
    """Settings of a tt̄ sample (:class:`~hepattn.generate.resolved.ResolvedConfig`) and its
    ``channel``, one of :data:`CHANNELS`."""

    channel: str = "allhad"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.channel not in CHANNELS:
            raise DataError(f"unknown channel {self.channel!r}; choose one of {list(CHANNELS)}")


def top_decays(chain: EventChain | ArrayChain, pdgid: np.ndarray) -> list[tuple[int, list[int]]]:
    """(b, W daughters) record indices of the top (pdgId +6), then of the anti-top. The W's
    daughters are its quarks (followed through resonances) or its lepton and neutrino."""
    out = []
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
        products = decay_products(chain, w) if w >= 0 else []
        if w >= 0 and not products:
            leptons = [d for d in chain.daughters(chain.bottom_copy(w))]
            products = sorted(
                (d for d in leptons if 11 <= abs(chain.pdgid(d)) <= 14),
                key=lambda d: abs(chain.pdgid(d)) % 2 == 0,  # charged lepton, then neutrino
            )
        if b < 0 or len(products) != 2:
            raise DataError("a top quark did not decay to a quark and a W with two daughters")
        out.append((b, products))
    return out


def top_partons(chain: EventChain | ArrayChain, pdgid: np.ndarray) -> list[int]:
    """Record indices of the six partons (b, q1, q2, b′, q1′, q2′) of an all-hadronic event."""
    out: list[int] = []
    for b, products in top_decays(chain, pdgid):
        if any(abs(int(pdgid[d])) > 5 for d in products):
            raise DataError("a top quark did not decay to a quark and a hadronic W")
        out.extend([b, *products])
    return out


def ljets_partons(chain: EventChain | ArrayChain, pdgid: np.ndarray) -> list[int]:
    """Record indices of (b_had, q1, q2, b_lep, ℓ, ν) of a lepton+jets event."""
    had, lep = [], []
    for b, products in top_decays(chain, pdgid):
        (had if all(abs(int(pdgid[d])) <= 5 for d in products) else lep).append([b, *products])
    if len(had) != 1 or len(lep) != 1:
        raise DataError("a lepton+jets event without one hadronic and one leptonic top")
    return had[0] + lep[0]


def ttbar_truth(chain: EventChain | ArrayChain, parts, ljets: bool) -> dict[str, float]:
    """The truth regression targets of a tt̄ event: ``truth_ttbar_mass`` (the top and the
    anti-top at their decay), and for lepton+jets the neutrino's px, py, pz, η and the pT of
    the hadronic and the leptonic top (:data:`TRUTH_BRANCHES`, :data:`LJETS_BRANCHES`)."""
    p4 = np.stack([parts.px, parts.py, parts.pz, parts.e], -1)
    tops = [chain.bottom_copy(int(np.flatnonzero(parts.pdgid == t)[0])) for t in (6, -6)]
    out = {"truth_ttbar_mass": float(invariant_mass(p4[tops].sum(0)))}
    if ljets:
        decays = top_decays(chain, parts.pdgid)
        had = next(i for i, (_, d) in enumerate(decays) if all(abs(parts.pdgid[j]) <= 5 for j in d))
        nu = p4[decays[1 - had][1][1]]
        out.update(
            truth_nu_px=float(nu[0]),
            truth_nu_py=float(nu[1]),
            truth_nu_pz=float(nu[2]),
            truth_nu_eta=float(np.arcsinh(nu[2] / max(np.hypot(nu[0], nu[1]), 1e-9))),
            truth_t_had_pt=float(np.hypot(*p4[tops[had], :2])),
            truth_t_lep_pt=float(np.hypot(*p4[tops[1 - had], :2])),
        )
    return out


def generate_chunk(config: TtbarConfig, chunk: Chunk) -> ChunkResult:
    """Generate ``chunk.size`` events passing the channel's selection and ``config.min_jets``,
    as writer branches."""
    pythia_seed, rng = chunk_rngs(config.seed, STREAM, chunk.index)
    calo = Calorimeter.named(config.detector)
    ljets = config.channel == "ljets"
    settings = LJETS_SETTINGS[chunk.index % 2] if ljets else SETTINGS
    rows = Rows()
    n_generated, sigma, sigma_err = 0, None, None
    for ev in events(settings, pythia_seed, fast=config.fast):
        n_generated = (ev.number + 1) if ev is not None else n_generated + 1
        if n_generated >= 1000 * chunk.size:
            raise DataError(f"--min-jets {config.min_jets} keeps almost no events")
        if ev is None:
            continue
        sigma, sigma_err = ev.sigma_pb, ev.sigma_err_pb  # Pythia's estimate so far
        parts = ev.parts
        scalars = {"weight": ev.weight, "event": chunk.index * EVENT_STRIDE + ev.number}
        veto_eta = veto_phi = None
        if ljets:
            final = np.flatnonzero(parts.final)
            leptons = reconstruct_leptons(
                parts.pdgid[final], parts.px[final], parts.py[final], parts.pz[final],
                parts.e[final], rng,
            )  # fmt: skip
            iso = leptons.select(leptons.isolated)
            if len(iso) != 1 or iso.pt[0] <= LEPTON_PT_MIN or abs(iso.eta[0]) >= LEPTON_ETA_MAX:
                continue
            electrons = np.abs(iso.pdgid) == 11
            veto_eta, veto_phi = iso.eta[electrons], iso.phi[electrons]
        reco = reconstruct(parts, calo, rng, config.cuts, veto_eta, veto_phi)
        if len(reco.jets) < config.min_jets:
            continue
        if ljets:
            idx = np.asarray(ljets_partons(ev.chain, parts.pdgid))
            true_l = idx[4]
            truth = int(
                parts.pdgid[true_l] == iso.pdgid[0]
                and delta_r(parts.eta[true_l], parts.phi[true_l], iso.eta[0], iso.phi[0])
                < LEPTON_TRUTH_DR
            )
            rows.leptons.append(
                (iso.pt, iso.eta, iso.phi, iso.mass, iso.charge, iso.pdgid, np.array([truth]))
            )
            met, met_phi = missing_et(reco.towers, leptons)
            scalars = {**scalars, "met_pt": met, "met_phi": met_phi}
        else:
            idx = np.asarray(top_partons(ev.chain, parts.pdgid))
        scalars.update(ttbar_truth(ev.chain, parts, ljets))
        rows.add(reco, parts, idx, config.cuts, scalars)
        if len(rows) == chunk.size:
            break
    return ChunkResult(rows.branches(), n_generated, sigma, sigma_err)


def generate_ttbar(
    output: str | Path,
    config: TtbarConfig,
    *,
    jobs: int | None = None,
    progress: bool | None = None,
) -> Path:
    """Generate a tt̄ sample of ``config.channel`` into ``output`` (ROOT, tree ``events``).

    Resumable: re-running after an interruption reuses the chunks in ``output``.parts/.
    """
    if config.channel == "ljets":
        process = (
            "lepton+jets (one W to quarks, the other to e/mu nu; W+ and W- hadronic in "
            "alternate chunks; exactly one isolated lepton pT>25 |eta|<2.5)"
        )
    else:
        process = f"all-hadronic ({', '.join(SETTINGS)})"
    return run_resolved(
        output,
        config,
        process="ttbar",
        fmt=FORMAT,
        topology=CHANNELS[config.channel],
        generator=f"hepattn generate ttbar: pythia8mc 8.317.2, pp->ttbar 13 TeV {process}",
        work=generate_chunk,
        collections=("jet", "parton", "lepton") if config.channel == "ljets" else ("jet", "parton"),
        jobs=jobs,
        progress=progress,
    )
