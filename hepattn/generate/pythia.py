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

from hepattn._optional import require
from hepattn.errors import HepattnError

log = logging.getLogger(__name__)

__all__ = [
    "GEN_HINT",
    "ArrayChain",
    "EventChain",
    "Particles",
    "chunk_rngs",
    "decay_products",
    "heavy_flavour",
    "make_pythia",
    "read_batch",
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
    return require("pythia8mc")


def require_fastjet() -> Any:
    """Import and return the ``fastjet`` module, or raise with an install hint."""
    return require("fastjet")


def chunk_rngs(seed: int, stream: int, index: int) -> tuple[int, np.random.Generator]:
    """Pythia seed (1..900,000,000) and numpy generator of chunk ``index`` of ``stream``."""
    ss = np.random.SeedSequence([int(seed), int(stream), int(index)])
    pythia_state, numpy_state = ss.spawn(2)
    pythia_seed = int(pythia_state.generate_state(1, dtype=np.uint64)[0] % 900_000_000) + 1
    return pythia_seed, np.random.default_rng(numpy_state)


def make_pythia(settings: tuple[str, ...] | list[str], seed: int, hooks: Any = None) -> Any:
    """An initialised ``pythia8mc.Pythia`` with :data:`COMMON_SETTINGS`, ``settings`` and
    ``Random:seed = seed``, and ``hooks`` (a ``pythia8mc.UserHooks``) if given. Raises
    :class:`HepattnError` if a setting is rejected."""
    pythia8mc = require_pythia()
    pythia = pythia8mc.Pythia("", False)
    for line in (*COMMON_SETTINGS, *settings, "Random:setSeed = on", f"Random:seed = {seed}"):
        if not pythia.readString(line):
            raise HepattnError(f"Pythia rejected the setting {line!r}")
    if hooks is not None:
        pythia.setUserHooksPtr(hooks)
    if not pythia.init():
        raise HepattnError(f"Pythia initialisation failed with settings {list(settings)}")
    return pythia


@dataclass(frozen=True)
class Particles:
    """The whole event record as arrays of shape (n,): pdgId, status, px, py, pz, E (GeV).

    ``mother1`` … ``daughter2`` (int, Pythia's history links) are filled by the bulk reader
    (:func:`read_batch`) and left ``None`` by the per-particle loop (:func:`read_particles`),
    whose caller asks the C++ record instead (:class:`EventChain`).
    """

    pdgid: np.ndarray
    status: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    daughter1: np.ndarray | None = None
    daughter2: np.ndarray | None = None

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


def read_batch(batch: Any) -> list[tuple[Particles, float]]:
    """Events of a ``Pythia.nextBatch`` awkward array as (:class:`Particles`, weight) pairs.

    The record is flattened once for the whole batch (arrays filled in C++), then sliced per
    event: the same numbers as :func:`read_particles`, without a Python loop over particles.
    """
    import awkward as ak

    prt = batch["prt"]
    counts = ak.to_numpy(ak.num(prt, axis=1))
    flat = ak.flatten(prt, axis=1)
    mom = flat["p"]
    cols = {
        "pdgid": (flat["id"], np.int64),
        "status": (flat["status"], np.int64),
        "px": (mom["px"], np.float64),
        "py": (mom["py"], np.float64),
        "pz": (mom["pz"], np.float64),
        "e": (mom["e"], np.float64),
        "daughter1": (flat["daughter1"], np.int64),
        "daughter2": (flat["daughter2"], np.int64),
    }
    arrays = {k: ak.to_numpy(v).astype(t) for k, (v, t) in cols.items()}
    weights = ak.to_numpy(ak.fill_none(ak.firsts(batch["info"]["weights"]), 1.0))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    out = []
    for i in range(len(counts)):
        sl = slice(offsets[i], offsets[i + 1])
        out.append((Particles(**{k: v[sl] for k, v in arrays.items()}), float(weights[i])))
    return out


class EventChain:
    """Decay-history questions answered by a ``pythia8mc.Event`` (the C++ record)."""

    def __init__(self, event: Any) -> None:
        self.event = event

    def pdgid(self, i: int) -> int:
        return int(self.event[i].id())

    def daughters(self, i: int) -> list[int]:
        return [int(d) for d in self.event[i].daughterList()]

    def bottom_copy(self, i: int) -> int:
        return int(self.event[i].iBotCopyId())


class ArrayChain:
    """The same answers as :class:`EventChain` from :class:`Particles` read in bulk.

    ``daughters`` follows Pythia's ``Particle::daughterList`` (none; one; the range
    d1…d2 when d2 > d1; else d2 and d1; the extra daughters it lists for the two beam
    particles are not needed and left out), ``bottom_copy`` its ``iBotCopyId`` (follow the
    one daughter with the same id while there is exactly one).
    """

    def __init__(self, parts: Particles) -> None:
        if parts.daughter1 is None or parts.daughter2 is None:
            raise ValueError("ArrayChain needs Particles read with their history (read_batch)")
        self.ids, self.d1, self.d2 = parts.pdgid, parts.daughter1, parts.daughter2

    def pdgid(self, i: int) -> int:
        return int(self.ids[i])

    def daughters(self, i: int) -> list[int]:
        d1, d2 = int(self.d1[i]), int(self.d2[i])
        if d1 == 0 and d2 == 0:
            return []
        if d2 == 0 or d2 == d1:
            return [d1]
        if d2 > d1:
            return list(range(d1, d2 + 1))
        return [d2, d1]

    def bottom_copy(self, i: int) -> int:
        pid = self.ids[i]
        while True:
            same = [d for d in self.daughters(i) if self.ids[d] == pid]
            if len(same) != 1:
                return i
            i = same[0]


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


def decay_products(chain: EventChain | ArrayChain, index: int) -> list[int]:
    """Indices of the quarks (|id| ≤ 5) that a resonance's decay chain ends in.

    Starting from particle ``index``, its last copy (after recoils) is taken, its daughters
    are the first copies of the decay products; resonances among them (t, Z, W, h, H2, X) are
    followed recursively, quarks are returned in record order of the decay tree (before the
    parton shower, as the partons "point along their jets" best there). ``chain``: the
    record's history (:class:`EventChain` or :class:`ArrayChain`).
    """
    out: list[int] = []
    for d in chain.daughters(chain.bottom_copy(index)):
        aid = abs(chain.pdgid(d))
        if aid in RESONANCES:
            out.extend(decay_products(chain, d))
        elif 1 <= aid <= 5:
            out.append(int(d))
    return out
