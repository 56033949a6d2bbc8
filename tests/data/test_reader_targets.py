"""Event-level target branches (regressions): read beside the collections where the input has
them, NaN where it has not (inference of older files), a one-line error where required
(training); non-finite targets kept for the task to mask, counted once per read."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from hepattn.data import PadSpec, iterate_events, read_events
from hepattn.data.reader import MissingTargetError
from hepattn.data.writer import write_tree
from hepattn.errors import DataError
from tests.conftest import JETS, SCHEMA, jets_array

SPEC = {"jets": PadSpec(("pt",), 4)}
MASS = np.array([350.0, np.nan, 420.5, np.inf])


@pytest.fixture
def target_file(tmp_path):
    path = tmp_path / "targets.root"
    branches = {
        "jet": jets_array(),
        "weight": np.arange(len(JETS), dtype=np.float32),
        "truth_mass": MASS.astype(np.float32),
        "truth_list": jets_array()["pt"],
    }
    write_tree(path, branches, tree="events")
    return path


def test_targets_are_read_as_given_and_counted_when_not_finite(target_file, caplog):
    with caplog.at_level(logging.WARNING, "hepattn.data.reader"):
        ev = read_events(target_file, SCHEMA, SPEC, targets={"m": "truth_mass"})
    assert ev.targets["m"].dtype == np.float64
    np.testing.assert_array_equal(ev.targets["m"], MASS.astype(np.float32))
    assert "'truth_mass': 2 entries with a non-finite target" in caplog.text
    assert "m" not in ev.event  # apart from the schema's event fields
    # selection and chunked reading keep them aligned with the events
    np.testing.assert_array_equal(ev.select([2, 0]).targets["m"], MASS[[2, 0]])
    chunks = list(
        iterate_events(target_file, SCHEMA, SPEC, targets={"m": "truth_mass"}, step_size=1)
    )
    assert len(chunks) == 4
    np.testing.assert_array_equal(np.concatenate([c.targets["m"] for c in chunks]), ev.targets["m"])


def test_a_missing_target_branch_is_nan_unless_required(toy_file):
    ev = read_events(toy_file, SCHEMA, SPEC, targets={"m": "truth_mass"})
    assert ev.targets["m"].shape == (4,) and np.isnan(ev.targets["m"]).all()
    assert len(read_events(toy_file, SCHEMA, SPEC).targets) == 0
    with pytest.raises(MissingTargetError, match=r"toy.root: no branch 'truth_mass'") as err:
        read_events(toy_file, SCHEMA, SPEC, targets={"m": "truth_mass"}, require_targets=True)
    assert (err.value.name, err.value.branch) == ("m", "truth_mass")
    assert isinstance(err.value, DataError)


def test_targets_from_in_memory_arrays_and_bad_targets(target_file):
    import uproot

    arrays = dict(uproot.open(target_file)["events"].arrays(library="ak", how=dict))
    ev = read_events(arrays, SCHEMA, SPEC, targets={"m": "truth_mass", "x": "nowhere"})
    np.testing.assert_array_equal(ev.targets["m"], MASS.astype(np.float32))
    assert np.isnan(ev.targets["x"]).all()
    with pytest.raises(DataError, match="'truth_list' holds a list per entry"):
        read_events(target_file, SCHEMA, SPEC, targets={"l": "truth_list"})
