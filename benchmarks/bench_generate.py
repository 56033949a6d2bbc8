"""Generation: plain vs fast path (speed, same physics) and the calorimeter change.

1. Speed and physics, per prong class (contained jets, the training configuration) and for
   all-hadronic tt̄: the plain path (``Pythia.next`` + per-particle record copy, no hooks)
   and the fast path (process- and parton-level preselection hooks + ``nextBatch``), timed
   in the same run with ``time.process_time`` (CPU seconds of this one process). The plain
   path runs the fast path's hooks in *dry-run* mode, so every kept jet says whether the fast
   path would have vetoed its event (``lost_jets``); the CPU time spent inside those hooks is
   measured and subtracted from the plain time. Two-sample Kolmogorov–Smirnov tests compare
   the kept jets of the two paths (independent seeds): mass, pT, tower count, τ21, τ32 and
   containment (largest ΔR of the X's prongs to the jet axis); for tt̄ the jet multiplicity,
   the number of matched partons and the leading-jet pT.
2. The calorimeter change, on the same Pythia events (same seed; the detector does not touch
   Pythia's random numbers): the card's two grids (``delphes-atlas``) against the former
   single 0.1 × 0.1 grid (``uniform``). Per prong class (all jets in the window matched to an
   X, contained or not): towers per jet, pT and mass response and resolution against
   particle-level jets (anti-kt R = 1.2 of the visible stable particles, ΔR < 0.3), the
   fraction of jets containing all their prongs. For tt̄: matched-parton fractions and the W
   and top peaks of truth-matched jets.

Writes ``benchmarks/results/generate.json``; ``python benchmarks/tables.py`` renders it.

    python benchmarks/bench_generate.py [--jets 2000] [--ttbar-events 2000]
        [--compare-jets 300] [--compare-events 2000]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hepattn.generate import plots
from hepattn.generate.clustering import cluster, fastjet_banner_once
from hepattn.generate.detector import Calorimeter, Towers, visible
from hepattn.generate.matching import delta_r
from hepattn.generate.prongs import (
    CLASS_SETTINGS,
    CLASSES,
    N_PRONGS,
    ProngsConfig,
    jets_of_event,
    preselection,
)
from hepattn.generate.pythia import chunk_rngs
from hepattn.generate.runner import Chunk
from hepattn.generate.source import Preselection, events
from hepattn.generate.ttbar import TtbarConfig, generate_chunk, generate_ttbar
from hepattn.physics.substructure import nsubjettiness

RESULTS = Path(__file__).parent / "results" / "generate.json"


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov statistic D and its asymptotic p-value
    p = Q_KS((√n_e + 0.12 + 0.11/√n_e) D), Q_KS(λ) = 2 Σ_k (−1)^(k−1) e^(−2k²λ²),
    n_e = n m / (n + m) (Stephens' approximation, as in Numerical Recipes).

    For discrete values (tower counts) the test is conservative (p-values too large, never
    too small)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    ne = len(a) * len(b) / (len(a) + len(b))
    lam = (np.sqrt(ne) + 0.12 + 0.11 / np.sqrt(ne)) * d
    k = np.arange(1, 101)
    p = float(np.clip(2 * np.sum((-1.0) ** (k - 1) * np.exp(-2 * lam**2 * k**2)), 0.0, 1.0))
    return d, (1.0 if d == 0 else p)


def taus(jets: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """τ21 and τ32 (β = 1, exclusive-kT axes) of jets from their towers."""
    n = max(len(j["towers"][0]) for j in jets)
    p4 = np.zeros((len(jets), n, 4))
    mask = np.zeros((len(jets), n), dtype=bool)
    for i, j in enumerate(jets):
        pt, eta, phi, e = j["towers"]
        k = len(pt)
        p4[i, :k] = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e], -1)
        mask[i, :k] = True
    tau = nsubjettiness(torch.from_numpy(p4), torch.from_numpy(mask), max_n=3).numpy()
    safe = np.maximum(tau, 1e-12)
    return tau[:, 1] / safe[:, 0], tau[:, 2] / safe[:, 1]


def _timed(cuts: Preselection, clock: list[float]) -> Preselection:
    """``cuts`` whose callables add their CPU time to ``clock[0]``."""

    def wrap(fn):
        def timed(*args):
            t = time.process_time()
            try:
                return fn(*args)
            finally:
                clock[0] += time.process_time() - t

        return timed

    return Preselection(process=cuts.process and wrap(cuts.process), parton=wrap(cuts.parton))


def run_prongs(cls: str, n_jets: int, fast: bool, seed: int) -> dict:
    """Kept jets of class ``cls`` from one path, with its CPU time and lost-jet count."""
    config = ProngsConfig(n_jets=n_jets, contained=True, fast=fast, seed=seed)
    pythia_seed, rng = chunk_rngs(seed, 8, CLASSES.index(cls))
    calo = Calorimeter()
    cuts = preselection(config, cls)
    hook_clock = [0.0]
    if cuts is not None and not fast:
        cuts = _timed(cuts, hook_clock)
    jets, lost, generated = [], 0, 0
    start = time.process_time()
    stream = events(CLASS_SETTINGS[cls], pythia_seed, fast=fast, cuts=cuts, dry_run=not fast)
    for ev in stream:
        generated = ev.number + 1 if ev is not None else generated + 1
        if ev is None:
            continue
        for jet in jets_of_event(config, cls, calo, ev, rng):
            lost += not ev.preselected
            jets.append(jet)
        if len(jets) >= n_jets:
            break
    cpu = time.process_time() - start - hook_clock[0]
    return {"jets": jets, "cpu_s": cpu, "lost": lost, "generated": generated}


def speed_and_physics(n_jets: int, n_events: int) -> tuple[dict, dict]:
    classes = {}
    for cls in CLASSES:
        plain = run_prongs(cls, n_jets, fast=False, seed=1001)
        fast = run_prongs(cls, n_jets, fast=True, seed=1002)
        obs = {}
        for name, res in (("plain", plain), ("fast", fast)):
            jets = res["jets"]
            t21, t32 = taus(jets)
            obs[name] = {
                "mass": [j["mass"] for j in jets],
                "pt": [j["pt"] for j in jets],
                "n_towers": [len(j["towers"][0]) for j in jets],
                "tau21": t21,
                "tau32": t32,
                "max_prong_dr": [j["max_prong_dr"] for j in jets],
            }
        n_plain, n_fast = len(plain["jets"]), len(fast["jets"])
        towers = np.asarray(obs["fast"]["n_towers"] + obs["plain"]["n_towers"])
        classes[cls] = {
            "plain_jets_per_cpu_s": n_plain / plain["cpu_s"],
            "fast_jets_per_cpu_s": n_fast / fast["cpu_s"],
            "speedup": (n_fast / fast["cpu_s"]) / (n_plain / plain["cpu_s"]),
            "towers_mean": float(towers.mean()),
            "towers_p99": float(np.percentile(towers, 99)),
            "towers_max": int(towers.max()),
            "jets_plain": n_plain,
            "jets_fast": n_fast,
            "generated_per_jet_plain": plain["generated"] / n_plain,
            "generated_per_jet_fast": fast["generated"] / n_fast,
            "lost_jets": plain["lost"],
            "ks_p_values": {k: ks_2samp(obs["plain"][k], obs["fast"][k])[1] for k in obs["plain"]},
        }
        print(cls, json.dumps({k: v for k, v in classes[cls].items()}, default=float))
    res = {}
    for fast in (False, True):
        config = TtbarConfig(n_events=n_events, seed=1003 + fast, fast=fast)
        start = time.process_time()
        branches = generate_chunk(config, Chunk(0, n_events)).branches
        cpu = time.process_time() - start
        jets, partons = branches["jet"], branches["parton"]
        import awkward as ak

        res[fast] = {
            "rate": n_events / cpu,
            "njet": ak.to_numpy(ak.num(jets.pt)),
            "matched": ak.to_numpy(ak.sum(partons.jet >= 0, axis=1)),
            "lead_pt": ak.to_numpy(ak.fill_none(ak.firsts(jets.pt), 0.0)),
        }
    ttbar = {
        "plain_events_per_cpu_s": res[False]["rate"],
        "fast_events_per_cpu_s": res[True]["rate"],
        "speedup": res[True]["rate"] / res[False]["rate"],
        "events": n_events,
        "ks_p_values": {
            k: ks_2samp(res[False][k], res[True][k])[1] for k in ("njet", "matched", "lead_pt")
        },
    }
    print("ttbar", ttbar)
    return classes, ttbar


def _particle_jets(ev, radius: float, eta_max: float):
    parts = ev.parts
    sel = parts.final & visible(parts.pdgid) & (np.abs(parts.eta) < eta_max)
    pt = parts.pt[sel]
    return cluster(Towers(pt, parts.eta[sel], parts.phi[sel], parts.e[sel]), radius, 500.0)


def _resolution(ratio: np.ndarray) -> dict:
    if len(ratio) == 0:
        return {"response": float("nan"), "resolution": float("nan")}
    q16, q50, q84 = np.percentile(ratio, [16, 50, 84])
    return {"response": float(q50), "resolution": float((q84 - q16) / 2 / q50)}


def detector_comparison(n_jets: int, n_events: int) -> dict:
    """Both calorimeters on the same events (see the module docstring, part 2)."""
    detectors = ("delphes-atlas", "uniform")
    out: dict = {"prongs": {}, "ttbar": {}}
    for cls in CLASSES:
        config = ProngsConfig(n_jets=n_jets, contained=False, fast=True, seed=1005)
        pythia_seed, _ = chunk_rngs(1005, 8, CLASSES.index(cls))
        rngs = {d: np.random.default_rng([1005, k]) for k, d in enumerate(detectors)}
        calos = {d: Calorimeter.named(d) for d in detectors}
        kept: dict = {d: [] for d in detectors}
        cuts = preselection(config, cls)
        for ev in events(CLASS_SETTINGS[cls], pythia_seed, fast=True, cuts=cuts):
            if ev is None:
                continue
            truth = None
            for d in detectors:
                for jet in jets_of_event(config, cls, calos[d], ev, rngs[d]):
                    if truth is None:
                        truth = _particle_jets(ev, config.radius, 3.3)
                    dr = delta_r(jet["eta"], jet["phi"], truth.eta, truth.phi)
                    k = int(np.argmin(dr)) if len(dr) else -1
                    match = k >= 0 and dr[k] < 0.3
                    kept[d].append(
                        {
                            "towers": len(jet["towers"][0]),
                            "pt_ratio": jet["pt"] / truth.pt[k] if match else np.nan,
                            "m_ratio": jet["mass"] / truth.mass[k] if match else np.nan,
                            "contained": jet["n_contained"] >= N_PRONGS[cls],
                        }
                    )
            if len(kept["delphes-atlas"]) >= n_jets:
                break
        out["prongs"][cls] = {}
        for d in detectors:
            rows = kept[d]
            towers = np.asarray([r["towers"] for r in rows])
            pt_r = np.asarray([r["pt_ratio"] for r in rows])
            m_r = np.asarray([r["m_ratio"] for r in rows])
            out["prongs"][cls][d] = {
                "jets": len(rows),
                "towers_mean": float(towers.mean()),
                "towers_p99": float(np.percentile(towers, 99)),
                "towers_max": int(towers.max()),
                "pt": _resolution(pt_r[np.isfinite(pt_r)]),
                "mass": _resolution(m_r[np.isfinite(m_r)]),
                "frac_contained": float(np.mean([r["contained"] for r in rows])),
            }
        print(cls, json.dumps(out["prongs"][cls]))
    with tempfile.TemporaryDirectory() as tmp:
        for d in detectors:
            path = Path(tmp) / f"{d}.root"
            generate_ttbar(
                path, TtbarConfig(n_events=n_events, seed=1006, detector=d), jobs=1, progress=False
            )
            out["ttbar"][d] = plots.ttbar_summary(path)
    print("ttbar", json.dumps(out["ttbar"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=2000, help="kept jets per class and path")
    ap.add_argument("--ttbar-events", type=int, default=2000, help="tt̄ events per path")
    ap.add_argument("--compare-jets", type=int, default=300, help="jets per class, part 2")
    ap.add_argument("--compare-events", type=int, default=2000, help="tt̄ events, part 2")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    fastjet_banner_once()
    start = time.time()
    classes, ttbar = speed_and_physics(args.jets, args.ttbar_events)
    comparison = detector_comparison(args.compare_jets, args.compare_events)
    result = {
        "classes": classes,
        "ttbar": ttbar,
        "detector_comparison": comparison,
        "config": {
            "jets_per_class": args.jets,
            "ttbar_events": args.ttbar_events,
            "contained": True,
            "detector": "delphes-atlas",
        },
        "machine": f"{platform.processor() or platform.machine()}, one core per path, "
        "CPU seconds of this process",
        "wall_s": time.time() - start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
