"""``hepattn tag IN.root -o OUT.root``: per-jet class probabilities as a friend tree."""

from __future__ import annotations

import argparse

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tag",
        help="tag jets by prong class",
        description="Run a tagger on a file with one jet (and its towers) per entry. OUT gets "
        "a TTree 'hepattn' with one entry per input entry, in the same order: 'prob' (7 "
        "class probabilities, order 1,2,3,4b,4q,6,8, also stored as the string 'classes') and "
        "'pred' (index of the most probable class). Use it as a friend of the input tree.",
    )
    p.add_argument("input", help="ROOT file with one jet per entry")
    p.add_argument("-o", "--output", required=True, help="output ROOT file")
    p.add_argument("--model", default="default", help="model directory, or 'default'")
    p.add_argument("--schema", help="schema of the input (default: the model's)")
    p.add_argument("--tree", default="hepattn", help="name of the output tree")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepattn.data import write_tree
    from hepattn.tasks.tagging import CLASSES, Tagger

    tagger = Tagger.load(args.model)
    ev = tagger.read(args.input, schema=args.schema)
    prob = tagger.predict(ev).astype(np.float32)
    pred = prob.argmax(axis=1).astype(np.int32)
    write_tree(
        args.output,
        {"prob": prob, "pred": pred},
        tree=args.tree,
        metadata={"classes": ",".join(CLASSES), "model": str(tagger.path)},
    )
    counts = np.bincount(pred, minlength=len(CLASSES))
    print(f"tagged {len(pred):,} jets with {tagger.run.kind} model {tagger.path}")
    print(
        "predicted class:  " + "  ".join(f"{c}:{n}" for c, n in zip(CLASSES, counts, strict=True))
    )
    label = tagger.run.data.label
    if label in ev.event:
        labels = ev.event[label]
        ok = (labels >= 0) & (labels < len(CLASSES))
        if ok.all():
            print(f"accuracy against '{label}': {100 * (pred == labels).mean():.2f} %")
    print(f"wrote {args.output}:{args.tree} ({len(pred):,} entries, branches prob[7], pred)")
    return 0
