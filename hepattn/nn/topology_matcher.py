"""A jet–parton matcher for any declared topology: encoder → one tensor attention head per
resonance (:mod:`hepattn.nn.heads`) and a detection head; its loss and exact decoding.

Targets are, per resonance r, ``int[B, o_r]``: the jets of its jet daughters in head order
(:attr:`hepattn.topology.Topology.jet_head_index`), −1 where a daughter has no jet. A
resonance is *reconstructable* when all of them are ≥ 0.

Loss: ``L = min_π Σ_r ℓ(π(r), r) + w · BCE``, the minimum over the declared resonance
permutations π (:attr:`hepattn.topology.Topology.permutations`; the top-symmetric loss is the
case of two exchangeable resonances, distinguishable resonances have only the identity),
with ``ℓ(h, r) = −log P_h(T_r)`` for a reconstructable r (P of the unordered exchangeable
daughters, i.e. + log of their number of orderings) and 0 otherwise (partial events);
events with no reconstructable resonance are left out of the assignment mean. The detection
head gives per resonance the probability that it is reconstructable; its binary
cross-entropy (weight ``w``) is taken in the resonance order π chosen by the assignment loss.
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
from hepattn.topology import Topology, load_topology

__all__ = [
    "LossTerms",
    "TopologyMatcher",
    "TopologyMatcherConfig",
    "permutation_nll",
    "reconstructable",
    "topology_loss",
    "topology_loss_terms",
]


@dataclasses.dataclass(frozen=True)
class TopologyMatcherConfig(Config):
    """Configuration of :class:`TopologyMatcher`.

    Attributes:
        encoder: the jet encoder.
        topology: a built-in topology's name or a topology YAML file.
        tensor_dim: width D of each head's tensor (D^o parameters for order o).
        backend: triplet-scoring backend of order-3 heads (:mod:`hepattn.kernels.triplet`).
        detection_weight: weight w of the detection loss.
    """

    encoder: EncoderConfig
    topology: str = "ttbar-allhad"
    tensor_dim: int = 32
    backend: str = "auto"
    detection_weight: float = 1.0

    def __post_init__(self) -> None:
        where = type(self).__name__
        check(self.tensor_dim > 0, where, "tensor_dim must be positive")
        check(self.detection_weight >= 0, where, "detection_weight must be ≥ 0")
        check(self.backend in BACKENDS, where, f"backend must be one of {BACKENDS}")


class TopologyMatcher(nn.Module):
    """``forward(x, p4, mask, types, transverse) -> (heads, detection)``: per resonance
    ``(x_r: (B, N, D), S_r)``, and detection logits ``(B, R)``.

    With several collections (``ttbar-ljets``: jets, lepton, MET) the inputs are one set
    (:func:`hepattn.nn.inputs.combine_collections`) and the encoder needs ``num_types`` =
    the number of collections; the heads then take the set's ``head_mask`` (real jets) as
    ``mask`` in :meth:`target_logprob`, :meth:`loss` and :meth:`decode`, so that only jets are
    chosen.
    """

    def __init__(self, config: TopologyMatcherConfig, topology: Topology | None = None) -> None:
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
        self.detection = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, len(self.heads)))

    def forward(
        self,
        x: Tensor,
        p4: Tensor,
        mask: Tensor,
        types: Tensor | None = None,
        transverse: Tensor | None = None,
    ) -> tuple[list, Tensor]:
        h = self.encoder(x, p4, mask, types, transverse)  # (B, N, d)
        pooled = masked_mean(h, mask)  # (B, d)
        return [head(h) for head in self.heads], self.detection(pooled)  # (B, R)

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

    def loss(self, outputs, mask: Tensor, targets: list[Tensor]) -> tuple[Tensor, Tensor]:
        """(mean loss, ``bool[B]`` events used by the assignment loss); see the module."""
        heads, detection = outputs
        return topology_loss(
            self.topology,
            self.target_logprob(heads, mask, targets),
            detection,
            targets,
            mask,
            self.config.detection_weight,
        )

    def loss_terms(self, outputs, mask: Tensor, targets: list[Tensor]) -> LossTerms:
        """The per-event terms of :meth:`loss` (:func:`topology_loss_terms`)."""
        heads, detection = outputs
        logp = self.target_logprob(heads, mask, targets)
        return topology_loss_terms(self.topology, logp, detection, targets, mask)

    @torch.no_grad()
    def decode(self, outputs, mask: Tensor, k: int = 16) -> tuple[Tensor, Tensor, Tensor]:
        """Exact joint decoding (:func:`hepattn.nn.decoding.decode_topology`).

        Returns ``int64[B, n_partons]`` jets in parton order (−1 where none, and for
        daughters from other collections), ``float[B, R]`` each chosen tuple's probability
        with unordered exchangeable daughters (NaN where none), and ``float[B, R]`` the
        detection probabilities.
        """
        heads, detection = outputs

        def topk(r: int, events: Tensor, kk: int) -> tuple[Tensor, Tensor]:
            xh, sh = heads[r]
            return head_topk(self.heads[r], xh[events], sh, mask[events], kk, self.config.backend)

        out, logp = decode_topology(self.topology, topk, mask, k)
        mult = torch.tensor([r.log_multiplicity for r in self.topology.resonances])
        prob = (logp + mult.to(logp)).exp().float()
        return out, prob, torch.sigmoid(detection.float())


def reconstructable(targets: list[Tensor]) -> Tensor:
    """``bool[B, R]``: every jet daughter of each resonance has a jet."""
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
    """Per-event terms of :func:`topology_loss`: the assignment NLL (``float[B]``, 0 where
    no resonance is reconstructable) over the ``used`` events, the detection BCE (``float[B]``,
    mean over the resonances) over the ``real`` events (with at least one object)."""

    nll: Tensor
    used: Tensor
    bce: Tensor
    real: Tensor


def topology_loss_terms(
    topology: Topology,
    logp: Tensor,
    detection: Tensor,
    targets: list[Tensor],
    mask: Tensor,
) -> LossTerms:
    """The per-event terms of the module's loss (:class:`LossTerms`)."""
    ok = reconstructable(targets)  # (B, R)
    per_event, best = permutation_nll(logp, ok, topology.permutations)
    perms = torch.tensor(topology.permutations, device=ok.device)[best]  # (B, R): π[t]
    # head π[t] should detect true resonance t
    det_target = torch.zeros_like(ok).scatter(1, perms, ok).to(detection.dtype)
    bce = F.binary_cross_entropy_with_logits(detection, det_target, reduction="none").mean(1)
    return LossTerms(per_event, ok.any(dim=1), bce, mask.any(dim=1))


def topology_loss(
    topology: Topology,
    logp: Tensor,
    detection: Tensor,
    targets: list[Tensor],
    mask: Tensor,
    detection_weight: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """The module's loss: assignment NLL minimised over resonance permutations, plus the
    detection BCE in that order. Returns (mean loss, ``bool[B]`` events in the NLL mean)."""
    t = topology_loss_terms(topology, logp, detection, targets, mask)
    nll = t.nll[t.used].mean() if t.used.any() else logp.sum() * 0.0
    bce = t.bce[t.real].mean() if t.real.any() else detection.sum() * 0.0
    return nll + detection_weight * bce, t.used
