"""Electrons, muons and missing transverse momentum, after the Delphes ATLAS card.

A simple, documented reading of the card's lepton modules (``cards/delphes_card_ATLAS.tcl``,
delphes/delphes), applied to the stable particles of one event:

Candidates
    Final-state electrons (|id| 11) and muons (|id| 13) with pT > 10 GeV.

Efficiency (``ElectronEfficiency``, ``MuonEfficiency``)
    Kept with probability 0.95 for |η| ≤ 1.5 and 0.85 for 1.5 < |η| ≤ 2.5 (electrons) or
    ≤ 2.7 (muons); 0 beyond.

Momentum (a simplification of the card's smearing modules)
    Electrons: energy smeared with the card's ECAL resolution
    σ(E) = √((0.0017 E)² + 0.101² E), direction kept. Muons: pT smeared by a Gaussian of
    σ(pT)/pT = 2 % (|η| ≤ 1.5) or 3 % (beyond), direction kept. Lepton masses are the PDG
    ones.

Isolation (``ElectronIsolation``, ``MuonIsolation``)
    I = Σ pT of the other visible stable particles with pT > 0.5 GeV within ΔR < 0.5, electrons
    and muons excluded (the card's ``EFlowFilter``); isolated if I / pT < 0.12 (electrons) or
    < 0.25 (muons).

Missing transverse momentum
    MET = −(Σ tower p⃗_T + Σ p⃗_T of the reconstructed muons, isolated or not). The card's
    ``MissingET`` sums the towers only, which counts every muon as missing; adding the muons
    (which leave nothing in the calorimeter) is what a real reconstruction does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepattn.generate.detector import Towers, visible
from hepattn.generate.matching import delta_r

__all__ = ["LEPTON_MASS", "Leptons", "missing_et", "reconstruct_leptons"]

#: PDG masses [GeV] of the reconstructed leptons.
LEPTON_MASS = {11: 0.000511, 13: 0.10566}
#: (|η| edges, efficiencies) per lepton flavour: eff[k] for edges[k] < |η| ≤ edges[k + 1].
EFFICIENCY = {11: ((0.0, 1.5, 2.5), (0.95, 0.85)), 13: ((0.0, 1.5, 2.7), (0.95, 0.85))}
#: Maximum isolation ratio I / pT per lepton flavour.
ISOLATION_RATIO = {11: 0.12, 13: 0.25}
ISOLATION_DR = 0.5
ISOLATION_PT_MIN = 0.5
PT_MIN = 10.0


@dataclass(frozen=True)
class Leptons:
    """Reconstructed leptons of one event, sorted by pT descending, arrays of shape (n,).

    ``pdgid`` signed (11 e⁻, −11 e⁺, 13 μ⁻, −13 μ⁺); ``isolated``: passes the isolation;
    ``particle``: index of the stable particle it was reconstructed from.
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    mass: np.ndarray
    pdgid: np.ndarray
    isolated: np.ndarray
    particle: np.ndarray

    def __len__(self) -> int:
        return len(self.pt)

    @property
    def charge(self) -> np.ndarray:
        """Electric charge: −1 for e⁻/μ⁻ (positive pdgId), +1 for e⁺/μ⁺."""
        return -np.sign(self.pdgid).astype(np.int32)

    def select(self, mask: np.ndarray) -> Leptons:
        return Leptons(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def _efficiency(flavour: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    eff = np.zeros(len(flavour))
    for fl, (edges, values) in EFFICIENCY.items():
        for lo, hi, v in zip(edges[:-1], edges[1:], values, strict=True):
            eff[(flavour == fl) & (abs_eta > lo) & (abs_eta <= hi)] = v
        eff[(flavour == fl) & (abs_eta == 0.0)] = values[0]
    return eff


def _ecal_sigma(e: np.ndarray) -> np.ndarray:
    return np.sqrt((0.0017 * e) ** 2 + 0.101**2 * e)


def reconstruct_leptons(
    pdgid: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    rng: np.random.Generator,
) -> Leptons:
    """Electrons and muons from the stable particles (arrays of shape (n,), GeV) of one event.

    Random numbers from ``rng`` only: one uniform number per candidate (efficiency), then one
    normal number per kept lepton (momentum).
    """
    pdgid = np.asarray(pdgid)
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.full_like(pt, 1e9), where=pt > 0))
    phi = np.arctan2(py, px)
    flavour = np.abs(pdgid)
    cand = np.flatnonzero(((flavour == 11) | (flavour == 13)) & (pt > PT_MIN))
    keep = rng.random(len(cand)) < _efficiency(flavour[cand], np.abs(eta[cand]))
    cand = cand[keep]
    z = rng.standard_normal(len(cand))
    fl = flavour[cand]
    is_e = fl == 11
    rel = np.where(is_e, _ecal_sigma(e[cand]) / np.maximum(e[cand], 1e-9), 0.0)
    rel = np.where(~is_e, np.where(np.abs(eta[cand]) <= 1.5, 0.02, 0.03), rel)
    scale = np.maximum(1.0 + rel * z, 0.05)  # a smeared momentum stays positive
    lpt = pt[cand] * scale
    # Isolation: visible stable particles, electrons and muons excluded, pT > 0.5 GeV.
    iso_src = visible(pdgid) & (flavour != 11) & (flavour != 13) & (pt > ISOLATION_PT_MIN)
    iso_idx = np.flatnonzero(iso_src)
    dr = delta_r(eta[cand][:, None], phi[cand][:, None], eta[iso_idx][None], phi[iso_idx][None])
    iso = np.where(dr < ISOLATION_DR, pt[iso_idx][None], 0.0).sum(axis=1)
    ratio = np.array([ISOLATION_RATIO[int(f)] for f in fl])
    isolated = iso < ratio * lpt
    order = np.argsort(-lpt, kind="stable")
    mass = np.array([LEPTON_MASS[int(f)] for f in fl])
    return Leptons(
        pt=lpt[order],
        eta=eta[cand][order],
        phi=phi[cand][order],
        mass=mass[order] if len(mass) else np.zeros(0),
        pdgid=pdgid[cand][order],
        isolated=isolated[order] if len(isolated) else np.zeros(0, bool),
        particle=cand[order],
    )


def missing_et(towers: Towers, leptons: Leptons) -> tuple[float, float]:
    """(MET, φ_MET) = magnitude and azimuth of −(Σ tower p⃗_T + Σ reconstructed-muon p⃗_T)."""
    mu = np.abs(leptons.pdgid) == 13
    mx = -(towers.px.sum() + (leptons.pt[mu] * np.cos(leptons.phi[mu])).sum())
    my = -(towers.py.sum() + (leptons.pt[mu] * np.sin(leptons.phi[mu])).sum())
    return float(np.hypot(mx, my)), float(np.arctan2(my, mx))
