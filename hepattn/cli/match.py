"""``hepattn match IN.root -o OUT.root``: jet–parton assignments as a friend tree."""

from __future__ import annotations

import argparse

from hepattn.baselines.chi2 import DEFAULT_MODE, MODES
from hepattn.cli._options import (
    add_btag_wp,
    add_friend_tree,
    add_topology,
    check_friend_outputs,
    model_files,
)

METHODS = ("network", "chi2", "pairing")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "match",
        help="assign jets to the partons of a topology (default: all-hadronic ttbar)",
        description="Write a TTree (--output-tree, default 'hepattn') with one entry per "
        "input entry (same order) to -o OUT, or with --output-dir to one file per input, "
        "named as the input; inputs are read --chunk-entries entries at a time: "
        "'assignment' = 6 jet indices (b, q1, q2, b', q1', q2') in "
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


def _printer(jobs, output_tree: str, describe, done: list[str]):
    """The ``written(output, n)`` callback of a match: the ``wrote`` line, printed at once
    when there are several outputs (else at the end, after the summary)."""

    def written(output, n):
        done.append(f"wrote {output}:{output_tree} ({describe()})")
        if len(jobs) > 1:
            print(done[-1])

    return written


def run(args: argparse.Namespace) -> int:
    if args.topology != "ttbar-allhad":
        return run_topology(args)
    if args.method == "pairing":
        from hepattn.errors import DataError

        raise DataError("--method pairing is the hh-4b baseline; ttbar-allhad has chi2")
    from hepattn.baselines.chi2 import Chi2Config
    from hepattn.progress import wanted
    from hepattn.tasks.friends import chunk_size, write_friends
    from hepattn.tasks.presets import task_class

    files = model_files(args.model, "matcher") if args.method == "network" else ()
    jobs = check_friend_outputs(args, files=files)
    matcher = task_class("matcher").load(args.model)
    config = Chi2Config(mode=args.chi2_mode)
    progress = wanted(args.no_progress)
    seen = {"events": 0, "full": 0}

    def compute(ev):
        branches, metadata = matcher.match(ev, args.method, config, progress, btag_wp=args.btag_wp)
        seen["events"] += len(ev)
        seen["full"] += int((branches["assignment"] >= 0).all(axis=1).sum())
        return branches, metadata

    extra = "prob" if args.method == "network" else "chi2"
    done: list[str] = []
    write_friends(
        matcher,
        jobs,
        compute,
        chunk_size(args.chunk_entries),
        output_tree=args.output_tree,
        progress=progress,
        written=_printer(jobs, args.output_tree, lambda: f"branches assignment[6], {extra}", done),
        schema=args.schema,
        tree=args.tree,
        nonfinite=args.nonfinite,
        # the chi2 applies its own b-tag threshold: scores are fine there, not for the network
        check=args.method == "network",
    )
    n, full = seen["events"], seen["full"]
    print(
        f"matched {n:,} events with the {args.method} method: {full:,} with both tops "
        f"assigned, {n - full:,} partial or none (< 6 jets)"
    )
    if len(jobs) == 1:
        print(done[0])
    return 0


def run_topology(args: argparse.Namespace) -> int:
    """``match --topology NAME`` for a topology other than all-hadronic tt̄."""
    import numpy as np

    from hepattn.progress import wanted
    from hepattn.tasks.friends import chunk_size, write_friends
    from hepattn.tasks.presets import load_run_config
    from hepattn.tasks.topology_matching import JETS, TopologyMatching, model_dir

    network = args.method == "network"
    if network or args.model != "default":
        files = [f for f in model_dir(args.model, args.topology).iterdir() if f.is_file()]
    else:  # the baseline reads the inputs as the topology's default config does
        files = []
    jobs = check_friend_outputs(args, files=files)
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
    progress = wanted(args.no_progress)
    names = matcher.topology.qualified
    jet_partons = matcher.partons_from(JETS)
    seen = {"events": 0, "full": 0}
    branch_names: list[str] = []

    def compute(ev):
        if network:
            branches, metadata = matcher.match(ev, progress)
        else:
            branches, metadata = matcher.match_baseline(ev, args.btag_wp)
        full = np.ones(len(ev), bool)
        for p in jet_partons:
            full &= branches[names[p]] >= 0
        seen["events"] += len(ev)
        seen["full"] += int(full.sum())
        branch_names[:] = list(branches)
        return branches, metadata

    def listed() -> str:
        return ", ".join(branch_names)

    done: list[str] = []
    write_friends(
        matcher,
        jobs,
        compute,
        chunk_size(args.chunk_entries),
        output_tree=args.output_tree,
        progress=progress,
        written=_printer(jobs, args.output_tree, lambda: "branches " + listed(), done),
        schema=args.schema,
        tree=args.tree,
        nonfinite=args.nonfinite,
        check=network and matcher.path is not None,
    )
    print(
        f"matched {seen['events']:,} events ({matcher.topology.name}) with the {args.method} "
        f"method: {seen['full']:,} with every resonance assigned"
    )
    if len(jobs) == 1:
        print(done[0])
    return 0
