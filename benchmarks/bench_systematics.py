"""Systematic variations of the bundled matchers (issue 26): the shift of the event efficiency
per jet-multiplicity row under each variation, the network beside its baseline, on the shipped
samples (held out: never trained or validated on).

    python benchmarks/bench_systematics.py

Writes ``benchmarks/results/systematics.json``: ``{model: {variation: {row: {method: Δε}}}}``
(Δε of the topology's first efficiency column, ε_event) and ``systematics_details.json``
(the sizes of the variations, events, files), and ``systematics.png``: the inclusive
shifts, per variation and model. The b-tag variations use the example scale
factors ``samples/corrections.json`` (illustrative values, ``samples/make_corrections.py``),
their shift measured from the table weighted with the central scale factors. The tagger (on
``samples/prongs.root``): the shift of its weighted accuracy (row ``all``) under jes-up,
jes-down and jer (towers smeared apart, the relative features recomputed).
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

#: bundled model → (topology, held-out sample)
MODELS = {
    "matcher": ("ttbar-allhad", "samples/ttbar_allhad.root"),
    "matcher-ttbar-ljets": ("ttbar-ljets", "samples/ttbar_ljets.root"),
    "matcher-hh-4b": ("hh-4b", "samples/hh4b.root"),
}


def main() -> None:
    import logging

    import torch

    from hepattn.tasks.btag_weights import BtagScaleFactors
    from hepattn.tasks.comparison import compare
    from hepattn.tasks.systematics import VARIATIONS, VaryOptions

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    corrections = ROOT / "samples" / "corrections.json"
    options = VaryOptions(btag=BtagScaleFactors(corrections))
    out, details = {}, {}
    for name, (topology, sample) in MODELS.items():
        r = compare(
            [ROOT / sample],
            ROOT / "hepattn" / "models" / name,
            timing_events=10,
            topology=topology,
            variations=VARIATIONS,
            vary_options=options,
        )
        out[name] = {v: x["shift"] for v, x in r["variations"].items()}
        details[name] = {
            "file": sample,
            "events": r["events"],
            "column": next(iter(r["variations"].values()))["column"],
            "jes_sigma": options.jes_sigma,
            "jer_sigma": options.jer_sigma,
            "seed": options.seed,
            "btag_sf": "samples/corrections.json (illustrative scale factors)",
            "nominal": {row: {m: c["event"] for m, c in v.items()} for row, v in r["rows"].items()},
        }
        print(name, json.dumps(out[name]["jes-up"]["inclusive"]))
    from hepattn.tasks.presets import task_class

    tagger = task_class("tagger").load("default")
    names = ("jes-up", "jes-down", "jer")  # towers carry no b-tag
    report, _ = tagger.evaluate_files(
        [ROOT / "samples/prongs.root"], variations=names, vary_options=options
    )
    out["tagger"] = {v: x["shift"] for v, x in report["variations"].items()}
    details["tagger"] = {
        "file": "samples/prongs.root",
        "events": report["n_jets"],
        "column": "accuracy",
        "jes_sigma": options.jes_sigma,
        "jer_sigma": options.jer_sigma,
        "seed": options.seed,
        "nominal": {"all": {"network": report["accuracy"]}},
    }
    print("tagger", json.dumps(out["tagger"]))
    (RESULTS / "systematics.json").write_text(json.dumps(out, indent=1) + "\n")
    from hepattn.plotting import shifts_png

    inclusive = {  # {variation: {model: {method: Δ}}}, the inclusive row of each model
        v: {m: s[v]["inclusive" if "inclusive" in s[v] else "all"] for m, s in out.items()
            if v in s}
        for v in VARIATIONS
    }  # fmt: skip
    shifts_png(inclusive, RESULTS / "systematics.png", "shift of ε_event (tagger: accuracy)")
    (RESULTS / "systematics_details.json").write_text(json.dumps(details, indent=1) + "\n")


if __name__ == "__main__":
    main()
