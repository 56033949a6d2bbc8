"""What a ROOT file holds, as seen through a schema: trees, branches, object multiplicities.

Used by ``hepattn inspect``; returns plain data so that the CLI only formats it. Every branch
the schema reads is read through the readers' checks (:func:`~hepattn.data.root.open_file`,
:func:`~hepattn.data.root.iterate_branches`, :func:`~hepattn.data.reader.check_jagged`), so
a truncated file, a damaged basket or a scalar where a list is needed is the same one-line
:class:`~hepattn.errors.DataError` as when reading.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from hepattn.data.reader import check_jagged
from hepattn.data.root import (
    check_branches,
    detect_file_schema,
    iterate_branches,
    open_file,
    open_tree,
    resolve_paths,
    tree_names,
)
from hepattn.data.schema import Schema, get_schema
from hepattn.errors import DataError

__all__ = ["CollectionSummary", "FileSummary", "summarize"]


@dataclass
class CollectionSummary:
    """Multiplicity of one collection: ``histogram[k]`` events hold ``k`` objects."""

    name: str
    branches: dict[str, str]  # role -> branch
    histogram: np.ndarray

    def truncated(self, max_objects: int) -> tuple[int, int]:
        """(events with more than ``max_objects`` objects, objects that would be dropped)."""
        k = np.arange(len(self.histogram))
        over = k > max_objects
        return int(self.histogram[over].sum()), int(
            (self.histogram * (k - max_objects))[over].sum()
        )


@dataclass
class FileSummary:
    path: str
    size_bytes: int
    trees: dict[str, int]  # name -> entries
    tree: str | None = None
    schema: Schema | None = None
    branch_types: dict[str, str] = field(default_factory=dict)
    collections: list[CollectionSummary] = field(default_factory=list)


def summarize(
    path: str | os.PathLike,
    schema: str | Schema | None = None,
    tree: str | None = None,
    step_size: int | str = "100 MB",
) -> FileSummary:
    """Summarize ``path``; with no ``schema`` a built-in one is detected if one fits."""
    (p,) = resolve_paths(path)
    file = open_file(p)
    trees = {}
    for name in tree_names(file):
        try:
            trees[name] = int(file[name].num_entries)
        except Exception as err:
            raise DataError(f"{p}: tree {name!r} is unreadable ({err})") from None
    out = FileSummary(path=str(p), size_bytes=os.path.getsize(p), trees=trees)
    if schema is None:
        found = detect_file_schema(p, tree)
        if found is None:
            return out
        schema, tree = found
    schema = get_schema(schema)
    t = open_tree(p, tree, schema)
    out.tree, out.schema = t.name, schema
    branches = schema.branches()
    check_branches(t, schema, branches)
    try:
        out.branch_types = {b: t[b].typename for b in branches}
    except Exception as err:
        raise DataError(f"{p}: tree {t.name!r}: a branch header is unreadable ({err})") from None
    hists = {name: np.zeros(1, dtype=np.int64) for name in schema.collections}
    if t.num_entries:
        # every branch read, through the readers' checks: damaged baskets, a scalar where a
        # list per entry is needed, collections whose branches disagree
        for chunk in iterate_branches(p, schema, branches, t.name, step_size):
            for name, coll in schema.collections.items():
                raw = {role: chunk.arrays[b] for role, b in coll.all_branches().items()}
                check_jagged(chunk, name, coll, raw)
                h = np.bincount(np.asarray(ak.num(next(iter(raw.values())), axis=1)))
                if len(h) > len(hists[name]):
                    hists[name] = np.pad(hists[name], (0, len(h) - len(hists[name])))
                hists[name][: len(h)] += h
    for name, coll in schema.collections.items():
        out.collections.append(CollectionSummary(name, coll.all_branches(), hists[name]))
    return out
