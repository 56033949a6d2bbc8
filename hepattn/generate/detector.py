"""A Delphes-ATLAS-like calorimeter: particles → smeared towers, and a parametrized b-tag.

The model follows the calorimeter module of the Delphes ATLAS card, restricted to the barrel and
end-caps (|η| ≤ 3.2, where the card's resolutions are defined):

Geometry
    A uniform grid of cells of Δη × Δφ = 0.1 × 2π/64 (≈ 0.098) over |η| ≤ 3.2, i.e. 64 × 64
    cells. Each visible stable particle deposits its whole energy in the cell containing its
    (η, φ) direction (no magnetic field bending, no lateral shower spread).

Energy sharing (the card's ``EnergyFraction`` table)
    e±, γ, π⁰ → 100 % ECAL; K⁰_S and Λ → 30 % ECAL, 70 % HCAL; every other hadron → 100 % HCAL;
    neutrinos and muons deposit nothing. (π⁰ decay before reaching the calorimeter in Pythia, so
    in practice their photons are deposited; K⁰_S and Λ are kept stable by the generator
    settings, ``ParticleDecays:tau0Max = 10`` mm, as in Delphes productions.)

Resolution (E and σ in GeV; η of the cell centre)
    ECAL:  σ(E) = √((0.0017 E)² + 0.101² E)                 for |η| ≤ 3.2
    HCAL:  σ(E) = √((0.0302 E)² + 0.5205² E + 1.59²)        for |η| ≤ 1.7
           σ(E) = √((0.05 E)² + 0.706² E)                   for 1.7 < |η| ≤ 3.2

Smearing
    The summed ECAL and HCAL energies of each cell are smeared separately with a log-normal
    distribution of mean E and standard deviation σ(E):
    s² = ln(1 + σ²/E²), μ = ln E − s²/2, E′ = exp(μ + s·z) with z ~ N(0, 1).

Thresholds (applied to the smeared energy E′, with σ re-evaluated at E′, as Delphes does)
    ECAL part kept if E′ > 0.5 GeV and E′ > 2 σ(E′); HCAL part kept if E′ > 1 GeV and
    E′ > 2 σ(E′). The tower energy is the sum of the kept parts; empty towers are dropped.

Tower four-vector
    Massless, with (η, φ) drawn uniformly inside the cell (Delphes' ``SmearTowerCenter``), so
    that towers do not sit on a lattice; pT = E / cosh η.

Jet energy scale (small-R jets only)
    The card's ``JetEnergyScale``: jets' four-momenta are multiplied by
    k(pT, η) = √((3.0 − 0.2 |η|)² / pT + 1), e.g. 1.11 at 40 GeV and 1.04 at 100 GeV, η = 0.
    Large-R jets (the prong sample) are left uncalibrated, equal to the sum of their towers.

b-tagging
    Truth flavour from hadrons: 5 if a B hadron with pT > 5 GeV lies within ΔR < 0.4 of the jet,
    else 4 for a C hadron, else 0. The tag is drawn with probability 0.70 (b), 0.15 (c) or
    0.01 (light) for jets with |η| < 2.5, and is always false beyond.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Calorimeter",
    "Towers",
    "btag",
    "ecal_fraction",
    "ecal_resolution",
    "hcal_resolution",
    "jet_energy_scale",
    "lognormal_smear",
    "visible",
]

#: pdgIds (absolute) that deposit nothing in the calorimeter: neutrinos and muons.
INVISIBLE = (12, 13, 14, 16)
#: pdgIds (absolute) deposited entirely in the ECAL.
ECAL_ONLY = (11, 22, 111)
#: pdgIds (absolute) shared 30 % ECAL / 70 % HCAL.
SHARED = (310, 3122)
#: b-tag probabilities for truth flavour b, c and light.
BTAG_EFFICIENCY = {5: 0.70, 4: 0.15, 0: 0.01}


def ecal_resolution(energy: np.ndarray) -> np.ndarray:
    """ECAL σ(E) = √((0.0017 E)² + 0.101² E) in GeV, for any shape of ``energy`` (GeV)."""
    e = np.asarray(energy, dtype=np.float64)
    return np.sqrt((0.0017 * e) ** 2 + 0.101**2 * e)


def hcal_resolution(energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """HCAL σ(E, η) in GeV: √((0.0302 E)² + 0.5205² E + 1.59²) for |η| ≤ 1.7, else
    √((0.05 E)² + 0.706² E). ``energy`` (GeV) and ``eta`` broadcast together."""
    e = np.asarray(energy, dtype=np.float64)
    central = np.sqrt((0.0302 * e) ** 2 + 0.5205**2 * e + 1.59**2)
    forward = np.sqrt((0.05 * e) ** 2 + 0.706**2 * e)
    return np.where(np.abs(eta) <= 1.7, central, forward)


def ecal_fraction(pdgid: np.ndarray) -> np.ndarray:
    """Fraction of each particle's energy deposited in the ECAL (the rest goes to the HCAL).

    ``pdgid``: int array of shape (n,); returns float64 (n,) of 1.0, 0.3 or 0.0. Invisible
    particles must be removed beforehand with :func:`visible`.
    """
    a = np.abs(np.asarray(pdgid))
    frac = np.zeros(a.shape, dtype=np.float64)
    frac[np.isin(a, ECAL_ONLY)] = 1.0
    frac[np.isin(a, SHARED)] = 0.3
    return frac


def visible(pdgid: np.ndarray) -> np.ndarray:
    """Boolean mask of particles that deposit energy (not neutrinos, not muons)."""
    return ~np.isin(np.abs(np.asarray(pdgid)), INVISIBLE)


def lognormal_smear(energy: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw E′ from a log-normal of mean ``energy`` and standard deviation ``sigma``.

    s² = ln(1 + σ²/E²), μ = ln E − s²/2, E′ = exp(μ + s z). Entries with E ≤ 0 give 0.
    One normal number is drawn per entry, whatever its energy, so that the random stream does
    not depend on the values.
    """
    e = np.asarray(energy, dtype=np.float64)
    z = rng.standard_normal(e.shape)
    pos = e > 0
    safe_e = np.where(pos, e, 1.0)
    s2 = np.log1p((np.asarray(sigma, dtype=np.float64) / safe_e) ** 2)
    out = np.exp(np.log(safe_e) - 0.5 * s2 + np.sqrt(s2) * z)
    return np.where(pos, out, 0.0)


@dataclass(frozen=True)
class Towers:
    """Calorimeter towers of one event, each of shape (n,), float64, sorted by pT descending.

    ``pt``, ``e`` in GeV; ``eta``, ``phi`` (φ in [−π, π)); ``px``, ``py``, ``pz`` in GeV.
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    e: np.ndarray

    @property
    def px(self) -> np.ndarray:
        return self.pt * np.cos(self.phi)

    @property
    def py(self) -> np.ndarray:
        return self.pt * np.sin(self.phi)

    @property
    def pz(self) -> np.ndarray:
        return self.pt * np.sinh(self.eta)

    def __len__(self) -> int:
        return len(self.pt)


@dataclass(frozen=True)
class Calorimeter:
    """Tower grid and thresholds (see the module docstring for the model).

    ``eta_max``: calorimeter acceptance; ``n_eta``, ``n_phi``: cells in η and φ;
    ``ecal_min``, ``hcal_min`` (GeV) and ``significance`` (E′/σ(E′)) are the thresholds;
    ``smear_center``: spread towers uniformly in their cell (else place them at its centre).
    """

    eta_max: float = 3.2
    n_eta: int = 64
    n_phi: int = 64
    ecal_min: float = 0.5
    hcal_min: float = 1.0
    significance: float = 2.0
    smear_center: bool = True

    @property
    def deta(self) -> float:
        return 2 * self.eta_max / self.n_eta

    @property
    def dphi(self) -> float:
        return 2 * np.pi / self.n_phi

    def cell_index(self, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Flat cell index ieta * n_phi + iphi of directions (η, φ); −1 outside |η| ≤ eta_max."""
        ieta = np.floor((eta + self.eta_max) / self.deta).astype(np.int64)
        iphi = np.floor((np.mod(phi + np.pi, 2 * np.pi)) / self.dphi).astype(np.int64)
        iphi = np.clip(iphi, 0, self.n_phi - 1)
        inside = (np.abs(eta) <= self.eta_max) & (ieta >= 0) & (ieta < self.n_eta)
        return np.where(inside, ieta * self.n_phi + iphi, -1)

    def cell_center(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(η, φ) of the centres of cells ``index`` (flat indices)."""
        ieta, iphi = np.divmod(np.asarray(index), self.n_phi)
        eta = -self.eta_max + (ieta + 0.5) * self.deta
        phi = -np.pi + (iphi + 0.5) * self.dphi
        return eta, phi

    def threshold(self, ecal: np.ndarray, hcal: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Tower energy from smeared ECAL and HCAL cell energies (GeV) after thresholds.

        A part is kept if E′ > E_min and E′ > significance · σ(E′).
        """
        keep_e = (ecal > self.ecal_min) & (ecal > self.significance * ecal_resolution(ecal))
        keep_h = (hcal > self.hcal_min) & (hcal > self.significance * hcal_resolution(hcal, eta))
        return np.where(keep_e, ecal, 0.0) + np.where(keep_h, hcal, 0.0)

    def towers(
        self,
        pdgid: np.ndarray,
        px: np.ndarray,
        py: np.ndarray,
        pz: np.ndarray,
        e: np.ndarray,
        rng: np.random.Generator,
    ) -> Towers:
        """Deposit stable particles (arrays of shape (n,), GeV) and return the event's towers.

        Invisible particles (ν, μ) are ignored here, so the caller can pass all final-state
        particles. Random numbers come from ``rng`` only.
        """
        pdgid = np.asarray(pdgid)
        pt = np.hypot(px, py)
        ok = visible(pdgid) & (pt > 0)
        eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz, dtype=np.float64), where=ok))
        phi = np.arctan2(py, px)
        cell = np.where(ok, self.cell_index(eta, phi), -1)
        sel = cell >= 0
        cells, inverse = np.unique(cell[sel], return_inverse=True)
        frac = ecal_fraction(pdgid[sel])
        energy = np.asarray(e, dtype=np.float64)[sel]
        ecal = np.bincount(inverse, weights=energy * frac, minlength=len(cells))
        hcal = np.bincount(inverse, weights=energy * (1.0 - frac), minlength=len(cells))
        c_eta, c_phi = self.cell_center(cells)
        ecal_s = lognormal_smear(ecal, ecal_resolution(ecal), rng)
        hcal_s = lognormal_smear(hcal, hcal_resolution(hcal, c_eta), rng)
        tower_e = self.threshold(ecal_s, hcal_s, c_eta)
        if self.smear_center:
            c_eta = c_eta + (rng.random(len(cells)) - 0.5) * self.deta
            c_phi = c_phi + (rng.random(len(cells)) - 0.5) * self.dphi
        keep = tower_e > 0
        t_e, t_eta, t_phi = tower_e[keep], c_eta[keep], c_phi[keep]
        t_pt = t_e / np.cosh(t_eta)
        order = np.argsort(-t_pt, kind="stable")
        return Towers(pt=t_pt[order], eta=t_eta[order], phi=t_phi[order], e=t_e[order])


def jet_energy_scale(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Delphes ATLAS jet energy scale factor k = √((3.0 − 0.2 |η|)² / pT + 1), pT in GeV."""
    pt = np.asarray(pt, dtype=np.float64)
    return np.sqrt((3.0 - 0.2 * np.abs(eta)) ** 2 / np.maximum(pt, 1e-9) + 1.0)


def btag(flavour: np.ndarray, eta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Parametrized b-tag decisions (bool, shape of ``flavour``) for truth flavours 5, 4, 0.

    P(tag) = 0.70 for b, 0.15 for c, 0.01 for light jets with |η| < 2.5; 0 beyond. One uniform
    number is drawn per jet.
    """
    flavour = np.asarray(flavour)
    prob = np.full(flavour.shape, BTAG_EFFICIENCY[0])
    prob[flavour == 5] = BTAG_EFFICIENCY[5]
    prob[flavour == 4] = BTAG_EFFICIENCY[4]
    prob[np.abs(np.asarray(eta)) >= 2.5] = 0.0
    return rng.random(flavour.shape) < prob
