"""The bundled tagger on the shipped sample and on the same jets in a user's own layout."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from hepattn.cli import main
from hepattn.data import write_tree
from hepattn.tasks.tagging import Tagger

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "prongs.root"
N = 60

USER_SCHEMA = {
    "name": "my-fatjets",
    "tree": "FatJets",
    "collections": {
        "towers": {
            "kinematics": "ptetaphie",
            "branches": {"pt": "TowerPT", "eta": "TowerEta", "phi": "TowerPhi", "energy": "TowerE"},
            "counter": "nTower",
        }
    },
    "event": {"label": "truthClass"},
}


def _user_file(path: Path, rng: np.random.Generator, dphi: float = 0.0) -> None:
    """The first N jets of the shipped sample in another layout, towers in random order,
    float64 branches, every φ shifted by ``dphi``."""
    with uproot.open(SAMPLE) as f:
        a = f["jets"].arrays(["tower_pt", "tower_eta", "tower_phi", "tower_e", "label"],
                             entry_stop=N)  # fmt: skip
    counts = ak.to_numpy(ak.num(a.tower_pt))
    perm = [rng.permutation(n) for n in counts]
    towers = {
        new: ak.Array([np.asarray(x)[p] for x, p in zip(a[old].to_list(), perm, strict=True)])
        for old, new in (("tower_pt", "pt"), ("tower_eta", "eta"), ("tower_phi", "phi"),
                         ("tower_e", "e"))
    }  # fmt: skip
    towers["phi"] = towers["phi"] + dphi
    write_tree(
        path,
        {"Tower": ak.zip(towers), "truthClass": ak.to_numpy(a.label)},
        tree="FatJets",
    )
    # writer names the branches Tower_pt …; the schema maps them
    USER_SCHEMA["collections"]["towers"]["branches"] = {
        "pt": "Tower_pt", "eta": "Tower_eta", "phi": "Tower_phi", "energy": "Tower_e"
    }  # fmt: skip
    USER_SCHEMA["collections"]["towers"]["counter"] = "nTower"


@pytest.mark.parametrize("dphi", [0.0, 2 * np.pi], ids=["same-phi", "phi+2pi"])
def test_bundled_tagger_on_sample_and_user_layout(tmp_path, capsys, dphi):
    """Same probabilities (within 1e-5) from the shipped sample and from its jets in another
    tree, other branch names, float64, shuffled towers — and with every φ moved by 2π."""
    user = tmp_path / "mine.root"
    _user_file(user, np.random.default_rng(0), dphi)
    schema = tmp_path / "mine.yaml"
    schema.write_text(yaml.safe_dump(USER_SCHEMA))
    out_user, out_sample = tmp_path / "tag_user.root", tmp_path / "tag_sample.root"
    assert main(["tag", str(user), "-o", str(out_user), "--schema", str(schema)]) == 0
    printed = capsys.readouterr().out
    assert "accuracy against 'label'" in printed and "held out" in printed
    assert main(["tag", str(SAMPLE), "-o", str(out_sample)]) == 0
    assert "tagged 7,000 jets" in capsys.readouterr().out
    with uproot.open(out_user) as f:
        p_user = f["hepattn"]["prob"].array(library="np")
    with uproot.open(out_sample) as f:
        p_sample = f["hepattn"]["prob"].array(library="np")[:N]
    assert p_user.shape == (N, 7)
    np.testing.assert_allclose(p_user, p_sample, atol=1e-5)
    # the library path gives the same numbers
    tagger = Tagger.load()
    np.testing.assert_allclose(tagger.predict(tagger.read(user, schema=str(schema))), p_user,
                               atol=1e-5)  # fmt: skip
