"""P-MHA pieces: the attention formula, the padding bias, the pair embedding, masked BN."""

import math

import torch

from hepattn.nn import (
    InteractionConfig,
    MaskedBatchNorm,
    MultiheadAttention,
    PairEmbedding,
    attention_bias,
)
from hepattn.physics import pair_features

D64 = torch.float64


def test_multihead_attention_is_softmax_of_scaled_logits_plus_bias():
    torch.manual_seed(0)
    b, n, d, h = 2, 5, 8, 2
    attn = MultiheadAttention(d, h).to(D64).eval()
    x = torch.randn(b, n, d, dtype=D64)
    u = torch.randn(b, h, n, n, dtype=D64)
    out = attn(x, attn_bias=u)
    q = attn.q_proj(x).view(b, n, h, d // h).transpose(1, 2)
    k, v = attn.kv_proj(x).split(d, dim=-1)
    k = k.view(b, n, h, d // h).transpose(1, 2)
    v = v.view(b, n, h, d // h).transpose(1, 2)
    w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h) + u, dim=-1)
    ref = attn.out_proj((w @ v).transpose(1, 2).reshape(b, n, d))
    assert torch.allclose(out, ref, atol=1e-12)


def test_attention_bias_masks_padded_keys_but_never_a_whole_row():
    mask = torch.tensor([[True, True, False], [False, False, False]])
    bias = attention_bias(mask, query_mask=mask)
    assert bias.shape == (2, 1, 3, 3) and bias.dtype == torch.float32
    inf = float("-inf")
    expected = torch.tensor(
        [[[0.0, 0.0, inf], [0.0, 0.0, inf], [0.0, 0.0, 0.0]], [[0.0] * 3] * 3]
    ).unsqueeze(1)
    assert torch.equal(bias, expected)
    assert (bias > inf).any(-1).all()  # every row keeps at least one finite entry
    u = torch.ones(2, 4, 3, 3, dtype=D64)
    combined = attention_bias(mask, query_mask=mask, pair_bias=u)
    assert combined.shape == (2, 4, 3, 3) and combined.dtype == D64
    assert attention_bias(mask).shape == (2, 1, 1, 3)


def test_pair_embedding_is_symmetric_and_matches_full_pointwise_mlp():
    torch.manual_seed(1)
    cfg = InteractionConfig(width=8, layers=2)
    emb = PairEmbedding(cfg, out_channels=3).to(D64)
    b, n = 2, 6
    p = torch.randn(b, n, 3, dtype=D64) * 20
    p4 = torch.cat([p, p.norm(dim=-1, keepdim=True) + 1.0], dim=-1)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    u = pair_features(p4, mask)
    emb.train()
    emb(u, mask)  # one training step moves the running statistics away from (0, 1)
    emb.eval()
    out = emb(u, mask)
    assert out.shape == (b, 3, n, n)
    assert torch.equal(out, out.transpose(-1, -2))
    # The same network applied to every (a, b) pair of the full matrix.
    z = emb.input_norm(u, torch.ones(b, n, n, dtype=torch.bool))
    for linear, norm in zip(emb.hidden, emb.norms, strict=True):
        z = torch.nn.functional.gelu(norm(linear(z), torch.ones(b, n, n, dtype=torch.bool)))
    ref = emb.out(z).permute(0, 3, 1, 2)
    pair_mask = (mask[:, :, None] & mask[:, None, :]).unsqueeze(1).expand_as(ref)
    assert torch.allclose(out[pair_mask], ref[pair_mask], atol=1e-12)
    assert (out[~pair_mask] == 0).all()


def test_masked_batch_norm_counts_only_real_entries():
    torch.manual_seed(2)
    bn = MaskedBatchNorm(3, momentum=0.5).to(D64)
    x = torch.randn(4, 5, 3, dtype=D64)
    mask = torch.rand(4, 5) > 0.4
    mask[0, 0] = mask[0, 1] = True
    garbage = x.clone()
    garbage[~mask] = 1e6
    out = bn(garbage, mask)
    real = x[mask]
    ref = (real - real.mean(0)) / torch.sqrt(real.var(0, unbiased=False) + bn.eps)
    assert torch.allclose(out[mask], ref, atol=1e-10)
    assert torch.allclose(bn.running_mean, 0.5 * real.mean(0), atol=1e-12)
    assert torch.allclose(bn.running_var, 0.5 + 0.5 * real.var(0, unbiased=True), atol=1e-12)
    before = (bn.running_mean.clone(), bn.running_var.clone())
    bn(garbage, torch.zeros(4, 5, dtype=torch.bool))  # nothing real: no update, no NaN
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])
    bn.eval()
    assert torch.allclose(bn(x, mask), (x - before[0]) / torch.sqrt(before[1] + bn.eps), atol=1e-12)


def test_lower_triangle_matches_tril_indices():
    from hepattn.nn.attention import lower_triangle

    for n in (0, 1, 2, 7, 64, 257):
        rows, cols = lower_triangle(n)
        ref = torch.tril_indices(n, n)
        assert torch.equal(rows, ref[0]) and torch.equal(cols, ref[1])


def test_pair_embedding_real_pairs_only_equals_dense():
    """The CPU path (network on real pairs only) gives the dense path's values and gradients,
    in training (batch statistics) and evaluation mode."""
    from hepattn.nn.attention import InteractionConfig, PairEmbedding

    torch.manual_seed(0)
    emb = PairEmbedding(InteractionConfig(), 4)
    u = torch.randn(3, 7, 7, 4, requires_grad=True)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6], dtype=torch.bool)
    for training in (True, False):
        emb.train(training)
        compact = emb(u, mask)
        (g_compact,) = torch.autograd.grad(compact.square().sum(), u)
        emb.real_pairs_only = False
        dense = emb(u, mask)
        (g_dense,) = torch.autograd.grad(dense.square().sum(), u)
        emb.real_pairs_only = True
        torch.testing.assert_close(compact, dense, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(g_compact, g_dense, rtol=1e-5, atol=1e-6)
