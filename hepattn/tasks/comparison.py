"""The matching network against the χ² baseline on the same labelled events.

:func:`compare` is ``hepattn compare`` (and ``benchmarks/bench_matching.py``): efficiencies of
both methods by jet multiplicity (:mod:`hepattn.metrics.matching`) and each method's time per
8-jet event; :func:`format_comparison` is the text the command prints.
"""

from __future__ import annotations

import textwrap
import time

import numpy as np
import torch

from hepattn.baselines.chi2 import DEFAULT_MODE, Chi2Config
from hepattn.metrics.matching import DEFINITIONS, efficiency_table, format_table
from hepattn.tasks.matching import Matcher, chi2_setup, chi2_slots
from hepattn.tasks.weights import weight_note, weighted_by

__all__ = [
    "compare",
    "compare_topology",
    "format_comparison",
    "format_topology_comparison",
    "runtime_ms_8jets",
]

#: The keys of each method's cell in :func:`compare`'s ``rows``.
CELL_KEYS = (
    "event",
    "top2",
    "top1",
    "n_events",
    "event_err",
    "top2_err",
    "top1_err",
    "n_events_1top",
)


def runtime_ms_8jets(
    matcher: Matcher,
    ev,
    n_max: int,
    chi2_config: Chi2Config | None = None,
    threads: int = 1,
    btag_wp: float | None = None,
) -> dict:
    """Per-event wall time of each method on up to ``n_max`` events with exactly 8 jets, with
    ``threads`` torch threads (the χ² is numpy on one core either way); ``chi2_config``
    defaults to :class:`Chi2Config()` (the ``mt`` form)."""
    sel = np.flatnonzero(ev.derived["n_jets"] == 8)[:n_max]
    if len(sel) == 0:
        return {"chi2": float("nan"), "network": float("nan")}
    sub = ev.select(sel)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        matcher.predict(sub.select(np.arange(min(8, len(sub)))))  # warm-up
        t0 = time.perf_counter()
        matcher.predict(sub)
        t_net = time.perf_counter() - t0
        t0 = time.perf_counter()
        chi2_slots(sub, matcher.run.data.collection, chi2_config, btag_wp=btag_wp)
        t_chi2 = time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)
    return {"chi2": 1e3 * t_chi2 / len(sel), "network": 1e3 * t_net / len(sel)}


def compare(
    input_files,
    model="default",
    schema: str | None = None,
    timing_events: int = 1000,
    chi2_mode: str = DEFAULT_MODE,
    *,
    tree: str | None = None,
    progress: bool = False,
    nonfinite: str = "error",
    btag_wp: float | None = None,
    friends=None,
    weight: str | None = None,
) -> dict:
    """Both methods on the labelled events of ``input_files`` (``friends``: one friend file
    per input, as :meth:`~hepattn.tasks.base.Task.read`; the χ² cutting b-tag scores
    at ``btag_wp``, or the files' medium working point: :func:`~hepattn.tasks.matching.
    chi2_setup`); both tables weighted by the event field ``weight`` (None: the model's
    ``data.weight`` where the files have it; ``"none"``: unweighted;
    :meth:`~hepattn.tasks.base.Task.apply_weight`).

    Returns ``rows`` (per multiplicity row, per method: efficiencies, errors and the events
    in each cell's denominators), ``tables`` (the full :func:`efficiency_table` per method),
    ``runtime_ms_per_event_8jets``, ``chi2_mode`` and ``chi2`` (the form and b-tag rule in
    words), ``model``, ``files``, ``events`` (read), ``events_ge6_jets``, ``weighted`` (the
    weight field, or None) and ``definitions``.
    """
    matcher = Matcher.load(model)
    ev = matcher.read(
        input_files,
        schema=schema,
        need_labels=True,
        tree=tree,
        nonfinite=nonfinite,
        friends=friends,
        require_weight=matcher.apply_weight(weight),
    )
    w = ev.derived.get("weight")
    truth, n_jets = ev.derived["truth"], ev.derived["n_jets"]
    net, _ = matcher.predict(ev, progress=progress)
    coll = matcher.run.data.collection
    chi2_config, _, chi2_words = chi2_setup(ev, coll, Chi2Config(mode=chi2_mode), btag_wp)
    chi2, _ = chi2_slots(ev, coll, chi2_config, progress, btag_wp)
    tables = {
        "chi2": efficiency_table(chi2, truth, n_jets, w),
        "network": efficiency_table(net, truth, n_jets, w),
    }
    rows = {
        r: {m: {k: t[r][k] for k in CELL_KEYS} for m, t in tables.items()} for r in tables["chi2"]
    }
    return {
        "rows": rows,
        "runtime_ms_per_event_8jets": runtime_ms_8jets(
            matcher, ev, timing_events, chi2_config, btag_wp=btag_wp
        ),
        "chi2_mode": chi2_mode,
        "chi2": chi2_words,
        "model": str(matcher.path),
        "files": ev.files,
        "events": len(ev),
        "events_ge6_jets": int((n_jets >= 6).sum()),
        "weighted": weighted_by(matcher, ev),
        "definitions": DEFINITIONS,
        "tables": tables,
    }


def format_comparison(result: dict) -> str:
    """The table :func:`compare` results print as, with its counts and definitions."""
    rt = result["runtime_ms_per_event_8jets"]
    return "\n".join(
        [
            format_table(
                result["tables"],
                f"Matching efficiencies: {result['events']:,} events read "
                f"({', '.join(result['files'])}), {result['events_ge6_jets']:,} with >= 6 jets"
                + weight_note(result),
            ),
            "",
            textwrap.fill(result["definitions"], 100),
            textwrap.fill(f"chi2: {result['chi2']}.", 100),
            f"network: {result['model']}.",
            "",
            f"runtime per 8-jet event (1 CPU thread): chi2 {rt['chi2']:.3f} ms, "
            f"network {rt['network']:.3f} ms (batched)",
        ]
    )


def compare_topology(
    input_files,
    topology: str,
    model="default",
    schema: str | None = None,
    *,
    tree: str | None = None,
    progress: bool = False,
    nonfinite: str = "error",
    btag_wp: float | None = None,
    friends=None,
    weight: str | None = None,
) -> dict:
    """The network and the topology's baseline (:data:`~hepattn.tasks.topology_matching.
    BASELINES`) on the labelled events of ``input_files`` (with their ``friends``, one
    friend file per input, as :meth:`~hepattn.tasks.base.Task.read`), for a declared topology,
    weighted by ``weight`` as in :func:`compare`.

    Returns ``rows`` (per jet-multiplicity row, per method: ``event``, ``event_err``,
    ``n_events`` and per resonance R ``R``, ``R_err``, ``n_R``;
    :func:`hepattn.metrics.topology.topology_efficiency_table`), ``tables`` (per method),
    ``topology``, ``baseline`` (its rule in words), ``model``, ``files``, ``events``,
    ``weighted`` and ``definitions``.
    """
    from hepattn.metrics.topology import topology_definitions, topology_efficiency_table
    from hepattn.tasks.topology_matching import TopologyMatching

    matcher = TopologyMatching.load(model, topology)
    topo = matcher.topology
    ev = matcher.read(
        input_files,
        schema=schema,
        need_labels=True,
        tree=tree,
        nonfinite=nonfinite,
        friends=friends,
        require_weight=matcher.apply_weight(weight),
    )
    w = ev.derived.get("weight")
    truth, n_jets = ev.derived["truth"], ev.derived["n_jets"]
    net, _, _ = matcher.predict(ev, progress=progress)
    base, _, desc = matcher.baseline(ev, btag_wp)
    name = matcher.baseline_name()
    tables = {
        name: topology_efficiency_table(base, truth, n_jets, topo, w),
        "network": topology_efficiency_table(net, truth, n_jets, topo, w),
    }
    rows = {r: {m: dict(t[r]) for m, t in tables.items()} for r in tables[name]}
    return {
        "topology": topo.name,
        "rows": rows,
        "baseline": desc,
        "model": str(matcher.path),
        "files": ev.files,
        "events": len(ev),
        "weighted": weighted_by(matcher, ev),
        "definitions": topology_definitions(topo),
        "tables": tables,
    }


def format_topology_comparison(result: dict) -> str:
    """The table :func:`compare_topology` results print as."""
    from hepattn.metrics.topology import format_topology_table
    from hepattn.topology import load_topology

    topo = load_topology(result["topology"])
    return "\n".join(
        [
            format_topology_table(
                result["tables"],
                topo,
                f"Matching efficiencies, {result['topology']}: {result['events']:,} events read "
                f"({', '.join(result['files'])})" + weight_note(result),
            ),
            "",
            textwrap.fill(f"baseline: {result['baseline']}.", 100),
            f"network: {result['model']}.",
        ]
    )
