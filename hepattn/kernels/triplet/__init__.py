"""Triplet scoring for symmetric tensor attention: the public API and its backends.

Every caller (the matcher's heads, its loss and its decoding) goes through
:mod:`hepattn.kernels.triplet.op`; ``backend="auto"`` picks the fastest available
implementation (the fused Triton kernels of :mod:`hepattn.kernels.triplet.triton` on CUDA),
``"torch"`` the readable reference in :mod:`hepattn.kernels.triplet.reference` and
``"triton"`` the kernels explicitly.
"""

from hepattn.kernels.triplet.op import (
    BACKENDS,
    resolve_backend,
    triplet_log_normalizer,
    triplet_logprob,
    triplet_logprobs,
    triplet_topk,
)

__all__ = [
    "BACKENDS",
    "resolve_backend",
    "triplet_log_normalizer",
    "triplet_logprob",
    "triplet_logprobs",
    "triplet_topk",
]
