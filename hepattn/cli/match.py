"""``hepattn match IN.root -o OUT.root``: jet–parton assignments as a friend tree."""

from __future__ import annotations

import argparse

from hepattn.baselines.chi2 import DEFAULT_MODE, MODES
from hepattn.cli._options import add_friend_tree, check_outputs, load_and_read, model_files

METHODS = ("network", "chi2")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "match",
        help="assign jets to the six partons of all-hadronic ttbar",
        description="Write a TTree (--output-tree, default 'hepattn') with one entry per "
        "input entry (same order): 'assignment' = 6 jet indices (b, q1, q2, b', q1', q2') in "
        "the input file's own jet order, and 'prob' = the chosen triplets' probabilities "
        "(network) or 'chi2' = the minimum chi2 (chi2 method). Where there is no answer: "
        "assignment -1 = no jet for that parton (fewer than 6 jets, or a top left "
        "unassigned), prob NaN = no triplet chosen for that top, chi2 inf = fewer than 6 "
        "jets. These sentinels, the parton order and the chi2 form are also stored in the "
        "file as strings.",
    )
    add_friend_tree(p, "matcher")
    p.add_argument(
        "--method",
        choices=METHODS,
        default="network",
        help="the matching network (default) or the chi2 baseline",
    )
    p.add_argument(
        "--chi2-mode",
        choices=MODES,
        default=DEFAULT_MODE,
        help=f"chi2 form for --method chi2 (default {DEFAULT_MODE}; see hepattn compare --help)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepattn.baselines.chi2 import Chi2Config
    from hepattn.data import write_tree
    from hepattn.progress import wanted

    files = model_files(args.model, "matcher") if args.method == "network" else ()
    check_outputs(args.input, (args.output, "output", False), files=files)
    # the chi2 applies its own b-tag threshold: scores are fine there, not for the network
    matcher, ev = load_and_read("matcher", args, args.input, check=args.method == "network")
    config = Chi2Config(mode=args.chi2_mode)
    branches, metadata = matcher.match(ev, args.method, config, wanted(args.no_progress))
    write_tree(args.output, branches, tree=args.output_tree, metadata=metadata)
    assignment = branches["assignment"]
    full = int((assignment >= 0).all(axis=1).sum())
    print(
        f"matched {len(assignment):,} events with the {args.method} method: {full:,} with "
        f"both tops assigned, {len(assignment) - full:,} partial or none (< 6 jets)"
    )
    extra = next(b for b in branches if b != "assignment")
    print(f"wrote {args.output}:{args.output_tree} (branches assignment[6], {extra})")
    return 0
