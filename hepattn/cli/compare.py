"""``hepattn compare FILE.root``: the network and the χ² on the same events, one table."""

from __future__ import annotations

import argparse

from hepattn.baselines.chi2 import DEFAULT_MODE, MODES
from hepattn.cli._options import (
    add_btag_policy,
    add_btag_wp,
    add_domain,
    add_friend,
    add_input,
    add_model,
    add_nonfinite,
    add_output,
    add_progress,
    add_topology,
    add_vary,
    add_weight,
    btag_policy,
    check_outputs,
    checked_topology,
    model_files,
    vary_options,
    vary_plot,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="matching efficiencies of the network and the baseline on the same events",
        description="Run the matching network and its topology's baseline (all-hadronic and "
        "lepton+jets ttbar: the chi2; hh-4b: HH pairing by D_HH) on the same labelled events; "
        "print per jet multiplicity (n, n+1, >=n+2 for n jet daughters — 6, 7, >=8 for "
        "all-hadronic ttbar — and inclusive) the efficiencies the topology declares — for "
        "all-hadronic ttbar epsilon_event (events with both tops correct / events with both "
        "tops reconstructable), epsilon_2^top (correct tops / tops in those events) and "
        "epsilon_1^top (the one reconstructable top correct / events with exactly one); "
        "otherwise the event efficiency (all resonances correct) and each resonance's — with "
        "the events counted in each cell, the baseline's rule and b-tag working point, and "
        "each method's runtime per event at n+2 jets (one CPU thread).",
    )
    p.add_argument("input", nargs="+", help="labelled ROOT file(s)")
    add_model(p, "matcher")
    add_input(p, "the model's")
    add_friend(p)
    add_output(p, "write the results as JSON to this file", "--json", metavar="FILE")
    p.add_argument(
        "--chi2-mode",
        choices=MODES,
        default=DEFAULT_MODE,
        help="all-hadronic chi2 form: 'mt' = (m_bqq - m_t)^2 terms (default; the stronger on "
        "our samples) or 'dm' = the (m_bqq - m_b'q'q')^2 term of the SPA-Net paper",
    )
    p.add_argument(
        "--timing-events",
        type=int,
        default=1000,
        help="events with n+2 jets (8 for all-hadronic ttbar) used to time each method "
        "(default 1000)",
    )
    add_topology(p, model=True)
    add_btag_wp(p)
    add_btag_policy(p)
    add_weight(
        p,
        "weighting both methods' tables",
        "default: the model's data.weight where the files have it; a field given here must be "
        "in them",
    )
    add_vary(p)
    add_nonfinite(p)
    add_domain(p)
    add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepattn.data.outputs import write_json
    from hepattn.progress import wanted
    from hepattn.tasks.comparison import compare, format_comparison

    topology = checked_topology(args)
    variations, sizes = vary_options(args)  # an unknown name fails before anything is read
    check_outputs(
        [*args.input, *(args.friend or [])],
        (args.output, "JSON output", False),
        (args.vary_plot, "--vary-plot file", False),
        files=model_files(args.model, "matcher", topology),
    )
    result = compare(
        args.input,
        args.model,
        args.schema,
        args.timing_events,
        args.chi2_mode,
        topology=topology,
        tree=args.tree,
        progress=wanted(args.no_progress),
        nonfinite=args.nonfinite,
        btag_wp=args.btag_wp,
        friends=args.friend,
        weight=args.weight,
        btag=btag_policy(args),
        domain=args.domain,
        variations=variations,
        vary_options=sizes,
    )
    print(format_comparison(result))
    shifts = {n: v["shift"] for n, v in result.get("variations", {}).items()}
    for path in vary_plot(args, shifts, f"{result['topology']}: shift of ε per variation"):
        print(f"wrote {path}")
    if args.output:
        write_json(args.output, {k: v for k, v in result.items() if k != "tables"})
        print(f"wrote {args.output}")
    return 0
