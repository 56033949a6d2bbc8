"""All-hadronic ttbar generation: schema, matching, W mass, reproducibility, resume."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import uproot

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from hepattn.errors import DataError  # noqa: E402
from hepattn.generate import ttbar  # noqa: E402
from hepattn.generate.detector import BTAG_WORKING_POINTS  # noqa: E402
from hepattn.generate.plots import truth_masses  # noqa: E402
from hepattn.generate.runner import parts_dir  # noqa: E402
from hepattn.generate.ttbar import TtbarConfig, generate_ttbar  # noqa: E402

JET = ["njet", "jet_pt", "jet_eta", "jet_phi", "jet_mass", "jet_btag", "jet_flavour", "jet_parton"]
JET += ["jet_btag_score"]
PARTON = ["nparton", "parton_pt", "parton_eta", "parton_phi", "parton_mass", "parton_pdgid"]
PARTON += ["parton_jet"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("ttbar") / "tt.root"
    generate_ttbar(path, TtbarConfig(n_events=150, seed=11, chunk_size=75), jobs=1)
    return path


def _arrays(path):
    with uproot.open(path) as f:
        return f["events"].arrays()


def test_schema(sample):
    with uproot.open(sample) as f:
        assert str(f["hepattn_format"]) == "ttbar-v2"
        assert str(f["seed"]) == "11"
        assert "generator" in [k.split(";")[0] for k in f.keys()]
        tree = f["events"]
        assert set(JET + PARTON + ["weight", "event"]) <= set(tree.keys())
        assert tree.num_entries == 150
        assert tree["jet_btag"].interpretation.content.from_dtype.kind == "b"
        assert str(f["detector"]) == "delphes-atlas"
        assert json.loads(str(f["detector_config"]))["ecal_cells"] > 100_000
        wps = json.loads(str(f["btag_working_points"]))
        assert wps == BTAG_WORKING_POINTS and set(wps) == {"loose", "medium", "tight"}
    a = _arrays(sample)
    score = ak.flatten(a.jet_btag_score)
    assert ak.all((score >= 0) & (score <= 1))
    assert ak.all(ak.flatten(a.jet_btag) == (score > wps["medium"]))
    assert ak.all(a.nparton == 6)
    assert ak.all(a.njet == ak.num(a.jet_pt))
    assert ak.all(ak.flatten(a.jet_pt) > 25) and ak.all(abs(ak.flatten(a.jet_eta)) < 2.5)
    assert ak.all(ak.flatten(a.jet_pt[:, :-1] - a.jet_pt[:, 1:]) >= 0)  # sorted by pT
    assert len(np.unique(a.event)) == 150 and a.event.type.content.primitive == "int64"
    assert set(np.unique(ak.flatten(a.jet_flavour)).tolist()) <= {0, 4, 5}
    # partons: b from t, W decay quarks, then the same from tbar
    pdg = ak.to_numpy(a.parton_pdgid)
    assert np.all(np.isin(np.abs(pdg[:, [0, 3]]), [1, 3, 5]))
    assert np.all(np.sign(pdg[:, 1]) != np.sign(pdg[:, 2]))
    assert np.all(np.abs(pdg) <= 5)


def test_no_parton_matched_to_two_jets(sample):
    a = _arrays(sample)
    for pj, jp in zip(a.parton_jet.tolist(), a.jet_parton.tolist(), strict=True):
        matched = [j for j in pj if j >= 0]
        assert len(matched) == len(set(matched))
        assert sorted(p for p in jp if p >= 0) == [i for i, j in enumerate(pj) if j >= 0]
        for i, j in enumerate(pj):
            if j >= 0:
                assert jp[j] == i
    # b-tag follows the truth flavour
    flav, tag = ak.flatten(a.jet_flavour), ak.flatten(a.jet_btag)
    assert ak.mean(tag[flav == 5]) > ak.mean(tag[flav == 0]) + 0.3
    score = ak.flatten(a.jet_btag_score)
    assert np.median(score[flav == 5]) > 0.8 > 0.2 > np.median(score[flav == 0])


def test_w_and_top_masses(sample):
    m_qq, m_bqq = truth_masses(_arrays(sample))
    assert len(m_qq) > 60
    assert 70 < np.mean(m_qq) < 90 and 70 < np.median(m_qq) < 90
    assert 150 < np.median(m_bqq) < 190


@pytest.mark.slow
def test_w_and_top_peaks_large_sample(tmp_path):
    from hepattn.generate.plots import ttbar_summary

    path = tmp_path / "big.root"
    generate_ttbar(path, TtbarConfig(n_events=800, seed=21, chunk_size=400), jobs=2, progress=False)
    summary = ttbar_summary(path)
    assert 75 < summary["m_qq_peak"] < 85
    assert 158 < summary["m_bqq_peak"] < 180
    assert 0.05 < summary["frac_all6_matched"] < 0.2


def test_same_seed_same_output_and_jobs_independent(tmp_path, sample):
    other = tmp_path / "again.root"
    generate_ttbar(other, TtbarConfig(n_events=150, seed=11, chunk_size=75), jobs=2)
    a, b = _arrays(sample), _arrays(other)
    assert a.fields == b.fields
    for name in a.fields:
        assert ak.all(ak.ravel(a[name]) == ak.ravel(b[name])), name


def test_interrupted_run_resumes(tmp_path, monkeypatch):
    out = tmp_path / "int.root"
    config = TtbarConfig(n_events=20, seed=5, chunk_size=10)
    real = ttbar.generate_chunk
    calls = []

    def flaky(cfg, chunk):
        if chunk.index == 1 and "interrupted" not in calls:
            calls.append("interrupted")
            raise KeyboardInterrupt
        calls.append(chunk.index)
        return real(cfg, chunk)

    monkeypatch.setattr(ttbar, "generate_chunk", flaky)
    with pytest.raises(KeyboardInterrupt):
        generate_ttbar(out, config, jobs=1)
    assert not out.exists() and (parts_dir(out) / "chunk-00000.root").exists()
    generate_ttbar(out, config, jobs=1)
    assert calls == [0, "interrupted", 1]
    assert out.exists() and not parts_dir(out).exists()
    monkeypatch.setattr(ttbar, "generate_chunk", real)
    _assert_equals_uninterrupted(out, config, tmp_path)


def _assert_equals_uninterrupted(out, config, tmp_path):
    ref = tmp_path / "ref.root"
    generate_ttbar(ref, config, jobs=1)
    a, b = _arrays(out), _arrays(ref)
    for name in a.fields:
        assert ak.all(ak.ravel(a[name]) == ak.ravel(b[name])), name


def test_plain_path_and_uniform_detector(tmp_path):
    """The plain path gives a valid file too; the former single grid stays available and
    gives fewer, coarser towers (hence no more jets than the fine grid resolves)."""
    out = tmp_path / "plain.root"
    generate_ttbar(out, TtbarConfig(n_events=10, seed=2, fast=False, detector="uniform"), jobs=1)
    with uproot.open(out) as f:
        assert str(f["detector"]) == "uniform" and f["events"].num_entries == 10
    with pytest.raises(DataError, match="unknown detector"):
        TtbarConfig(n_events=5, detector="cms")


@pytest.mark.parametrize("damage", ["truncate", "garble", "config"])
def test_damaged_chunk_is_named_and_recovery_is_exact(tmp_path, monkeypatch, damage):
    """A truncated or corrupted chunk (or parts/config.json) gives one clear error naming it
    and saying how to recover; after following it, the result equals an uninterrupted run."""
    out = tmp_path / "dmg.root"
    config = TtbarConfig(n_events=20, seed=5, chunk_size=10)
    real = ttbar.generate_chunk

    def stop_at_second(cfg, chunk):
        if chunk.index == 1:
            raise KeyboardInterrupt
        return real(cfg, chunk)

    monkeypatch.setattr(ttbar, "generate_chunk", stop_at_second)
    with pytest.raises(KeyboardInterrupt):
        generate_ttbar(out, config, jobs=1)
    monkeypatch.setattr(ttbar, "generate_chunk", real)
    chunk = parts_dir(out) / "chunk-00000.root"
    target = parts_dir(out) / "config.json" if damage == "config" else chunk
    data = bytearray(target.read_bytes())
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    else:
        at = int(len(data) * 0.92)  # inside the baskets (uproot writes them at the end)
        data[at : at + 64] = b"\x00" * 64
        target.write_bytes(bytes(data) if damage == "garble" else b"{not json")
    with pytest.raises(DataError) as err:
        generate_ttbar(out, config, jobs=1)
    assert str(target) in str(err.value) and "delete" in str(err.value)
    assert not out.exists()
    target.unlink()
    generate_ttbar(out, config, jobs=1)
    _assert_equals_uninterrupted(out, config, tmp_path)


def test_min_jets_and_bad_arguments(tmp_path):
    out = tmp_path / "min.root"
    generate_ttbar(out, TtbarConfig(n_events=10, seed=2, min_jets=6), jobs=1)
    assert ak.all(_arrays(out).njet >= 6)
    with pytest.raises(DataError, match="positive"):
        TtbarConfig(n_events=0)
    with pytest.raises(DataError, match="min_jets"):
        TtbarConfig(n_events=5, min_jets=-1)


def test_all_hadronic_output_unchanged_by_the_ljets_refactor(tmp_path):
    """The first events of seed 1 equal those of the shipped sample (seed 1, generated before
    the lepton+jets channel was added): same random streams, same reconstruction."""
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "samples" / "ttbar_allhad.root"
    if not shipped.exists():
        pytest.skip("the shipped all-hadronic sample is not present")
    with uproot.open(shipped) as f:
        if str(f["seed"]) != "1" or "min_jets=0" not in str(f["generator"]):
            pytest.skip("the shipped sample was not generated with seed 1 and min_jets 0")
        ref = f["events"].arrays(entry_stop=5)
    out = tmp_path / "five.root"
    generate_ttbar(out, TtbarConfig(n_events=5, seed=1, chunk_size=5), jobs=1, progress=False)
    with uproot.open(out) as f:
        assert "topology" in f and str(f["topology"]) == "ttbar-allhad"
        new = f["events"].arrays()
    assert set(ref.fields) <= set(new.fields)  # later formats add truth targets only
    for name in ref.fields:
        assert ak.all(ak.ravel(new[name]) == ak.ravel(ref[name])), name
