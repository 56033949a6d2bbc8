"""ONNX export hooks of the tagger (:mod:`hepattn.export`): graph, example inputs, metadata.

Inputs ``x[B, N, F]``, ``p4[B, N, 4]``, ``mask: bool[B, N]`` (a PFN has no ``p4``); a
``mass_hl`` tagger ``hl[B, 17]`` (``hl[B, 136]`` with the 135 N-subjettiness inputs) instead.
Output ``probabilities[B, 7]``, the softmax over the classes
(:data:`hepattn.prong_classes.CLASSES`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from hepattn.errors import HepattnError

__all__ = ["TaggerExport"]


class _Probabilities(nn.Module):
    """``(x, p4, mask) -> softmax probabilities [B, 7]`` of a transformer or PFN tagger."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor) -> Tensor:
        return torch.softmax(self.net(x, p4, mask), dim=-1)


class _MassHLProbabilities(nn.Module):
    """``hl -> softmax probabilities [B, 7]`` of a mass + high-level-features tagger."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, hl: Tensor) -> Tensor:
        return torch.softmax(self.net(None, None, None, hl), dim=-1)


def example_objects(n_feat: int, others: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Two events of five objects (the second with two padded), seeded: ``(x, p4, mask)``."""
    g = torch.Generator().manual_seed(0)
    p4 = torch.randn(2, 5, 4, generator=g) * 20.0
    p4[..., 3] = p4[..., :3].norm(dim=-1) + 1.0
    x = torch.randn(2, 5, n_feat, generator=g)
    return x, p4, torch.tensor([[True] * 5, [True] * 3 + [False] * 2])


def objects_metadata(std, what: str) -> dict[str, Any]:
    """The inputs and preprocessing text of an ``(x, p4, mask)`` graph over ``what``."""
    return {
        "inputs": {
            "x": {"dtype": "float32", "shape": ["B", "N", len(std.features)]},
            "p4": {"dtype": "float32", "shape": ["B", "N", 4], "components": "px,py,pz,E"},
            "mask": {"dtype": "bool", "shape": ["B", "N"]},
        },
        "preprocessing": (
            f"Objects = the {what}, sorted by decreasing pT and truncated to max_objects (any N "
            "is accepted), real objects first then padding. x[b, n] = per-object features in "
            "the order of feature_names, standardized as (value - feature_means) / "
            "feature_stds; p4[b, n] = (px, py, pz, E) in GeV, not standardized; mask[b, n] = "
            "True for a real object, False for padding (padded values are ignored)."
        ),
        "feature_names": list(std.features),
        "feature_means": list(std.mean),
        "feature_stds": list(std.std),
    }


class TaggerExport:
    """The export hooks of a loaded tagger."""

    def __init__(self, loaded, decode: bool, decode_k: int) -> None:
        if decode:
            raise HepattnError("--decode applies to matchers (the assignment), not to the tagger")
        self.loaded = loaded
        self.kind = getattr(loaded.run, "kind", "transformer")

    def check_dynamo(self) -> None:
        """Every tagger exports with the ``torch.export`` exporter."""

    def module(self) -> nn.Module:
        net = self.loaded.net.eval()
        return _MassHLProbabilities(net) if self.kind == "mass_hl" else _Probabilities(net)

    def inputs(self) -> tuple[tuple[Tensor, ...], list[str], dict[str, dict[int, str]]]:
        """(example arguments, input names, their dynamic axes)."""
        if self.kind == "mass_hl":
            n_hl = len(self.loaded.standardizers["jet"].features)
            return (torch.zeros(2, n_hl),), ["hl"], {"hl": {0: "batch"}}
        args = example_objects(len(self.loaded.run.data.features))
        names = ["x", "p4", "mask"]
        return args, names, {name: {0: "batch", 1: "objects"} for name in names}

    def outputs(self) -> tuple[list[str], dict[str, dict[int, str]]]:
        return ["probabilities"], {"probabilities": {0: "batch"}}

    def metadata(self) -> dict[str, Any]:
        from hepattn.tasks.presets import CLASSES

        run = self.loaded.run
        meta: dict[str, Any] = {"task": "tagger", "kind": self.kind}
        meta.update(
            schema=run.data.schema, collection=run.data.collection, max_objects=run.data.max_objects
        )
        if self.kind == "mass_hl":
            from hepattn.tasks.tagging import HL_MAX_TOWERS

            std = self.loaded.standardizers["jet"]
            meta["inputs"] = {"hl": {"dtype": "float32", "shape": ["B", len(std.features)]}}
            what = {
                "hl16": "16 high-level substructure features",
                "nsub135": "135 N-subjettiness values tau_N^beta, N = 1..45, beta = 0.5, 1, 2",
            }[run.model.get("inputs", "hl16")]
            meta["preprocessing"] = (
                f"hl = (jet mass, {what}) computed from the jet's "
                f"towers (the {HL_MAX_TOWERS} leading in pT), in the order "
                "of feature_names, standardized as (value - feature_means) / feature_stds."
            )
            meta.update(
                feature_names=list(std.features),
                feature_means=list(std.mean),
                feature_stds=list(std.std),
            )
        else:
            meta.update(objects_metadata(self.loaded.standardizers["objects"], "towers of the jet"))
            if self.kind == "pfn":  # the PFN does not read the 4-momenta: no p4 input
                del meta["inputs"]["p4"]
                meta["preprocessing"] += " A PFN has no p4 input."
        meta["outputs"] = {"probabilities": {"dtype": "float32", "shape": ["B", len(CLASSES)]}}
        meta["class_order"] = list(CLASSES)
        return meta
