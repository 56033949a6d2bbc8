"""Jet–parton matching efficiencies for all-hadronic tt̄ (REFERENCE §4).

An *assignment* (prediction or truth) is ``int[B, 6]``: six jet indices in the parton order
of :data:`hepattn.topology.TTBAR_ALLHAD`, ``(b, q1, q2, b′, q1′, q2′)``, −1 where there is
none. Triplet 0 is ``(b, q1, q2)``, triplet 1 is ``(b′, q1′, q2′)``.

Definitions:

- a true top ``k`` is *reconstructable* when its three indices are all ≥ 0 and distinct;
- a predicted triplet ``(b̂, q̂1, q̂2)`` reconstructs a true top ``(b, q1, q2)`` when
  ``b̂ = b`` and ``{q̂1, q̂2} = {q1, q2}`` (light-quark symmetry), and the top is reconstructable;
- the two predicted triplets are compared with the two true tops in either order (top
  symmetry); the order giving more correct tops is kept (ties: the direct order).

Efficiencies, per jet multiplicity row (``"6"``, ``"7"``, ``">=8"``, ``"inclusive"`` = all
events with ≥ 6 jets; events with < 6 jets count in no row):

- ``ε_event = #(both tops correct) / #(both tops reconstructable)``;
- ``ε_2^top = #(correct tops) / (2 · #(both tops reconstructable))``, over the same events;
- ``ε_1^top = #(the reconstructable top correct) / #(exactly one top reconstructable)``.

Each comes with the binomial uncertainty ``σ_ε = sqrt(ε (1 − ε) / n)``, ``n`` its denominator
(for ``ε_2^top`` the number of tops, ``2 n_events``, treating tops as independent).

With per-event weights ``w`` (e.g. ``genWeight``; negative ones with their sign) every count
becomes a sum of weights, ``ε = Σ w c / Σ w`` over the same events (a top carries its event's
weight), with ``σ_ε = sqrt(Σ w² (c − ε)²) / Σ w`` (the binomial error when all ``w = 1``); a
cell whose weights sum to ≤ 0 has no efficiency (NaN). The counts ``n`` stay event counts.
"""

from __future__ import annotations

import math

import numpy as np

from hepattn.errors import DataError
from hepattn.topology import TTBAR_ALLHAD

TOPOLOGY = TTBAR_ALLHAD

__all__ = [
    "DEFINITIONS",
    "as_weights",
    "ROWS",
    "efficiency_table",
    "format_table",
    "reconstructable",
    "top_correct",
    "truth_from_parton_labels",
]

#: Row names of :func:`efficiency_table`, in display order.
ROWS: tuple[str, ...] = ("6", "7", ">=8", "inclusive")

#: What the columns of :func:`format_table` mean, for printing under a table.
DEFINITIONS = (
    "ε_event: events with both tops correct / events with both tops reconstructable "
    "(all three partons matched to distinct jets); ε_2^top: correct tops / tops, over the "
    "same events; ε_1^top: the reconstructable top correct / events with exactly one "
    "reconstructable top. A top is correct when its b and its unordered light-quark pair are "
    "the true jets (either top order). n (2 tops), n (1 top): events in each cell's "
    "denominator. Rows: jets per event; events with fewer than 6 jets count in no row. "
    "Uncertainties: binomial."
)


def _as_assignment(a: np.ndarray, name: str) -> np.ndarray:
    """Validate an assignment ``int[B, 6]`` (indices ≥ −1) and return it as int64."""
    arr = np.asarray(a)
    if arr.ndim != 2 or arr.shape[1] != TOPOLOGY.n_partons:
        raise DataError(
            f"{name} must have shape [B, {TOPOLOGY.n_partons}] ({TOPOLOGY.order_string}), "
            f"got {arr.shape}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise DataError(f"{name} must hold integer jet indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < -1:
        raise DataError(
            f"{name} holds index {int(arr.min())}; jet indices are >= 0, or -1 for none"
        )
    return arr


def truth_from_parton_labels(parton: np.ndarray) -> np.ndarray:
    """Truth assignment ``int[B, 6]`` from per-jet parton labels ``int[B, N]``.

    ``parton[e, j]`` is the parton jet ``j`` is matched to (0..5 = b, q1, q2, b′, q1′, q2′) or
    −1 (none, or a padded slot). The result holds, for each parton, the index of its jet, −1
    when no jet carries that label; a label carried by several jets (ambiguous) also gives −1.
    """
    lab = np.asarray(parton)
    if lab.ndim != 2:
        raise DataError(f"parton labels must have shape [B, N], got {lab.shape}")
    lab = lab.astype(np.int64)
    n = TOPOLOGY.n_partons
    if lab.size and (lab.min() < -1 or lab.max() >= n):
        raise DataError(
            f"parton labels must be in -1..{n - 1}, got values in "
            f"[{int(lab.min())}, {int(lab.max())}]"
        )
    onehot = lab[:, :, None] == np.arange(n)[None, None, :]  # [B, N, 6]
    count = onehot.sum(axis=1)  # [B, 6]
    first = np.argmax(onehot, axis=1)  # [B, 6]
    return np.where(count == 1, first, -1).astype(np.int64)


def _resonance(a: np.ndarray, r: int) -> np.ndarray:
    """Resonance ``r``'s slots of an assignment, in head order (exchangeable daughters first):
    ``int[B, 3]`` (q1, q2, b) for a top."""
    return a[:, list(TOPOLOGY.head_index[r])]


def reconstructable(truth: np.ndarray) -> np.ndarray:
    """``bool[B, 2]``: top k's three truth indices are all ≥ 0 and distinct."""
    t = _as_assignment(truth, "truth")
    out = []
    for r in range(len(TOPOLOGY.resonances)):
        s = _resonance(t, r)  # [B, 3]
        i, j = np.triu_indices(s.shape[1], k=1)
        out.append((s >= 0).all(axis=1) & (s[:, i] != s[:, j]).all(axis=1))
    return np.stack(out, axis=1)


def _triplet_match(pred: np.ndarray, true: np.ndarray, r: int) -> np.ndarray:
    """``bool[B]``: the same jets as resonance ``r``'s, its exchangeable daughters (a top's
    light quarks) in any order; inputs ``int[B, 3]`` in head order."""
    k = len(TOPOLOGY.resonances[r].symmetric)
    same_rest = (pred[:, k:] == true[:, k:]).all(axis=1)
    return same_rest & (np.sort(pred[:, :k], axis=1) == np.sort(true[:, :k], axis=1)).all(axis=1)


def top_correct(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``bool[B, 2]``: whether each *true* top is correctly reconstructed, best top order.

    With predicted triplets ``P0, P1`` and true tops ``T0, T1`` (both ``int[B, 3]``):
    direct order ``c_d = (P0 ≅ T0, P1 ≅ T1)``, swapped order ``c_s = (P1 ≅ T0, P0 ≅ T1)``
    (the top orders of :attr:`hepattn.topology.Topology.permutations`), where ``≅`` is
    :func:`_triplet_match` and a non-reconstructable top is never correct. The order with
    more correct tops is returned (ties: direct).
    """
    p = _as_assignment(pred, "pred")
    t = _as_assignment(truth, "truth")
    if p.shape != t.shape:
        raise DataError(f"pred and truth must have the same shape, got {p.shape} and {t.shape}")
    rec = reconstructable(t)  # [B, 2]
    n_res = len(TOPOLOGY.resonances)
    options = np.stack(
        [
            np.stack(
                [_triplet_match(_resonance(p, perm[r]), _resonance(t, r), r) for r in range(n_res)],
                axis=1,
            )
            & rec
            for perm in TOPOLOGY.permutations
        ]
    )  # [perms, B, 2]
    best = np.argmax(options.sum(axis=2), axis=0)  # [B]; the first (direct) on ties
    return options[best, np.arange(len(best))]


def as_n_jets(n_jets: np.ndarray, n_events: int) -> np.ndarray:
    """``n_jets`` checked (one integer per event) as int64."""
    nj = np.asarray(n_jets)
    if nj.shape != (n_events,):
        raise DataError(f"n_jets must have shape [{n_events}] (one per event), got {nj.shape}")
    if nj.size and not np.issubdtype(nj.dtype, np.integer):
        raise DataError(f"n_jets must be integers, got dtype {nj.dtype}")
    return nj.astype(np.int64)


def as_weights(weights, n_events: int) -> np.ndarray | None:
    """Per-event weights checked (one finite number per event) as float64; None stays None."""
    if weights is None:
        return None
    w = np.asarray(weights)
    if w.shape != (n_events,):
        raise DataError(f"weights must have shape [{n_events}] (one per event), got {w.shape}")
    if w.size and not (np.issubdtype(w.dtype, np.number) and np.isfinite(w).all()):
        raise DataError("weights must be finite numbers, one per event")
    return w.astype(np.float64)


def _eff(k: int, n: int) -> tuple[float, float]:
    """Fraction ``k / n`` and its binomial error ``sqrt(ε(1 − ε)/n)``; NaN when ``n = 0``."""
    if n == 0:
        return float("nan"), float("nan")
    e = k / n
    return e, math.sqrt(e * (1.0 - e) / n)


def _frac(correct: np.ndarray, w: np.ndarray | None) -> tuple[float, float]:
    """Efficiency of ``correct`` (bool ``[n, …]``, one row per event) and its error: binomial
    unweighted, ``Σ w c / Σ w`` ± ``sqrt(Σ w² (c − ε)²) / Σ w`` with the events' weights
    ``w[n]`` (module docstring); NaN for no events or a weight sum ≤ 0."""
    if w is None or correct.size == 0:
        return _eff(int(correct.sum()), int(correct.size))
    c = correct.reshape(len(correct), -1).astype(np.float64)
    ww = np.broadcast_to(w[:, None], c.shape)
    total = float(ww.sum())
    if total <= 0:
        return float("nan"), float("nan")
    e = float((ww * c).sum()) / total
    return e, math.sqrt(float((ww**2 * (c - e) ** 2).sum())) / total


def efficiency_table(
    pred: np.ndarray, truth: np.ndarray, n_jets: np.ndarray, weights: np.ndarray | None = None
) -> dict:
    """Matching efficiencies by jet multiplicity.

    Args:
        pred: ``int[B, 6]`` predicted assignment, −1 where none.
        truth: ``int[B, 6]`` true assignment, −1 where the parton has no jet.
        n_jets: ``int[B]`` number of jets of each event; every index must be ``< n_jets``.
        weights: ``float[B]`` per-event weights (module docstring); None: unweighted.

    Returns:
        ``{row: {"event", "event_err", "top2", "top2_err", "top1", "top1_err": float,
        "n_events", "n_events_1top": int}}`` for rows ``"6"``, ``"7"``, ``">=8"``,
        ``"inclusive"`` (≥ 6 jets). ``n_events`` is the number of events with both tops
        reconstructable (denominator of ε_event; ε_2^top has ``2 n_events`` tops),
        ``n_events_1top`` those with exactly one (denominator of ε_1^top). Efficiencies are
        fractions, NaN for an empty cell.
    """
    p = _as_assignment(pred, "pred")
    t = _as_assignment(truth, "truth")
    nj = as_n_jets(n_jets, p.shape[0])
    w = as_weights(weights, p.shape[0])
    for name, arr in (("pred", p), ("truth", t)):
        bad = arr >= nj[:, None]
        if bad.any():
            e = int(np.argwhere(bad)[0, 0])
            raise DataError(
                f"{name} of event {e} holds jet index {int(arr[e].max())} but the event has "
                f"{int(nj[e])} jets"
            )
    correct = top_correct(p, t)  # [B, 2]
    rec = reconstructable(t)  # [B, 2]
    both = rec.all(axis=1)
    one = rec.sum(axis=1) == 1
    selections = {
        "6": nj == 6,
        "7": nj == 7,
        ">=8": nj >= 8,
        "inclusive": nj >= 6,
    }
    table: dict[str, dict] = {}
    for row, sel in selections.items():
        sb, so = sel & both, sel & one
        n2, n1 = int(sb.sum()), int(so.sum())
        wb, wo = (None, None) if w is None else (w[sb], w[so])
        ev, ev_err = _frac(correct[sb].all(axis=1), wb)
        t2, t2_err = _frac(correct[sb], wb)
        t1, t1_err = _frac(correct[so].any(axis=1), wo)
        table[row] = {
            "event": ev,
            "event_err": ev_err,
            "top2": t2,
            "top2_err": t2_err,
            "top1": t1,
            "top1_err": t1_err,
            "n_events": n2,
            "n_events_1top": n1,
        }
    return table


def _cell(value: float, err: float) -> str:
    if math.isnan(value):
        return "—"
    return f"{100 * value:.1f} ± {100 * err:.1f} %"


def format_table(tables: dict[str, dict], title: str = "") -> str:
    """Markdown table of several methods side by side, in the shape of REFERENCE §4.

    ``tables`` maps a method name to its :func:`efficiency_table` result. Rows are the jet
    multiplicities; for each method the columns are ε_event, ε_2^top and ε_1^top in percent
    with their binomial uncertainties. The event counts (both tops / one top reconstructable)
    are shown once when every method has the same counts, otherwise once per method.
    """
    if not tables:
        raise DataError("format_table needs at least one method's table")
    for method, tab in tables.items():
        missing = [r for r in ROWS if r not in tab]
        if missing:
            raise DataError(f"table of {method!r} lacks rows {missing}; expected {list(ROWS)}")
    methods = list(tables)
    same_counts = all(
        (tables[m][r]["n_events"], tables[m][r]["n_events_1top"])
        == (tables[methods[0]][r]["n_events"], tables[methods[0]][r]["n_events_1top"])
        for m in methods
        for r in ROWS
    )
    header = ["N_jets"]
    if same_counts:
        header += ["n (2 tops)", "n (1 top)"]
    for m in methods:
        header += [f"{m} ε_event", f"{m} ε_2^top", f"{m} ε_1^top"]
        if not same_counts:
            header += [f"{m} n (2 tops)", f"{m} n (1 top)"]
    lines = []
    if title:
        lines += [title, ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in ROWS:
        first = tables[methods[0]][r]
        cells = [r if r != ">=8" else "≥ 8"]
        if same_counts:
            cells += [str(first["n_events"]), str(first["n_events_1top"])]
        for m in methods:
            c = tables[m][r]
            cells += [
                _cell(c["event"], c["event_err"]),
                _cell(c["top2"], c["top2_err"]),
                _cell(c["top1"], c["top1_err"]),
            ]
            if not same_counts:
                cells += [str(c["n_events"]), str(c["n_events_1top"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
