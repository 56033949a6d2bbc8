"""Particle Flow Network baseline: symmetries, masking and size."""

from __future__ import annotations

import pytest
import torch

from hepattn.baselines import PFN, PFNConfig, count_parameters
from hepattn.config import ConfigError


def model(**kwargs) -> PFN:
    torch.manual_seed(0)
    return PFN(PFNConfig(input_dim=5, **kwargs)).double().eval()


def test_shapes_and_parameter_count():
    net = model()
    x, mask = torch.randn(3, 11, 5, dtype=torch.float64), torch.ones(3, 11, dtype=torch.bool)
    assert net(x, mask).shape == (3, 7)
    # Φ: 5→100→100→128, F: 128→100→100→100→7 (weights + biases)
    expected = (5 * 100 + 100) + (100 * 100 + 100) + (100 * 128 + 128)
    expected += (128 * 100 + 100) + 2 * (100 * 100 + 100) + (100 * 7 + 7)
    assert count_parameters(net) == expected


def test_permutation_invariance():
    net = model()
    x, mask = torch.randn(4, 9, 5, dtype=torch.float64), torch.rand(4, 9) > 0.3
    perm = torch.randperm(9)
    torch.testing.assert_close(net(x[:, perm], mask[:, perm]), net(x, mask), rtol=1e-10, atol=1e-10)


def test_padding_contributes_nothing():
    net = model()
    x, mask = torch.randn(2, 6, 5, dtype=torch.float64), torch.ones(2, 6, dtype=torch.bool)
    pad = torch.full((2, 10, 5), float("nan"), dtype=torch.float64)
    x_pad = torch.cat([x, pad], dim=1)
    mask_pad = torch.cat([mask, torch.zeros(2, 10, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(net(x_pad, mask_pad), net(x, mask), rtol=0, atol=0)
    # A jet alone equals the same jet inside a padded batch (its last two towers masked).
    mask_pad[0, 4:6] = False
    alone = net(x[:1, :4], mask[:1, :4])
    torch.testing.assert_close(net(x_pad, mask_pad)[:1], alone, rtol=1e-12, atol=1e-12)


def test_no_gradient_to_padded_slots():
    net = model(dropout=0.2).train()
    x = torch.randn(2, 8, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True] * 5 + [False] * 3, [True] * 8])
    net(x, mask).sum().backward()
    assert torch.all(x.grad[0, 5:] == 0.0)
    assert torch.any(x.grad[0, :5] != 0.0)


def test_config_round_trip_and_validation():
    config = PFNConfig(input_dim=7, phi_sizes=(32, 64), dropout=0.1)
    assert PFNConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError):
        PFNConfig(input_dim=0)
    with pytest.raises(ConfigError):
        PFNConfig.from_dict({"input_dim": 7, "phi": [1]})
