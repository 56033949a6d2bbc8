"""What the reader does with b-tag values outside the score range [0, 1].

A b-tag score is a probability: every value outside [0, 1] is either a *default* written where
the tagger had nothing to say — CMS NanoAOD stores ``Jet_btagDeepFlavB = -1`` for jets outside
the tracker or without selected tracks; other taggers write −2, −10 or −999 — or a broken
value. Neither may reach a model or a baseline's working-point cut unnoticed (a −1 read as a
score changes the matcher's answer for a large fraction of events, with no sign of it).

The policy (:class:`BtagPolicy`), applied by the reader to every floating-point field whose
role starts with ``btag`` (``btag_score``, ``btag``), before padding:

- **defaults** are the negative whole numbers (−1, −2, −10, −999, …). With ``default`` set
  (``--btag-default VALUE``, e.g. 0 = "no tag") each is replaced by that value and counted in
  one warning per read; without it they are refused like any other out-of-range value;
- **other values outside [0, 1]** (beyond a rounding tolerance of ``1e-6``): ``out_of_range``
  ``"error"`` (default) stops with one line naming the file, branch, count, first entry and
  value; ``"drop"`` removes those objects (jets) and counts them in a warning, as
  ``--nonfinite drop`` does for NaN; ``"keep"`` reads them as stored — for a b-tag
  *discriminant* that is no probability (the HZZ open-data file's ``Jet_btag``: −1 or
  1.4–4.7) read by a model trained on it, whose domain check then guards the range.

Integer b-tag branches (Delphes' ``Jet.BTag`` bit mask, 0/1 decisions) are not scores and are
read as they are.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hepattn.errors import DataError

__all__ = ["OUT_OF_RANGE", "TOLERANCE", "BtagPolicy", "classify_scores", "is_btag_role"]

#: What ``out_of_range`` may be.
OUT_OF_RANGE = ("error", "drop", "keep")
#: A score up to this far outside [0, 1] is rounding, not an error (and is used as read).
TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class BtagPolicy:
    """What to do with b-tag values outside [0, 1] (module doc).

    Attributes:
        default: the value used in place of a default (a negative whole number), or None to
            treat defaults as out of range.
        out_of_range: ``"error"``, ``"drop"`` the objects holding other out-of-range values
            (and the defaults when ``default`` is None), or ``"keep"`` them as stored.
    """

    default: float | None = None
    out_of_range: str = "error"

    def __post_init__(self) -> None:
        if self.out_of_range not in OUT_OF_RANGE:
            raise DataError(
                f"the b-tag out-of-range policy must be one of {OUT_OF_RANGE}, got "
                f"{self.out_of_range!r}"
            )
        if self.default is not None:
            value = float(self.default)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise DataError(
                    f"--btag-default must be a score in [0, 1] (0: no tag), got {self.default!r}"
                )
            object.__setattr__(self, "default", value)


def is_btag_role(role: str) -> bool:
    """Whether the field ``role`` of a collection holds b-tag values (``btag``, ``btag_score``)."""
    return role.startswith("btag")


def classify_scores(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(default, outside)``: ``bool[n]`` flags of the scores ``values: float[n]``.

    ``default``: a negative whole number, ``x < 0 and x = ⌊x⌋`` (NanoAOD's −1, …);
    ``outside``: any other finite value with ``x < −ε`` or ``x > 1 + ε``, ε = :data:`TOLERANCE`.
    NaN/inf are neither (the reader's ``nonfinite`` handling owns them).
    """
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x)
    default = finite & (x < 0) & (x == np.floor(x))
    outside = finite & ~default & ((x < -TOLERANCE) | (x > 1.0 + TOLERANCE))
    return default, outside
