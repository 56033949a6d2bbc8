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
``N / (K · N_k)`` — every class counts alike in the loss, whatever the sizes of the files;
``physical`` weights the backgrounds in their physical proportions — each background event by
its file's generated cross-section over its generated events, ``σ_f / N_gen,f`` (the metadata
``cross_section_pb`` and ``n_generated`` that ``hepattn generate`` writes: Pythia's estimate,
forced decays' branching fractions included) — scaled so that all backgrounds together weigh
as much as the signal, whose events weigh alike (a signal's cross-section is the hypothesis
being tested, not a proportion to learn); ``none`` leaves the events' own weights.
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
    "check_signal_files",
    "class_weights",
    "event_classes",
    "split_class_labels",
]

log = logging.getLogger(__name__)

#: The choices of the class balance of the training loss.
CLASS_WEIGHTS = ("balanced", "physical", "none")


def split_class_labels(
    paths: Sequence[str | os.PathLike], classifications, what: str = "--train"
) -> tuple[list[str], dict[str, str] | None]:
    """``(files, {resolved file: class})`` of ``FILE:CLASS`` entries: the paths without their
    labels, and each file's class (globs resolved). Entries without a label: ``None`` when
    none has one (no classification labels), else an error naming the entry. A label no
    classification declares is an error naming the declared classes."""
    from hepattn.data.root import resolve_paths

    declared = [c for cl in classifications for c in cl.classes]
    plain, labelled, unlabelled = [], {}, []
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
            unlabelled.append(text)
    if not labelled:
        return plain, None
    if unlabelled:
        raise DataError(
            f"{what} {unlabelled[0]}: no class; give every file its class as FILE:CLASS "
            f"(classes {declared})"
        )
    return plain, labelled


def check_signal_files(file_classes: dict[str, str], classifications, topology: str) -> None:
    """The files of the signal class must hold the topology's events: a file whose
    ``topology`` metadata (``hepattn generate``'s) names another is one error naming both (a
    file of another topology given as signal trains the assignment heads on wrong partons).
    Files without that metadata (a user's own) are taken as given."""
    import uproot

    signal = classifications[0].signal if classifications else None
    for f, label in file_classes.items():
        if label != signal:
            continue
        try:
            with uproot.open(f) as file:
                declared = str(file["topology"]) if "topology" in file else None
        except (OSError, ValueError):
            continue  # the reader names an unreadable file
        if declared is not None and declared != topology:
            raise DataError(
                f"{f}: given as the signal class {label!r} of topology {topology!r}, but its "
                f"metadata says topology {declared!r}; give it as a background class or the "
                "right topology's files"
            )


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


def class_weights(labels: np.ndarray, mode: str, ev=None) -> np.ndarray | None:
    """``float64[B]`` per-event factors of the class balance ``mode`` (module doc) from the
    first classification's labels ``labels[:, 0]`` (1 for events without a label), or None
    for ``none``; ``physical`` needs the events ``ev`` (the files they came from)."""
    if mode not in CLASS_WEIGHTS:
        raise DataError(f"class weights must be one of {CLASS_WEIGHTS}, got {mode!r}")
    if mode == "none" or labels.shape[1] == 0:
        return None
    c = labels[:, 0]
    has = c >= 0
    factor = np.ones(len(c))
    if mode == "physical":
        bg = has & (c > 0)
        if bg.any():
            per_file = file_cross_sections(ev, np.unique(ev.file_index[bg]))
            per_event = per_file[ev.file_index]  # σ_f / N_gen,f
            factor[bg] = per_event[bg] * (has & (c == 0)).sum() / per_event[bg].sum()
        return factor
    kinds, counts = np.unique(c[has], return_counts=True)
    for k, n in zip(kinds, counts, strict=True):
        factor[c == k] = has.sum() / (len(kinds) * n)
    return factor


def file_cross_sections(ev, which) -> np.ndarray:
    """``float64[n_files]``: the ``cross_section_pb / n_generated`` (pb per generated event)
    of the files ``which`` (indices into ``ev.files``; NaN for the others); one of them
    without that metadata is an error naming it."""
    import uproot

    out = np.full(len(ev.files), np.nan)
    for k in which:
        f = ev.files[k]
        try:
            with uproot.open(f) as file:
                sigma = float(str(file["cross_section_pb"])) if "cross_section_pb" in file else None
                n_gen = int(str(file["n_generated"])) if "n_generated" in file else None
        except (OSError, ValueError) as err:
            raise DataError(f"{f}: cannot read its cross-section metadata ({err})") from None
        if sigma is None or not n_gen or not np.isfinite(sigma) or sigma <= 0:
            raise DataError(
                f"{f}: no generated cross-section (metadata cross_section_pb, n_generated), which "
                "--class-weights physical needs; generate the file with this version of hepattn "
                "generate, or use --class-weights balanced"
            )
        out[k] = sigma / n_gen
    return out
