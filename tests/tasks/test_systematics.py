"""Systematic variations: exact rescaling of four-momenta and features, seeded smearing, the
input untouched, bad names refused; ``compare --vary`` reports each variation's shift."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hepattn.cli import main
from hepattn.errors import DataError
from hepattn.tasks.matching import Matcher
from hepattn.tasks.systematics import VaryOptions, varied_names, vary
from tests.tasks.test_matching_task import slice_file

CORRECTIONS = Path(__file__).parents[2] / "samples" / "corrections.json"


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
    assert varied_names(["all"], btag=True)[-2:] == ["btag-up", "btag-down"]
    with pytest.raises(DataError, match="needs the b-tag scale factors: --btag-sf"):
        varied_names(["btag-down"])
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
    # the b-tag variations need b-tags: the towers have none
    sf = str(CORRECTIONS)
    assert main(["eval", "tagger", str(jets), "--vary", "btag-up", "--btag-sf", sf]) == 1
    assert "carries no b-tag feature" in capsys.readouterr().err
    _, _, src = events
    out = tmp_path / "m.json"
    assert main(["eval", "matcher", str(src), "--vary", "all", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert list(d["variations"]) == ["jes-up", "jes-down", "jer"]
    assert set(d["variations"]["jer"]["shift"]["inclusive"]) == {"network"}


def test_tagger_jer_recomputes_the_relative_features(tmp_path):
    """Towers smeared apart: the features relative to the jet axis follow the smeared axis;
    with k = 1 the recomputation gives back the features the reader computed."""
    from hepattn.tasks.systematics import relative_features
    from hepattn.tasks.tagging import Tagger
    from tests.tasks.test_tagging_task import prong_file

    t = Tagger.load("default")
    ev = t.read(prong_file(tmp_path / "p.root", n=30))
    towers = ev["towers"]
    f = list(towers.features)
    same = relative_features(
        towers.values.astype(np.float64), towers.features, towers.p4, towers.p4, towers.mask,
        np.ones(towers.mask.shape),
    )  # fmt: skip
    for name in ("deta", "dphi", "dr", "log_pt_rel", "log_e_rel"):
        if name in f:
            i = f.index(name)
            got, want = same[..., i][towers.mask], towers.values[..., i][towers.mask]
            np.testing.assert_allclose(got, want, atol=2e-4, err_msg=name)
    smeared = vary(ev, "towers", "jer", VaryOptions(seed=1))["towers"]
    i = f.index("log_pt_rel")
    # the smeared towers' pT fractions still sum to one over each untruncated jet
    full = towers.counts <= towers.mask.shape[1]
    frac = np.where(towers.mask, np.exp(smeared.values[..., i]), 0).sum(axis=1)
    pt = np.hypot(smeared.p4[..., 0], smeared.p4[..., 1])
    axis = np.where(towers.mask[..., None], smeared.p4, 0).sum(axis=1)
    want = np.where(towers.mask, pt, 0).sum(axis=1) / np.hypot(axis[:, 0], axis[:, 1])
    np.testing.assert_allclose(frac[full], want[full], rtol=1e-3)
    assert not np.allclose(smeared.values[..., i], towers.values[..., i])


def _jes_file(path, edges_pt, sigma):
    import correctionlib.schemav2 as cs

    corr = cs.Correction(
        name="jes_sigma", version=1,
        inputs=[cs.Variable(name="pt", type="real"), cs.Variable(name="abseta", type="real")],
        output=cs.Variable(name="s", type="real"),
        data=cs.Binning(nodetype="binning", input="pt", edges=edges_pt, content=sigma,
                        flow="error"),
    )  # fmt: skip
    path.write_text(cs.CorrectionSet(schema_version=2, corrections=[corr]).model_dump_json())
    return path


def test_jes_from_a_file_counts_jets_outside_its_bins(events, tmp_path):
    from hepattn.tasks.systematics import JesFile, vary_counted

    _, ev, _ = events
    jes = JesFile(_jes_file(tmp_path / "j.json", [25.0, 60.0, 120.0], [0.1, 0.2]))
    up, info = vary_counted(ev, "jets", "jes-up", VaryOptions(jes_file=jes))
    j = ev["jets"]
    pt = np.hypot(j.p4[..., 0], j.p4[..., 1])
    ratio = np.where(j.mask, up["jets"].p4[..., 3] / np.where(j.mask, j.p4[..., 3], 1), 1)
    inside = j.mask & (pt >= 25) & (pt < 120)
    np.testing.assert_allclose(ratio[inside & (pt < 60)], 1.1, rtol=1e-5)
    np.testing.assert_allclose(ratio[inside & (pt >= 60)], 1.2, rtol=1e-5)
    outside = j.mask & (pt >= 120)
    assert info["outside"] == int(outside.sum()) > 0
    np.testing.assert_allclose(ratio[outside], 1.0)  # not varied, counted
    bad = _jes_file(tmp_path / "b.json", [25.0, 1e4], [1.5])
    with pytest.raises(DataError, match="not a fraction"):
        vary_counted(ev, "jets", "jes-up", VaryOptions(jes_file=JesFile(bad)))
    with pytest.raises(DataError, match="no correction named 'jes'.*'jes_sigma'"):
        JesFile(bad, "jes")


def test_compare_btag_variations_reweight_from_the_central_scale_factors(events, tmp_path):
    _, _, src = events
    out = tmp_path / "c.json"
    png = tmp_path / "shifts.png"
    argv = ["compare", str(src), "--vary", "all", "--btag-sf", str(CORRECTIONS), "-o", str(out)]
    assert main([*argv, "--vary-plot", str(png), "--timing-events", "10", "--no-progress"]) == 0
    assert png.stat().st_size > 0
    d = json.loads(out.read_text())
    assert list(d["variations"]) == ["jes-up", "jes-down", "jer", "btag-up", "btag-down"]
    up, down = d["variations"]["btag-up"], d["variations"]["btag-down"]
    assert up["reference"] == "btag-central" and up["counted"]["jets"] > 0
    for method in ("chi2", "network"):
        ref = up["reference_rows"]["inclusive"][method]["event"]
        assert up["shift"]["inclusive"][method] == pytest.approx(
            up["rows"]["inclusive"][method]["event"] - ref
        )
    # the χ² needs two b-tags: more weight on tagged events raises its efficiency
    assert up["shift"]["inclusive"]["chi2"] > 0 > down["shift"]["inclusive"]["chi2"]
    # counts stay event counts under the weights
    assert up["rows"]["inclusive"]["chi2"]["n_events"] == d["rows"]["inclusive"]["chi2"]["n_events"]
