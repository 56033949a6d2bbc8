"""bf16 autocast, as training on a GPU uses it, run on the CPU (issue 28): for the bundled
matcher and tagger, a few optimizer steps under bf16 autocast track the fp32 steps from the
same weights and batches, every loss and gradient finite; the decoding and the metrics see
float32 probabilities."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from hepattn.tasks.matching import Matcher
from hepattn.tasks.tagging import Tagger

SAMPLES = Path(__file__).parents[2] / "samples"
STEPS = 4


def _steps(task, batches, autocast: bool) -> list[float]:
    """``STEPS`` SGD steps of a copy of the task's network; the loss of each."""
    net = copy.deepcopy(task.net).train()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    losses = []
    for batch in batches[:STEPS]:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = task.loss(net, batch)
        opt.zero_grad()
        loss.backward()
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        opt.step()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses))
    return losses


def _batches(task, ev, size=64):
    return list(task.dataset(task.trainable(ev)).batches(size))


def test_matcher_bf16_steps_track_fp32_and_decode_in_float32():
    m = Matcher.load("default")
    ev = m.read_labelled(SAMPLES / "ttbar_allhad.root")
    batches = _batches(m, ev.select(np.arange(512)))
    fp32, bf16 = _steps(m, batches, False), _steps(m, batches, True)
    np.testing.assert_allclose(bf16, fp32, rtol=0.05)  # bf16 has 8 bits of mantissa
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        outputs, head_mask = m.forward(m.net, batches[0])
        slots, prob, det = m.net.decode(outputs, head_mask)
    assert prob.dtype == torch.float32 and det.dtype == torch.float32
    ref_slots, _, _ = m.net.decode(*m.forward(m.net, batches[0]))
    agree = (slots == ref_slots).all(dim=1).float().mean()
    assert agree > 0.9  # the same assignment for nearly every event


def test_tagger_bf16_steps_track_fp32():
    t = Tagger.load("default")
    ev = t.read(SAMPLES / "prongs.root", need_labels=True, entry_stop=256)
    batches = _batches(t, ev, 32)
    fp32, bf16 = _steps(t, batches, False), _steps(t, batches, True)
    np.testing.assert_allclose(bf16, fp32, rtol=0.05)


@pytest.mark.parametrize("task", ["matcher", "tagger"])
def test_validation_metrics_are_float_under_autocast(task):
    cls = Matcher if task == "matcher" else Tagger
    t = cls.load("default")
    path = SAMPLES / ("ttbar_allhad.root" if task == "matcher" else "prongs.root")
    ev = t.read(path, need_labels=True, entry_stop=256)
    loader = _batches(t, ev, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sums = t.evaluate(t.net, loader, torch.device("cpu"))
    summary = t.summarize(sums)
    assert all(isinstance(v, float) and np.isfinite(v) for v in summary.values())
