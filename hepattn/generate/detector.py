"""The Delphes ATLAS card's calorimeter: particles → ECAL and HCAL towers, and a b-tag score.

The model follows the modules ``ECal``, ``HCal`` and ``Calorimeter`` of
``cards/delphes_card_ATLAS.tcl`` (delphes/delphes): two independent grids whose kept towers are
merged into one list.

Geometry (η edges and φ bins exactly as the card lists them)
    ECAL: Δη = 0.0174 cells from −1.479 to 1.4964 (barrel, edges i·0.0174, i = −85…86) and the
    end-caps to |η| = 2.958 (edges ±(1.4964 + i·0.0174), i = 1…84), each cut into 360 φ bins
    of 1°; beyond, the forward cells (edges 2.958, 3.125, 3.3, … 5.0) have 10° φ bins.
    HCAL: Δη = 0.1 cells up to |η| = 2.6 (edges −2.5, −2.4, … 2.6, then 3.2/3.3), 36 φ bins of
    10°; the card's forward cells (2.6–4.9, edges 2.8, 3.0, 3.2, 3.5, …) have 20° bins.
    A cell (η_{k−1}, η_k] takes the φ bins listed with its upper edge η_k, as Delphes does.
    Acceptance: |η| ≤ 3.3 by default (``eta_max``), a cell edge of both grids; the forward
    calorimeter beyond is outside every jet the generators select (R = 1.2 jets have
    |η| < 2.0, R = 0.4 jets |η| < 2.5). Particles travel in straight lines (no field).
    A 1 TeV R = 1.2 jet gets ~3–4× more towers than on one 0.1 × 0.1 grid, mostly ECAL towers
    of single photons.

Energy sharing (the card's ``EnergyFraction`` table)
    e±, γ, π⁰ → 100 % ECAL; K⁰_S and Λ → 30 % ECAL, 70 % HCAL; every other hadron → 100 % HCAL;
    neutrinos and muons deposit nothing. (K⁰_S and Λ are kept stable by the generator settings,
    ``ParticleDecays:tau0Max = 10`` mm, as in Delphes productions.) Each grid sums the energy
    deposited in each of its cells.

Resolution (E and σ in GeV; η of the cell centre)
    ECAL:  σ(E) = √((0.0017 E)² + 0.101² E)                 for |η| ≤ 3.2
           σ(E) = √((0.0350 E)² + 0.285² E)                 for 3.2 < |η| ≤ 4.9
    HCAL:  σ(E) = √((0.0302 E)² + 0.5205² E + 1.59²)        for |η| ≤ 1.7
           σ(E) = √((0.05 E)² + 0.706² E)                   for 1.7 < |η| ≤ 3.2
           σ(E) = √((0.0942 E)² + 1.00² E)                  for 3.2 < |η| ≤ 4.9

Smearing
    Each grid's cell energies are smeared separately with a log-normal distribution of mean E
    and standard deviation σ(E): s² = ln(1 + σ²/E²), μ = ln E − s²/2, E′ = exp(μ + s·z).

Thresholds (``EnergyMin``, ``EnergySignificanceMin``; σ re-evaluated at E′, as Delphes does)
    ECAL tower kept if E′ > 0.5 GeV and E′ > 2 σ(E′); HCAL tower kept if E′ > 1 GeV and
    E′ > 2 σ(E′).

Tower four-vector
    Massless, with (η, φ) drawn uniformly inside its own cell (``SmearTowerCenter``), so towers
    do not sit on a lattice; pT = E / cosh η. The tower list is the union of the kept ECAL and
    HCAL towers (a cell of each grid can give one tower each), sorted by pT.

The former single grid (0.1 × 2π/64, ECAL and HCAL parts summed into one tower per cell) is
kept as the named model ``uniform`` (:data:`DETECTORS`), for comparisons; it is not the default.

Particle level (``none``, :class:`ParticleLevel`)
    No detector: the constituents are the stable visible particles themselves (final state,
    status > 0; K⁰_S and Λ are stable, cτ > 10 mm), with their own four-momenta (massive), no
    acceptance, threshold or smearing. Neutrinos (|id| 12, 14, 16) are dropped; muons are kept,
    as in the particle-level ("truth") jets of ATLAS and CMS: a muon is measured (tracker,
    muon system), unlike a neutrino. The calorimeter models drop muons (they deposit ~nothing),
    so particle-level jets carry the muons of semileptonic heavy-flavour decays that the
    calorimeter jets lack. Only the prong generator offers it (small-R jets would need a
    particle-level energy scale and b-tag model).

Jet energy scale (small-R jets only)
    The card's ``JetEnergyScale``: jets' four-momenta are multiplied by
    k(pT, η) = √((3.0 − 0.2 |η|)² / pT + 1), e.g. 1.11 at 40 GeV and 1.04 at 100 GeV, η = 0.
    Large-R jets (the prong sample) are left uncalibrated, equal to the sum of their towers.

b-tagging (see :func:`btag_score`)
    Truth flavour from hadrons: 5 if a B hadron with pT > 5 GeV lies within ΔR < 0.4 of the jet,
    else 4 for a C hadron, else 0. Each jet gets a continuous score in [0, 1] shaped like a real
    tagger's output, and the decision ``jet_btag`` = score above the 70 % working point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from statistics import NormalDist

import numpy as np

from hepattn.errors import DataError

__all__ = [
    "BTAG_WORKING_POINTS",
    "DETECTORS",
    "NEUTRINOS",
    "Calorimeter",
    "ParticleLevel",
    "Grid",
    "Towers",
    "btag",
    "btag_score",
    "check_detector",
    "detector_metadata",
    "ecal_fraction",
    "ecal_resolution",
    "hcal_resolution",
    "jet_energy_scale",
    "lognormal_smear",
    "visible",
]

#: pdgIds (absolute) that deposit nothing in the calorimeter: neutrinos and muons.
INVISIBLE = (12, 13, 14, 16)
#: pdgIds (absolute) of the neutrinos, the only stable particles a particle-level jet drops.
NEUTRINOS = (12, 14, 16)
#: pdgIds (absolute) deposited entirely in the ECAL.
ECAL_ONLY = (11, 22, 111)
#: pdgIds (absolute) shared 30 % ECAL / 70 % HCAL.
SHARED = (310, 3122)


def ecal_resolution(energy: np.ndarray, eta: np.ndarray | float = 0.0) -> np.ndarray:
    """ECAL σ(E, η) in GeV: √((0.0017 E)² + 0.101² E) for |η| ≤ 3.2, else
    √((0.035 E)² + 0.285² E). ``energy`` (GeV) and ``eta`` broadcast together."""
    e = np.asarray(energy, dtype=np.float64)
    central = np.sqrt((0.0017 * e) ** 2 + 0.101**2 * e)
    forward = np.sqrt((0.035 * e) ** 2 + 0.285**2 * e)
    return np.where(np.abs(eta) <= 3.2, central, forward)


def hcal_resolution(energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """HCAL σ(E, η) in GeV: √((0.0302 E)² + 0.5205² E + 1.59²) for |η| ≤ 1.7,
    √((0.05 E)² + 0.706² E) for 1.7 < |η| ≤ 3.2, √((0.0942 E)² + 1.0² E) beyond.
    ``energy`` (GeV) and ``eta`` broadcast together."""
    e = np.asarray(energy, dtype=np.float64)
    a = np.abs(eta)
    central = np.sqrt((0.0302 * e) ** 2 + 0.5205**2 * e + 1.59**2)
    endcap = np.sqrt((0.05 * e) ** 2 + 0.706**2 * e)
    forward = np.sqrt((0.0942 * e) ** 2 + 1.0**2 * e)
    return np.where(a <= 1.7, central, np.where(a <= 3.2, endcap, forward))


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
class Grid:
    """Cells of one calorimeter grid.

    ``eta_edges``: increasing η edges (n + 1,); ``n_phi``: φ bins of each η cell (n,), equal
    bins of 2π/n_phi from −π. Cells are numbered ``offset[k] + iphi`` (k: η cell).
    """

    eta_edges: tuple[float, ...]
    n_phi: tuple[int, ...]

    @cached_property
    def _edges(self) -> np.ndarray:
        return np.asarray(self.eta_edges, dtype=np.float64)

    @cached_property
    def _nphi(self) -> np.ndarray:
        return np.asarray(self.n_phi, dtype=np.int64)

    @cached_property
    def _offset(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self._nphi)])

    @property
    def n_cells(self) -> int:
        return int(self._offset[-1])

    def cell_index(self, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Flat cell index of directions (η, φ) (arrays of one shape); −1 outside the grid."""
        eta = np.asarray(eta, dtype=np.float64)
        k = np.searchsorted(self._edges, eta, side="left") - 1  # edges[k] < η <= edges[k+1]
        inside = (k >= 0) & (k < len(self._nphi))
        k = np.clip(k, 0, len(self._nphi) - 1)
        nphi = self._nphi[k]
        iphi = np.floor(np.mod(np.asarray(phi) + np.pi, 2 * np.pi) * nphi / (2 * np.pi))
        iphi = np.clip(iphi.astype(np.int64), 0, nphi - 1)
        return np.where(inside, self._offset[k] + iphi, -1)

    def cell_bounds(self, index: np.ndarray) -> tuple[np.ndarray, ...]:
        """(η_low, η_high, φ_low, φ_high) of cells ``index`` (flat indices, shape (n,))."""
        index = np.asarray(index, dtype=np.int64)
        k = np.searchsorted(self._offset, index, side="right") - 1
        dphi = 2 * np.pi / self._nphi[k]
        phi_low = -np.pi + (index - self._offset[k]) * dphi
        return self._edges[k], self._edges[k + 1], phi_low, phi_low + dphi

    def cell_center(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(η, φ) of the centres of cells ``index`` (flat indices)."""
        e0, e1, p0, p1 = self.cell_bounds(index)
        return 0.5 * (e0 + e1), 0.5 * (p0 + p1)


def _card_grid(edges_phi: list[tuple[float, int]]) -> Grid:
    """A :class:`Grid` from the card's ``(η edge, φ bins)`` entries: the cell below each edge
    takes that edge's φ bins (the first, lowest edge only opens the grid)."""
    table = dict(sorted({round(e, 6): n for e, n in edges_phi}.items()))
    edges = tuple(table)
    return Grid(eta_edges=edges, n_phi=tuple(table[e] for e in edges[1:]))


def _atlas_ecal() -> Grid:
    rows = [(i * 0.0174, 360) for i in range(-85, 87)]  # barrel
    rows += [(-2.958 + i * 0.0174, 360) for i in range(1, 85)]  # end-caps
    rows += [(1.4964 + i * 0.0174, 360) for i in range(1, 85)]
    forward = (-5, -4.7, -4.525, -4.35, -4.175, -4, -3.825, -3.65, -3.475, -3.3, -3.125, -2.958)
    rows += [(e, 36) for e in forward] + [(-e, 36) for e in forward[:-1]]
    return _card_grid(rows)


def _atlas_hcal() -> Grid:
    central = [-3.2, *(round(-2.5 + 0.1 * i, 1) for i in range(52)), 2.6, 3.3]
    forward = [-4.9, -4.7, -4.5, -4.3, -4.1, -3.9, -3.7, -3.5, -3.3, -3, -2.8, -2.6]
    forward += [2.8, 3, 3.2, 3.5, 3.7, 3.9, 4.1, 4.3, 4.5, 4.7, 4.9]
    return _card_grid([(e, 36) for e in central] + [(e, 18) for e in forward])


def _uniform_grid(eta_max: float = 3.2, n_eta: int = 64, n_phi: int = 64) -> Grid:
    edges = tuple(np.linspace(-eta_max, eta_max, n_eta + 1).tolist())
    return Grid(eta_edges=edges, n_phi=(n_phi,) * n_eta)


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
    """ECAL and HCAL grids and thresholds (see the module docstring for the model).

    ``eta_max``: acceptance (particles with |η| > eta_max deposit nothing);
    ``ecal_min``, ``hcal_min`` (GeV) and ``significance`` (E′/σ(E′)) are the thresholds;
    ``smear_center``: spread towers uniformly in their cell (else place them at its centre);
    ``merge_cells``: sum the kept ECAL and HCAL parts of a cell into one tower (only for two
    identical grids: the former ``uniform`` model). ``name`` is written to file metadata.
    """

    name: str = "delphes-atlas"
    ecal: Grid = field(default_factory=_atlas_ecal)
    hcal: Grid = field(default_factory=_atlas_hcal)
    eta_max: float = 3.3
    ecal_min: float = 0.5
    hcal_min: float = 1.0
    significance: float = 2.0
    smear_center: bool = True
    merge_cells: bool = False

    def __post_init__(self) -> None:
        if self.merge_cells and self.ecal != self.hcal:
            raise ValueError("merge_cells needs identical ECAL and HCAL grids")

    @classmethod
    def named(cls, name: str) -> Calorimeter | ParticleLevel:
        """The detector model ``name`` (a key of :data:`DETECTORS`; ``none`` gives the
        :class:`ParticleLevel` stand-in)."""
        check_detector(name)
        return DETECTORS[name]()

    def describe(self) -> str:
        """One line for file metadata."""
        return json.dumps(
            {
                "name": self.name,
                "ecal_cells": self.ecal.n_cells,
                "hcal_cells": self.hcal.n_cells,
                "eta_max": self.eta_max,
                "ecal_min": self.ecal_min,
                "hcal_min": self.hcal_min,
                "significance": self.significance,
                "merged_cells": self.merge_cells,
            }
        )

    def keep_ecal(self, energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """ECAL towers kept: E′ > ecal_min and E′ > significance · σ(E′) (E′ in GeV)."""
        sigma = ecal_resolution(energy, eta)
        return (energy > self.ecal_min) & (energy > self.significance * sigma)

    def keep_hcal(self, energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """HCAL towers kept: E′ > hcal_min and E′ > significance · σ(E′, η) (E′ in GeV)."""
        sigma = hcal_resolution(energy, eta)
        return (energy > self.hcal_min) & (energy > self.significance * sigma)

    def _layer(
        self,
        grid: Grid,
        cell: np.ndarray,
        energy: np.ndarray,
        is_ecal: bool,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Smeared, thresholded energies of one grid's hit cells: (cells (m,), E′ (m,))."""
        hit = energy > 0
        cells, inverse = np.unique(cell[hit], return_inverse=True)
        deposit = np.bincount(inverse, weights=energy[hit], minlength=len(cells))
        eta, _ = grid.cell_center(cells)
        if is_ecal:
            smeared = lognormal_smear(deposit, ecal_resolution(deposit, eta), rng)
            keep = self.keep_ecal(smeared, eta)
        else:
            smeared = lognormal_smear(deposit, hcal_resolution(deposit, eta), rng)
            keep = self.keep_hcal(smeared, eta)
        return cells, np.where(keep, smeared, 0.0)

    def _place(
        self, grid: Grid, cells: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """(η, φ) of towers in ``cells``: uniform in the cell, or its centre."""
        e0, e1, p0, p1 = grid.cell_bounds(cells)
        if not self.smear_center:
            return 0.5 * (e0 + e1), 0.5 * (p0 + p1)
        u = rng.random((2, len(cells)))
        return e0 + u[0] * (e1 - e0), p0 + u[1] * (p1 - p0)

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
        particles. Random numbers come from ``rng`` only: one normal number per hit cell of the
        ECAL, then of the HCAL, then two uniform numbers per cell for the tower positions.
        """
        pdgid = np.asarray(pdgid)
        pt = np.hypot(px, py)
        ok = visible(pdgid) & (pt > 0)
        eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz, dtype=np.float64), where=ok))
        ok &= np.abs(eta) <= self.eta_max
        phi = np.arctan2(py, px)
        frac = ecal_fraction(pdgid)
        energy = np.where(ok, np.asarray(e, dtype=np.float64), 0.0)
        e_cell = np.where(ok, self.ecal.cell_index(eta, phi), -1)
        h_cell = e_cell if self.merge_cells else np.where(ok, self.hcal.cell_index(eta, phi), -1)
        e_cells, e_e = self._layer(
            self.ecal, e_cell, np.where(e_cell >= 0, energy * frac, 0), True, rng
        )
        h_cells, h_e = self._layer(
            self.hcal, h_cell, np.where(h_cell >= 0, energy * (1 - frac), 0), False, rng
        )
        if self.merge_cells:  # one tower per cell of the single grid: kept parts summed
            cells, inverse = np.unique(np.concatenate([e_cells, h_cells]), return_inverse=True)
            tower_e = np.bincount(inverse, weights=np.concatenate([e_e, h_e]), minlength=len(cells))
            t_eta, t_phi = self._place(self.ecal, cells, rng)
        else:
            e_eta, e_phi = self._place(self.ecal, e_cells, rng)
            h_eta, h_phi = self._place(self.hcal, h_cells, rng)
            tower_e = np.concatenate([e_e, h_e])
            t_eta, t_phi = np.concatenate([e_eta, h_eta]), np.concatenate([e_phi, h_phi])
        keep = tower_e > 0
        t_e, t_eta, t_phi = tower_e[keep], t_eta[keep], t_phi[keep]
        t_pt = t_e / np.cosh(t_eta)
        order = np.argsort(-t_pt, kind="stable")
        return Towers(pt=t_pt[order], eta=t_eta[order], phi=t_phi[order], e=t_e[order])


@dataclass(frozen=True)
class ParticleLevel:
    """No detector (``--detector none``): stable visible particles as the constituents.

    Same interface as :class:`Calorimeter` (``name``, :meth:`describe`, :meth:`towers`), so
    the generators treat it as one more detector model; see the module docstring.
    """

    name: str = "none"

    def describe(self) -> str:
        """One line for file metadata."""
        return json.dumps(
            {
                "name": self.name,
                "constituents": "stable visible particles (status > 0)",
                "dropped": "neutrinos (|pdgId| 12, 14, 16)",
                "muons": "kept",
                "massive": True,
            }
        )

    def towers(
        self,
        pdgid: np.ndarray,
        px: np.ndarray,
        py: np.ndarray,
        pz: np.ndarray,
        e: np.ndarray,
        rng: np.random.Generator | None = None,
    ) -> Towers:
        """The stable particles (arrays of shape (n,), GeV) minus neutrinos and particles along
        the beam (pT = 0), as :class:`Towers` sorted by pT descending (E is the particle's own,
        so m² = E² − |p|² ≥ 0 is kept). ``rng`` is unused (nothing is random)."""
        pt = np.hypot(px, py)
        keep = ~np.isin(np.abs(np.asarray(pdgid)), NEUTRINOS) & (pt > 0)
        pt, pz, e = pt[keep], np.asarray(pz, dtype=np.float64)[keep], np.asarray(e)[keep]
        eta = np.arcsinh(pz / pt)
        phi = np.arctan2(np.asarray(py)[keep], np.asarray(px)[keep])
        order = np.argsort(-pt, kind="stable")
        return Towers(pt=pt[order], eta=eta[order], phi=phi[order], e=e[order].astype(np.float64))


#: Named detector models: the card's two grids (default), the former single grid, and none
#: (particle level).
DETECTORS = {
    "delphes-atlas": Calorimeter,
    "uniform": lambda: Calorimeter(
        name="uniform",
        ecal=_uniform_grid(),
        hcal=_uniform_grid(),
        eta_max=3.2,
        merge_cells=True,
    ),
    "none": ParticleLevel,
}


def check_detector(name: str, particle_level: bool = True) -> None:
    """Raise a :class:`~hepattn.errors.DataError` unless ``name`` is a known detector (and not
    ``none`` where ``particle_level`` is false)."""
    if name not in DETECTORS:
        raise DataError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
    if name == "none" and not particle_level:
        calos = ", ".join(d for d in DETECTORS if d != "none")
        raise DataError(
            f"detector 'none' (particle level) is for prong samples only; choose from {calos}"
        )


def detector_metadata(name: str) -> dict[str, str]:
    """File metadata naming calorimeter model ``name``: ``detector`` (the name) and
    ``detector_config`` (its cells and thresholds as JSON)."""
    return {"detector": name, "detector_config": Calorimeter.named(name).describe()}


def jet_energy_scale(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Delphes ATLAS jet energy scale factor k = √((3.0 − 0.2 |η|)² / pT + 1), pT in GeV."""
    pt = np.asarray(pt, dtype=np.float64)
    return np.sqrt((3.0 - 0.2 * np.abs(eta)) ** 2 / np.maximum(pt, 1e-9) + 1.0)


#: Logit-normal b-tag score model: flavour → (mean, width) of t = ln(s / (1 − s)).
BTAG_LOGIT = {5: (3.5, 2.5), 4: (-0.402, 2.5), 0: (-3.627, 2.5)}
#: Tracker acceptance of the b-tag: jets with |η| ≥ 2.5 get score 0.
BTAG_ETA_MAX = 2.5


def _score_cut(b_efficiency: float) -> float:
    mean, width = BTAG_LOGIT[5]
    t = mean + width * NormalDist().inv_cdf(1.0 - b_efficiency)
    return round(float(1.0 / (1.0 + np.exp(-t))), 4)


#: Score cuts of the three working points, named by their b-jet efficiency (85, 70, 60 %).
BTAG_WORKING_POINTS = {
    "loose": _score_cut(0.85),
    "medium": _score_cut(0.70),
    "tight": _score_cut(0.60),
}


def btag_score(flavour: np.ndarray, eta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Continuous b-tag scores (float32 in [0, 1], shape of ``flavour``) for truth flavours 5,
    4, 0 (b, c, light).

    The score is s = 1 / (1 + e^−t) with t ~ N(μ_f, 2.5²): μ_b = 3.5, μ_c = −0.402,
    μ_light = −3.627, a logit-normal shape like a real tagger's output (light jets piled near
    0, b jets near 1, c jets spread between). The working points
    (:data:`BTAG_WORKING_POINTS`) cut at the b-efficiencies 85 / 70 / 60 %:

    ======== ======= ======= ======= ========
    point    cut s   b       c       light
    ======== ======= ======= ======= ========
    loose    0.7128  85 %    30 %    3.5 %
    medium   0.8993  70 %    15 %    1.0 %
    tight    0.9462  60 %    9.5 %   0.47 %
    ======== ======= ======= ======= ========

    (the card's 70 % / ~15 % / ~1 % at the medium point). Jets with |η| ≥ 2.5 (outside the
    tracker) get 0. One normal number is drawn per jet.
    """
    flavour = np.asarray(flavour)
    z = rng.standard_normal(flavour.shape)
    mean = np.full(flavour.shape, BTAG_LOGIT[0][0])
    width = np.full(flavour.shape, BTAG_LOGIT[0][1])
    for f in (5, 4):
        mean[flavour == f], width[flavour == f] = BTAG_LOGIT[f]
    score = 1.0 / (1.0 + np.exp(-(mean + width * z)))
    score[np.abs(np.asarray(eta)) >= BTAG_ETA_MAX] = 0.0
    return score.astype(np.float32)


def btag(score: np.ndarray, working_point: str = "medium") -> np.ndarray:
    """b-tag decisions (bool): ``score`` above the cut of ``working_point``."""
    return np.asarray(score) > BTAG_WORKING_POINTS[working_point]
