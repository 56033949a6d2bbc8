"""``hepattn train tagger``: train a tagger from ROOT files with a YAML config."""

from __future__ import annotations

import argparse
import shlex
import sys
from importlib import resources

import yaml

from hepattn.errors import HepattnError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a model", description="Train a model.")
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    t = tasks.add_parser(
        "tagger",
        help="prong-class jet tagger",
        description="Train a prong-class tagger (transformer with or without the interaction "
        "matrix, PFN, or Mass+HL). Writes DIR/last.pt (checkpoint each epoch, resumable), "
        "DIR/best/ (best model on validation: config, weights, standardization, card) and "
        "DIR/history.json.",
    )
    t.add_argument("--train", nargs="+", required=True, metavar="FILE", help="training files")
    t.add_argument("--val", nargs="+", required=True, metavar="FILE", help="validation files")
    t.add_argument("--out", required=True, metavar="DIR", help="output directory")
    t.add_argument(
        "--config", metavar="YAML", help="run config (default: the bundled one of --kind)"
    )
    t.add_argument(
        "--kind",
        choices=("transformer", "transformer_no_interaction", "pfn", "mass_hl"),
        help="model kind (default: transformer)",
    )
    t.add_argument("--schema", help="schema of the input files (default: the config's)")
    t.add_argument("--seed", type=int, help="random seed (overrides the config)")
    t.add_argument("--epochs", type=int, help="maximum epochs (overrides the config)")
    t.add_argument("--device", help="auto, cpu or cuda (overrides the config)")
    t.add_argument("--threads", type=int, help="CPU threads (overrides the config; 0 = all)")
    t.add_argument("--max-train", type=int, metavar="N", help="use only the first N training jets")
    t.add_argument("--resume", action="store_true", help="continue from DIR/last.pt")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=run_tagger)


def tagger_run_config(args: argparse.Namespace) -> dict:
    """The run config dict: bundled default of the kind or --config, with CLI overrides."""
    kind = args.kind or "transformer"
    if args.config:
        try:
            with open(args.config) as f:
                cfg = yaml.safe_load(f)
        except OSError as err:
            raise HepattnError(f"{args.config}: cannot read the config ({err.strerror})") from None
        except yaml.YAMLError as err:
            raise HepattnError(f"{args.config}: not valid YAML ({err})") from None
    else:
        name = "transformer" if kind.startswith("transformer") else kind
        text = resources.files("hepattn.configs").joinpath(f"tagger_{name}.yaml").read_text()
        cfg = yaml.safe_load(text)
    if kind == "transformer_no_interaction":
        cfg["model"]["encoder"].setdefault("interaction", {})["enabled"] = False
    training = cfg.setdefault("training", {})
    for key in ("seed", "epochs", "device", "threads"):
        if getattr(args, key) is not None:
            training[key] = getattr(args, key)
    return cfg


def run_tagger(args: argparse.Namespace) -> int:
    from hepattn.tasks.tagging import TaggerRunConfig, train_tagger

    run = TaggerRunConfig.from_dict(tagger_run_config(args))
    command = "hepattn " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = train_tagger(
        run,
        args.train,
        args.val,
        args.out,
        schema=args.schema,
        resume=args.resume,
        progress=not args.no_progress and sys.stderr.isatty(),
        max_train=args.max_train,
        command=command,
    )
    print(
        f"trained {run.kind} tagger ({result['params']:,} parameters) on "
        f"{result['train_jets']:,} jets in {result['epochs']} epochs, {result['seconds']:.0f} s"
    )
    print(
        f"best validation accuracy {100 * result['val_accuracy']:.2f} % "
        f"(epoch {result['best_epoch']}); model in {args.out}/best"
    )
    return 0
