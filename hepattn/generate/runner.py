"""Parallel, chunked and resumable writing of generated samples.

A run producing ``FILE.root`` is split into chunks, each an independent unit of work with its
own seeds (see :func:`hepattn.generate.pythia.chunk_rngs`). Chunks are written, each atomically,
as ``FILE.root.parts/chunk-NNNNN.root`` next to a ``config.json`` describing the run. When all
chunks exist they are merged, in chunk order, into one TTree written under a temporary name
and renamed to ``FILE.root``; the parts directory is then removed. Hence:

- an interrupted run loses at most the chunks in flight and never leaves a file under the
  final name; re-running the same command skips the chunks already on disk (resume);
- re-running with different settings is refused while a parts directory of another
  configuration exists;
- the output depends only on the configuration and the seed, not on ``jobs``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from hepattn.data.outputs import atomic_path
from hepattn.data.writer import TreeWriter, write_tree
from hepattn.errors import DataError
from hepattn.generate.clustering import fastjet_banner_once

log = logging.getLogger(__name__)

__all__ = [
    "Chunk",
    "ChunkResult",
    "chunk_plan",
    "cpu_seconds",
    "digest",
    "jagged",
    "n_generated",
    "parts_dir",
    "read_chunk",
    "run_chunks",
]


@dataclass(frozen=True)
class Chunk:
    """One unit of work: its ``index`` (position in the merged file) and ``size`` (entries)."""

    index: int
    size: int


@dataclass(frozen=True)
class ChunkResult:
    """What a chunk's work function returns: the branches to write (writer format, see
    :mod:`hepattn.data.writer`) and the number of generated events it took."""

    branches: dict[str, Any]
    n_generated: int
    #: Pythia's cross-section estimate of the chunk's generated events and its error (pb);
    #: recorded per chunk and combined in the file (weighted by generated events)
    cross_section_pb: float | None = None
    cross_section_err_pb: float | None = None


def parts_dir(output: str | os.PathLike) -> Path:
    """The directory holding the chunks of ``output`` while it is being generated."""
    output = Path(output)
    return output.with_name(output.name + ".parts")


def _chunk_path(parts: Path, index: int) -> Path:
    return parts / f"chunk-{index:05d}.root"


def _run_one(
    work: Callable[[Chunk], ChunkResult], parts: Path, tree: str, chunk: Chunk
) -> tuple[int, int, int]:
    """Do one chunk's work and write it atomically; return (index, entries, generated)."""
    start = time.process_time()
    result = work(chunk)
    cpu_s = time.process_time() - start
    metadata = {
        "n_generated": str(result.n_generated),
        "cpu_s": f"{cpu_s:.3f}",
        "sha256": digest(result.branches),
    }
    if result.cross_section_pb is not None:
        metadata["cross_section_pb"] = repr(float(result.cross_section_pb))
        metadata["cross_section_err_pb"] = repr(float(result.cross_section_err_pb or 0.0))
    write_tree(_chunk_path(parts, chunk.index), result.branches, tree=tree, metadata=metadata)
    entries = len(next(iter(result.branches.values())))
    return chunk.index, entries, result.n_generated


def _check_config(parts: Path, config: Mapping[str, Any]) -> None:
    cfg_path = parts / "config.json"
    text = json.dumps(dict(config), sort_keys=True, indent=1)
    if cfg_path.exists():
        try:
            stored = json.loads(cfg_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataError(
                f"{cfg_path} is unreadable ({err}); if the chunks beside it come from the same "
                f"command, delete {cfg_path} and run the command again to resume, else delete "
                f"{parts} to start afresh"
            ) from err
        if stored != json.loads(text):
            raise DataError(
                f"{parts} holds chunks of a run with other settings "
                f"({cfg_path.read_text().strip()}); re-run with the same settings to resume, "
                "or delete that directory to start afresh"
            )
        return
    with atomic_path(cfg_path) as tmp:
        tmp.write_text(text)


def digest(branches: Mapping[str, Any]) -> str:
    """SHA-256 of a chunk's content in writer format (numpy arrays, jagged or record awkward
    arrays): every field's values and list lengths, in name order. Stored in each chunk's
    metadata so that a chunk damaged after it was written is recognised on resume."""
    h = hashlib.sha256()

    def add(name: str, array: Any) -> None:
        h.update(name.encode())
        if isinstance(array, ak.Array) and array.fields:
            for field in sorted(array.fields):
                add(f"{name}.{field}", array[field])
            return
        if isinstance(array, ak.Array) and array.ndim > 1:
            h.update(np.ascontiguousarray(ak.to_numpy(ak.num(array)), dtype=np.int64).tobytes())
            array = ak.flatten(array)
        h.update(
            np.ascontiguousarray(
                ak.to_numpy(array) if isinstance(array, ak.Array) else array
            ).tobytes()
        )

    for name in sorted(branches):
        add(name, branches[name])
    return h.hexdigest()


def _check_chunk(path: Path, tree: str, collections: Sequence[str], size: int) -> None:
    """Raise a clear :class:`DataError` unless ``path`` is a complete, intact chunk of ``size``
    entries (a disk fault or a copy can truncate or corrupt a chunk written atomically)."""
    how = f"delete {path} and run the same command again to regenerate that chunk"
    try:
        with uproot.open(path) as f:
            entries = f[tree].num_entries
            int(str(f["n_generated"]))
            stored = str(f["sha256"]) if "sha256" in f else None
        content = read_chunk(path, tree, collections)
    except Exception as err:  # noqa: BLE001 (uproot raises many types on a damaged file)
        raise DataError(f"{path}: damaged chunk ({type(err).__name__}: {err}); {how}") from err
    if entries != size:
        raise DataError(f"{path}: chunk holds {entries} entries, expected {size}; {how}")
    if stored is not None and digest(content) != stored:
        raise DataError(f"{path}: chunk content does not match its checksum; {how}")


def read_chunk(path: str | os.PathLike, tree: str, collections: Sequence[str]) -> dict[str, Any]:
    """Read a chunk file back into writer format.

    Branches ``c_x`` of each collection ``c`` in ``collections`` are zipped into one record
    array under ``c`` (their counter ``nc`` is dropped); other branches become numpy arrays.
    """
    with uproot.open(path) as f:
        arrays = f[tree].arrays(library="ak")
    out: dict[str, Any] = {}
    fields = list(arrays.fields)
    for coll in collections:
        members = {f[len(coll) + 1 :]: arrays[f] for f in fields if f.startswith(coll + "_")}
        out[coll] = ak.zip(members)
        fields = [f for f in fields if not f.startswith(coll + "_") and f != "n" + coll]
    for name in fields:
        out[name] = ak.to_numpy(arrays[name])
    return out


def n_generated(path: str | os.PathLike) -> int:
    """Events generated to produce a chunk file (stored as its metadata)."""
    with uproot.open(path) as f:
        return int(str(f["n_generated"]))


def cpu_seconds(path: str | os.PathLike) -> float:
    """CPU seconds spent generating a chunk file (its metadata; nan for chunks written before
    it was recorded)."""
    with uproot.open(path) as f:
        return float(str(f["cpu_s"])) if "cpu_s" in f else float("nan")


def run_chunks(
    output: str | os.PathLike,
    *,
    config: Mapping[str, Any],
    chunks: Sequence[Chunk],
    work: Callable[[Chunk], ChunkResult],
    tree: str,
    collections: Sequence[str],
    metadata: Mapping[str, str],
    finalize: Callable[[list[Path]], Callable[[int, dict[str, Any]], dict[str, Any]]] | None = None,
    jobs: int | None = None,
    progress: bool | None = None,
    unit: str = "entries",
) -> Path:
    """Generate ``chunks`` with ``work`` in ``jobs`` processes and merge them into ``output``.

    ``config``: JSON-serialisable description of the run, checked on resume.
    ``finalize``: optional; given the chunk paths (in order), returns a function
    ``(chunk position, branches) -> branches`` applied to every chunk while merging (used to
    attach weights that need the whole sample). ``progress``: show a tqdm bar (default: when
    stderr is a terminal). ``work`` must be picklable when ``jobs > 1``.
    """
    from tqdm.auto import tqdm

    output = Path(output)
    jobs = (os.cpu_count() or 1) if jobs is None else int(jobs)
    if jobs < 1:
        raise DataError(f"--jobs must be at least 1, got {jobs}")
    parts = parts_dir(output)
    if output.exists() and not parts.exists():
        log.info("%s exists and will be replaced when the new run is complete", output)
    _check_config(parts, config)
    pending = [c for c in chunks if not _chunk_path(parts, c.index).exists()]
    for c in chunks:
        if c not in pending:
            _check_chunk(_chunk_path(parts, c.index), tree, collections, c.size)
    done = len(chunks) - len(pending)
    if done:
        log.info("resuming %s: %d of %d chunks already written", output, done, len(chunks))
    total = sum(c.size for c in chunks)
    if progress is None:
        progress = sys.stderr.isatty()
    if pending:
        fastjet_banner_once()
    bar = tqdm(
        total=total,
        initial=sum(c.size for c in chunks) - sum(c.size for c in pending),
        unit=unit,
        disable=not progress,
        desc=output.name,
    )
    task = partial(_run_one, work, parts, tree)
    try:
        if jobs == 1 or len(pending) <= 1:
            for chunk in pending:
                _, entries, _ = task(chunk)
                bar.update(entries)
        else:
            with multiprocessing.get_context().Pool(min(jobs, len(pending))) as pool:
                for _, entries, _ in pool.imap_unordered(task, pending):
                    bar.update(entries)
    finally:
        bar.close()
    paths = [_chunk_path(parts, c.index) for c in chunks]
    transform = finalize(paths) if finalize is not None else None
    metadata = {
        **metadata,
        "n_generated": str(sum(n_generated(p) for p in paths)),
        "cpu_s": f"{sum(cpu_seconds(p) for p in paths):.1f}",
        **combined_cross_section(paths),
    }
    with TreeWriter(output, tree=tree, metadata=metadata) as writer:
        for pos, path in enumerate(paths):
            try:
                branches = read_chunk(path, tree, collections)
            except Exception as err:  # noqa: BLE001 (damage found only when reading it all)
                raise DataError(
                    f"{path}: damaged chunk ({type(err).__name__}: {err}); delete it and run "
                    "the same command again to regenerate that chunk"
                ) from err
            if transform is not None:
                branches = transform(pos, branches)
            writer.extend(branches)
    shutil.rmtree(parts)
    log.debug(
        "%s: %d entries from %s generated events in %d chunks",
        output,
        writer.num_entries,
        metadata["n_generated"],
        len(chunks),
    )
    return output


def combined_cross_section(paths: Sequence[Path]) -> dict[str, str]:
    """``cross_section_pb`` and ``cross_section_err_pb`` of the chunks together: their
    estimates averaged with the generated events as weights, σ = Σ nᵢσᵢ / Σ nᵢ, δσ =
    √(Σ (nᵢδσᵢ)²) / Σ nᵢ; nothing when a chunk has none."""
    rows = []
    for p in paths:
        with uproot.open(p) as f:
            if "cross_section_pb" not in f:
                return {}
            rows.append(
                (
                    int(str(f["n_generated"])),
                    float(str(f["cross_section_pb"])),
                    float(str(f["cross_section_err_pb"])),
                )
            )
    n = sum(r[0] for r in rows)
    if not rows or n == 0:
        return {}
    sigma = sum(k * s for k, s, _ in rows) / n
    err = float(np.sqrt(sum((k * e) ** 2 for k, _, e in rows))) / n
    return {"cross_section_pb": repr(sigma), "cross_section_err_pb": repr(err)}


def chunk_plan(n: int, chunk_size: int) -> list[Chunk]:
    """Split ``n`` entries into chunks of at most ``chunk_size`` (both positive)."""
    if n <= 0:
        raise DataError(f"the number of entries to generate must be positive, got {n}")
    if chunk_size <= 0:
        raise DataError(f"the chunk size must be positive, got {chunk_size}")
    sizes = [chunk_size] * (n // chunk_size) + ([n % chunk_size] if n % chunk_size else [])
    return [Chunk(i, s) for i, s in enumerate(sizes)]


def jagged(arrays: Sequence[np.ndarray], dtype: Any) -> ak.Array:
    """A jagged awkward array (one list per element of ``arrays``) of ``dtype``."""
    counts = np.asarray([len(a) for a in arrays], dtype=np.int64)
    flat = np.concatenate([np.asarray(a, dtype=dtype) for a in arrays]) if len(arrays) else []
    return ak.unflatten(np.asarray(flat, dtype=dtype), counts)
