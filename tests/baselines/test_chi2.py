"""χ² baseline: vectorized solver against a brute-force loop over all ordered assignments."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hepattn.baselines.chi2 import (
    Chi2Config,
    assignment_tables,
    measure_resolutions,
    solve_chi2,
)
from hepattn.config import ConfigError
from hepattn.errors import DataError


def _p4(pt, eta, phi, mass):
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    return np.stack([px, py, pz, e], axis=-1)


def _random_events(rng, n_real, n_events, n_slots, p_tag=0.35):
    """Unsorted jets at random slots among ``n_slots``; padding holds large finite junk."""
    p4 = _p4(*[rng.uniform(*r, (n_events, n_slots)) for r in ((20, 200), (-2.5, 2.5), (-3, 3))],
             rng.uniform(0, 20, (n_events, n_slots)))  # fmt: skip
    mask = np.zeros((n_events, n_slots), dtype=bool)
    for e in range(n_events):
        mask[e, rng.choice(n_slots, n_real, replace=False)] = True
    junk = _p4(np.full_like(p4[..., 0], 45.0), np.zeros_like(p4[..., 0]), np.zeros_like(p4[..., 0]),
               np.full_like(p4[..., 0], 80.0))  # fmt: skip
    p4 = np.where(mask[..., None], p4, junk)
    btag = (rng.random((n_events, n_slots)) < p_tag) & mask
    return p4, mask, btag


def _mass(v):
    return math.sqrt(max(v[3] ** 2 - v[0] ** 2 - v[1] ** 2 - v[2] ** 2, 0.0))


def _brute_force(p4, mask, btag, cfg):
    """Minimum χ² over itertools.permutations of 6 distinct real jets, plain python."""
    jets = [int(j) for j in np.flatnonzero(mask)]
    if len(jets) < 6:
        return None, math.inf
    tagged = {j for j in jets if btag is not None and btag[j] > cfg.btag_threshold}
    restrict_b = btag is not None and len(tagged) >= cfg.min_btags
    restrict_q = restrict_b and cfg.q_untagged and len(jets) - len(tagged) >= 4
    best, best_perm = math.inf, None
    for perm in itertools.permutations(jets, 6):
        b1, q1, q2, b2, q3, q4 = perm
        if restrict_b and not (b1 in tagged and b2 in tagged):
            continue
        if restrict_q and any(q in tagged for q in (q1, q2, q3, q4)):
            continue
        w1, w2 = _mass(p4[q1] + p4[q2]), _mass(p4[q3] + p4[q4])
        t1, t2 = _mass(p4[b1] + p4[q1] + p4[q2]), _mass(p4[b2] + p4[q3] + p4[q4])
        chi2 = ((w1 - cfg.m_w) / cfg.sigma_w) ** 2 + ((w2 - cfg.m_w) / cfg.sigma_w) ** 2
        if cfg.mode == "dm":
            chi2 += ((t1 - t2) / cfg.sigma_dmt) ** 2
        else:
            chi2 += ((t1 - cfg.m_t) / cfg.sigma_t) ** 2 + ((t2 - cfg.m_t) / cfg.sigma_t) ** 2
        if chi2 < best:
            best, best_perm = chi2, perm
    return best_perm, best


def _canonical(a):
    """Assignment up to q1 ↔ q2, q1′ ↔ q2′ and t ↔ t̄."""
    a = [int(x) for x in a]
    return frozenset({(a[0], frozenset(a[1:3])), (a[3], frozenset(a[4:6]))})


CONFIGS = {
    "dm": (Chi2Config(mode="dm"), False),
    "mt": (Chi2Config(mode="mt"), False),
    "dm-btag": (Chi2Config(mode="dm"), True),
    "mt-btag": (Chi2Config(), True),
    "dm-btag-q-untagged": (Chi2Config(mode="dm", q_untagged=True), True),
}


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize(("n_real", "n_events"), [(6, 6), (7, 4), (8, 2)])
def test_matches_brute_force(name, n_real, n_events):
    cfg, use_btag = CONFIGS[name]
    rng = np.random.default_rng(1000 * n_real + len(name))
    p4, mask, btag = _random_events(rng, n_real, n_events, n_slots=n_real + 2)
    tags = btag if use_btag else None
    assignment, chi2 = solve_chi2(p4, mask, tags, cfg)
    assert assignment.dtype == np.int64 and assignment.shape == (n_events, 6)
    for e in range(n_events):
        perm, best = _brute_force(p4[e], mask[e], None if tags is None else tags[e], cfg)
        assert chi2[e] == pytest.approx(best, rel=1e-9)
        assert _canonical(assignment[e]) == _canonical(perm)
        assert mask[e, assignment[e]].all(), "a padded jet was chosen"
        assert len(set(assignment[e].tolist())) == 6


def test_btag_restriction_applied_and_relaxed():
    rng = np.random.default_rng(7)
    p4, mask, _ = _random_events(rng, 7, 3, n_slots=7)
    btag = np.zeros((3, 7), dtype=bool)
    btag[0, [1, 4]] = True  # exactly 2 tags: b slots are jets 1 and 4
    btag[1, [2]] = True  # 1 tag: no restriction
    btag[2, [0, 2, 5, 6]] = True  # 4 tags, 3 untagged: q restriction cannot apply
    cfg = Chi2Config(q_untagged=True)
    assignment, chi2 = solve_chi2(p4, mask, btag, cfg)
    assert {assignment[0, 0], assignment[0, 3]} == {1, 4}
    assert not btag[0, assignment[0, [1, 2, 4, 5]]].any()
    free, _ = solve_chi2(p4[1:2], mask[1:2], None, cfg)
    assert _canonical(assignment[1]) == _canonical(free[0])
    assert btag[2, assignment[2, [0, 3]]].all()
    assert np.isfinite(chi2).all()


def test_fewer_than_six_jets_and_empty():
    rng = np.random.default_rng(3)
    p4, mask, btag = _random_events(rng, 5, 2, n_slots=8)
    assignment, chi2 = solve_chi2(p4, mask, btag)
    assert (assignment == -1).all() and np.isinf(chi2).all()
    assignment, chi2 = solve_chi2(np.zeros((0, 8, 4)), np.zeros((0, 8), dtype=bool))
    assert assignment.shape == (0, 6) and chi2.shape == (0,)
    assignment, chi2 = solve_chi2(np.zeros((2, 4, 4)), np.ones((2, 4), dtype=bool))
    assert (assignment == -1).all() and np.isinf(chi2).all()


def test_mixed_multiplicities_in_one_batch():
    rng = np.random.default_rng(11)
    parts = [_random_events(rng, n, 2, n_slots=9) for n in (4, 6, 7, 9)]
    p4 = np.concatenate([p[0] for p in parts])
    mask = np.concatenate([p[1] for p in parts])
    btag = np.concatenate([p[2] for p in parts])
    cfg = Chi2Config(chunk_elements=100)  # many chunks
    assignment, chi2 = solve_chi2(p4, mask, btag, cfg)
    assert (assignment[:2] == -1).all()
    for e in range(2, len(p4)):
        if mask[e].sum() <= 7:
            perm, best = _brute_force(p4[e], mask[e], btag[e], cfg)
            assert chi2[e] == pytest.approx(best, rel=1e-9)
            assert _canonical(assignment[e]) == _canonical(perm)
        single, _ = solve_chi2(p4[e : e + 1], mask[e : e + 1], btag[e : e + 1])
        assert _canonical(single[0]) == _canonical(assignment[e])


def test_max_jets_keeps_highest_pt():
    rng = np.random.default_rng(5)
    p4, mask, _ = _random_events(rng, 9, 2, n_slots=11)
    cfg = Chi2Config(max_jets=7)
    assignment, chi2 = solve_chi2(p4, mask, None, cfg)
    for e in range(2):
        pt = np.where(mask[e], np.hypot(p4[e, :, 0], p4[e, :, 1]), -1.0)
        keep = np.zeros_like(mask[e])
        keep[np.argsort(-pt)[:7]] = True
        perm, best = _brute_force(p4[e], keep, None, cfg)
        assert chi2[e] == pytest.approx(best, rel=1e-9)
        assert _canonical(assignment[e]) == _canonical(perm)


@pytest.mark.parametrize("n", [6, 7, 8, 10])
def test_assignment_tables_distinct(n):
    pairs, triplets, assignments = assignment_tables(n)
    assert len(pairs) == math.comb(n, 2)
    assert len(triplets) == n * math.comb(n - 1, 2)
    assert len(assignments) == math.comb(n, 6) * 90
    # Every ordered assignment of 6 distinct jets belongs to exactly one class: 8 each.
    assert len(assignments) * 8 == math.perm(n, 6)
    seen = set()
    for t1, t2 in assignments:
        (b1, p1), (b2, p2) = triplets[t1], triplets[t2]
        a = (b1, *pairs[p1], b2, *pairs[p2])
        assert len(set(a)) == 6
        seen.add(_canonical(a))
    assert len(seen) == len(assignments)


def test_bad_inputs():
    p4 = np.zeros((2, 6, 4))
    mask = np.ones((2, 6), dtype=bool)
    with pytest.raises(DataError, match="p4"):
        solve_chi2(np.zeros((2, 6, 3)), mask)
    with pytest.raises(DataError, match="mask"):
        solve_chi2(p4, np.ones((2, 5), dtype=bool))
    with pytest.raises(DataError, match="bool"):
        solve_chi2(p4, np.ones((2, 6)))
    with pytest.raises(DataError, match="btag"):
        solve_chi2(p4, mask, np.ones((2, 7)))
    bad = p4.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(DataError, match="jet 2 of event 1"):
        solve_chi2(bad, mask)
    with pytest.raises(ConfigError, match="mode"):
        Chi2Config(mode="x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="sigma_w"):
        Chi2Config(sigma_w=0.0)
    with pytest.raises(ConfigError, match="max_jets"):
        Chi2Config(max_jets=5)


def test_measure_resolutions():
    rng = np.random.default_rng(2)
    p4, mask, _ = _random_events(rng, 6, 200, n_slots=6)
    truth = np.tile(np.arange(6), (200, 1))
    truth[:50, 4] = -1  # 50 events with only the first top reconstructable
    res = measure_resolutions(p4, mask, truth)
    assert res["n_tops"] == 350 and res["n_events_both"] == 150

    def m(v):
        return np.sqrt(np.maximum(v[..., 3] ** 2 - (v[..., :3] ** 2).sum(-1), 0.0))

    m_qq = np.concatenate([m(p4[:, 1] + p4[:, 2]), m(p4[50:, 4] + p4[50:, 5])])
    q16, q84 = np.quantile(m_qq, [0.16, 0.84])
    assert res["sigma_w"] == pytest.approx((q84 - q16) / 2)
    dm = m(p4[50:, :3].sum(1)) - m(p4[50:, 3:].sum(1))
    q16, q84 = np.quantile(dm, [0.16, 0.84])
    assert res["sigma_dmt"] == pytest.approx((q84 - q16) / 2)
    doubled = measure_resolutions(2 * p4, mask, truth)
    assert doubled["sigma_t"] == pytest.approx(2 * res["sigma_t"])
    mask[0, 3] = False
    with pytest.raises(DataError, match="padded"):
        measure_resolutions(p4, mask, truth)
    with pytest.raises(DataError, match="truth"):
        measure_resolutions(p4, mask, np.full((200, 6), 6))


def test_chi2_config_is_a_config_with_one_default_form(tmp_path):
    """One χ² form by default, in the Python API and on the command line: ``mt``."""
    from hepattn.baselines.chi2 import DEFAULT_MODE

    assert Chi2Config().mode == DEFAULT_MODE == "mt"
    path = tmp_path / "chi2.yaml"
    path.write_text("mode: dm\nsigma_w: 12\nmax_jets: 8\n")
    cfg = Chi2Config.from_yaml(path)
    assert cfg == Chi2Config(mode="dm", sigma_w=12.0, max_jets=8)
    assert Chi2Config.from_dict(cfg.to_dict()) == cfg
    path.write_text("mode: xx\n")
    with pytest.raises(ConfigError, match=r"chi2.yaml: Chi2Config.mode: must be one of"):
        Chi2Config.from_yaml(path)
    assert "b slots on b-tagged jets (btag > 0.5)" in Chi2Config().describe(btag=True)
    assert "mt:" in Chi2Config().describe(btag=False)
