"""Which b-tag a baseline reads, and at which working point.

A matcher's jets carry either the b-tag *decision* (feature ``btag``: 0/1, e.g. our
``jet_btag`` at the medium working point) or the continuous *score* (feature ``btag_score``:
our ``jet_btag_score``, NanoAOD's ``Jet_btagDeepFlavB``). The network reads what it was trained
on; the classical baselines (χ², HH pairing) need tagged / untagged jets:

- with decisions, a jet is tagged when ``btag > 0.5``;
- with scores, when ``btag_score > WP``, the working point given (``--btag-wp``), or else the
  ``medium`` point recorded in the input file's metadata ``btag_working_points`` (files of
  ``hepattn generate``); a score without a working point is an error — a score's scale is the
  tagger's own (DeepJet 2018: medium 0.2783; our generator: 0.8993).
"""

from __future__ import annotations

import json

import numpy as np

from hepattn.errors import DataError

__all__ = ["BtagRule", "btag_rule", "file_working_points"]

#: The b-tag features a matcher may read, in order of preference for the baselines.
FEATURES = ("btag_score", "btag")


def file_working_points(path: str) -> dict[str, float] | None:
    """The ``btag_working_points`` metadata of a ROOT file (``{"loose": …, "medium": …,
    "tight": …}``), or None when it has none."""
    import uproot

    try:
        with uproot.open(path) as f:
            if "btag_working_points" not in f:
                return None
            return {k: float(v) for k, v in json.loads(str(f["btag_working_points"])).items()}
    except (OSError, ValueError):
        return None


class BtagRule:
    """The b-tag values of a padded jet collection and the threshold above which a jet is
    tagged; ``describe()`` says so in words."""

    def __init__(self, values: np.ndarray | None, threshold: float, feature: str | None, source):
        self.values, self.threshold, self.feature, self.source = values, threshold, feature, source

    def describe(self) -> str:
        if self.values is None:
            return "no b-tag information"
        return f"tagged when {self.feature} > {self.threshold:g} ({self.source})"


def btag_rule(ev, collection: str = "jets", btag_wp: float | None = None) -> BtagRule:
    """The rule of the module docstring for the jets ``ev[collection]``."""
    jets = ev[collection]
    feature = next((f for f in FEATURES if f in jets.features), None)
    if feature is None:
        if btag_wp is not None:
            raise DataError("--btag-wp was given, but the jets carry no b-tag feature")
        return BtagRule(None, 0.5, None, "")
    values = jets.values[..., jets.features.index(feature)]
    if feature == "btag":
        if btag_wp is not None:
            raise DataError(
                "--btag-wp applies to b-tag scores; these jets carry 0/1 decisions (feature "
                "'btag'), tagged when 1"
            )
        return BtagRule(values, 0.5, feature, "0/1 decisions")
    if btag_wp is not None:
        if not np.isfinite(btag_wp):
            raise DataError(f"--btag-wp must be a finite number, got {btag_wp}")
        return BtagRule(values, float(btag_wp), feature, "--btag-wp")
    wps = [file_working_points(f) for f in ev.files]
    mediums = {w["medium"] for w in wps if w and "medium" in w}
    if len(mediums) == 1 and all(wps):
        wp = mediums.pop()
        return BtagRule(values, wp, feature, "the files' medium working point")
    raise DataError(
        f"{ev.files[0]}: the jets carry b-tag scores ({feature}) but "
        + ("the files record different working points" if mediums else "no working point")
        + "; give the one the baselines should use with --btag-wp VALUE"
    )
