"""Event classification (issue 25): a matcher's classification head against a gradient-boosted
tree on the analysts' event variables, on the same held-out signal and background events.

    python benchmarks/bench_classification.py --topology hh-4b \\
        --model runs/hh4b_cls/best --reference runs/hh4b_nocls/best \\
        --train data/cls25/hh_train.root:hh data/bkg25/qcd4_train.root:qcd ... \\
        --test data/cls25/hh_test.root:hh data/bkg25/qcd4_test.root:qcd ... --save

(``benchmarks/jobs/cls25.sh`` makes the files and both models.) The network's score is its
probability of the signal class (the topology's first); the tree
(:class:`hepattn.baselines.event_tree.EventTree`) is trained on the events of ``--train``
(classes balanced, as the network's loss) and scored the same way. Signal efficiency ε_s
against background rejection 1/ε_b over all background classes together (unweighted: each
sample as generated); ``assignment``: the fraction of reconstructable resonances of the held-out
signal matched correctly by the model with the head and by ``--reference``, the same network
trained on the same signal events without it.

Writes (``--save``) ``benchmarks/results/classification.json`` — ``{topology: {"network":
{"auc", "rejection_50", "rejection_70"}, "tree": {...}, "signal_events", "background_events",
"assignment": {"with_head", "without_head"}}}`` — with ``classification_details.json`` (errors,
per-background rejections, the tree's features, files) and ``classification_<topology>.png``
(ROC curves).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _labelled(matcher, entries: list[str]):
    """Events of ``FILE:CLASS`` entries read by ``matcher`` with their class labels."""
    from hepattn.tasks.classification import split_class_labels

    files, classes = split_class_labels(entries, matcher.classifications)
    if classes is None:
        raise SystemExit("give every file its class: FILE:CLASS")
    matcher.file_classes = {**(matcher.file_classes or {}), **classes}
    return matcher.read_labelled(files)


def _metrics(score: np.ndarray, signal: np.ndarray) -> dict:
    from hepattn.metrics.classification import _auc, rejection_at

    return {
        "auc": _auc(score, signal),
        "rejection_50": rejection_at(score, signal, 0.5),
        "rejection_70": rejection_at(score, signal, 0.7),
    }


def _assignment(matcher, ev) -> tuple[float, float, int]:
    """Fraction of the reconstructable resonances of ``ev`` matched correctly, its binomial
    error and their number."""
    from hepattn.metrics.matching import reconstructable, resonance_correct

    slots, _, _ = matcher.predict(ev)
    truth = ev.derived["truth"]
    ok = reconstructable(truth, matcher.topology)
    good = resonance_correct(slots, truth, matcher.topology) & ok
    n = int(ok.sum())
    eff = good.sum() / max(n, 1)
    return float(eff), float(np.sqrt(eff * (1 - eff) / max(n, 1))), n


def main() -> None:
    from hepattn.baselines.event_tree import EventTree, event_features
    from hepattn.metrics.classification import roc_curve
    from hepattn.tasks.classification import class_weights
    from hepattn.tasks.matching import Matcher

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--topology", required=True)
    p.add_argument("--model", required=True, help="the matcher with the classification head")
    p.add_argument("--reference", required=True, help="the same matcher without the head")
    p.add_argument("--train", nargs="+", required=True, metavar="FILE:CLASS")
    p.add_argument("--test", nargs="+", required=True, metavar="FILE:CLASS")
    p.add_argument("--save", action="store_true", help="write benchmarks/results/")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    m = Matcher.load(ROOT / args.model, args.topology)
    if not m.classifications:
        raise SystemExit(f"{args.model} has no classification head")
    classes = m.classifications[0].classes
    test = _labelled(m, args.test)
    label = test.derived["class_label"][:, 0]
    signal = label == 0
    net_score = m.predict_classes(test)[m.classifications[0].outputs()[0]]

    train = _labelled(m, args.train)
    names, x_train = event_features(m, train)
    y_train = train.derived["class_label"][:, 0]
    tree = EventTree(seed=0).fit(
        names, x_train, y_train, class_weights(y_train[:, None], "balanced")
    )
    tree_score = tree.predict_proba(event_features(m, test)[1])[:, 0]

    ref = Matcher.load(ROOT / args.reference, args.topology)
    sig = test.select(np.flatnonzero(signal))
    with_head, without = _assignment(m, sig), _assignment(ref, sig)
    row = {
        "network": _metrics(net_score, signal),
        "tree": _metrics(tree_score, signal),
        "signal_events": int(signal.sum()),
        "background_events": int((~signal).sum()),
        "assignment": {"with_head": with_head[0], "without_head": without[0]},
    }
    per_background = {
        classes[k]: {
            method: _metrics(s[(label == 0) | (label == k)], signal[(label == 0) | (label == k)])
            for method, s in (("network", net_score), ("tree", tree_score))
        }
        for k in range(1, len(classes))
        if (label == k).any()
    }
    details = {
        "classes": list(classes),
        "events": {c: int((label == k).sum()) for k, c in enumerate(classes)},
        "per_background": per_background,
        "assignment": {
            "with_head": {"efficiency": with_head[0], "error": with_head[1], "n": with_head[2]},
            "without_head": {"efficiency": without[0], "error": without[1], "n": without[2]},
        },
        "tree": tree.describe(),
        "train_events": int(len(train)),
        "model": str(args.model),
        "reference": str(args.reference),
        "train": args.train,
        "test": args.test,
    }
    print(json.dumps({args.topology: row}, indent=1))
    if not args.save:
        return
    for name, new in (("classification.json", row), ("classification_details.json", details)):
        path = RESULTS / name
        out = json.loads(path.read_text()) if path.exists() else {}
        out[args.topology] = new
        path.write_text(json.dumps(out, indent=1) + "\n")
    from hepattn.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for method, s in (("network", net_score), ("tree", tree_score)):
        fpr, tpr = roc_curve(s, signal)
        keep = fpr > 0
        auc = row[method]["auc"]
        ax.plot(tpr[keep], 1 / fpr[keep], label=f"{method} (AUC {auc:.3f})")
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency")
    ax.set_ylabel("background rejection 1/ε_b")
    ax.legend()
    ax.grid(alpha=0.3)
    bkg = ", ".join(classes[1:])
    ax.set_title(f"{args.topology}: {classes[0]} against {bkg}", fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / f"classification_{args.topology}.png", dpi=120)


if __name__ == "__main__":
    main()
