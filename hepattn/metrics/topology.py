"""Jet–parton matching efficiencies for any declared topology (:mod:`hepattn.topology`).

An *assignment* (prediction or truth) is ``int[B, P]``: one jet index per parton in the
topology's parton order (:attr:`~hepattn.topology.Topology.partons`), −1 where there is none.
Only daughters drawn from the :data:`~hepattn.topology.JETS` collection count: the columns of
a lepton or MET daughter are ignored, whatever they hold (they are not even validated).

Definitions (all-hadronic tt̄ is the case of :mod:`hepattn.metrics.matching`):

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
jets; events with fewer jets count in no row):

- ``ε_event = #(all resonances correct) / #(all resonances reconstructable)``;
- ``ε_R = #(resonance R correct) / #(R reconstructable)``, for each resonance ``R``.

Each comes with the binomial uncertainty ``σ_ε = sqrt(ε (1 − ε) / n)``, ``n`` its denominator.
With per-event weights the counts become sums of weights, as in :mod:`hepattn.metrics.matching`.
"""

from __future__ import annotations

import numpy as np

from hepattn.errors import DataError
from hepattn.metrics.matching import _cell, _frac, as_n_jets, as_weights
from hepattn.topology import Topology

__all__ = [
    "format_topology_table",
    "jet_rows",
    "reconstructable",
    "resonance_correct",
    "topology_definitions",
    "topology_efficiency_table",
]


def _jet_columns(topology: Topology) -> list[int]:
    """Parton-order columns of the jet daughters, all resonances."""
    return sorted(i for cols in topology.jet_head_index for i in cols)


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


def _reconstructable(t: np.ndarray, topology: Topology) -> np.ndarray:
    out = []
    for cols in topology.jet_head_index:
        s = t[:, list(cols)]
        i, j = np.triu_indices(s.shape[1], k=1)
        out.append((s >= 0).all(axis=1) & (s[:, i] != s[:, j]).all(axis=1))
    return np.stack(out, axis=1) if out else np.zeros((len(t), 0), dtype=bool)


def reconstructable(truth: np.ndarray, topology: Topology) -> np.ndarray:
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


def _correct(p: np.ndarray, t: np.ndarray, topology: Topology) -> np.ndarray:
    rec = _reconstructable(t, topology)
    n_res = len(topology.resonances)
    options = np.stack(
        [
            np.stack([_match(p, t, perm[r], r, topology) for r in range(n_res)], axis=1) & rec
            for perm in topology.permutations
        ]
    )  # [perms, B, R]
    best = np.argmax(options.sum(axis=2), axis=0)  # [B]; the first (identity) on ties
    return options[best, np.arange(len(best))]


def resonance_correct(pred: np.ndarray, truth: np.ndarray, topology: Topology) -> np.ndarray:
    """``bool[B, R]``: whether each *true* resonance is correctly reconstructed, in the
    resonance order (of :attr:`~hepattn.topology.Topology.permutations`) with the most correct
    resonances (ties: the identity). A non-reconstructable resonance is never correct."""
    return _correct(*_pair(pred, truth, topology), topology)


def _n_jet_daughters(topology: Topology) -> int:
    return sum(topology.orders)


def jet_rows(topology: Topology) -> tuple[str, ...]:
    """Row names of :func:`topology_efficiency_table`, in display order: ``("n", "n+1",
    ">=n+2", "inclusive")`` with ``n`` the topology's number of jet daughters."""
    n = _n_jet_daughters(topology)
    return (str(n), str(n + 1), f">={n + 2}", "inclusive")


def topology_efficiency_table(
    pred: np.ndarray,
    truth: np.ndarray,
    n_jets: np.ndarray,
    topology: Topology,
    weights: np.ndarray | None = None,
) -> dict:
    """Matching efficiencies by jet multiplicity for ``topology`` (module docstring).

    Args:
        pred: ``int[B, P]`` predicted assignment in parton order, −1 where none.
        truth: ``int[B, P]`` true assignment, −1 where the parton has no jet.
        n_jets: ``int[B]`` number of jets of each event; every jet index must be ``< n_jets``.
        weights: ``float[B]`` per-event weights (:mod:`hepattn.metrics.matching`); None:
            unweighted.

    Returns:
        ``{row: {"event", "event_err": float, "n_events": int, and per resonance R:
        "R", "R_err": float, "n_R": int}}`` for the rows of :func:`jet_rows`. ``n_events``
        counts the events with all resonances reconstructable, ``n_R`` those with R
        reconstructable (the denominators). Efficiencies are fractions, NaN when empty.
    """
    p, t = _pair(pred, truth, topology)
    names = [r.name for r in topology.resonances]
    clash = {"event", "events"} & set(names)
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
    correct = _correct(p, t, topology)  # [B, R]
    rec = _reconstructable(t, topology)  # [B, R]
    every = rec.all(axis=1)
    n = _n_jet_daughters(topology)
    rows = jet_rows(topology)
    selections = dict(zip(rows, (nj == n, nj == n + 1, nj >= n + 2, nj >= n), strict=True))
    table: dict[str, dict] = {}
    for row, sel in selections.items():
        se = sel & every
        ev, ev_err = _frac(correct[se].all(axis=1), None if w is None else w[se])
        cell: dict = {"event": ev, "event_err": ev_err, "n_events": int(se.sum())}
        for r, name in enumerate(names):
            sr = sel & rec[:, r]
            eff = _frac(correct[sr, r], None if w is None else w[sr])
            cell[name], cell[f"{name}_err"] = eff
            cell[f"n_{name}"] = int(sr.sum())
        table[row] = cell
    return table


def topology_definitions(topology: Topology) -> str:
    """What the columns of :func:`format_topology_table` mean, for printing under it."""
    names = [r.name for r in topology.resonances]
    sym = [f"{' ↔ '.join(r.symmetric)} of {r.name}" for r in topology.resonances if r.symmetric]
    ignored = [
        f"{r.name}'s {d}"
        for r in topology.resonances
        for i, d in enumerate(r.daughters)
        if i not in r.jet_daughters
    ]
    groups = [" ↔ ".join(names[i] for i in g) for g in topology.groups]
    text = (
        f"{topology.name}: ε_event: events with all resonances ({', '.join(names)}) correct / "
        "events with all reconstructable (every jet daughter matched to a distinct jet); "
        "ε_R: resonance R correct / events with R reconstructable. A resonance is correct "
        "when its jet daughters are the true jets"
    )
    text += f", exchangeable daughters in any order ({'; '.join(sym)})" if sym else ""
    text += f", resonances in the best order ({'; '.join(groups)})" if groups else ""
    text += f"; {', '.join(ignored)} not compared" if ignored else ""
    n = _n_jet_daughters(topology)
    return text + (
        ". n (event), n (R): events in each cell's denominator. Rows: jets per event; "
        f"events with fewer than {n} jets count in no row. Uncertainties: binomial."
    )


def format_topology_table(tables: dict[str, dict], topology: Topology, title: str = "") -> str:
    """Markdown table of several methods side by side, with :func:`topology_definitions`.

    ``tables`` maps a method name to its :func:`topology_efficiency_table` result. Rows are
    the jet multiplicities; for each method the columns are ε_event and ε_R per resonance in
    percent with binomial uncertainties. The counts are shown once when every method has the
    same, otherwise once per method.
    """
    if not tables:
        raise DataError("format_topology_table needs at least one method's table")
    rows = jet_rows(topology)
    names = [r.name for r in topology.resonances]
    count_keys = ["n_events", *(f"n_{x}" for x in names)]
    needed = ["event", "event_err", *(k for x in names for k in (x, f"{x}_err")), *count_keys]
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
    count_header = ["n (event)", *(f"n ({x})" for x in names)]
    header = ["N_jets"] + (count_header if same else [])
    for m in methods:
        header += [f"{m} ε_event", *(f"{m} ε_{x}" for x in names)]
        header += [] if same else [f"{m} {h}" for h in count_header]
    lines = [title, ""] if title else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in rows:
        cells = [r.replace(">=", "≥ ")] + (counts(methods[0], r) if same else [])
        for m in methods:
            c = tables[m][r]
            cells += [_cell(c["event"], c["event_err"])]
            cells += [_cell(c[x], c[f"{x}_err"]) for x in names]
            cells += [] if same else counts(m, r)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", topology_definitions(topology)]
    return "\n".join(lines)
