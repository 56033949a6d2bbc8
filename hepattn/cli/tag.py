"""``hepattn tag IN.root -o OUT.root``: per-jet class probabilities as a friend tree."""

from __future__ import annotations

import argparse

from hepattn.cli._options import (
    add_friend_tree,
    check_friend_outputs,
    model_files,
    report_failed,
    run_each,
)
from hepattn.tasks.presets import CLASSES


def register(subparsers: argparse._SubParsersAction) -> None:
    order = ",".join(CLASSES)
    p = subparsers.add_parser(
        "tag",
        help="tag jets by prong class",
        description="Run a tagger on files with one jet (and its towers) per entry. The "
        "output (-o OUT, or with --output-dir one file per input, named as the input) gets a "
        "TTree (--output-tree, default 'hepattn') with one entry per input entry, in the "
        f"same order: 'prob' ({len(CLASSES)} class probabilities, order {order}, also stored "
        "as the string 'classes') and 'pred' (index of the most probable class). Use it as a "
        "friend of the input tree. A jet with no towers has no input: prob NaN, pred -1 "
        "(counted in a warning). Inputs are read --chunk-entries entries at a time.",
    )
    add_friend_tree(p, "tagger")
    p.set_defaults(func=run)


def tag_jobs(args: argparse.Namespace, jobs, written=None) -> dict:
    """Write the outputs of ``jobs`` (``(inputs, output)``) with the options of ``args``;
    returns what was counted (summed over runs by :func:`_merge`): ``counts`` per predicted
    class, ``seen`` (jets, empty, labelled, bad, correct, tagged), ``per_file`` entries and
    ``wrote`` (one line per output, also passed to ``written`` as each is done)."""
    import numpy as np

    from hepattn.api import load
    from hepattn.progress import wanted
    from hepattn.tasks.friends import chunk_size, write_friends

    tagger = load("tagger", args.model)  # once per process
    progress = wanted(args.no_progress)
    label = tagger.run.data.label
    metadata = {"classes": ",".join(CLASSES), "model": str(tagger.path)}
    counts = np.zeros(len(CLASSES), np.int64)
    seen = dict.fromkeys(("jets", "empty", "labelled", "bad", "correct", "tagged"), 0)
    job = {"jets": 0, "empty": 0, "files": set()}  # of the output being written
    per_file: dict[str, int] = {}  # entries read per input file
    wrote: list[str] = []

    def compute(ev):
        branches = tagger.tag(ev, progress=progress, refuse_empty=False)
        pred = branches["pred"]
        tagged = pred >= 0
        counts[:] += np.bincount(pred[tagged], minlength=len(CLASSES))
        for key, n in (("jets", len(pred)), ("empty", int((~tagged).sum()))):
            job[key] += n
            seen[key] += n
        for i, f in enumerate(ev.files):
            per_file[f] = per_file.get(f, 0) + int((ev.file_index == i).sum())
            job["files"].add(f)
        if label in ev.event:
            labels = ev.event[label]
            seen["labelled"] += len(pred)
            seen["bad"] += int(((labels < 0) | (labels >= len(CLASSES))).sum())
            seen["correct"] += int((pred == labels)[tagged].sum())
            seen["tagged"] += int(tagged.sum())
        return branches, metadata

    def finish(output):  # the file's jets, not one chunk's: refused if none has towers
        if job["jets"] and job["empty"] == job["jets"]:
            raise tagger.nothing_to_tag(sorted(job["files"]), job["jets"])

    def done(output, n):
        job.update(jets=0, empty=0, files=set())
        line = (
            f"wrote {output}:{args.output_tree} ({n:,} entries, branches prob[{len(CLASSES)}], "
            "pred)"
        )
        wrote.append(line)
        if written is not None:
            written(line)

    write_friends(
        tagger,
        jobs,
        compute,
        chunk_size(args.chunk_entries),
        output_tree=args.output_tree,
        progress=progress,
        finish=finish,
        written=done,
        schema=args.schema,
        tree=args.tree,
        nonfinite=args.nonfinite,
        domain=args.domain,
    )
    return {"counts": counts.tolist(), "seen": seen, "per_file": per_file, "wrote": wrote}


def _tag_job(args: argparse.Namespace, job) -> dict:
    """One ``--dask`` job, on a worker (module-level: a task pickles it by reference)."""
    return tag_jobs(argparse.Namespace(**{**vars(args), "no_progress": True}), [job])


def _merge(results: list[dict]) -> dict:
    """The counts of several :func:`tag_jobs` runs together."""
    out = {"counts": [0] * len(CLASSES), "seen": {}, "per_file": {}, "wrote": []}
    for r in results:
        out["counts"] = [a + b for a, b in zip(out["counts"], r["counts"], strict=True)]
        for k, v in r["seen"].items():
            out["seen"][k] = out["seen"].get(k, 0) + v
        out["per_file"].update(r["per_file"])
        out["wrote"] += r["wrote"]
    return out


def run(args: argparse.Namespace) -> int:
    import functools

    from hepattn.api import load
    from hepattn.progress import wanted

    jobs = check_friend_outputs(args, files=model_files(args.model, "tagger"))
    tagger = load("tagger", args.model)
    if args.dask:
        from hepattn.tasks.dask_jobs import run_jobs

        work = functools.partial(_tag_job, args)
        results, failed, loads = run_jobs(args.dask, work, jobs, wanted(args.no_progress))
        print(f"Dask: {len(loads)} workers, model loads per worker {sorted(loads.values())}")
        for r in results:
            print(*r["wrote"], sep="\n")
    elif args.skip_bad:
        results, failed = run_each(lambda job: tag_jobs(args, [job], print), jobs)
    else:
        results, failed = [tag_jobs(args, jobs, print if len(jobs) > 1 else None)], []
    total = _merge(results)
    seen, label = total["seen"], tagger.run.data.label
    n = seen.get("jets", 0)
    print(f"tagged {n:,} jets with {tagger.run.kind} model {tagger.path}")
    print(
        "predicted class:  "
        + "  ".join(f"{c}:{k}" for c, k in zip(CLASSES, total["counts"], strict=True))
    )
    if seen.get("empty"):
        print(f"no towers (prob NaN, pred -1): {seen['empty']:,} jets")
    if n and seen["labelled"] == n and not seen["bad"] and seen["tagged"]:
        per_file = total["per_file"]
        held_out = tagger.has_training_info() and all(tagger.data_role(f) is None for f in per_file)
        print(
            f"accuracy against '{label}': {100 * seen['correct'] / seen['tagged']:.2f} %"
            + ("" if seen["tagged"] == n else " (jets with towers)")
            + (", held out (not among the model's training or validation files)"
               if held_out else "")
        )  # fmt: skip
    for path, entries in total["per_file"].items():
        note = tagger.data_note(path, entries)
        if note is not None:
            print(f"note: {note}")
    if len(jobs) == 1 and results:
        print(total["wrote"][0])
    return report_failed(failed, args.skip_bad)
