"""Fine-tuning the bundled models to another detector (issue 26): the bundled model as it is,
the same network trained from scratch on a small target-domain sample, and the bundled model
fine-tuned on it (``train --init-from default``), on held-out target-domain events.

Target domain: hepattn's generator with the other calorimeter (``--detector uniform``) and an
energy scale shifted by ``--jes`` (+5 %: jet pT and mass, or the towers' pT and energy, scaled
on a copy of the files). Data: ``sh benchmarks/jobs/ft26.sh``.

    python benchmarks/bench_finetune.py [--tasks matcher tagger]

Writes ``benchmarks/results/finetune.json``: ``{task: {"as_is", "scratch", "fine_tuned",
"train_events", "test_events", "target_domain", …}}`` (matcher: inclusive ε_event; tagger:
weighted accuracy).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import uproot

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "data"
WORK = DATA / "ft26"

#: task → (train, val, test) files of the target domain, the tree, the branches scaled
FILES = {
    "matcher": (
        ("ft26/ttbar_train.root", "ft26/ttbar_val.root", "ft26/ttbar_test.root"),
        "events",
        ("jet_pt", "jet_mass"),
    ),
    "tagger": (
        ("p22_uniform_train.root", "p22_uniform_val.root", "p22_uniform_test.root"),
        "jets",
        ("tower_pt", "tower_e"),
    ),
}


def shifted(src: Path, dst: Path, tree: str, branches, factor: float) -> Path:
    """A copy of ``src`` with ``branches`` multiplied by ``factor`` (metadata kept)."""
    from hepattn.data import write_tree

    if dst.exists():
        return dst
    with uproot.open(src) as f:
        t = f[tree]
        arrays = {k: t[k].array() for k in t.keys()}
        meta = {k.split(";")[0]: str(f[k]) for k, c in f.classnames().items() if c == "TObjString"}
    groups = {
        k[1:]
        for k in arrays
        if k.startswith("n") and any(x.startswith(k[1:] + "_") for x in arrays)
    }
    data: dict = {}
    for k, v in arrays.items():
        if k in branches:
            v = v * factor
        prefix = k.split("_")[0]
        if prefix in groups and k.startswith(prefix + "_"):
            data.setdefault(prefix, {})[k[len(prefix) + 1 :]] = v
        elif not (k.startswith("n") and k[1:] in groups):
            data[k] = np.asarray(v) if v.ndim == 1 else v
    import awkward as ak

    data = {k: ak.zip(v) if isinstance(v, dict) else v for k, v in data.items()}
    write_tree(dst, data, tree=tree, metadata=meta)
    return dst


def score(task, path: Path) -> tuple[float, int]:
    """The headline metric of ``task`` on ``path`` and the number of test entries."""
    report, _ = task.evaluate_files([path], domain="ignore")
    if task.name == "tagger":
        return float(report["accuracy"]), int(report["n_jets"])
    return float(report["rows"]["inclusive"]["event"]), int(report["events"])


def main() -> None:
    from hepattn.tasks.presets import task_class

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(FILES), choices=list(FILES))
    p.add_argument("--jes", type=float, default=1.05, help="energy-scale factor of the target")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--fine-tune-lr", type=float, default=3e-4)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import dataclasses

    import torch

    torch.set_num_threads(1)
    path = RESULTS / "finetune.json"
    out = json.loads(path.read_text()) if path.exists() else {}
    for name in args.tasks:
        files, tree, branches = FILES[name]
        src = [DATA / f for f in files]
        train, val, test = (
            shifted(s, WORK / f"{name}_{s.stem}_jes.root", tree, branches, args.jes) for s in src
        )
        cls = task_class(name)
        bundled = cls.load("default")
        as_is, n_test = score(bundled, test)
        run = bundled.run  # the bundled network and inputs: the same for all three
        training = dataclasses.replace(run.training, epochs=args.epochs, threads=1)
        run = dataclasses.replace(run, training=training)
        t0 = time.process_time()
        scratch_info = cls.train(run, [train], [val], WORK / f"{name}_scratch")
        scratch_cpu = time.process_time() - t0
        ft_run = dataclasses.replace(
            run, training=dataclasses.replace(training, lr=args.fine_tune_lr)
        )
        t0 = time.process_time()
        ft_info = cls.train(ft_run, [train], [val], WORK / f"{name}_finetuned", init_from="default")
        ft_cpu = time.process_time() - t0
        scratch = score(cls.load(WORK / f"{name}_scratch" / "best"), test)[0]
        tuned = score(cls.load(WORK / f"{name}_finetuned" / "best"), test)[0]
        unit = cls.unit
        out[name] = {
            "as_is": as_is,
            "scratch": scratch,
            "fine_tuned": tuned,
            "train_events": int(scratch_info[f"train_{unit}"]),
            "test_events": n_test,
            "target_domain": f"--detector uniform, energy scale × {args.jes:g}",
            "epochs": {"scratch": scratch_info["epochs"], "fine_tuned": ft_info["epochs"]},
            "lr": {"scratch": run.training.lr, "fine_tuned": args.fine_tune_lr},
            "cpu_seconds": {"scratch": round(scratch_cpu, 1), "fine_tuned": round(ft_cpu, 1)},
            "metric": "weighted accuracy" if name == "tagger" else "inclusive ε_event",
            "base_model": str(bundled.path.relative_to(ROOT)),
        }
        print(name, json.dumps({k: out[name][k] for k in ("as_is", "scratch", "fine_tuned")}))
        path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
