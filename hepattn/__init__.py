"""hepattn: symmetry-aware attention for particle physics.

Read jagged jet / tower collections from ROOT files into padded, masked tensors
(:mod:`hepattn.data`), and build permutation-invariant models on them.
"""

import logging

from hepattn.errors import DataError, HepattnError, SchemaError

__version__ = "0.1.0"
__all__ = ["DataError", "HepattnError", "SchemaError", "__version__"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
