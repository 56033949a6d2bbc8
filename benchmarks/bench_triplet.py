"""Triplet scoring: time and peak memory of the torch reference and the Triton kernels.

For N ∈ {8, 16, 32, 64, 128, 256} jets and D ∈ {32, 64, 128}, the masked log-normalizer
``triplet_log_normalizer(x, S, mask)`` (the loss's O(N³) part) is timed forward and
forward+backward (median of ``--repeat`` after warm-up), with batch B = clamp(2²⁴ / N³, 1, 256)
events, one in eight jets padded. Peak memory: on CUDA ``torch.cuda.max_memory_allocated``
above the inputs; on the CPU the increase of the peak resident set size, measured in a fresh
process per case.

Roofline bound of the Triton path (stated per record as ``bound_ms``, CUDA only): the time
can be no shorter than the largest of

- tensor-core work / peak: per event, 2·N·D³ (the torch contraction building A = S·x),
  2·N²·D² (Y = X·A_k for every k) and 2·D per scored (i < j, k) element, over the tiles the
  kernel visits (N · nb(nb+1)/2 tiles of BLOCK², nb = ⌈N / BLOCK⌉); backward adds 4·N·D³,
  8·N²·D² and 3 × 2·D per element;
- exponentials / special-function throughput: one exp per element (forward), one more in
  backward (SFU: 16 per clock per SM);
- CUDA-core element-wise work: ≈ 8 fp32 operations per element (masks, max, rescale, sum) in
  forward, ≈ 6 more in backward;
- memory traffic / bandwidth: x, A (and dA) read or written once per row block.

The peaks used are the vendor's dense figures for the detected device (table ``DEVICES``).
``ms / bound_ms`` ≥ 0.7 is the target (≥ 70 % of the roofline).

Writes ``benchmarks/results/triplet.json``: a list of records ``{"device", "N", "D", "B",
"pass", "backend", "ms", "peak_bytes"}`` (+ ``bound_ms`` and ``precision`` where known).
Records of other devices already in the file are kept, so CPU and GPU runs accumulate.

    python benchmarks/bench_triplet.py [--ns 8 16 ...] [--ds 32 64 128] [--backends torch triton]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import platform
import statistics
import time
from pathlib import Path

import torch

from hepattn.kernels.triplet import triplet_log_normalizer

RESULTS = Path(__file__).parent / "results" / "triplet.json"

# Dense peaks: (fp32 CUDA-core FLOP/s, tf32 tensor FLOP/s, bf16 tensor FLOP/s, exp/s, bytes/s)
DEVICES = {
    "H100 PCIe": (51e12, 378e12, 756e12, 114 * 16 * 1.755e9, 2.0e12),
    "H100": (67e12, 495e12, 989e12, 132 * 16 * 1.98e9, 3.35e12),
    "H200": (67e12, 495e12, 989e12, 132 * 16 * 1.98e9, 4.8e12),
}


def batch_for(n: int) -> int:
    return max(1, min(256, 2**24 // n**3))


def inputs(b: int, n: int, d: int, device: str, dtype=torch.float32):
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(b, n, d, generator=g, device=device) / d**0.25
    theta = torch.randn(d, d, d, generator=g, device=device) / d
    s = 0.5 * (theta + theta.transpose(0, 1))
    mask = torch.ones(b, n, dtype=torch.bool, device=device)
    mask[:, n - max(1, n // 8) :] = False
    return x.to(dtype), s.to(dtype), mask


def run_once(x, s, mask, backend: str, backward: bool) -> None:
    if backward:
        xg, sg = x.detach().requires_grad_(), s.detach().requires_grad_()
        triplet_log_normalizer(xg, sg, mask, backend=backend).sum().backward()
    else:
        with torch.no_grad():
            triplet_log_normalizer(x, s, mask, backend=backend)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_ms(x, s, mask, backend, backward, device, repeat) -> float:
    run_once(x, s, mask, backend, backward)  # warm-up (and compilation)
    times = []
    for _ in range(repeat):
        sync(device)
        t0 = time.perf_counter()
        run_once(x, s, mask, backend, backward)
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def cuda_peak(x, s, mask, backend, backward) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    run_once(x, s, mask, backend, backward)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def _cpu_peak_child(args, queue) -> None:
    b, n, d, backend, backward = args
    torch.set_num_threads(1)
    x, s, mask = inputs(b, n, d, "cpu")
    before = _vm_hwm()
    run_once(x, s, mask, backend, backward)
    queue.put(_vm_hwm() - before)


def _vm_hwm() -> int:
    """Peak resident set of this process image in bytes (Linux ``VmHWM``; unlike
    ``ru_maxrss`` it is not inherited from the parent across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (the CPU peak needs Linux)")


def cpu_peak(b, n, d, backend, backward) -> int:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_cpu_peak_child, args=((b, n, d, backend, backward), queue))
    proc.start()
    peak = queue.get()
    proc.join()
    return int(peak)


def bound_ms(name: str, b: int, n: int, d: int, backward: bool, tf32: bool) -> float | None:
    """Roofline bound of the Triton path (see the module docstring), or None off the table."""
    peaks = next((v for k, v in DEVICES.items() if k in name), None)
    if peaks is None:
        return None
    fp32, tf32_peak, _, exp_rate, bw = peaks
    block = 16 if n <= 16 else 32
    nb = math.ceil(n / block)
    elems = n * nb * (nb + 1) // 2 * block * block  # scored (i<j, k) slots per event
    mma = 2 * n * d**3 + 2 * n * n * d * d + 2 * d * elems
    exps, ew = elems, 8 * elems
    traffic = 4 * (n * d + n * d * d) * (1 + nb)
    if backward:
        mma += 4 * n * d**3 + 8 * n * n * d * d + 3 * 2 * d * elems
        exps += elems
        ew += 6 * elems
        traffic *= 3
    mma_peak = tf32_peak if tf32 else fp32
    t = max(b * mma / mma_peak, b * exps / exp_rate, b * ew / fp32, b * traffic / bw)
    return t * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ns", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256])
    ap.add_argument("--ds", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--backends", nargs="+", default=None, help="default: torch, + triton on CUDA")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-tf32", action="store_true", help="exact fp32 products on CUDA")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tf32 = device == "cuda" and not args.no_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32  # the reference's einsums and the kernels alike
    if device == "cuda":
        name = torch.cuda.get_device_name()
    else:
        torch.set_num_threads(1)
        name = f"cpu: {platform.processor() or platform.machine()} (1 thread)"
    backends = args.backends or (["torch", "triton"] if device == "cuda" else ["torch"])
    if "triton" in backends and device == "cpu":
        raise SystemExit("Triton is timed on CUDA only (its CPU interpreter is a test tool)")
    precision = "tf32" if tf32 else "fp32"

    records = []
    for n in args.ns:
        b = batch_for(n)
        for d in args.ds:
            x, s, mask = inputs(b, n, d, device)
            for backward in (False, True):
                for backend in backends:
                    ms = time_ms(x, s, mask, backend, backward, device, args.repeat)
                    if device == "cuda":
                        peak = cuda_peak(x, s, mask, backend, backward)
                    else:
                        peak = cpu_peak(b, n, d, backend, backward)
                    rec = {
                        "device": name, "N": n, "D": d, "B": b,
                        "pass": "fwd+bwd" if backward else "fwd", "backend": backend,
                        "ms": round(ms, 4), "peak_bytes": int(peak), "precision": precision,
                    }  # fmt: skip
                    if backend == "triton":
                        bound = bound_ms(name, b, n, d, backward, tf32)
                        if bound is not None:
                            rec["bound_ms"] = round(bound, 4)
                    records.append(rec)
                    print(json.dumps(rec), flush=True)

    kept = []
    if args.out.exists():
        kept = [r for r in json.loads(args.out.read_text()) if r["device"] != name]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(kept + records, indent=1) + "\n")


if __name__ == "__main__":
    main()
