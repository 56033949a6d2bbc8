"""Regression targets in SPANet's HDF5 layout: ``hepattn convert`` writes the topology's
declared targets the source holds under ``REGRESSIONS/EVENT/<name>`` (or
``REGRESSIONS/<resonance>/<name>``), and a matcher reads them back as from the ROOT file."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("h5py")

from hepattn.data import PadSpec, read_inputs  # noqa: E402
from hepattn.data.reader import MissingTargetError  # noqa: E402
from hepattn.data.spanet import write_spanet_h5  # noqa: E402
from hepattn.tasks.matching import Matcher, MatcherRunConfig  # noqa: E402
from tests.tasks.test_matching_task import slice_file  # noqa: E402
from tests.tasks.test_regression_task import regression_config, with_mass  # noqa: E402


def test_convert_writes_and_the_matcher_reads_the_regression_targets(tmp_path):
    import h5py

    root, mass = with_mass(tmp_path / "a.root", 0, 300, missing_every=5)
    h5 = write_spanet_h5(tmp_path / "a.h5", root).path
    with h5py.File(h5) as f:
        np.testing.assert_array_equal(f["REGRESSIONS/EVENT/ttbar_mass"][:], mass)
    cfg = regression_config()
    cfg["data"]["features"] = ["log_pt", "eta", "log_e", "mass", "btag"]  # SPANet's btag
    task = Matcher(MatcherRunConfig.from_dict(cfg))
    from_root = task.read(root, need_labels=True, require_targets=True)
    from_h5 = task.read(h5, need_labels=True, require_targets=True)
    np.testing.assert_array_equal(
        from_h5.derived["regression_raw"], from_root.derived["regression_raw"]
    )
    assert np.isnan(from_h5.derived["regression_raw"]).sum() == 60
    # a source without the target: no REGRESSIONS written; NaN targets, or refused to train
    old = write_spanet_h5(tmp_path / "old.h5", slice_file(tmp_path / "old.root", 0, 50)).path
    with h5py.File(old) as f:
        assert "REGRESSIONS" not in f
    assert np.isnan(task.read(old, need_labels=True).derived["regression_raw"]).all()
    with pytest.raises(Exception, match="no branch 'REGRESSIONS/EVENT/ttbar_mass'.*regressions"):
        task.read(old, need_labels=True, require_targets=True)
    spec = {"jets": PadSpec(("pt",), 8, ())}
    with pytest.raises(MissingTargetError):
        read_inputs(old, None, spec, targets={"EVENT_ttbar_mass": "x"}, require_targets=True)
