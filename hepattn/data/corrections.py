"""Correction files: the correctionlib JSON that CMS and ATLAS analyses keep scale factors in.

A correctionlib file (schema v2) holds named *corrections*, each a function of declared inputs
(``pt``, ``abseta``, ``flavor``, ``systematic`` …) evaluated by binning, categories or
formulas. hepattn reads two kinds (:mod:`hepattn.tasks.btag_weights`,
:mod:`hepattn.tasks.systematics`):

- b-tagging scale factors and efficiencies for the fixed-working-point method;
- the relative jet energy scale uncertainty σ_JES(pT, |η|).

:func:`load_correction` opens the file and returns the named correction with its inputs
checked; :func:`evaluate` evaluates it for arrays of inputs and *counts* the values that fall
outside its bins (a correction whose binning ends with ``flow: "error"``) instead of stopping
at the first: they come back as NaN with a boolean ``outside`` mask, for the caller to report.
Every failure — no file, not JSON, not a correctionlib file, no correction of that name, an
input it does not take — is one :class:`~hepattn.errors.DataError` line naming the file.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from hepattn._optional import require
from hepattn.errors import DataError

__all__ = ["Correction", "evaluate", "load_correction"]


class Correction:
    """One correction of a file: ``name``, its ``inputs`` (names in its own order), the
    ``path`` it came from, and correctionlib's evaluator."""

    def __init__(self, path: Path, name: str, inputs: tuple[str, ...], evaluator) -> None:
        self.path, self.name, self.inputs, self.evaluator = path, name, inputs, evaluator

    def __repr__(self) -> str:
        return f"Correction({self.name!r} of {str(self.path)!r}, inputs {list(self.inputs)})"


def load_correction(
    path: str | os.PathLike, name: str, inputs: Sequence[str], what: str
) -> Correction:
    """Correction ``name`` of the correctionlib file ``path``, which must take exactly the
    inputs ``inputs`` (by name, any order). ``what`` names its use in messages ("b-tag scale
    factors")."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such correction file ({what})")
    stat = path.stat()
    cset = _correction_set(str(path.resolve()), stat.st_size, stat.st_mtime_ns, what)
    names = list(cset.keys())
    if name not in names:
        raise DataError(
            f"{path}: no correction named {name!r} ({what}); the file holds "
            + (", ".join(repr(n) for n in names) if names else "no corrections")
        )
    corr = cset[name]
    have = tuple(i.name for i in corr.inputs)
    if set(have) != set(inputs):
        raise DataError(
            f"{path}: correction {name!r} ({what}) takes inputs {list(have)}; hepattn evaluates "
            f"it with {list(inputs)}"
        )
    return Correction(path, name, have, corr)


@functools.lru_cache(maxsize=16)
def _correction_set(path: str, size: int, mtime_ns: int, what: str):
    """The parsed file ``path`` (read once per size and modification time: a file both checked
    when the options are read and used later is parsed once)."""
    try:
        text = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a correctionlib JSON file ({what}): {err}") from None
    if not isinstance(text, dict) or not isinstance(text.get("corrections"), list):
        raise DataError(f"{path}: not a correctionlib JSON file ({what}): no list of 'corrections'")
    correctionlib = require("correctionlib", f"reading {what} (correctionlib files)")
    try:
        return correctionlib.CorrectionSet.from_string(json.dumps(text))
    except Exception as err:  # pydantic / C++ validation: first line of the reason
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: not a valid correctionlib file ({what}): {reason}") from None


def evaluate(corr: Correction, values: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray]:
    """``(value float64[n], outside bool[n])``: ``corr`` at ``values`` (input name → array of
    n, or one string/number for all). Inputs outside the correction's bins (where it has no
    flow) give NaN and ``outside`` True; anything else the evaluator refuses is a
    :class:`DataError` naming the correction and the first value it refused."""
    n = max((np.size(v) for v in values.values() if isinstance(v, np.ndarray)), default=0)
    if n == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)

    def column(name: str):
        v = values[name]
        if isinstance(v, np.ndarray):
            return v.astype(np.int64 if v.dtype.kind in "iub" else np.float64)
        return v

    args = [column(name) for name in corr.inputs]
    try:
        return np.asarray(corr.evaluator.evaluate(*args), dtype=np.float64), np.zeros(n, bool)
    except (IndexError, RuntimeError, ValueError):
        pass  # some value outside the bins: find which, one at a time
    out = np.full(n, np.nan)
    outside = np.zeros(n, dtype=bool)
    for i in range(n):
        scalar = [a[i].item() if isinstance(a, np.ndarray) else a for a in args]
        try:
            out[i] = corr.evaluator.evaluate(*scalar)
        except (IndexError, RuntimeError) as err:
            if "bound" not in str(err).lower() and "range" not in str(err).lower():
                raise _refused(corr, scalar, err) from None
            outside[i] = True
        except ValueError as err:
            raise _refused(corr, scalar, err) from None
    return out, outside


def _refused(corr: Correction, scalar: list, err: Exception) -> DataError:
    at = ", ".join(f"{k}={v!r}" for k, v in zip(corr.inputs, scalar, strict=True))
    return DataError(f"{corr.path}: correction {corr.name!r} refuses {at}: {err}")
