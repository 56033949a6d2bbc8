"""backend="auto" checks the compiled kernels once and falls back to the reference.

The failures are forced on the CPU through Triton's interpreter (the self-check itself is the
same code that runs on a GPU): a launcher that raises (a compile error) and one that returns
wrong numbers (a miscompilation).
"""

from __future__ import annotations

import logging
import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

from hepattn.kernels.triplet import op  # noqa: E402

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def fresh_cache():
    op.kernels_work.cache_clear()
    yield
    op.kernels_work.cache_clear()


def test_self_check_passes_with_working_kernels():
    if not op._triton_module().interpreted():
        pytest.skip("compiled Triton in this process: the CPU check needs the interpreter")
    assert op._self_check(CPU) is None
    assert op.kernels_work(CPU)


def test_compile_error_falls_back_with_one_warning(monkeypatch, caplog):
    kernels = op._triton_module()
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("PTX assembly failed: out of registers\nmore lines")

    monkeypatch.setattr(kernels, "lse_partials", broken)
    with caplog.at_level(logging.WARNING, logger="hepattn.kernels.triplet.op"):
        assert not op.kernels_work(CPU)
        assert not op.kernels_work(CPU)  # checked once per process and device
    assert len(calls) == 1
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "RuntimeError: PTX assembly failed: out of registers" in warnings[0]
    assert "using the torch reference" in warnings[0] and "more lines" not in warnings[0]


def test_wrong_numbers_fall_back(monkeypatch, caplog):
    kernels = op._triton_module()
    real = kernels.lse_partials

    def off_by_a_bit(*args, **kwargs):
        m, l_sum = real(*args, **kwargs)
        return m + 1.0, l_sum

    monkeypatch.setattr(kernels, "lse_partials", off_by_a_bit)
    with caplog.at_level(logging.WARNING, logger="hepattn.kernels.triplet.op"):
        assert not op.kernels_work(CPU)
    assert "log Z differs from the reference" in caplog.text


def test_auto_on_cpu_tensors_never_runs_the_check(monkeypatch):
    monkeypatch.setattr(op, "_self_check", lambda device: pytest.fail("ran the self-check"))
    assert op.resolve_backend("auto", torch.zeros(1, 3, 4)) == "torch"
