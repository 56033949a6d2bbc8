"""torch.compile of the bundled matcher and tagger on the CPU (issue 28; slow).

The graphs torch.compile captures (backend ``aot_eager``: Dynamo's capture and AOT autograd,
no code generation) answer exactly as the eager networks; the graph breaks are counted and
listed in the output — the matcher's come from data-dependent shapes (``nonzero`` over the
real jets), which run eagerly between compiled graphs. Inductor's generated CPU code is
measured too and its largest deviation printed: on this CPU it moves the matcher's head
embeddings by up to ~0.3 and the tagger's logits by ~0.01 (argmax unchanged) — why is not yet
understood, so ``--compile`` is not recommended on the CPU (see the README)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hepattn.tasks.matching import Matcher
from hepattn.tasks.tagging import Tagger

SAMPLES = Path(__file__).parents[2] / "samples"


def _explain(fn, *args) -> int:
    import torch._dynamo as dynamo

    torch._dynamo.reset()
    info = dynamo.explain(fn)(*args)
    print(f"{type(fn).__name__}: {info.graph_count} graphs, {info.graph_break_count} breaks")
    for reason in info.break_reasons:
        print("  break:", reason.reason.splitlines()[0])
    return info.graph_break_count


def _compiled(net, args, backend):
    torch._dynamo.reset()
    with torch.no_grad():
        return torch.compile(net, backend=backend)(*args)


@pytest.mark.slow
def test_compiled_matcher():
    m = Matcher.load("default")
    ev = m.read(SAMPLES / "ttbar_allhad.root", entry_stop=64)
    batch = next(iter(m.dataset(ev).batches(64)))
    net, args = m.net.eval(), (batch.x, batch.p4, batch.mask)
    with torch.no_grad():
        eager = net(*args)
    captured = _compiled(net, args, "aot_eager")
    for (xe, se), (xc, sc) in zip(eager.heads, captured.heads, strict=True):
        torch.testing.assert_close(xc, xe, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(sc, se, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(captured.detection, eager.detection, rtol=1e-6, atol=1e-6)
    inductor = _compiled(net, args, "inductor")
    pairs = zip(eager.heads, inductor.heads, strict=True)
    dev = max(float((a[0] - b[0])[batch.mask].abs().max()) for a, b in pairs)
    print(f"inductor: matcher head embeddings deviate by up to {dev:.3g}")
    assert _explain(net, *args) < 20


@pytest.mark.slow
def test_compiled_tagger():
    t = Tagger.load("default")
    batch = next(iter(t.dataset(t.read(SAMPLES / "prongs.root", entry_stop=64)).batches(64)))
    net = t.net.eval()
    args = (batch.x, batch.p4, batch.mask, batch.derived.get("hl"))
    with torch.no_grad():
        eager = net(*args)
    torch.testing.assert_close(_compiled(net, args, "aot_eager"), eager, rtol=1e-6, atol=1e-6)
    inductor = _compiled(net, args, "inductor")
    print(f"inductor: tagger logits deviate by up to {float((inductor - eager).abs().max()):.3g}")
    assert (inductor.argmax(-1) == eager.argmax(-1)).all()
    assert _explain(net, *args) < 20
