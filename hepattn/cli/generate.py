"""``hepattn generate ttbar|prongs``: realistic samples from Pythia 8 + FastJet + towers."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from hepattn.errors import DataError

PRONG_CLASSES = ("1", "2", "3", "4b", "4q", "6", "8")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="output ROOT file")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same file)")
    p.add_argument("--jobs", type=int, default=None, help="parallel processes (default: all cores)")
    p.add_argument("--chunk-size", type=int, default=None, help="entries per chunk file")
    p.add_argument("--plots", metavar="DIR", help="write validation PNG plots to DIR")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (off anyway without a TTY)"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate ttbar or prong-class samples (Pythia 8, FastJet, calorimeter model)",
        description="Generate realistic samples. Output is written in chunks next to the file "
        "(FILE.parts/) and merged at the end; re-run the same command to resume.",
    )
    sub = parser.add_subparsers(dest="process", metavar="PROCESS", required=True)
    tt = sub.add_parser("ttbar", help="all-hadronic ttbar events, R=0.4 jets, parton labels")
    tt.add_argument("-n", "--events", type=int, default=10_000, help="events to write")
    tt.add_argument(
        "--min-jets", type=int, default=0, help="keep only events with at least this many jets"
    )
    _common(tt)
    pr = sub.add_parser("prongs", help="boosted R=1.2 jets of 1,2,3,4b,4q,6,8 prongs + towers")
    pr.add_argument("-n", "--jets", type=int, default=1000, help="jets per class")
    pr.add_argument(
        "--classes",
        default=",".join(PRONG_CLASSES),
        help="comma-separated classes to generate (default: all seven)",
    )
    pr.add_argument(
        "--contained",
        action="store_true",
        help="keep only jets with all their prongs within dR < 1.2 of the axis",
    )
    _common(pr)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:
        print(
            f"hepattn generate: interrupted; the chunks written so far are kept in "
            f"{args.output}.parts/ - run the same command again to resume",
            file=sys.stderr,
        )
        return 130


def _run(args: argparse.Namespace) -> int:
    from hepattn.generate import plots

    start = time.perf_counter()
    progress = False if args.no_progress else None
    chunk = {} if args.chunk_size is None else {"chunk_size": args.chunk_size}
    if args.process == "ttbar":
        from hepattn.generate.ttbar import TtbarConfig, generate_ttbar

        config = TtbarConfig(n_events=args.events, seed=args.seed, min_jets=args.min_jets, **chunk)
        path = generate_ttbar(args.output, config, jobs=args.jobs, progress=progress)
        summary = plots.ttbar_summary(path)
        n = summary["events"]
        if args.plots:
            plots.plot_ttbar(path, args.plots)
    else:
        from hepattn.generate.prongs import ProngsConfig, generate_prongs

        classes = tuple(c.strip() for c in args.classes.split(",") if c.strip())
        config = ProngsConfig(
            n_jets=args.jets, seed=args.seed, classes=classes, contained=args.contained, **chunk
        )
        path = generate_prongs(args.output, config, jobs=args.jobs, progress=progress)
        summary = plots.prong_summary(path)
        n = sum(v["jets"] for v in summary.values())
        if args.plots:
            plots.plot_prongs(path, args.plots)
    if not os.path.exists(path):
        raise DataError(f"{path} was not written")
    elapsed = time.perf_counter() - start
    print(f"wrote {path}: {n} entries in {elapsed:.0f} s")
    print(json.dumps(summary, indent=1))
    return 0
