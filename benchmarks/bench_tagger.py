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

Data (not committed; generated on the card's calorimeter, three seeds)::

    hepattn generate prongs -n 20000 --contained --seed 101 -o data/prongs_train.root
    hepattn generate prongs -n 1000  --contained --seed 103 -o data/prongs_val.root
    hepattn generate prongs -n 2000  --contained --seed 107 -o data/prongs_test.root

Learning curve (each model on the first 2k, 5k, 10k, 20k jets per class; the 20k runs also
fill ``tagger.json``; finished points are skipped, so the same command continues after an
interruption, with ``--resume`` for the run that was cut)::

    python benchmarks/bench_tagger.py --train data/prongs_train.root \\
        --val data/prongs_val.root --test data/prongs_test.root --threads 1 \\
        --curve 2000 5000 10000 20000 --models transformer [--resume]

Confusion matrix and ROC curves of the bundled tagger on the test set
(``tagger_confusion.png``, ``tagger_roc.png``; ``hepattn eval tagger TEST -o DIR`` writes the
same)::

    python benchmarks/bench_tagger.py --plots data/prongs_test.root

The PFN at the paper's size (``pfn_1p2m``) and the Mass + HL network on the jet mass and 135
N-subjettiness values (``mass_hl135``) are further ``--models`` choices. A model with a
learning-rate grid (:data:`hepattn.tasks.presets.LR_GRIDS`: ``pfn_1p2m`` 3e-4, 1e-4) trains
once per rate and keeps the best on the validation set; its run file records ``lr`` and
``lr_grid`` (each rate's validation accuracy, epochs and CPU seconds), and its
``cpu_seconds`` include the whole grid.

Equal CPU budget: ``--cpu-budget transformer`` trains each model again, stopping once it has
spent the transformer's training CPU seconds at the same curve point (or ``--cpu-budget 600``:
seconds), unless early stopping or the epoch cap comes first (give a large ``--epochs``);
each run goes to ``tagger_runs/budget_<jets>_<model>.json`` with ``cpu_budget_s``,
``cpu_seconds``, ``train_loop_cpu_seconds`` (what the cap counts) and ``ended_by``
(``cpu_budget``, ``early_stopping`` or ``epoch_cap``), and the curve gains ``equal_cpu``::

    python benchmarks/bench_tagger.py --train ... --val ... --test ... --threads 1 \
        --curve 2000 20000 --models pfn pfn_1p2m mass_hl --cpu-budget transformer --epochs 400

Rebuild ``tagger.json`` and the learning curve from the run files (no training)::

    python benchmarks/bench_tagger.py --merge

Training speed before/after bucketing and the real-pair path (``tagger_throughput.json``,
merged into ``tagger.json`` as ``train_jets_per_cpu_s``)::

    python benchmarks/bench_tagger.py --throughput-data data/prongs_test.root --threads 1
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import torch

from hepattn.tasks.presets import LR_GRIDS, TAGGER_KINDS, run_config_dict
from hepattn.tasks.tagging import Tagger, TaggerRunConfig, classification_report
from hepattn.tasks.trainer import TrainOptions, train_lr_grid, train_task
from hepattn.training import stopped_early

RESULTS = Path(__file__).parent / "results"
RUNS = RESULTS / "tagger_runs"
WORK = Path("runs/bench_tagger")  # the default --work
#: Every tagger kind and variant (``pfn_1p2m``: the PFN at the paper's size; ``mass_hl135``:
#: Mass + HL on 135 N-subjettiness values; :data:`hepattn.tasks.presets.VARIANTS`).
MODELS = TAGGER_KINDS
#: The models of the learning curve (``--models`` default; always listed in its JSON).
CURVE_MODELS = ("transformer", "transformer_no_interaction", "pfn", "mass_hl")
#: Early-stopping patience of the runs recorded before run files stored it (issue 12's curve:
#: ``--epochs 20 --patience 4``).
RECORDED_PATIENCE = 4


def run_config(
    model: str, args: argparse.Namespace, cpu_budget_s: float | None = None
) -> TaggerRunConfig:
    cfg = run_config_dict("tagger", kind=model)
    cfg["training"].update(  # patience is no command-line override of `hepattn train`
        epochs=args.epochs,
        threads=args.threads,
        seed=args.seed,
        patience=args.patience,
        cpu_budget_s=cpu_budget_s,
    )
    return TaggerRunConfig.from_dict(cfg)


def run_model(
    model: str,
    args: argparse.Namespace,
    jets_per_class: int | None = None,
    cpu_budget: tuple[float, str] | None = None,
) -> dict:
    """Train ``model`` (on the first ``jets_per_class`` × 7 training jets when given: the
    training files hold blocks of 250 jets cycling through the classes, so the head of the
    file is balanced; under ``cpu_budget`` = (seconds, where they come from) until that many
    training CPU seconds are spent) and evaluate it on the test set. A model with a
    learning-rate grid (:data:`LR_GRIDS`) is trained once per rate, the best on validation
    kept."""
    budget_s = None if cpu_budget is None else cpu_budget[0]
    run = run_config(model, args, budget_s)
    name = model if cpu_budget is None else f"{model}@cpu"
    out = Path(args.work) / (name if jets_per_class is None else f"{jets_per_class}/{name}")
    size = "" if jets_per_class is None else f" --curve {jets_per_class}"
    budget = "" if cpu_budget is None else f" --cpu-budget {args.cpu_budget}"
    options = TrainOptions(
        resume=args.resume,
        max_train=None if jets_per_class is None else 7 * jets_per_class,
        command=f"python benchmarks/bench_tagger.py --models {model}{size}{budget} "
        "(see its docstring)",
    )
    cpu0 = time.process_time()
    if model in LR_GRIDS:
        grid = LR_GRIDS[model]
        summary, out = train_lr_grid(Tagger, run, args.train, args.val, out, grid, options)
    else:
        summary = train_task(Tagger, run, args.train, args.val, out, options)
    cpu = time.process_time() - cpu0
    tagger = Tagger.load(out / "best")
    ev = tagger.read(args.test, need_labels=True)
    t0 = time.perf_counter()
    prob = tagger.predict(ev)
    infer = time.perf_counter() - t0
    report = classification_report(prob, ev.derived["label"], tagger.weights(ev))
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
        "epoch_cap": args.epochs,
        "patience": args.patience,
        "lr": summary["lr"],
        **({"lr_grid": summary["lr_grid"]} if "lr_grid" in summary else {}),
        "train_seconds": round(summary["seconds"], 1),
        **legs(out),
        "cpu_seconds": round(cpu, 1),
        "train_loop_cpu_seconds": summary["cpu_seconds"],
        "ended_by": summary["ended_by"],
        **(
            {}
            if cpu_budget is None
            else {"cpu_budget_s": round(cpu_budget[0], 1), "cpu_budget_of": cpu_budget[1]}
        ),
        "inference_ms_per_jet": round(1e3 * infer / max(len(ev), 1), 3),
        "train_jets": summary["train_jets"],
        "test_jets": report["n_jets"],
        "threads": args.threads,
        "machine": f"{platform.machine()} CPU"
        if not torch.cuda.is_available()
        else torch.cuda.get_device_name(),
    }


def cpu_budget(spec: str, jets_per_class: int | None) -> tuple[float, str]:
    """The CPU seconds of ``--cpu-budget spec`` and where they come from: ``spec`` seconds,
    or the training CPU seconds of model ``spec``'s run at the same curve point (its
    ``train_loop_cpu_seconds``, else for runs recorded before those were, its wall seconds
    over all legs on one thread, an upper bound of its CPU time)."""
    try:
        return float(spec), "seconds given"
    except ValueError:
        pass
    name = f"curve_{jets_per_class}_{spec}.json" if jets_per_class else f"{spec}.json"
    path = RUNS / name
    if not path.exists():
        raise SystemExit(f"--cpu-budget {spec}: no run file {path} to take the budget from")
    run = json.loads(path.read_text())
    for key in ("train_loop_cpu_seconds", "train_seconds_all_legs", "train_seconds"):
        if run.get(key):
            return float(run[key]), f"{spec} ({name}: {key})"
    raise SystemExit(f"{path} records no training time")


def legs(out: Path) -> dict:
    """Epoch wall times of the run in ``out`` over all its legs (``history.json`` keeps the
    epochs of earlier, interrupted legs): ``epoch_seconds`` and their sum
    ``train_seconds_all_legs`` (``train_seconds`` is the last leg's, reading included)."""
    path = Path(out) / "history.json"
    if not path.exists():
        return {}
    epochs = [round(h["seconds"], 1) for h in json.loads(path.read_text())]
    return {"epoch_seconds": epochs, "train_seconds_all_legs": round(sum(epochs), 1)}


def throughput(model: str, args: argparse.Namespace, jets: int, steps: int) -> dict:
    """Training jets per CPU second of ``model`` before (random batches padded to the
    longest jet, pair network on every pair slot) and after (length-bucketed batches, pair
    network on real pairs only), on the same jets, one thread, same process."""
    from torch.utils.data import DataLoader, RandomSampler

    from hepattn.data import collate
    from hepattn.data.buckets import BucketBatchSampler
    from hepattn.nn.attention import PairEmbedding

    run = run_config(model, args)
    task = Tagger(run)
    ev = task.read(args.throughput_data, need_labels=True, entry_stop=jets)
    task.standardizers = task.fit_standardizers(ev)
    ds = task.dataset(ev)
    bs = run.training.batch_size
    out = {}
    for setting in ("before", "after"):
        torch.manual_seed(args.seed)
        net = task.build()
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


def converged(run: dict) -> bool:
    """Early stopping ended the recorded run (:func:`hepattn.training.stopped_early`); runs
    recorded before ``patience`` was stored used ``--patience 4`` (:data:`RECORDED_PATIENCE`)."""
    return stopped_early(run["epochs"], run["best_epoch"], run.get("patience", RECORDED_PATIENCE))


#: Keys of a budget run kept in ``equal_cpu`` of ``tagger.json`` and the learning curve.
EQUAL_CPU_KEYS = (
    "accuracy",
    "accuracy_err",
    "epochs",
    "best_epoch",
    "cpu_budget_s",
    "cpu_seconds",
    "train_loop_cpu_seconds",
    "ended_by",
)


def merge() -> dict:
    """``tagger.json``: the models trained on the most jets of the learning curve (all on the
    same data), or, without curve runs, the full-file runs ``<model>.json``; each model gets
    ``converged`` (:func:`converged`) and, where a budget run exists, ``equal_cpu``."""
    sizes = sorted({int(p.stem.split("_")[1]) for p in RUNS.glob("curve_*_*.json")})
    models = {}
    for model in MODELS:
        tail = f"{sizes[-1]}_{model}" if sizes else model
        path = RUNS / f"curve_{tail}.json" if sizes else RUNS / f"{model}.json"
        if path.exists():
            models[model] = json.loads(path.read_text())
            models[model]["converged"] = converged(models[model])
            budget = RUNS / f"budget_{tail}.json"
            if budget.exists():
                b = json.loads(budget.read_text())
                models[model]["equal_cpu"] = {k: b.get(k) for k in EQUAL_CPU_KEYS}
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


def merge_curve() -> dict:
    """``tagger_learning_curve.json`` and ``tagger_learning_curve.png`` from the curve runs."""
    runs = {}
    for path in RUNS.glob("curve_*_*.json"):
        size, model = path.stem[len("curve_") :].split("_", 1)
        runs.setdefault(model, {})[int(size)] = json.loads(path.read_text())
    sizes = sorted({n for per in runs.values() for n in per})
    old_path = RESULTS / "tagger_learning_curve.json"
    old = json.loads(old_path.read_text()) if old_path.exists() else {"models": {}}

    def all_legs(model: str, n: int) -> float | None:
        """Seconds over all legs: from the run's history.json if it is still there, else the
        run file's, else the value recorded in the curve file before."""
        got = legs(WORK / str(n) / model).get("train_seconds_all_legs")
        got = got or runs[model][n].get("train_seconds_all_legs")
        if got is None and n in old.get("jets_per_class", []):
            got = old["models"].get(model, {}).get("train_seconds_all_legs", {})
            got = got[old["jets_per_class"].index(n)] if got else None
        return got

    budgets = {}
    for path in RUNS.glob("budget_*_*.json"):
        size, model = path.stem[len("budget_") :].split("_", 1)
        if size.isdigit():  # not a full-file run, budget_<model>.json
            budgets.setdefault(model, {})[int(size)] = json.loads(path.read_text())

    out = {"jets_per_class": sizes, "models": {}}
    for model in (m for m in MODELS if m in CURVE_MODELS or m in runs):
        per = runs.get(model, {})
        out["models"][model] = {
            "accuracy": [per[n]["accuracy"] if n in per else None for n in sizes],
            "accuracy_err": [per[n]["accuracy_err"] if n in per else None for n in sizes],
            "train_seconds": [per[n]["train_seconds"] if n in per else None for n in sizes],
            "train_seconds_all_legs": [all_legs(model, n) if n in per else None for n in sizes],
            "epochs": [per[n]["epochs"] if n in per else None for n in sizes],
            "converged": [converged(per[n]) if n in per else None for n in sizes],
        }
        if model in budgets:  # the same model at another model's CPU budget
            b = budgets[model]
            out["models"][model]["equal_cpu"] = {
                k: [b[n].get(k) if n in b else None for n in sizes] for k in EQUAL_CPU_KEYS
            }
    (RESULTS / "tagger_learning_curve.json").write_text(json.dumps(out, indent=2) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return out
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, m in out["models"].items():
        pts = [(n, a, e) for n, a, e in zip(sizes, m["accuracy"], m["accuracy_err"], strict=True)]
        pts = [p for p in pts if p[1] is not None]
        if pts:
            n, a, e = zip(*pts, strict=True)
            ax.errorbar(n, [100 * x for x in a], [100 * x for x in e], marker="o", label=model)
    ax.set_xscale("log")
    ax.set_xlabel("training jets per class")
    ax.set_ylabel("test accuracy [%] (flat in mass and pT)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(RESULTS / "tagger_learning_curve.png", dpi=100)
    plt.close(fig)
    return out


def bundled_plots(test: list[str]) -> dict:
    """Confusion matrix and ROC curves of the bundled tagger on ``test``, as
    ``tagger_confusion.png`` and ``tagger_roc.png``; returns its report."""
    import shutil
    import tempfile

    tagger = Tagger.load("default")
    with tempfile.TemporaryDirectory() as tmp:
        report, _ = tagger.evaluate_files(test, out_dir=tmp)
        for name in ("confusion", "roc"):
            shutil.copyfile(Path(tmp) / f"{name}.png", RESULTS / f"tagger_{name}.png")
    return report


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
    p.add_argument(
        "--plots",
        nargs="+",
        metavar="TEST",
        help="only write the bundled tagger's confusion matrix and ROC curves on TEST",
    )
    p.add_argument(
        "--curve",
        nargs="+",
        type=int,
        metavar="JETS_PER_CLASS",
        help="learning curve: train each model on the first JETS_PER_CLASS × 7 training jets "
        "for each value; the largest also fills tagger.json",
    )
    p.add_argument("--models", nargs="+", default=list(CURVE_MODELS), choices=MODELS)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work", default="runs/bench_tagger", help="training output directories")
    p.add_argument("--resume", action="store_true")
    p.add_argument(
        "--cpu-budget",
        metavar="SECONDS_OR_MODEL",
        help="train the models again, each stopped once it has spent this many training CPU "
        "seconds, or those of this model's run at the same point (e.g. transformer); written "
        "to budget_<jets>_<model>.json",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="only rebuild tagger.json and tagger_learning_curve.json/.png from the run files",
    )
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    RUNS.mkdir(parents=True, exist_ok=True)
    if args.plots:
        torch.set_num_threads(args.threads)
        report = bundled_plots(args.plots)
        print(json.dumps({k: v for k, v in report.items() if "accuracy" in k}, indent=2))
        return
    if args.merge:
        merge()
        merge_curve()
        return
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
    for size in sorted(args.curve or []):
        for model in args.models:
            prefix = "curve" if args.cpu_budget is None else "budget"
            path = RUNS / f"{prefix}_{size}_{model}.json"
            if path.exists():
                continue  # finished in an earlier session (an interrupted one: --resume)
            budget = None if args.cpu_budget is None else cpu_budget(args.cpu_budget, size)
            result = run_model(model, args, size, budget)
            path.write_text(json.dumps(result, indent=2) + "\n")
            if size == max(args.curve) and budget is None:
                (RUNS / f"{model}.json").write_text(json.dumps(result, indent=2) + "\n")
            merge()
            merge_curve()
            keys = ("accuracy", "params", "cpu_seconds", "ended_by")
            print(json.dumps({f"{model}@{size}": {k: result[k] for k in keys}}))
    if args.curve:
        return
    for model in args.models:
        budget = None if args.cpu_budget is None else cpu_budget(args.cpu_budget, None)
        result = run_model(model, args, cpu_budget=budget)
        name = f"{model}.json" if budget is None else f"budget_{model}.json"
        (RUNS / name).write_text(json.dumps(result, indent=2) + "\n")
        keys = ("accuracy", "accuracy_err", "params", "cpu_seconds", "ended_by")
        print(json.dumps({model: {k: result[k] for k in keys}}))
        merge()


if __name__ == "__main__":
    main()
