"""Exact joint decoding of a declared topology: one jet tuple per resonance, no jet twice.

Each resonance r has a head giving ``log P_r`` over ordered tuples of its jet daughters (its
order o_r = 1, 2 or 3, in the head order of :mod:`hepattn.topology`). The decoder picks one
tuple per resonance, no two sharing a jet, maximising ``Σ_r log P_r``.

Search: take each head's ``k`` most probable tuples and score every combination of them
(``Π_r k`` per event), combinations sharing a jet excluded. The best combination is exact
for an event when no tuple outside some head's top ``k`` could beat it, i.e. when

    best ≥ max_r ( v_r[k−1] + Σ_{s≠r} v_s[0] ),

``v_r`` the sorted values of head r (a head whose top ``k`` holds all its tuples drops out
of the bound); otherwise ``k`` doubles for that event, up to all ``N^{o_r}`` tuples.

Events with fewer real jets than the topology has jet daughters get the best assignment of
the largest set of resonances their jets can serve (ties: the earlier resonances), the others
−1: with all-hadronic tt̄ and 3–5 jets, the single most probable triplet of either head.

A head is given to the decoder as ``topk(r, events, k) -> (logp: float[b, k'],
index: int64[b, k', o_r])`` for the events ``events`` (``int64[b]``), sorted by decreasing
``logp``, ``k' = min(k, N^{o_r})``, slots beyond the valid tuples holding −inf and −1 (the
contract of :func:`hepattn.kernels.triplet.triplet_topk`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from hepattn.topology import Topology

__all__ = ["TopK", "decode_joint", "decode_topology", "jet_sets"]

#: ``topk(r, events, k) -> (logp: float[b, k'], index: int64[b, k', o_r])``.
TopK = Callable[[int, Tensor, int], tuple[Tensor, Tensor]]


def jet_sets(index: Tensor, n: int) -> Tensor:
    """Tuples ``int[B, K, o]`` of jets < ``n`` → bit sets ``int64[B, K, W]`` (63 jets per
    word; index −1 adds nothing)."""
    words = max(1, -(-n // 63))
    w = torch.arange(words, device=index.device)  # (W,)
    one = torch.ones((), dtype=torch.long, device=index.device)
    c = index[..., None]  # (B, K, o, 1)
    hit = (c >= 0) & (c.clamp(min=0) // 63 == w)  # (B, K, o, W)
    bits = torch.where(hit, one << (c.clamp(min=0) % 63), torch.zeros_like(c))
    return bits.sum(dim=-2)  # (B, K, W); the o jets are distinct, so sum = or


def _search(topk: TopK, subset: Sequence[int], orders, events: Tensor, k: int, n: int):
    """Exact best combination for ``subset`` of resonances on ``events``: score ``float[b]``
    (−inf when none exists), and per resonance of the subset its tuple ``int64[b, o_r]`` and
    that tuple's log P ``float[b]``."""
    b = len(events)
    device = events.device
    score_out = torch.full((b,), float("-inf"), dtype=torch.float64, device=device)
    tuples = [torch.full((b, orders[r]), -1, dtype=torch.long, device=device) for r in subset]
    values = [torch.full((b,), float("nan"), dtype=torch.float64, device=device) for _ in subset]
    todo = torch.arange(b, device=device)
    while len(todo):
        ks = [min(k, n ** orders[r]) for r in subset]
        heads = [topk(r, events[todo], kk) for r, kk in zip(subset, ks, strict=True)]
        score, sets = heads[0][0], jet_sets(heads[0][1], n)  # (b, M), (b, M, W)
        for v, c in heads[1:]:
            s2 = jet_sets(c, n)  # (b, K, W)
            clash = ((sets[:, :, None] & s2[:, None]) != 0).any(dim=-1)  # (b, M, K)
            score = (score[:, :, None] + v[:, None, :]).masked_fill(clash, float("-inf"))
            score = score.flatten(1)
            sets = (sets[:, :, None] | s2[:, None]).flatten(1, 2)
        best, flat = score.max(dim=1)  # (b,)
        picks = []
        for v, _ in reversed(heads):  # mixed radix: flat = ((p0 K1 + p1) K2 + p2) …
            picks.append(flat % v.shape[1])
            flat = flat // v.shape[1]
        picks.reverse()
        bound = torch.full_like(best, float("-inf"))
        for h, ((v, _), kk, r) in enumerate(zip(heads, ks, subset, strict=True)):
            if kk < n ** orders[r]:
                others = sum((w[:, 0] for g, (w, _) in enumerate(heads) if g != h), 0.0)
                bound = torch.maximum(bound, v[:, -1] + others)
        exact = best >= bound
        done = todo[exact]
        score_out[done] = best[exact].double()
        rows = torch.arange(len(todo), device=device)[exact]
        for t, val, (v, c), p in zip(tuples, values, heads, picks, strict=True):
            t[done] = c[rows, p[exact]]
            val[done] = v[rows, p[exact]].to(val.dtype)
        todo = todo[~exact]
        k *= 2
    return score_out, tuples, values


def decode_joint(
    topk: TopK, orders: Sequence[int], n_real: Tensor, n: int, k: int = 16
) -> tuple[Tensor, Tensor]:
    """Best tuples of all resonances, sharing no jet (module docstring).

    Args:
        topk: the heads (module docstring).
        orders: per resonance, its number of jet daughters.
        n_real: ``int[B]`` real jets per event.
        n: the padded number of jets N.
        k: the first number of candidates per head.

    Returns:
        ``int64[B, Σ o_r]``: per resonance its jets in head order, one after the other (−1
        where a resonance got none); ``float[B, R]``: each chosen tuple's log P under its
        head (ordered tuple, float64), NaN where none.
    """
    b = len(n_real)
    device = n_real.device
    starts = [sum(orders[:r]) for r in range(len(orders))]
    out = torch.full((b, sum(orders)), -1, dtype=torch.long, device=device)
    logp = torch.full((b, len(orders)), float("nan"), dtype=torch.float64, device=device)
    left = torch.ones(b, dtype=torch.bool, device=device)
    for size in range(len(orders), 0, -1):
        best = torch.full((b,), float("-inf"), dtype=torch.float64, device=device)
        for subset in itertools.combinations(range(len(orders)), size):
            ev = torch.nonzero(left & (n_real >= sum(orders[r] for r in subset))).flatten()
            if not len(ev):
                continue
            score, tuples, values = _search(topk, subset, orders, ev, k, n)
            win = score > best[ev]  # strict: the earlier subset keeps ties
            if not win.any():
                continue
            w = ev[win]
            best[w] = score[win]
            out[w] = -1
            logp[w] = float("nan")
            for r, t, v in zip(subset, tuples, values, strict=True):
                out[w, starts[r] : starts[r] + orders[r]] = t[win]
                logp[w, r] = v[win]
        left &= ~torch.isfinite(best)
    return out, logp


def decode_topology(
    topology: Topology, topk: TopK, mask: Tensor, k: int = 16
) -> tuple[Tensor, Tensor]:
    """:func:`decode_joint` for ``topology``, returned in parton order.

    Returns ``int64[B, n_partons]`` jet indices in the topology's parton order (−1 where
    none, and for daughters from other collections, which are not chosen), and
    ``float[B, R]`` each resonance's chosen tuple's log P (ordered), NaN where none.
    """
    choice, logp = decode_joint(topk, topology.orders, mask.sum(dim=1), mask.shape[1], k)
    out = torch.full((len(mask), topology.n_partons), -1, dtype=torch.long, device=mask.device)
    start = 0
    for cols in topology.jet_head_index:
        out[:, list(cols)] = choice[:, start : start + len(cols)]
        start += len(cols)
    return out, logp
