"""Jet–parton matching: the SPA-Net-style network against the χ², on the same held-out events.

1. Efficiency table (ε_event, ε_2^top, ε_1^top by jet multiplicity) of both methods on the
   test files, via :func:`hepattn.tasks.comparison.compare` (the ``hepattn compare``
   command).
2. Runtime per event, one CPU thread, for N = 6 … 14 jets: the χ² (all assignments, O(N⁶))
   and the network (batched; encoder + triplet scoring O(N³) + exact decoding). Events of
   exactly N jets are built from real jets of the test file (the first N jets of events with
   ≥ N jets, or, where too few exist, random draws of the file's jets), since only their
   number matters for the timing.

Writes ``benchmarks/results/matching.json`` and ``benchmarks/results/matching_scaling.png``;
for the bundled model, also its card's held-out table (between ``<!-- test -->`` and
``<!-- /test -->``, rendered from the same results, never typed)::

    python benchmarks/bench_matching.py --model runs/matcher/best --test data/ttbar_test.root
    python benchmarks/bench_matching.py --test data/ttbar16_test.root   # the bundled model
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from hepattn.baselines.chi2 import DEFAULT_MODE, MODES, Chi2Config, solve_chi2
from hepattn.baselines.registry import BaselineOptions
from hepattn.tasks.comparison import compare, runtime_ms
from hepattn.tasks.matching import Matcher

RESULTS = Path(__file__).parent / "results"


def synthetic_events(ev, n: int, count: int, seed: int = 0):
    """``count`` events of exactly ``n`` jets, drawn from the jets of ``ev``."""
    jets = ev["jets"]
    rng = np.random.default_rng(seed)
    real = np.flatnonzero(jets.mask.reshape(-1))
    pick = rng.choice(real, size=(count, n))
    values = jets.values.reshape(-1, jets.values.shape[-1])[pick]
    p4 = jets.p4.reshape(-1, 4)[pick]
    order = np.argsort(-np.hypot(p4[..., 0], p4[..., 1]), axis=1)
    return (
        np.take_along_axis(values, order[..., None], 1),
        np.take_along_axis(p4, order[..., None], 1),
        np.ones((count, n), bool),
    )


@torch.no_grad()
def time_network(matcher: Matcher, values, p4, mask) -> float:
    std = matcher.standardizers["objects"]
    x = torch.from_numpy(std.transform(values, mask).astype(np.float32))
    p4t, m = torch.from_numpy(p4.astype(np.float32)), torch.from_numpy(mask)
    net = matcher.net
    net.decode(net(x[:4], p4t[:4], m[:4]), m[:4])  # warm-up
    t0 = time.perf_counter()
    for s in range(0, len(x), 1024):
        outputs = net(x[s : s + 1024], p4t[s : s + 1024], m[s : s + 1024])
        net.decode(outputs, m[s : s + 1024])
    return 1e3 * (time.perf_counter() - t0) / len(x)


def time_chi2(p4, mask, btag, mode: str) -> float:
    cfg = Chi2Config(mode=mode, max_jets=16)
    t0 = time.perf_counter()
    solve_chi2(p4.astype(np.float64), mask, btag, cfg)
    return 1e3 * (time.perf_counter() - t0) / len(p4)


def scaling(matcher: Matcher, ev, ns, mode: str) -> list[dict]:
    from hepattn.baselines.btag import btag_rule

    out = []
    rule = btag_rule(ev, matcher.run.data.collection)  # the χ²'s b-tag feature and threshold
    features = matcher.run.data.features
    bi = features.index(rule.feature) if rule.feature in features else None
    for n in ns:
        count_chi2 = 2000 if n <= 8 else (400 if n <= 10 else (60 if n <= 12 else 12))
        values, p4, mask = synthetic_events(ev, n, max(count_chi2, 2000), seed=n)
        btag = (values[..., bi] > rule.threshold).astype(np.float32) if bi is not None else None
        net_ms = time_network(matcher, values, p4, mask)
        sl = slice(0, count_chi2)
        chi2_ms = time_chi2(p4[sl], mask[sl], None if btag is None else btag[sl], mode)
        out.append(
            {"n_jets": n, "network_ms": net_ms, "chi2_ms": chi2_ms, "chi2_events_timed": count_chi2}
        )
        print(json.dumps(out[-1]))
    return out


def plot(curve: list[dict], path: Path) -> None:
    from hepattn.plotting import pyplot

    plt = pyplot()
    n = [c["n_jets"] for c in curve]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(n, [c["chi2_ms"] for c in curve], "o-", label="χ² (all assignments)")
    ax.plot(n, [c["network_ms"] for c in curve], "s-", label="network (batched)")
    for power, ref, style in ((6, "chi2_ms", ":"), (3, "network_ms", "--")):
        base = curve[0][ref]
        ax.plot(
            n,
            [base * (k / n[0]) ** power for k in n],
            style,
            color="grey",
            lw=0.8,
            label=f"∝ N^{power}",
        )
    ax.set_yscale("log")
    ax.set_xlabel("jets per event N")
    ax.set_ylabel("ms per event (1 CPU thread)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="default")
    p.add_argument("--test", nargs="+", required=True)
    p.add_argument("--chi2-mode", default=DEFAULT_MODE, choices=MODES)
    p.add_argument("--n", nargs="+", type=int, default=list(range(6, 15)))
    args = p.parse_args()
    torch.set_num_threads(1)
    result = compare(args.test, args.model, timing_events=2000, chi2_mode=args.chi2_mode)
    tables = result.pop("tables")
    matcher = Matcher.load(args.model)
    ev = matcher.read(args.test, need_labels=True)
    cores = os.cpu_count() or 1
    options = BaselineOptions(chi2_mode=args.chi2_mode)
    all_cores = runtime_ms(matcher, ev, 2000, options, threads=cores)["network"]
    curve = scaling(matcher, ev, args.n, args.chi2_mode)
    out = {
        **result,
        "machine": f"{platform.machine()} CPU, 1 thread",
        "network_ms_per_event_8jets_all_cores": {"cores": cores, "ms": all_cores},
        "model_card": str(Path(result["model"]) / "card.md"),
        "scaling": curve,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "matching.json").write_text(json.dumps(out, indent=2) + "\n")
    plot(curve, RESULTS / "matching_scaling.png")
    from hepattn.metrics.matching import format_table

    print(format_table(tables, matcher.topology, "held-out test events"))
    write_card_table(out, tables)


def write_card_table(result: dict, tables: dict) -> None:
    """The held-out table into the bundled matcher's card (``<!-- test -->`` block)."""
    import textwrap

    from hepattn.metrics.matching import definitions, format_table
    from hepattn.topology import TTBAR_ALLHAD

    card = Path(__file__).resolve().parent.parent / "hepattn" / "models" / "matcher" / "card.md"
    if Path(result["model"]).resolve() != card.parent.resolve():
        return
    rt = result["runtime_ms_per_event_8jets"]
    block = (
        "<!-- test -->\n"
        f"- **Held-out test** (`python benchmarks/bench_matching.py --test "
        f"{' '.join(result['files'])}`: {result['events']:,} events, "
        f"{result['events_ge6_jets']:,} with ≥ 6 jets, none used in training; χ²: "
        f"{result['chi2']}):\n\n"
        + format_table(tables, TTBAR_ALLHAD).rsplit("\n\n", 1)[0]
        + "\n\n"
        + textwrap.fill(definitions(TTBAR_ALLHAD), 100)
        + f"\n\nRuntime per 8-jet event, 1 CPU thread: network {rt['network']:.3f} ms "
        f"(batched), χ² {rt['chi2']:.3f} ms.\n<!-- /test -->"
    )
    from tables import write_card_block  # benchmarks/ is the script's directory

    write_card_block(card, block)


if __name__ == "__main__":
    main()
