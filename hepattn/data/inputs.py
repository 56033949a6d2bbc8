"""One reader for every input format: ROOT files, in-memory arrays and SPANet-layout HDF5.

:func:`input_format` tells the format from the paths; :func:`read_inputs` reads them with the
matching reader (:func:`~hepattn.data.reader.read_events` for ROOT files and arrays,
:func:`~hepattn.data.spanet.read_spanet_h5` for SPANet HDF5) from one description of what to
read — a :class:`~hepattn.data.reader.PadSpec` per collection — and refuses, with a one-line
:class:`~hepattn.errors.DataError`, an option that does not apply to the format.

ROOT files (or a mapping of branch name → array) through a schema::

    ev = read_inputs("ttbar_*.root", "hepattn-ttbar",
                     {"jets": PadSpec(("log_pt", "eta", "phi", "log_e", "btag"), 16, ("parton",))},
                     entry_stop=10_000, tree=None, nonfinite="drop", friends=None)

SPANet HDF5 (the layout is the schema: ``schema`` is not used and may be None)::

    ev = read_inputs("ttbar_*.h5", None, {"jets": PadSpec(features, 16, ("parton",))},
                     entry_stop=10_000)
    ev = read_inputs("lj.h5", None, {"jets": jet_spec, "lepton": PadSpec(lepton_features, 1, ())},
                     collection="jets", topology="ttbar-ljets")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Literal

from hepattn.data.btag import BtagPolicy
from hepattn.data.reader import ARRAYS, Events, PadSpec, read_events
from hepattn.data.root import Paths
from hepattn.data.schema import Schema, get_schema
from hepattn.data.spanet.layout import H5_SUFFIXES, check_schema, regression_dataset
from hepattn.data.spanet.read import read_spanet_h5
from hepattn.errors import DataError, SchemaError
from hepattn.topology import JETS, Topology, topology_from_entry

__all__ = ["InputFormat", "input_format", "read_inputs"]

InputFormat = Literal["root", "spanet-h5", "arrays"]

#: The one-line refusal of friend files for SPANet HDF5 input (the tasks' wording).
FRIENDS_HDF5 = "--friend applies to ROOT inputs; SPANet HDF5 files carry their own labels"


def input_format(paths: Paths | Mapping[str, Any]) -> InputFormat:
    """``"arrays"`` for a mapping of branch name → array, ``"spanet-h5"`` when every path (or
    glob) ends in ``.h5`` / ``.hdf5``, else ``"root"``; a list mixing HDF5 and other files is
    a :class:`~hepattn.errors.DataError`."""
    if isinstance(paths, Mapping):
        return "arrays"
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    h5 = [os.fspath(p).lower().endswith(H5_SUFFIXES) for p in items]
    if items and all(h5):
        return "spanet-h5"
    if any(h5):
        raise DataError(
            "the inputs mix SPANet HDF5 files "
            f"({[os.fspath(p) for p, h in zip(items, h5, strict=True) if h]}) with other "
            f"files ({[os.fspath(p) for p, h in zip(items, h5, strict=True) if not h]}): "
            "read them separately"
        )
    return "root"


def read_inputs(
    paths: Paths | Mapping[str, Any],
    schema: str | os.PathLike | Schema | Mapping[str, Any] | None,
    collections: Mapping[str, PadSpec],
    *,
    entry_start: int = 0,
    entry_stop: int | None = None,
    tree: str | None = None,
    nonfinite: str = "error",
    select: Callable[[Events], Events] | None = None,
    friends: Paths | None = None,
    collection: str | None = None,
    topology: str | os.PathLike | Topology | None = None,
    btag: BtagPolicy | None = None,
    targets: Mapping[str, str] | None = None,
    require_targets: bool = False,
) -> Events:
    """Padded :class:`Events` of ROOT files, in-memory arrays or SPANet HDF5 files, by the
    format of ``paths`` (:func:`input_format`).

    Args:
        paths: files or globs (ROOT; or all ``.h5`` / ``.hdf5``: SPANet layout), or a mapping
            of branch name → awkward / numpy array (one chunk, as
            :func:`~hepattn.data.read_events`).
        schema: the schema of ROOT files and arrays (a built-in name, a YAML file, a dict or
            a :class:`Schema`); not used for SPANet HDF5, whose layout is the schema (None
            allowed there).
        collections: name → :class:`PadSpec` (features, max_objects, labels) of each
            collection to pad. For SPANet HDF5: ``collections[collection]`` describes the
            jets (``INPUTS/Source``; labels: ``("parton",)`` from ``TARGETS``, ``()`` for
            none, None as ``("parton",)``); every other entry must be a one-object
            collection of ``topology`` (a lepton) with ``max_objects`` 1 and no labels, and
            gives its features (default pt, eta, phi, mass for one not named).
        entry_start, entry_stop: entries [start, stop) counted over all files, as one chain;
            not for arrays (a DataError).
        tree: the ROOT tree (default: the schema's, or the only tree); ROOT only.
        nonfinite: ``"error"`` or ``"drop"`` (objects holding NaN/inf); ``"drop"`` applies
            to ROOT files and arrays, not to SPANet HDF5 (non-finite values in real jets are
            always an error there).
        select: ``Events → Events`` keeping some events (a validation split): applied to
            each chunk read for ROOT, to the events read for SPANet HDF5.
        friends: one friend file per input file (``hepattn label`` output); ROOT only.
        collection: the jets' collection, which a SPANet file's ``INPUTS/Source`` fills;
            default the first of ``collections``.
        topology: a built-in topology's name, a YAML file or a :class:`Topology`; None:
            all-hadronic tt̄ for SPANet HDF5 (the file's ``topology`` attribute must agree),
            no check for ROOT. ROOT files and arrays: the schema must give the topology's
            other collections and a transverse collection's ``<name>_pt``, ``<name>_phi``
            event fields (the collections to pad are still those of ``collections``).
        btag: b-tag values outside [0, 1] in ROOT files and arrays
            (:class:`~hepattn.data.btag.BtagPolicy`; default: refused). SPANet HDF5 files
            hold what ``hepattn convert`` read through that policy; their values are checked
            against a model's domain (:mod:`hepattn.tasks.domain`).
        targets, require_targets: event-level target branches (name → branch) read into
            :attr:`Events.targets` (:func:`~hepattn.data.reader.iterate_events`); from SPANet
            HDF5 the ``REGRESSIONS`` dataset of the topology's regression of that key
            (:attr:`~hepattn.topology.Regression.key`).

    Returns:
        :class:`Events`, as :func:`~hepattn.data.read_events` or
        :func:`~hepattn.data.spanet.read_spanet_h5` gives them.

    Raises:
        DataError: an option that does not apply to the format (friends, tree or
            ``nonfinite="drop"`` with SPANet HDF5; tree or an entry range with arrays), a
            collection a SPANet file cannot give, inputs mixing formats.

    A task reads either format with one call::

        read_inputs(paths, schema, {d.collection: spec}, entry_start=entry_start,
                    entry_stop=entry_stop, tree=tree, nonfinite=nonfinite, select=select,
                    friends=friends, collection=d.collection, topology=topology)
    """
    if nonfinite not in ("error", "drop"):
        raise ValueError(f"nonfinite must be 'error' or 'drop', got {nonfinite!r}")
    if collection is None:
        if not collections:
            raise SchemaError("no collection to read: collections is empty")
        collection = next(iter(collections))
    elif collection not in collections:
        raise SchemaError(
            f"collection {collection!r} is not among those to read {list(collections)}"
        )
    fmt = input_format(paths)
    if fmt == "spanet-h5":
        return _read_hdf5(
            paths,
            collections,
            collection,
            topology,
            entry_start,
            entry_stop,
            tree,
            nonfinite,
            select,
            friends,
            targets,
            require_targets,
        )
    if fmt == "arrays":
        if tree is not None:
            raise DataError(f"a tree ({tree!r}) applies to ROOT files, not to an {ARRAYS}")
        if entry_start != 0 or entry_stop is not None:
            raise DataError(
                f"an entry range ({entry_start}..{entry_stop}) applies to files, not to an {ARRAYS}"
            )
    if schema is None:
        raise SchemaError(
            f"reading {'ROOT files' if fmt == 'root' else f'an {ARRAYS}'} needs a schema"
        )
    if topology is not None:
        check_schema(get_schema(schema), topology_from_entry(topology))
    return read_events(
        paths,
        schema,
        collections,
        entry_start=entry_start,
        entry_stop=entry_stop,
        tree=tree,
        nonfinite=nonfinite,
        select=select,
        friends=friends,
        btag=btag,
        targets=targets,
        require_targets=require_targets,
    )


def _read_hdf5(
    paths: Paths,
    collections: Mapping[str, PadSpec],
    collection: str,
    topology: str | os.PathLike | Topology | None,
    entry_start: int,
    entry_stop: int | None,
    tree: str | None,
    nonfinite: str,
    select: Callable[[Events], Events] | None,
    friends: Paths | None,
    targets: Mapping[str, str] | None = None,
    require_targets: bool = False,
) -> Events:
    """:func:`read_inputs` of SPANet HDF5 files: the options checked, the PadSpecs mapped onto
    :func:`read_spanet_h5`'s arguments (a target by its key: the topology's regression's
    ``REGRESSIONS`` dataset)."""
    if friends is not None:
        raise DataError(FRIENDS_HDF5)
    if tree is not None:
        raise DataError(f"a tree ({tree!r}) applies to ROOT inputs; SPANet HDF5 files have none")
    if nonfinite != "error":
        raise DataError(
            "nonfinite='drop' (--nonfinite drop) applies to ROOT inputs; in SPANet HDF5 files "
            "non-finite values are an error"
        )
    topo = topology_from_entry(topology)
    single = [c.name for c in topo.collections if c.name != JETS and not c.transverse]
    objects: dict[str, tuple[str, ...]] = {}
    for name, spec in collections.items():
        if name == collection:
            continue
        if name not in single:
            raise DataError(
                f"a SPANet HDF5 file of topology {topo.name!r} holds the jets ({collection!r})"
                + (f" and the one-object collections {single}" if single else "")
                + f", not {name!r}"
            )
        if spec.max_objects != 1 or spec.labels:
            raise DataError(
                f"a SPANet HDF5 file holds one {name!r} per event and no labels for it: read it "
                f"with max_objects 1 and labels (), not {spec.max_objects} and {spec.labels}"
            )
        objects[name] = spec.features
    jets = collections[collection]
    ev = read_spanet_h5(
        paths,
        jets.features,
        jets.max_objects,
        labels=("parton",) if jets.labels is None else jets.labels,
        collection=collection,
        topology=topo,
        objects=objects,
        entry_start=entry_start,
        entry_stop=entry_stop,
        regressions={k: regression_dataset(topo.regression(k)) for k in targets or {}},
        require_regressions=require_targets,
    )
    return ev if select is None else select(ev)
