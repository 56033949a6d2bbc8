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

:func:`decode_fixed_k` is the same search with a fixed number of candidates per head, read
from the heads' full log-P tensors, in tensor operations only (no data-dependent loop): what
an exported ONNX graph runs (``hepattn export-onnx --decode``). It equals
:func:`decode_topology` whenever the best combination lies within each head's top ``k``
(measured, not guaranteed: ``benchmarks/bench_onnx_decode.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from hepattn.topology import Topology

__all__ = [
    "TopK",
    "candidates",
    "decode_fixed_k",
    "decode_joint",
    "decode_topology",
    "jet_sets",
]

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


def _index_table(a: Tensor, order: int) -> Tensor:
    """``int64[N^o, o]``: the jet tuple of each flat index of an ``(N,)*o`` tensor (row-major),
    from ``a = arange(N)`` (so that N stays symbolic when traced)."""
    zero = torch.zeros_like(a)
    axes = []
    for d in range(order):
        shape = [1] * order
        shape[d] = -1
        t = a.view(shape)
        for e in range(order):  # broadcast against the other axes through additions
            if e != d:
                t = t + zero.view([-1 if f == e else 1 for f in range(order)])
        axes.append(t.reshape(-1))
    return torch.stack(axes, dim=-1)


def candidates(logp: Tensor, symmetric: int, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` most probable distinct tuples of one head from its full log-P tensor.

    Args:
        logp: ``float[B, N, …]``, one jet axis per daughter in head order, −inf where
            invalid (:func:`hepattn.nn.heads.head_logprobs`).
        symmetric: the size of the leading exchangeable group of axes (0, 2 or 3): only
            tuples increasing along it are kept (a mirror is the same tuple, as in
            :func:`hepattn.nn.heads.head_topk`).
        k: the fixed number of candidates.

    Returns:
        ``(values float[B, k], index int64[B, k, o])`` sorted by decreasing value; −inf and
        −1 beyond the valid tuples (also when there are fewer than ``k`` tuples at all).
    """
    order = logp.dim() - 1
    a = torch.arange(logp.shape[1], device=logp.device)
    if symmetric >= 2:
        keep = None
        for d in range(symmetric - 1):  # a_d < a_{d+1} along the exchangeable axes
            lo = a.view([-1 if e == d else 1 for e in range(order)])
            hi = a.view([-1 if e == d + 1 else 1 for e in range(order)])
            keep = lo < hi if keep is None else keep & (lo < hi)
        logp = logp.masked_fill(~keep, float("-inf"))
    flat = logp.flatten(1)  # (B, N^o)
    # k slots of −inf appended: k candidates whatever N (never a data-dependent k)
    pad = torch.zeros_like(flat).sum(dim=1, keepdim=True) + float("-inf")  # (B, 1)
    flat = torch.cat([flat, pad.expand(-1, k)], dim=1)
    values, where = flat.topk(k, dim=1)  # (B, k), sorted
    table = _index_table(a, order)  # (N^o, o)
    table = torch.cat([table, torch.full_like(table[:1], -1).expand(k, -1)], dim=0)
    index = table[where]  # (B, k, o)
    finite = torch.isfinite(values)
    return values, torch.where(finite[..., None], index, torch.full_like(index, -1))


def _best_combination(heads: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, list[Tensor]]:
    """Best combination of one candidate per head sharing no jet: ``(score float[B], picks
    int64[B] per head)``; score −inf where none. Ties: the first in the row-major order of
    the candidates' indices (as :func:`_search`)."""
    m = len(heads)
    k = heads[0][0].shape[1]

    def at(t: int, x: Tensor) -> Tensor:  # (B, k, …) → (B, 1, …, k, …, 1, …)
        return x.reshape([-1] + [k if u == t else 1 for u in range(m)] + list(x.shape[2:]))

    score = at(0, heads[0][0])
    for t in range(1, m):
        score = score + at(t, heads[t][0])  # (B, k, …, k)
    clash = None
    for t in range(m):
        for u in range(t + 1, m):
            it, iu = at(t, heads[t][1]), at(u, heads[u][1])  # (B, …, o_t), (B, …, o_u)
            for a in range(it.shape[-1]):
                for c in range(iu.shape[-1]):
                    hit = it[..., a] == iu[..., c]
                    clash = hit if clash is None else clash | hit
    if clash is not None:
        score = score.masked_fill(clash, float("-inf"))
    best, flat = score.flatten(1).max(dim=1)
    picks = []
    for t in range(m):  # mixed radix, the first head most significant
        picks.append((flat // k ** (m - 1 - t)) % k)
    return best, picks


def decode_fixed_k(
    topology: Topology, logps: Sequence[Tensor], k: int = 64
) -> tuple[Tensor, Tensor]:
    """:func:`decode_topology` over each head's ``k`` best tuples only, in tensor operations
    (traceable to ONNX: no data-dependent loop or shape).

    Args:
        topology: the declared topology (resonances in declaration order).
        logps: per resonance its head's full log-P tensor ``float[B, N, …]`` (one jet axis
            per jet daughter in head order, −inf where invalid), all over the same N jets.
        k: candidates per head; ``Π_r k`` combinations are scored per event (``k^R``).

    Returns:
        ``int64[B, n_partons]`` jet indices in the topology's parton order (−1 where none,
        and for daughters from other collections), and ``float[B, R]`` each chosen tuple's
        log P (ordered, the dtype of ``logps``), NaN where none — as
        :func:`decode_topology`, including partial events (the largest set of resonances
        the jets can serve, ties to the earlier set).
    """
    heads = [
        candidates(lp, len(r.symmetric), k)
        for lp, r in zip(logps, topology.resonances, strict=True)
    ]
    r_count = len(heads)
    ninf = torch.full_like(heads[0][0][:, 0], float("-inf"))  # (B,)
    nan = torch.full_like(ninf, float("nan"))
    chosen = ninf
    tuples = [torch.full_like(c[:, 0], -1) for _, c in heads]  # (B, o_r)
    values = [nan for _ in heads]
    for size in range(r_count, 0, -1):
        best = ninf
        size_tuples = [torch.full_like(c[:, 0], -1) for _, c in heads]
        size_values = [nan for _ in heads]
        for subset in itertools.combinations(range(r_count), size):
            score, picks = _best_combination([heads[r] for r in subset])
            win = score > best  # strict: the earlier subset keeps ties
            best = torch.where(win, score, best)
            sel = dict(zip(subset, picks, strict=True))
            for r, (v, c) in enumerate(heads):
                if r in sel:
                    p = sel[r]
                    t = c.gather(1, p[:, None, None].expand(-1, 1, c.shape[2]))[:, 0]
                    val = v.gather(1, p[:, None])[:, 0]
                else:
                    t, val = torch.full_like(size_tuples[r], -1), nan
                size_tuples[r] = torch.where(win[:, None], t, size_tuples[r])
                size_values[r] = torch.where(win, val, size_values[r])
        take = ~torch.isfinite(chosen) & torch.isfinite(best)  # the largest set served
        chosen = torch.where(take, best, chosen)
        for r in range(r_count):
            tuples[r] = torch.where(take[:, None], size_tuples[r], tuples[r])
            values[r] = torch.where(take, size_values[r], values[r])
    columns: list[Tensor | None] = [None] * topology.n_partons
    for cols, t in zip(topology.jet_head_index, tuples, strict=True):
        for h, col in enumerate(cols):
            columns[col] = t[:, h]
    none = torch.full_like(ninf, -1, dtype=torch.long)
    out = torch.stack([none if c is None else c for c in columns], dim=1)
    return out, torch.stack(values, dim=1)
