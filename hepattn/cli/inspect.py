"""``hepattn inspect FILE.root``: trees, the branches a schema reads, object multiplicities."""

from __future__ import annotations

import argparse

BAR_WIDTH = 40


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="show what a ROOT file holds and how a schema reads it",
        description="List the trees of FILE, the branches SCHEMA reads with their types, a "
        "histogram of object multiplicity per collection, and how many events --max-objects "
        "would truncate. Without --schema a built-in schema is detected if one fits.",
    )
    p.add_argument("file", help="ROOT file")
    p.add_argument("--schema", help="built-in schema name or YAML schema file")
    p.add_argument("--tree", help="tree to read (default: the schema's, or the only one)")
    p.add_argument(
        "--max-objects",
        type=int,
        default=None,
        metavar="N",
        help="report how many events and objects N slots would truncate",
    )
    p.set_defaults(func=run)


def format_summary(s, max_objects: int | None = None) -> str:
    lines = [f"file: {s.path} ({s.size_bytes / 1e6:.2f} MB)", "trees:"]
    lines += [f"  {name:<24} {n:>12,} entries" for name, n in s.trees.items()] or ["  (none)"]
    if s.schema is None:
        lines.append("schema: none of the built-in schemas fits; pass --schema NAME|FILE.yaml")
        return "\n".join(lines)
    lines.append(f"schema: {s.schema.name} (tree {s.tree!r})  {s.schema.description}".rstrip())
    lines.append("branches read:")
    lines += [f"  {b:<28} {t}" for b, t in s.branch_types.items()]
    for c in s.collections:
        n_events = int(c.histogram.sum())
        mean = (c.histogram * range(len(c.histogram))).sum() / max(n_events, 1)
        lines.append(
            f"collection {c.name!r}: {n_events:,} events, mean {mean:.2f} objects, "
            f"max {len(c.histogram) - 1}"
        )
        peak = max(int(c.histogram.max()), 1)
        for k, h in enumerate(c.histogram):
            if h:
                bar = "#" * max(1, round(BAR_WIDTH * h / peak))
                lines.append(f"  {k:>4} | {bar:<{BAR_WIDTH}} {h:,}")
        if max_objects is not None:
            ev, obj = c.truncated(max_objects)
            lines.append(
                f"  --max-objects {max_objects}: {ev:,} events "
                f"({100 * ev / max(n_events, 1):.2f} %) truncated, {obj:,} objects dropped"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from hepattn.data.summary import summarize

    summary = summarize(args.file, schema=args.schema, tree=args.tree)
    print(format_summary(summary, args.max_objects))
    return 0
