"""Per-entry answers of a model written as friend trees, chunk by chunk, file by file.

``hepattn tag`` and ``hepattn match`` read their inputs ``chunk_entries`` entries at a time
(:func:`read_chunks`), compute the branches of each chunk and append them to the output tree
(:func:`write_friend`) before reading the next, so that memory does not grow with the size of
a file: only one chunk's events, inputs and answers are held at once. The output is written
under a temporary name and renamed into place when complete
(:class:`~hepattn.data.writer.TreeWriter`): an error or Ctrl-C in any chunk leaves nothing
under the final name.

The answers do not depend on the chunking: every answer is computed per event, and a chunk
is a whole number of inference batches (:func:`chunk_size` rounds it up to a multiple of
:data:`BATCH_ALIGN`), so every batch, hence every padded width and every floating-point
operation, is the one the whole file read at once would give.

With many inputs, :func:`per_input_outputs` names one output per input in a directory (the
input's file name), for ``--output-dir``.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hepattn.data.reader import Events
from hepattn.data.root import Paths, resolve_paths
from hepattn.errors import DataError

log = logging.getLogger(__name__)

__all__ = [
    "BATCH_ALIGN",
    "DEFAULT_CHUNK_ENTRIES",
    "answers",
    "chunk_size",
    "entry_ranges",
    "friend_jobs",
    "output_name",
    "per_input_outputs",
    "read_chunks",
    "write_friend",
    "write_friends",
]

#: Entries read, predicted and written at a time by ``tag`` and ``match`` (``--chunk-entries``).
DEFAULT_CHUNK_ENTRIES = 50_000
#: Chunks are a multiple of this many entries: the inference batches (tagger 512, matchers
#: 1024) divide it, so chunked answers equal those of the whole file bit for bit.
BATCH_ALIGN = 1024


def chunk_size(chunk_entries: int, align: int = BATCH_ALIGN) -> int:
    """``chunk_entries`` rounded up to a multiple of ``align`` (a :class:`DataError` if < 1)."""
    n = int(chunk_entries)
    if n < 1:
        raise DataError(f"--chunk-entries must be at least 1, got {chunk_entries}")
    return -(-n // align) * align


def output_name(path: str | os.PathLike) -> str:
    """The file name of the output of input ``path`` in an output directory: the input's
    own name (``x.root`` → ``x.root``); another suffix becomes ``.root`` (``x.h5`` →
    ``x.root``)."""
    p = Path(path)
    return p.name if p.suffix == ".root" else p.with_suffix(".root").name


def per_input_outputs(inputs: Paths, output_dir: str | os.PathLike) -> list[tuple[Path, Path]]:
    """``(input, output)`` for every input file (globs expanded): ``output_dir`` / the
    input's name (:func:`output_name`). Two inputs of the same name are refused, naming
    both, since their outputs would be one file."""
    out_dir = Path(output_dir)
    pairs = [(p, out_dir / output_name(p)) for p in resolve_paths(inputs)]
    seen: dict[Path, Path] = {}
    for inp, out in pairs:
        if out in seen:
            raise DataError(
                f"inputs {seen[out]} and {inp} would both be written to {out} (--output-dir "
                "names each output after its input); give inputs with different file names "
                "or run once per directory"
            )
        seen[out] = inp
    return pairs


#: ``(file, start, stop)`` of each chunk; ``stop`` None: the whole file in one read.
Ranges = list[tuple[Path, int, int | None]]


def _count_entries(task, path: Path, schema: str | None, tree: str | None) -> int | None:
    """Entries of ``path`` as ``task`` reads it, or None where that cannot be told cheaply
    (the file is then read whole, and reports its own errors exactly as a plain read)."""
    try:
        from hepattn.data import input_format

        if input_format(path) == "spanet-h5":
            from hepattn.data.spanet import open_h5

            with open_h5(path) as f:
                return int(f["INPUTS/Source/MASK"].shape[0])
        from hepattn.data.root import open_tree
        from hepattn.data.schema import get_schema

        return int(open_tree(path, tree, get_schema(schema or task.run.data.schema)).num_entries)
    except Exception:  # noqa: BLE001 (the plain read names what is wrong)
        return None


def entry_ranges(
    task, paths: Paths, chunk_entries: int, schema: str | None = None, tree: str | None = None
) -> Ranges:
    """``(file, start, stop)`` of every chunk of ``paths`` as :func:`read_chunks` reads them.

    A file of at most ``chunk_entries`` entries is one chunk ``(file, 0, None)``, read as a
    plain read would. Files with zero entries are skipped with a warning when other files
    have entries (as the readers do); otherwise they are read, which names them."""
    files = resolve_paths(paths)
    counts = [_count_entries(task, p, schema, tree) for p in files]
    some = any(n for n in counts)
    out: Ranges = []
    for path, n in zip(files, counts, strict=True):
        if n == 0 and some:
            log.warning("%s: zero entries; skipped", path)
            continue
        if n is None or n <= chunk_entries:
            out.append((path, 0, None))
            continue
        out += [(path, s, min(s + chunk_entries, n)) for s in range(0, n, chunk_entries)]
    return out


def read_chunks(task, ranges: Ranges, progress: bool = False, **read: Any) -> Iterator[Events]:
    """The events of the chunks ``ranges`` (:func:`entry_ranges`), each as
    ``task.read(file, entry_start=…, entry_stop=…, **read)`` gives it (``read``: ``schema``,
    ``tree``, ``nonfinite``, ``check``, ``need_labels``). Only one chunk is alive at a time
    when the caller drops each before asking for the next. ``progress``: a bar over the
    entries of all chunks when there is more than one."""
    from hepattn.progress import bar

    total = sum(0 if stop is None else stop - start for _, start, stop in ranges)
    shown = progress and len(ranges) > 1 and all(stop is not None for _, _, stop in ranges)
    with bar(shown, total, "chunks", task.unit) as b:
        for path, start, stop in ranges:
            ev = task.read(path, entry_start=start, entry_stop=stop, **read)
            n = len(ev)
            yield ev
            del ev
            b.update(n)


def answers(
    task, ranges: Ranges, compute: Callable[[Events], Any], progress: bool = False, **read: Any
) -> Iterator[Any]:
    """``compute(chunk)`` for every chunk of :func:`read_chunks` (same arguments), each
    chunk's events dropped before the next is read."""
    for ev in read_chunks(task, ranges, progress, **read):
        out = compute(ev)
        del ev
        yield out


def write_friend(
    output: str | os.PathLike,
    chunks: Iterable[tuple[Mapping[str, Any], Mapping[str, str]]],
    tree: str = "hepattn",
    finish: Callable[[], None] | None = None,
    trailer: Callable[[], Mapping[str, str]] | None = None,
) -> int:
    """Write ``(branches, metadata)`` chunks as one TTree ``tree`` in ``output``; return the
    number of entries written.

    The file is opened when the first chunk is ready (its ``metadata`` are written; those
    of later chunks must be equal) and renamed into place after the last, once ``finish()``
    (a check of the whole output) has returned; ``trailer()``: metadata known only then
    (counts over all chunks). Any error leaves nothing under ``output``.
    """
    from hepattn.data.writer import TreeWriter

    it = iter(chunks)
    try:
        branches, metadata = next(it)
    except StopIteration:
        raise DataError(f"{output}: nothing to write (no chunk was read)") from None
    metadata = dict(metadata)
    with TreeWriter(output, tree=tree, metadata=metadata) as writer:
        writer.extend(branches)
        del branches
        for branches, more in it:
            if dict(more) != metadata:
                raise RuntimeError(f"{output}: metadata differ between chunks")
            writer.extend(branches)
            del branches
        if finish is not None:
            finish()
        if trailer is not None:
            writer.add_metadata(trailer())
    return writer.num_entries


def friend_jobs(
    inputs: Sequence[str | os.PathLike] | str,
    output: str | os.PathLike | None,
    output_dir: str | os.PathLike | None,
) -> list[tuple[Paths, Path]]:
    """What to write: ``[(inputs, output)]`` for ``-o`` (one tree for all inputs, in order:
    a friend of their chain), or one ``(input, DIR/name)`` per input for ``--output-dir``."""
    if output_dir is not None:
        return [(inp, out) for inp, out in per_input_outputs(inputs, output_dir)]
    if output is None:
        raise DataError("give -o OUT (one output) or --output-dir DIR (one output per input)")
    return [(inputs, Path(output))]


def write_friends(
    task,
    jobs: Sequence[tuple[Paths, Path]],
    compute: Callable[[Events], tuple[Mapping[str, Any], Mapping[str, str]]],
    chunk_entries: int,
    *,
    output_tree: str = "hepattn",
    progress: bool = False,
    finish: Callable[[Path], None] | None = None,
    written: Callable[[Path, int], None] | None = None,
    **read: Any,
) -> int:
    """Write every ``(inputs, output)`` job (:func:`friend_jobs`): ``compute(chunk) ->
    (branches, metadata)`` on each chunk of ``chunk_entries`` entries of its inputs
    (:func:`entry_ranges`, :func:`answers`; ``read`` as :func:`read_chunks`), appended to
    the tree ``output_tree`` of the output (:func:`write_friend`); ``finish(output)`` checks
    an output before it is renamed into place, ``written(output, entries)`` follows each.
    Jobs run in order: an error stops the command, the outputs of the jobs before it
    complete, none for the job at fault. The reader's notes (objects over ``max_objects``,
    dropped objects) are logged once per job (:func:`~hepattn.data.reader.one_summary`), and
    so are the inputs outside the model's domain (``read["domain"]``,
    :func:`~hepattn.tasks.domain.domain_summary`), whose counts each output records as the
    JSON string ``domain``. Returns the number of chunks.

    When there is more than one chunk in all, the run is inside
    :func:`hepattn._memory.bounded_heap`, so that peak memory does not grow from chunk to
    chunk (see that module for the cost).
    """
    import contextlib
    import json

    from hepattn._memory import bounded_heap
    from hepattn.data.reader import one_summary
    from hepattn.tasks.domain import domain_summary

    plan = [
        (entry_ranges(task, inputs, chunk_entries, read.get("schema"), read.get("tree")), out)
        for inputs, out in jobs
    ]
    n_chunks = sum(len(ranges) for ranges, _ in plan)
    with bounded_heap() if n_chunks > 1 else contextlib.nullcontext():
        for ranges, output in plan:
            chunks = answers(task, ranges, compute, progress, **read)
            check = None if finish is None else functools.partial(finish, output)
            checked = (
                read.get("check", True)
                and getattr(task, "domain", None) is not None
                and read.get("domain", "warn") != "ignore"
            )
            # the reader's notes and the domain counts once per output, not once per chunk
            with one_summary(), domain_summary() as tally:
                n = write_friend(
                    output,
                    chunks,
                    tree=output_tree,
                    finish=check,
                    trailer=(lambda t=tally: {"domain": json.dumps(t.to_dict())})
                    if checked
                    else None,
                )
            if written is not None:
                written(output, n)
    return n_chunks
