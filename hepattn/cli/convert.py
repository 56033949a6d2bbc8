"""``hepattn convert IN.root --to spanet-h5 -o OUT.h5``: our samples in SPANet's HDF5 layout."""

from __future__ import annotations

import argparse

from hepattn.cli._options import add_output, add_progress, check_outputs
from hepattn.errors import HepattnError

FORMATS = ("spanet-h5",)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert a ROOT sample to SPANet's HDF5 layout",
        description="Write the jets (pt, eta, phi, mass, btag; the file's own jet order, "
        "padded at the end, MASK) and the parton targets TARGETS/t1/{b,q1,q2}, "
        "TARGETS/t2/{b,q1,q2} (jet index or -1) of a ROOT file as a SPANet HDF5 file, so that "
        "SPANet and hepattn run on identical events. Needs h5py: pip install 'hepattn[h5]'.",
    )
    p.add_argument("input", help="ROOT file, or a quoted glob (files converted in order)")
    p.add_argument("--to", dest="format", choices=FORMATS, required=True, help="output format")
    p.add_argument("output_file", nargs="?", metavar="OUTPUT", help="output .h5 file (same as -o)")
    add_output(p, "output .h5 file", metavar="FILE")
    p.add_argument(
        "--schema",
        help="schema of the input (default: the built-in schema that reads its jets, detected "
        "as hepattn inspect does)",
    )
    p.add_argument(
        "--max-jets",
        type=int,
        metavar="N",
        help="jet slots per event (default: the largest multiplicity); events with more jets "
        "lose their last jets in file order, and targets pointing at them become -1",
    )
    p.add_argument("--tree", help="tree to read (default: the schema's)")
    add_progress(p)
    p.set_defaults(func=run, late_positional="output_file")


def run(args: argparse.Namespace) -> int:
    from hepattn.data.spanet import write_spanet_h5
    from hepattn.progress import wanted

    if args.output and args.output_file and args.output != args.output_file:
        raise HepattnError(f"two outputs given: {args.output_file} and -o {args.output}")
    output = args.output or args.output_file
    if output is None:
        raise HepattnError("give the output file: -o OUT.h5")
    check_outputs(args.input, (output, "output", False))
    s = write_spanet_h5(
        output,
        args.input,
        schema=args.schema,
        max_jets=args.max_jets,
        tree=args.tree,
        progress=wanted(args.no_progress),
    )
    print(f"converted {s.events:,} events to {s.path} (SPANet layout, MAX_JETS = {s.max_jets})")
    print(
        f"reconstructable tops: both in {s.both_tops:,} events, exactly one in {s.one_top:,}, "
        f"none in {s.events - s.both_tops - s.one_top:,}"
    )
    if s.truncated_events:
        print(
            f"--max-jets {s.max_jets}: {s.truncated_events:,} events truncated, "
            f"{s.dropped_jets:,} jets dropped, {s.lost_targets:,} targets set to -1"
        )
    if s.ambiguous_targets:
        print(f"{s.ambiguous_targets:,} partons matched to several jets written as -1")
    return 0
