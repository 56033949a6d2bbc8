"""Prong-class tagging: transformer (with / without the interaction matrix), PFN, Mass + HL.

All four are trained by hepattn's own training loop on the same generated training set,
selected on the same validation set, and evaluated on the same held-out test set (top-1
accuracy with a bootstrap uncertainty, per-class accuracy, one-vs-rest AUCs).

Each model's result is written to ``benchmarks/results/tagger_runs/<model>.json`` as soon as
it is done, so models can be trained in parallel processes (``--models pfn mass_hl`` in one,
``--models transformer`` in another); every run then merges all per-model files into
``benchmarks/results/tagger.json``::

    {"train_jets": int, "test_jets": int,
     "models": {"transformer": {"accuracy": f, "accuracy_err": f, "params": int, ...}, ...}}

Data (not committed; generated, see the model card of the bundled tagger)::

    hepattn generate prongs -n 4000 --contained --seed 11 -o data/prongs_train.root
    hepattn generate prongs -n 700  --contained --seed 12 -o data/prongs_val.root
    hepattn generate prongs -n 1500 --contained --seed 13 -o data/prongs_test.root
    python benchmarks/bench_tagger.py --train data/prongs_train.root \\
        --val data/prongs_val.root --test data/prongs_test.root --threads 1 --epochs 12
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import torch
import yaml

from hepattn.tasks.tagging import (
    Tagger,
    TaggerRunConfig,
    classification_report,
    jet_weights,
    train_tagger,
)

RESULTS = Path(__file__).parent / "results"
RUNS = RESULTS / "tagger_runs"
CONFIGS = Path(__file__).resolve().parent.parent / "hepattn" / "configs"
MODELS = ("transformer", "transformer_no_interaction", "pfn", "mass_hl")


def run_config(model: str, args: argparse.Namespace) -> TaggerRunConfig:
    base = "transformer" if model.startswith("transformer") else model
    cfg = yaml.safe_load((CONFIGS / f"tagger_{base}.yaml").read_text())
    if model == "transformer_no_interaction":
        cfg["model"]["encoder"]["interaction"]["enabled"] = False
    cfg["training"].update(
        epochs=args.epochs, threads=args.threads, seed=args.seed, patience=args.patience
    )
    return TaggerRunConfig.from_dict(cfg)


def run_model(model: str, args: argparse.Namespace) -> dict:
    run = run_config(model, args)
    out = Path(args.work) / model
    summary = train_tagger(
        run,
        args.train,
        args.val,
        out,
        resume=args.resume,
        command=f"python benchmarks/bench_tagger.py --models {model} (see its docstring)",
    )
    tagger = Tagger.load(out / "best")
    ev = tagger.read(args.test, need_labels=True)
    t0 = time.perf_counter()
    prob = tagger.predict(ev)
    infer = time.perf_counter() - t0
    report = classification_report(prob, ev.event["label"], jet_weights(ev, run))
    return {
        "accuracy": report["accuracy"],
        "accuracy_err": report["accuracy_err"],
        "accuracy_unweighted": report["accuracy_unweighted"],
        "accuracy_unweighted_err": report["accuracy_unweighted_err"],
        "params": summary["params"],
        "per_class_accuracy": report["per_class_accuracy"],
        "auc_one_vs_rest": report["auc_one_vs_rest"],
        "val_accuracy": summary["val_accuracy"],
        "epochs": summary["epochs"],
        "best_epoch": summary["best_epoch"],
        "train_seconds": round(summary["seconds"], 1),
        "inference_ms_per_jet": round(1e3 * infer / max(len(ev), 1), 3),
        "train_jets": summary["train_jets"],
        "test_jets": report["n_jets"],
        "threads": args.threads,
        "machine": f"{platform.machine()} CPU"
        if not torch.cuda.is_available()
        else torch.cuda.get_device_name(),
    }


def merge() -> dict:
    models = {}
    for model in MODELS:
        path = RUNS / f"{model}.json"
        if path.exists():
            models[model] = json.loads(path.read_text())
    first = next(iter(models.values()), {})
    out = {
        "train_jets": first.get("train_jets", 0),
        "test_jets": first.get("test_jets", 0),
        "models": models,
    }
    (RESULTS / "tagger.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", nargs="+", required=True)
    p.add_argument("--val", nargs="+", required=True)
    p.add_argument("--test", nargs="+", required=True)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work", default="runs/bench_tagger", help="training output directories")
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    RUNS.mkdir(parents=True, exist_ok=True)
    for model in args.models:
        result = run_model(model, args)
        (RUNS / f"{model}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({model: {k: result[k] for k in ("accuracy", "accuracy_err", "params")}}))
        merge()


if __name__ == "__main__":
    main()
