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


def throughput(model: str, args: argparse.Namespace, jets: int, steps: int) -> dict:
    """Training jets per CPU second of ``model`` before (random batches padded to the
    longest jet, pair network on every pair slot) and after (length-bucketed batches, pair
    network on real pairs only), on the same jets, one thread, same process."""
    from torch.utils.data import DataLoader, RandomSampler

    from hepattn.data import collate
    from hepattn.data.buckets import BucketBatchSampler
    from hepattn.nn.attention import PairEmbedding
    from hepattn.tasks.tagging import (
        TaggerTask,
        build_network,
        fit_standardizers,
        load_tagging_data,
        make_dataset,
    )

    run = run_config(model, args)
    ev = load_tagging_data(args.throughput_data, run, entry_stop=jets)
    std = fit_standardizers(ev, run)
    ds = make_dataset(ev, run, std)
    task = TaggerTask(run, std)
    bs = run.training.batch_size
    out = {}
    for setting in ("before", "after"):
        torch.manual_seed(args.seed)
        net = build_network(run.kind, run.model, len(run.data.features))
        for m in net.modules():
            if isinstance(m, PairEmbedding):
                m.real_pairs_only = setting == "after"
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        if setting == "after":
            loader = DataLoader(
                ds, batch_sampler=BucketBatchSampler(ds.lengths(), bs, seed=1), collate_fn=collate
            )
        else:
            sampler = RandomSampler(ds, generator=torch.Generator().manual_seed(1))
            loader = DataLoader(ds, batch_size=bs, sampler=sampler, collate_fn=collate)
        n, cpu, slots, real = 0, 0.0, 0, 0
        for k, batch in enumerate(loader):
            if k == steps + 2:
                break
            t = time.process_time()
            loss = task.loss(net, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if k >= 2:  # two warm-up steps
                cpu += time.process_time() - t
                n += len(batch)
                slots += batch.mask.numel()
                real += int(batch.mask.sum())
        out[setting] = {"jets_per_cpu_s": n / cpu, "real_slot_fraction": real / slots}
    out["speedup"] = out["after"]["jets_per_cpu_s"] / out["before"]["jets_per_cpu_s"]
    return out


def merge() -> dict:
    models = {}
    for model in MODELS:
        path = RUNS / f"{model}.json"
        if path.exists():
            models[model] = json.loads(path.read_text())
    speeds_path = RESULTS / "tagger_throughput.json"
    speeds = json.loads(speeds_path.read_text()) if speeds_path.exists() else {}
    for model, speed in speeds.items():
        if model in models:
            models[model]["train_jets_per_cpu_s"] = speed["after"]["jets_per_cpu_s"]
            models[model]["train_jets_per_cpu_s_before"] = speed["before"]["jets_per_cpu_s"]
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
    p.add_argument("--train", nargs="+")
    p.add_argument("--val", nargs="+")
    p.add_argument("--test", nargs="+")
    p.add_argument(
        "--throughput-data",
        nargs="+",
        help="only measure training jets per CPU second, before and after bucketing and the "
        "real-pair path, on these jets (no training); merged into tagger.json",
    )
    p.add_argument("--throughput-steps", type=int, default=40)
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
    if args.throughput_data:
        torch.set_num_threads(args.threads)
        speeds = {}
        for model in args.models:
            speeds[model] = throughput(model, args, 50 * 128, args.throughput_steps)
            print(json.dumps({model: speeds[model]}))
        (RESULTS / "tagger_throughput.json").write_text(json.dumps(speeds, indent=2) + "\n")
        merge()
        return
    if not (args.train and args.val and args.test):
        p.error("--train, --val and --test are needed to train (or give --throughput-data)")
    for model in args.models:
        result = run_model(model, args)
        (RUNS / f"{model}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({model: {k: result[k] for k in ("accuracy", "accuracy_err", "params")}}))
        merge()


if __name__ == "__main__":
    main()
