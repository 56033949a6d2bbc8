"""ONNX export: onnxruntime reproduces the torch reference outputs on padded batches."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from hepattn.cli import main  # noqa: E402
from hepattn.errors import HepattnError  # noqa: E402
from hepattn.export import export_onnx  # noqa: E402
from hepattn.kernels.triplet.reference import triplet_logprobs  # noqa: E402
from hepattn.models import save_model  # noqa: E402
from hepattn.tasks.matching import Matcher  # noqa: E402
from hepattn.tasks.tagging import CLASSES, Tagger, build_network  # noqa: E402

SHAPES = [(3, 20), (1, 7)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    return {
        "tagger": export_onnx("default", "tagger", d / "tagger.onnx"),
        "matcher": export_onnx("default", "matcher", d / "matcher.onnx"),
    }


def padded_batch(b: int, n: int, n_feat: int, seed: int = 0):
    """Random events with 2 … n real objects; padded slots hold large garbage values."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.tensor([n, max(n - 4, 3), 2][:b])
    mask = torch.arange(n)[None, :] < counts[:, None]
    x = torch.randn(b, n, n_feat, generator=g)
    p4 = torch.randn(b, n, 4, generator=g) * 40.0
    p4[..., 3] = p4[..., :3].norm(dim=-1) + torch.rand(b, n, generator=g) * 10.0
    x = torch.where(mask[..., None], x, torch.full_like(x, 1e4))  # garbage in padding
    p4 = torch.where(mask[..., None], p4, torch.randn(b, n, 4, generator=g) * 1e3)
    return x, p4, mask


def feed(x, p4, mask):
    return {"x": x.numpy(), "p4": p4.numpy(), "mask": mask.numpy()}


@pytest.mark.parametrize(("b", "n"), SHAPES)
def test_tagger_matches_torch(exported, b, n):
    tagger = Tagger.load("default")
    x, p4, mask = padded_batch(b, n, len(tagger.run.data.features))
    with torch.no_grad():
        ref = torch.softmax(tagger.net(x, p4, mask), dim=-1).numpy()
    sess = ort.InferenceSession(str(exported["tagger"]), providers=["CPUExecutionProvider"])
    (prob,) = sess.run(["probabilities"], feed(x, p4, mask))
    assert prob.shape == (b, len(CLASSES))
    np.testing.assert_allclose(prob, ref, atol=1e-4, rtol=0)
    np.testing.assert_allclose(prob.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize(("b", "n"), SHAPES)
def test_matcher_matches_torch(exported, b, n):
    matcher = Matcher.load("default")
    x, p4, mask = padded_batch(b, n, len(matcher.run.data.features), seed=1)
    with torch.no_grad():
        ref = [triplet_logprobs(xh, sh, mask).numpy() for xh, sh in matcher.net(x, p4, mask).heads]
    sess = ort.InferenceSession(str(exported["matcher"]), providers=["CPUExecutionProvider"])
    out = sess.run(["log_prob_top1", "log_prob_top2"], feed(x, p4, mask))
    for got, want in zip(out, ref, strict=True):
        assert got.shape == (b, n, n, n)
        valid = np.isfinite(want)
        np.testing.assert_array_equal(np.isfinite(got), valid)  # −inf exactly where invalid
        assert np.all(got[~valid] == -np.inf)
        np.testing.assert_allclose(got[valid], want[valid], atol=1e-4, rtol=0)
    if b > 1:  # the last event has 2 real jets: no valid triplet
        assert not np.isfinite(out[0][-1]).any()


def metadata(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_metadata(exported):
    from hepattn import __version__

    for task, model in (("tagger", Tagger), ("matcher", Matcher)):
        loaded = model.load("default")
        proto = onnx.load(str(exported[task]))
        meta = {p.key: p.value for p in proto.metadata_props}
        std = loaded.standardizers["objects"]
        assert meta["task"] == task
        assert meta["hepattn_version"] == __version__
        assert json.loads(meta["feature_names"]) == list(loaded.run.data.features)
        assert json.loads(meta["feature_names"]) == list(std.features)
        assert json.loads(meta["feature_means"]) == pytest.approx(list(std.mean))
        assert json.loads(meta["feature_stds"]) == pytest.approx(list(std.std))
        assert int(meta["max_objects"]) == loaded.run.data.max_objects
        assert "pT" in meta["preprocessing"] and "mask" in meta["preprocessing"]
        inputs = json.loads(meta["inputs"])
        assert list(inputs) == ["x", "p4", "mask"] == [i.name for i in proto.graph.input]
        assert inputs["x"]["shape"] == ["B", "N", len(std.features)]
        for i in proto.graph.input:  # dynamic batch and object axes
            dims = [d.dim_param for d in i.type.tensor_type.shape.dim[:2]]
            assert dims == ["batch", "objects"]
    assert json.loads(metadata(exported["tagger"])["class_order"]) == list(CLASSES)
    assert metadata(exported["tagger"])["kind"] == "transformer"
    assert metadata(exported["matcher"])["assignment_order"] == "b,q1,q2,b',q1',q2'"


def test_wrong_task_is_a_clear_error(tmp_path, capsys):
    matcher_dir = Matcher.load("default").path
    with pytest.raises(HepattnError, match="'matcher' model, a 'tagger' model is needed"):
        export_onnx(matcher_dir, "tagger", tmp_path / "x.onnx")
    with pytest.raises(HepattnError, match="unknown task"):
        export_onnx("default", "tagging", tmp_path / "x.onnx")
    rc = main(["export-onnx", str(matcher_dir), "--task", "tagger", "--out", str(tmp_path / "y")])
    assert rc == 1
    assert "a 'tagger' model is needed" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left


def test_missing_onnx_gives_install_hint(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    with pytest.raises(HepattnError, match=r"pip install 'hepattn\[onnx\]'"):
        export_onnx("default", "tagger", tmp_path / "t.onnx")


def test_cli_summary(tmp_path, capsys):
    out = tmp_path / "sub" / "tagger.onnx"
    assert main(["export-onnx", "default", "--task", "tagger", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "x[batch, objects, 7]" in text and "probabilities[batch, 7]" in text
    assert "1, 2, 3, 4b, 4q, 6, 8" in text
    assert [p.name for p in out.parent.iterdir()] == ["tagger.onnx"]  # atomic: no temporary


@pytest.mark.parametrize("kind", ["pfn", "mass_hl"])
def test_other_tagger_kinds(tmp_path, kind):
    """Small untrained PFN and mass+HL taggers export and agree with torch."""
    from hepattn.data import Standardizer

    tagger = Tagger.load("default")
    run = tagger.run
    model = {"phi_sizes": [16, 16], "f_sizes": [16]} if kind == "pfn" else {"hidden": [16]}
    if kind == "mass_hl":
        names = [f"hl{i}" for i in range(17)]
        stds = {"jet": Standardizer(tuple(names), (0.0,) * 17, (1.0,) * 17)}
    else:
        stds = {"objects": tagger.standardizers["objects"]}
    torch.manual_seed(0)
    net = build_network(kind, model, len(run.data.features)).eval()
    cfg = {**run.to_dict(), "task": "tagger", "kind": kind, "model": model}
    save_model(tmp_path / "m", cfg, net, stds)
    path = export_onnx(tmp_path / "m", "tagger", tmp_path / "t.onnx")
    loaded = Tagger.load(tmp_path / "m")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = metadata(path)
    assert meta["kind"] == kind
    assert list(json.loads(meta["inputs"])) == [i.name for i in sess.get_inputs()]
    assert json.loads(meta["feature_names"]) == list(stds[next(iter(stds))].features)
    if kind == "mass_hl":
        hl = torch.randn(5, 17)
        with torch.no_grad():
            ref = torch.softmax(loaded.net(None, None, None, hl), -1).numpy()
        (prob,) = sess.run(None, {"hl": hl.numpy()})
    else:
        x, p4, mask = padded_batch(3, 11, len(run.data.features))
        with torch.no_grad():
            ref = torch.softmax(loaded.net(x, p4, mask), -1).numpy()
        inputs = feed(x, p4, mask)
        del inputs["p4"]  # a PFN does not read the 4-momenta
        (prob,) = sess.run(None, inputs)
    np.testing.assert_allclose(prob, ref, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_dynamo_exporter(tmp_path):
    pytest.importorskip("onnxscript")
    for task, model in (("tagger", Tagger), ("matcher", Matcher)):
        loaded = model.load("default")
        path = export_onnx("default", task, tmp_path / f"{task}.onnx", dynamo=True)
        x, p4, mask = padded_batch(2, 9, len(loaded.run.data.features))
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = sess.run(None, feed(x, p4, mask))
        with torch.no_grad():
            if task == "tagger":
                want = [torch.softmax(loaded.net(x, p4, mask), -1).numpy()]
            else:
                want = [triplet_logprobs(a, s, mask).numpy() for a, s in loaded.net(x, p4, mask)]
        for g, w in zip(got, want, strict=True):
            valid = np.isfinite(w)
            np.testing.assert_array_equal(np.isfinite(g), valid)
            np.testing.assert_allclose(g[valid], w[valid], atol=1e-4, rtol=0)
