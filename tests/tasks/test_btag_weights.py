"""b-tag scale factors as event weights (fixed working point): the formula against hand
values, the flavours read at each jet's position in its file, the bad inputs one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepattn.errors import DataError
from hepattn.tasks.btag_weights import BtagScaleFactors, fixed_wp_weights, jet_flavours

pytest.importorskip("correctionlib")
SAMPLES = Path(__file__).parents[2] / "samples"
CORRECTIONS = SAMPLES / "corrections.json"


def test_fixed_wp_weights_by_hand():
    tagged = np.array([[True, False, False], [False, False, False]])
    mask = np.array([[True, True, False], [True, True, True]])
    sf = np.array([[0.9, 0.9, 5.0], [1.2, np.nan, 1.0]])
    eff = np.array([[0.7, 0.5, 0.5], [0.1, 0.3, 0.2]])
    w = fixed_wp_weights(tagged, mask, sf, eff)
    # event 0: tagged 0.9 × untagged (1 - 0.45) / 0.5; the padded slot ignored
    # event 1: (1 - 0.12) / 0.9 × (NaN: outside the bins, factor 1) × (1 - 0.2) / 0.8
    np.testing.assert_allclose(w, [0.9 * 1.1, 0.88 / 0.9 * 1.0], rtol=1e-12)
    assert fixed_wp_weights(tagged, mask, np.ones_like(sf), eff) == pytest.approx([1.0, 1.0])
    with pytest.raises(DataError, match="efficiency 1 for an untagged jet"):
        fixed_wp_weights(tagged, mask, sf, np.ones_like(eff))


def test_flavours_follow_each_jet_to_its_position_in_the_file(tmp_path):
    import awkward as ak
    import uproot

    from hepattn.tasks.matching import Matcher

    src = SAMPLES / "ttbar_allhad.root"
    ev = Matcher.load("default").read(src, entry_start=100, entry_stop=160)
    flav = jet_flavours(ev, "jets", "jet_flavour", None)
    with uproot.open(src) as f:
        want = f["events"]["jet_flavour"].array(entry_start=100, entry_stop=160)
    idx = ev["jets"].index
    for b in range(len(ev)):
        real = ev["jets"].mask[b]
        got = flav[b][real]
        np.testing.assert_array_equal(got, ak.to_numpy(want[ev.entry[b] - 100])[idx[b][real]])
    assert (flav[~ev["jets"].mask] == -1).all()
    with pytest.raises(DataError, match=r"no branch 'Jet_hadronFlavour'.*--btag-flavour"):
        jet_flavours(ev, "jets", "Jet_hadronFlavour", None)


def test_scale_factor_file_checked_before_reading(tmp_path):
    BtagScaleFactors(CORRECTIONS)
    with pytest.raises(DataError, match="no correction named 'deepJet_comb'"):
        BtagScaleFactors(CORRECTIONS, sf_name="deepJet_comb")
    with pytest.raises(DataError, match=r"correction 'jes_sigma' .* takes inputs"):
        BtagScaleFactors(CORRECTIONS, eff_name="jes_sigma")


def test_weights_of_the_shipped_example_on_the_shipped_sample():
    """Central weights average ~1 when SF ~ 1; the up weights favour events with tags."""
    from hepattn.tasks.matching import Matcher

    m = Matcher.load("default")
    ev = m.read(SAMPLES / "ttbar_allhad.root", entry_stop=2000)
    jets = ev["jets"]
    score = jets.values[..., jets.features.index("btag_score")]
    tagged = jets.mask & (score > 0.8993)
    sf = BtagScaleFactors(CORRECTIONS)
    w, info = sf.weights(ev, "jets", tagged, schema="hepattn-ttbar")
    assert info["jets"] == int(jets.mask.sum()) and info["outside"] == 0
    assert 0.9 < w["central"].mean() < 1.1
    n_tags = tagged.sum(axis=1)
    ratio = w["up"] / w["central"]
    assert ratio[n_tags >= 2].mean() > 1 > ratio[n_tags == 0].mean()
