"""Mass + HL baseline: a fully connected network on the jet mass and 16 high-level features.

The 17 inputs are ``[m_J, *HL_FEATURES]`` from :func:`mass_hl_inputs` (see
:mod:`hepattn.physics.substructure` for the definition of each feature); the caller
standardizes them (e.g. with statistics fitted on the training set) before
:meth:`MassHLNet.forward`. The network is ``[Linear → ReLU → Dropout] × len(hidden) → Linear``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from hepattn.config import Config, check
from hepattn.physics.substructure import HL_FEATURES, high_level_features, jet_mass

#: Names of the 17 inputs of :class:`MassHLNet`, in order.
MASS_HL_FEATURES: tuple[str, ...] = ("mass", *HL_FEATURES)


@dataclasses.dataclass(frozen=True)
class MassHLConfig(Config):
    """Configuration of :class:`MassHLNet`.

    Attributes:
        input_dim: number of jet-level inputs (17: the jet mass and the 16 HL features).
        hidden: widths of the hidden layers.
        num_classes: number of output logits C.
        dropout: dropout after each hidden layer.
    """

    input_dim: int = len(MASS_HL_FEATURES)
    hidden: tuple[int, ...] = (256, 256, 256)
    num_classes: int = 7
    dropout: float = 0.1

    def __post_init__(self) -> None:
        where = type(self).__name__
        check(self.input_dim > 0, where, f"input_dim must be positive, got {self.input_dim}")
        check(self.num_classes > 0, where, f"num_classes must be positive, got {self.num_classes}")
        check(all(w > 0 for w in self.hidden), where, "hidden widths must be > 0")
        check(0.0 <= self.dropout < 1.0, where, f"dropout must be in [0, 1), got {self.dropout}")


class MassHLNet(nn.Module):
    """Fully connected classifier: ``features (B, input_dim) → logits (B, C)``."""

    def __init__(self, config: MassHLConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        fan_in = config.input_dim
        for width in config.hidden:
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            fan_in = width
        layers.append(nn.Linear(fan_in, config.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, features: Tensor) -> Tensor:
        """Class logits ``(B, C)`` of standardized jet-level ``features (B, input_dim)``."""
        return self.net(features)


def mass_hl_inputs(p4: Tensor, mask: Tensor, chunk_size: int = 256) -> Tensor:
    """The 17 unstandardized inputs ``[m_J, *HL_FEATURES]`` of the towers of each jet.

    Args:
        p4: ``(B, N, 4)`` tower 4-momenta ``(px, py, pz, E)`` in GeV.
        mask: ``(B, N)`` bool, True for real towers.
        chunk_size: jets per chunk of :func:`~hepattn.physics.substructure.high_level_features`.

    Returns:
        ``(B, 17)`` float32, columns in :data:`MASS_HL_FEATURES` order; independent of the
        order of the towers and of padding.
    """
    with torch.no_grad():
        mass = jet_mass(p4, mask).unsqueeze(-1)  # (B, 1)
        return torch.cat([mass, high_level_features(p4, mask, chunk_size=chunk_size)], dim=-1)


__all__ = ["MASS_HL_FEATURES", "MassHLConfig", "MassHLNet", "mass_hl_inputs"]
