"""``hepattn train tagger|matcher``: train a model from ROOT files with a YAML config."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys

from hepattn.cli._options import (
    add_btag_policy,
    add_friend,
    add_nonfinite,
    add_nonfinite_targets,
    add_output,
    add_progress,
    add_topology,
    add_weight,
    btag_policy,
    check_outputs,
    checked_topology,
)
from hepattn.errors import HepattnError
from hepattn.tasks.presets import DEFAULT_KIND, TAGGER_KINDS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model",
        description="Train a tagger or a matcher from ROOT (or SPANet HDF5) files.",
    )
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    t = tasks.add_parser(
        "tagger",
        help="prong-class jet tagger",
        description="Train a prong-class tagger (transformer with or without the interaction "
        "matrix, PFN, or Mass+HL). Writes DIR/last.pt (checkpoint each epoch, resumable), "
        "DIR/best/ (best model on validation: config, weights, standardization, card) and "
        "DIR/history.json.",
    )
    _common(t, "bundled, per --kind")
    t.add_argument(
        "--kind",
        choices=TAGGER_KINDS,
        help=f"model kind (default: {DEFAULT_KIND}); wins over the kind of a --config file",
    )
    m = tasks.add_parser(
        "matcher",
        help="jet-parton matcher (SPA-Net style) for a declared topology",
        description="Train the matcher: P-MHA encoder + one symmetric tensor attention head "
        "per resonance of the topology (two triplet heads with the top-symmetric loss for "
        "all-hadronic ttbar) + a detection head, loss minimised over the declared symmetries. "
        "Outputs as for the tagger (DIR/last.pt, DIR/best/, DIR/history.json).",
    )
    _common(
        m,
        "hepattn/configs/matcher.yaml, its topology and schema set by --topology",
    )
    add_topology(m)
    m.add_argument(
        "--regressions",
        metavar="all|KEY,...|none",
        help="regression heads for the topology's declared regressions: all, keys such as "
        "EVENT_nu_pz,t_had_pt, or none (overrides the config's model.regressions; default: "
        "the config's, none in hepattn/configs/matcher.yaml)",
    )
    add_nonfinite_targets(m)
    m.add_argument(
        "--classifications",
        metavar="all|NAME,...|none",
        help="event classification heads for the topology's declared classifications (e.g. "
        "signal against QCD and ttbar); each training and validation file then names its class "
        "as FILE:CLASS (overrides the config's model.classifications; default: none)",
    )
    m.add_argument(
        "--class-weights",
        choices=("balanced", "physical", "none"),
        default="balanced",
        help="with classification heads: weight each class alike in the loss (default), the "
        "backgrounds in their physical proportions from each file's generated cross-section "
        "(as much in all as the signal), or leave the events' own weights",
    )


def _common(t: argparse.ArgumentParser, default_config: str) -> None:
    t.add_argument(
        "--train",
        nargs="+",
        required=True,
        metavar="FILE",
        help="training files (FILE:CLASS with a matcher's classification heads)",
    )
    t.add_argument(
        "--val",
        nargs="+",
        metavar="FILE",
        help="validation files (or --val-fraction: exactly one of the two)",
    )
    t.add_argument(
        "--val-fraction",
        type=float,
        metavar="F",
        help="validate on the fraction F (0 < F < 1) of the training entries instead of --val "
        "files: entry i of the training files (numbered as one chain, from 0) is a validation "
        "entry when a hash of i and --seed falls below F; deterministic, disjoint from the "
        "training part, recorded in the model card and training.json, checked by --resume",
    )
    add_weight(t, "in the loss and the validation metrics", "overrides the config's data.weight")
    add_friend(t, "--friend", "--train file")
    add_friend(t, "--val-friend", "--val file")
    add_output(t, "output directory", "--out", required=True, metavar="DIR")
    t.add_argument("--config", metavar="YAML", help=f"run config (default: {default_config})")
    t.add_argument(
        "--schema",
        help="schema of the input files (default: the config's); the model remembers it",
    )
    t.add_argument("--tree", help="tree to read (default: the schema's)")
    t.add_argument("--seed", type=int, help="random seed (overrides the config)")
    t.add_argument("--epochs", type=int, help="maximum epochs (overrides the config)")
    t.add_argument("--device", help="auto, cpu or cuda (overrides the config)")
    t.add_argument("--threads", type=int, help="CPU threads (overrides the config; 0 = all)")
    t.add_argument("--max-train", type=int, metavar="N", help="use only the first N entries")
    t.add_argument(
        "--stream",
        action="store_true",
        help="read the training files chunk by chunk each epoch (sharded over torchrun ranks "
        "and loader workers) instead of holding them in memory",
    )
    t.add_argument(
        "--chunk-entries",
        type=int,
        default=20_000,
        metavar="N",
        help="entries per streamed chunk; the standardization is fitted on the first N "
        "(default 20000)",
    )
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue from DIR/last.pt; refused if it was written with other data files, "
        "seed or model (the differing keys are named)",
    )
    t.add_argument(
        "--force-resume",
        action="store_true",
        help="continue from DIR/last.pt even if its run config differs (logged)",
    )
    t.add_argument("--compile", action="store_true", help="wrap the model in torch.compile")
    t.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    t.add_argument(
        "--init-from",
        metavar="MODEL",
        help="fine-tune: start from this model's weights and standardization ('default': the "
        "bundled one; a model directory); the run must describe the same network (refused "
        "otherwise, naming the difference)",
    )
    t.add_argument(
        "--refit-standardization",
        action="store_true",
        help="with --init-from: fit the input standardization on this training set",
    )
    t.add_argument(
        "--freeze",
        action="append",
        choices=("encoder",),
        default=[],
        help="with --init-from: do not train this part of the network (repeatable)",
    )
    add_nonfinite(t)
    add_btag_policy(t)
    add_progress(t)
    t.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepattn.progress import wanted
    from hepattn.tasks.presets import load_run_config, task_class
    from hepattn.training.distributed import exit_now, is_main

    if args.chunk_entries < 1:
        raise HepattnError(f"--chunk-entries must be at least 1, got {args.chunk_entries}")
    if (args.val is None) == (args.val_fraction is None):
        raise HepattnError(
            "give validation files (--val FILE ...) or a fraction of the training entries "
            "(--val-fraction F), " + ("not both" if args.val is not None else "one of them")
        )
    if args.val_fraction is not None:
        from hepattn.data.split import EntrySplit

        EntrySplit(args.val_fraction, 0)  # a fraction outside (0, 1) fails here, in one line
    config = [args.config] if args.config else []
    if args.val_friend is not None and args.val is None:
        raise HepattnError(
            "--val-friend goes with --val files; with --val-fraction the validation entries "
            "are read with the training files' --friend"
        )
    inputs = [*args.train, *(args.val or []), *(args.friend or []), *(args.val_friend or [])]
    check_outputs(inputs, (args.output, "output directory", True), files=config)
    overrides = {k: getattr(args, k) for k in ("seed", "epochs", "device", "threads")}
    overrides["compile"] = True if args.compile else None
    overrides["amp"] = False if args.no_amp else None
    kind = getattr(args, "kind", None)
    task = args.task
    topology = checked_topology(args) if task == "matcher" else None
    run_config = load_run_config(
        task,
        args.config,
        topology=topology,
        regressions=getattr(args, "regressions", None),
        classifications=getattr(args, "classifications", None),
        kind=kind,
        training=overrides,
    )
    if args.weight is not None:
        weight = None if args.weight.lower() == "none" else args.weight
        data = dataclasses.replace(run_config.data, weight=weight)
        run_config = dataclasses.replace(run_config, data=data)
    result = task_class(task).train(
        run_config,
        args.train,
        args.val,
        args.output,
        val_fraction=args.val_fraction,
        schema=args.schema,
        tree=args.tree,
        resume=args.resume,
        force_resume=args.force_resume,
        nonfinite=args.nonfinite,
        nonfinite_targets=getattr(args, "nonfinite_targets", "mask"),
        class_weights=getattr(args, "class_weights", "balanced"),
        progress=wanted(args.no_progress),
        max_train=args.max_train,
        stream=args.stream,
        chunk_entries=args.chunk_entries,
        friends=args.friend,
        val_friends=args.val_friend,
        btag=btag_policy(args),
        init_from=args.init_from,
        refit_standardization=args.refit_standardization,
        freeze=tuple(args.freeze),
        command="hepattn " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    if not is_main():  # under torchrun, rank 0 reports
        exit_now(0)
        return 0
    if args.task == "tagger":
        what = f"{run_config.kind} tagger ({result['params']:,} parameters) on "
        best = f"best validation accuracy {100 * result['val_accuracy']:.2f} %"
    else:
        name = run_config.topology.name
        what = f"{name} matcher ({result['params']:,} parameters) on "
        best = (
            f"best validation resonance efficiency {100 * result['val_resonance_efficiency']:.2f} %"
        )
    unit = task_class(task).unit
    print(
        f"trained {what}{result[f'train_{unit}']:,} {unit} in {result['epochs']} epochs, "
        f"{result['seconds']:.0f} s"
    )
    print(f"{best} (epoch {result['best_epoch']}); model in {args.output}/best")
    exit_now(0)  # under torchrun: past gloo's teardown (hepattn.training.distributed.exit_now)
    return 0
