"""Per-object features from a collection's 4-momenta, computed with ``vector`` (awkward backend).

Each feature is a jagged array with one value per object. Names:

==============  ===================================================================
``pt``          transverse momentum p_T = sqrt(px² + py²)  [GeV]
``eta``         pseudorapidity η = asinh(pz / p_T)
``phi``         azimuth φ in (−π, π]
``rapidity``    y = ½ ln((E + pz) / (E − pz))
``mass``        m = sqrt(E² − |p|²) [GeV]; vector's signed convention, −sqrt(|p|² − E²)
                for space-like objects (e.g. smeared towers)
``energy``      E [GeV];  ``px``, ``py``, ``pz`` [GeV]
``log_pt``      ln(max(p_T, 1e-6))    ``log_e``  ln(max(E, 1e-6))
``deta``        η − η_axis            ``dphi``   φ − φ_axis wrapped to [−π, π)
``dr``          ΔR = sqrt(deta² + dphi²) to the axis
``log_pt_rel``  ln(max(p_T / p_T,axis, 1e-6))   ``log_e_rel``  ln(max(E / E_axis, 1e-6))
==============  ===================================================================

The *axis* of an event is the sum of the 4-momenta of all its objects in the collection (for
the towers of one jet, the jet itself, E-scheme). Any other name is looked up in the
collection's ``fields`` and ``labels`` (e.g. ``btag``).
"""

from __future__ import annotations

from collections.abc import Callable

import awkward as ak
import numpy as np
import vector

from hepattn.errors import SchemaError

__all__ = ["AXIS_FEATURES", "FEATURES", "ObjectFeatures", "to_vector"]

vector.register_awkward()

LOG_EPS = 1e-6


def to_vector(components: dict[str, ak.Array], kinematics: str) -> ak.Array:
    """A vector ``Momentum4D`` awkward array from the kinematic components of a collection."""
    if kinematics == "tlorentzvector":
        p4 = components["p4"]
        components = {
            "px": p4["fP", "fX"],
            "py": p4["fP", "fY"],
            "pz": p4["fP", "fZ"],
            "energy": p4["fE"],
        }
    renamed = {("E" if k == "energy" else k): v for k, v in components.items()}
    return vector.zip(renamed)


def _log(x: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(x, LOG_EPS))


class ObjectFeatures:
    """Features of the objects of a collection, computed once each on the flat content.

    Args:
        objs: a *flat* (one entry per object, all events concatenated) ``Momentum4D`` array.
        counts: ``int[B]`` objects per event, so that ``sum(counts) == len(objs)``.
        extra: flat arrays of the schema's fields and labels, by name.

    Each kinematic quantity is computed by vector once and cached, so asking for ``log_pt``
    and ``pt`` costs one p_T computation.
    """

    def __init__(self, objs: ak.Array, counts: np.ndarray, extra: dict[str, ak.Array]) -> None:
        self.objs = objs
        self.counts = counts
        self.extra = extra
        self._cache: dict[str, np.ndarray] = {}

    def kin(self, name: str) -> np.ndarray:
        """A cached vector property (``pt``, ``eta``, ``phi``, ``E``, ``px``, …) as numpy."""
        if name not in self._cache:
            self._cache[name] = np.asarray(getattr(self.objs, name))
        return self._cache[name]

    def axis(self, name: str) -> np.ndarray:
        """Per object, property ``name`` of its event's axis: the 4-vector sum of all objects.

        The sum is taken per event (vector's numpy backend, B entries) and then repeated
        for each object of the event.
        """
        key = f"axis.{name}"
        if key not in self._cache:
            if "axis" not in self._cache:
                event = np.repeat(np.arange(len(self.counts)), self.counts)
                sums = {
                    c: np.bincount(event, self.kin(c), minlength=len(self.counts))
                    for c in ("px", "py", "pz", "E")
                }
                self._cache["axis"] = (vector.array(sums), event)
            axis, event = self._cache["axis"]
            self._cache[key] = np.asarray(getattr(axis, name))[event]
        return self._cache[key]

    def __call__(self, name: str) -> np.ndarray:
        """The named feature as a flat numpy array."""
        if name in FEATURES:
            return FEATURES[name](self)
        if name in AXIS_FEATURES:
            return AXIS_FEATURES[name](self)
        if name in self.extra:
            return np.asarray(self.extra[name])
        raise SchemaError(
            f"unknown feature {name!r}: kinematic features are {sorted(FEATURES)}, "
            f"axis features {sorted(AXIS_FEATURES)}, and this collection's fields "
            f"{sorted(self.extra)}"
        )


#: Features of the objects alone.
FEATURES: dict[str, Callable[[ObjectFeatures], np.ndarray]] = {
    "pt": lambda f: f.kin("pt"),
    "eta": lambda f: f.kin("eta"),
    "phi": lambda f: f.kin("phi"),
    "rapidity": lambda f: f.kin("rapidity"),
    "mass": lambda f: f.kin("mass"),
    "energy": lambda f: f.kin("E"),
    "px": lambda f: f.kin("px"),
    "py": lambda f: f.kin("py"),
    "pz": lambda f: f.kin("pz"),
    "log_pt": lambda f: _log(f.kin("pt")),
    "log_e": lambda f: _log(f.kin("E")),
}


def _wrap(dphi: np.ndarray) -> np.ndarray:
    """Δφ wrapped to [−π, π)."""
    return (dphi + np.pi) % (2 * np.pi) - np.pi


#: Features relative to the event's axis (see module docstring).
AXIS_FEATURES: dict[str, Callable[[ObjectFeatures], np.ndarray]] = {
    "deta": lambda f: f.kin("eta") - f.axis("eta"),
    "dphi": lambda f: _wrap(f.kin("phi") - f.axis("phi")),
    "dr": lambda f: np.hypot(f.kin("eta") - f.axis("eta"), _wrap(f.kin("phi") - f.axis("phi"))),
    "log_pt_rel": lambda f: _log(f.kin("pt") / np.maximum(f.axis("pt"), LOG_EPS)),
    "log_e_rel": lambda f: _log(f.kin("E") / np.maximum(f.axis("E"), LOG_EPS)),
}
