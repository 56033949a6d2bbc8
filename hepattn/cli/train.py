"""``hepattn train tagger|matcher``: train a model from ROOT files with a YAML config."""

from __future__ import annotations

import argparse
import shlex
import sys
from importlib import resources

import yaml

from hepattn.errors import HepattnError
from hepattn.training.distributed import is_main


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
    _common(t)
    t.add_argument(
        "--kind",
        choices=("transformer", "transformer_no_interaction", "pfn", "mass_hl"),
        help="model kind (default: transformer)",
    )
    t.set_defaults(func=run_tagger)
    m = tasks.add_parser(
        "matcher",
        help="jet-parton matcher (SPA-Net style) for all-hadronic ttbar",
        description="Train the matcher: P-MHA encoder + two symmetric tensor attention heads "
        "with the top-symmetric loss. Outputs as for the tagger (DIR/last.pt, DIR/best/, "
        "DIR/history.json).",
    )
    _common(m)
    m.set_defaults(func=run_matcher)


def _common(t: argparse.ArgumentParser) -> None:
    t.add_argument("--train", nargs="+", required=True, metavar="FILE", help="training files")
    t.add_argument("--val", nargs="+", required=True, metavar="FILE", help="validation files")
    t.add_argument("--out", required=True, metavar="DIR", help="output directory")
    t.add_argument("--config", metavar="YAML", help="run config (default: bundled, per --kind)")
    t.add_argument("--schema", help="schema of the input files (default: the config's)")
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
    t.add_argument("--resume", action="store_true", help="continue from DIR/last.pt")
    t.add_argument("--compile", action="store_true", help="wrap the model in torch.compile")
    t.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")


def _load_yaml(path: str | None, bundled: str) -> dict:
    if path is None:
        return yaml.safe_load(resources.files("hepattn.configs").joinpath(bundled).read_text())
    try:
        with open(path) as f:
            cfg = yaml.safe_load(f)
    except OSError as err:
        raise HepattnError(f"{path}: cannot read the config ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise HepattnError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(cfg, dict):
        raise HepattnError(f"{path}: a run config must be a YAML mapping, got {cfg!r}")
    return cfg


def _overrides(cfg: dict, args: argparse.Namespace) -> dict:
    training = cfg.setdefault("training", {})
    for key in ("seed", "epochs", "device", "threads"):
        if getattr(args, key) is not None:
            training[key] = getattr(args, key)
    if getattr(args, "compile", False):
        training["compile"] = True
    if getattr(args, "no_amp", False):
        training["amp"] = False
    return cfg


def _train(train, run, args: argparse.Namespace) -> dict:
    """Call a task's ``train_*`` function with the common command-line options."""
    if args.chunk_entries < 1:
        raise HepattnError(f"--chunk-entries must be at least 1, got {args.chunk_entries}")
    return train(
        run,
        args.train,
        args.val,
        args.out,
        schema=args.schema,
        resume=args.resume,
        progress=not args.no_progress and sys.stderr.isatty(),
        max_train=args.max_train,
        stream=args.stream,
        chunk_entries=args.chunk_entries,
        command="hepattn " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )


def tagger_run_config(args: argparse.Namespace) -> dict:
    """The run config dict: bundled default of the kind or --config, with CLI overrides.

    ``--kind`` wins over the ``kind`` of a ``--config`` file.
    """
    kind = args.kind or "transformer"
    name = "transformer" if kind.startswith("transformer") else kind
    cfg = _load_yaml(args.config, f"tagger_{name}.yaml")
    if args.kind is not None:
        cfg["kind"] = name
    if kind == "transformer_no_interaction":
        encoder = cfg.setdefault("model", {}).setdefault("encoder", {})
        encoder.setdefault("interaction", {})["enabled"] = False
    return _overrides(cfg, args)


def run_tagger(args: argparse.Namespace) -> int:
    from hepattn.tasks.tagging import TaggerRunConfig, train_tagger

    run = TaggerRunConfig.from_dict(tagger_run_config(args))
    result = _train(train_tagger, run, args)
    if not is_main():  # under torchrun, rank 0 reports
        return 0
    print(
        f"trained {run.kind} tagger ({result['params']:,} parameters) on "
        f"{result['train_jets']:,} jets in {result['epochs']} epochs, {result['seconds']:.0f} s"
    )
    print(
        f"best validation accuracy {100 * result['val_accuracy']:.2f} % "
        f"(epoch {result['best_epoch']}); model in {args.out}/best"
    )
    return 0


def run_matcher(args: argparse.Namespace) -> int:
    from hepattn.tasks.matching import MatcherRunConfig, train_matcher

    run = MatcherRunConfig.from_dict(_overrides(_load_yaml(args.config, "matcher.yaml"), args))
    result = _train(train_matcher, run, args)
    if not is_main():  # under torchrun, rank 0 reports
        return 0
    print(
        f"trained matcher ({result['params']:,} parameters) on {result['train_events']:,} "
        f"events in {result['epochs']} epochs, {result['seconds']:.0f} s"
    )
    print(
        f"best validation top efficiency {100 * result['val_top_efficiency']:.2f} % "
        f"(epoch {result['best_epoch']}); model in {args.out}/best"
    )
    return 0
