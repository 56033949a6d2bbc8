"""Compiled Triton kernels on a CUDA device: many-jet sizes, bf16, and the memory claim.

The small-size checks of ``test_triplet_triton.py`` also run compiled when CUDA is present.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")

from hepattn.kernels.triplet import op, reference  # noqa: E402

pytestmark = pytest.mark.gpu


def inputs(b, n, d, dtype=torch.float32, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    x = torch.randn(b, n, d, generator=g, device="cuda") / d**0.25
    theta = torch.randn(d, d, d, generator=g, device="cuda") / d
    s = 0.5 * (theta + theta.transpose(0, 1))
    mask = torch.ones(b, n, dtype=torch.bool, device="cuda")
    mask[0, n // 2 :] = False
    return x.to(dtype), s.to(dtype), mask


def grads(x, s, mask, backend):
    xg, sg = x.clone().requires_grad_(), s.clone().requires_grad_()
    lz = op.triplet_log_normalizer(xg, sg, mask, backend=backend)
    lz.float().sum().backward()
    return lz.double(), xg.grad.double(), sg.grad.double()


@pytest.mark.parametrize("n, d", [(64, 32), (128, 64), (100, 48)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_many_jets_against_reference(n, d, dtype):
    x, s, mask = inputs(4, n, d, dtype)
    exact = grads(x.double(), s.double(), mask, "torch")
    low = grads(x, s, mask, "torch")
    kern = grads(x, s, mask, "triton")
    for e, lo, k in zip(exact, low, kern, strict=True):
        tol = 10 * (lo - e).abs().max().item() + 1e-5 * e.abs().max().item()
        assert (k - e).abs().max().item() <= tol


def test_topk_many_jets():
    x, s, mask = inputs(2, 64, 32)
    v, idx = op.triplet_topk(x, s, mask, 256, backend="triton")
    vr, _ = reference.triplet_topk(x.double(), s.double(), mask, 256)
    torch.testing.assert_close(v.double(), vr, atol=1e-3, rtol=1e-4)
    lp = reference.triplet_logprobs(x.double(), s.double(), mask)
    b = torch.arange(2, device="cuda")[:, None]
    torch.testing.assert_close(
        lp[b, idx[..., 0], idx[..., 1], idx[..., 2]], vr, atol=1e-3, rtol=1e-4
    )


def test_peak_memory_is_quadratic_not_cubic():
    x, s, mask = inputs(8, 128, 32)
    peaks = {}
    for backend in ("torch", "triton"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        grads(x, s, mask, backend)
        torch.cuda.synchronize()
        peaks[backend] = torch.cuda.max_memory_allocated() - base
    assert peaks["triton"] * 10 <= peaks["torch"]
