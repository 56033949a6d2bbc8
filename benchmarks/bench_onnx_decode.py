"""Decoding inside the ONNX graph (``hepattn export-onnx --decode``): agreement with
``hepattn match`` and cost, per number of candidates k.

The bundled all-hadronic matcher is exported with ``--decode --decode-k k`` for each k and
run with onnxruntime (CPU, one thread, batches of 1,000) on every event of
``samples/ttbar_allhad.root``, fed as the export metadata documents (pT-sorted jets, features
standardized with the metadata's means and standard deviations, mask). Its assignments, mapped
to the file's jet order, are compared with ``hepattn match``'s (exact decoding, one torch
thread) event by event; the probabilities of agreeing events to their largest difference.
Also timed: the same graph without ``--decode`` (log P outputs only) and ``hepattn match``.

Writes ``benchmarks/results/onnx_decode.json``.

    python benchmarks/bench_onnx_decode.py [--ks 8 16 32 64 128]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from hepattn.export import DEFAULT_DECODE_K, export_onnx
from hepattn.tasks.matching import Matcher, slots_to_file_order

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "onnx_decode.json"
SAMPLE = ROOT / "samples" / "ttbar_allhad.root"
BATCH = 1000


def feeds_of(path: Path, ev) -> dict[str, np.ndarray]:
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    mean = np.asarray(json.loads(meta["feature_means"]), np.float32)
    std = np.asarray(json.loads(meta["feature_stds"]), np.float32)
    jets = ev["jets"]
    return {"x": ((jets.values - mean) / std).astype(np.float32), "p4": jets.p4, "mask": jets.mask}


def run(path: Path, feeds: dict[str, np.ndarray], repeat: int) -> tuple[list, float]:
    """All events through the ONNX file: (outputs, best wall seconds of ``repeat``)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    n = len(feeds["x"])
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        outs = [
            sess.run(None, {k: v[s : s + BATCH] for k, v in feeds.items()})
            for s in range(0, n, BATCH)
        ]
        best = min(best, time.perf_counter() - t)
    return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))], best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)

    matcher = Matcher.load("default")
    ev = matcher.read(SAMPLE)
    jets = ev["jets"]
    t = time.perf_counter()
    branches, _ = matcher.match(ev)
    match_s = time.perf_counter() - t
    want, want_prob = branches["assignment"], branches["prob"]

    records = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = export_onnx("default", "matcher", Path(tmp) / "plain.onnx")
        feeds = feeds_of(plain, ev)
        _, plain_s = run(plain, feeds, args.repeat)
        for k in args.ks:
            t = time.perf_counter()
            path = export_onnx(
                "default", "matcher", Path(tmp) / f"k{k}.onnx", decode=True, decode_k=k
            )
            export_s = time.perf_counter() - t
            (assignment, prob), ort_s = run(path, feeds_of(path, ev), args.repeat)
            same = (slots_to_file_order(assignment, jets.index) == want).all(axis=1)
            nan_same = np.isnan(prob[same]) == np.isnan(want_prob[same])
            diff = np.abs(
                np.where(np.isnan(prob), 0, prob) - np.where(np.isnan(want_prob), 0, want_prob)
            )
            records.append(
                {
                    "k": k,
                    "events": len(ev),
                    "agree": int(same.sum()),
                    "differing_fraction": float(1 - same.mean()),
                    "prob_max_abs_diff": float(diff[same].max()),
                    "prob_nan_agree": bool(nan_same.all()),
                    "onnx_bytes": path.stat().st_size,
                    "onnx_nodes": len(onnx.load(str(path)).graph.node),
                    "export_s": round(export_s, 2),
                    "ort_s": round(ort_s, 3),
                    "ort_us_per_event": round(1e6 * ort_s / len(ev), 1),
                }
            )
            print(records[-1])
        plain_nodes = len(onnx.load(str(plain)).graph.node)
        plain_bytes = plain.stat().st_size

    n_jets = jets.mask.sum(axis=1)
    out = {
        "sample": str(SAMPLE.relative_to(ROOT)),
        "model": "the bundled all-hadronic matcher (hepattn/models/matcher)",
        "events": len(ev),
        "events_ge6_jets": int((n_jets >= 6).sum()),
        "max_jets": int(n_jets.max()),
        "default_k": DEFAULT_DECODE_K,
        "batch": BATCH,
        "plain": {
            "ort_s": round(plain_s, 3),
            "ort_us_per_event": round(1e6 * plain_s / len(ev), 1),
            "onnx_bytes": plain_bytes,
            "onnx_nodes": plain_nodes,
        },
        "match_s": round(match_s, 2),
        "match_us_per_event": round(1e6 * match_s / len(ev), 1),
        "results": records,
        "machine": f"{platform.processor() or platform.machine()} CPU, 1 thread "
        f"(onnxruntime {ort.__version__}, torch {torch.__version__})",
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
