"""``hepattn match IN.root -o OUT.root``: jet–parton assignments as a friend tree."""

from __future__ import annotations

import argparse

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "match",
        help="assign jets to the six partons of all-hadronic ttbar",
        description="Write a TTree 'hepattn' with one entry per input entry (same order): "
        "'assignment' = 6 jet indices (b, q1, q2, b', q1', q2') in the input file's own jet "
        "order, -1 where none; 'prob' = the chosen triplets' probabilities (network) or "
        "'chi2' = the minimum chi2 (chi2 method).",
    )
    p.add_argument("input", help="ROOT file with a jet collection per event")
    p.add_argument("-o", "--output", required=True, help="output ROOT file")
    p.add_argument("--method", choices=("network", "chi2"), default="network")
    p.add_argument("--model", default="default", help="model directory, or 'default'")
    p.add_argument("--schema", help="schema of the input (default: the model's)")
    p.add_argument("--chi2-mode", choices=("dm", "mt"), default="mt", help="chi2 form")
    p.add_argument("--tree", default="hepattn", help="name of the output tree")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepattn.data import write_tree
    from hepattn.tasks.matching import Matcher, chi2_slots, slots_to_file_order

    matcher = Matcher.load(args.model)
    ev = matcher.read(args.input, schema=args.schema)
    jets = ev[matcher.run.data.collection]
    if args.method == "network":
        slots, prob = matcher.predict(ev)
        extra = {"prob": prob.astype(np.float32)}
    else:
        from hepattn.baselines.chi2 import Chi2Config

        slots, chi2 = chi2_slots(ev, matcher.run.data.collection, Chi2Config(mode=args.chi2_mode))
        extra = {"chi2": chi2.astype(np.float64)}
    assignment = slots_to_file_order(slots, jets.index).astype(np.int32)
    write_tree(
        args.output,
        {"assignment": assignment, **extra},
        tree=args.tree,
        metadata={
            "assignment_order": "b,q1,q2,b',q1',q2'",
            "method": args.method,
            "model": str(matcher.path),
        },
    )
    full = int((assignment >= 0).all(axis=1).sum())
    print(
        f"matched {len(assignment):,} events with the {args.method} method: {full:,} with "
        f"both tops assigned, {len(assignment) - full:,} partial or none (< 6 jets)"
    )
    print(f"wrote {args.output}:{args.tree} (branches assignment[6], {next(iter(extra))})")
    return 0
