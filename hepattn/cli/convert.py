"""``hepattn convert IN.root --to spanet-h5 -o OUT.h5``: our samples in SPANet's HDF5 layout."""

from __future__ import annotations

import argparse

from hepattn.cli._options import (
    add_btag_policy,
    add_output,
    add_progress,
    add_topology,
    btag_policy,
    check_outputs,
)
from hepattn.errors import HepattnError

FORMATS = ("spanet-h5",)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert a ROOT sample to SPANet's HDF5 layout",
        description="Write the jets (pt, eta, phi, mass, btag; the file's own jet order, "
        "padded at the end, MASK) and the parton targets TARGETS/t1/{b,q1,q2}, "
        "TARGETS/t2/{b,q1,q2} (jet index or -1) of a ROOT file as a SPANet HDF5 file, so that "
        "SPANet and hepattn run on identical events. With --topology, the layout of that "
        "topology: TARGETS/<resonance>/<jet daughter> per resonance (ttbar-ljets: "
        "TARGETS/t_had/{b_had,q1,q2}, TARGETS/t_lep/b_lep; hh-4b: TARGETS/H1/{b1,b2}, "
        "TARGETS/H2/{b3,b4}), and each other collection as a SPANet global input: the lepton "
        "as INPUTS/lepton/{MASK,pt,eta,phi,mass,...}, the MET as "
        "INPUTS/met/{met,phi,sin_phi,cos_phi}. Needs h5py: pip install 'hepattn[h5]'.",
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
    add_topology(p)
    add_btag_policy(p)
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
    from hepattn.topology import TTBAR_ALLHAD, load_topology

    # a bad name or file fails first
    topology = load_topology(args.topology) if args.topology is not None else TTBAR_ALLHAD
    check_outputs(args.input, (output, "output", False))
    s = write_spanet_h5(
        output,
        args.input,
        schema=args.schema or _default_schema(args, topology),
        max_jets=args.max_jets,
        tree=args.tree,
        progress=wanted(args.no_progress),
        topology=topology,
        btag_policy=btag_policy(args),
    )
    print(
        f"converted {s.events:,} events to {s.path} (SPANet layout of topology "
        f"{s.topology}, MAX_JETS = {s.max_jets})"
    )
    per = ", ".join(f"{r} {n:,}" for r, n in s.resonances.items())
    print(
        f"reconstructable resonances: all in {s.both_tops:,} events, some in "
        f"{s.one_top:,}, none in {s.events - s.both_tops - s.one_top:,} (per resonance: "
        f"{per})"
    )
    for name, n in s.missing_objects.items():
        if n:
            print(f"{n:,} events without a {name} (INPUTS/{name}/MASK False)")
    if s.truncated_events:
        print(
            f"--max-jets {s.max_jets}: {s.truncated_events:,} events truncated, "
            f"{s.dropped_jets:,} jets dropped, {s.lost_targets:,} targets set to -1"
        )
    if s.ambiguous_targets:
        print(f"{s.ambiguous_targets:,} partons matched to several jets written as -1")
    return 0


def _default_schema(args: argparse.Namespace, topology) -> str | None:
    """The schema of ``hepattn generate``'s files of the topology (its declaration's
    ``defaults.schema``) when it reads the input (it carries every event field); else None
    (detected from the file)."""
    if topology.defaults.schema is None:
        return None
    from hepattn.data.root import open_tree, resolve_paths
    from hepattn.data.schema import get_schema

    schema = get_schema(topology.defaults.schema)
    try:
        tree = open_tree(resolve_paths(args.input)[0], args.tree, schema)
        read = [c.name for c in topology.collections if not c.transverse]
        fits = schema.required(read) <= set(tree.keys(recursive=True))
    except HepattnError:
        return None  # detection reports what is wrong
    return schema.name if fits else None
