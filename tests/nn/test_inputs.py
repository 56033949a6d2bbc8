"""Several collections in one encoder: the set's layout, the type embedding, and transverse
pair features for the MET."""

from __future__ import annotations

import pytest
import torch

from hepattn.nn.encoder import Encoder, EncoderConfig
from hepattn.nn.inputs import combine_collections
from hepattn.physics.pairwise import PAIR_FEATURES, pair_features, transverse_p4
from hepattn.topology import TOPOLOGIES, TTBAR_ALLHAD

LJETS = TOPOLOGIES["ttbar-ljets"]


def parts(b=2, n=5, seed=0):
    g = torch.Generator().manual_seed(seed)

    def obj(k, f, transverse=False):
        p3 = torch.randn(b, k, 3, generator=g, dtype=torch.float64) * 40
        if transverse:
            p3[..., 2] = 0
        p4 = torch.cat([p3, (p3.norm(dim=-1, keepdim=True) ** 2 + 25).sqrt()], -1)
        return (
            torch.randn(b, k, f, generator=g, dtype=torch.float64),
            p4,
            torch.ones(b, k, dtype=torch.bool),
        )

    jets = obj(n, 4)
    jets[2][1, 3:] = False
    return {"met": obj(1, 2, True), "jets": jets, "lepton": obj(1, 3)}


def test_combined_layout_jets_first_types_and_head_mask():
    p = parts()
    i = combine_collections(LJETS, p)
    assert i.x.shape == (2, 7, 4) and i.p4.shape == (2, 7, 4)
    assert i.types[0].tolist() == [0] * 5 + [1, 2]  # jets, lepton, met: declared order
    assert i.transverse[0].tolist() == [False] * 6 + [True]
    assert i.mask[1].tolist() == [True] * 3 + [False] * 2 + [True] * 2
    assert i.head_mask[1].tolist() == [True] * 3 + [False] * 4
    torch.testing.assert_close(i.x[:, 6, 2:], torch.zeros(2, 2, dtype=torch.float64))  # padded
    torch.testing.assert_close(i.p4[:, :5], p["jets"][1])
    with pytest.raises(KeyError, match=r"missing \['met'\]"):
        combine_collections(LJETS, {k: v for k, v in p.items() if k != "met"})
    with pytest.raises(KeyError, match=r"not in the topology \['met', 'lepton'\]"):
        combine_collections(TTBAR_ALLHAD, p)
    two = dict(p, met=tuple(torch.cat([t, t], 1) for t in p["met"]))
    with pytest.raises(ValueError, match="'met': 2 object slots, max_objects 1"):
        combine_collections(LJETS, two)


def test_pairs_with_the_met_are_transverse_and_others_unchanged():
    i = combine_collections(LJETS, parts())
    full = pair_features(i.p4, i.mask)
    mixed = pair_features(i.p4, i.mask, transverse=i.transverse)
    tr = pair_features(transverse_p4(i.p4), i.mask)
    torch.testing.assert_close(mixed[:, :6, :6], full[:, :6, :6])  # no MET: 3-D features
    torch.testing.assert_close(mixed[:, 6], tr[:, 6])  # with the MET: transverse
    torch.testing.assert_close(mixed[:, :, 6], tr[:, :, 6])
    torch.testing.assert_close(mixed, mixed.transpose(1, 2))
    # ln m² with the MET is the transverse mass²: (E_Ta + E_Tb)² − |pT_a + pT_b|²
    a, b = i.p4[0, 0], i.p4[0, 6]
    et = lambda p: (p[3] ** 2 - p[2] ** 2).sqrt()  # noqa: E731
    mt2 = (et(a) + et(b)) ** 2 - ((a[:2] + b[:2]) ** 2).sum()
    k = PAIR_FEATURES.index("ln_m2")
    torch.testing.assert_close(mixed[0, 0, 6, k], mt2.log())


def test_type_embedding_is_optional_and_tells_collections_apart():
    cfg = EncoderConfig.from_dict({"input_dim": 4, "dim": 8, "num_heads": 2, "num_layers": 1})
    plain = Encoder(cfg)
    assert plain.type_embed is None and not any("type_embed" in k for k in plain.state_dict())
    typed = Encoder(EncoderConfig.from_dict({**cfg.to_dict(), "num_types": 3})).double()
    i = combine_collections(LJETS, parts())
    h = typed(i.x, i.p4, i.mask, i.types, i.transverse)
    other = typed(i.x, i.p4, i.mask, torch.zeros_like(i.types), i.transverse)
    assert not torch.allclose(h[:, :5], other[:, :5])
    assert (h[1, 3:5] == 0).all()  # padded jets stay 0
    with pytest.raises(ValueError, match="types are needed exactly"):
        typed(i.x, i.p4, i.mask)
    # the MET's gradient stays finite through the transverse projection
    p4 = i.p4.clone().requires_grad_(True)
    typed(i.x, p4, i.mask, i.types, i.transverse).sum().backward()
    assert torch.isfinite(p4.grad).all()
