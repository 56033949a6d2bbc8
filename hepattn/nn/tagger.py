"""Set-transformer jet tagger: towers → P-MHA encoder → pooling → class logits.

``TransformerTagger(config)(x, p4, mask) -> logits[B, C]`` with ``x: float[B, N, F]``
standardized per-tower features, ``p4: float[B, N, 4]`` (px, py, pz, E) for the pairwise
interaction matrix, ``mask: bool[B, N]`` True = real tower. The output does not depend on
the order of the towers nor on padding (the encoder is permutation-equivariant and the
pooling permutation-invariant).
"""

from __future__ import annotations

import dataclasses

from torch import Tensor, nn

from hepattn.config import Config, check
from hepattn.nn.encoder import Encoder, EncoderConfig
from hepattn.nn.pooling import ClassAttentionConfig, ClassAttentionPooling, MaskedMeanPooling

__all__ = ["TaggerConfig", "TransformerTagger"]


@dataclasses.dataclass(frozen=True)
class TaggerConfig(Config):
    """Configuration of :class:`TransformerTagger`.

    Attributes:
        encoder: the set encoder (its ``interaction`` switches P-MHA on or off).
        pooling: ``"class_attention"`` (a class token attends to the encoded towers, as in
            ParT) or ``"mean"`` (masked mean).
        class_layers: class-attention blocks when ``pooling`` is ``"class_attention"``.
        head_hidden: hidden widths of the MLP from the pooled vector to the logits.
        num_classes: output classes C.
        dropout: dropout in the head.
    """

    encoder: EncoderConfig
    pooling: str = "class_attention"
    class_layers: int = 2
    head_hidden: tuple[int, ...] = ()
    num_classes: int = 7
    dropout: float = 0.0

    def __post_init__(self) -> None:
        where = type(self).__name__
        check(
            self.pooling in ("class_attention", "mean"),
            where,
            f"pooling must be 'class_attention' or 'mean', got {self.pooling!r}",
        )
        check(self.num_classes > 1, where, "num_classes must be at least 2")


class TransformerTagger(nn.Module):
    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        self.config = config
        enc = config.encoder
        self.encoder = Encoder(enc)
        if config.pooling == "class_attention":
            self.pool = ClassAttentionPooling(
                ClassAttentionConfig(
                    dim=enc.dim,
                    num_heads=enc.num_heads,
                    num_layers=config.class_layers,
                    mlp_ratio=enc.mlp_ratio,
                    dropout=enc.dropout,
                    attn_dropout=enc.attn_dropout,
                )
            )
        else:
            self.pool = MaskedMeanPooling()
        layers: list[nn.Module] = []
        width = enc.dim
        for hidden in config.head_hidden:
            layers += [nn.Linear(width, hidden), nn.GELU(), nn.Dropout(config.dropout)]
            width = hidden
        layers.append(nn.Linear(width, config.num_classes))
        self.head = nn.Sequential(*layers)

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor) -> Tensor:
        """``x: (B, N, F)``, ``p4: (B, N, 4)``, ``mask: (B, N)`` → logits ``(B, C)``."""
        h = self.encoder(x, p4, mask)  # (B, N, d)
        return self.head(self.pool(h, mask))  # (B, C)
