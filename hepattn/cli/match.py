"""``hepattn match IN.root -o OUT.root``: jet–parton assignments as a friend tree."""

from __future__ import annotations

import argparse

from hepattn.baselines.chi2 import DEFAULT_MODE, MODES
from hepattn.cli._options import (
    add_btag_policy,
    add_btag_wp,
    add_friend_tree,
    add_topology,
    btag_policy,
    check_friend_outputs,
    checked_topology,
    model_files,
)

METHODS = ("network", "chi2", "pairing")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "match",
        help="assign jets to the partons of a topology (default: all-hadronic ttbar)",
        description="Write a TTree (--output-tree, default 'hepattn') with one entry per "
        "input entry (same order) to -o OUT, or with --output-dir to one file per input, "
        "named as the input; inputs are read --chunk-entries entries at a time. Branches: "
        "'assignment' = one jet index per parton of the topology in its parton order "
        "(all-hadronic ttbar: 6 = b, q1, q2, b', q1', q2'), in the input file's own jet "
        "order, and the same per resonance R and daughter d as R_d (a lepton or MET "
        "daughter: 0, its collection's one object); with the network 'prob' = the chosen "
        "jet tuples' probabilities, one per resonance, also as R_prob, and R_detection = the "
        "probability that R is reconstructable (models with the detection head); with the "
        "topology's baseline (--method chi2 for ttbar, pairing for hh-4b) its score, 'chi2' "
        "or 'dhh'. Where there is no answer: assignment -1 = no jet for that parton (too few "
        "jets, or a resonance left unassigned; the same in R_d), prob NaN = no triplet chosen "
        "for that top (no jet tuple for that resonance; the same in R_prob), chi2 inf (dhh "
        "inf) = too few jets. These sentinels, the parton order and the baseline's rule are "
        "also stored in the file as strings.",
    )
    add_friend_tree(p, "matcher")
    add_topology(p, model=True)
    add_btag_wp(p)
    add_btag_policy(p)
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
        help=f"all-hadronic chi2 form for --method chi2 (default {DEFAULT_MODE}; see hepattn "
        "compare --help)",
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
    import numpy as np

    from hepattn.progress import wanted
    from hepattn.tasks.friends import chunk_size, write_friends
    from hepattn.tasks.matching import Matcher
    from hepattn.tasks.presets import load_run_config
    from hepattn.topology import JETS

    topology = checked_topology(args)
    network = args.method == "network"
    if network or args.model != "default":
        files = model_files(args.model, "matcher", topology)
    else:  # the baseline reads the inputs as the topology's default config does
        files = []
    jobs = check_friend_outputs(args, files=files)
    if files:
        matcher = Matcher.load(args.model, topology)
    else:
        matcher = Matcher(load_run_config("matcher", topology=topology))
    if not network and args.method != matcher.baseline_method():
        from hepattn.errors import DataError

        raise DataError(
            f"the baseline of topology {matcher.topology.name!r} is --method "
            f"{matcher.baseline_method()}, not {args.method}"
        )
    progress = wanted(args.no_progress)
    topo = matcher.topology
    jet_partons = list(topo.partons_from(JETS))
    seen = {"events": 0, "full": 0}
    branch_names: list[str] = []

    def compute(ev):
        branches, metadata = matcher.match(
            ev, args.method, progress, btag_wp=args.btag_wp, chi2_mode=args.chi2_mode
        )
        full = (branches["assignment"][:, jet_partons] >= 0).all(axis=1)
        seen["events"] += len(ev)
        seen["full"] += int(np.sum(full))
        branch_names[:] = [f"{k}[{v.shape[1]}]" if v.ndim > 1 else k for k, v in branches.items()]
        return branches, metadata

    done: list[str] = []
    write_friends(
        matcher,
        jobs,
        compute,
        chunk_size(args.chunk_entries),
        output_tree=args.output_tree,
        progress=progress,
        written=_printer(
            jobs, args.output_tree, lambda: "branches " + ", ".join(branch_names), done
        ),
        schema=args.schema,
        tree=args.tree,
        nonfinite=args.nonfinite,
        btag=btag_policy(args),
        domain=args.domain,
        # the baseline applies its own b-tag threshold: scores are fine there, not for the
        # network
        check=network and matcher.path is not None,
    )
    n, full = seen["events"], seen["full"]
    print(
        f"matched {n:,} events ({topo.name}) with the {args.method} method: {full:,} with "
        f"every resonance assigned, {n - full:,} partial or none "
        f"(< {topo.n_jet_daughters} jets, or a resonance left unassigned)"
    )
    if len(jobs) == 1:
        print(done[0])
    return 0
