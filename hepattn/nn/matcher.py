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

Regression heads (``regressions``: keys of the topology's declared regressions,
:class:`hepattn.topology.Regression`; none by default, as for every matcher saved before
them): one MLP on the pooled event embedding predicts, per regression, the mean μ and log σ
of its standardized target y; its loss is the Gaussian negative log-likelihood
``(y − μ)² / 2σ² + log σ + ½ log 2π`` over the events whose target is finite, each
regression's mean weighted by its declared weight and added to ``L``. A per-resonance
regression of an exchangeable resonance (the pT of H1 in ``hh-4b``) is compared in the
resonance order π chosen by the assignment loss: head π(r)'s prediction with true r's target.

Classification heads (``classifications``: names of the topology's declared
:class:`hepattn.topology.Classification` s; none by default): one MLP on the pooled event
embedding gives the logits of every class of every classification; each adds its weight × the
cross-entropy ``−log softmax(z)[c]`` over the events with a class label ``c ≥ 0``. The
assignment and detection terms stay as they are: a background event has no reconstructable
resonance, so it carries no assignment loss and teaches the detection head "not
reconstructable".
"""

from __future__ import annotations

import dataclasses
import functools
import math
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
    "LOG_SIGMA_RANGE",
    "JetPartonMatcher",
    "LossTerms",
    "MatcherConfig",
    "matcher_loss",
    "matcher_loss_terms",
    "classification_terms",
    "complete_targets",
    "gaussian_nll",
    "permutation_nll",
    "regression_permutations",
]

#: The range log σ of a regression head is clamped to (standardized units).
LOG_SIGMA_RANGE = (-7.0, 7.0)
LOG_2PI = math.log(2 * math.pi)


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
        regressions: keys of the topology's declared regressions the network regresses
            (``EVENT_nu_pz``, ``t_had_pt``: :attr:`hepattn.topology.Regression.key`); none
            (matchers saved before regressions existed have none).
        classifications: names of the topology's declared classifications the network
            learns (``process``); none.
    """

    encoder: EncoderConfig
    topology: str = TTBAR_ALLHAD.name
    tensor_dim: int = 32
    backend: str = "auto"
    detection_weight: float = 1.0
    detection: bool = True
    regressions: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = type(self).__name__
        check(
            len(set(self.classifications)) == len(self.classifications),
            where,
            f"classifications named twice in {list(self.classifications)}",
        )
        check(
            len(set(self.regressions)) == len(self.regressions),
            where,
            f"regressions named twice in {list(self.regressions)}",
        )
        check(self.tensor_dim > 0, where, "tensor_dim must be positive")
        check(self.detection_weight >= 0, where, "detection_weight must be ≥ 0")
        check(self.backend in BACKENDS, where, f"backend must be one of {BACKENDS}")


class MatcherOutputs(NamedTuple):
    """What :meth:`JetPartonMatcher.forward` returns: per resonance the inputs of its head's
    scoring ``(x_r: (B, N, D), S_r)``, the detection logits ``(B, R)`` (None without the
    detection head), per regression the standardized mean and log σ ``(B, K, 2)`` (None
    without regressions), and the logits of every class of every classification,
    concatenated ``(B, C)`` (None without classifications)."""

    heads: list[tuple[Tensor, Tensor]]
    detection: Tensor | None
    regression: Tensor | None = None
    classification: Tensor | None = None


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
        #: the declared regressions the network regresses, in ``config.regressions`` order
        self.regressions = tuple(self.topology.regression(k) for k in config.regressions)
        if self.regressions:
            self.regression = nn.Sequential(
                nn.LayerNorm(dim),
                nn.Linear(dim, dim),
                nn.GELU(),
                nn.Linear(dim, 2 * len(self.regressions)),
            )
        #: the declared classifications the network learns, in ``config.classifications`` order
        self.classifications = tuple(
            self.topology.classification(n) for n in config.classifications
        )
        if self.classifications:
            self.classification = nn.Sequential(
                nn.LayerNorm(dim),
                nn.Linear(dim, dim),
                nn.GELU(),
                nn.Linear(dim, sum(len(c.classes) for c in self.classifications)),
            )

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
        if not self.config.detection and not self.regressions and not self.classifications:
            return MatcherOutputs(heads, None)
        pooled = masked_mean(h, mask)  # (B, d)
        det = self.detection(pooled) if self.config.detection else None  # (B, R)
        reg = None
        if self.regressions:
            reg = self.regression(pooled).unflatten(-1, (len(self.regressions), 2))  # (B, K, 2)
            reg = torch.stack([reg[..., 0], reg[..., 1].clamp(*LOG_SIGMA_RANGE)], dim=-1)
        cls = self.classification(pooled) if self.classifications else None  # (B, C)
        return MatcherOutputs(heads, det, reg, cls)

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

    @property
    def regression_weights(self) -> tuple[float, ...]:
        """The declared loss weight of each regression, in ``config.regressions`` order."""
        return tuple(r.weight for r in self.regressions)

    @property
    def classification_weights(self) -> tuple[float, ...]:
        """The declared loss weight of each classification, in ``config.classifications``
        order."""
        return tuple(c.weight for c in self.classifications)

    def class_probabilities(self, logits: Tensor) -> list[Tensor]:
        """Per classification the ``(B, n_classes)`` probabilities of its logits' slice."""
        sizes = [len(c.classes) for c in self.classifications]
        return [z.float().softmax(dim=-1) for z in logits.split(sizes, dim=-1)]

    def loss(
        self,
        outputs: MatcherOutputs,
        mask: Tensor,
        targets: list[Tensor],
        regression_targets: Tensor | None = None,
        class_labels: Tensor | None = None,
    ):
        """(mean loss, ``bool[B]`` events used by the assignment loss); see the module.
        ``regression_targets``: ``float[B, K]`` standardized, NaN where missing;
        ``class_labels``: ``int64[B, M]`` per classification, −1 where none."""
        t = self.loss_terms(outputs, mask, targets, regression_targets, class_labels)
        loss = matcher_loss(
            t, self.config.detection_weight, self.regression_weights, self.classification_weights
        )
        return loss, t.used

    def loss_terms(
        self,
        outputs: MatcherOutputs,
        mask: Tensor,
        targets: list[Tensor],
        regression_targets: Tensor | None = None,
        class_labels: Tensor | None = None,
    ) -> LossTerms:
        """The per-event terms of :meth:`loss` (:func:`matcher_loss_terms`)."""
        logp = self.target_logprob(outputs.heads, mask, targets)
        terms = matcher_loss_terms(
            self.topology,
            logp,
            outputs.detection,
            targets,
            mask,
            outputs.regression,
            regression_targets,
            self.regressions,
        )
        if outputs.classification is None or class_labels is None:
            return terms
        ce, ok = classification_terms(outputs.classification, class_labels, self.classifications)
        return terms._replace(cls=ce, cls_ok=ok)

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
    (with at least one object), and per regression the Gaussian NLL ``reg: float[B, K]`` (0
    where unused) over the events ``reg_ok: bool[B, K]`` with a finite target (None without
    regressions), and per classification the cross-entropy ``cls: float[B, M]`` over the
    events ``cls_ok: bool[B, M]`` with a class label (None without classifications)."""

    nll: Tensor
    used: Tensor
    bce: Tensor
    real: Tensor
    reg: Tensor | None = None
    reg_ok: Tensor | None = None
    cls: Tensor | None = None
    cls_ok: Tensor | None = None


def gaussian_nll(mean: Tensor, log_sigma: Tensor, target: Tensor) -> Tensor:
    """``(y − μ)² / 2σ² + log σ + ½ log 2π`` elementwise; 0 where ``target`` is not finite
    (no gradient flows from there)."""
    ok = torch.isfinite(target)
    y = torch.where(ok, target, mean.detach())
    nll = 0.5 * ((y - mean) * torch.exp(-log_sigma)) ** 2 + log_sigma + 0.5 * LOG_2PI
    return torch.where(ok, nll, torch.zeros_like(nll))


def regression_permutations(topology: Topology, regressions) -> tuple[tuple[int, ...], ...]:
    """Per resonance permutation π of ``topology`` (:attr:`~hepattn.topology.Topology.
    permutations`), the regression column compared with each target column k: the column of
    the same name for resonance π(r) where k belongs to resonance r and that column exists,
    else k itself (event-level regressions are never exchanged)."""
    names = [r.name for r in topology.resonances]
    where = {(r.resonance, r.name): k for k, r in enumerate(regressions)}
    out = []
    for perm in topology.permutations:
        cols = []
        for k, reg in enumerate(regressions):
            if reg.resonance is None:
                cols.append(k)
                continue
            head = names[perm[names.index(reg.resonance)]]
            cols.append(where.get((head, reg.name), k))
        out.append(tuple(cols))
    return tuple(out)


def matcher_loss_terms(
    topology: Topology,
    logp: Tensor,
    detection: Tensor | None,
    targets: list[Tensor],
    mask: Tensor,
    regression: Tensor | None = None,
    regression_targets: Tensor | None = None,
    regressions=(),
) -> LossTerms:
    """The per-event terms of the module's loss (:class:`LossTerms`). ``regression``:
    ``(B, K, 2)`` standardized mean and log σ of the declared ``regressions``;
    ``regression_targets``: ``float[B, K]`` standardized targets, NaN where missing (no
    regression terms when either is None)."""
    ok = complete_targets(targets)  # (B, R)
    per_event, best = permutation_nll(logp, ok, topology.permutations)
    reg = reg_ok = None
    if regression is not None and regression_targets is not None:
        cols = torch.tensor(regression_permutations(topology, regressions), device=ok.device)
        dtype = torch.promote_types(regression.dtype, torch.float32)  # not bf16 under AMP
        pred = regression.to(dtype).gather(1, cols[best][..., None].expand(-1, -1, 2))  # (B, K, 2)
        y = regression_targets.to(dtype)
        reg, reg_ok = gaussian_nll(pred[..., 0], pred[..., 1], y), torch.isfinite(y)
    if detection is None:
        bce = torch.zeros_like(per_event)
    else:
        perms = torch.tensor(topology.permutations, device=ok.device)[best]  # (B, R): π[t]
        # head π[t] should detect true resonance t
        det_target = torch.zeros_like(ok).scatter(1, perms, ok).to(detection.dtype)
        bce = F.binary_cross_entropy_with_logits(detection, det_target, reduction="none").mean(1)
    return LossTerms(per_event, ok.any(dim=1), bce, mask.any(dim=1), reg, reg_ok)


def classification_terms(logits: Tensor, labels: Tensor, classifications) -> tuple[Tensor, Tensor]:
    """``(ce float[B, M], ok bool[B, M])``: per classification m the cross-entropy
    ``−log softmax(z_m)[c]`` of the class label ``c = labels[:, m]``, 0 where ``c < 0`` (no
    label: ``ok`` False). ``logits``: ``(B, C)`` the classes of all classifications."""
    sizes = [len(c.classes) for c in classifications]
    ce, ok = [], []
    for m, z in enumerate(logits.float().split(sizes, dim=-1)):
        c = labels[:, m]
        has = c >= 0
        ce.append(torch.where(has, F.cross_entropy(z, c.clamp(min=0), reduction="none"), 0.0))
        ok.append(has)
    return torch.stack(ce, dim=1), torch.stack(ok, dim=1)


def matcher_loss(
    t: LossTerms,
    detection_weight: float = 1.0,
    regression_weights: tuple[float, ...] = (),
    classification_weights: tuple[float, ...] = (),
) -> Tensor:
    """The module's loss from its terms: the mean assignment NLL over the used events plus
    ``detection_weight`` × the mean detection BCE over the real events plus, per regression,
    its weight × its mean Gaussian NLL over the events with a finite target."""
    nll = t.nll[t.used].mean() if t.used.any() else t.nll.sum() * 0.0
    bce = t.bce[t.real].mean() if t.real.any() else t.bce.sum() * 0.0
    loss = nll + detection_weight * bce
    if t.reg is not None:
        for k, w in enumerate(regression_weights):
            ok = t.reg_ok[:, k]
            term = t.reg[:, k][ok].mean() if ok.any() else t.reg[:, k].sum() * 0.0
            loss = loss + w * term
    if t.cls is not None:
        for m, w in enumerate(classification_weights):
            ok = t.cls_ok[:, m]
            term = t.cls[:, m][ok].mean() if ok.any() else t.cls[:, m].sum() * 0.0
            loss = loss + w * term
    return loss
