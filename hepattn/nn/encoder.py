"""Transformer encoder over sets of objects (jets, towers) with optional P-MHA.

No positional encoding, pre-LayerNorm blocks, and masking such that padded objects neither
attend nor are attended: the encoder is permutation-equivariant in the real objects, and its
outputs do not depend on how many padded objects follow them or what those hold.
"""

from __future__ import annotations

import dataclasses
import logging

import torch
from torch import Tensor, nn

from hepattn.config import Config, check
from hepattn.nn.attention import (
    InteractionConfig,
    MultiheadAttention,
    PairEmbedding,
    attention_bias,
)
from hepattn.physics.pairwise import pair_features

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlocksConfig(Config):
    """What every stack of attention blocks is configured by (:class:`EncoderConfig`,
    :class:`~hepattn.nn.pooling.ClassAttentionConfig`).

    Attributes:
        dim: model width d.
        num_heads: attention heads H (must divide ``dim``).
        num_layers: blocks L.
        mlp_ratio: hidden width of each block's MLP, in units of ``dim``.
        dropout: dropout on the residual branches (attention output and MLP).
        attn_dropout: dropout on the attention weights.
    """

    dim: int = 128
    num_heads: int = 8
    num_layers: int = 8
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    attn_dropout: float = 0.0

    def __post_init__(self) -> None:
        where = type(self).__name__
        for name in ("dim", "num_heads", "num_layers"):
            value = getattr(self, name)
            check(value > 0, where, f"{name} must be positive, got {value}")
        check(self.dim % self.num_heads == 0, where, "dim must be divisible by num_heads")
        check(self.mlp_ratio > 0, where, f"mlp_ratio must be positive, got {self.mlp_ratio}")
        for name in ("dropout", "attn_dropout"):
            value = getattr(self, name)
            check(0.0 <= value < 1.0, where, f"{name} must be in [0, 1), got {value}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EncoderConfig(BlocksConfig):
    """Configuration of :class:`Encoder`: the blocks (:class:`BlocksConfig`), and

    Attributes:
        input_dim: number of per-object input features F.
        embed_hidden: hidden widths of the input embedding MLP F → … → d (GELU between
            layers); empty means a single linear layer.
        interaction: the pairwise interaction bias of P-MHA.
        num_types: object types (input collections: jets, lepton, MET) told apart by a
            learned type embedding added to the input embedding; 0 (default) for one type
            and no embedding.
    """

    input_dim: int
    embed_hidden: tuple[int, ...] = ()
    interaction: InteractionConfig = dataclasses.field(default_factory=InteractionConfig)
    num_types: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        where = type(self).__name__
        check(self.input_dim > 0, where, f"input_dim must be positive, got {self.input_dim}")
        check(all(w > 0 for w in self.embed_hidden), where, "embed_hidden widths must be > 0")
        check(self.num_types >= 0, where, f"num_types must be ≥ 0, got {self.num_types}")


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(d, hidden) → GELU → Linear(hidden, d) → dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.proj = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., d) → (..., d)``."""
        return self.dropout(self.proj(self.act(self.fc(x))))


class EncoderBlock(nn.Module):
    """Pre-LayerNorm transformer block: ``h + Attn(LN(h))`` then ``h + MLP(LN(h))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = MultiheadAttention(dim, num_heads, dropout=attn_dropout)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, round(mlp_ratio * dim), dropout)

    def forward(self, h: Tensor, attn_bias: Tensor | None = None) -> Tensor:
        """``h: (B, N, d)``, ``attn_bias`` broadcastable to ``(B, H, N, N)`` → ``(B, N, d)``."""
        h = h + self.dropout(self.attn(self.ln_1(h), attn_bias=attn_bias))
        return h + self.mlp(self.ln_2(h))


class Encoder(nn.Module):
    """Set encoder: input embedding F → d, L pre-LN (P-)MHA blocks, final LayerNorm.

    With ``config.interaction.enabled`` the pair features of the 4-momenta are embedded into
    one bias per head (:class:`~hepattn.nn.attention.PairEmbedding`) and added to the
    attention logits of every block: the same bias for all blocks when
    ``interaction.shared``, otherwise one per block.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.input_dim, *config.embed_hidden, config.dim]
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            if i > 0:
                layers.append(nn.GELU())
            layers.append(nn.Linear(n_in, n_out))
        self.embed = nn.Sequential(*layers)
        self.type_embed = nn.Embedding(config.num_types, config.dim) if config.num_types else None
        self.blocks = nn.ModuleList(
            EncoderBlock(
                config.dim, config.num_heads, config.mlp_ratio, config.dropout, config.attn_dropout
            )
            for _ in range(config.num_layers)
        )
        self.ln_f = nn.LayerNorm(config.dim)
        inter = config.interaction
        self.pair_embed: PairEmbedding | None = None
        if inter.enabled:
            copies = 1 if inter.shared else config.num_layers
            self.pair_embed = PairEmbedding(inter, copies * config.num_heads)
        logger.debug(
            "Encoder with %d parameters (interaction %s)",
            sum(p.numel() for p in self.parameters()),
            "on" if inter.enabled else "off",
        )

    def attention_biases(
        self, p4: Tensor | None, mask: Tensor, dtype: torch.dtype, transverse: Tensor | None = None
    ) -> list[Tensor]:
        """One additive attention bias per block, each ``(B, H, N, N)`` or ``(B, 1, N, N)``.

        Interaction ``U`` (if enabled; pairs with a ``transverse`` object, the MET, from
        transverse quantities only: :mod:`hepattn.physics.pairwise`) plus −inf on padded keys
        of real queries.
        """
        mask_bias = attention_bias(mask, query_mask=mask, dtype=dtype)  # (B, 1, N, N)
        n_layers = self.config.num_layers
        if self.pair_embed is None:
            return [mask_bias] * n_layers
        if p4 is None:
            raise ValueError("the interaction bias is enabled, so forward() needs p4")
        features = self.config.interaction.features
        u = pair_features(p4, mask, features, transverse=transverse)  # (B, N, N, K)
        u = u.to(self.pair_embed.out.weight.dtype)
        bias = self.pair_embed(u, mask)  # (B, copies * H, N, N)
        if self.config.interaction.shared:
            return [bias + mask_bias] * n_layers
        b, _, n, _ = bias.shape
        bias = bias.view(b, n_layers, self.config.num_heads, n, n)  # (B, L, H, N, N)
        return [bias[:, i] + mask_bias for i in range(n_layers)]

    def forward(
        self,
        x: Tensor,
        p4: Tensor | None,
        mask: Tensor,
        types: Tensor | None = None,
        transverse: Tensor | None = None,
    ) -> Tensor:
        """Encode a padded batch of sets.

        Args:
            x: ``(B, N, F)`` standardized per-object features.
            p4: ``(B, N, 4)`` 4-momenta ``(px, py, pz, E)`` in GeV (may be None when the
                interaction is disabled).
            mask: ``(B, N)`` bool, True = real object. Values in padded slots of ``x`` and
                ``p4`` are never used and get zero gradient.
            types: ``(B, N)`` int64 object types in ``[0, num_types)``; required exactly
                when ``config.num_types > 0``.
            transverse: ``(B, N)`` bool, transverse-only objects (MET) for the pair features.

        Returns:
            ``(B, N, d)``; rows of padded objects are exactly 0.
        """
        keep = mask.unsqueeze(-1)  # (B, N, 1)
        h = self.embed(x.masked_fill(~keep, 0.0))  # (B, N, d)
        if (types is None) != (self.type_embed is None):
            raise ValueError("types are needed exactly when the encoder has num_types > 0")
        if self.type_embed is not None:
            h = h + self.type_embed(types.masked_fill(~mask, 0))
        h = h.masked_fill(~keep, 0.0)
        biases = self.attention_biases(p4, mask, h.dtype, transverse)
        for block, bias in zip(self.blocks, biases, strict=True):
            # Keep padded rows at 0 so they stay finite whatever the depth.
            h = block(h, bias).masked_fill(~keep, 0.0)
        return self.ln_f(h).masked_fill(~keep, 0.0)
