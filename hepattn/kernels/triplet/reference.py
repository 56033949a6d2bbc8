"""Readable torch reference of symmetric triplet scoring (symmetric tensor attention).

With encoded jets ``x: float[B, N, D]`` and a tensor ``S: float[D, D, D]`` symmetric in its
first two indices (``S[n, m, l] = S[m, n, l]``), the score of the triplet (i, j, k) — i, j the
light quarks, k the b — is

    O[b, i, j, k] = Σ_{n,m,l} x[b,i,n] x[b,j,m] x[b,k,l] S[n,m,l].

It is computed by successive contractions, never in the naive N³·D³ form:

    T[b, k, n, m] = Σ_l S[n,m,l] x[b,k,l]         (B, N, D, D)   cost B·N·D³
    U[b, j, k, n] = Σ_m T[b,k,n,m] x[b,j,m]       (B, N, N, D)   cost B·N²·D²
    O[b, i, j, k] = Σ_n x[b,i,n] U[b,j,k,n]       (B, N, N, N)   cost B·N³·D

and finally symmetrized, ``O ← ½(O + O.transpose(i, j))``, so that O[i,j,k] = O[j,i,k]
holds exactly in floating point. A triplet is *valid* when its three jets are real
(``mask`` True) and distinct; invalid triplets get score −inf, i.e. probability exactly 0.

The distribution over triplets is ``log P = O − logsumexp(O over valid triplets)``. An event
with fewer than 3 real jets has no valid triplet: its log-normalizer is defined as 0 and every
log-probability is −inf (never NaN).
"""

from __future__ import annotations

import torch
from torch import Tensor

from hepattn.topology import LOG2

__all__ = [
    "triplet_log_normalizer",
    "triplet_logprob",
    "triplet_logprobs",
    "symmetric_scores",
    "triplet_scores",
    "triplet_topk",
    "valid_triplets",
]


def _distinct(n: int, device) -> Tensor:
    """``bool[N, N, N]``: i, j, k pairwise distinct (``arange`` comparisons, traceable with a
    symbolic N)."""
    a = torch.arange(n, device=device)
    i, j, k = a[:, None, None], a[None, :, None], a[None, None, :]
    return (i != j) & (i != k) & (j != k)


def valid_triplets(mask: Tensor) -> Tensor:
    """``bool[B, N, N, N]``: jets i, j, k all real and pairwise distinct."""
    real = mask[:, :, None, None] & mask[:, None, :, None] & mask[:, None, None, :]
    return real & _distinct(mask.shape[1], mask.device)


def symmetric_scores(x: Tensor, s: Tensor) -> Tensor:
    """Unmasked ``O: float[B, N, N, N]`` by successive contractions, exactly i ↔ j symmetric."""
    t = torch.einsum("nml,bkl->bknm", s, x)  # (B, N, D, D)
    u = torch.einsum("bknm,bjm->bjkn", t, x)  # (B, N, N, D)
    o = torch.einsum("bin,bjkn->bijk", x, u)  # (B, N, N, N)
    return 0.5 * (o + o.transpose(1, 2))


def triplet_scores(x: Tensor, s: Tensor, mask: Tensor) -> Tensor:
    """Masked triplet scores ``O: float[B, N, N, N]`` (−inf where invalid).

    Args:
        x: ``(B, N, D)`` encoded jets.
        s: ``(D, D, D)`` tensor symmetric in its first two indices.
        mask: ``(B, N)`` bool, True = real jet.
    """
    return symmetric_scores(x, s).masked_fill(~valid_triplets(mask), float("-inf"))


def _log_normalizer(o: Tensor) -> Tensor:
    flat = o.flatten(1)  # (B, N³)
    has = torch.isfinite(flat).any(dim=1)
    safe = torch.where(has[:, None], flat, torch.zeros_like(flat))
    return torch.where(has, torch.logsumexp(safe, dim=1), torch.zeros_like(has, dtype=o.dtype))


def triplet_log_normalizer(x: Tensor, s: Tensor, mask: Tensor) -> Tensor:
    """``float[B]``: log Σ_valid exp O (0 for events without a valid triplet)."""
    return _log_normalizer(triplet_scores(x, s, mask))


def triplet_logprobs(x: Tensor, s: Tensor, mask: Tensor) -> Tensor:
    """``float[B, N, N, N]``: log P(i, j, k), −inf for invalid triplets."""
    o = triplet_scores(x, s, mask)
    return o - _log_normalizer(o)[:, None, None, None]


def triplet_logprob(x: Tensor, s: Tensor, mask: Tensor, target: Tensor) -> Tensor:
    """log P of target triplets: ``target: int[B, 3]`` → ``float[B]``, or ``int[B, T, 3]`` →
    ``float[B, T]``, each target (i, j, k).

    Targets with a negative index, or pointing at an invalid triplet, give −inf.
    """
    o = triplet_scores(x, s, mask)
    logz = _log_normalizer(o)
    squeeze = target.dim() == 2
    tgt = target[:, None] if squeeze else target  # (B, T, 3)
    b = torch.arange(len(tgt), device=tgt.device)[:, None]  # (B, 1)
    t = tgt.clamp(min=0)
    picked = o[b, t[..., 0], t[..., 1], t[..., 2]]  # (B, T)
    picked = torch.where((tgt >= 0).all(dim=-1), picked, torch.full_like(picked, -torch.inf))
    out = picked - logz[:, None]
    return out[:, 0] if squeeze else out


def triplet_topk(x: Tensor, s: Tensor, mask: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` most probable triplets with i < j (the i ↔ j mirror is the same triplet).

    Only the P = N(N−1)/2 pairs i < j are kept before masking and ranking (the mirror half
    adds nothing but the log 2 in the normalizer), which makes this the fast path of
    decoding. Returns ``(logp: float[B, k], index: int64[B, k, 3])``, sorted by decreasing
    logp, with ``k`` capped at N³; slots beyond the number of valid triplets hold logp −inf
    and index −1.
    """
    b, n = mask.shape
    a = torch.arange(n, device=mask.device)
    upper = a[:, None] < a[None, :]  # (N, N)
    iu = a[:, None].expand(n, n)[upper]  # (P,)
    ju = a[None, :].expand(n, n)[upper]
    o = symmetric_scores(x, s)[:, iu, ju, :]  # (B, P, N)
    distinct = (a[None, :] != iu[:, None]) & (a[None, :] != ju[:, None])  # (P, N)
    valid = (mask[:, iu] & mask[:, ju])[:, :, None] & mask[:, None, :] & distinct
    o = o.masked_fill(~valid, float("-inf")).flatten(1)  # (B, P·N)
    has = valid.flatten(1).any(dim=1)
    upper_lse = torch.logsumexp(torch.where(has[:, None], o, torch.zeros_like(o)), dim=1)
    logz = torch.where(has, upper_lse + LOG2, torch.zeros_like(upper_lse))
    kk = min(k, n * n * n)
    values, flat = o.topk(min(kk, o.shape[1]), dim=1)  # (B, ≤kk)
    pair, kb = flat // n, flat % n
    index = torch.stack([iu[pair], ju[pair], kb], dim=-1)  # (B, ≤kk, 3)
    finite = torch.isfinite(values)
    values = torch.where(finite, values - logz[:, None], values)
    index = torch.where(finite[..., None], index, torch.full_like(index, -1))
    if values.shape[1] < kk:  # more slots asked for than i < j triplets exist
        extra = kk - values.shape[1]
        values = torch.cat([values, values.new_full((b, extra), float("-inf"))], dim=1)
        index = torch.cat([index, index.new_full((b, extra, 3), -1)], dim=1)
    return values, index
