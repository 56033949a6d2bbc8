"""Regression heads of the matcher end to end (issue 24): a tiny all-hadronic matcher trained
with the declared tt̄ mass regression on slices of the shipped sample (its target written
beside them: the six partons' invariant mass, some events without it), its loss going down,
the outputs ``hepattn match`` writes, files without the target, and older matchers
unchanged."""

from __future__ import annotations

import copy
import json

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from hepattn.cli import main
from hepattn.errors import DataError
from hepattn.tasks.matching import Matcher, MatcherRunConfig
from tests.tasks.test_matching_task import SAMPLE, TINY, slice_file

HALF_LOG_2PI_E = 0.5 * np.log(2 * np.pi * np.e)  # NLL of N(0, 1) targets predicted as N(0, 1)


def with_mass(path, start, stop, missing_every=0):
    """:func:`slice_file` with ``truth_ttbar_mass``: the invariant mass of the six partons
    (NaN in every ``missing_every``-th event)."""
    p = uproot.open(SAMPLE)["events"].arrays(
        [f"parton_{x}" for x in ("pt", "eta", "phi", "mass")], entry_start=start, entry_stop=stop
    )
    pt, eta, phi, m = (p[f"parton_{x}"] for x in ("pt", "eta", "phi", "mass"))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    s = [np.asarray(ak.sum(v, axis=1), np.float64) for v in (px, py, pz, e)]
    mass = np.sqrt(np.maximum(s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2, 0)).astype(np.float32)
    if missing_every:
        mass[::missing_every] = np.nan
    slice_file(path, start, stop, extra={"truth_ttbar_mass": mass})
    return path, mass


def regression_config(epochs=3):
    cfg = copy.deepcopy(TINY)
    cfg["model"]["regressions"] = "all"
    cfg["training"]["epochs"] = epochs
    return cfg


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("regression")
    train, _ = with_mass(d / "train.root", 0, 1500, missing_every=7)
    val, _ = with_mass(d / "val.root", 1500, 2000)
    summary = Matcher.train(
        MatcherRunConfig.from_dict(regression_config()), [train], [val], d / "run"
    )
    return d, summary


def test_regression_loss_decreases_and_is_saved_with_the_model(trained):
    d, summary = trained
    history = json.loads((d / "run" / "history.json").read_text())
    nll = [h["val_regression_nll_EVENT_ttbar_mass"] for h in history]
    assert len(nll) == 3 and nll[-1] < nll[0]
    assert nll[-1] < HALF_LOG_2PI_E  # better than the training mean and std
    best = d / "run" / "best"
    config = yaml.safe_load((best / "config.yaml").read_text())
    assert config["model"]["regressions"] == ["EVENT_ttbar_mass"]  # "all" spelled out
    record = json.loads((best / "standardization.json").read_text())["regression"]
    assert record["features"] == ["EVENT_ttbar_mass"]
    _, mass = with_mass(d / "check.root", 0, 1500, missing_every=7)
    finite = mass[np.isfinite(mass)]  # the trainable events are a subset: same ballpark
    assert abs(record["mean"][0] - finite.mean()) < 0.2 * finite.std()
    assert 0.5 < record["std"][0] / finite.std() < 2


def test_match_writes_value_and_sigma_also_for_files_without_the_target(trained, tmp_path):
    d, _ = trained
    model = d / "run" / "best"
    src = slice_file(tmp_path / "old.root", 2000, 2300)  # an older file: no truth_ttbar_mass
    out = tmp_path / "out.root"
    assert main(["match", str(src), "-o", str(out), "--model", str(model)]) == 0
    t = uproot.open(out)["hepattn"]
    value = t["EVENT_ttbar_mass"].array(library="np")
    sigma = t["EVENT_ttbar_mass_sigma"].array(library="np")
    assert value.shape == sigma.shape == (300,)
    assert np.isfinite(value).all() and (sigma > 0).all()
    assert 100 < np.median(value) < 2000 and 1 < np.median(sigma) < 2000  # GeV, not standardized
    matcher = Matcher.load(model)
    got = matcher.predict_regressions(matcher.read(src))
    np.testing.assert_array_equal(got["EVENT_ttbar_mass"][0], value)
    np.testing.assert_array_equal(got["EVENT_ttbar_mass"][1], sigma)
    # evaluating on a file without the target: its regression is left out, nothing breaks
    ev = matcher.read(src, need_labels=True, require_weight=True)
    assert np.isnan(ev.derived["regression_raw"]).all()
    with pytest.raises(DataError, match="no branch 'truth_ttbar_mass'"):
        matcher.read(src, need_labels=True, require_targets=True)


def test_training_on_files_without_the_target_is_one_line(tmp_path):
    train = slice_file(tmp_path / "train.root", 0, 300)
    with pytest.raises(DataError) as err:
        Matcher.train(MatcherRunConfig.from_dict(regression_config(1)), [train], [train], tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert "no branch 'truth_ttbar_mass'" in message
    assert "regression 'EVENT_ttbar_mass' (topology 'ttbar-allhad', regressions[0]" in message


def test_matchers_without_regressions_load_and_answer_as_before(tmp_path):
    """The bundled matchers saved before regressions have no heads and write no branches;
    the bundled lepton+jets matcher has its declared regressions."""
    src = slice_file(tmp_path / "a.root", 0, 200)
    lj = Matcher.load(None, topology="ttbar-ljets")
    assert [r.key for r in lj.regressions] == [
        "EVENT_nu_pz", "EVENT_nu_eta", "t_had_pt", "t_lep_pt", "EVENT_ttbar_mass"
    ]  # fmt: skip
    for topology in ("ttbar-allhad", "hh-4b"):
        matcher = Matcher.load(None, topology=topology)
        assert matcher.regressions == () and not matcher.net.regressions
        assert "regression" not in matcher.standardizers
        assert "regressions" not in matcher.run.model
    matcher = Matcher.load(None, topology="ttbar-allhad")
    ev = matcher.read(src, need_labels=True)
    assert "regression_raw" not in ev.derived and ev.targets == {}
    branches, metadata = matcher.match(ev)
    assert not any(k.startswith("EVENT_") or k.endswith("_sigma") for k in branches)
    assert matcher.predict_regressions(ev) == {}
    assert "_sigma" not in metadata["sentinels"]


def test_the_api_returns_the_same_regressions(trained, tmp_path):
    import hepattn.api as ha

    d, _ = trained
    model = str(d / "run" / "best")
    src = slice_file(tmp_path / "api.root", 2000, 2100)
    a = uproot.open(src)["events"].arrays(filter_name="jet_*")
    jets = ak.zip({k[4:]: a[k] for k in a.fields})
    out = ha.match(jets, model=model)
    matcher = Matcher.load(model)
    want = matcher.predict_regressions(matcher.read(src))
    assert out.regression.fields == ["EVENT_ttbar_mass", "EVENT_ttbar_mass_sigma"]
    np.testing.assert_array_equal(out.regression.EVENT_ttbar_mass, want["EVENT_ttbar_mass"][0])
    np.testing.assert_array_equal(
        out.regression.EVENT_ttbar_mass_sigma, want["EVENT_ttbar_mass"][1]
    )
    assert len(ha.match(jets[:0], model=model).regression.fields) == 2
    assert "regression" not in ha.match(jets, model="default").fields


def test_the_card_names_the_regressions(trained):
    d, _ = trained
    card = (d / "run" / "best" / "card.md").read_text()
    line = next(ln for ln in card.splitlines() if ln.startswith("- **Regressions**"))
    assert "`EVENT_ttbar_mass` (field `truth_ttbar_mass`, weight 1" in line
    assert "training events with it" in line


def test_streamed_training_reads_the_targets_with_each_chunk(trained, tmp_path):
    d, _ = trained
    run = MatcherRunConfig.from_dict(regression_config(2))
    Matcher.train(
        run, [d / "train.root"], [d / "val.root"], tmp_path / "run", stream=True, chunk_entries=400
    )
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    nll = [h["val_regression_nll_EVENT_ttbar_mass"] for h in history]
    assert len(nll) == 2 and all(np.isfinite(nll))
    from hepattn.data import PadSpec, RootStreamDataset

    task = Matcher(run)
    task.standardizers = Matcher.load(d / "run" / "best").standardizers
    spec = PadSpec(run.data.features, run.data.max_objects, labels=(run.data.label,))
    ds = RootStreamDataset(
        [d / "train.root"],
        run.data.schema,
        "jets",
        spec,
        chunk_entries=400,
        transform=task.prepare,
        targets=task.target_branches(run.data.schema),
    )
    y = np.array([float(item["derived"]["regression_target"][0]) for item in ds])
    assert np.isnan(y).any() and np.isfinite(y).sum() > 0.8 * len(y)  # every 7th missing


def test_eval_reports_resolution_bias_and_pulls(trained, tmp_path, capsys):
    d, _ = trained
    args = ["eval", "matcher", str(d / "val.root"), "--model", str(d / "run" / "best")]
    assert main([*args, "--out", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())["regressions"]["EVENT_ttbar_mass"]
    assert m["events"] > 0 and m["resolution"] > 0 and 0.1 < m["pull_width"] < 10
    assert "EVENT_ttbar_mass: resolution" in capsys.readouterr().out


def test_train_matcher_regressions_option(trained, tmp_path):
    from hepattn.tasks.presets import load_run_config

    d, _ = trained
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "run"
    args = ["train", "matcher", "--config", str(config), "--train", str(d / "train.root")]
    args += ["--val", str(d / "val.root"), "-o", str(out), "--regressions", "all"]
    assert main([*args, "--no-progress"]) == 0
    saved = yaml.safe_load((out / "best" / "config.yaml").read_text())
    assert saved["model"]["regressions"] == ["EVENT_ttbar_mass"]
    lj = load_run_config("matcher", topology="ttbar-ljets", regressions="EVENT_nu_pz, t_had_pt")
    assert lj.model["regressions"] == ["EVENT_nu_pz", "t_had_pt"]
    cfg = tmp_path / "with.yaml"
    cfg.write_text(yaml.safe_dump(regression_config()))
    assert "regressions" not in load_run_config("matcher", cfg, regressions="none").model
    with pytest.raises(Exception, match="declares no regression 'EVENT_nu_pz'"):
        load_run_config("matcher", topology="hh-4b", regressions="EVENT_nu_pz")


def test_nonfinite_targets_masked_by_default_or_refused(trained, tmp_path, capsys):
    """NaN targets (every 7th event of train.root): left out of the metrics by default,
    refused in one line naming file, branch and entry with --nonfinite-targets error."""
    d, _ = trained
    args = ["eval", "matcher", str(d / "train.root"), "--model", str(d / "run" / "best")]
    assert main([*args, "--json", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())["regressions"]["EVENT_ttbar_mass"]
    assert 0 < m["events"] < 1500
    capsys.readouterr()
    assert main([*args, "--nonfinite-targets", "error"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the reader's count
    assert "train.root: branch 'truth_ttbar_mass' (regression EVENT_ttbar_mass)" in err
    assert "first: entry 0" in err and err.startswith("hepattn eval: error:")
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(regression_config(epochs=1)))
    train = ["train", "matcher", "--config", str(config), "--train", str(d / "train.root")]
    train += ["--val", str(d / "val.root"), "-o", str(tmp_path / "run")]
    assert main([*train, "--nonfinite-targets", "error", "--no-progress"]) == 1
    assert "truth_ttbar_mass" in capsys.readouterr().err
