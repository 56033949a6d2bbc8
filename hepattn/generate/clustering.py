"""Jet clustering of calorimeter towers with FastJet, and truth flavour of the jets.

Jets are anti-kt jets of radius R clustered from massless towers (E-scheme recombination), so a
jet's mass comes from its angular spread. Returned quantities: pT, pseudorapidity η,
φ ∈ [−π, π], mass m (all GeV except η, φ), and for each jet the indices of its towers, sorted
by tower pT descending.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from hepattn.errors import HepattnError
from hepattn.generate.detector import Towers
from hepattn.generate.matching import delta_r
from hepattn.generate.pythia import require_fastjet, require_pythia

__all__ = ["Jets", "cluster", "fastjet_banner_once", "jet_flavour"]


@dataclass(frozen=True)
class Jets:
    """Jets of one event, sorted by pT descending.

    ``pt``, ``eta``, ``phi``, ``mass``: float64 arrays of shape (n_jets,);
    ``constituents``: list of n_jets int arrays, indices into the event's towers, each sorted
    by tower pT descending.
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    mass: np.ndarray
    constituents: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.pt)

    def scaled(self, factor: np.ndarray) -> Jets:
        """The jets with four-momenta multiplied by ``factor`` ((n_jets,)), re-sorted by pT
        descending: pT and mass scale, directions do not."""
        pt = self.pt * factor
        order = np.argsort(-pt, kind="stable")
        return Jets(
            pt=pt[order],
            eta=self.eta[order],
            phi=self.phi[order],
            mass=(self.mass * factor)[order],
            constituents=[self.constituents[i] for i in order],
        )

    def select(self, mask: np.ndarray) -> Jets:
        """The jets where ``mask`` (bool, (n_jets,)) is true, in the same order."""
        idx = np.flatnonzero(mask)
        return Jets(
            pt=self.pt[idx],
            eta=self.eta[idx],
            phi=self.phi[idx],
            mass=self.mass[idx],
            constituents=[self.constituents[i] for i in idx],
        )


@lru_cache(maxsize=1)
def fastjet_banner_once() -> None:
    """Let FastJet print its banner now, once, and silence the copy of it in Pythia's
    ``SlowJet`` (FastJet's core, a second banner).

    Both are printed on a process's first clustering; worker processes forked afterwards
    inherit the "already printed" state, so a run with ``--jobs N`` shows one banner, not
    2 × N. Without the generator extra this does nothing.
    """
    try:
        fastjet = require_fastjet()
        pythia8mc = require_pythia()
    except HepattnError:
        return
    sequence = fastjet.ClusterSequence(
        [fastjet.PseudoJet(1.0, 0.0, 0.0, 1.0)], _jet_definition(0.4)
    )
    sequence.inclusive_jets(0.0)
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            event = pythia8mc.Event()
            event.init()
            event.append(pythia8mc.Particle(22, 1, 0, 0, 0, 0, 0, 0, 1.0, 0.0, 0.0, 1.0, 0.0))
            pythia8mc.SlowJet(-1, 0.4, 0.0, 5.0, 2, 2, None, True).analyze(event)
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@lru_cache(maxsize=8)
def _jet_definition(radius: float) -> Any:
    fastjet = require_fastjet()
    return fastjet.JetDefinition(fastjet.antikt_algorithm, float(radius))


def cluster(towers: Towers, radius: float, pt_min: float) -> Jets:
    """Anti-kt jets of ``radius`` with pT > ``pt_min`` (GeV) from ``towers``, pT-ordered."""
    fastjet = require_fastjet()
    pseudojets = []
    for i, (px, py, pz, e) in enumerate(
        zip(
            towers.px.tolist(),
            towers.py.tolist(),
            towers.pz.tolist(),
            towers.e.tolist(),
            strict=True,
        )
    ):
        pj = fastjet.PseudoJet(px, py, pz, e)
        pj.set_user_index(i)
        pseudojets.append(pj)
    if not pseudojets:
        empty = np.zeros(0)
        return Jets(empty, empty, empty, empty, [])
    sequence = fastjet.ClusterSequence(pseudojets, _jet_definition(radius))
    found = fastjet.sorted_by_pt(sequence.inclusive_jets(float(pt_min)))
    rows = []
    constituents = []
    for jet in found:
        rows.append((jet.pt(), jet.eta(), jet.phi_std(), max(jet.m(), 0.0)))
        idx = np.array([c.user_index() for c in jet.constituents()], dtype=np.int64)
        constituents.append(idx[np.argsort(-towers.pt[idx], kind="stable")])
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    return Jets(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], constituents)


def jet_flavour(
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    hadron_flavour: np.ndarray,
    hadron_eta: np.ndarray,
    hadron_phi: np.ndarray,
    max_dr: float = 0.4,
) -> np.ndarray:
    """Truth flavour (int32, (n_jets,)): 5 if a b hadron lies within ΔR < ``max_dr`` of the
    jet axis, else 4 for a c hadron, else 0. Hadron arrays have shape (n_hadrons,), with
    ``hadron_flavour`` in {4, 5}; the caller applies any hadron pT cut."""
    flavour = np.zeros(len(jet_eta), dtype=np.int32)
    if len(jet_eta) == 0 or len(hadron_eta) == 0:
        return flavour
    near = delta_r(jet_eta[:, None], jet_phi[:, None], hadron_eta[None], hadron_phi[None]) < max_dr
    has_c = (near & (hadron_flavour[None] == 4)).any(axis=1)
    has_b = (near & (hadron_flavour[None] == 5)).any(axis=1)
    flavour[has_c] = 4
    flavour[has_b] = 5
    return flavour
