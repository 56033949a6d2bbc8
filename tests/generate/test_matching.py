"""ΔR and the unique, globally-closest-first parton–jet matching."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepattn.generate.matching import delta_phi, delta_r, match_unique


def test_delta_phi_wraps():
    assert delta_phi(3.1, -3.1) == pytest.approx(6.2 - 2 * math.pi)
    assert delta_r(0.0, 3.1, 0.3, -3.1) == pytest.approx(math.hypot(0.3, 2 * math.pi - 6.2))


def test_globally_closest_pair_first():
    # parton 0 is 0.30 from jet 0; parton 1 is 0.05 from jet 0 and 0.35 from jet 1.
    # Closest pair first: (p1, j0); then p0 has only j1 left at 0.5 -> unmatched.
    # A parton-ordered greedy would give (p0, j0) and (p1, j1) instead.
    parton_eta, parton_phi = np.array([0.0, 0.25]), np.zeros(2)
    jet_eta, jet_phi = np.array([0.30, 0.60]), np.zeros(2)
    pj, jp = match_unique(parton_eta, parton_phi, jet_eta, jet_phi, 0.4)
    np.testing.assert_array_equal(pj, [-1, 0])
    np.testing.assert_array_equal(jp, [1, -1])


def test_matching_is_unique_and_consistent():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n_p, n_j = 6, int(rng.integers(0, 10))
        pe, pp = rng.uniform(-1, 1, n_p), rng.uniform(-np.pi, np.pi, n_p)
        je, jp_ = rng.uniform(-1, 1, n_j), rng.uniform(-np.pi, np.pi, n_j)
        pj, jpar = match_unique(pe, pp, je, jp_, 0.4)
        matched = pj[pj >= 0]
        assert len(set(matched.tolist())) == len(matched)
        for i, j in enumerate(pj):
            if j >= 0:
                assert jpar[j] == i
                assert delta_r(pe[i], pp[i], je[j], jp_[j]) < 0.4
        assert (jpar >= 0).sum() == (pj >= 0).sum()


def test_empty_inputs():
    pj, jp = match_unique(np.zeros(6), np.zeros(6), np.zeros(0), np.zeros(0))
    assert pj.tolist() == [-1] * 6 and jp.shape == (0,)


def test_missing_generators_give_install_hint(monkeypatch):
    import sys

    from hepattn.errors import HepattnError
    from hepattn.generate.pythia import require_fastjet, require_pythia

    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    monkeypatch.setitem(sys.modules, "fastjet", None)
    with pytest.raises(HepattnError, match=r"pip install 'hepattn\[gen\]'"):
        require_pythia()
    with pytest.raises(HepattnError, match=r"pip install 'hepattn\[gen\]'"):
        require_fastjet()
