"""Several input collections (jets, a lepton, the MET) as one set for one encoder.

The collections of a topology (:attr:`hepattn.topology.Topology.collections`) are
concatenated along the object axis, the jets first — so that jet indices, the heads' choices,
are the same in the set as in the jet collection — then the others in their declared order.
Each object carries its type, the index of its collection in the topology's declaration (the
encoder's type embedding, ``EncoderConfig.num_types = len(collections)``), and whether it is
transverse-only (the MET: its pair features with every object are transverse, see
:mod:`hepattn.physics.pairwise`). Per-object features of different widths are zero-padded to
the widest; the type embedding tells the encoder which columns mean what.

A MET collection's 4-momentum is ``(MET_x, MET_y, 0, |MET|)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from hepattn.topology import JETS, Topology

__all__ = ["Inputs", "combine_collections"]


@dataclass(frozen=True)
class Inputs:
    """One set of objects from several collections.

    Attributes:
        x: ``float[B, N, F]`` features (zero-padded to the widest collection).
        p4: ``float[B, N, 4]``.
        mask: ``bool[B, N]``, True = real object (any collection): the encoder's mask.
        types: ``int64[B, N]``, the collection index of each slot.
        transverse: ``bool[B, N]``, transverse-only objects.
        head_mask: ``bool[B, N]``, the real jets: the mask of the heads, whose choices are
            jet indices (jets come first).
    """

    x: Tensor
    p4: Tensor
    mask: Tensor
    types: Tensor
    transverse: Tensor
    head_mask: Tensor


def combine_collections(
    topology: Topology, parts: Mapping[str, tuple[Tensor, Tensor, Tensor]]
) -> Inputs:
    """Concatenate ``parts[name] = (x: (B, N_c, F_c), p4: (B, N_c, 4), mask: (B, N_c))`` of
    every collection of ``topology`` (module docstring).

    Raises:
        KeyError: naming a collection of the topology missing from ``parts``, or a part
            that is not a collection of the topology.
        ValueError: a collection with more objects than its ``max_objects``.
    """
    names = [c.name for c in topology.collections]
    missing = [n for n in names if n not in parts]
    extra = [n for n in parts if n not in names]
    if missing or extra:
        raise KeyError(
            f"topology {topology.name!r} reads collections {names}; missing {missing}, "
            f"not in the topology {extra}"
        )
    order = [JETS, *(n for n in names if n != JETS)]
    width = max(parts[n][0].shape[-1] for n in order)
    xs, p4s, masks, types, trans = [], [], [], [], []
    for name in order:
        c = topology.collections[names.index(name)]
        x, p4, mask = parts[name]
        if c.max_objects is not None and x.shape[1] > c.max_objects:
            raise ValueError(
                f"collection {name!r}: {x.shape[1]} object slots, max_objects {c.max_objects}"
            )
        xs.append(torch.nn.functional.pad(x, (0, width - x.shape[-1])))
        p4s.append(p4)
        masks.append(mask)
        # full_like, not full(mask.shape): traceable with symbolic sizes (ONNX export)
        types.append(torch.full_like(mask, names.index(name), dtype=torch.long))
        trans.append(torch.full_like(mask, int(c.transverse), dtype=torch.bool))
    mask = torch.cat(masks, dim=1)  # (B, N)
    head_mask = torch.cat([masks[0], *(torch.zeros_like(m) for m in masks[1:])], dim=1)
    return Inputs(
        torch.cat(xs, 1),
        torch.cat(p4s, 1),
        mask,
        torch.cat(types, 1),
        torch.cat(trans, 1),
        head_mask,
    )
