"""Systematic variations of the inputs, run through the network and its baseline alike.

``hepattn compare --vary NAME`` re-runs both methods on varied copies of the events it read
and reports each varied table and its shift from the nominal one. The variations
(:data:`VARIATIONS`) act on every object of the model's main collection (the jets; the towers
of a tagger) — their four-momenta ``p4`` and the features the model reads, recomputed
exactly:

- ``jes-up`` / ``jes-down``: the jet energy scale, ``p4 → (1 ± σ_JES) p4`` — σ one number for
  all jets (``--jes-sigma``, default :data:`JES_SIGMA`), or read per jet from a correctionlib
  file (``--jes-file FILE``, correction ``--jes-name``, default ``jes_sigma``, inputs ``pt`` and
  ``abseta`` → the relative σ; :class:`JesFile`). Jets outside that file's bins are not varied;
  they are counted and reported (``outside``), never silent. For a tagger's towers the σ is
  the jet's (read at the jet's pT and |η|) and scales all its towers alike, as a jet energy
  scale does. ``pt``, ``energy``, ``mass``, ``px``, ``py``, ``pz`` scale by ``1 ± σ``,
  ``log_pt`` and ``log_e`` shift by ``log(1 ± σ)``; η, φ and b-tags are unchanged, and so are
  the features relative to the jet axis (``log_pt_rel``, ``deta`` …) under a common scale;
- ``jer``: the jet energy resolution, an extra Gaussian smearing ``p4 → (1 + σ_JER·z) p4``,
  ``z ~ N(0, 1)`` per object (``--jer-sigma``, default :data:`JER_SIGMA`), seeded
  (``--seed``), so that a rerun gives the same table. For a tagger each tower is smeared apart
  (the calorimeter's resolution) and the features relative to the jet axis are recomputed
  with the smeared axis (:func:`relative_features`);
- ``btag-up`` / ``btag-down``: the b-tagging scale factors at their up / down values, as
  per-event weights (:mod:`hepattn.tasks.btag_weights`; ``--btag-sf FILE``); these change
  the weights, not the inputs.

What a variation does not do (documented, not silent): objects do not migrate across the
files' pT threshold (a jet pushed below 25 GeV stays), the events read are the same, and the
objects keep their slots (ordered by nominal pT: the smearing may leave two neighbours out of
order, which the network, a set function, does not see). A feature whose behaviour under a
change of scale is not known here is refused in one line naming it.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from hepattn.data import Events
from hepattn.errors import DataError
from hepattn.physics.kinematics import pt_eta_phi_e

__all__ = [
    "JER_SIGMA",
    "JES_SIGMA",
    "VARIATIONS",
    "JesFile",
    "VaryOptions",
    "relative_features",
    "varied_names",
    "vary",
    "vary_counted",
]

#: The variations, in report order (the b-tag ones need a scale factor file).
VARIATIONS = ("jes-up", "jes-down", "jer", "btag-up", "btag-down")
#: Those that reweight the events rather than vary the inputs.
WEIGHT_VARIATIONS = ("btag-up", "btag-down")
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
class JesFile:
    """A per-jet relative JES uncertainty from correctionlib file ``path``, correction
    ``name`` with inputs ``pt`` and ``abseta``."""

    path: str | os.PathLike
    name: str = "jes_sigma"

    def __post_init__(self) -> None:
        self.correction()  # a bad file fails before any event is read

    def correction(self):
        from hepattn.data.corrections import load_correction

        return load_correction(self.path, self.name, ("pt", "abseta"), "the JES uncertainty")

    def sigma(self, p4: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(σ float64[B, N], outside bool[B, N])`` at each real object's pT and |η|
        (``p4: [B, N, 4]``); σ is 0 where outside the bins or padded. A σ outside [0, 1) is
        an error naming the file."""
        from hepattn.data.corrections import evaluate

        pt, abseta = _pt_abseta(p4)
        value, out = evaluate(self.correction(), {"pt": pt[mask], "abseta": abseta[mask]})
        ok = value[~out]
        if ok.size and not (np.all(np.isfinite(ok)) and ok.min() >= 0 and ok.max() < 1):
            raise DataError(
                f"{self.path}: correction {self.name!r} gives the relative JES uncertainty "
                f"{ok[~(np.isfinite(ok) & (ok >= 0) & (ok < 1))][0]!r}, not a fraction in [0, 1)"
            )
        sigma, outside = np.zeros(mask.shape), np.zeros(mask.shape, dtype=bool)
        sigma[mask], outside[mask] = np.where(out, 0.0, value), out
        return sigma, outside


@dataclasses.dataclass(frozen=True)
class VaryOptions:
    """``jes_sigma``, ``jer_sigma``: the sizes of the variations; ``seed``: of the smearing;
    ``jes_file``: per-jet JES σ instead of ``jes_sigma``; ``btag``: the b-tag scale factors
    (:class:`~hepattn.tasks.btag_weights.BtagScaleFactors`) the b-tag variations need."""

    jes_sigma: float = JES_SIGMA
    jer_sigma: float = JER_SIGMA
    seed: int = 0
    jes_file: JesFile | None = None
    btag: object | None = None

    def __post_init__(self) -> None:
        for name in ("jes_sigma", "jer_sigma"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0 < value < 1):
                flag = "--" + name.replace("_", "-")
                raise DataError(f"{flag} must be a fraction in (0, 1), got {value}")


def varied_names(names, btag: bool = False) -> list[str]:
    """The variations asked for (``all`` = every one; the b-tag ones only with a scale factor
    file, ``btag``), checked, in report order."""
    asked = set()
    for n in names or ():
        if n == "all":
            asked.update(v for v in VARIATIONS if btag or v not in WEIGHT_VARIATIONS)
        elif n in WEIGHT_VARIATIONS and not btag:
            raise DataError(f"variation {n!r} needs the b-tag scale factors: --btag-sf FILE")
        elif n in VARIATIONS:
            asked.add(n)
        else:
            raise DataError(f"unknown variation {n!r}; choose among {', '.join(VARIATIONS)} or all")
    return [v for v in VARIATIONS if v in asked]


def _pt_abseta(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pt, eta, _, _ = pt_eta_phi_e(p4)
    return pt, np.abs(eta)


def _factors(name: str, objs, options: VaryOptions, per_jet: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(k float[B, N], outside bool[B, N])``: the factor each object's four-momentum is
    multiplied by, and the objects the JES file has no σ for."""
    mask = objs.mask
    outside = np.zeros(mask.shape, dtype=bool)
    if name in ("jes-up", "jes-down"):
        sign = 1.0 if name == "jes-up" else -1.0
        if options.jes_file is None:
            return np.full(mask.shape, 1.0 + sign * options.jes_sigma), outside
        if per_jet:  # towers: the jet's σ for all of them
            axis = np.where(mask[..., None], objs.p4, 0).sum(axis=1, keepdims=True)
            sigma, out = options.jes_file.sigma(axis, mask.any(axis=1, keepdims=True))
            return np.broadcast_to(1.0 + sign * sigma, mask.shape), out[:, 0] & mask.any(1)
        sigma, outside = options.jes_file.sigma(objs.p4, mask)
        return 1.0 + sign * sigma, outside
    rng = np.random.default_rng([options.seed, 2026])
    k = 1.0 + options.jer_sigma * rng.standard_normal(mask.shape)
    return np.maximum(k, 0.01), outside  # a jet's energy stays positive


def relative_features(values, features, p4, p4_varied, mask, k) -> np.ndarray:
    """The features of ``values: [B, N, F]`` relative to the jet axis recomputed after each
    object's four-momentum was scaled by ``k: [B, N]`` (``p4`` → ``p4_varied``).

    The nominal axis is taken from the features themselves where they give it —
    pT_axis = pT / e^{log_pt_rel}, E_axis = E / e^{log_e_rel}, η_axis = η − Δη,
    φ_axis = φ − Δφ at the event's first object — so that it includes the objects beyond
    ``max_objects`` the reader did not keep; the components they do not give come from the
    sum of the objects read. The varied axis is the nominal one plus Σ (k − 1) p4 over the
    objects read (those not read are not varied)."""
    values = values.copy()
    f = {name: i for i, name in enumerate(features)}
    p = p4.astype(np.float64)
    pt, eta, phi, energy = pt_eta_phi_e(p)
    a_pt, a_eta, a_phi, a_e = pt_eta_phi_e(np.where(mask[..., None], p, 0).sum(axis=1))
    first = np.argmax(mask, axis=1)
    rows = np.arange(len(mask))
    at = (rows, first)
    has = mask.any(axis=1)
    if "log_pt_rel" in f:
        a_pt = np.where(has, pt[at] / np.exp(values[..., f["log_pt_rel"]][at]), a_pt)
    if "log_e_rel" in f:
        a_e = np.where(has, energy[at] / np.exp(values[..., f["log_e_rel"]][at]), a_e)
    if "deta" in f:
        a_eta = np.where(has, eta[at] - values[..., f["deta"]][at], a_eta)
    if "dphi" in f:
        a_phi = np.where(has, phi[at] - values[..., f["dphi"]][at], a_phi)
    nominal = np.stack(
        [a_pt * np.cos(a_phi), a_pt * np.sin(a_phi), a_pt * np.sinh(a_eta), a_e], axis=-1
    )
    delta = np.where(mask[..., None], (k[..., None] - 1.0) * p, 0).sum(axis=1)
    n_pt, n_eta, n_phi, n_e = (x[:, None] for x in pt_eta_phi_e(nominal + delta))
    v = p4_varied.astype(np.float64)
    v_pt, v_e = np.hypot(v[..., 0], v[..., 1]), v[..., 3]
    deta = eta - n_eta
    dphi = (phi - n_phi + np.pi) % (2 * np.pi) - np.pi
    new_values = {
        "deta": deta,
        "dphi": dphi,
        "dr": np.hypot(deta, dphi),
        "log_pt_rel": np.log(np.maximum(v_pt / np.maximum(n_pt, 1e-9), 1e-6)),
        "log_e_rel": np.log(np.maximum(v_e / np.maximum(n_e, 1e-9), 1e-6)),
    }
    for name, i in f.items():
        if name in RELATIVE:
            values[..., i] = np.where(mask, new_values[name], 0.0)
    return values


def vary_counted(
    ev: Events, collection: str, name: str, options: VaryOptions | None = None
) -> tuple[Events, dict]:
    """A copy of ``ev`` with the objects of ``collection`` varied by ``name`` (module doc),
    and what was counted: ``{"objects", "outside"}`` (objects the JES file has no σ for, not
    varied). ``ev`` itself is not changed."""
    options = options or VaryOptions()
    if name in WEIGHT_VARIATIONS:
        raise ValueError(f"{name!r} reweights events; it varies no inputs")
    objs = ev[collection]
    unknown = [f for f in objs.features if f not in SCALED | LOGS | INVARIANT
               and not f.startswith("btag")]  # fmt: skip
    if unknown:
        raise DataError(
            f"variation {name!r}: feature {unknown[0]!r} of collection {collection!r} has no "
            "known behaviour under a change of the energy scale"
        )
    relative = any(f in RELATIVE for f in objs.features)
    k, outside = _factors(name, objs, options, per_jet=relative)
    k = np.where(objs.mask, k, 1.0).astype(np.float64)  # (B, N)
    values = objs.values.astype(np.float64)
    for i, f in enumerate(objs.features):
        if f in SCALED:
            values[..., i] = values[..., i] * k
        elif f in LOGS:
            values[..., i] = values[..., i] + np.where(objs.mask, np.log(k), 0.0)
    p4 = (objs.p4 * k[..., None]).astype(objs.p4.dtype)
    if name == "jer" and relative:
        values = relative_features(values, objs.features, objs.p4, p4, objs.mask, k)
    varied = dataclasses.replace(objs, values=values.astype(objs.values.dtype), p4=p4)
    info = {"objects": int(objs.mask.sum()), "outside": int(outside.sum())}
    # derived arrays copied by reference, the dict itself anew: re-deriving on the copy (a
    # tagger's high-level inputs) must not touch ev
    out = dataclasses.replace(
        ev, collections={**ev.collections, collection: varied}, derived=dict(ev.derived)
    )
    return out, info


def vary(ev: Events, collection: str, name: str, options: VaryOptions | None = None) -> Events:
    """The varied copy of :func:`vary_counted`, without the counts."""
    return vary_counted(ev, collection, name, options)[0]


def btag_weights(
    ev: Events,
    collection: str,
    options: VaryOptions,
    schema=None,
    tree: str | None = None,
    btag_wp: float | None = None,
) -> tuple[dict[str, np.ndarray | None], dict]:
    """The event weights of the b-tag variations — ``btag-central`` (the reference their shift
    is measured from), ``btag-up``, ``btag-down`` — each the events' own weight (None: 1) times
    the fixed-working-point weight (:mod:`hepattn.tasks.btag_weights`) of the jets tagged by
    the baselines' rule (:func:`~hepattn.baselines.btag.btag_rule`, ``btag_wp``); and what was
    counted (``jets``, ``outside``, the rule in words)."""
    from hepattn.baselines.btag import btag_rule

    if options.btag is None:
        raise DataError("the b-tag variations need the b-tag scale factors: --btag-sf FILE")
    rule = btag_rule(ev, collection, btag_wp)
    if rule.values is None:
        raise DataError(
            f"the b-tag variations reweight by the jets' b-tag decisions, but collection "
            f"{collection!r} carries no b-tag feature"
        )
    tagged = ev[collection].mask & (rule.values > rule.threshold)
    per_syst, info = options.btag.weights(ev, collection, tagged, schema=schema, tree=tree)
    base = ev.derived.get("weight")
    base = np.ones(len(ev)) if base is None else np.asarray(base, np.float64)
    names = {"central": "btag-central", "up": "btag-up", "down": "btag-down"}
    weights = {names[s]: base * w for s, w in per_syst.items()}
    return weights, {**info, "tagged_by": rule.describe()}
