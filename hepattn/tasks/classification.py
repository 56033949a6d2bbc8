"""Event classes for a matcher's classification heads: which input file holds which class.

A topology declares its classifications (:class:`hepattn.topology.Classification`, e.g.
``process: [hh, qcd, ttbar]``, the first class its own events). The class of an event comes
from the file it was read from, given on the command line as ``FILE:CLASS``::

    hepattn train matcher --topology hh-4b --classifications all \\
        --train hh.root:hh qcd.root:qcd 'tt/*.root:ttbar' --val ...

(:func:`split_class_labels`; a glob gives every file it matches that class). The signal class's
events keep their parton labels; a background file's parton labels are ignored (warned: a
background has no partons to assign), so its events carry no assignment loss and teach the
detection head "not reconstructable", while every labelled event enters the classification
cross-entropy.

Class balance (:func:`class_weights`): ``balanced`` (default) weights each event by
``N / (K · N_k)`` — every class counts alike in the loss, whatever the sizes of the files —
``none`` leaves the events' own weights.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hepattn.errors import DataError

__all__ = [
    "CLASS_WEIGHTS",
    "background_rows",
    "class_weights",
    "event_classes",
    "split_class_labels",
]

log = logging.getLogger(__name__)

#: The choices of the class balance of the training loss.
CLASS_WEIGHTS = ("balanced", "none")


def split_class_labels(
    paths: Sequence[str | os.PathLike], classifications, what: str = "--train"
) -> tuple[list[str], dict[str, str] | None]:
    """``(files, {resolved file: class})`` of ``FILE:CLASS`` entries: the paths without their
    labels, and each file's class (globs resolved). Entries without a label: ``None`` when
    none has one (no classification labels), else an error naming the entry. A label no
    classification declares is an error naming the declared classes."""
    from hepattn.data.root import resolve_paths

    declared = [c for cl in classifications for c in cl.classes]
    plain, labelled = [], {}
    for entry in paths:
        text = str(entry)
        head, sep, label = text.rpartition(":")
        if sep and head and not Path(text).exists() and label.isidentifier():
            if label not in declared:
                raise DataError(
                    f"{what} {text}: class {label!r} is not declared; the topology's classes "
                    f"are {declared}"
                )
            for f in resolve_paths([head]):
                labelled[str(f)] = label
            plain.append(head)
        else:
            plain.append(text)
    if not labelled:
        return plain, None
    unlabelled = [p for p in plain if not any(k for k in labelled if _same(k, p))]
    if unlabelled:
        raise DataError(
            f"{what} {unlabelled[0]}: no class; give every file its class as FILE:CLASS "
            f"(classes {declared})"
        )
    return plain, labelled


def _same(resolved: str, entry: str) -> bool:
    from hepattn.data.root import resolve_paths

    return resolved in {str(f) for f in resolve_paths([entry])}


def event_classes(ev, file_classes: dict[str, str], classifications) -> np.ndarray:
    """``int64[B, M]``: per event and classification the index of its file's class in that
    classification (−1 where the class belongs to another classification). A file read that
    has no class is an error naming it."""
    out = np.full((len(ev), len(classifications)), -1, dtype=np.int64)
    files = [str(Path(f)) for f in ev.files]
    for k, f in enumerate(files):
        rows = ev.file_index == k
        if not rows.any():
            continue
        label = file_classes.get(f)
        if label is None:
            raise DataError(f"{f}: no class for this file's events (give it as FILE:CLASS)")
        for m, c in enumerate(classifications):
            if label in c.classes:
                out[rows, m] = c.classes.index(label)
    return out


def background_rows(labels: np.ndarray, classifications) -> np.ndarray:
    """``bool[B]``: events of a class other than the signal (index 0) of the first
    classification."""
    if not classifications:
        return np.zeros(len(labels), dtype=bool)
    return labels[:, 0] > 0


def class_weights(labels: np.ndarray, mode: str) -> np.ndarray | None:
    """``float64[B]`` per-event factors of the class balance ``mode`` from the first
    classification's labels ``labels[:, 0]`` (``balanced``: ``N / (K · N_k)`` over the
    events with a label; 1 elsewhere), or None for ``none``."""
    if mode not in CLASS_WEIGHTS:
        raise DataError(f"class weights must be one of {CLASS_WEIGHTS}, got {mode!r}")
    if mode == "none" or labels.shape[1] == 0:
        return None
    c = labels[:, 0]
    has = c >= 0
    kinds, counts = np.unique(c[has], return_counts=True)
    factor = np.ones(len(c))
    for k, n in zip(kinds, counts, strict=True):
        factor[c == k] = has.sum() / (len(kinds) * n)
    return factor
