"""Classification metrics: the background rejection at a signal efficiency by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest


def test_rejection_at_signal_efficiency_by_hand():
    from hepattn.metrics.classification import rejection_at

    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.85, 0.4, 0.3, 0.2, 0.1])
    signal = np.array([True] * 5 + [False] * 5)
    # keeping 2 of 5 signal events cuts at 0.8: one background event of five above it
    assert rejection_at(score, signal, 0.4) == pytest.approx(5.0)
    assert rejection_at(score, signal, 0.5) == pytest.approx(5.0)
    # background weights: the one above the cut weighs 1 of 10
    w = np.array([1, 1, 1, 1, 1, 1, 4, 3, 1, 1], float)
    assert rejection_at(score, signal, 0.4, w) == pytest.approx(10.0)
    assert math.isnan(rejection_at(score[:5], signal[:5], 0.5))  # no background
    assert rejection_at(np.r_[score[:5], 0.0], np.r_[signal[:5], False], 0.4) == float("inf")
