"""Optional dependencies: import them on first use, or say how to install them.

hepattn's core needs torch, awkward, uproot and vector; everything else is an extra of the
package (``pyproject.toml``). :func:`require` imports such a module where it is needed and
turns a missing one into a :class:`~hepattn.errors.HepattnError` with the install command::

    h5py = require("h5py", "h5")   # HepattnError: ... pip install 'hepattn[h5]'
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from hepattn.errors import HepattnError

__all__ = ["EXTRAS", "MissingDependencyError", "check_installed", "require"]

#: Each optional module: (what it is for, the extra that installs it).
EXTRAS: dict[str, tuple[str, str]] = {
    "triton": ("the Triton triplet kernels", "kernels"),
    "h5py": ("reading and writing SPANet HDF5 files", "h5"),
    "onnx": ("ONNX export", "onnx"),
    "onnxscript": ("ONNX export with torch's dynamo exporter", "onnx"),
    "onnxruntime": ("running exported ONNX models", "onnx"),
    "pythia8mc": ("event generation (Pythia 8)", "gen"),
    "fastjet": ("jet clustering in event generation (FastJet)", "gen"),
    "matplotlib": ("plots", "plots"),
    "dask_awkward": ("tagging and matching dask-awkward arrays", "dask"),
    "distributed": ("Dask clusters", "dask"),
    "sklearn": ("the event classification baseline (gradient-boosted tree)", "classify"),
    "correctionlib": ("reading correction files (scale factors, uncertainties)", "syst"),
}


class MissingDependencyError(HepattnError, ImportError):
    """An optional dependency is not installed; the message says which extra installs it."""


def _message(module: str, purpose: str | None = None) -> str:
    what, extra = EXTRAS.get(module.split(".")[0], (module, None))
    hint = f"pip install 'hepattn[{extra}]'" if extra else f"pip install {module.split('.')[0]}"
    return f"{purpose or what} needs {module.split('.')[0]}, which is not installed: {hint}"


def require(module: str, purpose: str | None = None) -> ModuleType:
    """Import and return ``module``; a :class:`MissingDependencyError` with the install hint
    of its extra (see :data:`EXTRAS`) when it is not installed. ``purpose`` overrides what
    the message says the module is needed for."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        missing = getattr(err, "name", None)
        if missing is not None and module.split(".")[0] != missing.split(".")[0]:
            raise  # the module is there but one of *its* imports is broken: show that
        raise MissingDependencyError(_message(module, purpose)) from err


def check_installed(*modules: str, purpose: str | None = None) -> None:
    """Check that ``modules`` are installed without importing them (a
    :class:`MissingDependencyError` naming the first missing one otherwise)."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(_message(module, purpose))
