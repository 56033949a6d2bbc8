"""Systematic variations: exact rescaling of four-momenta and features, seeded smearing, the
input untouched, bad names refused; ``compare --vary`` reports each variation's shift."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hepattn.cli import main
from hepattn.errors import DataError
from hepattn.tasks.matching import Matcher
from hepattn.tasks.systematics import VaryOptions, varied_names, vary
from tests.tasks.test_matching_task import slice_file


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    src = slice_file(tmp_path_factory.mktemp("sys") / "ev.root", 0, 150)
    m = Matcher.load("default")
    return m, m.read_labelled(src), src


def test_jes_scales_four_momenta_and_features_exactly(events):
    m, ev, _ = events
    before = ev["jets"].values.copy()
    up = vary(ev, "jets", "jes-up", VaryOptions(jes_sigma=0.1))
    j, v = ev["jets"], up["jets"]
    np.testing.assert_array_equal(j.values, before)  # the input is not changed
    mask = j.mask
    np.testing.assert_allclose(v.p4[mask], 1.1 * j.p4[mask], rtol=1e-6)
    f = list(j.features)
    for name, want in (("log_pt", j.values[..., f.index("log_pt")] + np.log(1.1)),
                       ("mass", 1.1 * j.values[..., f.index("mass")]),
                       ("eta", j.values[..., f.index("eta")]),
                       ("btag_score", j.values[..., f.index("btag_score")])):  # fmt: skip
        np.testing.assert_allclose(v.values[..., f.index(name)][mask], want[mask], rtol=1e-5)
    np.testing.assert_array_equal(v.values[~mask], j.values[~mask])  # padding stays 0


def test_jer_is_seeded_and_mean_preserving(events):
    _, ev, _ = events
    a = vary(ev, "jets", "jer", VaryOptions(seed=3))["jets"].p4
    b = vary(ev, "jets", "jer", VaryOptions(seed=3))["jets"].p4
    c = vary(ev, "jets", "jer", VaryOptions(seed=4))["jets"].p4
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    mask = ev["jets"].mask
    ratio = a[..., 3][mask] / ev["jets"].p4[..., 3][mask]
    assert abs(ratio.mean() - 1) < 0.02 and abs(ratio.std() - 0.05) < 0.01


def test_bad_names_and_sizes_refused():
    assert varied_names(["jer", "all"]) == ["jes-up", "jes-down", "jer"]
    with pytest.raises(DataError, match="unknown variation 'jes'"):
        varied_names(["jes"])
    with pytest.raises(DataError, match="--jes-sigma"):
        VaryOptions(jes_sigma=1.5)


def test_compare_vary_json_contract(events, tmp_path, capsys):
    _, _, src = events
    out = tmp_path / "c.json"
    argv = ["compare", str(src), "--vary", "jes-up", "--vary", "jer", "--json", str(out)]
    assert main([*argv, "--timing-events", "10", "--no-progress"]) == 0
    assert "systematic variations:" in capsys.readouterr().out
    d = json.loads(out.read_text())
    assert list(d["variations"]) == ["jes-up", "jer"]
    v = d["variations"]["jes-up"]
    assert set(v["rows"]) == set(d["rows"]) and set(v["shift"]["inclusive"]) == {"chi2", "network"}
    row = v["shift"]["inclusive"]
    assert row["network"] == pytest.approx(
        v["rows"]["inclusive"]["network"]["event"] - d["rows"]["inclusive"]["network"]["event"]
    )
    assert main(["compare", str(src), "--vary", "jes"]) == 1


def test_eval_vary_for_the_tagger_and_the_matcher(events, tmp_path, capsys):
    from tests.tasks.test_tagging_task import prong_file

    jets = prong_file(tmp_path / "p.root", n=70)
    out = tmp_path / "t.json"
    assert main(["eval", "tagger", str(jets), "--vary", "jes-down", "--json", str(out)]) == 0
    v = json.loads(out.read_text())["variations"]["jes-down"]
    assert set(v["shift"]) == {"all"} and "accuracy" in v["report"]
    assert "jes-down: shift [points] all" in capsys.readouterr().out
    # smearing each tower apart moves the axis the tagger's relative features use: refused
    assert main(["eval", "tagger", str(jets), "--vary", "jer"]) == 1
    assert "'jer'" in capsys.readouterr().err
    _, _, src = events
    out = tmp_path / "m.json"
    assert main(["eval", "matcher", str(src), "--vary", "all", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert list(d["variations"]) == ["jes-up", "jes-down", "jer"]
    assert set(d["variations"]["jer"]["shift"]["inclusive"]) == {"network"}
