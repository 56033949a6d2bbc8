"""Throughput of ROOT → padded tensors, against the bare uproot + awkward floor.

Two layouts, each written with ZLIB and with LZ4 compression:

- jets:   ~8 jets per event (Poisson), padded to 20 slots × 6 features
          (log_pt, eta, phi, log_e, mass, btag);
- towers: ~90 towers per event (Poisson), padded to 128 slots × 4 features
          (log_pt, log_e, deta, dphi relative to the sum of the towers).

For each we time, best of ``--repeat`` runs:

- ``floor``: uproot reads the branches into awkward arrays, then
  ``pad_none`` + ``fill_none`` + ``to_numpy`` per branch (no sorting, no features);
- ``hepattn``: :func:`hepattn.data.read_events` (read, validate, vector features, p_T sort,
  truncation, padding) followed by ``torch.from_numpy`` of values and mask.

Writes ``benchmarks/results/loading.json``: events/s of both and their ratio per case.

    python benchmarks/bench_loading.py [--events 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np
import torch
import uproot

from hepattn.data import PadSpec, read_events, write_tree

RESULTS = Path(__file__).parent / "results" / "loading.json"

CASES = {
    "jets": dict(mean=8, slots=20, features=("log_pt", "eta", "phi", "log_e", "mass", "btag")),
    "towers": dict(mean=90, slots=128, features=("log_pt", "log_e", "deta", "dphi")),
}


def schema_for(case: str) -> dict:
    fields = {"btag": "obj_btag"} if case == "jets" else {}
    return {
        "name": f"bench-{case}",
        "tree": "events",
        "collections": {
            "objs": {
                "kinematics": "ptetaphim",
                "branches": {r: f"obj_{r}" for r in ("pt", "eta", "phi", "mass")},
                "fields": fields,
                "counter": "nobj",
            }
        },
    }


def make_file(path: Path, case: str, n_events: int, compression, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(CASES[case]["mean"], n_events)
    n = int(counts.sum())

    def jag(x):
        return ak.unflatten(x.astype(np.float32), counts)

    cols = {
        "pt": jag(rng.exponential(30.0, n) + 1.0),
        "eta": jag(rng.normal(0, 1.5, n)),
        "phi": jag(rng.uniform(-np.pi, np.pi, n)),
        "mass": jag(rng.exponential(5.0, n)),
    }
    if case == "jets":
        cols["btag"] = jag(rng.uniform(0, 1, n))
    write_tree(path, {"obj": ak.zip(cols)}, tree="events", compression=compression, step=50_000)


def floor(path: Path, case: str) -> float:
    """Seconds for uproot read + pad_none/fill_none/to_numpy of every branch."""
    slots = CASES[case]["slots"]
    t0 = time.perf_counter()
    tree = uproot.open(path)["events"]
    branches = [b for b in tree.keys() if b != "nobj"]
    arrays = tree.arrays(branches, library="ak")
    for b in branches:
        ak.to_numpy(ak.fill_none(ak.pad_none(arrays[b], slots, clip=True), 0.0))
    return time.perf_counter() - t0


def ours(path: Path, case: str) -> float:
    spec = PadSpec(CASES[case]["features"], CASES[case]["slots"])
    t0 = time.perf_counter()
    ev = read_events(path, schema_for(case), {"objs": spec})
    torch.from_numpy(ev["objs"].values), torch.from_numpy(ev["objs"].mask)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            for name, compression in (("ZLIB", uproot.ZLIB(1)), ("LZ4", uproot.LZ4(1))):
                path = Path(tmp) / f"{case}_{name}.root"
                make_file(path, case, args.events, compression)
                t_floor = min(floor(path, case) for _ in range(args.repeat))
                t_ours = min(ours(path, case) for _ in range(args.repeat))
                rec = {
                    "case": case,
                    "compression": name,
                    "events": args.events,
                    "slots": CASES[case]["slots"],
                    "features": len(CASES[case]["features"]),
                    "file_mb": round(path.stat().st_size / 1e6, 2),
                    "floor_events_per_s": round(args.events / t_floor),
                    "hepattn_events_per_s": round(args.events / t_ours),
                    "ratio_time_vs_floor": round(t_ours / t_floor, 2),
                }
                print(json.dumps(rec))
                records.append(rec)
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        f"threads, Python {platform.python_version()}",
        "uproot": uproot.__version__,
        "awkward": ak.__version__,
        "results": records,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
