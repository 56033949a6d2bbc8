"""Launch limits of the Triton triplet kernels, kept apart from the kernels so that reading them
does not load (and fix the interpreter mode of) :mod:`.triton`."""

from __future__ import annotations

__all__ = ["TOPK_MAX", "TOPK_WARPS"]

#: Largest K the top-K kernel keeps per program (a power of two).
TOPK_MAX = 1024
#: Warps of the top-K kernel: with 4, ptxas spills its sorting network's registers on sm_80 and
#: sm_90 at the bundled models' sizes (D = 16, K = 16); with 8 it does not (kernels_compile.json).
TOPK_WARPS = 8
