"""Jet substructure observables against hand-computed values, FastJet, and symmetries."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hepattn.physics.substructure import (
    HL_FEATURES,
    NSUB_BETAS,
    NSUB_FEATURES,
    NSUB_MAX_N,
    R0,
    energy_correlations,
    exclusive_kt_axes,
    high_level_features,
    jet_mass,
    nsubjettiness,
    nsubjettiness_basis,
)

FEATURE = {name: k for k, name in enumerate(HL_FEATURES)}


def massless(pt, eta, phi) -> np.ndarray:
    """``(n, 4)`` massless 4-vectors (px, py, pz, E) from pT, η, φ."""
    pt, eta, phi = (np.asarray(v, dtype=np.float64) for v in (pt, eta, phi))
    return np.stack(
        [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], axis=-1
    )


def batch(*jets: np.ndarray, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad jets ``(n_b, 4)`` into ``p4 (B, N, 4)`` float64 and ``mask (B, N)``."""
    n = n or max(max(len(j) for j in jets), 1)
    p4 = torch.zeros(len(jets), n, 4, dtype=torch.float64)
    mask = torch.zeros(len(jets), n, dtype=torch.bool)
    for b, jet in enumerate(jets):
        p4[b, : len(jet)] = torch.as_tensor(jet)
        mask[b, : len(jet)] = True
    return p4, mask


def y_phi(p: np.ndarray) -> tuple[float, float]:
    """Rapidity and azimuth of one 4-vector."""
    return 0.5 * math.log((p[3] + p[2]) / (p[3] - p[2])), math.atan2(p[1], p[0])


def dr(a: np.ndarray, b: np.ndarray) -> float:
    (ya, pa), (yb, pb) = y_phi(a), y_phi(b)
    dphi = (pa - pb + math.pi) % (2 * math.pi) - math.pi
    return math.hypot(ya - yb, dphi)


def random_jet(rng: np.random.Generator, n: int, spread: float, phi0: float = 0.5) -> np.ndarray:
    pt = rng.exponential(20.0, n) + 1.0
    return massless(pt, rng.normal(0.3, spread, n), rng.normal(phi0, spread, n))


# Two towers: pT 100 at (η, φ) = (0, 0) and pT 50 at (0, 0.6).
TWO = massless([100.0, 50.0], [0.0, 0.0], [0.0, 0.6])
# Three separated towers: A pT 100 at (0, 0), B pT 80 at (0, 1), C pT 10 at (0.3, 0).
THREE = massless([100.0, 80.0, 10.0], [0.0, 0.0, 0.3], [0.0, 1.0, 0.0])


def test_feature_names():
    assert len(HL_FEATURES) == 16
    assert len(set(HL_FEATURES)) == 16


def test_two_towers_by_hand():
    p4, mask = batch(TWO)
    axis = TWO.sum(0)
    tau1 = (100.0 * dr(TWO[0], axis) + 50.0 * dr(TWO[1], axis)) / (150.0 * R0)
    tau = nsubjettiness(p4, mask)
    assert tau[0, 0].item() == pytest.approx(tau1, rel=1e-9)
    assert torch.all(tau[0, 1:] == 0.0)  # each tower is its own axis

    ecf = energy_correlations(p4, mask)
    assert ecf.e2.item() == pytest.approx((100 / 150) * (50 / 150) * 0.6, rel=1e-9)
    assert ecf.e3.item() == 0.0 and ecf.c2.item() == 0.0 and ecf.d2.item() == 0.0
    ecf2 = energy_correlations(p4, mask, beta=2.0)
    assert ecf2.e2.item() == pytest.approx((100 / 150) * (50 / 150) * 0.36, rel=1e-9)

    m2 = 2 * 100.0 * 50.0 * (1 - math.cos(0.6))  # 2 pT_a pT_b (cosh Δη − cos Δφ)
    assert jet_mass(p4, mask).item() == pytest.approx(math.sqrt(m2), rel=1e-6)

    hl = high_level_features(p4, mask)[0]
    assert hl[FEATURE["tau_1"]].item() == pytest.approx(tau1, rel=1e-6)
    assert hl[FEATURE["tau_21"]].item() == 0.0
    assert hl[FEATURE["n_towers"]].item() == 2.0


def test_three_towers_by_hand():
    p4, mask = batch(THREE)
    a, b, c = THREE
    # kT distances: d_AC = 10²·0.3² = 9 < d_BC = 10²·1.09 < d_AB = 80²·1, so A and C merge.
    axes, axes_mask = exclusive_kt_axes(p4, mask)
    ac = a + c
    assert axes_mask[0, 1].tolist() == [True, True] + [False] * 6
    np.testing.assert_allclose(axes[0, 1, :2].numpy(), np.stack([ac, b]), rtol=1e-12)
    np.testing.assert_allclose(axes[0, 0, 0].numpy(), a + b + c, rtol=1e-12)

    tau = nsubjettiness(p4, mask)
    tau2 = (100.0 * dr(a, ac) + 10.0 * dr(c, ac)) / (190.0 * R0)
    assert tau[0, 1].item() == pytest.approx(tau2, rel=1e-9)
    assert torch.all(tau[0, 2:] == 0.0)

    z = np.array([100.0, 80.0, 10.0]) / 190.0
    d_ab, d_ac, d_bc = dr(a, b), dr(a, c), dr(b, c)
    e2 = z[0] * z[1] * d_ab + z[0] * z[2] * d_ac + z[1] * z[2] * d_bc
    e3 = z.prod() * d_ab * d_ac * d_bc
    ecf = energy_correlations(p4, mask)
    assert ecf.e2.item() == pytest.approx(e2, rel=1e-9)
    assert ecf.e3.item() == pytest.approx(e3, rel=1e-9)
    assert ecf.c2.item() == pytest.approx(e3 / e2**2, rel=1e-9)
    assert ecf.d2.item() == pytest.approx(e3 / e2**3, rel=1e-9)


def test_phi_wraparound():
    """The same jet rotated so that it straddles φ = ±π gives the same features."""
    rng = np.random.default_rng(3)
    pt, eta, phi = rng.exponential(20.0, 25) + 1, rng.normal(0, 0.3, 25), rng.normal(0, 0.3, 25)
    p4, mask = batch(massless(pt, eta, phi), massless(pt, eta, phi + math.pi))
    hl = high_level_features(p4, mask)
    torch.testing.assert_close(hl[0], hl[1], rtol=1e-5, atol=1e-6)


def test_permutation_padding_and_chunk_invariance():
    rng = np.random.default_rng(0)
    jets = [random_jet(rng, n, 0.4) for n in (1, 2, 3, 9, 17, 40)]
    p4, mask = batch(*jets)
    ref = high_level_features(p4, mask)
    assert ref.shape == (6, 16) and ref.dtype == torch.float32
    assert torch.isfinite(ref).all()

    # Shuffle the towers of every jet among 64 slots, padded slots holding garbage.
    n_pad = 64
    p4_s = torch.full((6, n_pad, 4), float("nan"), dtype=torch.float64)
    p4_s[:, :, 3] = 1e6
    mask_s = torch.zeros(6, n_pad, dtype=torch.bool)
    for b, jet in enumerate(jets):
        slots = torch.as_tensor(rng.permutation(n_pad)[: len(jet)])
        p4_s[b, slots] = torch.as_tensor(jet)
        mask_s[b, slots] = True
    out = high_level_features(p4_s, mask_s, chunk_size=4)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(jet_mass(p4_s, mask_s), jet_mass(p4, mask))
    threads = torch.get_num_threads()
    torch.testing.assert_close(high_level_features(p4, mask, chunk_size=1, num_threads=None), ref)
    assert torch.get_num_threads() == threads  # the thread setting is restored


def test_degenerate_jets_are_finite():
    one = massless([40.0], [0.1], [0.2])
    p4, mask = batch(np.zeros((0, 4)), one, TWO, n=4)
    hl = high_level_features(p4, mask)
    assert torch.isfinite(hl).all()
    assert torch.all(hl[0] == 0.0)  # empty jet
    assert torch.all(hl[1, : FEATURE["n_towers"]] == 0.0) and hl[1, -1].item() == 1.0
    assert torch.isfinite(jet_mass(p4, mask)).all()
    assert jet_mass(p4, mask)[1].item() == pytest.approx(0.0, abs=1e-3)


def test_ecf_truncation_to_leading_towers():
    rng = np.random.default_rng(1)
    jet = random_jet(rng, 30, 0.3)
    p4, mask = batch(jet)
    full = energy_correlations(p4, mask, max_towers=None)
    lead = energy_correlations(p4, mask, max_towers=10)
    order = np.argsort(-np.hypot(jet[:, 0], jet[:, 1]))[:10]
    z = np.hypot(jet[order, 0], jet[order, 1]) / np.hypot(jet[:, 0], jet[:, 1]).sum()
    e2 = sum(z[i] * z[j] * dr(jet[order[i]], jet[order[j]]) for i in range(10) for j in range(i))
    assert lead.e2.item() == pytest.approx(e2, rel=1e-9)
    assert lead.e2.item() < full.e2.item()


def test_exclusive_kt_matches_fastjet():
    fastjet = pytest.importorskip("fastjet")
    rng = np.random.default_rng(7)
    # Narrow jets (all pair distances < R = 1.2), so FastJet does no beam recombination;
    # one of them straddles φ = ±π.
    jets = [random_jet(rng, n, 0.2) for n in (2, 5, 9, 20)]
    jets.append(random_jet(rng, 35, 0.2, phi0=math.pi))
    p4, mask = batch(*jets)
    axes, axes_mask = exclusive_kt_axes(p4, mask)
    jet_def = fastjet.JetDefinition(fastjet.kt_algorithm, 1.2, fastjet.E_scheme)
    for b, jet in enumerate(jets):
        seq = fastjet.ClusterSequence([fastjet.PseudoJet(*map(float, p)) for p in jet], jet_def)
        for n in range(1, min(len(jet), 8) + 1):
            subjets = sorted(seq.exclusive_jets(n), key=lambda j: -j.pt())
            ref = np.array([[j.px(), j.py(), j.pz(), j.E()] for j in subjets])
            ours = axes[b, n - 1][axes_mask[b, n - 1]].numpy()
            np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9, err_msg=f"jet {b}, n={n}")


def test_nsubjettiness_basis_names():
    assert len(NSUB_FEATURES) == 135 == NSUB_MAX_N * len(NSUB_BETAS)
    assert NSUB_FEATURES[:4] == ("tau_1_b0.5", "tau_1_b1", "tau_1_b2", "tau_2_b0.5")
    assert NSUB_FEATURES[-1] == "tau_45_b2" and len(set(NSUB_FEATURES)) == 135


def test_nsubjettiness_basis_by_hand():
    """τ_N^β = Σ_i pT_i min_k ΔR(i, a_k)^β / (R0^β Σ_i pT_i) on the two- and three-tower jets:
    N = 1 about the jet axis, N = 2 of the three towers about the kT subjets (A + C, B), and
    τ_N = 0 once every tower is its own axis (N ≥ number of towers, up to N = 45)."""
    p4, mask = batch(TWO, THREE)
    basis = nsubjettiness_basis(p4, mask)
    assert basis.shape == (2, 135) and basis.dtype == torch.float32
    tau = basis.view(2, NSUB_MAX_N, len(NSUB_BETAS)).double()  # [jet, N − 1, β]
    a, b, c = THREE
    ac, jet3, jet2 = a + c, THREE.sum(0), TWO.sum(0)
    for j, beta in enumerate(NSUB_BETAS):
        tau1_two = (100 * dr(TWO[0], jet2) ** beta + 50 * dr(TWO[1], jet2) ** beta) / (
            150 * R0**beta
        )
        pts = (100.0, 80.0, 10.0)
        tau1_three = sum(pt * dr(t, jet3) ** beta for pt, t in zip(pts, THREE, strict=True)) / (
            190 * R0**beta
        )
        tau2_three = (100 * dr(a, ac) ** beta + 10 * dr(c, ac) ** beta) / (190 * R0**beta)
        assert tau[0, 0, j].item() == pytest.approx(tau1_two, rel=1e-6)
        assert tau[1, 0, j].item() == pytest.approx(tau1_three, rel=1e-6)
        assert tau[1, 1, j].item() == pytest.approx(tau2_three, rel=1e-6)
        # the scalar function at one β gives the same values
        single = nsubjettiness(p4, mask, max_n=3, beta=beta)
        torch.testing.assert_close(single[1], tau[1, :3, j], rtol=1e-6, atol=0.0)
    assert torch.all(tau[0, 1:] == 0.0) and torch.all(tau[1, 2:] == 0.0)
    torch.testing.assert_close(
        tau[:, :8, 1].float(), high_level_features(p4, mask)[:, :8], rtol=1e-6, atol=0.0
    )


def test_nsubjettiness_basis_invariances_and_degenerate_jets():
    rng = np.random.default_rng(4)
    jets = [np.zeros((0, 4)), massless([40.0], [0.1], [0.2]), random_jet(rng, 60, 0.4)]
    jets.append(random_jet(rng, 50, 0.3, phi0=math.pi))  # straddles φ = ±π
    p4, mask = batch(*jets)
    ref = nsubjettiness_basis(p4, mask)
    assert torch.isfinite(ref).all() and torch.all(ref[:2] == 0.0)  # empty and one tower
    assert torch.all(ref[2:, -3:] > 0.0)  # 50+ towers: τ_45 > 0
    tau = ref.view(4, NSUB_MAX_N, 3)
    perm = torch.randperm(p4.shape[1])
    torch.testing.assert_close(
        nsubjettiness_basis(p4[:, perm], mask[:, perm], chunk_size=3), ref, rtol=1e-5, atol=1e-7
    )
    small = nsubjettiness_basis(p4, mask, max_n=4, betas=(2.0,))
    torch.testing.assert_close(small, tau[:, :4, 2])
    with pytest.raises(ValueError, match="betas > 0"):
        nsubjettiness_basis(p4, mask, betas=(0.0,))
