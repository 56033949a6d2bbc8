"""b-tagging scale factors as per-event weights: the fixed-working-point method.

A simulated jet is b-tagged with the efficiency ε_MC(flavour, pT, |η|) of the simulation;
data tag it with SF · ε_MC. The standard way to correct a selection that uses the tag decisions
at one working point (CMS BTV "method 1a") leaves every decision as it is and weights each
event by

    w = Π_{i tagged} SF_i · Π_{j not tagged} (1 − SF_j ε_j) / (1 − ε_j),

the ratio of the probabilities of the event's tag pattern in data and in simulation
(:func:`fixed_wp_weights`). Its systematic variations (``btag-up``, ``btag-down``) are the same
weights with the scale factors at their up and down values. Since the network and the baseline
see the same inputs under every such weight, their answers do not change: a variation is the
efficiency table reweighted, and its shift is measured from the table weighted with the central
scale factors (``reference: "btag-central"`` in the output), so that it is the systematic
effect alone.

The scale factors and the efficiencies come from a correctionlib file the user supplies
(:class:`BtagScaleFactors`; ``--btag-sf FILE``), in the layout of the CMS BTV files:

- ``btag_sf`` (``--btag-sf-name``): inputs ``systematic`` (string: ``central``, ``up``,
  ``down``), ``working_point`` (string, ``--btag-sf-wp``, default ``M``), ``flavor`` (int,
  hadron flavour 5 / 4 / 0), ``abseta``, ``pt`` → SF;
- ``btag_eff`` (``--btag-eff-name``): inputs ``working_point``, ``flavor``, ``abseta``, ``pt``
  → ε_MC, the efficiency of the user's own simulation at that working point.

The jets' truth flavour is read from the input files (the schema's jets field ``flavour``,
``jet_flavour`` in our files; ``Jet_hadronFlavour`` in NanoAOD, ``--btag-flavour BRANCH``).
Jets outside the bins of either correction (beyond the tracker's |η| < 2.5, where no jet is
tagged) enter with the factor 1; they are counted and reported (``outside`` in the output),
never silently. ``samples/corrections.json`` is an example file made for our generated samples
(``samples/make_corrections.py``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from hepattn.data import Events
from hepattn.data.corrections import evaluate, load_correction
from hepattn.errors import DataError
from hepattn.physics.kinematics import pt_eta_phi_e

__all__ = [
    "BTAG_VARIATIONS",
    "BtagScaleFactors",
    "SF_INPUTS",
    "EFF_INPUTS",
    "fixed_wp_weights",
    "jet_flavours",
]

#: The b-tag variations and the scale factors' systematic each uses.
BTAG_VARIATIONS = {"btag-up": "up", "btag-down": "down"}
#: The inputs of the two corrections, by name.
SF_INPUTS = ("systematic", "working_point", "flavor", "abseta", "pt")
EFF_INPUTS = ("working_point", "flavor", "abseta", "pt")
WHAT = "b-tag scale factors"


def fixed_wp_weights(
    tagged: np.ndarray, mask: np.ndarray, sf: np.ndarray, eff: np.ndarray
) -> np.ndarray:
    """``float64[B]`` event weights of the fixed-working-point method,
    w = Π_tagged SF · Π_untagged (1 − SF ε) / (1 − ε), over the real jets (``mask``;
    ``tagged``, ``sf``, ``eff``: ``[B, N]``). A jet with ``sf`` NaN (outside the
    corrections' bins) has the factor 1. An untagged jet with ε = 1 has no defined factor:
    an error."""
    tagged, mask = np.asarray(tagged, bool), np.asarray(mask, bool)
    sf, eff = np.asarray(sf, np.float64), np.asarray(eff, np.float64)
    known = mask & np.isfinite(sf) & np.isfinite(eff)
    if np.any(known & ~tagged & (eff >= 1.0)):
        raise DataError(
            "b-tag efficiency 1 for an untagged jet: its weight (1 - SF eps) / (1 - eps) is "
            "undefined; the efficiency correction is wrong for these jets"
        )
    factor = np.where(tagged, sf, (1.0 - sf * eff) / np.where(tagged, 1.0, 1.0 - eff))
    return np.prod(np.where(known, factor, 1.0), axis=1)


def jet_flavours(ev: Events, collection: str, branch: str, tree: str | None) -> np.ndarray:
    """``int64[B, N]`` the truth flavour of each jet slot of ``ev[collection]`` (−1 where
    padded), read from ``branch`` of the files ``ev`` came from, at each jet's position in its
    file (:attr:`~hepattn.data.padding.PaddedCollection.index`). A file without the branch is
    one error line naming it."""
    from hepattn.data.root import _branch_names, open_tree

    jets = ev[collection]
    out = np.full(jets.index.shape, -1, dtype=np.int64)
    for k, path in enumerate(ev.files):
        rows = np.flatnonzero(ev.file_index == k)
        if len(rows) == 0:
            continue
        t = open_tree(Path(path), tree)
        if branch not in _branch_names(t):
            raise DataError(
                f"{path}: no branch {branch!r} with the jets' truth flavour, which the b-tag "
                "scale factors need (--btag-flavour BRANCH names another)"
            )
        entries = ev.entry[rows]
        start, stop = int(entries.min()), int(entries.max()) + 1
        flav = t[branch].array(entry_start=start, entry_stop=stop, library="ak")
        import awkward as ak

        counts = np.asarray(ak.num(flav))[entries - start]
        flat = np.asarray(ak.flatten(flav)).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(np.asarray(ak.num(flav)))])[entries - start]
        idx = jets.index[rows]
        real = (idx >= 0) & (idx < counts[:, None])
        if np.any((idx >= 0) & ~real):
            raise DataError(f"{path}: branch {branch!r} holds fewer values than jets")
        pos = np.where(real, offsets[:, None] + np.maximum(idx, 0), 0)
        out[rows] = np.where(real, flat[pos] if len(flat) else -1, -1)
    return out


@dataclasses.dataclass(frozen=True)
class BtagScaleFactors:
    """The user's b-tag scale factor file: ``path``, the names of its two corrections, the
    working point name the scale factors are read at, the flavour branch (None: the schema's
    jets field ``flavour``)."""

    path: str | os.PathLike
    sf_name: str = "btag_sf"
    eff_name: str = "btag_eff"
    working_point: str = "M"
    flavour_branch: str | None = None

    def __post_init__(self) -> None:
        # open both corrections now, so that a bad file fails before any event is read
        load_correction(self.path, self.sf_name, SF_INPUTS, WHAT)
        load_correction(self.path, self.eff_name, EFF_INPUTS, "b-tag efficiencies")

    def weights(
        self,
        ev: Events,
        collection: str,
        tagged: np.ndarray,
        systematics=("central", "up", "down"),
        schema=None,
        tree: str | None = None,
    ) -> tuple[dict[str, np.ndarray], dict]:
        """Per systematic the event weights (:func:`fixed_wp_weights`) of ``ev``'s jets with
        their tag decisions ``tagged: bool[B, N]``, and what was counted: ``{"jets",
        "outside", "first_outside"}``."""
        jets = ev[collection]
        branch = self.flavour_branch or _schema_flavour(schema, collection, self.path)
        flavour = jet_flavours(ev, collection, branch, tree)
        real = jets.mask
        pt, eta, _, _ = pt_eta_phi_e(jets.p4)
        abseta = np.abs(eta)
        inputs = {"working_point": self.working_point, "flavor": flavour[real],
                  "abseta": abseta[real], "pt": pt[real]}  # fmt: skip
        bad = sorted(set(np.unique(flavour[real]).tolist()) - {0, 4, 5})
        if bad:
            raise DataError(
                f"branch {branch!r}: jet flavour {bad[0]} is none of 5 (b), 4 (c), 0 (light), "
                "which the scale factors are given for"
            )
        eff_corr = load_correction(self.path, self.eff_name, EFF_INPUTS, "b-tag efficiencies")
        sf_corr = load_correction(self.path, self.sf_name, SF_INPUTS, WHAT)
        eff_flat, outside = evaluate(eff_corr, inputs)
        eff = np.full(real.shape, np.nan)
        eff[real] = eff_flat
        out = {}
        for syst in systematics:
            sf_flat, out_sf = evaluate(sf_corr, {**inputs, "systematic": syst})
            outside = outside | out_sf
            sf = np.full(real.shape, np.nan)
            sf[real] = np.where(out_sf, np.nan, sf_flat)
            out[syst] = fixed_wp_weights(tagged & real, real, sf, eff)
        info = {"jets": int(real.sum()), "outside": int(outside.sum())}
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            info["first_outside"] = {"pt": float(inputs["pt"][i]),
                                     "abseta": float(inputs["abseta"][i])}  # fmt: skip
        return out, info


def _schema_flavour(schema, collection: str, path) -> str:
    from hepattn.data.schema import get_schema

    coll = get_schema(schema).collection(collection) if schema is not None else None
    if coll is None or "flavour" not in coll.fields:
        raise DataError(
            f"b-tag scale factors ({path}) need the jets' truth flavour: the schema has no jets "
            "field 'flavour'; name its branch with --btag-flavour BRANCH"
        )
    return coll.fields["flavour"]
