"""What the reliability tests share: hashes of files before and after, rewritten files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import awkward as ak
import uproot

from hepattn.data import write_tree


def snapshot(*paths) -> dict[str, str]:
    """SHA-256 of every file under ``paths`` (files or directories)."""
    out = {}
    for p in map(Path, paths):
        for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
            if f.is_file():
                out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def string_metadata(f) -> dict[str, str]:
    """The ``TObjString`` metadata of an open ROOT file (what hepattn writes beside a tree)."""
    return {k.split(";")[0]: str(f[k]) for k, c in f.classnames().items() if c == "TObjString"}


def rewrite(src, dst, tree: str, change) -> Path:
    """``src``'s tree written to ``dst`` after ``change(arrays: dict) -> dict``; jagged
    branches ``P_x`` with a counter ``nP`` are regrouped into the record ``P``; the file's
    string metadata (e.g. ``btag_working_points``) is kept."""
    with uproot.open(src) as f:
        t = f[tree]
        arrays = {k: t[k].array() for k in t.keys()}
        meta = string_metadata(f)
    groups = {k[1:] for k in arrays if k.startswith("n") and f"{k[1:]}_" in "".join(arrays)}
    data = {}
    for k, v in arrays.items():
        prefix = k.split("_")[0]
        if prefix in groups and k.startswith(prefix + "_"):
            data.setdefault(prefix, {})[k[len(prefix) + 1 :]] = v
        elif not (k.startswith("n") and k[1:] in groups):
            data[k] = v.to_numpy() if v.ndim == 1 else v
    data = change(data)
    data = {k: ak.zip(v) if isinstance(v, dict) else v for k, v in data.items()}
    write_tree(dst, data, tree=tree, metadata=meta or None)
    return Path(dst)


def error_lines(capsys) -> list[str]:
    """The lines on stderr that are not log messages."""
    err = capsys.readouterr().err.splitlines()
    return [ln for ln in err if not ln.startswith(("INFO", "WARNING", "DEBUG"))]
