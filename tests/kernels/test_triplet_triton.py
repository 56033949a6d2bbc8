"""Triton triplet kernels against the torch reference.

Without CUDA the kernels run in Triton's interpreter on CPU tensors (``TRITON_INTERPRET=1``,
set here before the kernels are first imported); with CUDA the same tests run compiled on the
GPU. Tolerances derive from the reference's own error at the kernels' working precision: the
fp32 (or bf16 / fp16) reference against the fp64 reference, times a small factor.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

from hepattn.errors import HepattnError  # noqa: E402
from hepattn.kernels.triplet import op, reference  # noqa: E402
from hepattn.nn.encoder import EncoderConfig  # noqa: E402
from hepattn.nn.matcher import JetPartonMatcher, MatcherConfig  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def inputs(b=2, n=7, d=8, seed=0, n_real=None, dtype=torch.float64):
    """x (B, N, D), S (D, D, D) symmetric in its first two indices, mask with padded tails."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, d, generator=g, dtype=torch.float64)
    theta = torch.randn(d, d, d, generator=g, dtype=torch.float64) * 0.35
    s = 0.5 * (theta + theta.transpose(0, 1))
    mask = torch.ones(b, n, dtype=torch.bool)
    for i, r in enumerate(n_real or [n - i for i in range(b)]):
        mask[i, max(r, 0) :] = False
    return x.to(DEVICE, dtype), s.to(DEVICE, dtype), mask.to(DEVICE)


def with_grads(fn, x, s, mask, dtype, backend):
    xg = x.detach().to(dtype).clone().requires_grad_()
    sg = s.detach().to(dtype).clone().requires_grad_()
    out = fn(xg, sg, mask, backend=backend)
    torch.where(torch.isfinite(out), out, torch.zeros_like(out)).float().sum().backward()
    return out.double(), xg.grad.double(), sg.grad.double()


def assert_like_reference(fn, x, s, mask, dtype=torch.float32, factor=10.0):
    """Kernel at ``dtype`` vs fp64 reference, within ``factor`` × the ``dtype`` reference's
    own error (plus a floor at the dtype's resolution)."""
    exact = with_grads(fn, x, s, mask, torch.float64, "torch")
    low = with_grads(fn, x, s, mask, dtype, "torch")
    kern = with_grads(fn, x, s, mask, dtype, "triton")
    eps = torch.finfo(dtype).eps
    for name, e, lo, k in zip(("value", "dx", "dS"), exact, low, kern, strict=True):
        fin = torch.isfinite(e)
        assert torch.equal(fin, torch.isfinite(k)), f"{name}: -inf pattern differs"
        scale = e[fin].abs().max().item() if fin.any() else 1.0
        tol = factor * (lo[fin] - e[fin]).abs().max().item() + 20 * eps * max(scale, 1.0)
        err = (k[fin] - e[fin]).abs().max().item() if fin.any() else 0.0
        assert err <= tol, f"{name}: kernel error {err:.3g} > tolerance {tol:.3g}"


@pytest.mark.parametrize("n", [1, 2, 3, 7, 33])
def test_log_normalizer_values_and_gradients(n):
    x, s, mask = inputs(b=2, n=n, n_real=[n, max(n - 2, 0)])
    assert_like_reference(op.triplet_log_normalizer, x, s, mask)


def test_logprob_of_targets_values_and_gradients():
    x, s, mask = inputs(b=3, n=9, n_real=[9, 6, 4])
    target = torch.tensor(
        [
            [[0, 1, 2], [5, 3, 8], [1, 1, 2], [-1, 2, 3]],  # a repeated index, a missing jet
            [[4, 2, 5], [0, 1, 7], [3, 0, 1], [2, 4, 0]],  # jet 7 is padding
            [[0, 3, 1], [3, 0, 1], [2, 1, 0], [0, 1, 3]],
        ],
        device=DEVICE,
    )

    def fn(x, s, mask, backend):
        return op.triplet_logprob(x, s, mask, target, backend=backend)

    assert_like_reference(fn, x, s, mask)
    lp = fn(x.float(), s.float(), mask, "triton")
    assert torch.isinf(lp[0, 2]) and torch.isinf(lp[0, 3]) and torch.isinf(lp[1, 1])
    assert lp[2, 0] == lp[2, 1]  # i <-> j symmetry, exactly
    single = op.triplet_logprob(x.float(), s.float(), mask, target[:, 0], backend="triton")
    torch.testing.assert_close(single, lp[:, 0])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs(dtype):
    x, s, mask = inputs(b=2, n=7)
    assert_like_reference(op.triplet_log_normalizer, x, s, mask, dtype=dtype)


def test_fully_padded_events_and_batch_of_one():
    x, s, mask = inputs(b=3, n=6, n_real=[0, 2, 6])
    xg = x.float().requires_grad_()
    lz = op.triplet_log_normalizer(xg, s.float(), mask, backend="triton")
    assert lz[0] == 0 and lz[1] == 0  # no valid triplet: log Z defined as 0
    lz.sum().backward()
    assert torch.isfinite(xg.grad).all() and (xg.grad[:2] == 0).all()
    v, idx = op.triplet_topk(x.float(), s.float(), mask, 4, backend="triton")
    assert torch.isinf(v[:2]).all() and (idx[:2] == -1).all()
    one = op.triplet_log_normalizer(x[2:].float(), s.float(), mask[2:], backend="triton")
    torch.testing.assert_close(one, lz[2:].detach())
    empty = op.triplet_log_normalizer(x[:0].float(), s.float(), mask[:0], backend="triton")
    assert empty.shape == (0,)


def test_non_contiguous_inputs():
    x, s, mask = inputs(b=2, n=7, d=8)
    wide = torch.randn(2, 8, 14, dtype=torch.float64, device=DEVICE)
    xt = wide.transpose(1, 2)[:, ::2][:, :7]  # (2, 7, 8) with odd strides
    xt = xt.clone().copy_(x).transpose(1, 2).contiguous().transpose(1, 2)  # column-major
    assert not xt.is_contiguous()
    st = s.permute(2, 0, 1).contiguous().permute(1, 2, 0)
    mt = torch.stack([mask, mask], -1)[..., 0]
    assert not st.is_contiguous() and not mt.is_contiguous()
    assert_like_reference(op.triplet_log_normalizer, xt, st, mt)


@pytest.mark.parametrize("n, k", [(3, 1), (7, 5), (7, 200), (12, 64)])
def test_topk_equals_sorted_reference(n, k):
    x, s, mask = inputs(b=2, n=n, dtype=torch.float32)
    v, idx = op.triplet_topk(x, s, mask, k, backend="triton")
    lp = reference.triplet_logprobs(x.double(), s.double(), mask)
    upper = torch.ones(n, n, dtype=torch.bool, device=DEVICE).triu(1)[None, :, :, None]
    ranked, flat = lp.masked_fill(~upper, -torch.inf).flatten(1).sort(dim=1, descending=True)
    kk = min(k, n**3)
    assert v.shape == (2, kk) and idx.shape == (2, kk, 3)
    fin = torch.isfinite(ranked[:, :kk])
    assert torch.equal(torch.isfinite(v), fin)
    torch.testing.assert_close(v[fin].double(), ranked[:, :kk][fin], atol=1e-4, rtol=1e-5)
    want = torch.stack([flat // (n * n), (flat // n) % n, flat % n], -1)[:, :kk]
    gap = (ranked[:, :kk] - ranked[:, 1 : kk + 1].nan_to_num(neginf=-1e9)).abs() > 1e-4
    distinct = fin & gap & torch.cat([torch.ones_like(gap[:, :1]), gap[:, :-1]], 1)
    assert torch.equal(idx[distinct], want[distinct])  # same triplets where no near-ties
    assert (idx[~fin] == -1).all()


def test_symmetries():
    """log Z is invariant under jet permutations and added padding; top-K is equivariant."""
    x, s, mask = inputs(b=1, n=8, dtype=torch.float32)
    lz = op.triplet_log_normalizer(x, s, mask, backend="triton")
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(3)).to(DEVICE)
    torch.testing.assert_close(
        op.triplet_log_normalizer(x[:, perm], s, mask[:, perm], backend="triton"), lz
    )
    pad_x = torch.cat([x, torch.randn(1, 5, 8, device=DEVICE)], 1)
    pad_m = torch.cat([mask, torch.zeros(1, 5, dtype=torch.bool, device=DEVICE)], 1)
    torch.testing.assert_close(op.triplet_log_normalizer(pad_x, s, pad_m, backend="triton"), lz)
    v, idx = op.triplet_topk(x, s, mask, 3, backend="triton")
    vp, idxp = op.triplet_topk(x[:, perm], s, mask[:, perm], 3, backend="triton")
    torch.testing.assert_close(vp, v)
    mapped = perm[idxp]  # back to the original jet numbering
    same = mapped[..., 2] == idx[..., 2]
    pairs = torch.sort(mapped[..., :2], -1).values == torch.sort(idx[..., :2], -1).values
    assert same.all() and pairs.all()


def test_auto_backend_and_errors():
    x, s, mask = inputs(b=1, n=4, dtype=torch.float32)
    want = "triton" if x.is_cuda else "torch"
    assert op.resolve_backend("auto", x) == want
    with pytest.raises(HepattnError, match="unknown triplet backend"):
        op.triplet_log_normalizer(x, s, mask, backend="cuda")
    with pytest.raises(HepattnError, match=r"S must be \(8, 8, 8\)"):
        op.triplet_log_normalizer(x, s[:4, :4, :4], mask, backend="triton")
    with pytest.raises(HepattnError, match="k >= 1"):
        op.triplet_topk(x, s, mask, 0, backend="triton")


def test_matcher_loss_and_decoding_agree_across_backends():
    torch.manual_seed(0)
    encoder = EncoderConfig.from_dict({"input_dim": 4, "dim": 16, "num_heads": 2, "num_layers": 1})
    cfg = MatcherConfig(encoder=encoder, tensor_dim=8)
    model = JetPartonMatcher(cfg).double().eval().to(DEVICE)
    g = torch.Generator().manual_seed(1)
    b, n = 3, 8
    x = torch.randn(b, n, 4, generator=g, dtype=torch.float64)
    p3 = torch.randn(b, n, 3, generator=g, dtype=torch.float64) * 50
    p4 = torch.cat([p3, p3.norm(dim=-1, keepdim=True) + 10], -1)
    mask = torch.ones(b, n, dtype=torch.bool)
    mask[1, 6:] = False
    targets = torch.tensor(
        [[[0, 1, 2], [3, 4, 5]], [[5, 0, 1], [-1, 2, 3]], [[7, 6, 5], [1, 2, 3]]]
    )
    x, p4, mask, targets = (t.to(DEVICE) for t in (x, p4, mask, targets))
    with torch.no_grad():
        outputs = model(x, p4, mask)
    targets = [targets[:, 0], targets[:, 1]]
    out = {}
    for backend in ("torch", "triton"):
        model.config = dataclasses.replace(cfg, backend=backend)
        out[backend] = (
            model.target_logprob(outputs.heads, mask, targets),
            model.decode(outputs, mask, k=4)[0],
        )
    torch.testing.assert_close(out["triton"][0], out["torch"][0])
    assert torch.equal(out["triton"][1], out["torch"][1])
