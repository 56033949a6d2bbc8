"""Shared fixtures: small ROOT files written with uproot, and the real HZZ test files."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch

from hepattn.data.writer import write_tree


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


# Hand-built events: pt, eta, phi, mass, btag, parton label per jet (file order, unsorted).
JETS = [
    [
        (30.0, 0.5, 1.0, 5.0, 1.0, 2),
        (80.0, -1.0, -2.0, 10.0, 0.0, 0),
        (55.0, 2.0, 3.0, 7.0, 1.0, -1),
    ],
    [],
    [(40.0, 0.1, 0.2, 4.0, 0.0, 5)],
    [
        (25.0, 1.1, -3.1, 3.0, 0.0, -1),
        (26.0, -0.3, 3.1, 6.0, 1.0, 1),
        (90.0, 0.0, 0.0, 12.0, 1.0, 3),
        (27.0, 0.7, 1.5, 2.0, 0.0, 4),
    ],
]


def jets_array(events=JETS) -> ak.Array:
    cols = list(zip(*[j for ev in events for j in ev], strict=True))
    counts = [len(ev) for ev in events]

    def jag(i, dtype):
        return ak.unflatten(np.asarray(cols[i], dtype=dtype), counts)

    return ak.zip(
        {
            "pt": jag(0, np.float32),
            "eta": jag(1, np.float32),
            "phi": jag(2, np.float32),
            "mass": jag(3, np.float32),
            "btag": jag(4, np.float32),
            "parton": jag(5, np.int32),
        }
    )


SCHEMA = {
    "name": "toy",
    "tree": "events",
    "collections": {
        "jets": {
            "kinematics": "ptetaphim",
            "branches": {"pt": "jet_pt", "eta": "jet_eta", "phi": "jet_phi", "mass": "jet_mass"},
            "fields": {"btag": "jet_btag"},
            "labels": {"parton": "jet_parton"},
            "counter": "njet",
        }
    },
    "event": {"weight": "weight"},
}


@pytest.fixture
def toy_file(tmp_path):
    """A ROOT file with tree `events` holding JETS (jagged) and a per-event weight."""
    path = tmp_path / "toy.root"
    write_tree(
        path, {"jet": jets_array(), "weight": np.arange(len(JETS), dtype=np.float32)}, tree="events"
    )
    return path


@pytest.fixture(scope="session")
def hzz_path():
    skhep_testdata = pytest.importorskip("skhep_testdata")
    return skhep_testdata.data_path("uproot-HZZ.root")


@pytest.fixture(scope="session")
def hzz_objects_path():
    skhep_testdata = pytest.importorskip("skhep_testdata")
    return skhep_testdata.data_path("uproot-HZZ-objects.root")


@pytest.fixture(scope="session")
def decision_model(tmp_path_factory):
    """A tiny matcher trained on 0/1 b-tag decisions (feature ``btag``), as users' own models
    (and hepattn's before the continuous score) are: the refusal of scores needs one."""
    from hepattn.tasks.matching import Matcher, MatcherRunConfig
    from tests.tasks.test_matching_task import TINY, slice_file

    d = tmp_path_factory.mktemp("decisions")
    cfg = {**TINY, "data": {**TINY["data"], "features": ["log_pt", "eta", "log_e", "mass", "btag"]}}
    train, val = slice_file(d / "train.root", 0, 600), slice_file(d / "val.root", 600, 800)
    Matcher.train(MatcherRunConfig.from_dict(cfg), [train], [val], d / "run")
    return d / "run" / "best"
