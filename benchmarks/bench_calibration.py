"""Calibration of the bundled matchers' probabilities (issue 24): raw, and through isotonic
maps fitted on each model's validation file, measured on held-out events.

    sh benchmarks/jobs/cal24.sh        # the validation files (seeds of the cards)
    python benchmarks/bench_calibration.py [--save]

For each bundled matcher: the maps are fitted on its validation file
(``data/cal24/<topology>_val.root``), the reliability of the assignment and detection
probabilities measured on the shipped sample of its topology (held out: never trained or
validated on) before and after the maps, and the purity curves written. ``--save`` stores the
maps with the bundled model (``calibration_map.json``, bound to its weights by hash), so that
``match``, ``compare``, ``eval`` and ``hepattn.api`` give calibrated probabilities.
Writes ``benchmarks/results/calibration.json`` (per model and resonance the ECE before and
after the maps), ``calibration_details.json`` (files, events, purity curves) and
``calibration_<topology>.png``; models whose validation file is missing are left as they were.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "data" / "cal24"

#: bundled model → (topology, validation file, held-out file)
MODELS = {
    "matcher": ("ttbar-allhad", "ttbar_allhad_val.root", "samples/ttbar_allhad.root"),
    "matcher-ttbar-ljets": ("ttbar-ljets", "ttbar_ljets_val.root", "samples/ttbar_ljets.root"),
    "matcher-hh-4b": ("hh-4b", "hh4b_val.root", "samples/hh4b.root"),
}


def _ece(r: dict | None) -> float | None:
    return None if r is None else round(r["ece"], 4)


def noise_floors(m, ev, draws: int = 20) -> dict:
    """Per resonance and kind, the ECE a perfectly calibrated model would show on these
    events (outcomes drawn from its own calibrated probabilities, mean of ``draws``): what
    the finite sample alone gives."""
    import numpy as np

    from hepattn.metrics.calibration import ece, outcomes

    rng = np.random.default_rng(0)
    slots, prob, det = m.predict(ev)
    _, present = outcomes(slots, ev.derived["truth"], m.topology)
    enough = ev.derived["n_jets"] >= m.topology.n_jet_daughters
    out = {}
    for r, res in enumerate(m.topology.resonances):
        p = prob[present[:, r] & np.isfinite(prob[:, r]), r]
        d = det[enough, r]
        out[res.name] = {
            kind: round(float(np.mean([ece(x, rng.random(len(x)) < x) for _ in range(draws)])), 4)
            for kind, x in (("assignment", p), ("detection", d))
        }
    return out


def card_text(record: dict, entry: dict, test: str) -> str:
    """The card's "Calibration" section: per resonance the map chosen and the ECE before and
    after it on the held-out file."""
    lines = [
        f"`calibration_map.json`: per resonance and jet-multiplicity row (< n, n, n + 1, "
        f"≥ n + 2 jets for n = {record['jet_thresholds'][0]} jet daughters) a map of the "
        f"assignment and the detection probability, fitted on {record['fitted_on']} (the "
        "validation seed), each chosen among identity, Platt and isotonic by two-fold "
        "cross-validated ECE "
        "(`benchmarks/bench_calibration.py --save`); applied by `match`, `compare`, `eval`, "
        "`hepattn.api` and the exported ONNX graph. ECE on the held-out "
        f"`{test}`, raw → calibrated:",
        "",
    ]
    for res, maps in record["resonances"].items():
        cells = []
        for kind in ("assignment", "detection"):
            if kind in maps:
                e = entry[res][kind]
                how = "/".join(r["method"] for r in maps[kind]["rows"])
                cells.append(f"{kind} ({how}) {e['ece_raw']:.3f} → {e['ece']:.3f}")
        lines.append(f"- {res}: " + "; ".join(cells))
    return "\n".join(lines)


def main() -> None:
    from hepattn.models import set_card_section
    from hepattn.plotting import reliability_png
    from hepattn.tasks.calibration import calibration_report, fit_calibration, save_calibration
    from hepattn.tasks.matching import Matcher

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--save", action="store_true", help="store the maps with the bundled models")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(args.threads)
    path, details_path = RESULTS / "calibration.json", RESULTS / "calibration_details.json"
    out = json.loads(path.read_text()) if path.exists() else {}
    details = json.loads(details_path.read_text()) if details_path.exists() else {}
    for name, (topology, val, test) in MODELS.items():
        if not (DATA / val).exists():
            print(f"{name}: no {DATA / val} (benchmarks/jobs/cal24.sh): kept as it was")
            continue
        t0 = time.perf_counter()
        m = Matcher.load(ROOT / "hepattn" / "models" / name, topology)
        m.calibration = None  # measure the network itself, then its maps
        ev_val = m.read_labelled(DATA / val)
        record = fit_calibration(m, ev_val, source=f"{val} ({len(ev_val):,} events)")
        ev = m.read_labelled(ROOT / test)
        raw = calibration_report(m, ev)
        m.calibration = record
        cal = calibration_report(m, ev)
        if args.save:
            save_calibration(m, record)
        floors = noise_floors(m, ev)
        entry = {}
        for res, r in cal["resonances"].items():
            entry[res] = {
                kind: {
                    "ece_raw": _ece(raw["resonances"][res][kind]),
                    "ece": _ece(r[kind]),
                    "ece_floor": floors[res][kind],
                }
                for kind in ("assignment", "detection")
            }
        out[name] = entry
        if args.save:
            set_card_section(m.path / "card.md", "Calibration", card_text(record, entry, test))
        details[name] = {
            "events": len(ev),
            "test_file": test,
            "fit_file": record["fitted_on"],
            "seconds": round(time.perf_counter() - t0, 1),
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
            "purity": cal["purity"],
        }
        diagrams = {}
        for res, r in cal["resonances"].items():
            diagrams[f"{res} assignment, raw"] = r["assignment_raw"]
            diagrams[f"{res} assignment, calibrated"] = r["assignment"]
        reliability_png(diagrams, RESULTS / f"calibration_{topology}.png", f"{name}: {test}")
        print(f"{name}: {json.dumps(entry)} ({time.perf_counter() - t0:.0f} s)")
    path.write_text(json.dumps(out, indent=1) + "\n")
    details_path.write_text(json.dumps(details, indent=1) + "\n")


if __name__ == "__main__":
    main()
