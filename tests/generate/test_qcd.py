"""QCD multijet background (``hepattn generate qcd``): the signal files' layout without partons,
the cross-section recorded for physical proportions, the selection, heavy flavour."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from hepattn.cli import main  # noqa: E402
from hepattn.data import write_tree  # noqa: E402
from hepattn.errors import DataError  # noqa: E402
from hepattn.generate.qcd import QcdConfig, generate_qcd, settings  # noqa: E402
from hepattn.generate.runner import combined_cross_section  # noqa: E402
from tests.generate.test_ttbar import JET, PARTON  # noqa: E402


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("qcd") / "qcd.root"
    config = QcdConfig(n_events=30, seed=3, chunk_size=15, min_jets=4, pthat_min=120)
    generate_qcd(path, config, jobs=1, progress=False)
    return path


def test_layout_no_partons_and_selection(sample):
    with uproot.open(sample) as f:
        assert str(f["hepattn_format"]) == "qcd-v1" and str(f["topology"]) == "none"
        assert "pTHatMin=120" in str(f["generator"])
        a = f["events"].arrays()
        assert set(JET + PARTON + ["weight", "event"]) <= set(f["events"].keys())
    assert len(a) == 30 and ak.all(a.njet >= 4) and ak.all(a.nparton == 0)
    assert ak.all(ak.flatten(a.jet_parton) == -1)
    assert ak.all(ak.flatten(a.jet_pt) > 25) and len(np.unique(a.event)) == 30


def test_cross_section_recorded_for_physical_proportions(sample):
    with uproot.open(sample) as f:
        sigma = float(str(f["cross_section_pb"]))
        err = float(str(f["cross_section_err_pb"]))
        n_gen = int(str(f["n_generated"]))
    # σ(p̂T > 120 GeV) of hard QCD at 13 TeV is of order a microbarn
    assert 1e5 < sigma < 1e7 and 0 < err < sigma and n_gen >= 30


def test_chunks_combine_weighted_by_generated_events(tmp_path):
    paths = []
    for i, (n, s, e) in enumerate(((100, 10.0, 1.0), (300, 20.0, 2.0))):
        meta = {"n_generated": str(n), "cross_section_pb": repr(s), "cross_section_err_pb": repr(e)}
        paths.append(write_tree(tmp_path / f"c{i}.root", {"x": np.zeros(1)}, metadata=meta))
    got = combined_cross_section(paths)
    assert float(got["cross_section_pb"]) == pytest.approx((100 * 10 + 300 * 20) / 400)
    assert float(got["cross_section_err_pb"]) == pytest.approx(np.hypot(100, 600) / 400)
    write_tree(tmp_path / "plain.root", {"x": np.zeros(1)}, metadata={"n_generated": "5"})
    assert combined_cross_section([*paths, tmp_path / "plain.root"]) == {}


def test_heavy_flavour_settings_and_bad_arguments(tmp_path, capsys):
    hf = settings(QcdConfig(n_events=1, heavy_flavour=True, pthat_min=50))
    assert hf == ("HardQCD:hardbbbar = on", "PhaseSpace:pTHatMin = 50")
    with pytest.raises(DataError, match="--pthat-min"):
        QcdConfig(n_events=1, pthat_min=0)
    argv = ["generate", "qcd", "-n", "5", "--pthat-min", "-3", "-o", str(tmp_path / "q.root")]
    assert main(argv) == 1 and "--pthat-min" in capsys.readouterr().err
