"""Which b-tag the baselines read and at which working point (hepattn.baselines.btag)."""

import json

import numpy as np
import pytest
import uproot

from hepattn.baselines.btag import btag_rule, file_working_points
from hepattn.data.padding import PaddedCollection
from hepattn.data.reader import Events
from hepattn.errors import DataError


def _events(features, values, files):
    b, n = values.shape[:2]
    jets = PaddedCollection(
        values=values.astype(np.float32),
        mask=np.ones((b, n), bool),
        p4=np.zeros((b, n, 4), np.float32),
        index=np.tile(np.arange(n), (b, 1)),
        features=tuple(features),
        labels={},
        counts=np.full(b, n),
    )
    return Events({"jets": jets}, {}, np.arange(b), np.zeros(b, np.int64), [str(f) for f in files])


def _file(path, wps=None):
    with uproot.recreate(path) as f:
        f["events"] = {"x": np.zeros(2)}
        if wps is not None:
            f["btag_working_points"] = json.dumps(wps)
    return path


def test_decisions_are_tagged_above_one_half_and_refuse_a_working_point(tmp_path):
    ev = _events(["log_pt", "btag"], np.array([[[1, 1], [2, 0]]]), [_file(tmp_path / "a.root")])
    rule = btag_rule(ev)
    assert rule.threshold == 0.5 and rule.feature == "btag"
    assert np.array_equal(rule.values, [[1, 0]])
    with pytest.raises(DataError, match="applies to b-tag scores"):
        btag_rule(ev, btag_wp=0.3)


def test_scores_use_the_given_working_point_else_the_files_medium(tmp_path):
    wps = {"loose": 0.7, "medium": 0.9, "tight": 0.95}
    f = _file(tmp_path / "a.root", wps)
    assert file_working_points(f) == wps
    ev = _events(["btag_score", "log_pt"], np.array([[[0.95, 1], [0.2, 0]]]), [f])
    assert btag_rule(ev).threshold == 0.9
    assert "medium working point" in btag_rule(ev).describe()
    assert btag_rule(ev, btag_wp=0.2783).threshold == 0.2783
    with pytest.raises(DataError, match="finite"):
        btag_rule(ev, btag_wp=float("nan"))


def test_scores_without_a_working_point_ask_for_one(tmp_path):
    ev = _events(["btag_score"], np.array([[[0.5]]]), [_file(tmp_path / "a.root")])
    with pytest.raises(DataError, match="--btag-wp"):
        btag_rule(ev)
    a = _file(tmp_path / "b.root", {"medium": 0.9})
    c = _file(tmp_path / "c.root", {"medium": 0.8})
    with pytest.raises(DataError, match="different working points"):
        btag_rule(_events(["btag_score"], np.array([[[0.5]]]), [a, c]))


def test_no_btag_feature_means_no_rule(tmp_path):
    ev = _events(["log_pt"], np.array([[[1.0]]]), [_file(tmp_path / "a.root")])
    assert btag_rule(ev).values is None
    assert btag_rule(ev).describe() == "no b-tag information"
    with pytest.raises(DataError, match="no b-tag feature"):
        btag_rule(ev, btag_wp=0.5)
