"""Mass + HL baseline: inputs from towers and the fully connected network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hepattn.baselines import MassHLConfig, MassHLNet, count_parameters, mass_hl_inputs
from hepattn.baselines.mass_hl import INPUT_SETS, MASS_HL_FEATURES, MASS_NSUB_FEATURES
from hepattn.config import ConfigError
from hepattn.nn.tagger_nets import build_network
from hepattn.physics.substructure import high_level_features, jet_mass, nsubjettiness_basis


def towers(rng: np.random.Generator, b: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(b, n, 4)`` float32 massless towers around one axis and a ragged mask."""
    pt = rng.exponential(20.0, (b, n)) + 1.0
    eta, phi = rng.normal(0.2, 0.4, (b, n)), rng.normal(-1.0, 0.4, (b, n))
    p4 = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], -1)
    mask = np.arange(n)[None, :] < rng.integers(1, n + 1, b)[:, None]
    return torch.tensor(p4 * mask[..., None], dtype=torch.float32), torch.tensor(mask)


def test_inputs_shape_and_content():
    p4, mask = towers(np.random.default_rng(0), 5, 20)
    inputs = mass_hl_inputs(p4, mask)
    assert len(MASS_HL_FEATURES) == 17 and MASS_HL_FEATURES[0] == "mass"
    assert inputs.shape == (5, 17) and inputs.dtype == torch.float32
    assert torch.isfinite(inputs).all()
    torch.testing.assert_close(inputs[:, 0], jet_mass(p4, mask))
    torch.testing.assert_close(inputs[:, 1:], high_level_features(p4, mask))


def test_inputs_are_tower_order_invariant():
    p4, mask = towers(np.random.default_rng(1), 4, 24)
    perm = torch.randperm(24)
    torch.testing.assert_close(
        mass_hl_inputs(p4[:, perm], mask[:, perm]), mass_hl_inputs(p4, mask), rtol=1e-5, atol=1e-5
    )


def test_network_shapes_and_size():
    torch.manual_seed(0)
    net = MassHLNet(MassHLConfig())
    assert net(torch.randn(8, 17)).shape == (8, 7)
    expected = (17 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 7 + 7)
    assert count_parameters(net) == expected
    net.eval()
    x = torch.randn(3, 17)
    torch.testing.assert_close(net(x)[1:2], net(x[1:2]))


def test_config_validation():
    config = MassHLConfig(hidden=(64, 32), dropout=0.0)
    assert MassHLConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError):
        MassHLConfig(dropout=1.5)


def test_nsub135_inputs_and_network():
    p4, mask = towers(np.random.default_rng(2), 4, 60)
    inputs = mass_hl_inputs(p4, mask, inputs="nsub135")
    assert len(MASS_NSUB_FEATURES) == 136 and INPUT_SETS["nsub135"] == MASS_NSUB_FEATURES
    assert inputs.shape == (4, 136) and torch.isfinite(inputs).all()
    torch.testing.assert_close(inputs[:, 0], jet_mass(p4, mask))
    torch.testing.assert_close(inputs[:, 1:], nsubjettiness_basis(p4, mask))
    net = build_network("mass_hl", {"inputs": "nsub135", "hidden": [32]}, n_features=7)
    assert net.net.config.input_dim == 136
    assert net(None, None, None, torch.randn(4, 136)).shape == (4, 7)
    with pytest.raises(ValueError, match="inputs must be one of"):
        mass_hl_inputs(p4, mask, inputs="nsub")
    with pytest.raises(ConfigError, match="inputs must be one of"):
        MassHLConfig(inputs="nsub")
    with pytest.raises(ConfigError, match="input_dim must be 136"):
        MassHLConfig(inputs="nsub135")  # the default input_dim is the 17 of hl16
