"""What a ROOT file holds, as seen through a schema: trees, branches, object multiplicities.

Used by ``hepattn inspect``; returns plain data so that the CLI only formats it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from hepattn.data.root import (
    check_branches,
    detect_file_schema,
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
    check_branches(t, schema, schema.branches())
    out.branch_types = {b: t[b].typename for b in schema.branches()}
    for name, coll in schema.collections.items():
        first = next(iter(coll.branches.values()))
        hist = np.zeros(1, dtype=np.int64)
        for arrays in t.iterate([first], step_size=step_size, library="ak"):
            counts = np.asarray(ak.num(arrays[first], axis=1))
            h = np.bincount(counts)
            if len(h) > len(hist):
                hist = np.pad(hist, (0, len(h) - len(hist)))
            hist[: len(h)] += h
        out.collections.append(CollectionSummary(name, coll.all_branches(), hist))
    return out
