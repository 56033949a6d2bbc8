"""Resolution, bias and pull width of regressed values, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hepattn.metrics.regression import half_width, regression_metrics


def test_gaussian_residuals_give_their_width_bias_and_unit_pulls():
    rng = np.random.default_rng(0)
    true = rng.normal(500, 100, 200_000)
    value = true + 5 + rng.normal(0, 20, true.size)
    m = regression_metrics(value, np.full(true.size, 20.0), true)
    assert m["events"] == true.size
    assert m["resolution"] == pytest.approx(20, rel=0.02)
    assert m["bias"] == pytest.approx(5, abs=0.3)
    assert m["pull_width"] == pytest.approx(1, rel=0.02)
    # σ claimed twice too large: pulls of width 1/2
    assert regression_metrics(value, np.full(true.size, 40.0), true)["pull_width"] == (
        pytest.approx(0.5, rel=0.02)
    )


def test_missing_targets_are_left_out_and_nothing_left_is_none():
    assert half_width(np.arange(101.0)) == pytest.approx(34)  # (84 − 16) / 2
    value = np.array([1.0, 2.0, 3.0, np.nan])
    true = np.array([0.0, np.nan, 2.0, 1.0])
    m = regression_metrics(value, np.ones(4), true)
    assert m["events"] == 2 and m["bias"] == 1.0 and m["resolution"] == 0.0
    none = regression_metrics(value, np.ones(4), np.full(4, np.nan))
    assert none == {"resolution": None, "bias": None, "pull_width": None, "events": 0}
