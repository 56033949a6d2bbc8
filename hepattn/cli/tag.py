"""``hepattn tag IN.root -o OUT.root``: per-jet class probabilities as a friend tree."""

from __future__ import annotations

import argparse

from hepattn.cli._options import add_friend_tree, check_outputs, load_and_read, model_files
from hepattn.tasks.presets import CLASSES


def register(subparsers: argparse._SubParsersAction) -> None:
    order = ",".join(CLASSES)
    p = subparsers.add_parser(
        "tag",
        help="tag jets by prong class",
        description="Run a tagger on a file with one jet (and its towers) per entry. OUT gets "
        "a TTree (--output-tree, default 'hepattn') with one entry per input entry, in the "
        f"same order: 'prob' ({len(CLASSES)} class probabilities, order {order}, also stored "
        "as the string 'classes') and 'pred' (index of the most probable class). Use it as a "
        "friend of the input tree. A jet with no towers has no input: prob NaN, pred -1 "
        "(counted in a warning).",
    )
    add_friend_tree(p, "tagger")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from hepattn.data import write_tree
    from hepattn.progress import wanted

    check_outputs(
        args.input, (args.output, "output", False), files=model_files(args.model, "tagger")
    )
    tagger, ev = load_and_read("tagger", args, args.input)
    branches = tagger.tag(ev, progress=wanted(args.no_progress))
    pred = branches["pred"]
    write_tree(
        args.output,
        branches,
        tree=args.output_tree,
        metadata={"classes": ",".join(CLASSES), "model": str(tagger.path)},
    )
    counts = np.bincount(pred[pred >= 0], minlength=len(CLASSES))
    print(f"tagged {len(pred):,} jets with {tagger.run.kind} model {tagger.path}")
    print(
        "predicted class:  " + "  ".join(f"{c}:{n}" for c, n in zip(CLASSES, counts, strict=True))
    )
    if (pred < 0).any():
        print(f"no towers (prob NaN, pred -1): {int((pred < 0).sum()):,} jets")
    label = tagger.run.data.label
    if label in ev.event:
        labels = ev.event[label]
        ok = (labels >= 0) & (labels < len(CLASSES))
        if ok.all() and (pred >= 0).any():
            tagged = pred >= 0
            held_out = tagger.data_role(args.input) is None and tagger.has_training_info()
            print(
                f"accuracy against '{label}': {100 * (pred == labels)[tagged].mean():.2f} %"
                + ("" if tagged.all() else " (jets with towers)")
                + (", held out (not among the model's training or validation files)"
                   if held_out else "")
            )  # fmt: skip
    note = tagger.data_note(args.input, len(pred))
    if note is not None:
        print(f"note: {note}")
    print(
        f"wrote {args.output}:{args.output_tree} ({len(pred):,} entries, "
        f"branches prob[{len(CLASSES)}], pred)"
    )
    return 0
