"""Frozen dataclass configs built from dicts / YAML, with clear errors."""

import dataclasses

import pytest
import yaml

from hepattn.errors import HepattnError
from hepattn.nn import ClassAttentionConfig, ConfigError, EncoderConfig, InteractionConfig

YAML = """
input_dim: 7
dim: 32
num_heads: 4
num_layers: 3
mlp_ratio: 2
embed_hidden: [64, 32]
interaction:
  features: [ln_delta, ln_m2]
  width: 16
  shared: false
"""


def test_from_yaml_builds_nested_config_with_tuples():
    cfg = EncoderConfig.from_dict(yaml.safe_load(YAML))
    assert cfg.input_dim == 7 and cfg.dim == 32 and cfg.num_heads == 4
    assert cfg.mlp_ratio == 2.0 and isinstance(cfg.mlp_ratio, float)
    assert cfg.embed_hidden == (64, 32)
    assert cfg.interaction == InteractionConfig(
        features=("ln_delta", "ln_m2"), width=16, layers=3, shared=False
    )
    assert EncoderConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict()))) == cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.dim = 64  # type: ignore[misc]


def test_defaults_follow_part():
    cfg = EncoderConfig.from_dict({"input_dim": 4})
    assert (cfg.dim, cfg.num_heads, cfg.num_layers) == (128, 8, 8)
    assert cfg.interaction.enabled and cfg.interaction.shared
    assert cfg.interaction.features == ("ln_delta", "ln_kt", "ln_z", "ln_m2")
    assert (cfg.interaction.width, cfg.interaction.layers) == (64, 3)
    assert ClassAttentionConfig.from_dict({"dim": 16, "num_heads": 2}).num_layers == 2


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"input_dim": 4, "heads": 8}, r"unknown key\(s\) \['heads'\]"),
        ({"input_dim": 4, "interaction": {"widht": 3}}, r"InteractionConfig: unknown key"),
        ({"dim": 16}, r"missing required key\(s\) \['input_dim'\]"),
        ({"input_dim": "7"}, r"EncoderConfig.input_dim: expected an integer"),
        ({"input_dim": 4, "num_layers": True}, r"num_layers: expected an integer"),
        ({"input_dim": 4, "interaction": {"enabled": "yes"}}, r"enabled: expected true/false"),
        ({"input_dim": 4, "interaction": {"features": "ln_m2"}}, r"features: expected a list"),
        ({"input_dim": 4, "interaction": {"features": ["ln_q"]}}, r"unknown features \['ln_q'\]"),
        ({"input_dim": 4, "dim": 30, "num_heads": 8}, r"divisible by num_heads"),
        ({"input_dim": 4, "dropout": 1.5}, r"dropout must be in \[0, 1\)"),
        ({"input_dim": 4, "interaction": []}, r"expected a mapping"),
    ],
)
def test_bad_configs_raise_clear_errors(data, match):
    with pytest.raises(ConfigError, match=match) as info:
        EncoderConfig.from_dict(data)
    assert isinstance(info.value, HepattnError) and isinstance(info.value, ValueError)


def test_non_mapping_is_rejected():
    with pytest.raises(ConfigError, match="expected a mapping"):
        EncoderConfig.from_dict([("input_dim", 4)])  # type: ignore[arg-type]
