"""The matching network against its topology's classical baseline on the same labelled events.

:func:`compare` is ``hepattn compare`` (and ``benchmarks/bench_matching.py``,
``benchmarks/bench_topologies.py``): efficiencies of both methods by jet multiplicity
(:mod:`hepattn.metrics.matching`) and each method's time per event at ``n + 2`` jets (8 for
all-hadronic tt̄); :func:`format_comparison` is the text the command prints. The baseline is
the one the topology declares (:mod:`hepattn.baselines.registry`: the χ² for tt̄, the D_HH
pairing for HH → 4b).
"""

from __future__ import annotations

import textwrap
import time

import numpy as np
import torch

from hepattn.baselines.registry import BaselineOptions
from hepattn.data.btag import BtagPolicy
from hepattn.metrics.matching import definitions, efficiency_table, format_table
from hepattn.tasks.domain import domain_summary
from hepattn.tasks.matching import Matcher
from hepattn.tasks.weights import weight_note, weighted_by
from hepattn.topology import topology_from_dict

__all__ = ["compare", "format_comparison", "runtime_ms", "timing_jets"]


def timing_jets(matcher: Matcher) -> int:
    """The jet multiplicity the methods are timed at: two more than the topology's jet
    daughters (8 for all-hadronic tt̄, REFERENCE §4's figure)."""
    return matcher.topology.n_jet_daughters + 2


def runtime_ms(
    matcher: Matcher,
    ev,
    n_max: int,
    options: BaselineOptions | None = None,
    threads: int = 1,
) -> dict:
    """Per-event wall time (ms) of the network and the baseline on up to ``n_max`` events with
    exactly :func:`timing_jets` jets, with ``threads`` torch threads (the baselines are numpy
    on one core either way). Keys: ``network`` and the baseline's method name."""
    method = matcher.baseline_method()
    sel = np.flatnonzero(ev.derived["n_jets"] == timing_jets(matcher))[:n_max]
    if len(sel) == 0:
        return {method: float("nan"), "network": float("nan")}
    sub = ev.select(sel)
    options = options or BaselineOptions()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        matcher.predict(sub.select(np.arange(min(8, len(sub)))))  # warm-up
        t0 = time.perf_counter()
        matcher.predict(sub)
        t_net = time.perf_counter() - t0
        t0 = time.perf_counter()
        matcher.baseline(sub, options.btag_wp, options.chi2_mode)
        t_base = time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)
    return {method: 1e3 * t_base / len(sel), "network": 1e3 * t_net / len(sel)}


def compare(
    input_files,
    model="default",
    schema: str | None = None,
    timing_events: int = 1000,
    chi2_mode: str | None = None,
    *,
    topology: str | None = None,
    tree: str | None = None,
    progress: bool = False,
    nonfinite: str = "error",
    btag_wp: float | None = None,
    friends=None,
    weight: str | None = None,
    btag: BtagPolicy | None = None,
    domain: str = "warn",
    variations=(),
    vary_options=None,
) -> dict:
    """The network and its topology's baseline on the labelled events of ``input_files``.

    ``model``: a matcher directory or ``"default"`` (the bundled matcher of ``topology``,
    all-hadronic tt̄ when None); ``topology``: the model must be for it (None: the model's
    own). ``friends``: one friend file per input, as :meth:`~hepattn.tasks.base.Task.read`;
    the baseline cuts b-tag scores at ``btag_wp`` (or the files' medium working point;
    :func:`hepattn.baselines.btag.btag_rule`), ``chi2_mode`` is the all-hadronic χ²'s form;
    both tables weighted by the event field ``weight`` (None: the model's ``data.weight``
    where the files have it; ``"none"``: unweighted; :meth:`~hepattn.tasks.base.Task.
    apply_weight`). ``btag``: b-tag values outside [0, 1], for both methods
    (:class:`~hepattn.data.btag.BtagPolicy`); ``domain``: the inputs outside the model's
    domain warned about, refused or not checked (:mod:`hepattn.tasks.domain`).

    Returns ``rows`` (per multiplicity row, per method — ``network`` and the baseline's
    method, ``chi2`` or ``pairing`` —: the efficiencies with their errors and the events in
    each cell's denominators, :func:`~hepattn.metrics.matching.efficiency_table`),
    ``tables`` (the same per method, not written to JSON), ``topology`` (its name) and
    ``topology_declaration`` (:meth:`~hepattn.topology.Topology.declaration`), ``baseline`` (its
    rule in words, also under its method's name), ``runtime_ms_per_event_<n>jets``,
    ``model``, ``files``, ``events`` (read), ``events_ge<n>_jets``, ``weighted`` (the
    weight field, or None) and ``definitions``; with the all-hadronic χ² also ``chi2_mode``;
    for a model with a recorded domain and ``domain`` not ``"ignore"``, ``domain``: the
    counts of inputs outside it (:meth:`~hepattn.tasks.domain.DomainTally.to_dict`). With
    ``variations`` (:mod:`hepattn.tasks.systematics`, options ``vary_options``), both methods
    are re-run on each varied copy of the events: ``variations: {name: {"rows": …, "shift":
    {row: {method: Δε}}}}`` with Δε the change of the topology's first efficiency column
    (ε_event).
    """
    matcher = Matcher.load(model, topology)
    topo = matcher.topology
    with domain_summary() as tally:
        ev = matcher.read_labelled(
            input_files, schema, tree, nonfinite, friends, weight, btag=btag, domain=domain
        )
    w = ev.derived.get("weight")
    truth, n_jets = ev.derived["truth"], ev.derived["n_jets"]
    net, _, _ = matcher.predict(ev, progress=progress)
    options = BaselineOptions(btag_wp, chi2_mode, progress)
    base, result = matcher.baseline(ev, btag_wp, chi2_mode, progress)
    tables = {
        base.method: efficiency_table(result.slots, truth, n_jets, topo, w),
        "network": efficiency_table(net, truth, n_jets, topo, w),
    }
    rows = _rows(tables)
    n = topo.n_jet_daughters
    out = {
        "topology": topo.name,
        "topology_declaration": topo.declaration(),
        "rows": rows,
        f"runtime_ms_per_event_{timing_jets(matcher)}jets": runtime_ms(
            matcher, ev, timing_events, options
        ),
        "baseline": result.description,
        base.method: result.description,
        "model": str(matcher.path),
        "files": ev.files,
        "events": len(ev),
        f"events_ge{n}_jets": int((n_jets >= n).sum()),
        "weighted": weighted_by(matcher, ev),
        "definitions": definitions(topo),
        "tables": tables,
    }
    if matcher.domain is not None and domain != "ignore":
        out["domain"] = tally.to_dict()
    if variations:
        predicted = {base.method: result.slots, "network": net}
        out["variations"] = _variations(
            matcher, ev, tables, predicted, variations, vary_options, options, schema, tree
        )
    if "chi2_mode" in base.options:
        from hepattn.baselines.chi2 import DEFAULT_MODE

        out["chi2_mode"] = chi2_mode or DEFAULT_MODE
    return out


def _variations(
    matcher, ev, nominal: dict, predicted: dict, names, vary_options, options, schema, tree
) -> dict:
    """Both methods' tables on each varied copy of ``ev`` and their shift from ``nominal``;
    the b-tag variations reweight the events instead — the methods' nominal answers
    ``predicted`` (method → slots) do not change —, their shift measured from the table
    weighted with the central scale factors (``reference``, ``reference_rows``)."""
    from hepattn.tasks.systematics import WEIGHT_VARIATIONS, btag_weights, vary_counted

    topo = matcher.topology
    collection = matcher.run.data.collection
    truth, n_jets = ev.derived["truth"], ev.derived["n_jets"]
    column = topo.report_columns[0]
    reference = None
    out = {}
    for name in names:
        extra = {}
        if name in WEIGHT_VARIATIONS:
            if reference is None:
                weights, counted = btag_weights(
                    ev, collection, vary_options, schema or matcher.run.data.schema, tree,
                    options.btag_wp,
                )  # fmt: skip
                reference = {
                    m: efficiency_table(s, truth, n_jets, topo, weights["btag-central"])
                    for m, s in predicted.items()
                }
            tables = {
                m: efficiency_table(s, truth, n_jets, topo, weights[name])
                for m, s in predicted.items()
            }
            against = reference
            extra = {
                "reference": "btag-central",
                "reference_rows": _rows(reference),
                "counted": counted,
            }
        else:
            varied, counted = vary_counted(ev, collection, name, vary_options)
            net, _, _ = matcher.predict(varied)
            base, result = matcher.baseline(varied, options.btag_wp, options.chi2_mode)
            w = ev.derived.get("weight")
            tables = {
                base.method: efficiency_table(result.slots, truth, n_jets, topo, w),
                "network": efficiency_table(net, truth, n_jets, topo, w),
            }
            against = nominal
            if counted["outside"]:
                extra = {"counted": counted}
        rows = _rows(tables)
        shift = {
            r: {m: t[r][column] - against[m][r][column] for m, t in tables.items()} for r in rows
        }
        out[name] = {"rows": rows, "shift": shift, "column": column, **extra}
    return out


def _rows(tables: dict) -> dict:
    """``{row: {method: cells}}`` of per-method efficiency tables."""
    return {r: {m: dict(t[r]) for m, t in tables.items()} for r in tables["network"]}


def format_variations(result: dict, topology=None) -> str:
    """Per variation its table (with ``topology``, the nominal one's) and one line per
    method: the shift of the first efficiency column per row (percentage points)."""
    lines = []
    for name, v in result.get("variations", {}).items():
        if topology is not None:
            tables = {
                m: {r: v["rows"][r][m] for r in v["rows"]} for m in next(iter(v["rows"].values()))
            }
            lines += ["", format_table(tables, topology, f"varied: {name}", False), ""]
        for method in next(iter(v["shift"].values())):
            cells = ", ".join(f"{r} {100 * s[method]:+.2f}" for r, s in v["shift"].items())
            lines.append(f"{name:>9} {method:>8}: Δ{v['column']} [points] {cells}")
        lines += variation_notes(name, v)
    return "\n".join(lines)


def variation_notes(name: str, v: dict) -> list[str]:
    """What a variation's lines need said: the reference of a reweighting, the objects
    outside a correction file's bins."""
    notes = []
    if v.get("reference"):
        notes.append(f"{'':>9} (shift from the table weighted with {v['reference']})")
    counted = v.get("counted") or {}
    if counted.get("outside"):
        what = "factor 1" if name.startswith("btag") else "not varied"
        total = counted.get("jets", counted.get("objects"))
        notes.append(
            f"{'':>9} {counted['outside']:,} of {total:,} objects outside the correction "
            f"file's bins ({what})"
        )
    return notes


def format_comparison(result: dict) -> str:
    """The table :func:`compare` results print as, with its counts and definitions."""
    topo = topology_from_dict(result["topology_declaration"], "topology_declaration")
    n = topo.n_jet_daughters
    timing = next(k for k in result if k.startswith("runtime_ms_per_event_"))
    rt = result[timing]
    jets = timing.removeprefix("runtime_ms_per_event_").removesuffix("jets")
    base = next(m for m in rt if m != "network")
    return "\n".join(
        [
            format_table(
                result["tables"],
                topo,
                f"Matching efficiencies, {topo.name}: {result['events']:,} events read "
                f"({', '.join(result['files'])}), {result[f'events_ge{n}_jets']:,} with >= "
                f"{n} jets" + weight_note(result),
            ),
            "",
            textwrap.fill(f"{base}: {result['baseline']}.", 100),
            f"network: {result['model']}.",
            "",
            f"runtime per {jets}-jet event (1 CPU thread): {base} {rt[base]:.3f} ms, "
            f"network {rt['network']:.3f} ms (batched)",
            *(
                ["", "systematic variations:", format_variations(result, topo)]
                if result.get("variations")
                else []
            ),
        ]
    )
