"""SPANet-layout HDF5 files: read them as padded :class:`~hepattn.data.reader.Events`, and
write our ROOT samples in that layout, so that hepattn and SPANet run on identical events.

- :mod:`.layout`: the layout (``INPUTS/Source/{MASK, pt, eta, phi, mass, btag}``,
  ``TARGETS/<resonance>/<jet daughter>``, ``WEIGHTS``, ``hepattn/event``), how a topology
  maps to it (:func:`spanet_targets`), targets ↔ parton labels, and the checks shared by
  reading and writing;
- :mod:`.read`: :func:`read_spanet_h5`, the SPANet file(s) → :class:`Events`;
- :mod:`.sources`: the jets, event fields and objects a conversion writes, from ROOT files
  or from :class:`Events`;
- :mod:`.write`: :func:`write_spanet_h5` (``hepattn convert --to spanet-h5``) and its
  :class:`SpanetSummary`.

One reader for ROOT, in-memory arrays and SPANet HDF5 alike: :func:`hepattn.data.read_inputs`.

h5py is an optional dependency: ``pip install 'hepattn[h5]'``.
"""

from hepattn.data.spanet.layout import (
    H5_SUFFIXES,
    KINEMATIC_INPUTS,
    TARGETS,
    is_spanet_path,
    open_h5,
    spanet_targets,
)
from hepattn.data.spanet.read import read_spanet_h5
from hepattn.data.spanet.write import SpanetSummary, write_spanet_h5

__all__ = [
    "H5_SUFFIXES",
    "KINEMATIC_INPUTS",
    "TARGETS",
    "SpanetSummary",
    "is_spanet_path",
    "open_h5",
    "read_spanet_h5",
    "spanet_targets",
    "write_spanet_h5",
]
