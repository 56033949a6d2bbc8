"""Regressions of a matcher against the analytic methods (issue 24), on held-out events.

    python benchmarks/bench_regression.py --model runs/ljets24/best   # after train24.sh

For every regression the model declares: resolution (half the 16–84 % interval of
predicted − true), bias (the median) and pull width (the same of (predicted − true) / σ) of
the network. Where an analytic method exists, the same for it (lepton+jets):

- ``EVENT_nu_pz``: the neutrino p_z of the W-mass constraint, the root the χ² picks
  (:func:`hepattn.baselines.chi2_ljets.solve_chi2_ljets`);
- ``mtt_reco`` (a derived row): m_tt̄ of the reconstructed system — the network's jets with
  the lepton and the *regressed* neutrino (MET-free: its px, py, pz), against the χ²'s jets
  with the lepton and the *analytic* neutrino (MET, p_z) — compared with the truth
  ``truth_ttbar_mass``.

Writes ``benchmarks/results/regression.json`` (``{topology: {target: {"network": {...},
"analytic": {...} | null, "events": int}}}``) and ``regression_<topology>.png`` (residuals).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _system_mass(parts: list[np.ndarray]) -> np.ndarray:
    from hepattn.physics.kinematics import invariant_mass

    return np.asarray(invariant_mass(np.sum(parts, axis=0)))


def _jets_p4(p4: np.ndarray, slots: np.ndarray, cols: list[int]) -> list[np.ndarray]:
    """The four-momenta ``(B, 4)`` of the jets in ``slots[:, cols]`` (NaN where none)."""
    out = []
    for c in cols:
        s = slots[:, c]
        picked = np.take_along_axis(p4, np.maximum(s, 0)[:, None, None], axis=1)[:, 0]
        out.append(np.where((s >= 0)[:, None], picked, np.nan))
    return out


def main() -> None:
    from hepattn.baselines.chi2_ljets import solve_chi2_ljets
    from hepattn.metrics.regression import regression_metrics
    from hepattn.tasks.matching import Matcher

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="runs/ljets24/best")
    p.add_argument("--test", default="samples/ttbar_ljets.root")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    m = Matcher.load(ROOT / args.model)
    if not m.regressions:
        raise SystemExit(f"{args.model} has no regression heads")
    ev = m.read_labelled(ROOT / args.test)
    topo = m.topology
    reg = m.predict_regressions(ev)
    rows: dict[str, dict] = {}
    for key, (value, sigma) in reg.items():
        true = ev.targets.get(key)
        if true is None:
            continue
        rows[key] = {"network": regression_metrics(value, sigma, true), "analytic": None}
    residuals = {}
    if topo.name == "ttbar-ljets":
        jets = ev[m.run.data.collection]
        p4 = jets.p4.astype(np.float64)
        lep = ev.derived["lepton_p4"][:, 0].astype(np.float64)
        met = ev.derived["met_p4"][:, 0, :2].astype(np.float64)
        chi2_slots, _, pz = solve_chi2_ljets(p4, jets.mask, lep, met)
        if "EVENT_nu_pz" in rows:
            true = ev.targets["EVENT_nu_pz"]
            analytic = regression_metrics(pz, np.ones_like(pz), true)
            analytic.pop("pull_width")
            rows["EVENT_nu_pz"]["analytic"] = analytic
            residuals["nu_pz network"] = reg["EVENT_nu_pz"][0] - true
            residuals["nu_pz analytic"] = pz - true
        need = ("EVENT_nu_px", "EVENT_nu_py", "EVENT_nu_pz", "EVENT_ttbar_mass")
        if all(k in reg or k in ev.targets for k in need) and "EVENT_ttbar_mass" in ev.targets:
            cols = [topo.partons.index(q) for q in ("b_had", "q1", "q2", "b_lep")]
            slots, _, _ = m.predict(ev)
            nx, ny, nz = (reg[k][0].astype(np.float64) for k in need[:3])
            nu_net = np.stack([nx, ny, nz, np.sqrt(nx**2 + ny**2 + nz**2)], -1)
            nu_ana = np.stack(
                [met[:, 0], met[:, 1], pz, np.sqrt(met[:, 0] ** 2 + met[:, 1] ** 2 + pz**2)], -1
            )
            m_net = _system_mass([*_jets_p4(p4, slots, cols), lep, nu_net])
            m_ana = _system_mass([*_jets_p4(p4, chi2_slots, cols), lep, nu_ana])
            true = ev.targets["EVENT_ttbar_mass"]
            net = regression_metrics(m_net, np.ones_like(m_net), true)
            ana = regression_metrics(m_ana, np.ones_like(m_ana), true)
            net.pop("pull_width")
            ana.pop("pull_width")
            rows["mtt_reco"] = {"network": net, "analytic": ana}
            residuals["m_tt network jets + regressed nu"] = m_net - true
            residuals["m_tt chi2 jets + analytic nu"] = m_ana - true
    for r in rows.values():
        r["events"] = r["network"]["events"]
    path = RESULTS / "regression.json"
    out = json.loads(path.read_text()) if path.exists() else {}
    out[topo.name] = rows
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(rows, indent=1))
    if residuals:
        from hepattn.plotting import pyplot

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for name, r in residuals.items():
            r = r[np.isfinite(r)]
            ax.hist(r, bins=80, range=(-400, 400), histtype="step", label=name)
        ax.set_xlabel("predicted − true [GeV]")
        ax.set_ylabel("events")
        ax.legend(fontsize=7)
        ax.set_title(f"{topo.name}: {len(ev):,} held-out events ({args.test})", fontsize=9)
        fig.tight_layout()
        fig.savefig(RESULTS / f"regression_{topo.name}.png", dpi=120)


if __name__ == "__main__":
    main()
