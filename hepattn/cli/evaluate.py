"""``hepattn eval tagger|matcher``: metrics of a trained model on labelled files, plots, JSON."""

from __future__ import annotations

import argparse

from hepattn.cli._options import (
    add_btag_policy,
    add_domain,
    add_friend,
    add_input,
    add_model,
    add_nonfinite,
    add_nonfinite_targets,
    add_output,
    add_progress,
    add_topology,
    add_vary,
    add_weight,
    btag_policy,
    check_outputs,
    checked_topology,
    model_files,
    vary_options,
    vary_plot,
)

#: The files ``-o DIR`` receives, per task.
WRITES = {
    "tagger": ("metrics.json", "confusion.png", "roc.png"),
    "matcher": ("metrics.json", "efficiency.png"),
}
SPECS = {
    "tagger": (
        "prong-class tagger",
        "Evaluate a tagger: top-1 accuracy with bootstrap uncertainty, per-class accuracy, "
        "one-vs-rest AUC table; with -o DIR writes DIR/metrics.json, confusion.png and "
        "roc.png.",
    ),
    "matcher": (
        "jet-parton matcher",
        "Evaluate a matcher of any topology by jet multiplicity with binomial uncertainties: "
        "the efficiencies its topology declares (all-hadronic ttbar: epsilon_event, "
        "epsilon_2^top, epsilon_1^top; others: the event and per-resonance efficiencies; "
        "every one in the JSON); with -o DIR writes DIR/metrics.json and efficiency.png.",
    ),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate a trained model on labelled files",
        description="Evaluate a trained tagger or matcher on labelled files: print its "
        "metrics, and write them (and plots) with -o DIR or --json FILE.",
    )
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, (help_text, description) in SPECS.items():
        t = tasks.add_parser(name, help=help_text, description=description)
        t.add_argument("data", nargs="+", help="labelled ROOT files")
        add_model(t, name)
        add_input(t, "the model's")
        add_friend(t)
        add_output(t, "directory for metrics.json and the plots", "--out", metavar="DIR")
        t.add_argument("--json", metavar="FILE", help="also write the metrics as JSON here")
        if name == "matcher":
            add_topology(t, model=True)
            add_btag_policy(t)
            add_nonfinite_targets(t)
            t.add_argument(
                "--calibration",
                metavar="DIR",
                help="also measure how far the probabilities can be trusted: reliability "
                "diagrams and ECE of each resonance's assignment and detection probability, "
                "purity against efficiency of cutting on them beside the baseline's score; "
                "writes DIR/calibration.json, reliability_<R>.png, purity.png",
            )
        add_weight(
            t,
            "for weighted metrics",
            "default: the model's data.weight where the files have it; a field given here "
            "must be in them",
        )
        add_vary(t)
        add_nonfinite(t)
        add_domain(t)
        add_progress(t)
        t.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepattn.progress import wanted
    from hepattn.tasks.comparison import variation_notes
    from hepattn.tasks.presets import task_class

    out = Path(args.output) if args.output else None
    topology = checked_topology(args) if args.task == "matcher" else None
    cal = getattr(args, "calibration", None)
    variations, sizes = vary_options(args)
    check_outputs(
        [*args.data, *(args.friend or [])],
        (out, "output directory", True),
        *((out / name if out else None, "output", False) for name in WRITES[args.task]),
        (args.json, "--json file", False),
        (getattr(args, "vary_plot", None), "--vary-plot file", False),
        (cal, "--calibration directory", True),
        (Path(cal) / "calibration.json" if cal else None, "output", False),
        files=model_files(args.model, args.task, topology),
    )
    cls = task_class(args.task)
    task = cls.load(args.model) if topology is None else cls.load(args.model, topology)
    if args.task == "matcher":
        task.nonfinite_targets = args.nonfinite_targets
    report, written = task.evaluate_files(
        args.data,
        schema=args.schema,
        tree=args.tree,
        out_dir=args.output,
        json_path=args.json,
        progress=wanted(args.no_progress),
        nonfinite=args.nonfinite,
        friends=args.friend,
        weight=args.weight,
        btag=btag_policy(args),
        domain=args.domain,
        calibration_dir=cal,
        variations=variations,
        vary_options=sizes,
    )
    print(task.format_report(report))
    for name, v in report.get("variations", {}).items():
        varied = {"model": report["model"], "files": report["files"], **v["report"]}
        print(f"\nvaried: {name}\n" + task.format_report(varied))
        cells = ", ".join(f"{r} {100 * s['network']:+.2f}" for r, s in v["shift"].items())
        print(f"{name:>9}: shift [points] {cells}")
        for line in variation_notes(name, v):
            print(line)
    if variations:
        shifts = {n: v["shift"] for n, v in report["variations"].items()}
        written += vary_plot(args, shifts, f"{args.task}: shift per variation")
    if written:
        print("wrote " + ", ".join(str(p) for p in written))
    return 0
