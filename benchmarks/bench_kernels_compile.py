"""The Triton triplet kernels compiled ahead of time for A100 (sm_80) and H100 (sm_90), on a
machine without a GPU (issue 28): per kernel and specialisation the registers per thread,
spilled bytes, shared memory per block, warps and the occupancy that follows; and a static
roofline estimate per problem size. Compiled, not run, figures.

    python benchmarks/bench_kernels_compile.py [--jobs 2]

Writes ``benchmarks/results/kernels_compile.json``: ``{"targets": [...], "kernels": [{"name",
"target", "specialisation", "registers", "spills", "shared_bytes", "num_warps",
"occupancy"}], "roofline": [{"n", "d", "dtype", "target", "flops", "bytes_kernel",
"bytes_torch", "us_kernel", "us_torch"}]}`` (:mod:`hepattn.kernels.triplet.aot`).

Roofline (per event, forward log-normaliser of one order-3 head): the kernel computes
``Y_k = x A_k`` for every b-jet k and the upper triangle of ``O_k = Y_k xᵀ``:
``2 N² D² + N³ D`` multiply-adds ×2 FLOPs, reading x and A once (``4 (N D + N D²)`` bytes in
fp32) — no N³ tensor; the torch reference forms the full ``(N, N, N)`` score tensor
(``2 N³ D`` + ``2 N² D²`` FLOPs) and writes and reads it back for the log-sum-exp
(``2 · 4 N³`` bytes more). Time at the targets' published dense peaks (A100 SXM: 19.5 TFLOP/s
fp32, 156 tf32, 312 bf16, 2.04 TB/s; H100 SXM: 67, 495, 989 TFLOP/s, 3.35 TB/s) is
``max(FLOPs / peak, bytes / bandwidth)``.
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

PEAKS = {  # TFLOP/s by precision, TB/s
    "sm_80": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "bandwidth": 2.04},
    "sm_90": {"fp32": 67.0, "tf32": 495.0, "bf16": 989.0, "bandwidth": 3.35},
}


def _one(item):
    from hepattn.kernels.triplet.aot import compile_kernel

    name, spec, target = item
    try:
        return compile_kernel(name, spec, target).to_dict()
    except Exception as err:  # recorded: a compile error is a finding, not a crash
        return {"name": name, "target": target, "specialisation": spec, "error": str(err)}


def roofline() -> list[dict]:
    out = []
    for target, peak in PEAKS.items():
        for dtype, unit in (("fp32", "tf32"), ("bf16", "bf16")):
            size = 4 if dtype == "fp32" else 2
            for n in (16, 32, 64, 128):
                for d in (16, 32, 64):
                    flops_k = 2 * (2 * n * n * d * d + n**3 * d / 2)
                    flops_t = 2 * (2 * n * n * d * d + n**3 * d)
                    bytes_k = size * (n * d + n * d * d)
                    bytes_t = bytes_k + 2 * 4 * n**3
                    rate, bw = peak[unit] * 1e12, peak["bandwidth"] * 1e12
                    out.append({
                        "n": n, "d": d, "dtype": dtype, "target": target, "flops": flops_k,
                        "flops_torch": flops_t, "bytes_kernel": bytes_k, "bytes_torch": bytes_t,
                        "us_kernel": 1e6 * max(flops_k / rate, bytes_k / bw),
                        "us_torch": 1e6 * max(flops_t / rate, bytes_t / bw),
                    })  # fmt: skip
    return out


def main() -> None:
    from hepattn.kernels.triplet.aot import TARGETS, specialisations

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    items = [(n, s, t) for t in TARGETS for n, s in specialisations()]
    with ProcessPoolExecutor(args.jobs) as pool:
        kernels = list(pool.map(_one, items, chunksize=4))
    out = {"targets": list(TARGETS), "kernels": kernels, "roofline": roofline()}
    (RESULTS / "kernels_compile.json").write_text(json.dumps(out, indent=1) + "\n")
    bad = [k for k in kernels if k.get("error") or k.get("spills")]
    print(f"{len(kernels)} compiled, {len(bad)} with an error or spills")


if __name__ == "__main__":
    main()
