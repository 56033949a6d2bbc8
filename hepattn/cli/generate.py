"""``hepattn generate ttbar|hh4b|qcd|prongs``: realistic samples from Pythia 8 + FastJet +
towers."""

from __future__ import annotations

import argparse
import os
import sys
import time

from hepattn.errors import DataError
from hepattn.tasks.presets import CLASSES


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="output ROOT file")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same file)")
    p.add_argument("--jobs", type=int, default=None, help="parallel processes (default: all cores)")
    p.add_argument("--chunk-size", type=int, default=None, help="entries per chunk file")
    p.add_argument("--plots", metavar="DIR", help="write validation PNG plots to DIR")
    p.add_argument(
        "--detector",
        default="delphes-atlas",
        choices=("delphes-atlas", "uniform", "none"),
        help="calorimeter model: the Delphes ATLAS card's ECAL+HCAL grids (default), the "
        "former single 0.1 x 0.1 grid, or none: particle level (stable particles but "
        "neutrinos as the constituents; prongs only)",
    )
    p.add_argument(
        "--plain",
        action="store_true",
        help="generate without the fast path (no preselection hooks, per-particle record "
        "copy); same physics, slower; for comparisons",
    )
    p.add_argument("--json", metavar="FILE", help="also write the end summary as JSON to FILE")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (off anyway without a TTY)"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate ttbar, HH, QCD multijet or prong-class samples (Pythia 8, FastJet, "
        "calorimeter model)",
        description="Generate realistic samples. Output is written in chunks next to the file "
        "(FILE.parts/) and merged at the end; re-run the same command to resume.",
    )
    sub = parser.add_subparsers(dest="process", metavar="PROCESS", required=True)
    tt = sub.add_parser("ttbar", help="ttbar events (all-hadronic or lepton+jets), R=0.4 jets")
    tt.add_argument("-n", "--events", type=int, default=10_000, help="events to write")
    tt.add_argument(
        "--min-jets", type=int, default=0, help="keep only events with at least this many jets"
    )
    tt.add_argument(
        "--channel",
        choices=("allhad", "ljets"),
        default="allhad",
        help="allhad: both W to quarks (topology ttbar-allhad); ljets: one W to e/mu nu, "
        "exactly one isolated lepton, MET (topology ttbar-ljets)",
    )
    _common(tt)
    hh = sub.add_parser("hh4b", help="gg -> HH -> bbbb events, R=0.4 jets (topology hh-4b)")
    hh.add_argument("-n", "--events", type=int, default=10_000, help="events to write")
    hh.add_argument(
        "--min-jets", type=int, default=0, help="keep only events with at least this many jets"
    )
    _common(hh)
    qc = sub.add_parser(
        "qcd",
        help="QCD multijet background, R=0.4 jets, the signal files' layout (no partons)",
        description="Pythia's hard 2->2 QCD processes above a pT-hat threshold, reconstructed "
        "as the signal samples; the file records Pythia's cross-section of what it generated "
        "(cross_section_pb, cross_section_err_pb) and n_generated, so that the events can be "
        "weighted to physical proportions: each stands for cross_section_pb / n_generated pb.",
    )
    qc.add_argument("-n", "--events", type=int, default=10_000, help="events to write")
    qc.add_argument(
        "--min-jets",
        type=int,
        default=4,
        help="keep only events with at least this many jets (default 4)",
    )
    qc.add_argument(
        "--pthat-min",
        type=float,
        default=100.0,
        metavar="GEV",
        help="threshold on the hard process's pT (PhaseSpace:pTHatMin, default 100): well below "
        "the leading-jet pT your selection keeps, high enough to populate it",
    )
    qc.add_argument(
        "--heavy-flavour",
        action="store_true",
        help="only hard processes with a b b-bar final state (gg, qq-bar -> b b-bar): the "
        "background that survives b-tagging, at its own cross-section",
    )
    _common(qc)
    pr = sub.add_parser("prongs", help=f"boosted R=1.2 jets of {','.join(CLASSES)} prongs + towers")
    pr.add_argument("-n", "--jets", type=int, default=1000, help="jets per class")
    pr.add_argument(
        "--classes",
        default=",".join(CLASSES),
        help="comma-separated classes to generate (default: all seven)",
    )
    pr.add_argument(
        "--contained",
        action="store_true",
        help="keep only jets with all their prongs within dR < 1.2 of the axis",
    )
    _common(pr)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:
        print(
            f"hepattn generate: interrupted; the chunks written so far are kept in "
            f"{args.output}.parts/ - run the same command again to resume",
            file=sys.stderr,
        )
        return 130


def _run(args: argparse.Namespace) -> int:
    from hepattn.cli._options import check_outputs
    from hepattn.generate import plots

    check_outputs(
        (),
        (args.output, "output", False),
        (args.json, "--json file", False),
        (args.plots, "--plots directory", True),
    )
    start = time.perf_counter()
    progress = False if args.no_progress else None
    chunk = {} if args.chunk_size is None else {"chunk_size": args.chunk_size}
    common = {"seed": args.seed, "detector": args.detector, "fast": not args.plain, **chunk}
    if args.process == "ttbar" and args.channel == "allhad":
        from hepattn.generate.ttbar import TtbarConfig, generate_ttbar

        config = TtbarConfig(n_events=args.events, min_jets=args.min_jets, **common)
        path = generate_ttbar(args.output, config, jobs=args.jobs, progress=progress)
        summary = plots.ttbar_summary(path)
        n = summary["events"]
        table = _ttbar_table(summary)
        if args.plots:
            plots.plot_ttbar(path, args.plots)
    elif args.process in ("ttbar", "hh4b"):
        if args.process == "ttbar":
            from hepattn.generate.ttbar import TtbarConfig, generate_ttbar

            config = TtbarConfig(
                n_events=args.events, min_jets=args.min_jets, channel=args.channel, **common
            )
            path = generate_ttbar(args.output, config, jobs=args.jobs, progress=progress)
            summary = plots.ljets_summary(path)
        else:
            from hepattn.generate.hh4b import HH4bConfig, generate_hh4b

            config = HH4bConfig(n_events=args.events, min_jets=args.min_jets, **common)
            path = generate_hh4b(args.output, config, jobs=args.jobs, progress=progress)
            summary = plots.hh4b_summary(path)
        n = summary["events"]
        table = _resolved_table(summary)
        if args.plots:
            import logging

            logging.getLogger(__name__).warning(
                "--plots: validation plots are written for all-hadronic ttbar and prong "
                "samples only; none written for this one"
            )
    elif args.process == "qcd":
        from hepattn.generate.qcd import QcdConfig, generate_qcd

        config = QcdConfig(
            n_events=args.events,
            min_jets=args.min_jets,
            pthat_min=args.pthat_min,
            heavy_flavour=args.heavy_flavour,
            **common,
        )
        path = generate_qcd(args.output, config, jobs=args.jobs, progress=progress)
        summary = plots.qcd_summary(path)
        n = summary["events"]
        table = _qcd_table(summary)
    else:
        from hepattn.generate.prongs import ProngsConfig, generate_prongs

        classes = tuple(c.strip() for c in args.classes.split(",") if c.strip())
        config = ProngsConfig(n_jets=args.jets, classes=classes, contained=args.contained, **common)
        path = generate_prongs(args.output, config, jobs=args.jobs, progress=progress)
        summary = plots.prong_summary(path)
        n = sum(v["jets"] for v in summary.values())
        table = _prong_table(summary)
        if args.plots:
            plots.plot_prongs(path, args.plots)
    if not os.path.exists(path):
        raise DataError(f"{path} was not written")
    elapsed = time.perf_counter() - start
    cost = plots.generation_cost(path)
    summary = {"entries": n, "wall_s": elapsed, **cost, "summary": summary}
    rate = n / cost["cpu_s"] if cost["cpu_s"] > 0 else float("nan")
    print(
        f"wrote {path}: {n} entries from {cost['generated_events']} generated events, "
        f"{elapsed:.0f} s wall, {cost['cpu_s']:.0f} CPU s ({rate:.1f} entries per CPU s; "
        f"chunks of earlier runs included)"
    )
    print(table)
    if args.json:
        from hepattn.data.outputs import write_json

        write_json(args.json, summary)
    return 0


def _prong_table(summary: dict[str, dict[str, float]]) -> str:
    head = ("class", "jets", "contained", "<mass>", "towers", "p99", "max")
    rows = [" ".join(f"{h:>{w}}" for h, w in zip(head, (5, 7, 9, 7, 7, 5, 5), strict=True))]
    for name, v in summary.items():
        rows.append(
            f"{name:>5} {v['jets']:>7d} {v['frac_all_contained']:>9.3f} {v['mean_mass']:>7.1f} "
            f"{v['mean_towers']:>7.1f} {v['p99_towers']:>5.0f} {v['max_towers']:>5d}"
        )
    return "\n".join(rows)


def _resolved_table(s: dict[str, float]) -> str:
    """Summary lines of a lepton+jets or HH file (keys of ``ljets_summary``/``hh4b_summary``)."""
    lines = [
        f"events {s['events']}; mean jets {s['mean_jets']:.2f}; jets 4 / 5 / 6 / 7 / >=8: "
        + " / ".join(f"{s[k]:.3f}" for k in [f"frac_{n}_jets" for n in range(4, 8)])
        + f" / {s['frac_ge8_jets']:.3f}",
        f"all four jet partons matched: {s['frac_all_matched']:.3f}; "
        f"mean matched {s['mean_partons_matched']:.2f}",
    ]
    if "m_qq_peak" in s:
        lines.append(
            f"electrons {s['frac_electron']:.3f}; lepton from the W {s['frac_lepton_truth']:.3f}; "
            f"median MET {s['met_median']:.1f} GeV; truth-matched peaks: W {s['m_qq_peak']:.1f} "
            f"GeV, hadronic top {s['m_bqq_peak']:.1f} GeV"
        )
    else:
        lines.append(
            f"truth-matched m_bb peak {s['m_bb_peak']:.1f} GeV; m_HH 10/50/90 %: "
            f"{s['mhh_p10']:.0f} / {s['mhh_median']:.0f} / {s['mhh_p90']:.0f} GeV"
        )
    return "\n".join(lines)


def _qcd_table(s: dict[str, float]) -> str:
    return "\n".join(
        [
            f"events {s['events']}; mean jets {s['mean_jets']:.2f}; jets 4 / 5 / 6 / 7 / >=8: "
            + " / ".join(f"{s[f'frac_{n}_jets']:.3f}" for n in range(4, 8))
            + f" / {s['frac_ge8_jets']:.3f}",
            f"leading jet pT 10 / 50 %: {s['lead_pt_p10']:.0f} / {s['lead_pt_median']:.0f} GeV; "
            f"b-tags per event {s['mean_btags']:.2f}, >= 2: {s['frac_ge2_btags']:.3f}",
            f"cross-section {s['cross_section_pb']:.4g} +- {s['cross_section_err_pb']:.2g} pb "
            f"generated; {s['pb_per_event']:.4g} pb per generated event",
        ]
    )


def _ttbar_table(s: dict[str, float]) -> str:
    return "\n".join(
        [
            f"events {s['events']}; jets 6 / 7 / >=8: {s['frac_6_jets']:.3f} / "
            f"{s['frac_7_jets']:.3f} / {s['frac_ge8_jets']:.3f}",
            f"all six partons matched: {s['frac_all6_matched']:.3f} "
            f"({s['frac_all6_matched_given_ge6_jets']:.3f} of events with >= 6 jets)",
            f"truth-matched peaks: W {s['m_qq_peak']:.1f} GeV, top {s['m_bqq_peak']:.1f} GeV",
        ]
    )
