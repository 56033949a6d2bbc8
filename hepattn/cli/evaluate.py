"""``hepattn eval tagger|matcher``: metrics of a trained model on labelled files, plots, JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from hepattn.cli import to_json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="evaluate a trained model on labelled files")
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    specs = (
        (
            "tagger",
            "prong-class tagger",
            run_tagger,
            "Evaluate a tagger: top-1 accuracy with bootstrap uncertainty, per-class accuracy, "
            "one-vs-rest AUC table; writes metrics.json, confusion.png and roc.png.",
        ),
        (
            "matcher",
            "jet-parton matcher",
            run_matcher,
            "Evaluate a matcher: epsilon_event, epsilon_2^top, epsilon_1^top by jet multiplicity "
            "with binomial uncertainties; writes metrics.json and efficiency.png.",
        ),
    )
    for name, help_text, func, description in specs:
        t = tasks.add_parser(name, help=help_text, description=description)
        t.add_argument("data", nargs="+", help="labelled ROOT files")
        t.add_argument("--model", default="default", help="model directory, or 'default'")
        t.add_argument("--schema", help="schema of the files (default: the model's)")
        t.add_argument("--out", metavar="DIR", help="directory for metrics.json and the plots")
        t.add_argument("--json", metavar="FILE", help="write the metrics as JSON here")
        t.set_defaults(func=func)


def format_report(report: dict) -> str:
    lines = [
        f"jets: {report['n_jets']:,}",
        f"top-1 accuracy{' (weighted: flat mass and pT)' if report['weighted'] else ''}: "
        f"{100 * report['accuracy']:.2f} ± {100 * report['accuracy_err']:.2f} %",
        f"unweighted: {100 * report['accuracy_unweighted']:.2f} ± "
        f"{100 * report['accuracy_unweighted_err']:.2f} %",
        "",
        f"{'class':>6} {'accuracy':>9} {'AUC (1 vs rest)':>16}",
    ]
    for c in report["classes"]:
        lines.append(
            f"{c:>6} {100 * report['per_class_accuracy'][c]:8.2f}% "
            f"{report['auc_one_vs_rest'][c]:16.4f}"
        )
    return "\n".join(lines)


def run_tagger(args: argparse.Namespace) -> int:
    from hepattn.metrics import roc_curve
    from hepattn.tasks.tagging import CLASSES, Tagger, classification_report, jet_weights

    tagger = Tagger.load(args.model)
    ev = tagger.read(args.data, schema=args.schema, need_labels=True)
    prob = tagger.predict(ev)
    labels = ev.event[tagger.run.data.label]
    weights = jet_weights(ev, tagger.run)
    report = {
        "model": str(tagger.path),
        "files": ev.files,
        **classification_report(prob, labels, weights),
    }
    print(format_report(report))
    if args.out:
        from hepattn.plotting import confusion_png, roc_png

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(to_json(report))
        confusion_png(
            report["confusion"],
            CLASSES,
            out / "confusion.png",
            f"{tagger.run.kind}: accuracy {100 * report['accuracy']:.1f} %",
        )
        curves = {
            c: (*roc_curve(prob[:, i], labels == i), report["auc_one_vs_rest"][c])
            for i, c in enumerate(CLASSES)
        }
        roc_png(curves, out / "roc.png", f"{tagger.run.kind}: one vs rest")
        print(f"wrote {out / 'metrics.json'}, {out / 'confusion.png'}, {out / 'roc.png'}")
    if args.json:
        Path(args.json).write_text(to_json(report))
    return 0


def run_matcher(args: argparse.Namespace) -> int:
    from hepattn.metrics.matching import efficiency_table, format_table
    from hepattn.tasks.matching import Matcher

    matcher = Matcher.load(args.model)
    ev = matcher.read(args.data, schema=args.schema, need_labels=True)
    slots, _ = matcher.predict(ev)
    table = efficiency_table(slots, ev.event["truth"], ev.event["n_jets"])
    print(format_table({"network": table}, f"{len(ev):,} events, model {matcher.path}"))
    report = {"model": str(matcher.path), "files": ev.files, "rows": table}
    if args.out:
        from hepattn.plotting import efficiency_png

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(to_json(report))
        efficiency_png({"network": table}, out / "efficiency.png", "jet-parton matching")
        print(f"wrote {out / 'metrics.json'}, {out / 'efficiency.png'}")
    if args.json:
        Path(args.json).write_text(to_json(report))
    return 0
