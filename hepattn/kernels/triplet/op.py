"""Public triplet-scoring functions with a backend choice.

``backend``: ``"torch"`` is the readable reference (:mod:`.reference`); ``"auto"`` picks the
fastest implementation available for the inputs. Only the torch reference exists in this
release, so ``"auto"`` resolves to it; a fused GPU kernel plugs in here without any caller
changing.
"""

from __future__ import annotations

from torch import Tensor

from hepattn.errors import HepattnError
from hepattn.kernels.triplet import reference

__all__ = [
    "BACKENDS",
    "triplet_log_normalizer",
    "triplet_logprob",
    "triplet_logprobs",
    "triplet_topk",
]

BACKENDS = ("auto", "torch")


def _impl(backend: str):
    if backend not in BACKENDS:
        raise HepattnError(f"unknown triplet backend {backend!r}; choose one of {BACKENDS}")
    return reference


def triplet_log_normalizer(x: Tensor, s: Tensor, mask: Tensor, backend: str = "auto") -> Tensor:
    """``float[B]``: log Σ over valid triplets of exp O (see :mod:`.reference`)."""
    return _impl(backend).triplet_log_normalizer(x, s, mask)


def triplet_logprobs(x: Tensor, s: Tensor, mask: Tensor, backend: str = "auto") -> Tensor:
    """``float[B, N, N, N]``: log P(i, j, k) of every triplet (−inf where invalid)."""
    return _impl(backend).triplet_logprobs(x, s, mask)


def triplet_logprob(
    x: Tensor, s: Tensor, mask: Tensor, target: Tensor, backend: str = "auto"
) -> Tensor:
    """log P of target triplets (i, j, k): ``int[B, 3]`` → ``float[B]``, ``int[B, T, 3]`` →
    ``float[B, T]``."""
    return _impl(backend).triplet_logprob(x, s, mask, target)


def triplet_topk(
    x: Tensor, s: Tensor, mask: Tensor, k: int, backend: str = "auto"
) -> tuple[Tensor, Tensor]:
    """The ``k`` most probable triplets (i < j): ``(logp[B, k], index[B, k, 3])``."""
    return _impl(backend).triplet_topk(x, s, mask, k)
