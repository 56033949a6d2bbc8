"""``hepattn label IN.root -o LABELS.root --topology NAME``: truth labels as a friend tree."""

from __future__ import annotations

import argparse

from hepattn.cli._options import (
    add_friend_outputs,
    add_input,
    add_progress,
    check_friend_outputs,
)

SOURCES = ("auto", "genpart", "schema")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "label",
        help="truth labels (jet <-> parton) for your own simulation, as a friend tree",
        description="Match the partons of a declared topology to the jets of each event by "
        "the generator's rule (Delta R < --max-dr, unique, globally closest pair first) and "
        "write a TTree 'labels' with one entry per input entry (same order): 'jet_parton' "
        "(int32 per jet in the file's own order: the parton slot in the topology's parton "
        "order, -1 none) and 'parton_jet' (int32 per parton slot: the jet index, -1 none; "
        "always -1 for slots that are not jets, e.g. the lepton and neutrino). Metadata "
        "strings: topology, rule, parton_order, source. Partons come from NanoAOD GenPart_* "
        "(tops / Higgs bosons followed through GenPart_genPartIdxMother to their decay "
        "quarks and leptons, first copies after the decay) or from a schema's 'partons' "
        "collection holding the topology's partons in its parton order. Events whose partons "
        "cannot be found are kept with every label -1, and counted in a warning. Write one "
        "output for all inputs (-o) or one per input (--output-dir, named as the input); "
        "inputs are read --chunk-entries entries at a time.",
    )
    add_friend_outputs(p, batches=False)
    p.add_argument(
        "--topology",
        required=True,
        help="built-in topology (ttbar-allhad, ttbar-ljets, hh-4b) or a topology YAML file",
    )
    add_input(p, "detected from the file's jets")
    p.add_argument(
        "--max-dr",
        type=float,
        default=0.4,
        metavar="DR",
        help="largest Delta R of a matched parton-jet pair (default 0.4, the generator's)",
    )
    p.add_argument(
        "--partons",
        choices=SOURCES,
        default="auto",
        help="where the partons come from: the schema's 'partons' collection, NanoAOD "
        "GenPart_*, or auto (the schema's if it has one, else GenPart; default)",
    )
    p.add_argument(
        "--btag-wp",
        type=float,
        metavar="VALUE",
        help="also write 'jet_btag' (int32 per jet: 1 when the jets' btag_score field > VALUE, "
        "else 0; the rule in metadata 'btag_rule'): the b-tag decisions at a working point for "
        "models and baselines that read 0/1 b-tags, e.g. NanoAOD DeepJet 2018 medium 0.2783; "
        "train, eval, compare and match read them from this file as a friend (jets field "
        "btag: jet_btag in a schema)",
    )
    add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepattn.labels import label_file
    from hepattn.progress import wanted
    from hepattn.topology import load_topology

    topology = load_topology(args.topology)
    jobs = check_friend_outputs(args)
    total = dict.fromkeys(("events", "failed", "matched", "tagged"), 0)
    sources = []
    done = []
    for inputs, output in jobs:
        summary = label_file(
            inputs,
            output,
            topology,
            schema=args.schema,
            tree=args.tree,
            max_dr=args.max_dr,
            source=args.partons,
            progress=wanted(args.no_progress),
            step_size=args.chunk_entries,
            btag_wp=args.btag_wp,
        )
        for key in total:
            total[key] += summary[key]
        sources.append(summary["source"])
        extra = ", jet_btag[njet]" if args.btag_wp is not None else ""
        done.append(
            f"wrote {output}:labels (branches jet_parton[njet], "
            f"parton_jet[{topology.n_partons}]{extra})"
        )
        if len(jobs) > 1:
            print(done[-1])
    n, failed = total["events"], total["failed"]
    print(
        f"labelled {n:,} events ({topology.name}, partons from "
        f"{'/'.join(dict.fromkeys(sources))}): {total['matched']:,} parton-jet matches, "
        f"{failed:,} events without the topology's partons (labels -1)"
    )
    if args.btag_wp is not None:
        print(f"b-tag decisions: {summary['btag_rule']}; {total['tagged']:,} jets tagged")
    if len(jobs) == 1:
        print(done[0])
    return 0
