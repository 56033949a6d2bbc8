from __future__ import annotations

import numpy as np
import pytest
import torch

from hepattn.data import PadSpec, Standardizer, read_events
from hepattn.errors import DataError
from tests.conftest import SCHEMA


def test_fit_uses_real_objects_only_and_padding_stays_zero(toy_file, tmp_path):
    jets = read_events(toy_file, SCHEMA, {"jets": PadSpec(("pt", "eta", "btag"), 6)})["jets"]
    std = Standardizer.fit(jets.values, jets.mask, jets.features)
    real = jets.values[jets.mask].astype(np.float64)
    np.testing.assert_allclose(std.mean, real.mean(0))
    np.testing.assert_allclose(std.std, real.std(0))
    out = std.transform(jets.values, jets.mask, jets.features)
    assert (out[~jets.mask] == 0).all()
    np.testing.assert_allclose(out[jets.mask].mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(out[jets.mask].std(0), 1, atol=1e-5)
    # torch tensors give the same result
    t = std.transform(torch.from_numpy(jets.values), torch.from_numpy(jets.mask))
    np.testing.assert_allclose(t.numpy(), out, atol=1e-6)
    # saved and loaded with a model
    std.save(tmp_path / "standardization.json")
    assert Standardizer.load(tmp_path / "standardization.json") == std


def test_constant_feature_is_only_shifted():
    values = np.array([[[1.0, 5.0], [2.0, 5.0], [9.0, 9.0]]], np.float32)
    mask = np.array([[True, True, False]])
    std = Standardizer.fit(values, mask, ("a", "b"))
    assert std.std[1] == 1.0
    np.testing.assert_array_equal(std.transform(values, mask)[0, :, 1], [0, 0, 0])


def test_errors(tmp_path):
    values = np.zeros((1, 2, 2), np.float32)
    with pytest.raises(DataError, match="no real objects"):
        Standardizer.fit(values, np.zeros((1, 2), bool), ("a", "b"))
    std = Standardizer(("a", "b"), (0.0, 0.0), (1.0, 1.0))
    with pytest.raises(DataError, match="do not match"):
        std.transform(values, np.ones((1, 2), bool), ("b", "a"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="bad.json: not valid JSON"):
        Standardizer.load(tmp_path / "bad.json")
