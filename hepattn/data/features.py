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
``deta``        η − η_axis            ``dphi``   φ − φ_axis wrapped to (−π, π]
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

__all__ = ["AXIS_FEATURES", "FEATURES", "axis_of", "compute_feature", "to_vector"]

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


def axis_of(objs: ak.Array) -> ak.Array:
    """Per event, the 4-vector sum of all objects (a ``Momentum4D`` record per event)."""
    return vector.zip(
        {
            "px": ak.sum(objs.px, axis=1),
            "py": ak.sum(objs.py, axis=1),
            "pz": ak.sum(objs.pz, axis=1),
            "E": ak.sum(objs.E, axis=1),
        }
    )


def _log(x: ak.Array) -> ak.Array:
    return np.log(np.maximum(x, LOG_EPS))


#: Features of the objects alone.
FEATURES: dict[str, Callable[[ak.Array], ak.Array]] = {
    "pt": lambda o: o.pt,
    "eta": lambda o: o.eta,
    "phi": lambda o: o.phi,
    "rapidity": lambda o: o.rapidity,
    "mass": lambda o: o.mass,
    "energy": lambda o: o.E,
    "px": lambda o: o.px,
    "py": lambda o: o.py,
    "pz": lambda o: o.pz,
    "log_pt": lambda o: _log(o.pt),
    "log_e": lambda o: _log(o.E),
}

#: Features relative to the event's axis (see module docstring).
AXIS_FEATURES: dict[str, Callable[[ak.Array, ak.Array], ak.Array]] = {
    "deta": lambda o, a: o.deltaeta(a),
    "dphi": lambda o, a: o.deltaphi(a),
    "dr": lambda o, a: o.deltaR(a),
    "log_pt_rel": lambda o, a: _log(o.pt / a.pt),
    "log_e_rel": lambda o, a: _log(o.E / a.E),
}


def compute_feature(
    name: str,
    objs: ak.Array,
    extra: dict[str, ak.Array],
    axis: ak.Array | None = None,
) -> ak.Array:
    """One named feature (jagged) of ``objs``; ``extra`` holds the schema's fields and labels.

    ``axis`` is computed on demand when an axis feature is asked for and none is given.
    """
    if name in FEATURES:
        return FEATURES[name](objs)
    if name in AXIS_FEATURES:
        return AXIS_FEATURES[name](objs, axis_of(objs) if axis is None else axis)
    if name in extra:
        return extra[name]
    raise SchemaError(
        f"unknown feature {name!r}: kinematic features are {sorted(FEATURES)}, "
        f"axis features {sorted(AXIS_FEATURES)}, and this collection's fields "
        f"{sorted(extra)}"
    )
