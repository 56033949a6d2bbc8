"""Reliability, ECE, purity curves and the isotonic map, against hand values."""

from __future__ import annotations

import numpy as np
import pytest

from hepattn.metrics.calibration import (
    apply_isotonic,
    choose_map,
    ece,
    fit_isotonic,
    fit_platt,
    outcomes,
    purity_curve,
    reliability,
)
from hepattn.topology import TTBAR_ALLHAD


def test_reliability_and_ece_by_hand():
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55, np.nan])
    o = np.array([0, 0, 1, 0, 1, 1], bool)
    r = reliability(p, o)
    assert r["n"] == 5  # the NaN left out
    b0, b5, b9 = r["bins"][0], r["bins"][5], r["bins"][9]
    assert (b0["count"], b0["predicted"], b0["observed"]) == (2, 0.05, 0.0)
    assert (b5["count"], b5["observed"]) == (1, 1.0)
    assert (b9["count"], b9["observed"]) == (2, 0.5)
    assert r["bins"][3]["observed"] is None
    # ECE = (2·0.05 + 1·0.45 + 2·0.45) / 5
    assert r["ece"] == pytest.approx((0.1 + 0.45 + 0.9) / 5)
    assert ece(np.array([1.0, 0.0]), np.array([1, 0], bool)) == 0.0


def test_isotonic_pools_violators_and_interpolates():
    x, y = fit_isotonic(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    assert x == pytest.approx([0.1, 0.25, 0.4]) and y == pytest.approx([0.0, 0.5, 1.0])
    got = apply_isotonic(np.array([0.0, 0.175, 0.25, 1.0, np.nan]), x, y)
    assert got[:4] == pytest.approx([0.0, 0.25, 0.5, 1.0]) and np.isnan(got[4])
    assert np.all(np.diff(y) >= 0)


def test_isotonic_calibrates_an_overconfident_model():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20_000)
    o = rng.uniform(0, 1, p.size) < 0.5 * p  # the truth is half as likely as predicted
    x, y = fit_isotonic(p[:10_000], o[:10_000])
    before, after = ece(p[10_000:], o[10_000:]), ece(apply_isotonic(p[10_000:], x, y), o[10_000:])
    assert before > 0.2 and after < 0.02


def test_purity_curve_by_hand():
    c = purity_curve(np.array([0.9, 0.8, 0.1, np.nan]), np.array([1, 1, 0, 1], bool), points=4)
    assert c["kept"] == [1.0, 0.75, 0.5, 0.25]
    assert c["purity"] == pytest.approx([0.75, 2 / 3, 1.0, 1.0])
    assert c["threshold"][1:] == pytest.approx([0.1, 0.8, 0.9])


def test_outcomes_follow_the_pairing_of_the_efficiencies():
    """Predicted t1 holds true t2's jets (the tops are exchangeable): its outcome is that of
    true t2; predicted t2 is wrong; true t1 is present, true t2 too."""
    truth = np.array([[0, 1, 2, 3, 4, 5]])
    pred = np.array([[3, 5, 4, 0, 1, 7]])
    correct, present = outcomes(pred, truth, TTBAR_ALLHAD)
    assert correct.tolist() == [[True, False]] and present.tolist() == [[True, True]]
    truth2 = np.array([[0, 1, 2, 3, -1, 5]])  # true t2 not reconstructable: nothing right,
    correct, present = outcomes(pred, truth2, TTBAR_ALLHAD)  # so the identity pairing
    assert correct.tolist() == [[False, False]] and present.tolist() == [[True, False]]


def test_platt_and_the_cross_validated_choice():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, 20_000)
    z = np.log(p / (1 - p))
    o = rng.uniform(size=p.size) < 1 / (1 + np.exp(-(0.5 * z - 0.3)))  # overconfident
    x, y = fit_platt(p, o)
    assert ece(apply_isotonic(p, x, y), o) < 0.01 and np.all(np.diff(y) >= 0)
    chosen = choose_map(p, o)
    assert chosen["method"] == "platt" and chosen["cv_ece"]["identity"] > 0.05
    calibrated = rng.uniform(size=p.size) < p  # already calibrated: little to gain
    assert choose_map(p, calibrated)["cv_ece"]["identity"] < 0.02
