"""Inputs a bundled model never saw (issue 23's held-out cases): NanoAOD b-tag defaults,
scores outside [0, 1], jets of one tower and of 500 towers — counted in warnings, refused
with one line under ``--domain error``, recorded in the output; never silent."""

from __future__ import annotations

import json
import logging

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.cli import main
from hepattn.data import write_tree
from tests.reliability._helpers import error_lines, snapshot, string_metadata
from tests.test_api import nano_events, nano_file


def _refused(capsys, argv, *words) -> str:
    assert main(argv) == 1, argv
    lines = error_lines(capsys)
    assert len(lines) == 1 and all(w in lines[0] for w in words), lines
    return lines[0]


def _warnings(caplog, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if word in r.getMessage()]


@pytest.fixture
def defaults_file(tmp_path):
    """300 NanoAOD-like events, a fifth of the b-tag scores −1 (jets without b-tag info)."""
    events = nano_events(300, seed=3)
    rng = np.random.default_rng(4)
    jet = events.Jet
    flat = ak.to_numpy(ak.flatten(jet.btagDeepFlavB)).copy()
    flat[rng.random(len(flat)) < 0.2] = -1.0
    jet = ak.with_field(jet, ak.unflatten(flat, ak.num(jet)), "btagDeepFlavB")
    return nano_file(tmp_path / "nano.root", ak.with_field(events, jet, "Jet")), len(flat)


def test_nanoaod_defaults_refused_then_replaced_and_counted(
    tmp_path, defaults_file, capsys, caplog
):
    src, _ = defaults_file
    before = snapshot(tmp_path)
    out = tmp_path / "m.root"
    base = ["match", str(src), "-o", str(out), "--schema", "nanoaod", "--no-progress"]
    _refused(capsys, base, "nano.root", "'Jet_btagDeepFlavB'", "--btag-default")
    _refused(capsys, [*base, "--method", "chi2"], "'Jet_btagDeepFlavB'", "--btag-default")
    assert not out.exists()
    with caplog.at_level(logging.WARNING):
        assert main([*base, "--btag-default", "0"]) == 0
    (line,) = _warnings(caplog, "b-tag default")
    n_def = int(line.split(": ")[1].split()[0])
    assert n_def > 100 and "(-1: no b-tag information) used as 0" in line
    assert snapshot(tmp_path) == {**before, **snapshot(out)}  # the input untouched
    with uproot.open(out) as f:
        domain = json.loads(string_metadata(f)["domain"])
    assert domain["policy"] == "warn" and domain["events"] == 300


def test_scores_outside_0_1_refused_or_dropped(tmp_path, capsys, caplog):
    events = nano_events(300, seed=5)
    flat = np.random.default_rng(6).uniform(-1, 3, int(ak.sum(ak.num(events.Jet))))
    jet = ak.with_field(
        events.Jet, ak.unflatten(flat.astype(np.float32), ak.num(events.Jet)), "btagDeepFlavB"
    )
    src = nano_file(tmp_path / "spread.root", ak.with_field(events, jet, "Jet"))
    out = tmp_path / "m.root"
    base = ["match", str(src), "-o", str(out), "--schema", "nanoaod", "--btag-default", "0"]
    _refused(capsys, base, "spread.root", "outside the b-tag score range [0, 1]", "drop")
    with caplog.at_level(logging.WARNING):
        assert main([*base, "--btag-out-of-range", "drop", "--no-progress"]) == 0
    (line,) = _warnings(caplog, "outside [0, 1] dropped")
    assert "'Jet_btagDeepFlavB'" in line


def tower_jets(path, n_towers, n=4, seed=0):
    """Jets of the hepattn-prongs layout with ``n_towers`` towers each (pT 1100 GeV jets)."""
    rng = np.random.default_rng(seed)
    counts = np.full(n, n_towers)
    m = int(counts.sum())
    pt = rng.exponential(1.0, m)
    pt = pt / np.repeat(np.add.reduceat(pt, np.r_[0, np.cumsum(counts)[:-1]]), counts) * 1100
    eta, phi = rng.normal(0, 0.3, m), rng.normal(0, 0.3, m)
    tower = ak.zip(
        {
            k: ak.unflatten(v.astype(np.float32), counts)
            for k, v in {"pt": pt, "eta": eta, "phi": phi, "e": pt * np.cosh(eta)}.items()
        }
    )
    zeros = np.zeros(n, np.float32)
    data = {
        "tower": tower,
        "label": np.zeros(n, np.int32),
        "n_contained": np.zeros(n, np.int32),
        "weight": zeros + 1,
        "event": np.arange(n, dtype=np.int64),
        "jet_pt": zeros + 1100,
        "jet_eta": zeros,
        "jet_phi": zeros,
        "jet_mass": zeros + 500,
    }
    return write_tree(path, data, tree="jets")


@pytest.mark.parametrize(
    ("n_towers", "words"),
    [(1, ("towers per event", "jet mass")), (500, ("towers per event", "reads the 128"))],
)
def test_tagger_counts_jets_it_never_saw(tmp_path, capsys, caplog, n_towers, words):
    src = tower_jets(tmp_path / f"j{n_towers}.root", n_towers)
    out = tmp_path / "t.root"
    with caplog.at_level(logging.WARNING):
        assert main(["tag", str(src), "-o", str(out), "--no-progress"]) == 0
    lines = _warnings(caplog, "domain:")
    for w in words:
        assert any(w in ln for ln in lines), (w, lines)
    with uproot.open(out) as f:
        domain = json.loads(string_metadata(f)["domain"])
    assert domain["outside"]["towers.count"]["outside"] == 4
    err = tmp_path / "e.root"
    _refused(
        capsys,
        ["tag", str(src), "-o", str(err), "--domain", "error"],
        f"j{n_towers}.root: entry 0",
        "--domain warn",
    )
    assert not err.exists()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert main(["tag", str(src), "-o", str(err), "--domain", "ignore"]) == 0
    assert not _warnings(caplog, "domain:")
    with uproot.open(err) as f:
        assert "domain" not in string_metadata(f)


def test_the_shipped_samples_are_inside_the_bundled_models_domains(caplog):
    """The README's commands on the shipped samples (drawn like the training data) warn of
    nothing."""
    from hepattn.tasks.matching import Matcher
    from hepattn.tasks.presets import task_class

    with caplog.at_level(logging.WARNING):
        for topology, sample in (
            ("ttbar-allhad", "ttbar_allhad"),
            ("ttbar-ljets", "ttbar_ljets"),
            ("hh-4b", "hh4b"),
        ):
            Matcher.load("default", topology).read(f"samples/{sample}.root")
        task_class("tagger").load("default").read("samples/prongs.root")
    assert not _warnings(caplog, "domain:")


def test_compare_and_eval_json_record_the_counts(tmp_path, capsys):
    from tests.tasks.test_matching_task import slice_file

    src = slice_file(tmp_path / "ev.root", 0, 200)
    out = tmp_path / "c.json"
    assert main(["compare", str(src), "--json", str(out), "--timing-events", "10"]) == 0
    domain = json.loads(out.read_text())["domain"]
    assert domain["events"] == 200 and domain["policy"] == "warn"
    ev = tmp_path / "e.json"
    assert main(["eval", "matcher", str(src), "--json", str(ev), "--no-progress"]) == 0
    assert json.loads(ev.read_text())["domain"]["events"] == 200
    assert main(["eval", "matcher", str(src), "--json", str(ev), "--domain", "ignore"]) == 0
    assert "domain" not in json.loads(ev.read_text())
