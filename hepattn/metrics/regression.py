"""Resolution, bias and pull width of regressed values against their truth (the matcher's
regression heads, issue 24's ``benchmarks/results/regression.json`` quantities)."""

from __future__ import annotations

import numpy as np

__all__ = ["half_width", "regression_metrics"]


def half_width(x: np.ndarray) -> float:
    """Half the 16–84 % interval of ``x`` (σ for a Gaussian, robust to tails)."""
    lo, hi = np.percentile(x, [16, 84])
    return float(hi - lo) / 2


def regression_metrics(value: np.ndarray, sigma: np.ndarray, true: np.ndarray) -> dict:
    """Over the events whose ``true`` target and prediction are finite: ``resolution`` (half
    the 16–84 % interval of value − true), ``bias`` (its median), ``pull_width`` (half the
    16–84 % interval of (value − true) / sigma: 1 for a calibrated σ) and ``events``; the
    three are None without any event."""
    value, sigma, true = (np.asarray(a, np.float64) for a in (value, sigma, true))
    ok = np.isfinite(true) & np.isfinite(value) & np.isfinite(sigma) & (sigma > 0)
    if not ok.any():
        return {"resolution": None, "bias": None, "pull_width": None, "events": 0}
    residual = value[ok] - true[ok]
    return {
        "resolution": half_width(residual),
        "bias": float(np.median(residual)),
        "pull_width": half_width(residual / sigma[ok]),
        "events": int(ok.sum()),
    }
