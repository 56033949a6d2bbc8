"""Permutation-invariant pooling of an encoded set ``(B, N, d)`` into one vector ``(B, d)``."""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from hepattn.nn.attention import attention_bias
from hepattn.nn.encoder import BlocksConfig, EncoderBlock


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean over the real objects: ``Σ_i mask_i h_i / max(Σ_i mask_i, 1)``.

    ``h: (B, N, d)``, ``mask: (B, N)`` bool → ``(B, d)``; 0 for an event with no real object.
    """
    keep = mask.unsqueeze(-1)  # (B, N, 1)
    count = keep.sum(1).clamp(min=1).to(h.dtype)  # (B, 1)
    return h.masked_fill(~keep, 0.0).sum(1) / count


class MaskedMeanPooling(nn.Module):
    """Module form of :func:`masked_mean`."""

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        """``h: (B, N, d)``, ``mask: (B, N)`` → ``(B, d)``."""
        return masked_mean(h, mask)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassAttentionConfig(BlocksConfig):
    """Configuration of :class:`ClassAttentionPooling`: its blocks (:class:`~hepattn.nn.
    encoder.BlocksConfig`), ``dim`` the width of the encoded objects (the encoder's ``dim``),
    ``num_layers`` class-attention blocks (ParT uses 2)."""

    dim: int
    num_layers: int = 2


class ClassAttentionBlock(EncoderBlock):
    """CaiT/ParT class-attention block: only the class token is updated.

    ``u = LN([cls, h])``; ``cls ← cls + Attn(query = u_cls, keys/values = u)``;
    ``cls ← cls + MLP(LN(cls))`` — the layers of an :class:`~hepattn.nn.encoder.EncoderBlock`
    (same arguments), applied to the class token.
    """

    def forward(self, cls: Tensor, h: Tensor, attn_bias: Tensor) -> Tensor:
        """``cls: (B, 1, d)``, ``h: (B, N, d)``, ``attn_bias: (B, 1, 1, 1 + N)`` → ``(B, 1, d)``."""
        u = self.ln_1(torch.cat([cls, h], dim=1))  # (B, 1 + N, d)
        cls = cls + self.dropout(self.attn(u[:, :1], context=u, attn_bias=attn_bias))
        return cls + self.mlp(self.ln_2(cls))


class ClassAttentionPooling(nn.Module):
    """A learnable class token attends to the encoded set through a few class-attention blocks.

    The class token is always a valid key, so an event with no real object still gets a
    finite output (the same for every such event).
    """

    def __init__(self, config: ClassAttentionConfig) -> None:
        super().__init__()
        self.config = config
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.blocks = nn.ModuleList(
            ClassAttentionBlock(
                config.dim, config.num_heads, config.mlp_ratio, config.dropout, config.attn_dropout
            )
            for _ in range(config.num_layers)
        )
        self.ln_f = nn.LayerNorm(config.dim)

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        """``h: (B, N, d)`` encoded objects, ``mask: (B, N)`` bool (True = real) → ``(B, d)``."""
        b = h.shape[0]
        h = h.masked_fill(~mask.unsqueeze(-1), 0.0)
        key_mask = torch.cat([mask.new_ones(b, 1), mask], dim=1)  # (B, 1 + N): class token first
        bias = attention_bias(key_mask, dtype=h.dtype)  # (B, 1, 1, 1 + N)
        cls = self.cls_token.expand(b, -1, -1)  # (B, 1, d)
        for block in self.blocks:
            cls = block(cls, h, bias)
        return self.ln_f(cls).squeeze(1)
