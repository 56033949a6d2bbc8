"""Jet–parton matching efficiencies for any declared topology (REFERENCE §4, §6).

An *assignment* (prediction or truth) is ``int[B, P]``: one jet index per parton in the
topology's parton order (:attr:`~hepattn.topology.Topology.partons`; ``(b, q1, q2, b′, q1′,
q2′)`` for all-hadronic tt̄), −1 where there is none. Only daughters drawn from the
:data:`~hepattn.topology.JETS` collection count: the columns of a lepton or MET daughter are
ignored, whatever they hold (they are not even validated).

Definitions:

- a true resonance ``t`` is *reconstructable* when its jet daughters' indices are all ≥ 0
  and distinct;
- a predicted resonance reconstructs a true resonance ``t`` when it has the same jets, its
  exchangeable daughters (a W's ``q1 ↔ q2``, a Higgs' ``b ↔ b̄``) compared as a set and the
  others position by position, and ``t`` is reconstructable;
- the predicted resonances are compared with the true ones under each resonance order of
  :attr:`~hepattn.topology.Topology.permutations` (``perm[t]`` is the predicted resonance
  compared with true resonance ``t``: t ↔ t̄, H1 ↔ H2); the order giving the most correct
  resonances is kept (ties: the first, the identity).

Efficiencies, per jet multiplicity row (:func:`jet_rows`: with ``n`` the topology's number
of jet daughters, ``"n"``, ``"n+1"``, ``">=n+2"`` and ``"inclusive"`` = all events with ≥ n
jets — ``6, 7, >=8`` for tt̄; events with fewer jets count in no row):

- ``event = #(all resonances correct) / #(all resonances reconstructable)`` (ε_event);
- ``full = #(correct resonances) / (R · #(all reconstructable))`` over the same events
  (SPA-Net's ε_2^top);
- ``single = #(the reconstructable resonance correct) / #(exactly one reconstructable)``
  (ε_1^top);
- ``ε_R = #(resonance R correct) / #(R reconstructable)``, for each resonance ``R``.

Which of them a table shows, and the extra keys older outputs used for them (``top2``,
``top1`` of the all-hadronic tables), the topology declares (:class:`~hepattn.topology.Report`).

Each comes with the binomial uncertainty ``σ_ε = sqrt(ε (1 − ε) / n)``, ``n`` its denominator
(for ``full`` the number of resonances, treating them as independent). With per-event
weights ``w`` (e.g. ``genWeight``; negative ones with their sign) every count becomes a sum
of weights, ``ε = Σ w c / Σ w`` over the same events (a resonance carries its event's
weight), with ``σ_ε = sqrt(Σ w² (c − ε)²) / Σ w`` (the binomial error when all ``w = 1``); a
cell whose weights sum to ≤ 0 has no efficiency (NaN). The counts ``n`` stay event counts.
"""

from __future__ import annotations

import math

import numpy as np

from hepattn.errors import DataError
from hepattn.topology import JETS, REPORT_METRICS, TTBAR_ALLHAD, Topology

__all__ = [
    "as_n_jets",
    "as_weights",
    "best_pairing",
    "definitions",
    "efficiency_table",
    "format_cell",
    "format_table",
    "jet_rows",
    "reconstructable",
    "resonance_correct",
    "truth_from_parton_labels",
    "weighted_fraction",
]


def _jet_columns(topology: Topology) -> list[int]:
    """Parton-order columns of the jet daughters, all resonances."""
    return sorted(topology.partons_from(JETS))


def _as_assignment(a: np.ndarray, name: str, topology: Topology) -> np.ndarray:
    """Validate an assignment ``int[B, P]`` (jet indices ≥ −1 in the jet columns; the other
    columns are not looked at) and return it as int64, other columns set to −1."""
    arr = np.asarray(a)
    if arr.ndim != 2 or arr.shape[1] != topology.n_partons:
        raise DataError(
            f"{name} must have shape [B, {topology.n_partons}] ({topology.name}: "
            f"{topology.order_string}), got {arr.shape}"
        )
    cols = _jet_columns(topology)
    jets = arr[:, cols]
    if jets.size and not np.issubdtype(jets.dtype, np.integer):
        if not np.issubdtype(jets.dtype, np.number) or (
            not np.all(np.isfinite(jets)) or np.any(jets != np.round(jets))
        ):
            raise DataError(f"{name} must hold integer jet indices, got dtype {arr.dtype}")
    out = np.full(arr.shape, -1, dtype=np.int64)
    out[:, cols] = jets.astype(np.int64)
    if jets.size and out.min() < -1:
        raise DataError(
            f"{name} holds jet index {int(out.min())}; jet indices are >= 0, or -1 for none"
        )
    return out


def _pair(pred: np.ndarray, truth: np.ndarray, topology: Topology) -> tuple:
    p = _as_assignment(pred, "pred", topology)
    t = _as_assignment(truth, "truth", topology)
    if p.shape != t.shape:
        raise DataError(f"pred and truth must have the same shape, got {p.shape} and {t.shape}")
    return p, t


def truth_from_parton_labels(parton: np.ndarray, topology: Topology = TTBAR_ALLHAD) -> np.ndarray:
    """Truth assignment ``int[B, P]`` from per-jet parton labels ``int[B, N]``.

    ``parton[e, j]`` is the index (parton order of ``topology``) of the parton jet ``j`` is
    matched to, or −1 (none, or a padded slot). The result holds, for each jet daughter, the
    index of its jet, −1 when no jet carries that label; a label carried by several jets
    (ambiguous) also gives −1. Daughters from other collections (a lepton, the MET) get 0,
    their collection's one object.
    """
    lab = np.asarray(parton)
    if lab.ndim != 2:
        raise DataError(f"parton labels must have shape [B, N], got {lab.shape}")
    lab = lab.astype(np.int64)
    n = topology.n_partons
    if lab.size and (lab.min() < -1 or lab.max() >= n):
        raise DataError(
            f"parton labels must be in -1..{n - 1} ({topology.order_string}), got values in "
            f"[{int(lab.min())}, {int(lab.max())}]"
        )
    onehot = lab[:, :, None] == np.arange(n)[None, None, :]  # (B, N, P)
    count = onehot.sum(axis=1)  # (B, P)
    first = np.argmax(onehot, axis=1)  # (B, P)
    truth = np.where(count == 1, first, -1).astype(np.int64)
    jets = set(topology.partons_from(JETS))
    truth[:, [p for p in range(n) if p not in jets]] = 0
    return truth


def _reconstructable(t: np.ndarray, topology: Topology) -> np.ndarray:
    out = []
    for cols in topology.jet_head_index:
        s = t[:, list(cols)]
        i, j = np.triu_indices(s.shape[1], k=1)
        out.append((s >= 0).all(axis=1) & (s[:, i] != s[:, j]).all(axis=1))
    return np.stack(out, axis=1) if out else np.zeros((len(t), 0), dtype=bool)


def reconstructable(truth: np.ndarray, topology: Topology = TTBAR_ALLHAD) -> np.ndarray:
    """``bool[B, R]``: resonance r's jet daughters all have a jet (≥ 0), all distinct."""
    return _reconstructable(_as_assignment(truth, "truth", topology), topology)


def _match(p: np.ndarray, t: np.ndarray, pr: int, tr: int, topology: Topology) -> np.ndarray:
    """``bool[B]``: predicted resonance ``pr`` has true resonance ``tr``'s jets, exchangeable
    daughters (first in head order) as a set."""
    pred = p[:, list(topology.jet_head_index[pr])]
    true = t[:, list(topology.jet_head_index[tr])]
    k = len(topology.resonances[tr].symmetric)
    same_rest = (pred[:, k:] == true[:, k:]).all(axis=1)
    return same_rest & (np.sort(pred[:, :k], axis=1) == np.sort(true[:, :k], axis=1)).all(axis=1)


def _options(p: np.ndarray, t: np.ndarray, topology: Topology) -> tuple[np.ndarray, np.ndarray]:
    rec = _reconstructable(t, topology)
    n_res = len(topology.resonances)
    options = np.stack(
        [
            np.stack([_match(p, t, perm[r], r, topology) for r in range(n_res)], axis=1) & rec
            for perm in topology.permutations
        ]
    )  # (perms, B, R)
    best = np.argmax(options.sum(axis=2), axis=0)  # (B,); the first (identity) on ties
    return best, options


def _correct(p: np.ndarray, t: np.ndarray, topology: Topology) -> np.ndarray:
    best, options = _options(p, t, topology)
    return options[best, np.arange(len(best))]


def best_pairing(
    pred: np.ndarray, truth: np.ndarray, topology: Topology = TTBAR_ALLHAD
) -> tuple[np.ndarray, np.ndarray]:
    """``(best int[B], options bool[perms, B, R])``: per event the index of the resonance
    permutation (:attr:`~hepattn.topology.Topology.permutations`, predicted ``perm[r]`` ↔
    true ``r``) with the most correct resonances (ties: the identity), and for every
    permutation whether each true resonance is correctly reconstructed under it."""
    return _options(*_pair(pred, truth, topology), topology)


def resonance_correct(
    pred: np.ndarray, truth: np.ndarray, topology: Topology = TTBAR_ALLHAD
) -> np.ndarray:
    """``bool[B, R]``: whether each *true* resonance is correctly reconstructed, in the
    resonance order (of :attr:`~hepattn.topology.Topology.permutations`) with the most correct
    resonances (ties: the identity). A non-reconstructable resonance is never correct."""
    return _correct(*_pair(pred, truth, topology), topology)


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


def _binomial(k: int, n: int) -> tuple[float, float]:
    """Fraction ``k / n`` and its binomial error ``sqrt(ε(1 − ε)/n)``; NaN when ``n = 0``."""
    if n == 0:
        return float("nan"), float("nan")
    e = k / n
    return e, math.sqrt(e * (1.0 - e) / n)


def weighted_fraction(correct: np.ndarray, w: np.ndarray | None) -> tuple[float, float]:
    """Efficiency of ``correct`` (bool ``[n, …]``, one row per event) and its error: binomial
    unweighted, ``Σ w c / Σ w`` ± ``sqrt(Σ w² (c − ε)²) / Σ w`` with the events' weights
    ``w[n]`` (module docstring); NaN for no events or a weight sum ≤ 0."""
    if w is None or correct.size == 0:
        return _binomial(int(correct.sum()), int(correct.size))
    c = correct.reshape(len(correct), -1).astype(np.float64)
    ww = np.broadcast_to(w[:, None], c.shape)
    total = float(ww.sum())
    if total <= 0:
        return float("nan"), float("nan")
    e = float((ww * c).sum()) / total
    return e, math.sqrt(float((ww**2 * (c - e) ** 2).sum())) / total


def jet_rows(topology: Topology = TTBAR_ALLHAD) -> tuple[str, ...]:
    """Row names of :func:`efficiency_table`, in display order: ``("n", "n+1", ">=n+2",
    "inclusive")`` with ``n`` the topology's number of jet daughters (``6, 7, >=8``)."""
    n = topology.n_jet_daughters
    return (str(n), str(n + 1), f">={n + 2}", "inclusive")


def _count_key(column: str) -> str:
    """The key of the events in the denominator of ``column``'s efficiency."""
    return {"event": "n_events", "full": "n_events", "single": "n_single"}.get(
        column, f"n_{column}"
    )


def efficiency_table(
    pred: np.ndarray,
    truth: np.ndarray,
    n_jets: np.ndarray,
    topology: Topology = TTBAR_ALLHAD,
    weights: np.ndarray | None = None,
) -> dict:
    """Matching efficiencies by jet multiplicity for ``topology`` (module docstring).

    Args:
        pred: ``int[B, P]`` predicted assignment in parton order, −1 where none.
        truth: ``int[B, P]`` true assignment, −1 where the parton has no jet.
        n_jets: ``int[B]`` number of jets of each event; every jet index must be ``< n_jets``.
        topology: the declared topology (default all-hadronic tt̄).
        weights: ``float[B]`` per-event weights (module docstring); None: unweighted.
            (Earlier versions took them in the place of ``topology``: an array there is
            read as the weights of an all-hadronic table.)

    Returns:
        ``{row: {"event", "event_err", "full", "full_err", "single", "single_err": float,
        "n_events", "n_single": int, and per resonance R: "R", "R_err": float, "n_R": int,
        plus the topology's report aliases}}`` for the rows of :func:`jet_rows`.
        ``n_events`` counts the events with all resonances reconstructable, ``n_single``
        those with exactly one, ``n_R`` those with R reconstructable (the denominators).
        Efficiencies are fractions, NaN when empty.
    """
    if not isinstance(topology, Topology):  # the all-hadronic call of earlier versions:
        topology, weights = TTBAR_ALLHAD, topology if weights is None else weights  # (…, w)
    p, t = _pair(pred, truth, topology)
    names = [r.name for r in topology.resonances]
    clash = {*REPORT_METRICS, "events"} & set(names)
    if clash:
        raise DataError(f"resonance names {sorted(clash)} clash with the table's event columns")
    nj = as_n_jets(n_jets, p.shape[0])
    w = as_weights(weights, p.shape[0])
    for name, arr in (("pred", p), ("truth", t)):
        bad = arr >= nj[:, None]
        if bad.any():
            e, c = (int(x) for x in np.argwhere(bad)[0])
            raise DataError(
                f"{name} of event {e} holds jet index {int(arr[e, c])} for "
                f"{topology.partons[c]} but the event has {int(nj[e])} jets"
            )
    correct = _correct(p, t, topology)  # (B, R)
    rec = _reconstructable(t, topology)  # (B, R)
    every, one = rec.all(axis=1), rec.sum(axis=1) == 1
    n = topology.n_jet_daughters
    rows = jet_rows(topology)
    selections = dict(zip(rows, (nj == n, nj == n + 1, nj >= n + 2, nj >= n), strict=True))

    def frac(c: np.ndarray, sel: np.ndarray) -> tuple[float, float]:
        return weighted_fraction(c, None if w is None else w[sel])

    table: dict[str, dict] = {}
    for row, sel in selections.items():
        se, so = sel & every, sel & one
        cell: dict = {}
        cell["event"], cell["event_err"] = frac(correct[se].all(axis=1), se)
        cell["full"], cell["full_err"] = frac(correct[se], se)
        cell["single"], cell["single_err"] = frac(correct[so].any(axis=1), so)
        cell["n_events"], cell["n_single"] = int(se.sum()), int(so.sum())
        for r, name in enumerate(names):
            sr = sel & rec[:, r]
            cell[name], cell[f"{name}_err"] = frac(correct[sr, r], sr)
            cell[f"n_{name}"] = int(sr.sum())
        for key, alias in topology.report.aliases:
            cell[alias] = cell[key]
            if f"{key}_err" in cell:
                cell[f"{alias}_err"] = cell[f"{key}_err"]
        table[row] = cell
    return table


def _label(topology: Topology, column: str) -> str:
    return dict(topology.report.labels).get(column, f"ε_{column}")


def definitions(topology: Topology = TTBAR_ALLHAD) -> str:
    """What the columns of :func:`format_table` mean, for printing under it."""
    names = [r.name for r in topology.resonances]
    sym = [f"{' ↔ '.join(r.symmetric)} of {r.name}" for r in topology.resonances if r.symmetric]
    ignored = [
        f"{r.name}'s {d}"
        for r in topology.resonances
        for i, d in enumerate(r.daughters)
        if i not in r.jet_daughters
    ]
    groups = [" ↔ ".join(names[i] for i in g) for g in topology.groups]
    meaning = {
        "event": f"events with all resonances ({', '.join(names)}) correct / events with all "
        "reconstructable (every jet daughter matched to a distinct jet)",
        "full": "correct resonances / resonances, over the same events",
        "single": "the reconstructable resonance correct / events with exactly one "
        "reconstructable resonance",
    }
    parts = []
    for c in topology.report_columns:
        what = meaning.get(c, f"resonance {c} correct / events with {c} reconstructable")
        parts.append(f"{_label(topology, c)}: {what}")
    text = f"{topology.name}: " + "; ".join(parts)
    text += ". A resonance is correct when its jet daughters are the true jets"
    text += f", exchangeable daughters in any order ({'; '.join(sym)})" if sym else ""
    text += f", resonances in the best order ({'; '.join(groups)})" if groups else ""
    text += f"; {', '.join(ignored)} not compared" if ignored else ""
    counts = ", ".join(f"n ({k.removeprefix('n_')})" for k in _count_keys(topology))
    return text + (
        f". {counts}: events in each cell's denominator. Rows: jets per event; events with "
        f"fewer than {topology.n_jet_daughters} jets count in no row. Uncertainties: binomial."
    )


def _count_keys(topology: Topology) -> list[str]:
    return list(dict.fromkeys(_count_key(c) for c in topology.report_columns))


def format_cell(value: float, err: float) -> str:
    """``"56.4 ± 0.5 %"`` of a fraction and its error; ``"—"`` for NaN."""
    if math.isnan(value):
        return "—"
    return f"{100 * value:.1f} ± {100 * err:.1f} %"


def format_table(
    tables: dict[str, dict],
    topology: Topology = TTBAR_ALLHAD,
    title: str = "",
    with_definitions: bool = True,
) -> str:
    """Markdown table of several methods side by side, with :func:`definitions` under it.

    ``tables`` maps a method name to its :func:`efficiency_table` result. Rows are the jet
    multiplicities; for each method the columns of the topology's report (ε_event, ε_2^top,
    ε_1^top for tt̄; ε_event and ε_R per resonance by default) in percent with their
    uncertainties. The counts are shown once when every method has the same, otherwise once
    per method. ``with_definitions=False`` leaves the definitions out (a table printed again,
    varied, under one already defined).
    """
    if isinstance(topology, str):  # the all-hadronic call of earlier versions: (tables, title)
        topology, title = TTBAR_ALLHAD, topology
    if not tables:
        raise DataError("format_table needs at least one method's table")
    rows = jet_rows(topology)
    columns = topology.report_columns
    count_keys = _count_keys(topology)
    needed = [k for c in columns for k in (c, f"{c}_err")] + count_keys
    for method, tab in tables.items():
        missing = [r for r in rows if r not in tab]
        if missing:
            raise DataError(f"table of {method!r} lacks rows {missing}; expected {list(rows)}")
        for r in rows:
            lacking = [k for k in needed if k not in tab[r]]
            if lacking:
                raise DataError(
                    f"table of {method!r}, row {r!r} lacks {lacking}: not a {topology.name} table"
                )
    methods = list(tables)

    def counts(m: str, r: str) -> list[str]:
        return [str(tables[m][r][k]) for k in count_keys]

    same = all(counts(m, r) == counts(methods[0], r) for m in methods for r in rows)
    count_header = [f"n ({k.removeprefix('n_')})" for k in count_keys]
    header = ["N_jets"] + (count_header if same else [])
    for m in methods:
        header += [f"{m} {_label(topology, c)}" for c in columns]
        header += [] if same else [f"{m} {h}" for h in count_header]
    lines = [title, ""] if title else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in rows:
        cells = [r.replace(">=", "≥ ")] + (counts(methods[0], r) if same else [])
        for m in methods:
            c = tables[m][r]
            cells += [format_cell(c[x], c[f"{x}_err"]) for x in columns]
            cells += [] if same else counts(m, r)
        lines.append("| " + " | ".join(cells) + " |")
    if with_definitions:
        lines += ["", definitions(topology)]
    return "\n".join(lines)
