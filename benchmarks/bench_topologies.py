"""Jet–parton matching for the declared topologies beside all-hadronic tt̄: the network
against each topology's classical baseline on the same held-out events.

For each topology (``ttbar-ljets``: lepton+jets χ²; ``hh-4b``: ATLAS's D_HH pairing), runs
:func:`hepattn.tasks.comparison.compare` (the ``hepattn compare --topology`` command)
with the topology's model on its held-out file, and writes
``benchmarks/results/topologies.json``::

    {"ttbar-ljets": {"rows": {row: {method: cell}}, "events": int, "baseline": str,
                     "model": str, "files": [...], "train_events": int, ...},
     "hh-4b": {...}}

Defaults: the bundled models (``hepattn/models/matcher-<topology>``) on the shipped samples
(``samples/ttbar_ljets.root``, ``samples/hh4b.root``; neither used in training)::

    python benchmarks/bench_topologies.py
    python benchmarks/bench_topologies.py --only hh-4b --model runs/hh4b/best --test FILE

With the bundled models, the held-out table is also written into each model's card, between
``<!-- test -->`` and ``<!-- /test -->`` (rendered from the same results, never typed).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = {
    "ttbar-ljets": ROOT / "samples" / "ttbar_ljets.root",
    "hh-4b": ROOT / "samples" / "hh4b.root",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=list(TOPOLOGIES), help="one topology")
    p.add_argument("--model", default="default", help="model directory (with --only)")
    p.add_argument("--test", help="held-out file (with --only)")
    args = p.parse_args()
    from hepattn.tasks.comparison import compare, format_comparison

    out_path = RESULTS / "topologies.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    for name, sample in TOPOLOGIES.items():
        if args.only and name != args.only:
            continue
        test = args.test if args.only and args.test else sample
        model = args.model if args.only else "default"
        r = compare(test, model, topology=name, timing_events=200)
        print(format_comparison(r))
        train = json.loads((Path(r["model"]) / "training.json").read_text())
        results[name] = {
            **{k: v for k, v in r.items() if k != "tables"},
            "files": [
                str(Path(f).relative_to(ROOT)) if Path(f).is_relative_to(ROOT) else f
                for f in r["files"]
            ],  # fmt: skip
            "model": str(Path(r["model"]).relative_to(ROOT))
            if Path(r["model"]).is_relative_to(ROOT)
            else r["model"],
            "train_events": train.get("train_events"),
            "train_epochs": train.get("epochs"),
            "train_seconds": train.get("seconds"),
            "machine": f"{platform.machine()} CPU",
        }
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out_path}")
    if not args.only or args.model == "default":
        for name, r in results.items():
            if not args.only or name == args.only:  # the others' training files may be gone
                write_card_table(name, r)


def data_lines(model: Path) -> str:
    """Card lines on the training and validation files: how each was generated (its
    ``generator`` and ``seed`` metadata) and the detector, read from the files themselves."""
    import uproot

    info = json.loads((model / "training.json").read_text())
    lines = []
    for role, key in (("training", "train_paths"), ("validation", "val_paths")):
        for path in info.get(key, []):
            if not Path(path).exists():
                lines.append(f"- **{role} file** `{Path(path).name}` (not on this machine)\n")
                continue
            with uproot.open(path) as f:
                gen, seed = str(f["generator"]), str(f["seed"])
                det = str(f["detector"]) if "detector" in f else "?"
            lines.append(
                f"- **{role} file** `{Path(path).name}`: seed {seed}, detector `{det}`; {gen}\n"
            )
    return "".join(lines)


def write_card_table(name: str, r: dict) -> None:
    """The held-out table of ``r`` into the bundled model's card (``<!-- test -->`` block)."""
    from hepattn.metrics.matching import format_table
    from hepattn.topology import load_topology

    card = ROOT / "hepattn" / "models" / f"matcher-{name}" / "card.md"
    if not card.exists() or Path(r["model"]).name != f"matcher-{name}":
        return
    methods = list(next(iter(r["rows"].values())))
    tables = {m: {row: r["rows"][row][m] for row in r["rows"]} for m in methods}
    block = (
        "<!-- test -->\n"
        + data_lines(Path(r["model"]) if Path(r["model"]).is_absolute() else ROOT / r["model"])
        + f"- **Held-out test** ({r['events']:,} events of "
        f"{', '.join(r['files'])}, never used in training; baseline: {r['baseline']}):\n\n"
        + format_table(tables, load_topology(name))
        + "\n<!-- /test -->"
    )
    from tables import write_card_block  # benchmarks/ is the script's directory

    write_card_block(card, block)


if __name__ == "__main__":
    main()
