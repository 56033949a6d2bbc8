"""ONNX export of a matcher with regression heads: each regression's value and σ, in the
target's units, as outputs named as ``hepattn match`` names its branches — after the heads'
outputs, which keep their names and order — in both the log P and the decoding graphs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from hepattn.export import decode_io, export_onnx, topology_io  # noqa: E402
from hepattn.tasks.matching import Matcher  # noqa: E402
from tests.test_export_onnx_topology import padded_inputs, tiny_model  # noqa: E402

TOPOLOGY = "ttbar-ljets"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small untrained ``ttbar-ljets`` matcher with every declared regression, its
    standardization made up."""
    d = tmp_path_factory.mktemp("onnx_regression") / "model"
    return tiny_model(d, TOPOLOGY, regressions="all")


def reference(task: Matcher, feed: dict) -> dict[str, np.ndarray]:
    """Value and σ of each regression from the task's own forward pass."""
    derived = {k: v for k, v in feed.items() if k not in ("x", "p4", "mask")}
    batch = SimpleNamespace(x=feed["x"], p4=feed["p4"], mask=feed["mask"], derived=derived)
    with torch.no_grad():
        reg = task.forward(task.net, batch)[0].regression.numpy()
    std = task.standardizers["regression"]
    out = {}
    for k, key in enumerate(std.features):
        out[key] = reg[:, k, 0] * std.std[k] + std.mean[k]
        out[f"{key}_sigma"] = np.exp(reg[:, k, 1]) * std.std[k]
    return out


@pytest.mark.parametrize("decode", [False, True])
def test_regression_outputs_match_torch(model, tmp_path, decode):
    task = Matcher.load(model)
    keys = [r.key for r in task.regressions]
    assert len(keys) == 7
    path = export_onnx(model, "matcher", tmp_path / "m.onnx", decode=decode)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = (decode_io if decode else topology_io)(task.topology)[1]
    want_names = names + [n for k in keys for n in (k, f"{k}_sigma")]
    assert [o.name for o in sess.get_outputs()] == want_names
    feed = padded_inputs(task, 3, 9, seed=5)
    got = sess.run(None, {k: v.numpy() for k, v in feed.items()})
    want = reference(task, feed)
    for name, g in zip(want_names[len(names) :], got[len(names) :], strict=True):
        assert g.shape == (3,)
        np.testing.assert_allclose(g, want[name], rtol=1e-4, atol=1e-4, err_msg=name)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    outputs = json.loads(meta["outputs"])
    assert list(outputs)[-2:] == ["EVENT_ttbar_mass", "EVENT_ttbar_mass_sigma"]
    regs = json.loads(meta["regressions"])
    assert regs["t_had_pt"] == {"field": "truth_t_had_pt", "resonance": "t_had"}
    assert "in that field's units" in meta["regression_description"]
