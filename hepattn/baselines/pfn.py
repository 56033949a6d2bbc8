"""Particle Flow Network (Komiske, Metodiev, Thaler, arXiv:1810.05165) on tower lists.

``logits = F( Σ_i mask_i · Φ(x_i) )``: a per-tower MLP Φ maps each tower's features to a
latent vector, the latents of the real towers are summed (a symmetric function, so the output
is invariant to the order of the towers), and an MLP F maps the sum to class logits. Padded
towers contribute exactly nothing: their inputs are zeroed before Φ (so garbage such as NaN
cannot leak in, and they receive a zero gradient) and their latents are zeroed before the sum.
There is no attention and no pairwise information: this is the "no attention" baseline of
REFERENCE §3.
"""

from __future__ import annotations

import dataclasses

from torch import Tensor, nn

from hepattn.config import Config, check


@dataclasses.dataclass(frozen=True)
class PFNConfig(Config):
    """Configuration of :class:`PFN`.

    Attributes:
        input_dim: number of per-tower input features F.
        phi_sizes: widths of the per-tower network Φ; the last one is the latent size ℓ.
        f_sizes: hidden widths of the network F acting on the summed latent.
        num_classes: number of output logits C.
        dropout: dropout after each hidden layer of F.
    """

    input_dim: int
    phi_sizes: tuple[int, ...] = (100, 100, 128)
    f_sizes: tuple[int, ...] = (100, 100, 100)
    num_classes: int = 7
    dropout: float = 0.0

    def __post_init__(self) -> None:
        where = type(self).__name__
        check(self.input_dim > 0, where, f"input_dim must be positive, got {self.input_dim}")
        check(self.num_classes > 0, where, f"num_classes must be positive, got {self.num_classes}")
        check(len(self.phi_sizes) > 0, where, "phi_sizes needs at least one layer")
        check(all(w > 0 for w in self.phi_sizes), where, "phi_sizes widths must be > 0")
        check(all(w > 0 for w in self.f_sizes), where, "f_sizes widths must be > 0")
        check(0.0 <= self.dropout < 1.0, where, f"dropout must be in [0, 1), got {self.dropout}")


def _mlp(sizes: tuple[int, ...], dropout: float, final_activation: bool) -> nn.Sequential:
    """``Linear → ReLU (→ Dropout)`` for each consecutive pair of ``sizes``."""
    layers: list[nn.Module] = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        if final_activation or k < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class PFN(nn.Module):
    """Particle Flow Network: ``(x (B, N, F), mask (B, N)) → logits (B, C)``."""

    def __init__(self, config: PFNConfig) -> None:
        super().__init__()
        self.config = config
        self.phi = _mlp((config.input_dim, *config.phi_sizes), 0.0, final_activation=True)
        self.f = _mlp(
            (config.phi_sizes[-1], *config.f_sizes, config.num_classes),
            config.dropout,
            final_activation=False,
        )

    def latent(self, x: Tensor, mask: Tensor) -> Tensor:
        """The pooled latent ``Σ_i mask_i Φ(x_i)``: ``(B, N, F), (B, N) → (B, ℓ)``."""
        keep = mask.bool().unsqueeze(-1)  # (B, N, 1)
        h = self.phi(x.masked_fill(~keep, 0.0))  # (B, N, ℓ)
        return h.masked_fill(~keep, 0.0).sum(dim=1)  # (B, ℓ)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Class logits ``(B, C)`` of the tower sets ``x (B, N, F)`` with ``mask (B, N)``."""
        return self.f(self.latent(x, mask))


__all__ = ["PFN", "PFNConfig"]
