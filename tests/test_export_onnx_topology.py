"""ONNX export of topology matchers (``ttbar-ljets``, ``hh-4b``): onnxruntime reproduces the
torch model on padded batches; the CLI's ``--topology``; clear errors."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from hepattn.cli import main  # noqa: E402
from hepattn.data import Standardizer  # noqa: E402
from hepattn.errors import HepattnError  # noqa: E402
from hepattn.export import export_onnx, topology_io  # noqa: E402
from hepattn.models import ModelError, bundled_matcher, save_model  # noqa: E402
from hepattn.nn.heads import head_logprobs  # noqa: E402
from hepattn.tasks.matching import (  # noqa: E402
    Matcher,
    MatcherRunConfig,
)
from hepattn.tasks.presets import run_config_dict  # noqa: E402
from hepattn.topology import load_topology  # noqa: E402

TOPOLOGIES = ["ttbar-ljets", "hh-4b"]
SHAPES = [(3, 9), (1, 4)]


def tiny_model(directory, topology: str, **model):
    """A small untrained topology matcher saved as a model directory (its standardization
    made up): what the export reads is the network and the records, not the training.
    ``model``: more keys of the run config's model section (``regressions``)."""
    cfg = run_config_dict("topology-matcher")
    cfg["model"].update(topology=topology, **model)
    cfg["model"]["encoder"].update(dim=16, num_heads=2, num_layers=1, embed_hidden=[16])
    cfg["model"]["tensor_dim"] = 8
    cfg["data"]["schema"] = load_topology(topology).defaults.schema
    run = MatcherRunConfig.from_dict(cfg)
    task = Matcher(run)
    stds = {}
    for i, (name, feats) in enumerate(task.standardizer_features().items()):
        n = len(feats)
        stds[name] = Standardizer(tuple(feats), (0.1 * i,) * n, (1.0 + 0.5 * i,) * n)
    torch.manual_seed(len(topology))
    net = task.build().eval()
    with torch.no_grad():  # non-trivial detection and heads
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    save_model(directory, {"task": "topology-matcher", **run.to_dict()}, net, stds)
    return directory


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx_topology")
    out = {}
    for name in TOPOLOGIES:
        model = tiny_model(d / name, name)
        out[name] = (model, export_onnx(model, "matcher", d / f"{name}.onnx", topology=name))
    return out


def padded_inputs(task: Matcher, b: int, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random standardized inputs: events with n, max(n − 4, 3) and 2 real jets, garbage in
    padded jet slots; each other collection's one object (a lepton; the MET transverse)."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.tensor([n, max(n - 4, 3), 2][:b])
    mask = torch.arange(n)[None, :] < counts[:, None]
    n_feat = len(task.run.data.features)
    x = torch.randn(b, n, n_feat, generator=g)
    p4 = torch.randn(b, n, 4, generator=g) * 40.0
    p4[..., 3] = p4[..., :3].norm(dim=-1) + torch.rand(b, n, generator=g) * 10.0
    x = torch.where(mask[..., None], x, torch.full_like(x, 1e4))
    p4 = torch.where(mask[..., None], p4, torch.randn(b, n, 4, generator=g) * 1e3)
    feed = {"x": x, "p4": p4, "mask": mask}
    for c in task.others():
        width = len(task.standardizers[c.name].features)
        cp4 = torch.randn(b, 1, 4, generator=g) * 30.0
        if c.transverse:
            cp4[..., 2] = 0.0
            cp4[..., 3] = cp4[..., :2].norm(dim=-1)
        else:
            cp4[..., 3] = cp4[..., :3].norm(dim=-1) + 0.1
        feed[f"{c.name}_x"] = torch.randn(b, 1, width, generator=g)
        feed[f"{c.name}_p4"] = cp4
        feed[f"{c.name}_mask"] = torch.ones(b, 1, dtype=torch.bool)
    return feed


def torch_reference(task: Matcher, feed: dict) -> list[np.ndarray]:
    """The task's own forward pass (:meth:`Matcher.forward`): log P of each head over
    the jets, then the detection probabilities."""
    derived = {k: v for k, v in feed.items() if k not in ("x", "p4", "mask")}
    batch = SimpleNamespace(x=feed["x"], p4=feed["p4"], mask=feed["mask"], derived=derived)
    n = feed["x"].shape[1]
    with torch.no_grad():
        outputs, head_mask = task.forward(task.net, batch)
        heads, detection = outputs.heads, outputs.detection
        out = []
        for head, (xh, sh) in zip(task.net.heads, heads, strict=True):
            lp = head_logprobs(head, xh, sh, head_mask, backend="torch")
            out.append(lp[(slice(None), *(slice(0, n),) * head.order)].numpy())
        out.append(torch.sigmoid(detection).numpy())
    return out


@pytest.mark.parametrize("name", TOPOLOGIES)
@pytest.mark.parametrize(("b", "n"), SHAPES)
def test_onnx_matches_torch(exported, name, b, n):
    model, path = exported[name]
    task = Matcher.load(model)
    feed = padded_inputs(task, b, n, seed=b + n)
    want = torch_reference(task, feed)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names, outputs = topology_io(task.topology)
    assert [i.name for i in sess.get_inputs()] == names == list(feed)
    got = sess.run(outputs, {k: v.numpy() for k, v in feed.items()})
    for res, g, w in zip(task.topology.resonances, got, want, strict=False):
        assert g.shape == (b, *(n,) * res.order), res.name
        valid = np.isfinite(w)
        np.testing.assert_array_equal(np.isfinite(g), valid)  # −inf exactly where invalid
        assert np.all(g[~valid] == -np.inf)
        np.testing.assert_allclose(g[valid], w[valid], atol=1e-4, rtol=0)
    assert got[-1].shape == (b, len(task.topology.resonances))
    np.testing.assert_allclose(got[-1], want[-1], atol=1e-5, rtol=0)
    if b > 1 and name == "ttbar-ljets":  # 2 real jets: no t_had triplet, t_lep's b chosen
        assert not np.isfinite(got[0][-1]).any() and np.isfinite(got[1][-1]).sum() == 2


def test_metadata_and_names(exported):
    model, path = exported["ttbar-ljets"]
    task = Matcher.load(model)
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["task"] == "matcher" and meta["topology"] == "ttbar-ljets"
    assert (
        [i.name for i in proto.graph.input]
        == list(json.loads(meta["inputs"]))
        == [
            "x",
            "p4",
            "mask",
            "lepton_x",
            "lepton_p4",
            "lepton_mask",
            "met_x",
            "met_p4",
            "met_mask",
        ]
    )
    assert (
        [o.name for o in proto.graph.output]
        == list(json.loads(meta["outputs"]))
        == [
            "log_prob_t_had",
            "log_prob_t_lep",
            "detection",
        ]
    )
    assert json.loads(meta["head_order"]) == {"t_had": ["q1", "q2", "b_had"], "t_lep": ["b_lep"]}
    assert meta["assignment_order"] == "b_had,q1,q2,b_lep,l,nu"
    assert json.loads(meta["lepton_feature_names"]) == list(task.run.data.object_features)
    assert json.loads(meta["met_feature_names"]) == ["log_pt"]
    assert json.loads(meta["feature_names"]) == list(task.run.data.features)
    decl = json.loads(meta["topology_declaration"])
    assert decl["collections"]["met"] == {"max_objects": 1, "transverse": True}
    assert decl["resonances"]["t_lep"]["daughters"] == {"b_lep": "jets", "l": "lepton", "nu": "met"}
    hh = {p.key: p.value for p in onnx.load(str(exported["hh-4b"][1])).metadata_props}
    assert json.loads(hh["inputs"]).keys() == {"x", "p4", "mask"}
    assert json.loads(hh["topology_declaration"])["exchangeable"] == [["H1", "H2"]]
    for i in proto.graph.input[:3]:  # dynamic batch and jet axes
        assert [d.dim_param for d in i.type.tensor_type.shape.dim[:2]] == ["batch", "objects"]


def test_cli(exported, tmp_path, capsys):
    model, _ = exported["ttbar-ljets"]
    out = tmp_path / "lj.onnx"
    argv = ["export-onnx", str(model), "--task", "matcher", "--topology", "ttbar-ljets"]
    assert main([*argv, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "exported matcher" in text
    assert "lepton_x[batch, 1, 4]" in text and "met_mask[batch, 1]" in text
    assert "log_prob_t_had[batch, objects, objects, objects]" in text
    assert "detection[batch, 2]" in text
    assert "t_had (q1, q2, b_had); t_lep (b_lep)" in text
    # --task topology-matcher reads the topology from the model
    out2 = tmp_path / "lj2.onnx"
    assert main(["export-onnx", str(model), "--task", "topology-matcher", "-o", str(out2)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lj.onnx", "lj2.onnx"]  # no temporary


def test_errors_are_one_line(exported, tmp_path, capsys):
    model, _ = exported["ttbar-ljets"]
    out = tmp_path / "x.onnx"
    cases = [
        (
            [str(model), "--task", "matcher", "--topology", "hh-4b"],
            "matches topology 'ttbar-ljets', not 'hh-4b'",
        ),
        (
            ["default", "--task", "matcher", "--topology", "ttbar-ljets"],
            "no ttbar-ljets matcher is bundled with this installation",
        ),
        (["default", "--task", "matcher", "--topology", "nope"], "nope: neither a built-in"),
        (["default", "--task", "tagger", "--topology", "hh-4b"], "applies to matchers"),
        ([str(model), "--task", "tagger"], "a 'tagger' model is needed"),
    ]
    for args, message in cases:
        if args[0] == "default" and "ttbar-ljets" in args and bundled_exists("ttbar-ljets"):
            continue  # once a ttbar-ljets matcher is bundled
        assert main(["export-onnx", *args, "-o", str(out)]) == 1, args
        err = capsys.readouterr().err
        assert message in err, (args, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
    with pytest.raises(HepattnError, match="not 'ttbar-ljets'"):
        export_onnx(exported["hh-4b"][0], "topology-matcher", out, topology="ttbar-ljets")


def bundled_exists(name: str) -> bool:
    try:
        bundled_matcher(name)
    except ModelError:
        return False
    return True


def test_bundled_matcher_messages(tmp_path):
    assert bundled_matcher("ttbar-allhad").name == "matcher"  # the declaration names it
    with pytest.raises(ModelError, match="no model is bundled for the user topology"):
        bundled_matcher(str(tmp_path / "mine.yaml"))
    if not bundled_exists("hh-4b"):
        with pytest.raises(ModelError, match="hepattn train matcher --topology hh-4b"):
            bundled_matcher("hh-4b")


def test_dynamo_refuses_a_met_collection(exported, tmp_path):
    pytest.importorskip("onnxscript")
    with pytest.raises(HepattnError, match="--dynamo cannot export topology 'ttbar-ljets'"):
        export_onnx(
            exported["ttbar-ljets"][0], "topology-matcher", tmp_path / "d.onnx", dynamo=True
        )
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_dynamo_exporter_hh4b(exported, tmp_path):
    pytest.importorskip("onnxscript")
    model, _ = exported["hh-4b"]
    path = export_onnx(model, "matcher", tmp_path / "hh.onnx", dynamo=True, topology="hh-4b")
    task = Matcher.load(model)
    feed = padded_inputs(task, 3, 9)
    want = torch_reference(task, feed)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {k: v.numpy() for k, v in feed.items()})
    for g, w in zip(got, want, strict=True):
        valid = np.isfinite(w)
        np.testing.assert_array_equal(np.isfinite(g), valid)
        np.testing.assert_allclose(g[valid], w[valid], atol=1e-4, rtol=0)
