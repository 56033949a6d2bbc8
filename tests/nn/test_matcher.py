"""The matcher on all-hadronic tt̄ (the default topology): triplet heads, the top-symmetric
loss and exact decoding. Other topologies: ``test_topology_matcher.py``."""

from __future__ import annotations

import itertools

import torch

from hepattn.kernels.triplet import triplet_logprobs
from hepattn.nn.encoder import EncoderConfig
from hepattn.nn.matcher import JetPartonMatcher, MatcherConfig, permutation_nll


def model(d=16, interaction=True, detection=False):
    torch.manual_seed(0)
    cfg = MatcherConfig(
        encoder=EncoderConfig.from_dict(
            {
                "input_dim": 4,
                "dim": d,
                "num_heads": 2,
                "num_layers": 1,
                "interaction": {"enabled": interaction, "width": 8},
            }
        ),
        tensor_dim=6,
        detection=detection,
    )
    return JetPartonMatcher(cfg).double().eval()


def symmetric_top_loss(m, heads, mask, t):
    """The mean top-symmetric NLL of targets ``t: int[B, 2, 3]`` (no detection term)."""
    out = m(*heads) if not isinstance(heads, tuple) else heads
    return m.loss(out, mask, [t[:, 0], t[:, 1]])


def batch(b=3, n=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, 4, generator=g, dtype=torch.float64)
    p3 = torch.randn(b, n, 3, generator=g, dtype=torch.float64) * 50
    e = p3.norm(dim=-1, keepdim=True) + 10
    mask = torch.ones(b, n, dtype=torch.bool)
    if b == 3:
        mask[1, 6:] = False
        mask[2, 4:] = False
    return x, torch.cat([p3, e], -1), mask


def test_loss_is_symmetric_in_tops_and_skips_unreconstructable():
    m = model()
    x, p4, mask = batch()
    out = m(x, p4, mask)
    t = torch.tensor([[[0, 1, 2], [3, 4, 5]], [[0, 1, 2], [3, -1, 5]], [[-1, 1, 2], [0, 1, -1]]])
    loss, used = symmetric_top_loss(m, out, mask, t)
    swapped = t.flip(1)
    loss2, _ = symmetric_top_loss(m, out, mask, swapped)
    qswap = t[..., [1, 0, 2]]
    loss3, _ = symmetric_top_loss(m, out, mask, qswap)
    assert used.tolist() == [True, True, False]
    torch.testing.assert_close(loss, loss2)
    torch.testing.assert_close(loss, loss3)
    assert torch.isfinite(loss)
    # by hand: L = min(ℓ(1,1) + ℓ(2,2), ℓ(1,2) + ℓ(2,1)), ℓ(h, t) = −log P_h(T_t) or 0
    lp = m.target_logprob(out.heads, mask, [t[:, 0], t[:, 1]])  # (B, head, top)
    ok = (t >= 0).all(-1)
    ell = torch.where(ok[:, None, :], -lp, torch.zeros_like(lp))
    direct = ell[:, 0, 0] + ell[:, 1, 1]
    crossed = ell[:, 0, 1] + ell[:, 1, 0]
    torch.testing.assert_close(loss, torch.minimum(direct, crossed)[:2].mean())
    loss.backward()


def test_permutation_nll_by_hand():
    logp = torch.tensor([[[-1.0, -5.0], [-4.0, -2.0]], [[-6.0, -1.0], [-0.5, -7.0]]])
    ok = torch.tensor([[True, True], [True, False]])
    nll, best = permutation_nll(logp, ok, ((0, 1), (1, 0)))
    # event 0: direct 1 + 2 = 3 < crossed 5 + 4; event 1 (top 2 not reconstructable):
    # direct ℓ(1,1) = 6, crossed ℓ(2,1) = 0.5
    torch.testing.assert_close(nll, torch.tensor([3.0, 0.5]))
    assert best.tolist() == [0, 1]


def test_permuting_jets_permutes_the_distribution():
    m = model()
    x, p4, mask = batch(b=1)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(3))
    (x1, s1), _ = m(x, p4, mask).heads
    (x2, s2), _ = m(x[:, perm], p4[:, perm], mask[:, perm]).heads
    a = triplet_logprobs(x1, s1, mask)[:, perm][:, :, perm][:, :, :, perm]
    torch.testing.assert_close(triplet_logprobs(x2, s2, mask[:, perm]), a)


def brute_force(lp1, lp2, n_real):
    best, arg = -float("inf"), None
    trips = [(i, j, k) for i, j, k in itertools.permutations(range(n_real), 3) if i < j]
    for a in trips:
        for b in trips:
            if set(a) & set(b):
                continue
            v = lp1[a].item() + lp2[b].item()
            if v > best:
                best, arg = v, (a, b)
    return best, arg


def test_decoding_is_exact_joint_search_with_no_shared_jet():
    m = model()
    x, p4, mask = batch(b=3, n=8)
    outputs = m(x, p4, mask)
    heads = outputs.heads
    out, _, _ = m.decode(outputs, mask, k=2)  # tiny k: certificate must enlarge it
    lps = [triplet_logprobs(xh, sh, mask) for xh, sh in heads]
    for b, n_real in enumerate([8, 6, 4]):
        got = out[b].tolist()
        if n_real >= 6:
            best, (a, c) = brute_force(lps[0][b], lps[1][b], n_real)
            (k1, i1, j1), (k2, i2, j2) = got[:3], got[3:]
            value = lps[0][b, i1, j1, k1] + lps[1][b, i2, j2, k2]
            torch.testing.assert_close(value.item(), best)
            assert len(set(got)) == 6
        else:  # 4 jets: one triplet, the other top -1
            assert got.count(-1) == 3
            assert all(0 <= j < n_real for j in got if j >= 0)
    again, prob, det = m.decode(outputs, mask, k=2)
    assert det is None  # built without the detection head
    assert torch.equal(again, out)
    tgt = torch.stack([out[:, [1, 2, 0]], out[:, [4, 5, 3]]], dim=1)  # (B, 2, 3)
    lp = m.target_logprob(heads, mask, [tgt[:, 0], tgt[:, 1]])  # (B, head, top), unordered q
    want = torch.stack([lp[:, 0, 0], lp[:, 1, 1]], dim=1).exp()
    want = torch.where((tgt >= 0).all(-1), want, torch.full_like(want, float("nan")))
    torch.testing.assert_close(prob, want.float(), equal_nan=True)
