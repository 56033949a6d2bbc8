"""The all-hadronic decoder as it was before the generalisation to any topology
(:mod:`hepattn.nn.decoding`), kept verbatim as the reference its replacement must equal
(the former ``model.topk``: each head's :func:`~hepattn.kernels.triplet.triplet_topk`)."""

from __future__ import annotations

import torch
from torch import Tensor

from hepattn.kernels.triplet import triplet_topk
from hepattn.topology import LOG2, TTBAR_ALLHAD

_FROM_HEAD = list(TTBAR_ALLHAD.resonances[0].from_head)


def _jet_bits(c: Tensor) -> Tensor:
    """Triplets ``int[B, K, 3]`` → bit sets ``int64[B, K]`` of their jets (0 for index −1)."""
    one = torch.ones((), dtype=torch.long, device=c.device)
    return torch.where(c >= 0, one << c.clamp(min=0), torch.zeros_like(c)).sum(-1)


def _share_jet(a: Tensor, b: Tensor, n: int) -> Tensor:
    """``bool[B, K, K]``: candidate a_p (B, K, 3) and b_q share a jet.

    Bit sets of the jets when they fit in 63 bits, else all 3 × 3 index comparisons.
    """
    if n <= 63:
        return (_jet_bits(a)[:, :, None] & _jet_bits(b)[:, None, :]) != 0
    hit = a[:, :, None, :, None] == b[:, None, :, None, :]  # (B, K, K, 3, 3)
    return (hit & (a[:, :, None, :, None] >= 0)).any(dim=(-1, -2))


def decode_assignments(
    model, heads, mask: Tensor, k: int = 16, with_prob: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Best pair of triplets (one per head) sharing no jet, by joint probability.

    Exact: the search over each head's ``k`` most probable triplets is accepted for an event
    only when no triplet outside those could do better (its best pair scores at least
    ``v1[k-1] + v2[0]`` and ``v1[0] + v2[k-1]``); otherwise ``k`` doubles for that event,
    up to all triplets. Events with fewer than 6 jets get the single most probable triplet
    (of either head) and −1 for the other top; fewer than 3 jets, all −1.

    Returns ``int64[B, 6]`` jet slots in the order (b, q1, q2, b′, q1′, q2′); with
    ``with_prob`` also ``float[B, 2]``, the probability of each chosen triplet under its head
    with unordered light quarks (P(i, j, k) + P(j, i, k)), NaN where none was chosen.
    """
    b = mask.shape[0]
    n = mask.shape[1]
    out = torch.full((b, 6), -1, dtype=torch.long, device=mask.device)
    logp = torch.full((b, 2), float("nan"), device=mask.device)
    todo = torch.arange(b, device=mask.device)
    k_max = n * n * n
    while len(todo):
        sub = [(xh[todo], sh) for xh, sh in heads]
        (v1, c1), (v2, c2) = (
            triplet_topk(xh, sh, mask[todo], k, backend=model.config.backend) for xh, sh in sub
        )
        score = v1[:, :, None] + v2[:, None, :]  # (b, K, K)
        score = score.masked_fill(_share_jet(c1, c2, n), float("-inf"))
        best, flat = score.flatten(1).max(dim=1)
        kk = v1.shape[1]
        p, q = flat // kk, flat % kk
        r = torch.arange(len(todo), device=mask.device)
        bound = torch.maximum(v1[:, -1] + v2[:, 0], v1[:, 0] + v2[:, -1])
        exact = (kk >= k_max) | (best >= bound)
        pair = torch.isfinite(best) & exact
        t1, t2 = c1[r, p], c2[r, q]  # (b, 3) as (i, j, k)
        out[todo[pair], 0:3] = t1[pair][:, _FROM_HEAD]
        out[todo[pair], 3:6] = t2[pair][:, _FROM_HEAD]
        logp[todo[pair]] = torch.stack([v1[r, p], v2[r, q]], dim=1)[pair].float()
        single = ~torch.isfinite(best) & exact
        first = torch.where((v1[:, 0] >= v2[:, 0])[:, None], c1[:, 0], c2[:, 0])  # (b, 3)
        use1 = v1[:, 0] >= v2[:, 0]
        ok = single & torch.isfinite(torch.maximum(v1[:, 0], v2[:, 0]))
        out[todo[ok & use1], 0:3] = first[ok & use1][:, _FROM_HEAD]
        out[todo[ok & ~use1], 3:6] = first[ok & ~use1][:, _FROM_HEAD]
        logp[todo[ok & use1], 0] = v1[ok & use1, 0].float()
        logp[todo[ok & ~use1], 1] = v2[ok & ~use1, 0].float()
        todo = todo[~exact]
        k = min(2 * k, k_max)
    return (out, (logp + LOG2).exp()) if with_prob else out
