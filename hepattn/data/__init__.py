"""ROOT files → padded, masked arrays and torch batches.

Typical use::

    from hepattn.data import PadSpec, read_events, Standardizer, PaddedDataset, collate

    ev = read_events("nano_*.root", "nanoaod",
                     {"jets": PadSpec(("log_pt", "eta", "phi", "log_e", "btag"), 16)})
    std = Standardizer.fit(ev["jets"].values, ev["jets"].mask, ev["jets"].features)
    loader = DataLoader(PaddedDataset(ev, "jets", std), batch_size=256, collate_fn=collate)

:func:`read_inputs` takes the same arguments and also reads SPANet-layout HDF5 files
(:mod:`hepattn.data.spanet`), by the format of the paths (:func:`input_format`).
"""

from hepattn.data.dataset import Batch, PaddedDataset, RootStreamDataset, collate
from hepattn.data.features import AXIS_FEATURES, FEATURES
from hepattn.data.inputs import input_format, read_inputs
from hepattn.data.padding import PaddedCollection
from hepattn.data.reader import Events, PadSpec, iterate_events, read_events
from hepattn.data.root import open_tree, resolve_paths
from hepattn.data.schema import BUILTIN_SCHEMAS, Collection, Schema, get_schema, load_schema
from hepattn.data.standardize import Standardizer
from hepattn.data.writer import TreeWriter, write_tree

__all__ = [
    "AXIS_FEATURES",
    "BUILTIN_SCHEMAS",
    "FEATURES",
    "Batch",
    "Collection",
    "Events",
    "PadSpec",
    "PaddedCollection",
    "PaddedDataset",
    "RootStreamDataset",
    "Schema",
    "Standardizer",
    "TreeWriter",
    "collate",
    "get_schema",
    "input_format",
    "iterate_events",
    "load_schema",
    "open_tree",
    "read_events",
    "read_inputs",
    "resolve_paths",
    "write_tree",
]
