"""The Triton triplet kernels compiled ahead of time for A100 (sm_80) and H100 (sm_90) on this
machine, no GPU needed (issue 28): the specialisations the bundled matchers use compile, fit
the target's shared memory, keep some occupancy and do not spill — except the backward
kernel's known small spills (``KNOWN_SPILLS``: ptxas spills 20–32 bytes of its dA
accumulators there; expected failures until the kernel is reworked, and they turn into
passes, reported, when it no longer spills). The full grid of specialisations is
``benchmarks/bench_kernels_compile.py`` (kernels_compile.json)."""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("triton") is None:  # not imported here: the kernel tests of this
    pytest.skip("triton is not installed", allow_module_level=True)  # process set its mode

from hepattn.kernels.triplet.aot import (  # noqa: E402
    TARGETS,
    bundled_specialisations,
    compile_in_subprocess,
    occupancy,
)

#: (kernel, dtype, target) of the bundled specialisations ptxas spills today
KNOWN_SPILLS = {("_lse_bwd_kernel", "fp32", "sm_90"), ("_lse_bwd_kernel", "bf16", "sm_80")}


@pytest.fixture(scope="module")
def compiled():
    """Every bundled specialisation for both targets, compiled in one separate process (this
    one may hold the kernels in interpreter mode)."""
    items = [(n, s, t) for t in sorted(TARGETS) for n, s in bundled_specialisations()]
    return {(c["name"], c["specialisation"]["dtype"], c["target"]): c
            for c in compile_in_subprocess(items)}  # fmt: skip


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("name,spec", bundled_specialisations(), ids=lambda x: str(x))
def test_bundled_specialisations_compile_without_spills(compiled, name, spec, target, request):
    c = compiled[(name, spec["dtype"], target)]
    assert "error" not in c, c.get("error")
    assert c["registers"] > 0
    assert c["shared_bytes"] <= TARGETS[target]["smem_block"]
    assert c["occupancy"] > 0
    if (name, spec["dtype"], target) in KNOWN_SPILLS:
        request.applymarker(pytest.mark.xfail(reason="known spill of the backward kernel"))
    assert c["spills"] == 0, f"{name} {spec} spills {c['spills']} bytes on {target}"


def test_occupancy_by_hand():
    # 64 registers x 128 threads = 8192 per block: 8 blocks by registers, 16 by threads
    assert occupancy("sm_90", 64, 0, 4) == pytest.approx(32 / 64)
    # 255 registers (256 allocated): 2 blocks of 4 warps
    assert occupancy("sm_80", 255, 0, 4) == pytest.approx(8 / 64)
    # shared memory over the per-block limit: nothing fits
    assert occupancy("sm_80", 32, 200_000, 4) == 0
