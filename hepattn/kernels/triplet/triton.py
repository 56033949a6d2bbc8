"""Triton kernels for symmetric triplet scoring: log-normalizer (forward and backward) and top-K.

Notation as in :mod:`.reference`: encoded jets ``x: (B, N, D)``, per-jet matrices
``A[b, k] = Σ_l S[:, :, l] x[b, k, l]`` symmetrized, ``A: (B, N, D, D)``, and the triplet score

    O[b, i, j, k] = x[b, i]ᵀ A[b, k] x[b, j]        (= the reference's symmetrized O).

One program handles one (event b, b-jet k) and streams over tiles of (i, j) pairs with i < j
only — O is symmetric in i ↔ j, so the upper triangle carries all the information and half the
work is skipped. Inside a tile, for a block I of rows and a block J of columns,

    Y_I = x_I A_k          (BLOCK, D)      one product per row block
    O_IJ = Y_I x_Jᵀ        (BLOCK, BLOCK)  one product per tile

and invalid entries (padded jets, i = j, i = k, j = k, i > j) are masked to −inf inside the
kernel. The N³ score tensor never exists in memory: the forward keeps an online
log-sum-exp (running max and rescaled sum, as in flash attention) and writes one (max, sum)
pair per (b, k); the launcher combines these ``(B, N)`` partials into

    log Z[b] = log 2 + log Σ_k Σ_{i<j} exp O[b, i, j, k]

(the log 2 restores the mirrored i > j half). Memory is O(B·N·D²) for A and its gradient,
O(B·N) for the partials — no O(B·N³) term.

Backward of log Z (upstream gradient g[b]), with p = exp(O − log Z) for valid triplets,

    ∂/∂A_k = g Σ_{i≠j} p_ijk x_i x_jᵀ = g Σ_{i<j} p_ijk (x_i x_jᵀ + x_j x_iᵀ)
    ∂/∂x_i = 2 g Σ_{j,k} p_ijk A_k x_j            (A_k symmetric)

recomputes the scores tile by tile from the saved log Z: the A_k gradient is owned by the (b, k)
program and stored once; the x gradient gathers contributions from every k and is accumulated
with atomic adds. Accumulation is fp32 whatever the input dtype (fp32, fp16, bf16).

Top-K: the same tiles, each scored entry packed into one int64 key (order-preserving bits of
the fp32 score in the high word, the pair index i·N + j in the low word), and a running top-K
kept per program by merging each tile's top-K with it (``tl.topk``); the launcher merges the
``(B, N, K)`` per-k candidates.

Only :mod:`.op` imports this module. On CPU tensors the kernels run in Triton's interpreter,
which must be switched on (``TRITON_INTERPRET=1``) before this module is imported.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["TOPK_MAX", "lse_partials", "lse_backward", "topk_keys", "decode_keys", "interpreted"]

from hepattn.kernels.triplet.limits import TOPK_MAX, TOPK_WARPS  # noqa: E402


def interpreted() -> bool:
    """True when the kernels were decorated for Triton's CPU interpreter."""
    return not isinstance(_lse_fwd_kernel, triton.runtime.JITFunction)


@triton.jit
def _mm(a, b, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """``a @ b`` with fp32 accumulation. ``UPCAST``: compute bf16 operands as fp32 — exact
    for bf16 products, used only under the interpreter, whose bf16 ``tl.dot`` is wrong."""
    if UPCAST:
        a = a.to(tl.float32)
        b = b.to(tl.float32)
    return tl.dot(a, b, input_precision=PRECISION)


@triton.jit
def _load_matrix(ptr, offs_d, D, s0, s1):
    """One ``(D, D)`` matrix, zero-padded to ``(DP, DP)``."""
    m = (offs_d[:, None] < D) & (offs_d[None, :] < D)
    return tl.load(ptr + offs_d[:, None] * s0 + offs_d[None, :] * s1, mask=m, other=0.0)


@triton.jit
def _load_jets(X, MASK, offs, N, offs_d, D, sxn, sxd, smn):
    """Jets ``offs`` of one event: features ``(BLOCK, DP)`` (zero outside) and realness."""
    m = (offs[:, None] < N) & (offs_d[None, :] < D)
    x = tl.load(X + offs[:, None] * sxn + offs_d[None, :] * sxd, mask=m, other=0.0)
    real = tl.load(MASK + offs * smn, mask=offs < N, other=0) != 0
    return x, real


@triton.jit
def _scores(
    y_i, x_j, offs_i, offs_j, real_i, real_j, k, real_k,
    PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):  # fmt: skip
    """Tile ``O[I, J] = Y_I x_Jᵀ`` for b-jet k, −inf where the triplet is invalid (a padded
    jet, a repeated index, or i ≥ j); returns (scores, validity), both (BLOCK, BLOCK)."""
    s = _mm(y_i, tl.trans(x_j), PRECISION, UPCAST)
    ok = real_i[:, None] & real_j[None, :] & (offs_i[:, None] < offs_j[None, :])
    ok = ok & (offs_i[:, None] != k) & (offs_j[None, :] != k) & real_k
    return tl.where(ok, s, float("-inf")), ok


@triton.jit
def _program(A, MASK, N, D, sab, sak, sar, sac, smb, smn, BLOCK: tl.constexpr, DP: tl.constexpr):
    """This program's event b and b-jet k (events on the large grid axis), its matrix A_k
    ``(DP, DP)``, whether jet k is real, the number of row blocks, and the row-block loop
    length (0 for a padded k: nothing to score)."""
    b = tl.program_id(0)
    k = tl.program_id(1)
    offs_d = tl.arange(0, DP)
    a = _load_matrix(A + b * sab + k * sak, offs_d, D, sar, sac)
    real_k = tl.load(MASK + b * smb + k * smn) != 0
    nblk = tl.cdiv(N, BLOCK)
    return b, k, offs_d, a, real_k, nblk, tl.where(real_k, nblk, 0)


@triton.jit
def _lse_fwd_kernel(
    X, A, MASK, M_OUT, L_OUT,
    N, D,
    sxb, sxn, sxd,
    sab, sak, sar, sac,
    smb, smn,
    BLOCK: tl.constexpr, DP: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):  # fmt: skip
    b, k, offs_d, a, real_k, nblk, n_loop = _program(
        A, MASK, N, D, sab, sak, sar, sac, smb, smn, BLOCK, DP
    )
    m_acc = tl.full((BLOCK,), float("-inf"), tl.float32)
    l_acc = tl.zeros((BLOCK,), tl.float32)
    for ib in range(0, n_loop):
        offs_i = ib * BLOCK + tl.arange(0, BLOCK)
        x_i, real_i = _load_jets(X + b * sxb, MASK + b * smb, offs_i, N, offs_d, D, sxn, sxd, smn)
        y_i = _mm(x_i, a.to(x_i.dtype), PRECISION, UPCAST)  # (BLOCK, DP) fp32
        y_i = y_i.to(x_i.dtype)
        for jb in range(ib, nblk):
            offs_j = jb * BLOCK + tl.arange(0, BLOCK)
            x_j, real_j = _load_jets(
                X + b * sxb, MASK + b * smb, offs_j, N, offs_d, D, sxn, sxd, smn
            )
            s, _ = _scores(y_i, x_j, offs_i, offs_j, real_i, real_j, k, real_k, PRECISION, UPCAST)
            m_new = tl.maximum(m_acc, tl.max(s, axis=1))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
            l_acc = l_acc * tl.exp(m_acc - m_safe) + tl.sum(tl.exp(s - m_safe[:, None]), axis=1)
            m_acc = m_new
    m_tot = tl.max(m_acc, axis=0)
    m_tot_safe = tl.where(m_tot == float("-inf"), 0.0, m_tot)
    l_tot = tl.sum(l_acc * tl.exp(m_acc - m_tot_safe), axis=0)
    tl.store(M_OUT + b * N + k, m_tot)
    tl.store(L_OUT + b * N + k, l_tot)


@triton.jit
def _lse_bwd_kernel(
    X, A, MASK, LOGZ, G, DX, DA,
    N, D,
    sxb, sxn, sxd,
    sab, sak, sar, sac,
    smb, smn,
    BLOCK: tl.constexpr, DP: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):  # fmt: skip
    b, k, offs_d, a, real_k, nblk, n_loop = _program(
        A, MASK, N, D, sab, sak, sar, sac, smb, smn, BLOCK, DP
    )
    dm = offs_d < D
    a32 = a.to(tl.float32)
    logz = tl.load(LOGZ + b)
    g = tl.load(G + b)
    da = tl.zeros((DP, DP), tl.float32)
    dx_base = DX + b * N * D
    for ib in range(0, n_loop):
        offs_i = ib * BLOCK + tl.arange(0, BLOCK)
        x_i, real_i = _load_jets(X + b * sxb, MASK + b * smb, offs_i, N, offs_d, D, sxn, sxd, smn)
        y_i = _mm(x_i, a.to(x_i.dtype), PRECISION, UPCAST)  # (BLOCK, DP) fp32
        y_il = y_i.to(x_i.dtype)
        q_i = tl.zeros((BLOCK, DP), tl.float32)  # Σ_j p_ij x_j
        for jb in range(ib, nblk):
            offs_j = jb * BLOCK + tl.arange(0, BLOCK)
            x_j, real_j = _load_jets(
                X + b * sxb, MASK + b * smb, offs_j, N, offs_d, D, sxn, sxd, smn
            )
            s, ok = _scores(y_il, x_j, offs_i, offs_j, real_i, real_j, k, real_k, PRECISION, UPCAST)
            p = tl.where(ok, tl.exp(tl.where(ok, s, 0.0) - logz), 0.0) * g  # (BLOCK, BLOCK)
            q_i += _mm(p, x_j.to(tl.float32), PRECISION, UPCAST)
            dx_j = 2.0 * _mm(tl.trans(p), y_i, PRECISION, UPCAST)  # (BLOCK, DP)
            jm = (offs_j[:, None] < N) & dm[None, :]
            tl.atomic_add(dx_base + offs_j[:, None] * D + offs_d[None, :], dx_j, mask=jm)
        dx_i = 2.0 * _mm(q_i, a32, PRECISION, UPCAST)  # (BLOCK, DP)
        im = (offs_i[:, None] < N) & dm[None, :]
        tl.atomic_add(dx_base + offs_i[:, None] * D + offs_d[None, :], dx_i, mask=im)
        x_i32 = x_i.to(tl.float32)
        da += _mm(tl.trans(x_i32), q_i, PRECISION, UPCAST)
        da += _mm(tl.trans(q_i), x_i32, PRECISION, UPCAST)
    tl.store(
        DA + ((b * N + k) * D + offs_d[:, None]) * D + offs_d[None, :],
        da,
        mask=dm[:, None] & dm[None, :],
    )


@triton.jit
def _key(s, idx):
    """int64 keys ordered like the fp32 scores ``s``, ties broken by ``idx`` (≥ 0)."""
    bits = s.to(tl.int32, bitcast=True)
    bits = tl.where(bits >= 0, bits, bits ^ 0x7FFFFFFF)
    return (bits.to(tl.int64) << 32) | idx.to(tl.int64)


@triton.jit
def _topk_kernel(
    X, A, MASK, KEYS,
    N, D,
    sxb, sxn, sxd,
    sab, sak, sar, sac,
    smb, smn,
    BLOCK: tl.constexpr, DP: tl.constexpr, KP: tl.constexpr,
    PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):  # fmt: skip
    b, k, offs_d, a, real_k, nblk, n_loop = _program(
        A, MASK, N, D, sab, sak, sar, sac, smb, smn, BLOCK, DP
    )
    best = _key(tl.full((KP,), float("-inf"), tl.float32), tl.zeros((KP,), tl.int32))
    for ib in range(0, n_loop):
        offs_i = ib * BLOCK + tl.arange(0, BLOCK)
        x_i, real_i = _load_jets(X + b * sxb, MASK + b * smb, offs_i, N, offs_d, D, sxn, sxd, smn)
        y_i = _mm(x_i, a.to(x_i.dtype), PRECISION, UPCAST).to(x_i.dtype)
        for jb in range(ib, nblk):
            offs_j = jb * BLOCK + tl.arange(0, BLOCK)
            x_j, real_j = _load_jets(
                X + b * sxb, MASK + b * smb, offs_j, N, offs_d, D, sxn, sxd, smn
            )
            s, _ = _scores(y_i, x_j, offs_i, offs_j, real_i, real_j, k, real_k, PRECISION, UPCAST)
            idx = offs_i[:, None] * N + offs_j[None, :]
            keys = tl.reshape(_key(s.to(tl.float32), idx), (BLOCK * BLOCK,))
            top = tl.topk(keys, KP)  # (KP,)
            both = tl.reshape(tl.join(best, top), (2 * KP,))
            best = tl.topk(both, KP)
    tl.store(KEYS + (b * N + k) * KP + tl.arange(0, KP), best)


# ---------------------------------------------------------------- launchers


def _pow2(n: int, lo: int = 16) -> int:
    return max(lo, triton.next_power_of_2(n))


def _precision(x: Tensor) -> str:
    """Products of fp32 operands: tf32 on CUDA when torch allows it for matmuls (as the
    reference's einsums then do), else exact fp32. Low-precision operands use tensor cores."""
    return "tf32" if x.is_cuda and torch.backends.cuda.matmul.allow_tf32 else "ieee"


def _meta(x: Tensor) -> dict:
    """Launch parameters shared by the kernels. More warps for wide D: the (D, D) matrix (and
    its gradient) live in registers."""
    d = x.shape[2]
    return {
        "DP": _pow2(d),
        "PRECISION": _precision(x),
        "UPCAST": _upcast(x),
        "num_warps": 8 if d > 64 else 4,
    }


def _upcast(x: Tensor) -> bool:
    return interpreted() and x.dtype == torch.bfloat16


def _common(x: Tensor, a: Tensor, mask: Tensor) -> tuple:
    b, n, d = x.shape
    m = mask.to(torch.int8)
    strides = (*x.stride(), *a.stride(), *m.stride())
    return b, n, d, m, strides


def _block(n: int) -> int:
    return 16 if n <= 16 else 32


def lse_partials(x: Tensor, a: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per (b, k) running max and rescaled sum over i < j: two ``float32[B, N]``."""
    b, n, d, m, strides = _common(x, a, mask)
    m_out = torch.empty(b, n, dtype=torch.float32, device=x.device)
    l_out = torch.empty_like(m_out)
    if b * n == 0:
        return m_out, l_out
    _lse_fwd_kernel[(b, n)](
        x, a, m, m_out, l_out, n, d, *strides,
        BLOCK=_block(n), **_meta(x),
    )  # fmt: skip
    return m_out, l_out


def lse_backward(
    x: Tensor, a: Tensor, mask: Tensor, logz: Tensor, grad: Tensor
) -> tuple[Tensor, Tensor]:
    """Gradients ``(dx: float32[B, N, D], da: float32[B, N, D, D])`` of Σ_b grad[b]·log Z[b]."""
    b, n, d, m, strides = _common(x, a, mask)
    dx = torch.zeros(b, n, d, dtype=torch.float32, device=x.device)
    da = torch.zeros(b, n, d, d, dtype=torch.float32, device=x.device)
    if b * n == 0:
        return dx, da
    _lse_bwd_kernel[(b, n)](
        x, a, m, logz.float().contiguous(), grad.float().contiguous(), dx, da, n, d, *strides,
        BLOCK=_block(n), **_meta(x),
    )  # fmt: skip
    return dx, da


def topk_keys(x: Tensor, a: Tensor, mask: Tensor, k: int) -> Tensor:
    """``int64[B, N, KP]``: each b-jet's ``KP ≥ k`` best packed (score, i·N + j) keys."""
    if k > TOPK_MAX:
        raise ValueError(f"the top-K kernel keeps at most {TOPK_MAX} triplets, not {k}")
    b, n, d, m, strides = _common(x, a, mask)
    kp = _pow2(k, lo=1)
    block = max(_block(n), _pow2(math.isqrt(kp - 1) + 1))  # BLOCK² ≥ KP
    keys = torch.empty(b, n, kp, dtype=torch.int64, device=x.device)
    if b * n == 0:
        return keys
    _topk_kernel[(b, n)](
        x, a, m, keys, n, d, *strides,
        BLOCK=block, KP=kp, **{**_meta(x), "num_warps": TOPK_WARPS},
    )  # fmt: skip
    return keys


def decode_keys(keys: Tensor) -> tuple[Tensor, Tensor]:
    """Packed keys → ``(score: float32, pair index: int64)`` (inverse of the kernel's ``_key``)."""
    hi = (keys >> 32).to(torch.int32)
    bits = torch.where(hi >= 0, hi, hi ^ 0x7FFFFFFF)
    return bits.view(torch.float32), keys & 0xFFFFFFFF
