"""Validation numbers and PNG plots of generated samples.

tt̄: jet multiplicity, and the invariant masses of truth-matched jet pairs m_qq (the W
candidate, peak near 80 GeV) and triplets m_bqq (the top candidate, near 173 GeV).
Prongs: jet mass and tower count per class.

Invariant mass of massive four-vectors given as (pT, η, φ, m):
E = √(m² + pT² cosh² η), p = (pT cos φ, pT sin φ, pT sinh η), M² = (ΣE)² − |Σp|².
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from hepattn.generate.matching import delta_phi
from hepattn.physics import kinematics
from hepattn.plotting import pyplot

log = logging.getLogger(__name__)

__all__ = [
    "hh4b_summary",
    "ljets_summary",
    "matched_masses",
    "plot_prongs",
    "plot_ttbar",
    "prong_summary",
    "system_mass",
    "ttbar_summary",
    "truth_masses",
]


def system_mass(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Invariant mass (GeV) of the sum over the last axis of four-vectors given as
    (pT, η, φ, m): converted to (px, py, pz, E), summed, then
    :func:`hepattn.physics.kinematics.invariant_mass` (the one mass formula)."""
    pt, eta, phi, m = (np.asarray(x, dtype=np.float64) for x in (pt, eta, phi, m))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(m**2 + px**2 + py**2 + pz**2)
    return kinematics.invariant_mass(np.stack([px, py, pz, e], -1).sum(-2))


def matched_masses(arrays: Any, groups: tuple[tuple[int, ...], ...], n_partons: int) -> np.ndarray:
    """Invariant masses (GeV) of the jets matched to each group of partons (indices in the
    parton order), over the events where every parton of the group has a jet; groups are
    concatenated. ``arrays``: awkward record array with ``jet_*`` and ``parton_jet``."""
    offsets = np.asarray(ak.num(arrays["jet_pt"]), dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(offsets)[:-1]])
    flat = {k: np.asarray(ak.flatten(arrays[f"jet_{k}"])) for k in ("pt", "eta", "phi", "mass")}
    pj = np.asarray(ak.to_numpy(arrays["parton_jet"]), dtype=np.int64).reshape(-1, n_partons)
    out = []
    for cols in groups:
        ok = (pj[:, list(cols)] >= 0).all(axis=1)
        idx = start[ok, None] + pj[ok][:, list(cols)]
        out.append(system_mass(*(flat[k][idx] for k in ("pt", "eta", "phi", "mass"))))
    return np.concatenate(out)


def truth_masses(arrays: Any) -> tuple[np.ndarray, np.ndarray]:
    """(m_qq, m_bqq) in GeV of the truth-matched W and top candidates of an all-hadronic tt̄
    sample: a W candidate needs both q1 and q2 matched, a top candidate also b; each top
    counts once."""
    return (
        matched_masses(arrays, ((1, 2), (4, 5)), 6),
        matched_masses(arrays, ((0, 1, 2), (3, 4, 5)), 6),
    )


def _peak(values: np.ndarray, lo: float, hi: float, width: float) -> float:
    """Peak position: vertex of the parabola through the log-counts of the most populated bin
    of ``width`` in [lo, hi] and its two neighbours (a local Gaussian fit); nan if empty."""
    hist, edges = np.histogram(values, bins=np.arange(lo, hi + width, width))
    if not hist.sum():
        return float("nan")
    k = int(np.argmax(hist))
    centre = float(edges[k] + width / 2)
    if k == 0 or k == len(hist) - 1 or np.min(hist[k - 1 : k + 2]) == 0:
        return centre
    y0, y1, y2 = np.log(hist[k - 1 : k + 2].astype(np.float64))
    denom = y0 - 2 * y1 + y2
    return float(centre + (0.5 * width * (y0 - y2) / denom if denom < 0 else 0.0))


def ttbar_summary(path: str | os.PathLike) -> dict[str, float]:
    """Validation numbers of a tt̄ file: matching fractions, multiplicities, mass peaks."""
    arrays = uproot.open(path)["events"].arrays()
    njet = np.asarray(arrays["njet"])
    matched = np.asarray(ak.sum(arrays["parton_jet"] >= 0, axis=1))
    m_qq, m_bqq = truth_masses(arrays)
    ge6 = njet >= 6
    return {
        "events": len(njet),
        "frac_all6_matched": float(np.mean(matched == 6)),
        "frac_all6_matched_given_ge6_jets": float(np.mean(matched[ge6] == 6)) if ge6.any() else 0,
        "mean_partons_matched": float(np.mean(matched)),
        "frac_6_jets": float(np.mean(njet == 6)),
        "frac_7_jets": float(np.mean(njet == 7)),
        "frac_ge8_jets": float(np.mean(njet >= 8)),
        "m_qq_peak": _peak(m_qq, 40, 130, 5),
        "m_qq_median": float(np.median(m_qq)) if len(m_qq) else float("nan"),
        "m_bqq_peak": _peak(m_bqq, 100, 260, 10),
        "m_bqq_median": float(np.median(m_bqq)) if len(m_bqq) else float("nan"),
    }


def _jet_counts(arrays: Any, n_jet_partons: int) -> dict[str, float]:
    njet = np.asarray(arrays["njet"])
    matched = np.asarray(ak.sum(arrays["parton_jet"] >= 0, axis=1))
    return {
        "events": len(njet),
        "frac_all_matched": float(np.mean(matched == n_jet_partons)),
        "mean_partons_matched": float(np.mean(matched)),
        "mean_jets": float(np.mean(njet)),
        **{f"frac_{n}_jets": float(np.mean(njet == n)) for n in range(4, 8)},
        "frac_ge8_jets": float(np.mean(njet >= 8)),
    }


def ljets_summary(path: str | os.PathLike) -> dict[str, float]:
    """Validation numbers of a lepton+jets tt̄ file (partons b_had, q1, q2, b_lep, ℓ, ν):
    matching, multiplicities, hadronic W and top peaks, lepton flavours, MET."""
    a = uproot.open(path)["events"].arrays()
    flavour = np.abs(np.asarray(ak.flatten(a["lepton_pdgid"])))
    m_qq = matched_masses(a, ((1, 2),), 6)
    m_bqq = matched_masses(a, ((0, 1, 2),), 6)
    return {
        **_jet_counts(a, 4),
        "frac_electron": float(np.mean(flavour == 11)),
        "frac_lepton_truth": float(np.mean(np.asarray(ak.flatten(a["lepton_truth"])))),
        "met_median": float(np.median(np.asarray(a["met_pt"]))),
        "m_qq_peak": _peak(m_qq, 40, 130, 5),
        "m_bqq_peak": _peak(m_bqq, 100, 260, 10),
    }


def hh4b_summary(path: str | os.PathLike) -> dict[str, float]:
    """Validation numbers of an HH → 4b file: matching, multiplicities, the truth-matched
    m_bb peak and the truth m_HH percentiles."""
    a = uproot.open(path)["events"].arrays()
    m_bb = matched_masses(a, ((0, 1), (2, 3)), 4)
    p10, p50, p90 = np.percentile(np.asarray(a["mhh"]), [10, 50, 90])
    return {
        **_jet_counts(a, 4),
        "m_bb_peak": _peak(m_bb, 60, 180, 5),
        "mhh_p10": float(p10),
        "mhh_median": float(p50),
        "mhh_p90": float(p90),
    }


def qcd_summary(path: str | os.PathLike) -> dict[str, float]:
    """Validation numbers of a QCD multijet file: multiplicities, the leading jet's pT, the
    b-tagged jets per event, and the cross-section the events stand for."""
    with uproot.open(path) as f:
        a = f["events"].arrays(["njet", "nparton", "parton_jet", "jet_pt", "jet_btag"])
        sigma, n_gen = float(str(f["cross_section_pb"])), int(str(f["n_generated"]))
        err = float(str(f["cross_section_err_pb"]))
    lead = np.asarray(ak.fill_none(ak.firsts(a["jet_pt"]), 0.0))
    nb = np.asarray(ak.sum(a["jet_btag"], axis=1))
    return {
        **_jet_counts(a, 0),
        "lead_pt_p10": float(np.percentile(lead, 10)),
        "lead_pt_median": float(np.median(lead)),
        "mean_btags": float(np.mean(nb)),
        "frac_ge2_btags": float(np.mean(nb >= 2)),
        "cross_section_pb": sigma,
        "cross_section_err_pb": err,
        "pb_per_event": sigma / n_gen if n_gen else float("nan"),
    }


def prong_summary(path: str | os.PathLike) -> dict[str, dict[str, float]]:
    """Per class: number of jets, fraction with all prongs contained, mean mass and towers."""
    with uproot.open(path) as f:
        classes = str(f["classes"]).split(",")
        a = f["jets"].arrays(["label", "n_prongs", "n_contained", "jet_mass", "ntower"])
    out = {}
    for k, name in enumerate(classes):
        sel = np.asarray(a["label"]) == k
        if not sel.any():
            continue
        out[name] = {
            "jets": int(sel.sum()),
            "frac_all_contained": float(
                np.mean(np.asarray(a["n_contained"])[sel] >= np.asarray(a["n_prongs"])[sel])
            ),
            "mean_mass": float(np.mean(np.asarray(a["jet_mass"])[sel])),
            "mean_towers": float(np.mean(np.asarray(a["ntower"])[sel])),
            "p99_towers": float(np.percentile(np.asarray(a["ntower"])[sel], 99)),
            "max_towers": int(np.max(np.asarray(a["ntower"])[sel])),
        }
    return out


def generation_cost(path: str | os.PathLike) -> dict[str, float]:
    """Events generated and CPU seconds spent for a generated file (from its metadata)."""
    with uproot.open(path) as f:
        return {
            "generated_events": int(str(f["n_generated"])),
            "cpu_s": float(str(f["cpu_s"])) if "cpu_s" in f else float("nan"),
        }


def plot_ttbar(path: str | os.PathLike, outdir: str | os.PathLike) -> list[Path]:
    """Write ``ttbar_njet.png`` and ``ttbar_masses.png`` for a tt̄ file; return the paths."""
    plt = pyplot()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    arrays = uproot.open(path)["events"].arrays()
    njet = np.asarray(arrays["njet"])
    m_qq, m_bqq = truth_masses(arrays)
    written = []
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.hist(njet, bins=np.arange(-0.5, max(njet.max(initial=0), 12) + 1.5), histtype="step")
    ax.set_xlabel("number of jets (pT > 25 GeV, |η| < 2.5)")
    ax.set_ylabel("events")
    ax.set_title(f"tt̄ all-hadronic, {len(njet)} events")
    fig.tight_layout()
    written.append(outdir / "ttbar_njet.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, values, bins, label, ref in (
        (axes[0], m_qq, np.arange(0, 202, 4), "m_qq (truth-matched W) [GeV]", 80.4),
        (axes[1], m_bqq, np.arange(50, 352, 6), "m_bqq (truth-matched top) [GeV]", 172.5),
    ):
        ax.hist(values, bins=bins, histtype="step")
        ax.axvline(ref, color="grey", ls="--", lw=1)
        ax.set_xlabel(label)
        ax.set_ylabel("candidates")
    fig.tight_layout()
    written.append(outdir / "ttbar_masses.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    log.info("wrote %s", ", ".join(str(p) for p in written))
    return written


def plot_prongs(path: str | os.PathLike, outdir: str | os.PathLike) -> list[Path]:
    """Write ``prongs_mass.png``, ``prongs_towers.png`` (per class) and
    ``prongs_jet_images.png`` (one jet per class); return the paths."""
    plt = pyplot()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with uproot.open(path) as f:
        classes = str(f["classes"]).split(",")
        a = f["jets"].arrays(["label", "jet_mass", "ntower", "weight"])
    label, weight = np.asarray(a["label"]), np.asarray(a["weight"])
    written = []
    for branch, bins, xlabel, name in (
        ("jet_mass", np.linspace(300, 700, 41), "jet mass [GeV]", "prongs_mass.png"),
        ("ntower", None, "towers per jet", "prongs_towers.png"),
    ):
        values = np.asarray(a[branch])
        if bins is None:  # integer counts: bins of 3 towers up to the largest count
            bins = np.arange(-0.5, values.max(initial=0) + 3.5, 3)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for k, cls in enumerate(classes):
            sel = label == k
            if not sel.any():
                continue
            axes[0].hist(values[sel], bins=bins, histtype="step", label=cls, density=True)
            axes[1].hist(
                values[sel],
                bins=bins,
                weights=weight[sel],
                histtype="step",
                label=cls,
                density=True,
            )
        axes[0].set_title("unweighted")
        axes[1].set_title("with per-jet weights (flat mass, pT)")
        for ax in axes:
            ax.set_xlabel(xlabel)
            ax.set_ylabel("density")
        axes[0].legend(title="prongs", fontsize="small")
        fig.tight_layout()
        written.append(outdir / name)
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)
    written.append(_plot_jet_images(plt, path, classes, outdir / "prongs_jet_images.png"))
    log.info("wrote %s", ", ".join(str(p) for p in written))
    return written


def _plot_jet_images(plt: Any, path: str | os.PathLike, classes: list[str], out: Path) -> Path:
    """The towers of the first jet of each class in the (Δη, Δφ) plane around the jet axis,
    marker area proportional to tower pT; the R = 1.2 circle drawn."""
    with uproot.open(path) as f:
        a = f["jets"].arrays(["label", "jet_eta", "jet_phi", "jet_mass", "tower_pt",
                              "tower_eta", "tower_phi"])  # fmt: skip
    label = np.asarray(a["label"])
    fig, axes = plt.subplots(1, len(classes), figsize=(2.6 * len(classes), 3.0), squeeze=False)
    for k, (ax, cls) in enumerate(zip(axes[0], classes, strict=True)):
        ax.set_aspect("equal")
        ax.set_xlim(-1.3, 1.3)
        ax.set_ylim(-1.3, 1.3)
        ax.add_patch(plt.Circle((0, 0), 1.2, fill=False, color="grey", lw=0.8, ls="--"))
        ax.set_title(f"{cls} prong(s)", fontsize="small")
        ax.set_xlabel("Δη")
        hits = np.flatnonzero(label == k)
        if not len(hits):
            continue
        j = int(hits[0])
        pt = np.asarray(a["tower_pt"][j])
        deta = np.asarray(a["tower_eta"][j]) - float(a["jet_eta"][j])
        dphi = delta_phi(np.asarray(a["tower_phi"][j]), float(a["jet_phi"][j]))
        ax.scatter(deta, dphi, s=400 * pt / pt.max(), alpha=0.6, edgecolors="none")
        ax.text(-1.25, -1.25, f"{len(pt)} towers\nm = {float(a['jet_mass'][j]):.0f} GeV",
                fontsize="x-small", va="bottom")  # fmt: skip
    axes[0][0].set_ylabel("Δφ")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
