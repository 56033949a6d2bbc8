"""A matcher's probabilities measured (``eval matcher --calibration``), calibrated on
validation events, stored bound to the weights and applied by ``predict`` (so by ``match``,
``compare`` and the API)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hepattn.cli import main
from hepattn.models import ModelError
from hepattn.tasks.calibration import (
    CALIBRATION_FILE,
    calibration_report,
    fit_calibration,
    save_calibration,
)
from hepattn.tasks.matching import Matcher
from tests.tasks.test_matching_task import slice_file


@pytest.fixture
def model(decision_model, tmp_path):
    d = tmp_path / "model"
    shutil.copytree(decision_model, d)
    return d


def test_fit_store_apply_and_bind_to_the_weights(model, tmp_path):
    val, test = slice_file(tmp_path / "v.root", 800, 1000), slice_file(tmp_path / "t.root", 0, 200)
    m = Matcher.load(model)
    assert m.calibration is None
    record = fit_calibration(m, m.read_labelled(val))
    assert set(record["resonances"]) == {"t1", "t2"}
    assert record["jet_thresholds"] == [6, 7, 8]
    for r in ("t1", "t2"):
        for kind in ("assignment", "detection"):
            maps = record["resonances"][r][kind]
            assert len(maps["rows"]) == 4
            for m_ in (maps, *maps["rows"]):
                assert m_["method"] in ("identity", "platt", "isotonic")
                assert set(m_["cv_ece"]) == {"identity", "platt", "isotonic"}
                assert np.all(np.diff(m_["y"]) >= 0)  # monotone
    save_calibration(m, record)
    m2 = Matcher.load(model)
    sha = (model / "weights.sha256").read_text().split()[0]
    assert m2.calibration["weights_sha256"] == sha
    ev = m2.read_labelled(test)
    _, raw, raw_det = m2.predict(ev, calibrated=False)
    _, cal, cal_det = m2.predict(ev)
    ok = np.isfinite(raw[:, 0])
    order = np.argsort(raw[ok, 0], kind="stable")
    assert np.all(np.diff(cal[ok, 0][order]) >= -1e-6)  # a monotone map
    assert not np.allclose(raw_det, cal_det)
    rep = calibration_report(m2, ev)
    assert rep["calibrated"] and "assignment_raw" in rep["resonances"]["t1"]
    # weights that are not those the maps were fitted for: refused
    rec = json.loads((model / CALIBRATION_FILE).read_text())
    rec["weights_sha256"] = "0" * 64
    (model / CALIBRATION_FILE).write_text(json.dumps(rec))
    with pytest.raises(ModelError, match="does not belong to this model"):
        Matcher.load(model)
    (model / CALIBRATION_FILE).write_text("{")
    with pytest.raises(ModelError, match="not a calibration record"):
        Matcher.load(model)


def test_eval_writes_the_diagrams_and_curves(model, tmp_path, capsys):
    src = slice_file(tmp_path / "e.root", 0, 300)
    out = tmp_path / "cal"
    argv = ["eval", "matcher", str(src), "--model", str(model), "--calibration", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["calibration.json", "purity.png", "reliability_t1.png", "reliability_t2.png"]
    rep = json.loads((out / "calibration.json").read_text())
    a = rep["resonances"]["t1"]["assignment"]
    assert len(a["bins"]) == 10 and 0 <= a["ece"] <= 1
    assert sum(b["count"] for b in a["bins"]) == a["n"]
    assert set(rep["purity"]) == {
        "network: Π assignment",
        "network: Π assignment × detection",
        "chi2: score (smaller kept first)",
    }
    assert rep["purity"]["chi2: score (smaller kept first)"]["kept"][0] == 1.0
    # the calibration directory is an output: refused where it is an input
    assert (
        main(["eval", "matcher", str(src), "--model", str(model), "--calibration", str(src)]) == 1
    )


def test_the_onnx_graph_applies_the_same_maps(tmp_path):
    """The graph's elementwise form equals numpy's interpolation of each row's knots, NaN
    kept; the row follows the number of jets."""
    import torch

    from hepattn.export.matcher import _Calibration
    from hepattn.metrics.calibration import apply_isotonic

    rng = np.random.default_rng(1)
    a = ([0.1, 0.25, 0.4, 0.9], [0.0, 0.3, 0.35, 0.95])
    b = ([0.5], [0.7])
    maps = [[a, b, a, b], [b, b, a, a]]  # per resonance, per row
    module = _Calibration(maps, [6, 7, 8])
    p = rng.uniform(-0.1, 1.1, (500, 2)).astype(np.float32)
    p[0, 0] = np.nan
    n_jets = rng.integers(3, 12, 500)
    got = module(torch.from_numpy(p), torch.from_numpy(n_jets)).numpy()
    rows = np.searchsorted([6, 7, 8], n_jets, side="right")
    for r in range(2):
        for k in range(4):
            sel = rows == k
            x, y = maps[r][k]
            np.testing.assert_allclose(got[sel, r], apply_isotonic(p[sel, r], x, y), atol=1e-6)
    assert np.isnan(got[0, 0])
