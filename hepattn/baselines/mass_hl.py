"""Mass + HL baseline: a fully connected network on the jet mass and high-level features.

Two input sets (``MassHLConfig.inputs``), both computed from all towers by
:func:`mass_hl_inputs` (see :mod:`hepattn.physics.substructure` for each feature):

- ``hl16``: the 17 inputs ``[m_J, *HL_FEATURES]`` (τ_1…τ_8, τ ratios, e2, C2, D2, tower count),
  the paper's "jet mass plus 16 high-level features";
- ``nsub135``: the 136 inputs ``[m_J, *NSUB_FEATURES]``, the N-subjettiness basis
  ``τ_N^(β)``, N = 1…45, β ∈ {0.5, 1, 2}, the work's abstract's "135 N-subjettiness values
  plus mass" (the ``mass_hl135`` tagger kind).

The caller standardizes them (e.g. with statistics fitted on the training set) before
:meth:`MassHLNet.forward`. The network is ``[Linear → ReLU → Dropout] × len(hidden) → Linear``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from hepattn.config import Config, check
from hepattn.physics.substructure import (
    HL_FEATURES,
    NSUB_FEATURES,
    high_level_features,
    jet_mass,
    nsubjettiness_basis,
)

#: Names of the 17 inputs of the ``hl16`` set, in order.
MASS_HL_FEATURES: tuple[str, ...] = ("mass", *HL_FEATURES)
#: Names of the 136 inputs of the ``nsub135`` set, in order.
MASS_NSUB_FEATURES: tuple[str, ...] = ("mass", *NSUB_FEATURES)
#: The input sets by name.
INPUT_SETS: dict[str, tuple[str, ...]] = {"hl16": MASS_HL_FEATURES, "nsub135": MASS_NSUB_FEATURES}


@dataclasses.dataclass(frozen=True)
class MassHLConfig(Config):
    """Configuration of :class:`MassHLNet`.

    Attributes:
        input_dim: number of jet-level inputs, that of the ``inputs`` set (17 or 136).
        hidden: widths of the hidden layers.
        num_classes: number of output logits C.
        dropout: dropout after each hidden layer.
        inputs: the input set, a key of :data:`INPUT_SETS` (``hl16`` or ``nsub135``).
    """

    input_dim: int = len(MASS_HL_FEATURES)
    hidden: tuple[int, ...] = (256, 256, 256)
    num_classes: int = 7
    dropout: float = 0.1
    inputs: str = "hl16"

    def __post_init__(self) -> None:
        where = type(self).__name__
        check(self.inputs in INPUT_SETS, where, f"inputs must be one of {list(INPUT_SETS)}")
        n = len(INPUT_SETS[self.inputs])
        check(
            self.input_dim == n,
            where,
            f"input_dim must be {n}, the size of the {self.inputs!r} inputs, got {self.input_dim}",
        )
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


def mass_hl_inputs(p4: Tensor, mask: Tensor, chunk_size: int = 256, inputs: str = "hl16") -> Tensor:
    """The unstandardized inputs ``[m_J, *features]`` of the towers of each jet.

    Args:
        p4: ``(B, N, 4)`` tower 4-momenta ``(px, py, pz, E)`` in GeV.
        mask: ``(B, N)`` bool, True for real towers.
        chunk_size: jets per chunk of the feature computation
            (:func:`~hepattn.physics.substructure.high_level_features`,
            :func:`~hepattn.physics.substructure.nsubjettiness_basis`).
        inputs: the input set (:data:`INPUT_SETS`): ``hl16`` or ``nsub135``.

    Returns:
        ``(B, F)`` float32 (F = 17 or 136), columns in ``INPUT_SETS[inputs]`` order;
        independent of the order of the towers and of padding.
    """
    if inputs not in INPUT_SETS:
        raise ValueError(f"inputs must be one of {list(INPUT_SETS)}, got {inputs!r}")
    features = high_level_features if inputs == "hl16" else nsubjettiness_basis
    with torch.no_grad():
        mass = jet_mass(p4, mask).unsqueeze(-1)  # (B, 1)
        return torch.cat([mass, features(p4, mask, chunk_size=chunk_size)], dim=-1)


__all__ = [
    "INPUT_SETS",
    "MASS_HL_FEATURES",
    "MASS_NSUB_FEATURES",
    "MassHLConfig",
    "MassHLNet",
    "mass_hl_inputs",
]
