"""Regenerate the README's result tables from ``benchmarks/results/*.json``.

Each table sits between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->`` in README.md.

    python benchmarks/tables.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def loading_table() -> str:
    d = json.loads((RESULTS / "loading.json").read_text())
    rows = [
        "| layout | compression | slots × features | floor (uproot + pad) ev/s "
        "| hepattn ev/s | time ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in d["results"]:
        rows.append(
            f"| {r['case']} | {r['compression']} | {r['slots']} × {r['features']} "
            f"| {r['floor_events_per_s']:,} | {r['hepattn_events_per_s']:,} "
            f"| {r['ratio_time_vs_floor']:.2f} |"
        )
    rows.append(f"\nMachine: {d['machine']}; uproot {d['uproot']}, awkward {d['awkward']}.")
    return "\n".join(rows)


def tagger_table() -> str:
    d = json.loads((RESULTS / "tagger.json").read_text())
    names = {
        "mass_hl": "Mass + 16 HL features, fully connected",
        "mass_hl135": "Mass + 135 N-subjettiness values, fully connected",
        "pfn": "PFN (per-tower MLP → sum → MLP)",
        "pfn_1p2m": "PFN at the paper's size",
        "transformer_no_interaction": "Transformer on towers, plain attention",
        "transformer": "Transformer on towers, P-MHA (interaction matrix)",
    }
    rows = [
        "| model | parameters | top-1 accuracy | epochs (best) | training time |",
        "|---|---|---|---|---|",
    ]
    for key, label in names.items():
        m = d["models"].get(key)
        if m is None:
            continue
        rows.append(
            f"| {label} | {m['params']:,} | {100 * m['accuracy']:.2f} ± "
            f"{100 * m['accuracy_err']:.2f} % | {m['epochs']} ({m['best_epoch']}) "
            f"| {m['train_seconds'] / 60:.0f} min |"
        )
    rows.append(
        f"\nTrained on {d['train_jets']:,} jets, tested on {d['test_jets']:,} held-out jets "
        f"({next(iter(d['models'].values()))['machine']}, "
        f"{next(iter(d['models'].values()))['threads']} thread per model)."
    )
    return "\n".join(rows)


def matching_table() -> str:
    from hepattn.metrics.matching import format_table
    from hepattn.topology import TTBAR_ALLHAD

    d = json.loads((RESULTS / "matching.json").read_text())
    tables = {m: {r: d["rows"][r][m] for r in d["rows"]} for m in ("chi2", "network")}
    for cell in (c for t in tables.values() for c in t.values()):
        for key, alias in TTBAR_ALLHAD.report.aliases:  # JSON written before the one matcher
            cell.setdefault(key, cell[alias])
            if f"{alias}_err" in cell:
                cell.setdefault(f"{key}_err", cell[f"{alias}_err"])
    rt = d["runtime_ms_per_event_8jets"]
    text = format_table(tables, TTBAR_ALLHAD).rsplit("\n\n", 1)[0]
    allc = d.get("network_ms_per_event_8jets_all_cores")
    cores = f" ({allc['ms']:.3f} ms on all {allc['cores']} cores)" if allc else ""
    text += (
        f"\n\nRuntime per 8-jet event, one CPU thread: χ² {rt['chi2']:.3f} ms, network "
        f"{rt['network']:.3f} ms (batched){cores}. χ² form: `{d['chi2_mode']}`. "
        f"{d['events']:,} test events. Scaling with N: `benchmarks/results/matching_scaling.png`."
    )
    return text


def tagger_learning_curve_table() -> str:
    """Test accuracy of each tagger at each training size (jets per class), ± bootstrap."""
    d = json.loads((RESULTS / "tagger_learning_curve.json").read_text())
    sizes = d["jets_per_class"]
    rows = ["| model | " + " | ".join(f"{n:,} / class" for n in sizes) + " |"]
    rows.append("|---|" + "---|" * len(sizes))
    for model, m in d["models"].items():
        cells = [
            f"{100 * a:.1f} ± {100 * e:.1f} %" if a is not None else "–"
            for a, e in zip(m["accuracy"], m["accuracy_err"], strict=True)
        ]
        rows.append(f"| {model} | " + " | ".join(cells) + " |")
    for model, m in d["models"].items():
        b = m.get("equal_cpu")
        if b is None:
            continue
        cells = [
            "–"
            if a is None
            else f"{100 * a:.1f} ± {100 * e:.1f} % ({c:.0f} of {cap:.0f} CPU s, {end})"
            for a, e, c, cap, end in zip(
                b["accuracy"],
                b["accuracy_err"],
                b["train_loop_cpu_seconds"],
                b["cpu_budget_s"],
                b["ended_by"],
                strict=True,
            )
        ]
        rows.append(f"| {model}, equal CPU budget | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _model_cell(m: dict | None) -> str:
    if m is None:
        return "–"
    at_cap = m["epochs"] == m.get("epoch_cap")
    conv = ", cap, not converged" if not m["converged"] else (", at cap" if at_cap else "")
    cpu = m["cpu_seconds"]
    cost = f"{cpu:.0f} CPU s" if cpu < 120 else f"{cpu / 60:.0f} CPU min"
    grid = m.get("lr_grid")
    lr = (
        f"; lr {m['lr']:.0e} chosen on validation from "
        + ", ".join(f"{float(x):.0e}" for x in grid)
        + ", CPU of the whole grid"
        if grid
        else ""
    )
    return (
        f"{100 * m['accuracy']:.1f} ± {100 * m['accuracy_err']:.1f} % "
        f"({m['epochs']} ep., best {m['best_epoch']}{conv}; {cost}{lr})"
    )


def _physics_findings(d: dict) -> list[str]:
    """Findings, each a sentence built from the JSON's numbers (nothing typed)."""
    rows = {r["name"]: r["models"] for r in d["ablation"] + d.get("baselines", [])}

    def acc(row: str, model: str) -> float | None:
        m = rows.get(row, {}).get(model)
        return None if m is None else 100 * m["accuracy"]

    out = ["Findings (from the numbers above):", ""]
    for a, b, what in (
        ("particle_level", "card", "The card's calorimeter costs"),
        ("uniform_grid", "card", "The card's finer grids instead of the single 0.1 grid change"),
        ("card_not_contained", "card", "Requiring all prongs in the jet changes"),
    ):
        parts = []
        for model in ("mass_hl", "transformer"):
            x, y = acc(a, model), acc(b, model)
            if x is not None and y is not None:
                parts.append(f"{model} {x:.1f} → {y:.1f} % ({y - x:+.1f})")
        if parts:
            out.append(f"- {what}: " + "; ".join(parts) + ".")
    if acc("card_paper_inputs", "transformer") is not None and acc("card", "transformer"):
        ep = [rows[r]["transformer"]["epochs"] for r in ("card", "card_paper_inputs")]
        out.append(
            f"- Towers as (pT, η, φ) only instead of our seven features: transformer "
            f"{acc('card', 'transformer'):.1f} → {acc('card_paper_inputs', 'transformer'):.1f} % "
            f"(after {ep[0]} and {ep[1]} epochs; early stopping on 2,100 validation jets)."
        )
    best, best_model = max(
        (
            (m["accuracy"], k)
            for r in rows.values()
            for k, m in r.items()
            if k.startswith("mass_hl")
        ),
        default=(None, None),
    )
    phys = d.get("physics", {})
    truth = next((v for v in ("card", "none", "open") if "qcd" in phys.get(v, {})), None)
    if best is not None and truth:
        t = phys[truth]
        many = [c for c in ("4b", "4q", "6", "8") if c in t]
        soft = ", ".join(f"{c} {100 * t[c]['frac_softest_prong_below_5pct']:.0f} %" for c in many)
        close = ", ".join(
            f"{c} {100 * t[c]['frac_two_prongs_within_hcal_cell']:.0f} %" for c in many
        )
        curve = json.loads((RESULTS / "tagger_learning_curve.json").read_text())
        hl, n = curve["models"]["mass_hl"]["accuracy"], curve["jets_per_class"]
        out.append(
            f"- The best Mass + HL row ({best_model}) reaches {100 * best:.1f} % even with no "
            "detector, against the paper's 84.14 % through Delphes, and the 17-input network "
            "gains only "
            f"{100 * (hl[-1] - hl[0]):.1f} points from {n[0]:,} to {n[-1]:,} training jets per "
            "class (learning curve): neither the detector nor the training size closes the "
            "gap, our classes are less separable than the paper's. In the truth record, the "
            "share of jets whose "
            f"softest decay quark carries under 5 % of the prongs' energy is {soft}, and "
            f"the share with two quarks closer than one HCAL cell (0.1) {close}: in many "
            "jets not all N prongs are hard and apart. The QCD jets hold one hard parton "
            f"(gluon {100 * t['qcd']['frac_gluon']:.0f} %), their 300–700 GeV mass made by "
            "the shower."
        )
    return out


def tagger_physics_table() -> str:
    """The ablation rows, the truth physics per class, the QCD composition and the recipe's
    departures from the paper (``tagger_physics.json``)."""
    d = json.loads((RESULTS / "tagger_physics.json").read_text())
    names = {
        "mass_hl": "Mass + HL",
        "mass_hl135": "Mass + 135 τ_N^β",
        "transformer": "small transformer",
    }
    columns = {m: t for m, t in names.items() if any(m in r["models"] for r in d["ablation"])}
    rows = [
        "| jets | train / test jets per class | " + " | ".join(columns.values()) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for r in d["ablation"]:
        cells = " | ".join(_model_cell(r["models"].get(m)) for m in columns)
        rows.append(
            f"| {r['label']} (`{r['detector']}`) | {r['jets_per_class']:,} / "
            f"{r['test_jets_per_class']:,} | {cells} |"
        )
    params = {m: v["params"] for r in d["ablation"] for m, v in r["models"].items()}
    rows.append(
        "\nWeighted accuracy on each row's own held-out test file (flat in mass and pT), "
        "bootstrap errors; epochs run and best epoch (converged: the last `patience` epochs "
        'brought no gain; "at cap": that happened exactly at the epoch cap, where the cosine '
        f"learning rate reaches zero); {d['recipe']['training']}; parameters "
        + ", ".join(f"{m} {n:,}" for m, n in params.items())
        + f". Data: {d['recipe']['data']}. Confusion matrices: "
        "`benchmarks/results/tagger_physics_confusion.png`."
    )
    for r in d.get("baselines", []):
        rows += [
            "",
            f"Baselines on the same jets, {r['label']} "
            f"({r['jets_per_class']:,} training jets per class):",
            "",
            "| model | parameters | accuracy |",
            "|---|---|---|",
        ]
        for m, v in r["models"].items():
            rows.append(f"| {m} | {v['params']:,} | {_model_cell(v)} |")
    phys = d.get("physics", {})
    truth = next((v for v in ("card", "none", "open") if "qcd" in phys.get(v, {})), None)
    if truth:
        t = phys[truth]
        rows += [
            "",
            "Truth prongs inside the jet (ΔR < 1.2; contained test jets, "
            f"{ {'none': 'particle level', 'card': 'card', 'open': 'not contained'}[truth] }) "
            "and constituents per jet (particles at particle level, towers on the card; the "
            "networks read the leading 128):",
            "",
            "| class | prongs in jet | smallest prong ΔR, 10/50/90 % | two prongs within "
            "0.1 (HCAL cell) | softest prong's energy fraction, 10/50/90 % | softest < 5 % "
            "| constituents: particles / card towers | over 128: particles / card towers |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for cls in ("1", "2", "3", "4b", "4q", "6", "8"):
            v = t.get(cls)
            if v is None:
                continue

            def q(x: list) -> str:
                return " / ".join("–" if y is None else f"{y:.2f}" for y in x)

            def pct(x: float | None) -> str:
                return "–" if x is None else f"{100 * x:.0f} %"

            card = phys.get("card", {}).get(cls, {})
            part = phys.get("none", {}).get(cls, {})
            rows.append(
                f"| {cls} | {v['prongs_in_jet_mean']:.2f} | {q(v['min_pair_dr_q10_q50_q90'])} "
                f"| {pct(v['frac_two_prongs_within_hcal_cell'])} "
                f"| {q(v['min_energy_fraction_q10_q50_q90'])} "
                f"| {pct(v['frac_softest_prong_below_5pct'])} "
                f"| {part.get('constituents_mean', float('nan')):.0f} / "
                f"{card.get('constituents_mean', float('nan')):.0f} "
                f"| {pct(part.get('frac_over_max_objects'))} / "
                f"{pct(card.get('frac_over_max_objects'))} |"
            )
        qcd = t["qcd"]
        rows.append(
            f"\nQCD class (1 prong): the jet's hard parton is a gluon in "
            f"{100 * qcd['frac_gluon']:.0f} %, a light quark in "
            f"{100 * qcd['frac_light_quark']:.0f} %, c {100 * qcd['frac_c']:.0f} %, b "
            f"{100 * qcd['frac_b']:.0f} %; both hard partons in the jet "
            f"{100 * qcd['frac_both_hard_partons_in_jet']:.0f} %. Mean m/pT: "
            + ", ".join(
                f"{c} {phys['card'][c]['mass_over_pt_mean']:.2f}"
                for c in ("1", "2", "3", "4b", "4q", "6", "8")
                if c in phys.get("card", {})
            )
            + " (card). Distributions: `benchmarks/results/tagger_physics_truth.png`."
        )
    rows += ["", *_physics_findings(d)]
    rows += [
        "",
        "Our recipe against the paper's (REFERENCE §3), with the measured effect where there "
        "is one:",
        "",
        "| what | paper | ours | effect (measured) |",
        "|---|---|---|---|",
    ]
    for dep in d["departures"]:
        cells = (dep[k].replace("|", "\\|") for k in ("what", "paper", "ours", "effect"))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def topologies_table() -> str:
    """One efficiency table per declared topology (network vs its baseline), with counts."""
    from hepattn.metrics.matching import format_table
    from hepattn.topology import load_topology

    d = json.loads((RESULTS / "topologies.json").read_text())
    parts = []
    for name, r in d.items():
        methods = list(next(iter(r["rows"].values())))
        tables = {m: {row: r["rows"][row][m] for row in r["rows"]} for m in methods}
        parts.append(
            format_table(tables, load_topology(name), f"**{name}**")
            + f"\n\n{r['events']:,} held-out events ({', '.join(r['files'])}); model "
            f"`{r['model']}` ({r['train_events']:,} training events, {r['train_epochs']} "
            f"epochs); baseline: {r['baseline']}."
        )
    return "\n\n".join(parts)


def triplet_table() -> str:
    """ms and peak MiB per (N, pass) at D = 64 (all D in the JSON), one column per device and
    backend."""
    records = json.loads((RESULTS / "triplet.json").read_text())
    columns = sorted({(r["device"], r["backend"]) for r in records})
    cells = {(r["device"], r["backend"], r["N"], r["D"], r["pass"]): r for r in records}
    head = " | ".join(f"{b} on {dev}: ms / peak MiB" for dev, b in columns)
    rows = [f"| N | D | B | pass | {head} |", "|---|---|---|---|" + "---|" * len(columns)]
    keys = sorted({(r["N"], r["D"], r["pass"]) for r in records if r["D"] == 64})
    for n, d, kind in keys:
        b = next(r["B"] for r in records if (r["N"], r["D"]) == (n, d))
        vals = []
        for dev, backend in columns:
            r = cells.get((dev, backend, n, d, kind))
            vals.append(f"{r['ms']:.2f} / {r['peak_bytes'] / 2**20:.0f}" if r else "–")
        rows.append(f"| {n} | {d} | {b} | {kind} | " + " | ".join(vals) + " |")
    return "\n".join(rows)


def generate_table() -> str:
    """Plain vs fast generation per class and tt̄, then the calorimeter change."""
    d = json.loads((RESULTS / "generate.json").read_text())
    rows = [
        "| process | plain / CPU s | fast / CPU s | speed-up | towers per jet: mean / p99 / max "
        "| kept jets lost by the fast path | smallest KS p-value (observable) |",
        "|---|---|---|---|---|---|---|",
    ]
    for cls, r in d["classes"].items():
        name, p = min(r["ks_p_values"].items(), key=lambda kv: kv[1])
        rows.append(
            f"| {cls} prong(s) | {r['plain_jets_per_cpu_s']:.1f} jets | "
            f"{r['fast_jets_per_cpu_s']:.1f} jets | {r['speedup']:.2f}× | "
            f"{r['towers_mean']:.1f} / {r['towers_p99']:.0f} / {r['towers_max']} | "
            f"{r['lost_jets']} of {r['jets_plain']:,} | {p:.2f} ({name}) |"
        )
    t = d["ttbar"]
    name, p = min(t["ks_p_values"].items(), key=lambda kv: kv[1])
    rows.append(
        f"| tt̄ all-hadronic | {t['plain_events_per_cpu_s']:.1f} events | "
        f"{t['fast_events_per_cpu_s']:.1f} events | {t['speedup']:.2f}× | – | – | "
        f"{p:.2f} ({name}) |"
    )
    c = d["detector_comparison"]
    rows += [
        "",
        "Calorimeter change on the same Pythia events (`delphes-atlas` = the card's ECAL + HCAL "
        "grids, `uniform` = the former single 0.1 × 0.1 grid); resolutions are half the 16–84 % "
        "interval of reco / particle-level jet, divided by the median:",
        "",
        "| class | towers per jet, mean / p99 / max | pT response / resolution "
        "| mass response / resolution | all prongs contained |",
        "|---|---|---|---|---|",
    ]
    for cls, per in c["prongs"].items():
        cells = []
        for key in ("towers", "pt", "mass", "contained"):
            vals = []
            for det in ("delphes-atlas", "uniform"):
                r = per[det]
                if key == "towers":
                    vals.append(
                        f"{r['towers_mean']:.1f} / {r['towers_p99']:.0f} / {r['towers_max']}"
                    )
                elif key == "contained":
                    vals.append(f"{100 * r['frac_contained']:.0f} %")
                else:
                    vals.append(f"{r[key]['response']:.3f} / {100 * r[key]['resolution']:.1f} %")
            cells.append(" vs ".join(vals))
        rows.append(f"| {cls} | " + " | ".join(cells) + " |")
    tt = c["ttbar"]
    a, u = tt["delphes-atlas"], tt["uniform"]
    rows += [
        "",
        f"tt̄ ({a['events']:,} events each): all six partons matched "
        f"{100 * a['frac_all6_matched']:.1f} % vs {100 * u['frac_all6_matched']:.1f} %; "
        f"truth-matched W peak {a['m_qq_peak']:.1f} vs {u['m_qq_peak']:.1f} GeV, top peak "
        f"{a['m_bqq_peak']:.1f} vs {u['m_bqq_peak']:.1f} GeV; jets 6 / 7 / ≥ 8: "
        f"{100 * a['frac_6_jets']:.1f} / {100 * a['frac_7_jets']:.1f} / "
        f"{100 * a['frac_ge8_jets']:.1f} % vs {100 * u['frac_6_jets']:.1f} / "
        f"{100 * u['frac_7_jets']:.1f} / {100 * u['frac_ge8_jets']:.1f} %.",
        "",
        f"Budget: {d['config']['jets_per_class']:,} kept jets per class and path, "
        f"{d['config']['ttbar_events']:,} tt̄ events per path; {d['machine']}; "
        f"{d['wall_s'] / 60:.0f} min wall.",
    ]
    return "\n".join(rows)


def tagger_throughput_table() -> str:
    d = json.loads((RESULTS / "tagger_throughput.json").read_text())
    rows = [
        "| model | before: jets / CPU s | real slots | after: jets / CPU s | real slots "
        "| speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for model, r in d.items():
        b, a = r["before"], r["after"]
        rows.append(
            f"| {model} | {b['jets_per_cpu_s']:.0f} | {100 * b['real_slot_fraction']:.0f} % "
            f"| {a['jets_per_cpu_s']:.0f} | {100 * a['real_slot_fraction']:.0f} % "
            f"| {r['speedup']:.2f}× |"
        )
    return "\n".join(rows)


def onnx_decode_table() -> str:
    """Agreement of ``export-onnx --decode`` with ``hepattn match`` and its cost, per k."""
    d = json.loads((RESULTS / "onnx_decode.json").read_text())
    rows = [
        "| k | events as `hepattn match` | differing fraction | ONNX MB / nodes "
        "| onnxruntime µs per event |",
        "|---|---|---|---|---|",
    ]
    for r in d["results"]:
        mark = " (default)" if r["k"] == d["default_k"] else ""
        rows.append(
            f"| {r['k']}{mark} | {r['agree']:,} of {r['events']:,} | "
            f"{r['differing_fraction']:.2%} | {r['onnx_bytes'] / 1e6:.2f} / {r['onnx_nodes']:,} "
            f"| {r['ort_us_per_event']:.0f} |"
        )
    p = d["plain"]
    rows.append(
        f"\n{d['model'][0].upper()}{d['model'][1:]} on all {d['events']:,} events of "
        f"`{d['sample']}` "
        f"({d['events_ge6_jets']:,} with ≥ 6 jets, at most {d['max_jets']}), batches of "
        f"{d['batch']:,}; agreeing events' probabilities within "
        f"{max(r['prob_max_abs_diff'] for r in d['results']):.0e}. Without `--decode` "
        f"({p['onnx_bytes'] / 1e6:.2f} MB, {p['onnx_nodes']:,} nodes): "
        f"{p['ort_us_per_event']:.0f} µs per event; `hepattn match` (torch, exact decoding): "
        f"{d['match_us_per_event']:.0f} µs per event. {d['machine']}."
    )
    return "\n".join(rows)


def calibration_table() -> str:
    """Per bundled matcher and resonance: ECE of the assignment and detection probabilities
    before and after the isotonic maps, and the purity reached when keeping half the events."""
    d = json.loads((RESULTS / "calibration.json").read_text())
    info_path = RESULTS / "calibration_details.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    rows = [
        "| model | resonance | assignment ECE raw → calibrated (floor) | detection ECE raw → "
        "calibrated (floor) |",
        "|---|---|---|---|",
    ]

    def cell(e: dict) -> str:
        if e["ece"] is None:
            return "—"
        floor = f" ({e['ece_floor']:.3f})" if e.get("ece_floor") is not None else ""
        return f"{e['ece_raw']:.3f} → {e['ece']:.3f}{floor}"

    for model, res in d.items():
        for name, r in res.items():
            rows.append(
                f"| `{model}` | {name} | {cell(r['assignment'])} | {cell(r['detection'])} |"
            )
    notes = []
    for model, i in info.items():
        curves = i["purity"]
        half = {k: c["purity"][c["kept"].index(min(c["kept"], key=lambda f: abs(f - 0.5)))]
                for k, c in curves.items()}  # fmt: skip
        cells = "; ".join(f"{k} {100 * v:.1f} %" for k, v in half.items())
        notes.append(
            f"- `{model}`: maps fitted on {i['fit_file']}, measured on {i['events']:,} held-out "
            f"events ({i['test_file']}); keeping the half of the events with the best score, "
            f"correct among them: {cells}."
        )
    floor = (
        "Floor: the ECE a perfectly calibrated model shows on the same events (outcomes drawn "
        "from its own probabilities, 20 draws): what the finite sample alone gives."
    )
    cells = [(m, n, k, r[k]) for m, res in d.items() for n, r in res.items() for k in r]
    cells = [c for c in cells if c[3]["ece"] is not None]
    missed = [c for c in cells if c[3]["ece"] > 0.02]
    floor += (
        f" Target ECE ≤ 0.02 after calibration: met in {len(cells) - len(missed)} of "
        f"{len(cells)} cells"
        + (
            "; not in "
            + ", ".join(
                f"`{m}` {n} {k} ({c['ece']:.3f}, floor {c['ece_floor']:.3f})"
                for m, n, k, c in missed
            )
            if missed
            else ""
        )
        + "."
    )
    return "\n".join(rows) + "\n\n" + floor + "\n\n" + "\n".join(notes)


def systematics_table() -> str:
    """Per bundled matcher and variation: the inclusive and per-row shift of ε_event, network
    beside its baseline (percentage points)."""
    d = json.loads((RESULTS / "systematics.json").read_text())
    info = json.loads((RESULTS / "systematics_details.json").read_text())
    rows = ["| model | variation | method | " + " | ".join(["rows (Δε_event, points)"]) + " |",
            "|---|---|---|---|"]  # fmt: skip
    for model, variations in d.items():
        for name, shift in variations.items():
            methods = list(next(iter(shift.values())))
            for m in methods:
                cells = ", ".join(f"{r} {100 * s[m]:+.2f}" for r, s in shift.items())
                rows.append(f"| `{model}` | {name} | {m} | {cells} |")
    i = next(iter(info.values()))
    note = (
        f"σ_JES = {i['jes_sigma']:g} (four-momenta × (1 ± σ); the tagger's towers too: row "
        "`all` is its weighted accuracy), σ_JER = "
        f"{i['jer_sigma']:g} "
        f"(extra Gaussian smearing, seed {i['seed']}); on the shipped samples ("
        + ", ".join(f"`{m}`: {x['file']}, {x['events']:,} events" for m, x in info.items())
        + "); both methods re-run on the same events, varied: each shift is a difference of "
        "two tables of the same events (correlated), not of independent samples. btag-up / "
        "btag-down: b-tag scale factors as per-event weights (fixed working point, "
        f"{i.get('btag_sf', 'samples/corrections.json')}), the shift measured from the table "
        "weighted with the central scale factors; the inputs, hence both methods' answers, are "
        "unchanged. Plot: `benchmarks/results/systematics.png`."
    )
    return "\n".join(rows) + "\n\n" + note


def finetune_table() -> str:
    """As is, from scratch and fine-tuned, per task, on the held-out target-domain events."""
    d = json.loads((RESULTS / "finetune.json").read_text())
    rows = [
        "| task | metric | bundled as is | trained from scratch | fine-tuned | training / test "
        "| epochs (scratch / fine-tuned) | CPU s (scratch / fine-tuned) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, r in d.items():
        rows.append(
            f"| {task} | {r['metric']} | {100 * r['as_is']:.1f} % | {100 * r['scratch']:.1f} % "
            f"| {100 * r['fine_tuned']:.1f} % | {r['train_events']:,} / {r['test_events']:,} "
            f"| {r['epochs']['scratch']} / {r['epochs']['fine_tuned']} "
            f"| {r['cpu_seconds']['scratch']:.0f} / {r['cpu_seconds']['fine_tuned']:.0f} |"
        )
    domains = {r["target_domain"] for r in d.values()}
    return "\n".join(rows) + f"\n\nTarget domain: {', '.join(sorted(domains))}."


def regression_table() -> str:
    """Per topology and regression: resolution, bias and pull width of the network, beside
    the analytic method where there is one."""
    d = json.loads((RESULTS / "regression.json").read_text())
    rows = [
        "| topology | target | network resolution / bias / pull width | analytic resolution / "
        "bias | events |",
        "|---|---|---|---|---|",
    ]

    def cells(r: dict | None, pull: bool) -> str:
        if r is None or r.get("resolution") is None:
            return "—"
        out = f"{r['resolution']:.3g} / {r['bias']:+.3g}"
        return out + (f" / {r['pull_width']:.2f}" if pull and r.get("pull_width") else "")

    for topo, targets in d.items():
        for name, r in targets.items():
            rows.append(
                f"| {topo} | `{name}` | {cells(r['network'], True)} | "
                f"{cells(r['analytic'], False)} | {r['events']:,} |"
            )
    return "\n".join(rows)


def kernels_compile_table() -> str:
    """Per kernel and target: the specialisations compiled, the most registers and shared
    memory, the lowest occupancy, and those that spill (compiled, not run, figures)."""
    d = json.loads((RESULTS / "kernels_compile.json").read_text())
    rows = ["| kernel | target | compiled | errors | spilling | max registers | max shared (KiB) "
            "| min occupancy |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    groups: dict = {}
    for k in d["kernels"]:
        groups.setdefault((k["name"], k["target"]), []).append(k)
    notes = []
    for (name, target), ks in groups.items():
        ok = [k for k in ks if "error" not in k]
        spill = [k for k in ok if k["spills"]]
        rows.append(
            f"| `{name}` | {target} | {len(ok)} | {len(ks) - len(ok)} | {len(spill)} | "
            f"{max((k['registers'] for k in ok), default=0)} | "
            f"{max((k['shared_bytes'] for k in ok), default=0) / 1024:.0f} | "
            f"{min((k['occupancy'] for k in ok), default=0):.2f} |"
        )
        dps = sorted({k["specialisation"]["DP"] for k in spill})
        if spill:
            notes.append(f"`{name}` on {target} spills at DP {dps}")
    roof = [r for r in d.get("roofline", []) if r["n"] == 64 and r["d"] == 32]
    line = "; ".join(
        f"{r['target']} {r['dtype']}: kernel {r['us_kernel']:.2f} µs, torch {r['us_torch']:.2f} µs"
        for r in roof
    )
    return (
        "\n".join(rows)
        + "\n\n"
        + ("Spills: " + "; ".join(notes) + "." if notes else "No specialisation spills.")
        + f" Roofline estimate per event, N = 64 jets, D = 32 (forward): {line}."
    )


def dask_table() -> str:
    """Events per second of ``match --dask`` with 1 and 2 worker processes on the same files."""
    d = json.loads((RESULTS / "dask.json").read_text())
    rows = ["| workers | events/s | seconds | model load (s, not timed) | s per file per worker |",
            "|---|---|---|---|---|"]  # fmt: skip
    for n, w in d["workers"].items():
        rows.append(
            f"| {n} | {w['events_per_s']:,.0f} | {w['seconds']:.2f} | "
            f"{w.get('model_load_s', float('nan')):.2f} | {w.get('seconds_per_file', 0):.2f} |"
        )
    return "\n".join(rows) + (
        f"\n\n{d['files']} files, {d['events']:,} events (the shipped all-hadronic sample), "
        f"{d['cpus']} CPUs: speedup with 2 workers {d['speedup_2']:.2f}×; model loads per "
        f"worker {d['model_loads_per_worker']}; peak resident memory per worker "
        f"{d['peak_rss_mb_per_worker']:.0f} MB."
    )


TABLES = {
    "dask": dask_table,
    "kernels_compile": kernels_compile_table,
    "generate": generate_table,
    "tagger_throughput": tagger_throughput_table,
    "loading": loading_table,
    "tagger": tagger_table,
    "matching": matching_table,
    "triplet": triplet_table,
    "topologies": topologies_table,
    "tagger_learning_curve": tagger_learning_curve_table,
    "onnx_decode": onnx_decode_table,
    "tagger_physics": tagger_physics_table,
    "calibration": calibration_table,
    "systematics": systematics_table,
    "finetune": finetune_table,
    "regression": regression_table,
}


def write_card_block(card: Path, block: str) -> None:
    """Put ``block`` (``<!-- test -->`` … ``<!-- /test -->``) into the model card ``card``,
    replacing the one there or appending it."""
    text = card.read_text()
    if "<!-- test -->" in text:
        text = re.sub(r"<!-- test -->.*?<!-- /test -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    card.write_text(text)
    print(f"updated {card}")


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    for name, make in TABLES.items():
        if not (RESULTS / f"{name}.json").exists():
            continue
        pattern = re.compile(rf"(<!-- table:{name} -->\n).*?(<!-- /table:{name} -->)", re.S)
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), text)
    readme.write_text(text)


if __name__ == "__main__":
    main()
