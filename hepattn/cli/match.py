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
    report_failed,
    run_each,
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


def _matcher(args: argparse.Namespace, topology):
    """The matcher of ``args``: the model (loaded once per process), or for the baseline with
    the default model the topology's default config."""
    from hepattn.tasks.matching import Matcher
    from hepattn.tasks.presets import load_run_config

    if args.method == "network" or args.model != "default":
        from hepattn.api import load

        return load("matcher", args.model, topology)
    return Matcher(load_run_config("matcher", topology=topology))


def match_jobs(args: argparse.Namespace, topology, jobs, written=None) -> dict:
    """Write the outputs of ``jobs`` (``(inputs, output)``) with the options of ``args``;
    returns what was counted: ``events``, ``full`` (every resonance assigned) and ``wrote``
    (one line per output, also passed to ``written`` as each is done)."""
    import numpy as np

    from hepattn.progress import wanted
    from hepattn.tasks.friends import chunk_size, write_friends
    from hepattn.topology import JETS

    matcher = _matcher(args, topology)
    progress = wanted(args.no_progress)
    jet_partons = list(matcher.topology.partons_from(JETS))
    stats = {"events": 0, "full": 0, "wrote": []}
    branch_names: list[str] = []

    def compute(ev):
        branches, metadata = matcher.match(
            ev, args.method, progress, btag_wp=args.btag_wp, chi2_mode=args.chi2_mode
        )
        full = (branches["assignment"][:, jet_partons] >= 0).all(axis=1)
        stats["events"] += len(ev)
        stats["full"] += int(np.sum(full))
        branch_names[:] = [f"{k}[{v.shape[1]}]" if v.ndim > 1 else k for k, v in branches.items()]
        return branches, metadata

    def done(output, n):
        line = f"wrote {output}:{args.output_tree} (branches {', '.join(branch_names)})"
        stats["wrote"].append(line)
        if written is not None:
            written(line)

    write_friends(
        matcher,
        jobs,
        compute,
        chunk_size(args.chunk_entries),
        output_tree=args.output_tree,
        progress=progress,
        written=done,
        schema=args.schema,
        tree=args.tree,
        nonfinite=args.nonfinite,
        btag=btag_policy(args),
        domain=args.domain,
        # the baseline applies its own b-tag threshold: scores are fine there, not for the
        # network
        check=args.method == "network" and matcher.path is not None,
    )
    return stats


def _match_job(args: argparse.Namespace, topology, job) -> dict:
    """One ``--dask`` job, on a worker (module-level: a task pickles it by reference)."""
    return match_jobs(argparse.Namespace(**{**vars(args), "no_progress": True}), topology, [job])


def run(args: argparse.Namespace) -> int:
    import functools

    from hepattn.progress import wanted

    topology = checked_topology(args)
    network = args.method == "network"
    if network or args.model != "default":
        files = model_files(args.model, "matcher", topology)
    else:  # the baseline reads the inputs as the topology's default config does
        files = []
    jobs = check_friend_outputs(args, files=files)
    matcher = _matcher(args, topology)
    if not network and args.method != matcher.baseline_method():
        from hepattn.errors import DataError

        raise DataError(
            f"the baseline of topology {matcher.topology.name!r} is --method "
            f"{matcher.baseline_method()}, not {args.method}"
        )
    topo = matcher.topology
    if args.dask:
        from hepattn.tasks.dask_jobs import run_jobs

        work = functools.partial(_match_job, args, topology)
        results, failed, loads = run_jobs(args.dask, work, jobs, wanted(args.no_progress))
        print(f"Dask: {len(loads)} workers, model loads per worker {sorted(loads.values())}")
    elif args.skip_bad:
        results, failed = run_each(lambda job: match_jobs(args, topology, [job], print), jobs)
    else:
        each = print if len(jobs) > 1 else None
        results, failed = [match_jobs(args, topology, jobs, each)], []
    n = sum(r["events"] for r in results)
    full = sum(r["full"] for r in results)
    if args.dask:
        for r in results:
            print(*r["wrote"], sep="\n")
    print(
        f"matched {n:,} events ({topo.name}) with the {args.method} method: {full:,} with "
        f"every resonance assigned, {n - full:,} partial or none "
        f"(< {topo.n_jet_daughters} jets, or a resonance left unassigned)"
    )
    if len(jobs) == 1 and results:
        print(results[0]["wrote"][0])
    return report_failed(failed, args.skip_bad)
