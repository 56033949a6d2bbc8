"""SPA-Net-style jet–parton matcher: P-MHA encoder → two symmetric tensor attention heads.

Each head scores every jet triplet (i, j, k) — i, j the W's light quarks, k the b — with a
tensor symmetric in its first two indices, so P(i, j, k) = P(j, i, k) exactly (see
:mod:`hepattn.kernels.triplet.reference`). One head per top; which head is "the top" and
which "the anti-top" is not known, hence the top-symmetric loss.

Targets are ``int[B, 2, 3]``: per true top, the jet slots of (q1, q2, b) — the head order of
:data:`hepattn.topology.TTBAR_ALLHAD` — −1 where a parton has no jet. A top is
*reconstructable* when its three slots are all ≥ 0 (slots of different partons are distinct
jets by construction of the labels).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from hepattn.config import Config, check
from hepattn.kernels.triplet import BACKENDS, triplet_logprob, triplet_topk
from hepattn.nn.decoding import decode_topology
from hepattn.nn.encoder import Encoder, EncoderConfig
from hepattn.nn.heads import TensorAttentionHead
from hepattn.nn.topology_matcher import permutation_nll
from hepattn.topology import LOG2, TTBAR_ALLHAD

__all__ = [
    "JetPartonMatcher",
    "MatcherConfig",
    "SymmetricTensorAttention",
    "decode_assignments",
    "symmetric_top_loss",
    "symmetric_top_nll",
]

#: The topology the two heads reconstruct: head h scores the triplets of one top.
TOPOLOGY = TTBAR_ALLHAD


@dataclasses.dataclass(frozen=True)
class MatcherConfig(Config):
    """Configuration of :class:`JetPartonMatcher`.

    Attributes:
        encoder: the jet encoder (P-MHA on or off through ``encoder.interaction``).
        triplet_dim: width D of the symmetric tensor (D³ parameters per head).
        backend: triplet-scoring backend: ``auto`` (Triton kernels on CUDA, else the torch
            reference), ``torch`` or ``triton`` (see :mod:`hepattn.kernels.triplet`).
    """

    encoder: EncoderConfig
    triplet_dim: int = 32
    backend: str = "auto"

    def __post_init__(self) -> None:
        check(self.triplet_dim > 0, "MatcherConfig", "triplet_dim must be positive")
        check(
            self.backend in BACKENDS,
            "MatcherConfig",
            f"backend must be one of {BACKENDS}, not {self.backend!r}",
        )


class SymmetricTensorAttention(TensorAttentionHead):
    """One head: jets ``h: (B, N, d)`` → projected jets ``x: (B, N, D)`` and ``S: (D, D, D)``.

    The order-3 :class:`~hepattn.nn.heads.TensorAttentionHead` with its first two indices
    exchangeable: ``S = ½(θ + θ with its first two indices swapped)``; θ starts with standard
    deviation D^(−3/2) so that initial scores are O(1).
    """

    def __init__(self, dim_in: int, dim: int) -> None:
        super().__init__(dim_in, dim, order=3, symmetric=2)


class JetPartonMatcher(nn.Module):
    """``forward(x, p4, mask) -> [(x1, S1), (x2, S2)]``, the inputs of triplet scoring."""

    def __init__(self, config: MatcherConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.encoder)
        dim = config.encoder.dim
        self.heads = nn.ModuleList(
            SymmetricTensorAttention(dim, config.triplet_dim) for _ in range(2)
        )

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor) -> list[tuple[Tensor, Tensor]]:
        h = self.encoder(x, p4, mask)  # (B, N, d)
        return [head(h) for head in self.heads]

    def target_logprob(self, heads, mask: Tensor, targets: Tensor) -> Tensor:
        """``float[B, 2 heads, 2 tops]``: log P that head h gives true top t (unordered q's).

        P of the unordered light-quark pair is P(i, j, k) + P(j, i, k) = 2 P(i, j, k).
        """
        out = [
            triplet_logprob(xh, sh, mask, targets, backend=self.config.backend) + LOG2
            for xh, sh in heads
        ]
        return torch.stack(out, dim=1)  # (B, 2, 2)

    @torch.no_grad()
    def topk(self, heads, mask: Tensor, k: int) -> list[tuple[Tensor, Tensor]]:
        return [triplet_topk(xh, sh, mask, k, backend=self.config.backend) for xh, sh in heads]


def reconstructable(targets: Tensor) -> Tensor:
    """``bool[B, 2]``: the three partons of each top have jets."""
    return (targets >= 0).all(dim=-1)


def symmetric_top_nll(logp: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Per event the top-symmetric NLL of :func:`symmetric_top_loss` (0 for an event with no
    reconstructable top) and ``bool[B]`` the events with one: ``(float[B], bool[B])``, to be
    averaged with event weights (:func:`hepattn.tasks.weights.weighted_loss`)."""
    ok = reconstructable(targets)  # (B, 2)
    per_event, _ = permutation_nll(logp, ok, TOPOLOGY.permutations)  # (B,)
    return per_event, ok.any(dim=1)


def symmetric_top_loss(logp: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Top-symmetric NLL.

    ``L = min(ℓ(1,1) + ℓ(2,2), ℓ(1,2) + ℓ(2,1))`` with ``ℓ(h, t) = −log P_h(T_t)`` for a
    reconstructable top t and 0 otherwise: a top whose three partons are not all matched to
    distinct jets contributes nothing (SPA-Net's partial events), and events with no
    reconstructable top are left out of the mean.

    Args:
        logp: ``float[B, 2, 2]`` from :meth:`JetPartonMatcher.target_logprob`.
        targets: ``int[B, 2, 3]``.

    Returns:
        (mean loss over used events, ``bool[B]`` events used).
    """
    per_event, used = symmetric_top_nll(logp, targets)
    if not used.any():
        return logp.sum() * 0.0, used
    return per_event[used].mean(), used


def decode_assignments(
    model: JetPartonMatcher, heads, mask: Tensor, k: int = 16, with_prob: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Best pair of triplets (one per head) sharing no jet, by joint probability.

    Exact (:func:`hepattn.nn.decoding.decode_joint`): the search over each head's ``k`` most
    probable triplets is accepted for an event only when no triplet outside those could do
    better; otherwise ``k`` doubles for that event, up to all triplets. Events with fewer
    than 6 jets get the single most probable triplet (of either head) and −1 for the other
    top; fewer than 3 jets, all −1.

    Returns ``int64[B, 6]`` jet slots in the order (b, q1, q2, b′, q1′, q2′); with
    ``with_prob`` also ``float[B, 2]``, the probability of each chosen triplet under its head
    with unordered light quarks (P(i, j, k) + P(j, i, k)), NaN where none was chosen.
    """

    def topk(r: int, events: Tensor, kk: int) -> tuple[Tensor, Tensor]:
        xh, sh = heads[r]
        return triplet_topk(xh[events], sh, mask[events], kk, backend=model.config.backend)

    out, logp = decode_topology(TOPOLOGY, topk, mask, k)
    return (out, (logp.float() + LOG2).exp()) if with_prob else out
