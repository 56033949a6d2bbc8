"""Neural-network building blocks: masked (P-)MHA, the set encoder and set pooling.

Matching, any declared topology (imported from their modules): :mod:`hepattn.nn.matcher`
(the network, its loss and detection head), :mod:`hepattn.nn.inputs` (several collections in
one set), :mod:`hepattn.nn.heads` (tensor attention heads of order 1–3) and
:mod:`hepattn.nn.decoding` (exact joint decoding).

Tagging (imported from their modules): :mod:`hepattn.nn.tagger` (the transformer tagger) and
:mod:`hepattn.nn.tagger_nets` (the network of each tagger kind, behind one front).

Each top-level module takes its own frozen dataclass config, buildable from a dict
(``EncoderConfig.from_dict(yaml.safe_load(text))``).
"""

from hepattn.config import Config, ConfigError
from hepattn.nn.attention import (
    InteractionConfig,
    MaskedBatchNorm,
    MultiheadAttention,
    PairEmbedding,
    attention_bias,
)
from hepattn.nn.encoder import MLP, Encoder, EncoderBlock, EncoderConfig
from hepattn.nn.pooling import (
    ClassAttentionBlock,
    ClassAttentionConfig,
    ClassAttentionPooling,
    MaskedMeanPooling,
    masked_mean,
)

__all__ = [
    "MLP",
    "ClassAttentionBlock",
    "ClassAttentionConfig",
    "ClassAttentionPooling",
    "Config",
    "ConfigError",
    "Encoder",
    "EncoderBlock",
    "EncoderConfig",
    "InteractionConfig",
    "MaskedBatchNorm",
    "MaskedMeanPooling",
    "MultiheadAttention",
    "PairEmbedding",
    "attention_bias",
    "masked_mean",
]
