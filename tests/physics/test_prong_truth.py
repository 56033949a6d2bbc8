"""Truth prong physics (hepattn.physics.prongs) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepattn.physics.prongs import (
    min_energy_fraction,
    min_pair_dr,
    pair_dr,
    resolvable_prongs,
)


def test_pair_dr_hand_values():
    d = pair_dr(np.array([0.0, 0.3]), np.array([0.0, 0.4]))
    assert d[0, 1] == pytest.approx(0.5) and d[1, 0] == pytest.approx(0.5)
    assert d[0, 0] == 0.0
    # across φ = ±π: 3.1 and −3.1 are 2π − 6.2 = 0.0832 apart
    wrap = pair_dr(np.zeros(2), np.array([3.1, -3.1]))
    assert wrap[0, 1] == pytest.approx(2 * math.pi - 6.2)


def test_min_pair_dr():
    eta, phi = np.array([0.0, 0.3, 1.0]), np.array([0.0, 0.4, 0.0])
    assert min_pair_dr(eta, phi) == pytest.approx(0.5)
    assert min_pair_dr(np.array([0.1]), np.array([0.2])) == math.inf


def test_min_energy_fraction():
    assert min_energy_fraction(np.array([10.0, 30.0, 60.0])) == pytest.approx(0.1)
    assert math.isnan(min_energy_fraction(np.array([])))


def test_resolvable_prongs_single_linkage():
    # 0.05 apart in a chain: (0, 0.05) and (0.05, 0.09) merge, so all three are one group;
    # the fourth is 0.91 away: two groups at the HCAL cell, four at 0.01
    eta = np.array([0.0, 0.05, 0.09, 1.0])
    phi = np.zeros(4)
    assert resolvable_prongs(eta, phi, 0.1) == 2
    assert resolvable_prongs(eta, phi, 0.01) == 4
    assert resolvable_prongs(eta, phi, 2.0) == 1
    assert resolvable_prongs(np.array([]), np.array([]), 0.1) == 0
