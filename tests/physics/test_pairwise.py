"""Pair features against hand-computed values, symmetry, padding and gradient safety."""

import math

import numpy as np
import pytest
import torch

from hepattn.physics import (
    PAIR_FEATURES,
    delta,
    ln_delta,
    ln_kt,
    ln_m2,
    ln_z,
    mass2,
    pair_features,
    phi,
    pt,
    rapidity,
    wrap_phi,
)


def p4_from(pt_, y, phi_, m=0.0):
    """(px, py, pz, E) float64 from (pT, y, φ, m)."""
    mt = math.hypot(pt_, m)
    return torch.tensor(
        [pt_ * math.cos(phi_), pt_ * math.sin(phi_), mt * math.sinh(y), mt * math.cosh(y)],
        dtype=torch.float64,
    )


def random_p4(*shape, seed=0):
    """Massive random 4-momenta (float64)."""
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(*shape, 3, generator=g, dtype=torch.float64) * 50
    m = torch.rand(*shape, generator=g, dtype=torch.float64) * 5
    e = (p.square().sum(-1) + m.square()).sqrt()
    return torch.cat([p, e.unsqueeze(-1)], dim=-1)


def test_wrap_phi_range_and_boundaries():
    pi = math.pi
    d = torch.tensor([0.0, pi, -pi, 1.5 * pi, -1.5 * pi, 6.2, 2 * pi + 0.1], dtype=torch.float64)
    expected = [0.0, pi, pi, -0.5 * pi, 0.5 * pi, 6.2 - 2 * pi, 0.1]
    assert torch.allclose(wrap_phi(d), torch.tensor(expected, dtype=torch.float64), atol=1e-12)


def test_kinematics_hand_values():
    p = torch.tensor([[3.0, 4.0, 12.0, 13.5], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(pt(p)[0], torch.tensor(5.0, dtype=torch.float64))
    assert phi(p)[0].item() == pytest.approx(math.atan2(4.0, 3.0))
    assert rapidity(p)[0].item() == pytest.approx(0.5 * math.log(25.5 / 1.5))
    assert mass2(p)[0].item() == pytest.approx(13.5**2 - 169.0)
    # A zero 4-vector (padding) gives finite, neutral values.
    assert rapidity(p)[1].item() == 0.0 and phi(p)[1].item() == 0.0


def test_hand_computed_orthogonal_massless_pair():
    # a along x, b along y, both pT = 1 at y = 0: Δ = π/2, kT = π/2, z = 1/2, m² = 2.
    a = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    b = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    assert delta(a, b).item() == pytest.approx(math.pi / 2)
    assert ln_delta(a, b).item() == pytest.approx(math.log(math.pi / 2))
    assert ln_kt(a, b).item() == pytest.approx(math.log(math.pi / 2))
    assert ln_z(a, b).item() == pytest.approx(math.log(0.5))
    assert ln_m2(a, b).item() == pytest.approx(math.log(2.0))


@pytest.mark.parametrize(("phi_a", "phi_b"), [(3.0, -3.0), (-3.1, 3.1), (math.pi, -math.pi + 0.2)])
def test_phi_wraparound(phi_a, phi_b):
    pta, ya, ptb, yb = 40.0, 0.5, 10.0, 0.2
    a, b = p4_from(pta, ya, phi_a), p4_from(ptb, yb, phi_b)
    dphi = abs(phi_a - phi_b)
    dphi = 2 * math.pi - dphi  # all cases straddle ±π
    d = math.sqrt((ya - yb) ** 2 + dphi**2)
    assert d < 0.5  # near neighbours across the ±π seam, not 2π apart
    assert delta(a, b).item() == pytest.approx(d, rel=1e-9)
    assert ln_kt(a, b).item() == pytest.approx(math.log(ptb * d), rel=1e-9)
    assert ln_z(a, b).item() == pytest.approx(math.log(ptb / (pta + ptb)), rel=1e-9)
    # Massless pair: m² = 2 pTa pTb (cosh Δy − cos Δφ).
    m2 = 2 * pta * ptb * (math.cosh(ya - yb) - math.cos(dphi))
    assert ln_m2(a, b).item() == pytest.approx(math.log(m2), rel=1e-6)


def test_massive_pair_mass():
    a, b = p4_from(30.0, -1.0, 0.3, m=4.0), p4_from(20.0, 0.4, 2.0, m=1.0)
    s = a + b
    m2 = s[3].item() ** 2 - s[0].item() ** 2 - s[1].item() ** 2 - s[2].item() ** 2
    assert ln_m2(a, b).item() == pytest.approx(math.log(m2), rel=1e-9)


def test_pair_features_matrix_matches_functions_and_is_symmetric():
    p4 = random_p4(2, 6)
    out = pair_features(p4)
    assert out.shape == (2, 6, 6, 4)
    assert torch.equal(out, out.transpose(1, 2))
    fns = (ln_delta, ln_kt, ln_z, ln_m2)
    for k, fn in enumerate(fns):
        ref = fn(p4[:, :, None, :], p4[:, None, :, :])
        assert torch.allclose(out[..., k], ref, atol=1e-12)
        assert torch.allclose(fn(p4[:, 1], p4[:, 4]), fn(p4[:, 4], p4[:, 1]), atol=1e-12)
    # Diagonal: Δ = 0, clamped at 1e-8; z = 1/2.
    diag = out[:, range(6), range(6)]  # (2, 6, 4)
    assert torch.allclose(diag[..., 0], torch.full_like(diag[..., 0], math.log(1e-8)))
    assert torch.allclose(diag[..., 2], torch.full_like(diag[..., 2], math.log(0.5)))


def test_feature_selection_and_unknown_name():
    p4 = random_p4(1, 3)
    full = pair_features(p4)
    sub = pair_features(p4, features=("ln_m2", "ln_delta"))
    assert torch.equal(sub, full[..., [3, 0]])
    with pytest.raises(ValueError, match="ln_foo"):
        pair_features(p4, features=("ln_foo",))
    assert PAIR_FEATURES == ("ln_delta", "ln_kt", "ln_z", "ln_m2")


def test_padding_garbage_zero_pt_finite_values_and_gradients():
    p4 = random_p4(2, 5, seed=3)
    mask = torch.tensor([[True, True, True, False, False], [True, True, False, False, False]])
    p4[0, 2] = torch.tensor([0.0, 0.0, 30.0, 30.0], dtype=torch.float64)  # zero pT, along beam
    p4[1, 1] = 0.0  # all-zero real object
    garbage = p4.clone()
    garbage[~mask] = torch.tensor([1e30, -3e29, 7e31, -1e30], dtype=torch.float64)
    garbage.requires_grad_(True)
    out = pair_features(garbage, mask)
    assert torch.isfinite(out).all()
    clean = p4.clone()
    clean[~mask] = 0.0
    assert torch.equal(out, pair_features(clean, mask))
    pair_mask = mask[:, :, None] & mask[:, None, :]
    assert (out[~pair_mask] == 0).all()
    (out * torch.randn_like(out)).sum().backward()
    assert torch.isfinite(garbage.grad).all()
    assert (garbage.grad[~mask] == 0).all()
    assert garbage.grad[mask].abs().sum() > 0


def test_float32_zero_vectors_and_coincident_objects_have_finite_gradients():
    p4 = torch.zeros(1, 4, 4, requires_grad=True)  # everything zero, no mask
    pair_features(p4).sum().backward()
    assert torch.isfinite(p4.grad).all()
    same = torch.tensor([[[10.0, 5.0, 3.0, 12.0], [10.0, 5.0, 3.0, 12.0]]], requires_grad=True)
    out = pair_features(same)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(same.grad).all()


def test_ln_m2_is_exact_on_the_diagonal_and_stable_in_float32():
    """An object with itself: ln(4 m²), or ln eps when massless, whatever the rounding of its
    float32 4-vector; a close massless pair in float32 agrees with float64."""
    from hepattn.physics.pairwise import ln_m2, pair_features

    rng = np.random.default_rng(0)
    pt_, eta, phi_ = rng.uniform(1, 500, 50), rng.uniform(-3, 3, 50), rng.uniform(-3, 3, 50)
    for shift in (0.0, 2 * np.pi):
        p4 = np.stack([pt_ * np.cos(phi_ + shift), pt_ * np.sin(phi_ + shift),
                       pt_ * np.sinh(eta), pt_ * np.cosh(eta)], -1)  # fmt: skip
        u = pair_features(torch.tensor(p4, dtype=torch.float32)[None])[0]  # (N, N, 4)
        diag = u[torch.arange(50), torch.arange(50), 3]
        assert torch.all(diag == math.log(1e-8))
    massive = torch.tensor([[30.0, 40.0, 20.0, 100.0]])
    m2 = 100.0**2 - 30.0**2 - 40.0**2 - 20.0**2
    assert ln_m2(massive, massive).item() == pytest.approx(math.log(4 * m2), rel=1e-6)
    # two 200 GeV massless towers 0.005 apart in eta: m^2 = 2 pT^2 (cosh 0.005 - 1) ~ 1 GeV^2
    a64 = torch.tensor(
        [200.0, 0.0, 200 * math.sinh(1.0), 200 * math.cosh(1.0)], dtype=torch.float64
    )
    b64 = torch.tensor([200.0, 0.0, 200 * math.sinh(1.005), 200 * math.cosh(1.005)],
                       dtype=torch.float64)  # fmt: skip
    exact = math.log(2 * 200.0**2 * (math.cosh(0.005) - 1))
    assert ln_m2(a64, b64).item() == pytest.approx(exact, abs=1e-9)
    assert ln_m2(a64.float(), b64.float()).item() == pytest.approx(exact, abs=1e-3)
