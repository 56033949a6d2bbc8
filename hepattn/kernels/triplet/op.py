"""Public triplet-scoring functions with a backend choice, and the kernels' autograd function.

``backend``:

- ``"torch"``: the readable reference (:mod:`.reference`), materializing the ``(B, N, N, N)``
  scores;
- ``"triton"``: fused kernels (:mod:`.triton`) that never materialize them — CUDA tensors, or
  CPU tensors under Triton's interpreter (``TRITON_INTERPRET=1`` set before first use);
- ``"auto"``: Triton on CUDA tensors when Triton is importable and the compiled kernels pass
  a self-check, else the torch reference. The self-check (:func:`kernels_work`) runs once per
  process and device, on first use: the kernels' log normalizer, its gradients and top-K on a
  small padded batch against the reference. A compile error, a crash or a mismatch logs one
  warning naming the cause, and that device then uses the reference.

Both backends compute the same functions. With the Triton backend, the per-jet matrices
``A[b, k] = ½(T + Tᵀ)``, ``T[b, k, n, m] = Σ_l S[n, m, l] x[b, k, l]`` (``(B, N, D, D)``) come
from one torch contraction, so autograd reaches ``x`` and ``S`` through it; the kernels take
``(x, A, mask)``. :func:`triplet_logprobs` returns the whole ``(B, N, N, N)`` tensor by
definition and therefore always uses the reference; :func:`triplet_topk` with ``k`` above
:data:`.triton.TOPK_MAX` does too.
"""

from __future__ import annotations

import functools
import logging

import torch
from torch import Tensor

from hepattn._optional import MissingDependencyError, require
from hepattn.errors import HepattnError
from hepattn.kernels.triplet import reference
from hepattn.topology import LOG2

__all__ = [
    "BACKENDS",
    "kernels_work",
    "resolve_backend",
    "triplet_log_normalizer",
    "triplet_logprob",
    "triplet_logprobs",
    "triplet_topk",
]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "triton")
#: Tolerance of the self-check (fp32 kernels against the fp32 reference, O(1) scores).
SELF_CHECK_RTOL = 1e-3


@functools.cache
def _triton_module():
    """The kernel module, or None when Triton is not installed."""
    try:
        require("triton")
    except MissingDependencyError:  # triton is an optional extra
        return None
    from hepattn.kernels.triplet import triton as kernels

    return kernels


def resolve_backend(backend: str, x: Tensor) -> str:
    """``"torch"`` or ``"triton"`` for inputs on ``x.device``; clear errors otherwise."""
    if backend not in BACKENDS:
        raise HepattnError(f"unknown triplet backend {backend!r}; choose one of {BACKENDS}")
    if backend == "torch":
        return "torch"
    kernels = _triton_module()
    if backend == "auto":
        usable = kernels is not None and x.is_cuda and not kernels.interpreted()
        return "triton" if usable and kernels_work(x.device) else "torch"
    if kernels is None:
        require("triton", "triplet backend 'triton'")
    if x.is_cuda and kernels.interpreted():
        raise HepattnError(
            "the Triton kernels were loaded in interpreter mode (TRITON_INTERPRET=1): "
            "they run on CPU tensors only in this process"
        )
    if not x.is_cuda and not kernels.interpreted():
        raise HepattnError(
            "triplet backend 'triton' needs CUDA tensors; on the CPU set TRITON_INTERPRET=1 "
            "before hepattn is imported (Triton's interpreter), or use backend='torch'"
        )
    return "triton"


def _self_check(device: torch.device) -> str | None:
    """None if the kernels reproduce the reference on ``device``, else the reason.

    A batch of 3 events (7, 5 and 0 real jets of 7, D = 16): log Z and its gradients with
    respect to x and S, and the top-5 triplets, in fp32, against :mod:`.reference`.
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 7, 16, generator=g).to(device)
    theta = (0.3 * torch.randn(16, 16, 16, generator=g)).to(device)
    s = 0.5 * (theta + theta.transpose(0, 1))
    mask = (torch.arange(7)[None] < torch.tensor([7, 5, 0])[:, None]).to(device)
    try:
        xs, ss = x.clone().requires_grad_(), s.clone().requires_grad_()
        got = _LogNormalizer.apply(xs, jet_matrices(xs, ss), mask)
        gx, gs = torch.autograd.grad(got.sum(), (xs, ss))
        got_top, got_idx = triplet_topk(x, s, mask, 5, backend="triton")
        xr, sr = x.clone().requires_grad_(), s.clone().requires_grad_()
        ref = reference.triplet_log_normalizer(xr, sr, mask)
        rx, rs = torch.autograd.grad(ref.sum(), (xr, sr))
        ref_top, _ = reference.triplet_topk(x, s, mask, 5)
    except Exception as err:  # noqa: BLE001 (compile errors come in many types)
        return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err) else ''}"
    for name, a, b in (
        ("log Z", got, ref),
        ("d log Z / dx", gx, rx),
        ("d log Z / dS", gs, rs),
        ("top-K log P", got_top, ref_top),
    ):
        if not torch.allclose(a.float(), b.float(), rtol=SELF_CHECK_RTOL, atol=SELF_CHECK_RTOL):
            diff = (a.float() - b.float()).abs().nan_to_num(nan=float("inf")).max().item()
            return f"{name} differs from the reference by up to {diff:.3g}"
    if (got_idx[0, :1] < 0).any():
        return "top-K returned no triplet for a full event"
    return None


@functools.cache
def kernels_work(device: torch.device) -> bool:
    """Whether the Triton kernels pass the self-check on ``device`` (once per process); on
    failure one warning names the cause and ``backend="auto"`` uses the reference there."""
    reason = _self_check(device)
    if reason is not None:
        log.warning(
            "Triton triplet kernels disabled on %s (%s); using the torch reference", device, reason
        )
        return False
    log.debug("Triton triplet kernels pass the self-check on %s", device)
    return True


def jet_matrices(x: Tensor, s: Tensor) -> Tensor:
    """``A: (B, N, D, D)``, ``A[b, k] = ½(T + Tᵀ)`` with ``T[b,k,n,m] = Σ_l S[n,m,l] x[b,k,l]``."""
    t = torch.einsum("nml,bkl->bknm", s, x)  # (B, N, D, D)
    return 0.5 * (t + t.transpose(-1, -2))


class _LogNormalizer(torch.autograd.Function):
    """log Z[b] over valid triplets from the fused kernels; gradients to x and A."""

    @staticmethod
    def forward(ctx, x: Tensor, a: Tensor, mask: Tensor) -> Tensor:
        kernels = _triton_module()
        m, l_sum = kernels.lse_partials(x, a, mask)  # (B, N) each
        lse_k = torch.where(l_sum > 0, m + l_sum.clamp(min=1e-38).log(), -torch.inf)
        upper = torch.logsumexp(lse_k, dim=1)  # (B,) over i < j; -inf when none
        logz = torch.where(torch.isfinite(upper), upper + LOG2, torch.zeros_like(upper))
        ctx.save_for_backward(x, a, mask, logz)
        return logz.to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, a, mask, logz = ctx.saved_tensors
        dx, da = _triton_module().lse_backward(x, a, mask, logz, grad)
        return dx.to(x.dtype), da.to(a.dtype), None


def _check(x: Tensor, s: Tensor, mask: Tensor) -> None:
    if x.dim() != 3 or s.dim() != 3 or mask.shape != x.shape[:2]:
        raise HepattnError(
            f"triplet scoring needs x (B, N, D), S (D, D, D), mask (B, N); got "
            f"{tuple(x.shape)}, {tuple(s.shape)}, {tuple(mask.shape)}"
        )
    d = x.shape[2]
    if tuple(s.shape) != (d, d, d):
        raise HepattnError(f"S must be ({d}, {d}, {d}) for x of width {d}; got {tuple(s.shape)}")


def _gather_scores(x: Tensor, a: Tensor, mask: Tensor, target: Tensor) -> Tensor:
    """Scores ``O[b, i, j, k] = x_iᵀ A_k x_j`` of targets ``(B, T, 3)`` → ``(B, T)``, −inf for
    negative indices and invalid triplets. Never touches the other triplets."""
    b = torch.arange(len(target), device=target.device)[:, None]  # (B, 1)
    t = target.clamp(min=0)
    i, j, k = t[..., 0], t[..., 1], t[..., 2]
    score = torch.einsum("btn,btnm,btm->bt", x[b, i], a[b, k], x[b, j])  # (B, T)
    real = mask[b, i] & mask[b, j] & mask[b, k]
    ok = (target >= 0).all(-1) & real & (i != j) & (i != k) & (j != k)
    return torch.where(ok, score, torch.full_like(score, -torch.inf))


def triplet_log_normalizer(x: Tensor, s: Tensor, mask: Tensor, backend: str = "auto") -> Tensor:
    """``float[B]``: log Σ over valid triplets of exp O (see :mod:`.reference`)."""
    _check(x, s, mask)
    if resolve_backend(backend, x) == "torch":
        return reference.triplet_log_normalizer(x, s, mask)
    return _LogNormalizer.apply(x, jet_matrices(x, s), mask)


def triplet_logprobs(x: Tensor, s: Tensor, mask: Tensor, backend: str = "auto") -> Tensor:
    """``float[B, N, N, N]``: log P(i, j, k) of every triplet (−inf where invalid); the full
    tensor is the output, so this always runs the reference."""
    _check(x, s, mask)
    resolve_backend(backend, x)
    return reference.triplet_logprobs(x, s, mask)


def triplet_logprob(
    x: Tensor, s: Tensor, mask: Tensor, target: Tensor, backend: str = "auto"
) -> Tensor:
    """log P of target triplets (i, j, k): ``int[B, 3]`` → ``float[B]``, ``int[B, T, 3]`` →
    ``float[B, T]``; −inf for targets with a negative index or an invalid triplet."""
    _check(x, s, mask)
    if resolve_backend(backend, x) == "torch":
        return reference.triplet_logprob(x, s, mask, target)
    a = jet_matrices(x, s)
    squeeze = target.dim() == 2
    tgt = target[:, None] if squeeze else target  # (B, T, 3)
    out = _gather_scores(x, a, mask, tgt) - _LogNormalizer.apply(x, a, mask)[:, None]
    return out[:, 0] if squeeze else out


def triplet_topk(
    x: Tensor, s: Tensor, mask: Tensor, k: int, backend: str = "auto"
) -> tuple[Tensor, Tensor]:
    """The ``k`` most probable triplets (i < j): ``(logp[B, k], index[B, k, 3])``, sorted by
    decreasing logp; slots beyond the valid triplets hold −inf and index −1."""
    _check(x, s, mask)
    if k < 1:
        raise HepattnError(f"top-K needs k >= 1, got {k}")
    kernels = _triton_module()
    if resolve_backend(backend, x) == "torch" or k > kernels.TOPK_MAX:
        return reference.triplet_topk(x, s, mask, k)
    with torch.no_grad():
        a = jet_matrices(x, s)
        b, n = mask.shape
        keys = kernels.topk_keys(x, a, mask, k)  # (B, N, KP) per b-jet
        kk = min(k, n * n * n)
        top, where = keys.flatten(1).topk(kk, dim=1)  # (B, kk)
        score, pair = kernels.decode_keys(top)
        kb = where // keys.shape[2]  # the b-jet of each candidate
        index = torch.stack([pair // n, pair % n, kb], dim=-1)  # (B, kk, 3)
        logz = _LogNormalizer.apply(x, a, mask).float()
        finite = torch.isfinite(score)
        logp = torch.where(finite, score - logz[:, None], score).to(x.dtype)
        index = torch.where(finite[..., None], index, torch.full_like(index, -1))
    return logp, index
