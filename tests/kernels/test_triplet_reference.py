"""The torch reference of triplet scoring against the naive N³·D³ form, and its properties."""

from __future__ import annotations

import itertools

import pytest
import torch

from hepattn.kernels.triplet import (
    triplet_log_normalizer,
    triplet_logprob,
    triplet_logprobs,
    triplet_topk,
)
from hepattn.kernels.triplet.reference import triplet_scores


def inputs(b=3, n=7, d=5, seed=0, pad=(0, 2, 3)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, d, generator=g, dtype=torch.float64)
    theta = torch.randn(d, d, d, generator=g, dtype=torch.float64)
    s = 0.5 * (theta + theta.transpose(0, 1))
    mask = torch.ones(b, n, dtype=torch.bool)
    for i, p in enumerate(pad[:b]):
        if p:
            mask[i, n - p :] = False
    return x, s, mask


def naive_scores(x, s, mask):
    o = torch.einsum("bin,bjm,bkl,nml->bijk", x, x, x, s)
    n = x.shape[1]
    for b in range(len(x)):
        for i, j, k in itertools.product(range(n), repeat=3):
            if len({i, j, k}) < 3 or not (mask[b, i] and mask[b, j] and mask[b, k]):
                o[b, i, j, k] = float("-inf")
    return o


def test_contractions_equal_naive_form():
    x, s, mask = inputs()
    torch.testing.assert_close(triplet_scores(x, s, mask), naive_scores(x, s, mask))


def test_distribution_symmetry_and_zero_probabilities():
    x, s, mask = inputs()
    lp = triplet_logprobs(x, s, mask)
    assert torch.equal(lp, lp.transpose(1, 2))  # exact i <-> j symmetry
    torch.testing.assert_close(lp.exp().flatten(1).sum(1), torch.ones(3, dtype=torch.float64))
    p = lp.exp()
    idx = torch.arange(7)
    assert (p[:, idx, idx, :] == 0).all() and (p[:, :, idx, idx] == 0).all()
    assert (p[2, 4:] == 0).all() and (p[2, :, :, 4:] == 0).all()  # padded jets


@pytest.mark.parametrize("n_real", [0, 1, 2, 3])
def test_few_jets_no_nan(n_real):
    x, s, _ = inputs(b=1, n=5)
    mask = torch.zeros(1, 5, dtype=torch.bool)
    mask[0, :n_real] = True
    x.requires_grad_(True)
    lp = triplet_logprobs(x, s, mask)
    assert not lp.isnan().any()
    z = triplet_log_normalizer(x, s, mask)
    assert torch.isfinite(z).all()
    if n_real < 3:
        assert (lp == float("-inf")).all() and z.item() == 0
    else:
        torch.testing.assert_close(lp.exp().sum(), torch.tensor(1.0, dtype=torch.float64))
    z.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_logprob_of_targets_and_gradcheck():
    x, s, mask = inputs(b=2, n=5, d=3, pad=(0, 1))
    target = torch.tensor([[[0, 1, 2], [3, 4, 2]], [[0, 1, 4], [-1, 1, 2]]])
    lp = triplet_logprob(x, s, mask, target)
    full = triplet_logprobs(x, s, mask)
    assert lp[0, 0] == full[0, 0, 1, 2] and lp[0, 1] == full[0, 3, 4, 2]
    assert lp[1, 0] == float("-inf")  # jet 4 is padding
    assert lp[1, 1] == float("-inf")  # unmatched parton
    tgt = torch.tensor([[0, 1, 2], [2, 0, 3]])
    xg = x.clone().requires_grad_(True)
    sg = s.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: triplet_logprob(a, b, mask, tgt), (xg, sg))


def test_topk_equals_sorting_the_reference():
    x, s, mask = inputs()
    values, index = triplet_topk(x, s, mask, 10)
    lp = triplet_logprobs(x, s, mask)
    for b in range(3):
        cells = sorted(
            (
                (lp[b, i, j, k].item(), (i, j, k))
                for i, j, k in itertools.product(range(7), repeat=3)
                if i < j and torch.isfinite(lp[b, i, j, k])
            ),
            reverse=True,
        )[:10]
        torch.testing.assert_close(
            values[b, : len(cells)], torch.tensor([c[0] for c in cells], dtype=torch.float64)
        )
        for slot, (_, ijk) in enumerate(cells):
            assert tuple(index[b, slot].tolist()) == ijk
