"""Thin layer over Pythia 8 (``pythia8mc``): lazy import, seeding, and event-record reading.

Everything that touches the Pythia event record lives here, so that the process modules
(:mod:`hepattn.generate.ttbar`, :mod:`hepattn.generate.prongs`) work on numpy arrays.

Seeding: a run's ``seed`` and a chunk's index give, through :class:`numpy.random.SeedSequence`,
an independent Pythia seed (``Random:seed``, in 1..900,000,000) and an independent numpy
generator for the detector model, so that each chunk is reproducible on its own, whatever the
number of parallel jobs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepattn.errors import HepattnError

log = logging.getLogger(__name__)

__all__ = [
    "GEN_HINT",
    "Particles",
    "chunk_rngs",
    "decay_products",
    "heavy_flavour",
    "make_pythia",
    "read_particles",
    "require_fastjet",
    "require_pythia",
]

GEN_HINT = "install the generator extra: pip install 'hepattn[gen]'"

#: Settings common to every process: 13 TeV pp, quiet, K0S and Lambda stable (cτ > 10 mm).
COMMON_SETTINGS = (
    "Beams:eCM = 13000.",
    "Print:quiet = on",
    "Next:numberCount = 0",
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10.",
)


def require_pythia() -> Any:
    """Import and return the ``pythia8mc`` module, or raise with an install hint."""
    try:
        import pythia8mc
    except ImportError as err:
        raise HepattnError(f"Pythia 8 (pythia8mc) is not installed; {GEN_HINT}") from err
    return pythia8mc


def require_fastjet() -> Any:
    """Import and return the ``fastjet`` module, or raise with an install hint."""
    try:
        import fastjet
    except ImportError as err:
        raise HepattnError(f"FastJet (fastjet) is not installed; {GEN_HINT}") from err
    return fastjet


def chunk_rngs(seed: int, stream: int, index: int) -> tuple[int, np.random.Generator]:
    """Pythia seed (1..900,000,000) and numpy generator of chunk ``index`` of ``stream``."""
    ss = np.random.SeedSequence([int(seed), int(stream), int(index)])
    pythia_state, numpy_state = ss.spawn(2)
    pythia_seed = int(pythia_state.generate_state(1, dtype=np.uint64)[0] % 900_000_000) + 1
    return pythia_seed, np.random.default_rng(numpy_state)


def make_pythia(settings: tuple[str, ...] | list[str], seed: int) -> Any:
    """An initialised ``pythia8mc.Pythia`` with :data:`COMMON_SETTINGS`, ``settings`` and
    ``Random:seed = seed``. Raises :class:`HepattnError` if a setting is rejected."""
    pythia8mc = require_pythia()
    pythia = pythia8mc.Pythia("", False)
    for line in (*COMMON_SETTINGS, *settings, "Random:setSeed = on", f"Random:seed = {seed}"):
        if not pythia.readString(line):
            raise HepattnError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise HepattnError(f"Pythia initialisation failed with settings {list(settings)}")
    return pythia


@dataclass(frozen=True)
class Particles:
    """The whole event record as arrays of shape (n,): pdgId, status, px, py, pz, E (GeV)."""

    pdgid: np.ndarray
    status: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray

    @property
    def final(self) -> np.ndarray:
        """Mask of final-state (status > 0) particles."""
        return self.status > 0

    @property
    def pt(self) -> np.ndarray:
        return np.hypot(self.px, self.py)

    @property
    def eta(self) -> np.ndarray:
        pt = self.pt
        return np.arcsinh(np.divide(self.pz, pt, out=np.full_like(pt, 1e9), where=pt > 0))

    @property
    def phi(self) -> np.ndarray:
        return np.arctan2(self.py, self.px)


def read_particles(event: Any) -> Particles:
    """Copy a ``pythia8mc.Event`` into :class:`Particles` (one Python loop over the record)."""
    rows = [(p.id(), p.status(), p.px(), p.py(), p.pz(), p.e()) for p in event]
    ids, status, px, py, pz, e = zip(*rows, strict=True) if rows else ((),) * 6
    return Particles(
        pdgid=np.asarray(ids, dtype=np.int64),
        status=np.asarray(status, dtype=np.int64),
        px=np.asarray(px, dtype=np.float64),
        py=np.asarray(py, dtype=np.float64),
        pz=np.asarray(pz, dtype=np.float64),
        e=np.asarray(e, dtype=np.float64),
    )


def heavy_flavour(pdgid: np.ndarray) -> np.ndarray:
    """Heaviest quark flavour (5, 4 or 0) of hadrons ``pdgid`` (int array); 0 for non-hadrons.

    Meson codes ``n_q2 n_q3 n_J`` and baryon codes ``n_q1 n_q2 n_q3 n_J`` (PDG numbering):
    a hadron contains a b (c) quark if one of its quark digits is 5 (4). Quarks, leptons,
    diquarks (``n_q3 = 0``) and codes ≥ 10⁶ (excited/BSM states) give 0.
    """
    a = np.abs(np.asarray(pdgid, dtype=np.int64))
    q1, q2, q3 = (a // 1000) % 10, (a // 100) % 10, (a // 10) % 10
    hadron = (a > 100) & (a < 1_000_000) & (q3 != 0)
    has_b = (q1 == 5) | (q2 == 5) | (q3 == 5)
    has_c = (q1 == 4) | (q2 == 4) | (q3 == 4)
    return np.where(hadron & has_b, 5, np.where(hadron & has_c, 4, 0))


#: Resonances followed through their decays by :func:`decay_products`.
RESONANCES = (6, 23, 24, 25, 35, 9000006)


def decay_products(event: Any, index: int) -> list[int]:
    """Indices of the quarks (|id| ≤ 5) that a resonance's decay chain ends in.

    Starting from particle ``index``, its last copy (after recoils) is taken, its daughters
    are the first copies of the decay products; resonances among them (t, Z, W, h, H2, X) are
    followed recursively, quarks are returned in record order of the decay tree (before the
    parton shower, as the partons "point along their jets" best there).
    """
    bottom = event[index].iBotCopyId()
    out: list[int] = []
    for d in event[bottom].daughterList():
        aid = abs(event[d].id())
        if aid in RESONANCES:
            out.extend(decay_products(event, d))
        elif 1 <= aid <= 5:
            out.append(int(d))
    return out
