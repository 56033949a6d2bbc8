"""``hepattn match IN.root -o OUT.root``: jet–parton assignments as a friend tree."""

from __future__ import annotations

import argparse

from hepattn.baselines.chi2 import DEFAULT_MODE, MODES
from hepattn.cli._options import (
    add_btag_wp,
    add_friend_tree,
    add_topology,
    check_outputs,
    load_and_read,
    model_files,
)

METHODS = ("network", "chi2", "pairing")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "match",
        help="assign jets to the partons of a topology (default: all-hadronic ttbar)",
        description="Write a TTree (--output-tree, default 'hepattn') with one entry per "
        "input entry (same order): 'assignment' = 6 jet indices (b, q1, q2, b', q1', q2') in "
        "the input file's own jet order, and 'prob' = the chosen triplets' probabilities "
        "(network) or 'chi2' = the minimum chi2 (chi2 method). Where there is no answer: "
        "assignment -1 = no jet for that parton (fewer than 6 jets, or a top left "
        "unassigned), prob NaN = no triplet chosen for that top, chi2 inf = fewer than 6 "
        "jets. These sentinels, the parton order and the chi2 form are also stored in the "
        "file as strings. With --topology other than ttbar-allhad: per resonance R and "
        "daughter d a branch R_d (jet index in the file's own order, -1 none; a lepton or "
        "MET daughter: 0, its collection's one object), R_prob (the chosen jet tuple's "
        "probability, NaN none) and R_detection (probability that R is reconstructable); "
        "with the baseline, R_d and its score (chi2, or dhh for hh-4b).",
    )
    add_friend_tree(p, "matcher")
    add_topology(p, model=True)
    add_btag_wp(p)
    p.add_argument(
        "--method",
        choices=METHODS,
        default="network",
        help="the matching network (default) or the topology's baseline: chi2 (ttbar-allhad, "
        "ttbar-ljets) or pairing (hh-4b, ATLAS's D_HH)",
    )
    p.add_argument(
        "--chi2-mode",
        choices=MODES,
        default=DEFAULT_MODE,
        help=f"chi2 form for --method chi2 (default {DEFAULT_MODE}; see hepattn compare --help)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.topology != "ttbar-allhad":
        return run_topology(args)
    if args.method == "pairing":
        from hepattn.errors import DataError

        raise DataError("--method pairing is the hh-4b baseline; ttbar-allhad has chi2")
    from hepattn.baselines.chi2 import Chi2Config
    from hepattn.data import write_tree
    from hepattn.progress import wanted

    files = model_files(args.model, "matcher") if args.method == "network" else ()
    check_outputs(args.input, (args.output, "output", False), files=files)
    # the chi2 applies its own b-tag threshold: scores are fine there, not for the network
    matcher, ev = load_and_read("matcher", args, args.input, check=args.method == "network")
    config = Chi2Config(mode=args.chi2_mode)
    branches, metadata = matcher.match(
        ev, args.method, config, wanted(args.no_progress), btag_wp=args.btag_wp
    )
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


def run_topology(args: argparse.Namespace) -> int:
    """``match --topology NAME`` for a topology other than all-hadronic tt̄."""
    from hepattn.data import write_tree
    from hepattn.progress import wanted
    from hepattn.tasks.presets import load_run_config
    from hepattn.tasks.topology_matching import TopologyMatching, model_dir

    network = args.method == "network"
    if network or args.model != "default":
        files = [f for f in model_dir(args.model, args.topology).iterdir() if f.is_file()]
    else:  # the baseline reads the inputs as the topology's default config does
        files = []
    check_outputs(args.input, (args.output, "output", False), files=files)
    if files:
        matcher = TopologyMatching.load(args.model, args.topology)
    else:
        matcher = TopologyMatching(load_run_config("topology-matcher", topology=args.topology))
    if not network and args.method != matcher.baseline_name():
        from hepattn.errors import DataError

        raise DataError(
            f"the baseline of topology {matcher.topology.name!r} is --method "
            f"{matcher.baseline_name()}, not {args.method}"
        )
    ev = matcher.read(
        args.input,
        schema=args.schema,
        tree=args.tree,
        nonfinite=args.nonfinite,
        check=network and matcher.path is not None,
    )
    if network:
        branches, metadata = matcher.match(ev, wanted(args.no_progress))
    else:
        branches, metadata = matcher.match_baseline(ev, args.btag_wp)
    write_tree(args.output, branches, tree=args.output_tree, metadata=metadata)
    names = matcher.topology.qualified
    full = sum(branches[names[p]] >= 0 for p in matcher.partons_from("jets")) == len(
        matcher.partons_from("jets")
    )
    full = int(full.sum())
    print(
        f"matched {len(ev):,} events ({matcher.topology.name}) with the {args.method} method: "
        f"{full:,} with every resonance assigned"
    )
    print(f"wrote {args.output}:{args.output_tree} (branches {', '.join(branches)})")
    return 0
