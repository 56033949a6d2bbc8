"""HH → 4b pairings (min |m_H1 − m_H2|, ATLAS's D_HH): hand values and brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hepattn.baselines.hh_pairing import D_HH_SLOPE, pair_hh
from hepattn.config import ConfigError
from hepattn.physics.kinematics import invariant_mass


def test_hand_event_dhh_and_dm_differ():
    # two back-to-back massless pairs: along x (E 60 each, m 120), along y (E 55, m 110);
    # the crossed pairings have m = √(2·60·55) = 81.2 for both candidates
    p4 = np.array([[[0, 55, 0, 55], [60, 0, 0, 60], [0, -55, 0, 55], [-60, 0, 0, 60]]], float)
    mask = np.ones((1, 4), bool)
    a, s = pair_hh(p4, mask, method="dhh")
    assert a[0].tolist() == [1, 3, 0, 2] and s[0] == pytest.approx(0.0, abs=1e-9)
    a, s = pair_hh(p4, mask, method="dm")
    assert s[0] == pytest.approx(0.0, abs=1e-9)  # |81.2 − 81.2|; D_HH would be 6.0
    assert sorted(a[0, :2].tolist()) in ([0, 1], [1, 2]) and a[0, 0] == 1
    assert abs(120 - D_HH_SLOPE * 110) < 1e-12


def brute(p4, mask, btag, method):
    """Python loops: the four jets, then every pairing scored."""
    real = [i for i in range(len(mask)) if mask[i]]
    pt = {i: math.hypot(*p4[i, :2]) for i in real}
    tagged = [i for i in real if btag is not None and btag[i] > 0.5]
    rest = [i for i in real if i not in tagged]
    four = (sorted(tagged, key=lambda i: -pt[i]) + sorted(rest, key=lambda i: -pt[i]))[:4]
    best = None
    for a, b in itertools.combinations(four, 2):
        c, d = [j for j in four if j not in (a, b)]
        if (a, b) > (c, d):
            continue
        cands = sorted([(a, b), (c, d)], key=lambda p: -(pt[p[0]] + pt[p[1]]))
        m1, m2 = (float(invariant_mass(p4[list(p)].sum(0))) for p in cands)
        s = (
            abs(m1 - m2)
            if method == "dm"
            else abs(m1 - D_HH_SLOPE * m2) / math.hypot(1, D_HH_SLOPE)
        )
        if best is None or s < best[0]:
            best = (s, {frozenset(cands[0]), frozenset(cands[1])}, frozenset(cands[0]))
    return best


@pytest.mark.parametrize("method", ["dhh", "dm"])
@pytest.mark.parametrize("with_btag", [False, True])
def test_matches_brute_force(method, with_btag):
    rng = np.random.default_rng(1)
    b, n = 60, 7
    p = rng.normal(0, 60, (b, n, 3))
    p4 = np.concatenate([p, np.sqrt((p**2).sum(-1) + 25)[..., None]], -1)
    mask = rng.random((b, n)) < 0.8
    btag = rng.random((b, n)) if with_btag else None
    a, s = pair_hh(p4, mask, btag, method=method)
    for e in range(b):
        if mask[e].sum() < 4:
            assert (a[e] == -1).all() and np.isinf(s[e])
            continue
        want = brute(p4[e], mask[e], None if btag is None else btag[e], method)
        assert s[e] == pytest.approx(want[0])
        got = [frozenset(a[e, :2].tolist()), frozenset(a[e, 2:].tolist())]
        assert set(got) == want[1] and got[0] == want[2]
        pts = np.hypot(p4[e, a[e], 0], p4[e, a[e], 1])
        assert pts[0] >= pts[1] and pts[2] >= pts[3]


def test_unknown_method_is_refused():
    with pytest.raises(ConfigError, match="method must be one of"):
        pair_hh(np.zeros((1, 4, 4)), np.ones((1, 4), bool), method="chi2")
