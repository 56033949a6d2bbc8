"""The tagger's networks, one per kind, behind one front.

A tagger's ``kind`` picks its network: ``transformer`` (:class:`~hepattn.nn.tagger.
TransformerTagger`, P-MHA on or off through ``model.encoder.interaction.enabled``), ``pfn``
(:class:`~hepattn.baselines.pfn.PFN` on the same per-tower features) or ``mass_hl``
(:class:`~hepattn.baselines.mass_hl.MassHLNet` on jet mass + 16 high-level substructure
features, or with ``model.inputs: nsub135`` on jet mass + 135 N-subjettiness values).
:func:`model_config` checks the kind's config, :func:`build_network` builds the network, and
:class:`TaggerNet` gives all three the same call. The number of classes is
that of :data:`hepattn.prong_classes.CLASSES`.
"""

from __future__ import annotations

from torch import Tensor, nn

from hepattn.config import Config, ConfigError
from hepattn.errors import DataError
from hepattn.prong_classes import CLASSES

__all__ = ["NETWORK_KINDS", "TaggerNet", "build_network", "model_config"]

#: The kinds this module builds (``hepattn.tasks.presets.KINDS`` names the same ones).
NETWORK_KINDS: tuple[str, ...] = ("transformer", "pfn", "mass_hl")


class TaggerNet(nn.Module):
    """Uniform front of the three model kinds: ``forward(x, p4, mask, hl) -> logits[B, 7]``."""

    def __init__(self, kind: str, net: nn.Module) -> None:
        super().__init__()
        self.kind = kind
        self.net = net

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor, hl: Tensor | None = None) -> Tensor:
        if self.kind == "transformer":
            return self.net(x, p4, mask)
        if self.kind == "pfn":
            return self.net(x, mask)
        if hl is None:
            raise DataError("a mass_hl tagger needs the high-level features `hl`")
        return self.net(hl)


def model_config(kind: str, model: dict, n_features: int) -> Config:
    """The checked config of the network of ``kind`` (``input_dim`` filled in here)."""
    k = len(CLASSES)
    if kind == "transformer":
        from hepattn.nn.tagger import TaggerConfig

        enc = {**model.get("encoder", {}), "input_dim": n_features}
        return TaggerConfig.from_dict({**model, "encoder": enc, "num_classes": k})
    if kind == "pfn":
        from hepattn.baselines.pfn import PFNConfig

        return PFNConfig.from_dict({**model, "input_dim": n_features, "num_classes": k})
    if kind == "mass_hl":
        from hepattn.baselines.mass_hl import INPUT_SETS, MassHLConfig

        width = len(INPUT_SETS.get(model.get("inputs", "hl16"), ()))  # 0: refused as unknown
        return MassHLConfig.from_dict({"input_dim": width, **model, "num_classes": k})
    raise ConfigError(f"unknown tagger kind {kind!r}; choose one of {NETWORK_KINDS}")


def build_network(kind: str, model: dict, n_features: int) -> TaggerNet:
    """Build the network of ``kind`` from its config dict (``input_dim`` filled in here)."""
    cfg = model_config(kind, model, n_features)
    if kind == "transformer":
        from hepattn.nn.tagger import TransformerTagger

        return TaggerNet(kind, TransformerTagger(cfg))
    if kind == "pfn":
        from hepattn.baselines.pfn import PFN

        return TaggerNet(kind, PFN(cfg))
    from hepattn.baselines.mass_hl import MassHLNet

    return TaggerNet(kind, MassHLNet(cfg))
