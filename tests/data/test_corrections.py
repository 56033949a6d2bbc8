"""Correction files (correctionlib): the named correction with its inputs checked, values
outside the bins counted instead of stopping, every bad file one line naming it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hepattn.data.corrections import evaluate, load_correction
from hepattn.errors import DataError

cs = pytest.importorskip("correctionlib.schemav2")


def _file(path, flow="error"):
    corr = cs.Correction(
        name="sf", version=1,
        inputs=[cs.Variable(name="syst", type="string"), cs.Variable(name="pt", type="real")],
        output=cs.Variable(name="w", type="real"),
        data=cs.Category(nodetype="category", input="syst", content=[cs.CategoryItem(
            key="central", value=cs.Binning(nodetype="binning", input="pt",
                                            edges=[20.0, 50.0, 100.0], content=[1.0, 2.0],
                                            flow=flow)),
        ]),
    )  # fmt: skip
    path.write_text(cs.CorrectionSet(schema_version=2, corrections=[corr]).model_dump_json())
    return path


def test_evaluates_and_counts_values_outside_the_bins(tmp_path):
    c = load_correction(_file(tmp_path / "c.json"), "sf", ("pt", "syst"), "test")
    assert c.inputs == ("syst", "pt")
    value, outside = evaluate(c, {"pt": np.array([30.0, 70.0]), "syst": "central"})
    np.testing.assert_array_equal(value, [1.0, 2.0])
    assert not outside.any()
    value, outside = evaluate(c, {"pt": np.array([10.0, 30.0, 500.0]), "syst": "central"})
    np.testing.assert_array_equal(outside, [True, False, True])
    assert value[1] == 1.0 and np.isnan(value[[0, 2]]).all()
    clamped = load_correction(_file(tmp_path / "k.json", "clamp"), "sf", ("pt", "syst"), "t")
    assert evaluate(clamped, {"pt": np.array([500.0]), "syst": "central"})[0][0] == 2.0


def test_a_category_the_file_lacks_is_an_error_naming_it(tmp_path):
    c = load_correction(_file(tmp_path / "c.json"), "sf", ("pt", "syst"), "test")
    with pytest.raises(DataError, match=r"correction 'sf' refuses syst='up'"):
        evaluate(c, {"pt": np.array([30.0]), "syst": "up"})


@pytest.mark.parametrize(
    "text, match",
    [
        (None, "no such correction file"),
        ("{not json", "not a correctionlib JSON file"),
        (json.dumps({"a": 1}), "no list of 'corrections'"),
        (json.dumps({"schema_version": 2, "corrections": [{"name": "x"}]}), "not a valid"),
    ],
)
def test_bad_files_are_one_line(tmp_path, text, match):
    path = tmp_path / "bad.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError, match=match) as err:
        load_correction(path, "sf", ("pt",), "test")
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_name_and_other_inputs_are_refused(tmp_path):
    path = _file(tmp_path / "c.json")
    with pytest.raises(DataError, match=r"no correction named 'btag_sf' .*holds 'sf'"):
        load_correction(path, "btag_sf", ("pt", "syst"), "test")
    with pytest.raises(DataError, match=r"takes inputs \['syst', 'pt'\]"):
        load_correction(path, "sf", ("pt", "abseta"), "test")
