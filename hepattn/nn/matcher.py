"""The jet–parton matcher for any declared topology: encoder → one symmetric tensor attention
head per resonance (:mod:`hepattn.nn.heads`) and a detection head; its loss and exact
decoding.

All-hadronic tt̄ (the default topology) is the SPA-Net case: two order-3 heads, each scoring
every jet triplet (i, j, k) — i, j the W's light quarks, k the b — with a tensor symmetric in
its first two indices (P(i, j, k) = P(j, i, k) exactly), the tops exchangeable.

Targets are, per resonance r, ``int[B, o_r]``: the jets of its jet daughters in head order
(:attr:`hepattn.topology.Topology.jet_head_index`), −1 where a daughter has no jet. A
resonance is *reconstructable* when all of them are ≥ 0.

Loss: ``L = min_π Σ_r ℓ(π(r), r) + w · BCE``, the minimum over the declared resonance
permutations π (:attr:`hepattn.topology.Topology.permutations`; the top-symmetric loss
``min(ℓ(1,1) + ℓ(2,2), ℓ(1,2) + ℓ(2,1))`` is the case of two exchangeable resonances,
distinguishable resonances have only the identity), with ``ℓ(h, r) = −log P_h(T_r)`` for a
reconstructable r (P of the unordered exchangeable daughters, i.e. + log of their number of
orderings) and 0 otherwise (SPA-Net's partial events); events with no reconstructable
resonance are left out of the assignment mean. The detection head gives per resonance the
probability that it is reconstructable; its binary cross-entropy (weight ``w``) is taken in
the resonance order π chosen by the assignment loss. A matcher saved before the detection
head existed is rebuilt without it (``detection: false``): its loss and outputs lack it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hepattn.config import Config, check
from hepattn.kernels.triplet import BACKENDS
from hepattn.nn.decoding import decode_topology
from hepattn.nn.encoder import Encoder, EncoderConfig
from hepattn.nn.heads import TensorAttentionHead, head_logprob, head_topk
from hepattn.nn.pooling import masked_mean
from hepattn.topology import TTBAR_ALLHAD, Topology, load_topology

__all__ = [
    "JetPartonMatcher",
    "LossTerms",
    "MatcherConfig",
    "matcher_loss",
    "matcher_loss_terms",
    "complete_targets",
    "permutation_nll",
]


@dataclasses.dataclass(frozen=True)
class MatcherConfig(Config):
    """Configuration of :class:`JetPartonMatcher`.

    Attributes:
        encoder: the jet encoder (P-MHA on or off through ``encoder.interaction``).
        topology: a built-in topology's name or a topology YAML file.
        tensor_dim: width D of each head's tensor (D^o parameters for order o).
        backend: triplet-scoring backend of order-3 heads: ``auto`` (Triton kernels on CUDA,
            else the torch reference), ``torch`` or ``triton`` (:mod:`hepattn.kernels.triplet`).
        detection_weight: weight w of the detection loss.
        detection: whether the network has the detection head (matchers saved before it
            existed have not).
    """

    encoder: EncoderConfig
    topology: str = TTBAR_ALLHAD.name
    tensor_dim: int = 32
    backend: str = "auto"
    detection_weight: float = 1.0
    detection: bool = True

    def __post_init__(self) -> None:
        where = type(self).__name__
        check(self.tensor_dim > 0, where, "tensor_dim must be positive")
        check(self.detection_weight >= 0, where, "detection_weight must be ≥ 0")
        check(self.backend in BACKENDS, where, f"backend must be one of {BACKENDS}")


class MatcherOutputs(NamedTuple):
    """What :meth:`JetPartonMatcher.forward` returns: per resonance the inputs of its head's
    scoring ``(x_r: (B, N, D), S_r)``, and the detection logits ``(B, R)`` (None without the
    detection head)."""

    heads: list[tuple[Tensor, Tensor]]
    detection: Tensor | None


class JetPartonMatcher(nn.Module):
    """``forward(x, p4, mask, types, transverse) -> MatcherOutputs``.

    With several collections (``ttbar-ljets``: jets, lepton, MET) the inputs are one set
    (:func:`hepattn.nn.inputs.combine_collections`) and the encoder needs ``num_types`` =
    the number of collections; the heads then take the set's ``head_mask`` (real jets) as
    ``mask`` in :meth:`target_logprob`, :meth:`loss_terms` and :meth:`decode`, so that only
    jets are chosen.
    """

    def __init__(self, config: MatcherConfig, topology: Topology | None = None) -> None:
        super().__init__()
        self.config = config
        self.topology = topology if topology is not None else load_topology(config.topology)
        n_col = len(self.topology.collections)
        check(
            config.encoder.num_types == (n_col if n_col > 1 else 0),
            type(config).__name__,
            f"topology {self.topology.name!r} has {n_col} input collection(s): "
            f"encoder.num_types must be {n_col if n_col > 1 else 0}",
        )
        dim = config.encoder.dim
        self.encoder = Encoder(config.encoder)
        self.heads = nn.ModuleList(
            TensorAttentionHead(dim, config.tensor_dim, r.order, len(r.symmetric))
            for r in self.topology.resonances
        )
        if config.detection:
            self.detection = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, len(self.heads)))

    def forward(
        self,
        x: Tensor,
        p4: Tensor,
        mask: Tensor,
        types: Tensor | None = None,
        transverse: Tensor | None = None,
    ) -> MatcherOutputs:
        h = self.encoder(x, p4, mask, types, transverse)  # (B, N, d)
        heads = [head(h) for head in self.heads]
        if not self.config.detection:
            return MatcherOutputs(heads, None)
        return MatcherOutputs(heads, self.detection(masked_mean(h, mask)))  # (B, R)

    def target_logprob(self, heads, mask: Tensor, targets: list[Tensor]) -> Tensor:
        """``float[B, R heads, R true]``: log P that head h gives true resonance t (unordered
        exchangeable daughters); computed where h and t may be exchanged (or h = t), 0
        elsewhere (never used by a permutation)."""
        topo = self.topology
        b, r = mask.shape[0], len(heads)
        out = [[mask.new_zeros(b, dtype=heads[0][0].dtype) for _ in range(r)] for _ in range(r)]
        pairs = {(p[t], t) for p in topo.permutations for t in range(r)}
        for h, t in sorted(pairs):
            xh, sh = heads[h]
            lp = head_logprob(self.heads[h], xh, sh, mask, targets[t][:, None], self.config.backend)
            out[h][t] = lp[:, 0] + topo.resonances[h].log_multiplicity
        return torch.stack([torch.stack(row, dim=1) for row in out], dim=1)  # (B, R, R)

    def loss(self, outputs: MatcherOutputs, mask: Tensor, targets: list[Tensor]):
        """(mean loss, ``bool[B]`` events used by the assignment loss); see the module."""
        t = self.loss_terms(outputs, mask, targets)
        return matcher_loss(t, self.config.detection_weight), t.used

    def loss_terms(self, outputs: MatcherOutputs, mask: Tensor, targets: list[Tensor]) -> LossTerms:
        """The per-event terms of :meth:`loss` (:func:`matcher_loss_terms`)."""
        logp = self.target_logprob(outputs.heads, mask, targets)
        return matcher_loss_terms(self.topology, logp, outputs.detection, targets, mask)

    @torch.no_grad()
    def decode(
        self, outputs: MatcherOutputs, mask: Tensor, k: int = 16
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Exact joint decoding (:func:`hepattn.nn.decoding.decode_topology`): the search over
        each head's ``k`` most probable tuples is accepted for an event only when no tuple
        outside them could do better; otherwise ``k`` doubles for that event.

        Returns ``int64[B, n_partons]`` jets in parton order (−1 where none, and for
        daughters from other collections), ``float[B, R]`` each chosen tuple's probability
        with unordered exchangeable daughters (NaN where none), and ``float[B, R]`` the
        detection probabilities (None without the detection head).
        """

        def topk(r: int, events: Tensor, kk: int) -> tuple[Tensor, Tensor]:
            xh, sh = outputs.heads[r]
            return head_topk(self.heads[r], xh[events], sh, mask[events], kk, self.config.backend)

        out, logp = decode_topology(self.topology, topk, mask, k)
        mult = torch.tensor([r.log_multiplicity for r in self.topology.resonances])
        prob = (logp + mult.to(logp)).exp().float()
        det = outputs.detection
        return out, prob, None if det is None else torch.sigmoid(det.float())


def complete_targets(targets: list[Tensor]) -> Tensor:
    """``bool[B, R]``: every jet daughter of each resonance has a jet in ``targets`` — the
    tensor form of :func:`hepattn.metrics.matching.reconstructable` (targets come from parton
    labels, one per jet, so their jets are distinct)."""
    return torch.stack([(t >= 0).all(dim=-1) for t in targets], dim=1)


def permutation_nll(
    logp: Tensor, ok: Tensor, permutations: tuple[tuple[int, ...], ...]
) -> tuple[Tensor, Tensor]:
    """Per event ``min_π Σ_t ℓ(π(t), t)`` and the index of the minimising π (first on ties).

    Args:
        logp: ``float[B, R heads, R true]``.
        ok: ``bool[B, R]``: true resonance t is reconstructable (else ℓ = 0).
        permutations: ``π[t]`` the head compared with true resonance t, identity first.

    Returns:
        ``float[B]`` and ``int64[B]``.
    """
    nll = torch.where(ok[:, None, :], -logp, torch.zeros_like(logp))  # (B, head, true)
    orders = [
        functools.reduce(torch.add, (nll[:, h, t] for t, h in enumerate(perm)))
        for perm in permutations
    ]
    stacked = torch.stack(orders, dim=1)  # (B, perms)
    best = stacked.argmin(dim=1)
    return functools.reduce(torch.minimum, orders), best


class LossTerms(NamedTuple):
    """Per-event terms of the matcher's loss: the assignment NLL (``float[B]``, 0 where no
    resonance is reconstructable) over the ``used`` events, the detection BCE (``float[B]``,
    mean over the resonances; zeros without the detection head) over the ``real`` events
    (with at least one object)."""

    nll: Tensor
    used: Tensor
    bce: Tensor
    real: Tensor


def matcher_loss_terms(
    topology: Topology,
    logp: Tensor,
    detection: Tensor | None,
    targets: list[Tensor],
    mask: Tensor,
) -> LossTerms:
    """The per-event terms of the module's loss (:class:`LossTerms`)."""
    ok = complete_targets(targets)  # (B, R)
    per_event, best = permutation_nll(logp, ok, topology.permutations)
    if detection is None:
        return LossTerms(per_event, ok.any(dim=1), torch.zeros_like(per_event), mask.any(dim=1))
    perms = torch.tensor(topology.permutations, device=ok.device)[best]  # (B, R): π[t]
    # head π[t] should detect true resonance t
    det_target = torch.zeros_like(ok).scatter(1, perms, ok).to(detection.dtype)
    bce = F.binary_cross_entropy_with_logits(detection, det_target, reduction="none").mean(1)
    return LossTerms(per_event, ok.any(dim=1), bce, mask.any(dim=1))


def matcher_loss(t: LossTerms, detection_weight: float = 1.0) -> Tensor:
    """The module's loss from its terms: the mean assignment NLL over the used events plus
    ``detection_weight`` × the mean detection BCE over the real events."""
    nll = t.nll[t.used].mean() if t.used.any() else t.nll.sum() * 0.0
    bce = t.bce[t.real].mean() if t.real.any() else t.bce.sum() * 0.0
    return nll + detection_weight * bce
