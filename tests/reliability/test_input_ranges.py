"""Values outside what a model was trained on: refused (b-tag scores where the model saw 0/1,
negative pT or energy, NaN without --nonfinite drop), or handled, counted and logged
(negative masses, jets with no towers, --nonfinite drop) — as the README's table says."""

from __future__ import annotations

import logging

import awkward as ak
import numpy as np
import uproot

from hepattn.cli import main
from tests.reliability._helpers import error_lines, rewrite, snapshot
from tests.tasks.test_matching_task import slice_file
from tests.tasks.test_tagging_task import prong_file


def _refused(capsys, argv, *words) -> None:
    assert main(argv) == 1, argv
    lines = error_lines(capsys)
    assert len(lines) == 1 and all(w in lines[0] for w in words), lines


def _jagged_map(arr, fn):
    counts = ak.num(arr)
    return ak.unflatten(fn(ak.to_numpy(ak.flatten(arr)).copy()), counts)


def test_btag_scores_fed_to_a_model_trained_on_decisions(tmp_path, capsys, decision_model):
    events = slice_file(tmp_path / "ev.root", 0, 60)
    rng = np.random.default_rng(0)

    def scores(d):
        d["jet"]["btag"] = _jagged_map(d["jet"]["btag"], lambda x: rng.uniform(0, 1, len(x)))
        return d

    bad = rewrite(events, tmp_path / "scores.root", "events", scores)
    before = snapshot(tmp_path)
    out, model = tmp_path / "m.root", str(decision_model)
    argv = ["match", str(bad), "-o", str(out), "--model", model]
    _refused(capsys, argv, "scores.root", "'jet_btag'", "nor 1")
    _refused(capsys, ["compare", str(bad), "--model", model], "'jet_btag'", "trained on 0/1 btag")
    assert not out.exists() and snapshot(tmp_path) == before
    assert main(["match", str(events), "-o", str(out), "--model", model]) == 0  # decisions: fine
    # the chi2 applies a working point to scores: they are its input as they are
    chi2 = ["match", str(bad), "-o", str(out), "--method", "chi2", "--btag-wp", "0.8993"]
    assert main(chi2) == 0


def test_decisions_fed_to_the_bundled_score_model_are_warned(tmp_path, caplog):
    """The bundled matcher reads the continuous score: a file whose score branch holds only
    0/1 decisions still runs (nothing detectably wrong per event) but says so once."""
    events = slice_file(tmp_path / "ev.root", 0, 60)

    def decisions(d):
        d["jet"]["btag_score"] = ak.values_astype(d["jet"]["btag"], np.float32)
        return d

    bad = rewrite(events, tmp_path / "decisions.root", "events", decisions)
    with caplog.at_level(logging.WARNING):
        assert main(["match", str(bad), "-o", str(tmp_path / "m.root")]) == 0
    warned = [r.getMessage() for r in caplog.records if "holds only 0 and 1" in r.getMessage()]
    assert len(warned) == 1 and "'jet_btag_score'" in warned[0] and "b-tag score" in warned[0]


def test_negative_pt_or_energy_is_refused(tmp_path, capsys):
    jets = prong_file(tmp_path / "jets.root", n=14, seed=5)

    def negative(d):
        d["tower"]["pt"] = _jagged_map(
            d["tower"]["pt"], lambda x: np.where(np.arange(len(x)) == 7, -x, x)
        )
        return d

    bad = rewrite(jets, tmp_path / "neg.root", "jets", negative)
    before = snapshot(tmp_path)
    _refused(capsys, ["tag", str(bad), "-o", str(tmp_path / "t.root")], "'tower_pt'", "negative pT")
    assert snapshot(tmp_path) == before


def test_negative_mass_is_counted_and_used(tmp_path, capsys):
    events = slice_file(tmp_path / "ev.root", 0, 40)

    def negative(d):
        d["jet"]["mass"] = _jagged_map(
            d["jet"]["mass"], lambda x: np.where(np.arange(len(x)) < 5, -0.01, x)
        )
        return d

    bad = rewrite(events, tmp_path / "negm.root", "events", negative)
    assert main(["match", str(bad), "-o", str(tmp_path / "m.root"), "--method", "chi2"]) == 0
    assert (
        "branch 'jet_mass': 5 objects with a negative mass, used as given"
        in capsys.readouterr().err
    )


def test_jets_with_no_towers(tmp_path, capsys):
    jets = prong_file(tmp_path / "jets.root", n=14, seed=5)

    def empty(which):
        def change(d):
            t = d["tower"]
            keep = ak.Array([[i not in which] * n for i, n in enumerate(ak.num(t["pt"]).tolist())])
            d["tower"] = {k: v[keep] for k, v in t.items()}
            return d

        return change

    some = rewrite(jets, tmp_path / "some.root", "jets", empty({0, 3}))
    out = tmp_path / "t.root"
    assert main(["tag", str(some), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "2 of 14 jets have no towers" in captured.err
    assert "no towers (prob NaN, pred -1): 2 jets" in captured.out
    with uproot.open(out) as f:
        prob, pred = (
            f["hepattn"]["prob"].array(library="np"),
            f["hepattn"]["pred"].array(library="np"),
        )
    assert np.isnan(prob[[0, 3]]).all() and (pred[[0, 3]] == -1).all()
    assert np.isfinite(prob[[1, 2, 4]]).all() and (pred[[1, 2, 4]] >= 0).all()
    none = rewrite(jets, tmp_path / "none.root", "jets", empty(set(range(14))))
    _refused(
        capsys, ["tag", str(none), "-o", str(tmp_path / "n.root")], "none.root", "nothing to tag"
    )
    assert not (tmp_path / "n.root").exists()


def test_nonfinite_values_error_names_the_flag_and_the_flag_drops_them(tmp_path, capsys):
    jets = prong_file(tmp_path / "jets.root", n=14, seed=5)

    def nan(d):
        d["tower"]["e"] = _jagged_map(
            d["tower"]["e"], lambda x: np.where(np.arange(len(x)) == 4, np.nan, x)
        )
        return d

    bad = rewrite(jets, tmp_path / "nan.root", "jets", nan)
    before = snapshot(tmp_path)
    out = tmp_path / "t.root"
    _refused(capsys, ["tag", str(bad), "-o", str(out)], "'tower_e'", "--nonfinite drop")
    assert snapshot(tmp_path) == before
    assert main(["tag", str(bad), "-o", str(out), "--nonfinite", "drop"]) == 0
    assert "branch 'tower_e': 1 objects with non-finite values dropped" in capsys.readouterr().err
