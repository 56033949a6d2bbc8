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


TABLES = {"loading": loading_table}


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
