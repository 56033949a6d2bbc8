"""Regressions of a matcher against the analytic methods (issue 24), on held-out events.

    python benchmarks/bench_regression.py --model runs/ljets24/best   # after train24.sh

For every regression the model declares: resolution (half the 16–84 % interval of
predicted − true), bias (the median) and pull width (the same of (predicted − true) / σ) of
the network. Where an analytic method exists, the same for it (lepton+jets):

- ``EVENT_nu_pz``: the neutrino p_z of the W-mass constraint, the root the χ² picks
  (:func:`hepattn.baselines.chi2_ljets.solve_chi2_ljets`);
- ``EVENT_nu_px``, ``EVENT_nu_py``: the measured MET's components, the neutrino's transverse
  momentum every analysis uses. The network cannot do better here by construction: its inputs
  (pT, η, E, mass, b-tag per object; pair features of Δφ) are invariant under a rotation of
  the event about the beam, so it cannot know the azimuth of anything and regresses px, py
  towards 0 (resolution ≈ the spread of the truth px itself);
- ``mtt_reco`` (a derived row): m_tt̄ of the reconstructed system — the network's jets with
  the lepton and the neutrino (MET px, py and the *regressed* p_z), against the χ²'s jets
  with the lepton and the *analytic* neutrino (MET px, py and the W-mass p_z) — compared
  with the truth ``truth_ttbar_mass``. (A neutrino built from the regressed px, py instead —
  ``mtt_reco_all_regressed`` — loses its transverse momentum, see above, and with it
  ~50 GeV of m_tt̄.)

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


def _nu(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """A massless neutrino's four-momentum ``(B, 4)``."""
    return np.stack([px, py, pz, np.sqrt(px**2 + py**2 + pz**2)], -1)


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
        for k, c in (("EVENT_nu_px", 0), ("EVENT_nu_py", 1)):
            if k in rows:
                analytic = regression_metrics(met[:, c], np.ones(len(met)), ev.targets[k])
                analytic.pop("pull_width")
                rows[k]["analytic"] = analytic
        if "EVENT_nu_pz" in reg and "EVENT_ttbar_mass" in ev.targets:
            cols = [topo.partons.index(q) for q in ("b_had", "q1", "q2", "b_lep")]
            slots, _, _ = m.predict(ev)
            true = ev.targets["EVENT_ttbar_mass"]
            nz = reg["EVENT_nu_pz"][0].astype(np.float64)
            nus = {"mtt_reco": (met[:, 0], met[:, 1], nz)}
            if "EVENT_nu_px" in reg and "EVENT_nu_py" in reg:
                nx, ny = (reg[k][0].astype(np.float64) for k in ("EVENT_nu_px", "EVENT_nu_py"))
                nus["mtt_reco_all_regressed"] = (nx, ny, nz)
            m_ana = _system_mass(
                [*_jets_p4(p4, chi2_slots, cols), lep, _nu(met[:, 0], met[:, 1], pz)]
            )
            ana = regression_metrics(m_ana, np.ones_like(m_ana), true)
            ana.pop("pull_width")
            for name, (x, y, z) in nus.items():
                m_net = _system_mass([*_jets_p4(p4, slots, cols), lep, _nu(x, y, z)])
                net = regression_metrics(m_net, np.ones_like(m_net), true)
                net.pop("pull_width")
                rows[name] = {"network": net, "analytic": ana}
                residuals[f"m_tt network jets + nu ({name})"] = m_net - true
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
