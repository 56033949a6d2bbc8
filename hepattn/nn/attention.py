"""Masked multi-head attention with an additive pairwise bias (P-MHA, arXiv:2202.03772).

``P-MHA(Q, K, V) = softmax(Q Kᵀ / sqrt(d_k) + U) V`` where ``U`` is an ``(H, N, N)`` bias
embedded from pairwise physics features of the objects (:mod:`hepattn.physics.pairwise`).
Everything runs through :func:`torch.nn.functional.scaled_dot_product_attention` with a float
``attn_mask``, which is where ``U`` and the padding mask meet.

Mask convention: ``mask: bool[B, N]``, True = real object. It is turned into attention's
additive form in exactly one place, :func:`attention_bias`.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hepattn.config import Config, check
from hepattn.physics.pairwise import PAIR_FEATURES


@dataclasses.dataclass(frozen=True)
class InteractionConfig(Config):
    """Configuration of the pairwise interaction bias ``U`` of P-MHA.

    Attributes:
        enabled: add ``U`` to the attention logits (False gives plain masked attention).
        features: pair features from :data:`hepattn.physics.pairwise.PAIR_FEATURES`.
        width: channels of the hidden point-wise layers of the pair embedding.
        layers: number of hidden point-wise layers (each 1×1 layer + norm + GELU).
        shared: one ``U`` for all encoder layers (ParT); False gives each layer its own heads
            of ``U`` (the hidden layers of the pair embedding are still shared).
    """

    enabled: bool = True
    features: tuple[str, ...] = PAIR_FEATURES
    width: int = 64
    layers: int = 3
    shared: bool = True

    def __post_init__(self) -> None:
        where = type(self).__name__
        check(len(self.features) > 0, where, "features must not be empty")
        unknown = [f for f in self.features if f not in PAIR_FEATURES]
        check(not unknown, where, f"unknown features {unknown}; choose from {PAIR_FEATURES}")
        check(len(set(self.features)) == len(self.features), where, "features repeat")
        check(self.width > 0, where, f"width must be positive, got {self.width}")
        check(self.layers >= 0, where, f"layers must be ≥ 0, got {self.layers}")


def attention_bias(
    key_mask: Tensor,
    query_mask: Tensor | None = None,
    pair_bias: Tensor | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Additive float ``attn_mask`` for :func:`~torch.nn.functional.scaled_dot_product_attention`.

    The entry for (query i, key j) is ``pair_bias[..., i, j]`` (or 0) when key j is real and
    −inf when it is padded. Rows of padded queries (``query_mask`` False) are not masked at all,
    so that no row is entirely −inf (which would make the softmax NaN, e.g. in an event with
    no real object); callers zero the outputs of padded queries instead.

    Args:
        key_mask: ``(B, Nk)`` bool, True = real key.
        query_mask: ``(B, Nq)`` bool, True = real query; None when every query is real.
        pair_bias: float, broadcastable to ``(B, H, Nq, Nk)``, e.g. the interaction ``U``.
        dtype: dtype of the result when ``pair_bias`` is None (default: float32).

    Returns:
        ``(B, 1, 1, Nk)`` without ``query_mask``, otherwise ``(B, 1, Nq, Nk)``, broadcast with
        ``pair_bias``'s shape when given.
    """
    allowed = key_mask[:, None, None, :]  # (B, 1, 1, Nk)
    if query_mask is not None:
        allowed = allowed | ~query_mask[:, None, :, None]  # (B, 1, Nq, Nk)
    if dtype is None:
        dtype = pair_bias.dtype if pair_bias is not None else torch.float32
    bias = torch.zeros(allowed.shape, dtype=dtype, device=key_mask.device)
    bias = bias.masked_fill(~allowed, float("-inf"))
    return bias if pair_bias is None else pair_bias + bias


class MaskedBatchNorm(nn.Module):
    """Batch normalization over the last (channel) dimension, counting only real entries.

    In training the mean and variance of each channel come from the entries where ``mask`` is
    True (so the amount of padding does not change them) and update the running estimates; in
    eval mode the running estimates are used, which makes every entry independent of the rest
    of the batch.
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Normalize ``x: (..., C)``; ``mask: (...)`` bool marks the entries to count."""
        stat_dtype = torch.promote_types(x.dtype, torch.float32)
        if self.training:
            flat = x.reshape(-1, x.shape[-1]).to(stat_dtype)  # (M, C)
            w = mask.reshape(-1, 1).to(stat_dtype)  # (M, 1)
            n = w.sum()
            mean = (flat * w).sum(0) / n.clamp(min=1.0)
            var = ((flat - mean).square() * w).sum(0) / n.clamp(min=1.0)
            with torch.no_grad():
                # No update from a batch without real entries (decided on device: no sync).
                m = torch.where(n > 0, self.momentum, 0.0).to(stat_dtype)
                unbiased = var * n / (n - 1.0).clamp(min=1.0)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * unbiased.detach())
        else:
            mean, var = self.running_mean.to(stat_dtype), self.running_var.to(stat_dtype)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return ((x.to(stat_dtype) - mean) * scale + self.bias).to(x.dtype)


class PairEmbedding(nn.Module):
    """Point-wise embedding of pair features into attention biases, as in ParT.

    Masked batch norm of the K input features, then ``config.layers`` × (1×1 layer of
    ``config.width`` channels, masked batch norm, GELU), then a 1×1 layer to ``out_channels``
    (one per attention head, or per head and layer). The pair features are symmetric in
    (a, b), so the network only runs on the N(N+1)/2 pairs with a ≥ b and the result is
    mirrored. On the CPU it runs only on the pairs of two real objects (a gather and a
    scatter); on CUDA and in ONNX export on the whole triangle (static shapes, no host
    synchronisation) — the values are the same.
    """

    def __init__(self, config: InteractionConfig, out_channels: int) -> None:
        super().__init__()
        self.config = config
        k = len(config.features)
        self.input_norm = MaskedBatchNorm(k)
        widths = [k] + [config.width] * config.layers
        pairs = zip(widths[:-1], widths[1:], strict=True)
        self.hidden = nn.ModuleList(nn.Linear(i, o) for i, o in pairs)
        self.norms = nn.ModuleList(MaskedBatchNorm(config.width) for _ in range(config.layers))
        self.out = nn.Linear(widths[-1], out_channels)
        #: On the CPU, run the network on real pairs only (False: the whole triangle, the
        #: former behaviour; kept for speed comparisons).
        self.real_pairs_only = True

    def _mlp(self, z: Tensor, mask: Tensor) -> Tensor:
        """Norm, hidden layers and output layer on pair features ``z: (..., K)``; ``mask``
        (shape ``z.shape[:-1]``) marks the entries the norms count."""
        z = self.input_norm(z, mask)
        for linear, norm in zip(self.hidden, self.norms, strict=True):
            z = F.gelu(norm(linear(z), mask))  # (..., width)
        return self.out(z)  # (..., C)

    def forward(self, u: Tensor, mask: Tensor) -> Tensor:
        """Embed symmetric pair features.

        Args:
            u: ``(B, N, N, K)`` pair features (only the ``a ≥ b`` triangle is read).
            mask: ``(B, N)`` bool, True = real object.

        Returns:
            ``(B, C, N, N)`` symmetric biases, C = ``out_channels``; 0 on pairs with padding.
        """
        n = mask.shape[1]
        ia, ib = lower_triangle(n, u.device)  # (P,), P = N(N+1)/2
        z = u[:, ia, ib]  # (B, P, K)
        pair_mask = mask[:, ia] & mask[:, ib]  # (B, P)
        if u.is_cuda or not self.real_pairs_only or torch.onnx.is_in_onnx_export():
            z = self._mlp(z, pair_mask)  # (B, P, C)
        else:
            # Only the real pairs go through the network: (M, K) → (M, C), M = real pairs.
            # Same values as the dense form (the norms count real pairs only either way).
            real = pair_mask.nonzero(as_tuple=True)
            out = self._mlp(z[real], pair_mask.new_ones(real[0].shape))  # (M, C)
            z = out.new_zeros((*pair_mask.shape, out.shape[-1])).index_put(real, out)
        z = z.masked_fill(~pair_mask.unsqueeze(-1), 0.0)  # (B, P, C)
        # Index of the unordered pair {a, b} in the triangle: hi (hi + 1) / 2 + lo.
        a = torch.arange(n, device=u.device)
        hi = torch.maximum(a[:, None], a[None, :])
        lo = torch.minimum(a[:, None], a[None, :])
        full = z[:, (hi * (hi + 1) // 2 + lo).reshape(-1)]  # (B, N*N, C)
        return full.view(z.shape[0], n, n, -1).permute(0, 3, 1, 2)  # (B, C, N, N)


def lower_triangle(n: int, device=None) -> tuple[Tensor, Tensor]:
    """Row and column of the pairs a ≥ b in the order of ``torch.tril_indices(n, n)``.

    Pair p sits in row r = ⌊(√(8p + 1) − 1) / 2⌋ (corrected for rounding), column
    p − r(r + 1)/2. Built from ``arange`` so that a symbolic ``n`` stays symbolic when the
    model is traced for export (``torch.tril_indices`` would fix the object count).
    """
    p = torch.arange(n * (n + 1) // 2, device=device)
    r = torch.floor((torch.sqrt(8.0 * p.double() + 1.0) - 1.0) / 2.0).long()
    r = r - (r * (r + 1) // 2 > p).long() + ((r + 1) * (r + 2) // 2 <= p).long()
    return r, p - r * (r + 1) // 2


class MultiheadAttention(nn.Module):
    """Multi-head (cross- or self-) attention with an additive float bias on the logits.

    ``softmax(Q Kᵀ / sqrt(d / H) + attn_bias) V`` per head, via
    :func:`~torch.nn.functional.scaled_dot_product_attention` (fused kernels where available).
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.dim = dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.kv_proj = nn.Linear(dim, 2 * dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def forward(
        self, x: Tensor, context: Tensor | None = None, attn_bias: Tensor | None = None
    ) -> Tensor:
        """Attend from ``x`` to ``context``.

        Args:
            x: ``(B, Nq, d)`` queries' inputs.
            context: ``(B, Nk, d)`` keys' and values' inputs; None for self-attention.
            attn_bias: float, broadcastable to ``(B, H, Nq, Nk)``, added to the logits
                (see :func:`attention_bias`).

        Returns:
            ``(B, Nq, d)``.
        """
        context = x if context is None else context
        b, nq, d = x.shape
        nk, h = context.shape[1], self.num_heads
        q = self.q_proj(x).view(b, nq, h, d // h).transpose(1, 2)  # (B, H, Nq, d/H)
        k, v = self.kv_proj(context).split(d, dim=-1)
        k = k.view(b, nk, h, d // h).transpose(1, 2)  # (B, H, Nk, d/H)
        v = v.view(b, nk, h, d // h).transpose(1, 2)  # (B, H, Nk, d/H)
        if attn_bias is not None:
            attn_bias = attn_bias.to(q.dtype)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_bias, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, Nq, d/H)
        return self.out_proj(y.transpose(1, 2).reshape(b, nq, d))
