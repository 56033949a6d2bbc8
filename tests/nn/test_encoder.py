"""Set-symmetry properties of the encoder and both poolings.

Permutation equivariance / invariance, indifference to padding (with garbage in padded slots),
no gradient into padded slots, an event alone equal to the same event in a padded batch, and
finite output for an event with no real object; with and without the interaction bias.
"""

import pytest
import torch

from hepattn.nn import (
    ClassAttentionConfig,
    ClassAttentionPooling,
    Encoder,
    EncoderConfig,
    InteractionConfig,
    MaskedMeanPooling,
    masked_mean,
)

F_IN, DIM, HEADS = 5, 16, 2
INTERACTIONS = {
    "plain": InteractionConfig(enabled=False),
    "pmha_shared": InteractionConfig(width=8, layers=2, shared=True),
    "pmha_per_layer": InteractionConfig(width=8, layers=1, shared=False, features=("ln_kt",)),
}


def build(interaction, dtype=torch.float64, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    cfg = EncoderConfig(
        input_dim=F_IN,
        dim=DIM,
        num_heads=HEADS,
        num_layers=2,
        mlp_ratio=2.0,
        dropout=dropout,
        attn_dropout=dropout,
        embed_hidden=(8,),
        interaction=interaction,
    )
    encoder = Encoder(cfg).to(dtype).eval()
    pool = ClassAttentionPooling(ClassAttentionConfig(dim=DIM, num_heads=HEADS)).to(dtype).eval()
    return encoder, pool


def make_batch(lengths, n, dtype=torch.float64, seed=0):
    """x, p4, mask for events with the given numbers of real objects, padded to n."""
    g = torch.Generator().manual_seed(seed)
    b = len(lengths)
    x = torch.randn(b, n, F_IN, generator=g, dtype=dtype)
    p = torch.randn(b, n, 3, generator=g, dtype=dtype) * 30
    e = p.norm(dim=-1, keepdim=True) + torch.rand(b, n, 1, generator=g, dtype=dtype) * 3
    p4 = torch.cat([p, e], dim=-1)
    mask = torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]
    x, p4 = x.masked_fill(~mask[..., None], 0.0), p4.masked_fill(~mask[..., None], 0.0)
    return x, p4, mask


def fill_garbage(x, p4, mask, seed=1):
    """Copies of x and p4 with large random values in every padded slot."""
    g = torch.Generator().manual_seed(seed)
    pad = ~mask[..., None]
    gx = torch.randn(x.shape, generator=g, dtype=x.dtype) * 1e4 + 1e5
    gp = torch.randn(p4.shape, generator=g, dtype=p4.dtype) * 1e6
    return torch.where(pad, gx, x), torch.where(pad, gp, p4)


def run(encoder, pool, x, p4, mask):
    h = encoder(x, p4, mask)
    return h, pool(h, mask), masked_mean(h, mask)


@pytest.fixture(params=list(INTERACTIONS), ids=list(INTERACTIONS))
def model(request):
    return build(INTERACTIONS[request.param])


def test_shapes_and_padded_rows_exactly_zero(model):
    encoder, pool = model
    x, p4, mask = make_batch([4, 7, 1], 8)
    x, p4 = fill_garbage(x, p4, mask)
    h, pooled, mean = run(encoder, pool, x, p4, mask)
    assert h.shape == (3, 8, DIM) and pooled.shape == (3, DIM) and mean.shape == (3, DIM)
    assert (h[~mask] == 0).all()
    assert torch.isfinite(h).all() and torch.isfinite(pooled).all()


def test_permutation_equivariance_and_pooling_invariance(model):
    encoder, pool = model
    x, p4, mask = make_batch([6, 3, 8], 8)
    x, p4 = fill_garbage(x, p4, mask)
    h, pooled, mean = run(encoder, pool, x, p4, mask)
    g = torch.Generator().manual_seed(5)
    # A different random permutation of all slots (real and padded) for each event.
    perm = torch.stack([torch.randperm(8, generator=g) for _ in range(3)])  # (B, N)
    take = perm[..., None]
    xp, pp = x.gather(1, take.expand_as(x)), p4.gather(1, take.expand_as(p4))
    hp, pooled_p, mean_p = run(encoder, pool, xp, pp, mask.gather(1, perm))
    assert torch.allclose(hp, h.gather(1, take.expand_as(h)), atol=1e-5)
    assert torch.allclose(pooled_p, pooled, atol=1e-5)
    assert torch.allclose(mean_p, mean, atol=1e-5)
    assert torch.allclose(MaskedMeanPooling()(hp, mask.gather(1, perm)), mean, atol=1e-5)


@pytest.mark.parametrize("extra", [1, 9])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_appending_padded_garbage_changes_nothing(model, extra, mode):
    encoder, pool = model
    # Training mode with dropout 0: the masked batch norms of the pair embedding must not
    # count padded pairs either.
    encoder.train(mode == "train")
    pool.train(mode == "train")
    x, p4, mask = make_batch([5, 2, 6], 6)
    ref = run(encoder, pool, x, p4, mask)
    n = 6 + extra
    pad = torch.zeros(3, extra, dtype=torch.bool)
    mask2 = torch.cat([mask, pad], dim=1)
    x2 = torch.cat([x, torch.zeros(3, extra, F_IN, dtype=x.dtype)], dim=1)
    p42 = torch.cat([p4, torch.zeros(3, extra, 4, dtype=p4.dtype)], dim=1)
    x2, p42 = fill_garbage(x2, p42, mask2, seed=extra)
    h2, pooled2, mean2 = run(encoder, pool, x2, p42, mask2)
    assert h2.shape[1] == n
    assert torch.allclose(h2[:, :6], ref[0], atol=1e-10)
    assert (h2[:, 6:] == 0).all()
    assert torch.allclose(pooled2, ref[1], atol=1e-10)
    assert torch.allclose(mean2, ref[2], atol=1e-10)


@pytest.mark.parametrize("pooling", ["class_attention", "mean"])
def test_no_gradient_reaches_padded_slots(model, pooling):
    encoder, pool = model
    x, p4, mask = make_batch([3, 6, 0], 6)
    x, p4 = fill_garbage(x, p4, mask)
    x.requires_grad_(True)
    p4.requires_grad_(True)
    h = encoder(x, p4, mask)
    out = pool(h, mask) if pooling == "class_attention" else masked_mean(h, mask)
    (out * torch.randn_like(out)).sum().backward()
    grads = [x.grad] if encoder.pair_embed is None else [x.grad, p4.grad]
    for grad in grads:
        assert torch.isfinite(grad).all()
        assert (grad[~mask] == 0).all()
        assert grad[mask].abs().sum() > 0
    if encoder.pair_embed is None:
        assert p4.grad is None  # plain attention never reads p4


def test_event_alone_equals_event_in_padded_batch(model):
    encoder, pool = model
    x, p4, mask = make_batch([4, 7, 2], 9, seed=3)
    x, p4 = fill_garbage(x, p4, mask)
    h, pooled, mean = run(encoder, pool, x, p4, mask)
    for i, n in enumerate([4, 7, 2]):
        alone = run(encoder, pool, x[i : i + 1, :n], p4[i : i + 1, :n], mask[i : i + 1, :n])
        assert torch.allclose(alone[0][0], h[i, :n], atol=1e-10)
        assert torch.allclose(alone[1][0], pooled[i], atol=1e-10)
        assert torch.allclose(alone[2][0], mean[i], atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fully_padded_event_gives_finite_zero_output(dtype):
    for interaction in INTERACTIONS.values():
        encoder, pool = build(interaction, dtype=dtype)
        x, p4, mask = make_batch([0, 3, 0], 4, dtype=dtype)
        x, p4 = fill_garbage(x, p4, mask)
        x.requires_grad_(True)
        h, pooled, mean = run(encoder, pool, x, p4, mask)
        assert torch.isfinite(h).all() and torch.isfinite(pooled).all()
        assert (h[0] == 0).all() and (mean[0] == 0).all()
        assert torch.allclose(pooled[0], pooled[2])  # every empty event looks the same
        (pooled.sum() + mean.sum()).backward()
        assert torch.isfinite(x.grad).all() and (x.grad[~mask] == 0).all()


def test_interaction_uses_p4_and_plain_attention_ignores_it():
    x, p4, mask = make_batch([5, 5], 5)
    moved = p4.clone()
    moved[:, 0, :2] = -moved[:, 0, :2]  # rotate object 0 by π in φ
    plain, _ = build(INTERACTIONS["plain"])
    assert torch.equal(plain(x, p4, mask), plain(x, None, mask))
    pmha, _ = build(INTERACTIONS["pmha_shared"])
    assert not torch.allclose(pmha(x, p4, mask), pmha(x, moved, mask))
    with pytest.raises(ValueError, match="needs p4"):
        pmha(x, None, mask)


def test_training_with_dropout_runs_and_keeps_padding_at_zero():
    encoder, pool = build(INTERACTIONS["pmha_shared"], dtype=torch.float32, dropout=0.2)
    encoder.train()
    pool.train()
    x, p4, mask = make_batch([3, 5], 6, dtype=torch.float32)
    x, p4 = fill_garbage(x, p4, mask)
    h, pooled, _ = run(encoder, pool, x, p4, mask)
    assert torch.isfinite(pooled).all() and (h[~mask] == 0).all()
    pooled.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)
