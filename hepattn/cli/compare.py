"""``hepattn compare FILE.root``: the network and the χ² on the same events, one table."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from hepattn.cli import to_json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="matching efficiencies of the network and the chi2 on the same events",
        description="Run the matching network and the chi2 baseline on the same labelled "
        "events; print epsilon_event, epsilon_2^top, epsilon_1^top by jet multiplicity (6, 7, "
        ">=8, inclusive) and each method's runtime per event at 8 jets (one CPU thread).",
    )
    p.add_argument("input", nargs="+", help="labelled ROOT file(s)")
    p.add_argument("--model", default="default", help="model directory, or 'default'")
    p.add_argument("--schema", help="schema of the input (default: the model's)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument(
        "--chi2-mode",
        choices=("dm", "mt"),
        default="mt",
        help="chi2 form: 'mt' = (m_bqq - m_t)^2 terms (default; the stronger on our samples) or "
        "'dm' = the (m_bqq - m_b'q'q')^2 term of the SPA-Net paper",
    )
    p.add_argument(
        "--timing-events",
        type=int,
        default=1000,
        help="8-jet events used to time each method (default 1000)",
    )
    p.set_defaults(func=run)


def runtime_ms_8jets(matcher, ev, n_max: int, chi2_config=None, threads: int = 1) -> dict:
    """Per-event wall time of each method on up to ``n_max`` events with exactly 8 jets, with
    ``threads`` torch threads (the χ² is numpy on one core either way)."""
    from hepattn.tasks.matching import chi2_slots

    sel = np.flatnonzero(ev.event["n_jets"] == 8)[:n_max]
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
        chi2_slots(sub, matcher.run.data.collection, chi2_config)
        t_chi2 = time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)
    return {"chi2": 1e3 * t_chi2 / len(sel), "network": 1e3 * t_net / len(sel)}


def compare(input_files, model="default", schema=None, timing_events=1000, chi2_mode="mt") -> dict:
    from hepattn.baselines.chi2 import Chi2Config
    from hepattn.metrics.matching import efficiency_table
    from hepattn.tasks.matching import Matcher, chi2_slots

    matcher = Matcher.load(model)
    ev = matcher.read(input_files, schema=schema, need_labels=True)
    truth, n_jets = ev.event["truth"], ev.event["n_jets"]
    net, _ = matcher.predict(ev)
    chi2_config = Chi2Config(mode=chi2_mode)
    chi2, _ = chi2_slots(ev, matcher.run.data.collection, chi2_config)
    tables = {
        "chi2": efficiency_table(chi2, truth, n_jets),
        "network": efficiency_table(net, truth, n_jets),
    }
    rows = {
        r: {
            m: {
                "event": t[r]["event"],
                "top2": t[r]["top2"],
                "top1": t[r]["top1"],
                "n_events": t[r]["n_events"],
                "event_err": t[r]["event_err"],
                "top2_err": t[r]["top2_err"],
                "top1_err": t[r]["top1_err"],
                "n_events_1top": t[r]["n_events_1top"],
            }
            for m, t in tables.items()
        }
        for r in tables["chi2"]
    }
    return {
        "rows": rows,
        "runtime_ms_per_event_8jets": runtime_ms_8jets(matcher, ev, timing_events, chi2_config),
        "chi2_mode": chi2_mode,
        "model": str(matcher.path),
        "files": ev.files,
        "events": len(ev),
        "tables": tables,
    }


def run(args: argparse.Namespace) -> int:
    from hepattn.metrics.matching import format_table

    result = compare(args.input, args.model, args.schema, args.timing_events, args.chi2_mode)
    tables = result.pop("tables")
    print(
        format_table(
            tables,
            f"Matching efficiencies on {result['events']:,} events ({', '.join(result['files'])})",
        )
    )
    rt = result["runtime_ms_per_event_8jets"]
    print(
        f"\nruntime per 8-jet event (1 CPU thread): chi2 {rt['chi2']:.3f} ms, "
        f"network {rt['network']:.3f} ms (batched)"
    )
    if args.json:
        Path(args.json).write_text(to_json(result))
        print(f"wrote {args.json}")
    return 0
