"""χ² jet–parton assignment for all-hadronic tt̄ (REFERENCE §4), vectorized in numpy.

Every assignment of six distinct jets to ``(b, q1, q2, b′, q1′, q2′)`` is scored and the one
with the smallest χ² is kept. Two forms (``Chi2Config.mode``):

- ``"mt"`` (default: :data:`DEFAULT_MODE`, the stronger of the two on hepattn's samples, and
  the form ``hepattn compare`` and ``hepattn match --method chi2`` use)::

      χ² = (m_bq1q2 − m_t)²/σ_t² + (m_b′q1′q2′ − m_t)²/σ_t²
         + (m_q1q2 − m_W)²/σ_W² + (m_q1′q2′ − m_W)²/σ_W²

- ``"dm"`` (SPA-Net's baseline)::

      χ² = (m_bq1q2 − m_b′q1′q2′)²/σ_Δmt² + (m_q1q2 − m_W)²/σ_W² + (m_q1′q2′ − m_W)²/σ_W²

with invariant masses ``m = sqrt(max(E² − |p|², 0))`` of the summed jet four-momenta
(:func:`hepattn.physics.kinematics.invariant_mass`).

**b-tagging** (when ``btag`` is given): an event with at least ``min_btags`` (2) tagged jets
among the jets used puts its b and b′ only on tagged jets. With ``q_untagged=True`` it also
puts q1, q2, q1′, q2′ only on untagged jets, provided at least 4 untagged jets are available
(otherwise only the b restriction applies, so every event with ≥ 6 jets gets an assignment).
Events with fewer tags are solved without b-tag information.

**Algorithm.** Both forms are invariant under q1 ↔ q2, q1′ ↔ q2′ and under exchanging the two
triplets (t ↔ t̄), so each class of 8 equivalent assignments is scored once: for ``n`` jets
there are ``T = n·C(n−1, 2)`` triplets ``(b, {q1, q2})`` and ``A`` unordered pairs of disjoint
triplets (``A = C(n, 6)·90``: 90 for n = 6, 630 for 7, 2 520 for 8, 18 900 for 10). Per
event the pair masses ``m_qq`` (``C(n, 2)``) and triplet masses ``m_bqq`` (``T``) are computed
once (O(n³)); the per-triplet cost ``c_t = (m_qq − m_W)²/σ_W² [+ (m_bqq − m_t)²/σ_t²]``
(``+∞`` for a triplet forbidden by b-tagging) is then combined over the precomputed pair table,
``χ²_a = c_t1 + c_t2 [+ (m_t1 − m_t2)²/σ_Δmt²]``, and the argmin is taken. Events are grouped by
the number of jets used so that each group is one array computation, processed in chunks of at
most ``chunk_elements`` assignment scores to bound memory.

Only the ``max_jets`` highest-pT real jets of an event are used (default 10: 18 900
assignments; the softer jets rarely come from a top decay and the cost grows like n⁶).
Returned indices refer to the input's own jet order, whatever the order or padding of the
input.

Default resolutions were measured with :func:`measure_resolutions` on the truth-matched events
of ``samples/ttbar_allhad.root`` (hepattn's own Pythia 8 sample, 10 000 events)::

    python -c "from hepattn.baselines.chi2 import measure_on_file; \\
               print(measure_on_file('samples/ttbar_allhad.root'))"

giving σ_W = 11.2 GeV and σ_t = 20.1 GeV (6 250 reconstructable tops), σ_Δmt = 31.4 GeV (974
events with both tops reconstructable), each half the 16–84 % inter-quantile range of the
truth-matched distribution. The medians, m_qq = 78.7 GeV and m_bqq = 163.4 GeV, sit below the
PDG masses (out-of-cone radiation and the jet energy scale); the defaults nevertheless keep the
PDG m_W and m_t, the convention of the χ² method — set ``m_w``/``m_t`` to move them.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
from typing import Literal

import numpy as np

from hepattn.config import Config, check
from hepattn.errors import DataError
from hepattn.topology import TTBAR_ALLHAD

__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "Chi2Config",
    "assignment_tables",
    "check_inputs",
    "leading_jets",
    "measure_on_file",
    "chi2_setup",
    "chi2_slots",
    "measure_resolutions",
    "solve_chi2",
]

log = logging.getLogger(__name__)

#: PDG 2024 W mass, rounded (80.369 ± 0.013 GeV).
M_W_PDG = 80.4
#: PDG 2024 top mass from direct measurements, rounded (172.57 ± 0.29 GeV); 172.5 is also
#: the mass used by Pythia 8 and most generators.
M_T_PDG = 172.5
#: The assignment's parton order (b, q1, q2, b′, q1′, q2′) and symmetries.
TOPOLOGY = TTBAR_ALLHAD
_FROM_HEAD = list(TOPOLOGY.resonances[0].from_head)  # (q1, q2, b) → (b, q1, q2)
#: The χ² forms, and the default of the Python API and of the command line alike.
MODES = ("mt", "dm")
DEFAULT_MODE = "mt"


@dataclasses.dataclass(frozen=True)
class Chi2Config(Config):
    """Masses, resolutions and options of the χ² assignment.

    Attributes:
        m_w: W mass in GeV (PDG, rounded).
        m_t: top mass in GeV (PDG / generator value); used only by ``mode="mt"``.
        sigma_w: resolution of the reconstructed m_qq in GeV, measured on the truth-matched
            events of ``samples/ttbar_allhad.root`` (see the module docstring).
        sigma_t: resolution of the reconstructed m_bqq in GeV, measured likewise; ``mode="mt"``.
        sigma_dmt: resolution of m_bqq − m_b′q′q′ in GeV, measured likewise; ``mode="dm"``.
        mode: ``"mt"`` (default) uses the two (m_bqq − m_t)² terms, ``"dm"`` the Δm_t term.
        min_btags: with at least this many tagged jets, b slots go on tagged jets only.
        q_untagged: with b-tag restriction active and ≥ 4 untagged jets, q slots go on
            untagged jets only.
        btag_threshold: a jet is tagged when ``btag > btag_threshold`` (bool → 0/1).
        max_jets: only the ``max_jets`` highest-pT jets of an event are used (6 … 16).
        chunk_elements: at most this many assignment scores are held at once.
    """

    m_w: float = M_W_PDG
    m_t: float = M_T_PDG
    sigma_w: float = 11.2
    sigma_t: float = 20.1
    sigma_dmt: float = 31.4
    mode: Literal["mt", "dm"] = DEFAULT_MODE
    min_btags: int = 2
    q_untagged: bool = False
    btag_threshold: float = 0.5
    max_jets: int = 10
    chunk_elements: int = 1 << 20

    def __post_init__(self) -> None:
        where = "Chi2Config"
        check(self.mode in MODES, where, f"mode must be one of {list(MODES)}, got {self.mode!r}")
        for name in ("sigma_w", "sigma_t", "sigma_dmt"):
            value = getattr(self, name)
            check(value > 0, where, f"{name} must be > 0, got {value}")
        check(6 <= self.max_jets <= 16, where, f"max_jets must be in 6..16, got {self.max_jets}")
        check(self.min_btags >= 1, where, f"min_btags must be >= 1, got {self.min_btags}")
        check(
            self.chunk_elements >= 1,
            where,
            f"chunk_elements must be >= 1, got {self.chunk_elements}",
        )

    def describe(self, btag: bool) -> str:
        """One line naming the form and the b-tag rule, for tables and file metadata; ``btag``:
        whether b-tags are given to :func:`solve_chi2`."""
        if self.mode == "mt":
            form = "mt: (m_bqq - m_t)^2/sigma_t^2 per top + (m_qq - m_W)^2/sigma_W^2 per W"
        else:
            form = "dm: (m_bqq - m_b'q'q')^2/sigma_dmt^2 + (m_qq - m_W)^2/sigma_W^2 per W"
        if not btag:
            rule = "no b-tag information"
        else:
            rule = (
                f"b slots on b-tagged jets (btag > {self.btag_threshold:g}) in events with "
                f">= {self.min_btags} tags"
                + (", q slots on untagged jets" if self.q_untagged else "")
            )
        return f"chi2 form {form}; {rule}; the {self.max_jets} leading jets"


@functools.cache
def assignment_tables(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index tables of the distinct assignments of ``n`` jets.

    Returns:
        pairs: ``int[P, 2]``, the ``P = C(n, 2)`` jet pairs ``(q1 < q2)``.
        triplets: ``int[T, 2]``, ``(b, pair index)`` for the ``T = n·C(n−1, 2)`` triplets with
            ``b`` not in the pair.
        assignments: ``int[A, 2]``, the ``A`` unordered pairs ``(t1 < t2)`` of disjoint
            triplets, one per class of assignments equal up to q1 ↔ q2, q1′ ↔ q2′ and t ↔ t̄.
    """
    if n < 6:
        raise DataError(f"an assignment needs at least 6 jets, got {n}")
    pairs = np.array(list(itertools.combinations(range(n), 2)), dtype=np.int64)  # [P, 2]
    b = np.repeat(np.arange(n), len(pairs))
    p = np.tile(np.arange(len(pairs)), n)
    keep = (pairs[p, 0] != b) & (pairs[p, 1] != b)
    triplets = np.stack([b[keep], p[keep]], axis=1)  # [T, 2]
    bits = (
        (1 << triplets[:, 0]) | (1 << pairs[triplets[:, 1], 0]) | (1 << pairs[triplets[:, 1], 1])
    )  # [T]
    i, j = np.triu_indices(len(triplets), k=1)
    disjoint = (bits[i] & bits[j]) == 0
    assignments = np.stack([i[disjoint], j[disjoint]], axis=1).astype(np.int64)  # [A, 2]
    for arr in (pairs, triplets, assignments):
        arr.setflags(write=False)
    return pairs, triplets, assignments


def check_inputs(
    p4: np.ndarray, mask: np.ndarray, btag: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Jets ``p4: float[B, N, 4]``, ``mask: bool[B, N]``, optional ``btag: [B, N]`` checked
    (shapes, dtypes, finite real jets; a :class:`DataError` naming the fault) and as float64."""
    p4 = np.asarray(p4)
    mask = np.asarray(mask)
    if p4.ndim != 3 or p4.shape[2] != 4:
        raise DataError(f"p4 must have shape [B, N, 4] (px, py, pz, E), got {p4.shape}")
    if mask.shape != p4.shape[:2]:
        raise DataError(f"mask must have shape {p4.shape[:2]} like p4's [B, N], got {mask.shape}")
    if mask.dtype != np.bool_:
        raise DataError(f"mask must be bool (True = real jet), got dtype {mask.dtype}")
    p4 = p4.astype(np.float64)
    if not np.isfinite(p4[mask]).all():
        bad = np.argwhere(~np.isfinite(p4).all(axis=-1) & mask)[0]
        raise DataError(f"p4 of real jet {int(bad[1])} of event {int(bad[0])} is not finite")
    if btag is not None:
        btag = np.asarray(btag)
        if btag.shape != mask.shape:
            raise DataError(f"btag must have shape {mask.shape} like mask, got {btag.shape}")
        btag = btag.astype(np.float64)
    return p4, mask, btag


def leading_jets(
    p4: np.ndarray, mask: np.ndarray, max_jets: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``max_jets`` highest-pT real jets, in decreasing pT (stable: ties keep input order).

    Returns ``order: int64[B, K]`` (input indices), ``n_used: int[B]`` (real jets among them)
    and ``p4_sorted: float[B, K, 4]``.
    """
    pt = np.where(mask, np.hypot(p4[..., 0], p4[..., 1]), -np.inf)  # [B, N]
    order = np.argsort(-pt, axis=1, kind="stable")[:, :max_jets]  # [B, K]
    n_used = np.minimum(mask.sum(axis=1), max_jets)  # [B]
    return order, n_used, np.take_along_axis(p4, order[:, :, None], axis=1)


def _solve_group(
    p4: np.ndarray, tagged: np.ndarray | None, cfg: Chi2Config
) -> tuple[np.ndarray, np.ndarray]:
    """Best assignment of ``G`` events with exactly ``n`` jets each.

    ``p4: float64[G, n, 4]``, ``tagged: bool[G, n] | None`` → ``(int64[G, 6], float64[G])``
    with local jet indices.
    """
    from hepattn.physics.kinematics import invariant_mass

    g, n, _ = p4.shape
    pairs, triplets, assignments = assignment_tables(n)
    p_pair = p4[:, pairs[:, 0]] + p4[:, pairs[:, 1]]  # [G, P, 4]
    m_qq = invariant_mass(p_pair)  # [G, P]
    tb, tp = triplets[:, 0], triplets[:, 1]
    m_bqq = invariant_mass(p_pair[:, tp] + p4[:, tb])  # [G, T]
    cost = ((m_qq[:, tp] - cfg.m_w) / cfg.sigma_w) ** 2  # [G, T]
    if cfg.mode == "mt":
        cost += ((m_bqq - cfg.m_t) / cfg.sigma_t) ** 2
    if tagged is not None:
        n_tag = tagged.sum(axis=1)  # [G]
        restrict_b = n_tag >= cfg.min_btags  # [G]
        forbidden = restrict_b[:, None] & ~tagged[:, tb]  # [G, T]
        if cfg.q_untagged:
            restrict_q = restrict_b & (n - n_tag >= 4)
            q_tagged = tagged[:, pairs[tp, 0]] | tagged[:, pairs[tp, 1]]  # [G, T]
            forbidden |= restrict_q[:, None] & q_tagged
        cost = np.where(forbidden, np.inf, cost)

    a1, a2 = assignments[:, 0], assignments[:, 1]
    best = np.empty(g, dtype=np.int64)
    chi2 = np.empty(g, dtype=np.float64)
    step = max(1, cfg.chunk_elements // len(assignments))
    for s in range(0, g, step):
        c = cost[s : s + step]
        score = np.take(c, a1, axis=1) + np.take(c, a2, axis=1)  # [g', A]
        if cfg.mode == "dm":
            m = m_bqq[s : s + step]
            score += ((np.take(m, a1, axis=1) - np.take(m, a2, axis=1)) / cfg.sigma_dmt) ** 2
        idx = np.argmin(score, axis=1)
        best[s : s + step] = idx
        chi2[s : s + step] = np.take_along_axis(score, idx[:, None], axis=1)[:, 0]

    tri = triplets[assignments[best]]  # [G, 2, 2] (b, pair) per top
    quarks = pairs[tri[:, :, 1]]  # [G, 2, 2]
    heads = np.concatenate([quarks, tri[:, :, :1]], axis=2)  # [G, 2, 3] (q1, q2, b) per top
    return heads[:, :, _FROM_HEAD].reshape(g, TOPOLOGY.n_partons), chi2  # [G, 6] parton order


def solve_chi2(
    p4: np.ndarray,
    mask: np.ndarray,
    btag: np.ndarray | None = None,
    config: Chi2Config | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """χ²-minimising assignment of jets to ``(b, q1, q2, b′, q1′, q2′)`` for each event.

    Args:
        p4: ``float[B, N, 4]`` jet four-momenta ``(px, py, pz, E)`` in GeV.
        mask: ``bool[B, N]``, True for real jets (padding may sit anywhere).
        btag: optional ``bool/float[B, N]``; tagged when ``> config.btag_threshold``.
        config: masses, resolutions and options; default :class:`Chi2Config()`.

    Returns:
        ``(assignment int64[B, 6], chi2 float64[B])``. Indices refer to the input's jet order;
        events with fewer than 6 real jets get all −1 and ``chi2 = inf``. Within a top,
        ``q1`` is the higher-pT light jet; which top comes first is arbitrary.
    """
    cfg = config if config is not None else Chi2Config()
    p4, mask, btag = check_inputs(p4, mask, btag)
    n_ev, n_slots, _ = p4.shape
    assignment = np.full((n_ev, TOPOLOGY.n_partons), -1, dtype=np.int64)
    chi2 = np.full(n_ev, np.inf, dtype=np.float64)
    if n_ev == 0 or n_slots < 6:
        return assignment, chi2

    order, n_used, p4_sorted = leading_jets(p4, mask, cfg.max_jets)
    tagged = None
    if btag is not None:
        tagged = np.take_along_axis(btag, order, axis=1) > cfg.btag_threshold  # [B, K]

    for n in range(6, min(cfg.max_jets, n_slots) + 1):
        ev = np.flatnonzero(n_used == n)
        if len(ev) == 0:
            continue
        log.debug("chi2: %d events with %d jets", len(ev), n)
        local, c = _solve_group(p4_sorted[ev, :n], None if tagged is None else tagged[ev, :n], cfg)
        assignment[ev] = np.take_along_axis(order[ev], local, axis=1)
        chi2[ev] = c
    return assignment, chi2


def measure_resolutions(p4: np.ndarray, mask: np.ndarray, truth: np.ndarray) -> dict:
    """Robust mass resolutions from truth-matched jets.

    For every reconstructable top (three distinct matched jets, see
    :func:`hepattn.metrics.matching.reconstructable`) the masses ``m_qq`` and ``m_bqq`` of its
    true jets are computed, and for every event with both tops reconstructable
    ``Δm = m_bqq − m_b′q′q′``. Each width is half the 16–84 % inter-quantile range,
    ``σ = (q84 − q16)/2`` (the Gaussian σ for a Gaussian, insensitive to the tails of
    mis-measured or FSR-affected jets).

    Args:
        p4: ``float[B, N, 4]`` jet four-momenta; mask: ``bool[B, N]``.
        truth: ``int[B, 6]`` truth jet indices (−1 for unmatched partons).

    Returns:
        ``{"sigma_w", "sigma_t", "sigma_dmt", "median_w", "median_t", "median_dmt": float,
        "n_tops", "n_events_both": int}`` (widths NaN without entries).
    """
    from hepattn.metrics.matching import reconstructable
    from hepattn.physics.kinematics import invariant_mass

    p4, mask, _ = check_inputs(p4, mask, None)
    t = np.asarray(truth)
    n = TOPOLOGY.n_partons
    if t.shape != (p4.shape[0], n):
        raise DataError(f"truth must have shape [{p4.shape[0]}, {n}], got {t.shape}")
    t = t.astype(np.int64)
    if t.size and (t.min() < -1 or t.max() >= p4.shape[1]):
        raise DataError(
            f"truth indices must be in -1..{p4.shape[1] - 1}, got [{int(t.min())}, {int(t.max())}]"
        )
    safe = np.maximum(t, 0)
    real = np.take_along_axis(mask, safe, axis=1) | (t < 0)
    if not real.all():
        e = int(np.argwhere(~real)[0, 0])
        raise DataError(f"truth of event {e} points at a padded jet slot")
    rec = reconstructable(t)  # [B, 2]
    jets = np.take_along_axis(p4, safe[:, :, None], axis=1).reshape(-1, 2, 3, 4)  # [B, 2, 3, 4]
    m_qq = invariant_mass(jets[:, :, 1] + jets[:, :, 2])  # [B, 2]
    m_bqq = invariant_mass(jets.sum(axis=2))  # [B, 2]
    both = rec.all(axis=1)
    dm = m_bqq[both, 0] - m_bqq[both, 1]

    def width(x: np.ndarray) -> tuple[float, float]:
        if len(x) == 0:
            return float("nan"), float("nan")
        q16, q50, q84 = np.quantile(x, [0.16, 0.5, 0.84])
        return float((q84 - q16) / 2), float(q50)

    sw, mw = width(m_qq[rec])
    st, mt = width(m_bqq[rec])
    sd, md = width(dm)
    return {
        "sigma_w": sw,
        "sigma_t": st,
        "sigma_dmt": sd,
        "median_w": mw,
        "median_t": mt,
        "median_dmt": md,
        "n_tops": int(rec.sum()),
        "n_events_both": int(both.sum()),
    }


def measure_on_file(path: str, schema: str = "hepattn-ttbar", max_jets: int = 16) -> dict:
    """:func:`measure_resolutions` on a ROOT file read with ``schema`` (jets padded to 16)."""
    from hepattn.data import PadSpec, read_events
    from hepattn.metrics.matching import truth_from_parton_labels

    ev = read_events(path, schema, {"jets": PadSpec(("pt", "eta", "phi", "mass"), max_jets)})
    jets = ev["jets"]
    truth = truth_from_parton_labels(jets.labels["parton"])
    return measure_resolutions(jets.p4, jets.mask, truth)


def chi2_setup(ev, collection: str = "jets", config=None, btag_wp: float | None = None):
    """``(config, b-tag values or None, rule in words)`` of the χ² on ``ev``'s jets: the
    b-tag the jets carry and its working point (:func:`hepattn.baselines.btag.btag_rule`)
    laid into ``config`` (default :class:`Chi2Config()`)."""
    import dataclasses

    from hepattn.baselines.btag import btag_rule

    rule = btag_rule(ev, collection, btag_wp)
    cfg = dataclasses.replace(config or Chi2Config(), btag_threshold=rule.threshold)
    words = cfg.describe(rule.values is not None)
    if rule.values is not None:
        words += f" ({rule.describe()})"
    return cfg, rule.values, words


def chi2_slots(
    ev,
    collection: str = "jets",
    config=None,
    progress: bool = False,
    btag_wp: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The χ² on the padded jets of ``ev`` (read events): ``(slots int64[B, 6], chi2
    float[B])``, in blocks of events with a progress bar.

    Uses the jets' b-tag (decision, or score at ``btag_wp``; :func:`chi2_setup`); ``config``
    defaults to :class:`Chi2Config()` (the ``mt`` form, as ``hepattn compare``).
    """
    from hepattn.progress import bar

    cfg, btag, _ = chi2_setup(ev, collection, config, btag_wp)
    jets = ev[collection]
    p4 = jets.p4.astype(np.float64)
    slots, chi2 = [], []
    block = 8192
    with bar(progress, len(ev), "chi2", "events") as b:
        for s in range(0, max(len(ev), 1), block):
            sl = slice(s, s + block)
            out = solve_chi2(p4[sl], jets.mask[sl], None if btag is None else btag[sl], cfg)
            slots.append(out[0])
            chi2.append(out[1])
            b.update(len(out[1]))
    return np.concatenate(slots), np.concatenate(chi2)
