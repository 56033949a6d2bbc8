"""Symmetric tensor attention heads of order 1, 2 and 3, one per declared resonance.

A resonance with o jet daughters (o = 1, 2, 3: :attr:`hepattn.topology.Resonance.order`)
gets a head with a learnable order-o tensor θ (``D^o``) over projected jets ``x: (B, N, D)``;
the score of the ordered jet tuple (i, j, k) — in the resonance's head order, exchangeable
daughters first — is

    o = 1:  O^i   = Σ_n x_i^n S^n
    o = 2:  O^ij  = Σ_nm x_i^n x_j^m S^nm
    o = 3:  O^ijk = Σ_nml x_i^n x_j^m x_k^l S^nml   (:mod:`hepattn.kernels.triplet`)

with S the mean of θ over the permutations of the declared exchangeable indices (``½(θ +
θᵀ)`` for a pair), and the scores themselves symmetrised the same way, so that exchanging
exchangeable daughters leaves O unchanged exactly in floating point. The head's distribution
is ``log P = O − logsumexp(O over valid tuples)``, a tuple being valid when its jets are real
(``mask`` True) and pairwise distinct; invalid tuples have log P = −inf, and an event with
fewer real jets than o has none (log-normalizer 0, never NaN). Order 3 is served by the
triplet kernels (which need exactly the pair (q1 ↔ q2) exchangeable, as the topology checks);
orders 1 and 2 materialise their ``(B, N)`` / ``(B, N, N)`` scores.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from hepattn.kernels.triplet import triplet_logprob, triplet_logprobs, triplet_topk

__all__ = ["TensorAttentionHead", "head_logprob", "head_logprobs", "head_topk"]


class TensorAttentionHead(nn.Module):
    """One head: jets ``h: (B, N, d)`` → projected jets ``x: (B, N, D)`` and ``S: (D,)*o``.

    Args:
        dim_in: encoder width d.
        dim: tensor width D.
        order: o, the number of jet daughters (1, 2, 3).
        symmetric: the size of the leading exchangeable group of indices (0 or ≥ 2).

    θ starts with standard deviation ``D^(−o/2)`` so that initial scores are O(1).
    """

    def __init__(self, dim_in: int, dim: int, order: int, symmetric: int = 0) -> None:
        super().__init__()
        if order not in (1, 2, 3):
            raise ValueError(f"a tensor attention head has order 1, 2 or 3, not {order}")
        if order == 3 and symmetric != 2:
            raise ValueError(
                "an order-3 head (triplet kernels) needs exactly one exchangeable pair"
            )
        if symmetric == 1 or symmetric > order:
            raise ValueError(f"exchangeable group of {symmetric} in an order-{order} head")
        self.order = order
        self.symmetric = symmetric
        self.norm = nn.LayerNorm(dim_in)
        self.proj = nn.Linear(dim_in, dim)
        self.theta = nn.Parameter(torch.randn((dim,) * order) * dim ** (-order / 2))

    def tensor(self) -> Tensor:
        """S: θ averaged over the permutations of the exchangeable indices. ``(D,)*o``."""
        return _symmetrise(self.theta, self.symmetric, first=0)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        return self.proj(self.norm(h)), self.tensor()


def _symmetrise(t: Tensor, group: int, first: int) -> Tensor:
    """Mean of ``t`` over the permutations of its axes ``first … first + group − 1``."""
    if group < 2:
        return t
    axes = list(range(t.dim()))
    perms = list(itertools.permutations(range(first, first + group)))
    total = sum(t.permute(*axes[:first], *p, *axes[first + group :]) for p in perms)
    return total / len(perms)


def _valid(mask: Tensor, order: int) -> Tensor:
    """``bool[B, N^o]`` (as ``(B,) + (N,)*o``): real and pairwise distinct jets."""
    n = mask.shape[1]
    a = torch.arange(n, device=mask.device)
    out = mask
    if order == 2:
        out = mask[:, :, None] & mask[:, None, :] & (a[:, None] != a[None, :])
    return out


def _scores(x: Tensor, s: Tensor, mask: Tensor, symmetric: int) -> Tensor:
    """Masked scores of an order-1 or -2 head: ``(B, N)`` or ``(B, N, N)``, −inf if invalid."""
    if s.dim() == 1:
        o = torch.einsum("bin,n->bi", x, s)  # (B, N)
    else:
        o = torch.einsum("bin,nm,bjm->bij", x, s, x)  # (B, N, N)
        o = _symmetrise(o, symmetric, first=1)
    return o.masked_fill(~_valid(mask, s.dim()), float("-inf"))


def _normalise(o: Tensor) -> Tensor:
    flat = o.flatten(1)
    has = torch.isfinite(flat).any(dim=1)
    lse = torch.logsumexp(torch.where(has[:, None], flat, torch.zeros_like(flat)), dim=1)
    logz = torch.where(has, lse, torch.zeros_like(lse))  # (B,)
    return o - logz.view(-1, *([1] * (o.dim() - 1)))


def head_logprobs(
    head: TensorAttentionHead, x: Tensor, s: Tensor, mask: Tensor, backend: str = "auto"
) -> Tensor:
    """All ordered tuples' log P: ``float[B, N]``, ``[B, N, N]`` or ``[B, N, N, N]``."""
    if head.order == 3:
        return triplet_logprobs(x, s, mask, backend=backend)
    return _normalise(_scores(x, s, mask, head.symmetric))


def head_logprob(
    head: TensorAttentionHead,
    x: Tensor,
    s: Tensor,
    mask: Tensor,
    target: Tensor,
    backend: str = "auto",
) -> Tensor:
    """log P of target tuples ``int[B, T, o]`` (head order) → ``float[B, T]``; −inf for a
    target with a negative index or an invalid tuple."""
    if head.order == 3:
        return triplet_logprob(x, s, mask, target, backend=backend)
    lp = head_logprobs(head, x, s, mask).flatten(1)  # (B, N^o)
    n = mask.shape[1]
    t = target.clamp(min=0)
    flat = t[..., 0] if head.order == 1 else t[..., 0] * n + t[..., 1]  # (B, T)
    out = lp.gather(1, flat)
    return torch.where((target >= 0).all(dim=-1), out, torch.full_like(out, float("-inf")))


def head_topk(
    head: TensorAttentionHead, x: Tensor, s: Tensor, mask: Tensor, k: int, backend: str = "auto"
) -> tuple[Tensor, Tensor]:
    """The ``k`` most probable distinct tuples (exchangeable indices increasing: a mirror is
    the same tuple): ``(logp: float[B, k'], index: int64[B, k', o])``, ``k' = min(k, N^o)``,
    −inf and −1 beyond the valid tuples (:func:`hepattn.kernels.triplet.triplet_topk`)."""
    if head.order == 3:
        return triplet_topk(x, s, mask, k, backend=backend)
    n = mask.shape[1]
    lp = head_logprobs(head, x, s, mask)
    if head.order == 2 and head.symmetric:
        a = torch.arange(n, device=mask.device)
        lp = lp.masked_fill(~(a[:, None] < a[None, :]), float("-inf"))
    values, where = lp.flatten(1).topk(min(k, n**head.order), dim=1)  # (B, k')
    index = where[..., None] if head.order == 1 else torch.stack([where // n, where % n], -1)
    finite = torch.isfinite(values)
    return values, torch.where(finite[..., None], index, torch.full_like(index, -1))
