"""Matchers saved by earlier versions load and give the same answers (issue 21).

``tests/fixtures/legacy/`` holds two tiny matchers trained and saved by the code before there
was one matcher — an all-hadronic one (task ``matcher``, two triplet heads, no detection head)
and a ``ttbar-ljets`` one (task ``topology-matcher``) — with what that code's ``hepattn match``
wrote for the first 2,000 events of the shipped samples (``answers.npz``), its ``hepattn
compare`` JSON and its ONNX input/output names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hepattn.tasks.matching import Matcher

FIXTURES = Path(__file__).parents[1] / "fixtures" / "legacy"
SAMPLES = Path(__file__).parents[2] / "samples"
N = 2000


@pytest.fixture(scope="module")
def answers():
    return dict(np.load(FIXTURES / "answers.npz"))


def _read(matcher, sample: str):
    return matcher.read(SAMPLES / sample, entry_stop=N)


def test_allhad_matcher_answers_as_before(answers):
    matcher = Matcher.load(FIXTURES / "matcher-allhad")
    assert matcher.topology.name == "ttbar-allhad"
    assert not matcher.has_detection
    branches, metadata = matcher.match(_read(matcher, "ttbar_allhad.root"))
    np.testing.assert_array_equal(branches["assignment"], answers["allhad_assignment"])
    # the probability is now exp(log P + log 2) in float64 rounded to float32, as for every
    # topology (before: the sum in float32): equal within one float32 unit in the last place
    prob, before = branches["prob"], answers["allhad_prob"]
    np.testing.assert_array_equal(np.isnan(prob), np.isnan(before))
    ok = ~np.isnan(before)
    np.testing.assert_array_max_ulp(prob[ok], before[ok], maxulp=1)
    assert branches["assignment"].dtype == np.int32 and branches["prob"].dtype == np.float32
    assert metadata["assignment_order"] == "b,q1,q2,b',q1',q2'"
    assert "t1_detection" not in branches  # no detection head: no such branch


def test_ljets_topology_matcher_answers_as_before(answers):
    matcher = Matcher.load(FIXTURES / "matcher-ttbar-ljets", topology="ttbar-ljets")
    assert matcher.has_detection
    branches, _ = matcher.match(_read(matcher, "ttbar_ljets.root"))
    for key, want in answers.items():
        if key.startswith("ljets_"):
            np.testing.assert_array_equal(branches[key.removeprefix("ljets_")], want, err_msg=key)


def _keys(x, prefix=""):
    if isinstance(x, dict):
        return {k for key, v in x.items() for k in _keys(v, f"{prefix}/{key}")}
    return {prefix}


@pytest.mark.parametrize(
    ("name", "model", "sample", "topology"),
    [
        ("allhad", "matcher-allhad", "ttbar_allhad.root", None),
        ("ljets", "matcher-ttbar-ljets", "ttbar_ljets.root", "ttbar-ljets"),
    ],
)
def test_compare_json_is_a_superset_with_the_same_numbers(name, model, sample, topology):
    from hepattn.tasks.comparison import compare

    before = json.loads((FIXTURES / f"{name}_compare.json").read_text())
    now = compare(SAMPLES / sample, FIXTURES / model, topology=topology, timing_events=8)
    now = json.loads(json.dumps({k: v for k, v in now.items() if k != "tables"}))
    missing = sorted(_keys(before) - _keys(now))
    assert not missing, f"keys lost: {missing}"
    for row, methods in before["rows"].items():
        for method, cell in methods.items():
            for key, value in cell.items():
                got = now["rows"][row][method][key]
                assert got == pytest.approx(value, nan_ok=True), (row, method, key)
    for key in ("events", "weighted", "definitions"):
        assert key in now


@pytest.mark.parametrize(
    ("model", "onnx", "decode"),
    [
        ("matcher-allhad", "allhad.onnx", False),
        ("matcher-allhad", "allhad_dec.onnx", True),
        ("matcher-ttbar-ljets", "ljets.onnx", False),
        ("matcher-ttbar-ljets", "ljets_dec.onnx", True),
    ],
)
def test_onnx_graphs_keep_their_names(tmp_path, model, onnx, decode):
    pytest.importorskip("onnx")
    import onnx as onnx_lib

    from hepattn.export import export_onnx

    before = json.loads((FIXTURES / "onnx_names.json").read_text())[onnx]
    out = export_onnx(FIXTURES / model, "matcher", tmp_path / onnx, decode=decode)
    proto = onnx_lib.load(str(out))
    inputs = [i.name for i in proto.graph.input]
    outputs = [o.name for o in proto.graph.output]
    assert inputs == before["inputs"]
    assert set(before["outputs"]) <= set(outputs)
