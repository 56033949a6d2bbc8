"""Systematic variations of the inputs, run through the network and its baseline alike.

``hepattn compare --vary NAME`` re-runs both methods on varied copies of the events it read
and reports each varied table and its shift from the nominal one. The variations
(:data:`VARIATIONS`) act on every object of the model's main collection (the jets; the towers
of a tagger) — their four-momenta ``p4`` and the features the model reads, recomputed
exactly for a change of scale:

- ``jes-up`` / ``jes-down``: the jet energy scale, ``p4 → (1 ± σ_JES) p4`` (``--jes-sigma``,
  default :data:`JES_SIGMA`, one number for all jets): ``pt``, ``energy``, ``mass``, ``px``,
  ``py``, ``pz`` scale by ``1 ± σ``, ``log_pt`` and ``log_e`` shift by ``log(1 ± σ)``; η, φ,
  b-tags and the features relative to the jet axis (``log_pt_rel``, ``deta`` …) are unchanged;
- ``jer``: the jet energy resolution, an extra Gaussian smearing ``p4 → (1 + σ_JER·z) p4``,
  ``z ~ N(0, 1)`` per object (``--jer-sigma``, default :data:`JER_SIGMA`), seeded
  (``--seed``), so that a rerun gives the same table.

What a variation does not do (documented, not silent): objects do not migrate across the
files' pT threshold (a jet pushed below 25 GeV stays), the events read are the same, and the
objects keep their slots (ordered by nominal pT: the smearing may leave two neighbours out of
order, which the network, a set function, does not see); b-tag scale factors are not among
these variations yet. A feature whose behaviour under a change of
scale is not known here is refused in one line naming it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hepattn.data import Events
from hepattn.errors import DataError

__all__ = ["JER_SIGMA", "JES_SIGMA", "VARIATIONS", "VaryOptions", "vary", "varied_names"]

#: The variations, in report order.
VARIATIONS = ("jes-up", "jes-down", "jer")
#: Default relative jet energy scale uncertainty (one σ).
JES_SIGMA = 0.03
#: Default relative extra smearing of the jet energy resolution variation.
JER_SIGMA = 0.05

#: How each feature changes when an object's four-momentum is multiplied by ``k``.
SCALED = {"pt", "energy", "mass", "px", "py", "pz"}  # × k
LOGS = {"log_pt", "log_e"}  # + log k
#: Features relative to the jet axis (the towers' sum): unchanged by a common scale only.
RELATIVE = {"deta", "dphi", "dr", "log_pt_rel", "log_e_rel"}
INVARIANT = {"eta", "phi", "rapidity"} | RELATIVE


@dataclasses.dataclass(frozen=True)
class VaryOptions:
    """``jes_sigma``, ``jer_sigma``: the sizes of the variations; ``seed``: of the smearing."""

    jes_sigma: float = JES_SIGMA
    jer_sigma: float = JER_SIGMA
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("jes_sigma", "jer_sigma"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0 < value < 1):
                flag = "--" + name.replace("_", "-")
                raise DataError(f"{flag} must be a fraction in (0, 1), got {value}")


def varied_names(names) -> list[str]:
    """The variations asked for (``all`` = every one), checked, in report order."""
    asked = set()
    for n in names or ():
        if n == "all":
            asked.update(VARIATIONS)
        elif n in VARIATIONS:
            asked.add(n)
        else:
            raise DataError(f"unknown variation {n!r}; choose among {', '.join(VARIATIONS)} or all")
    return [v for v in VARIATIONS if v in asked]


def _factors(name: str, mask: np.ndarray, options: VaryOptions) -> np.ndarray:
    """``float[B, N]``: the factor each object's four-momentum is multiplied by."""
    if name == "jes-up":
        return np.full(mask.shape, 1.0 + options.jes_sigma)
    if name == "jes-down":
        return np.full(mask.shape, 1.0 - options.jes_sigma)
    rng = np.random.default_rng([options.seed, 2026])
    k = 1.0 + options.jer_sigma * rng.standard_normal(mask.shape)
    return np.maximum(k, 0.01)  # a jet's energy stays positive


def vary(ev: Events, collection: str, name: str, options: VaryOptions | None = None) -> Events:
    """A copy of ``ev`` with the objects of ``collection`` varied by ``name`` (module doc);
    ``ev`` itself is not changed."""
    options = options or VaryOptions()
    objs = ev[collection]
    unknown = [f for f in objs.features if f not in SCALED | LOGS | INVARIANT
               and not f.startswith("btag")]  # fmt: skip
    if unknown:
        raise DataError(
            f"variation {name!r}: feature {unknown[0]!r} of collection {collection!r} has no "
            "known behaviour under a change of the energy scale"
        )
    relative = [f for f in objs.features if f in RELATIVE]
    if name == "jer" and relative:
        raise DataError(
            f"variation 'jer' smears each object apart, which moves the jet axis feature "
            f"{relative[0]!r} is relative to; it is not supported for this model (jes-up and "
            "jes-down are: a common scale leaves those features unchanged)"
        )
    k = _factors(name, objs.mask, options).astype(np.float64)  # (B, N)
    k = np.where(objs.mask, k, 1.0)
    values = objs.values.copy()
    for i, f in enumerate(objs.features):
        if f in SCALED:
            values[..., i] = values[..., i] * k
        elif f in LOGS:
            values[..., i] = values[..., i] + np.where(objs.mask, np.log(k), 0.0)
    p4 = (objs.p4 * k[..., None]).astype(objs.p4.dtype)
    varied = dataclasses.replace(objs, values=values.astype(objs.values.dtype), p4=p4)
    # derived arrays copied by reference, the dict itself anew: re-deriving on the copy (a
    # tagger's high-level inputs) must not touch ev
    return dataclasses.replace(
        ev, collections={**ev.collections, collection: varied}, derived=dict(ev.derived)
    )
