"""Round trips through uproot and a schema; real HZZ files; chunked streaming."""

from __future__ import annotations

import logging

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.data import PadSpec, iterate_events, read_events
from hepattn.data.btag import BtagPolicy
from hepattn.data.writer import write_tree
from hepattn.errors import DataError
from tests.conftest import JETS, SCHEMA, jets_array

FEATURES = ("pt", "eta", "phi", "mass", "btag")


def expected_padded(events, n):
    """Hand-built padded arrays: sort each event by pt (descending), truncate, pad."""
    values = np.zeros((len(events), n, 5), np.float32)
    mask = np.zeros((len(events), n), bool)
    index = np.full((len(events), n), -1, np.int64)
    labels = np.full((len(events), n), -1, np.int64)
    for b, ev in enumerate(events):
        order = sorted(range(len(ev)), key=lambda i: -ev[i][0])[:n]
        for slot, i in enumerate(order):
            values[b, slot] = ev[i][:5]
            mask[b, slot] = True
            index[b, slot] = i
            labels[b, slot] = ev[i][5]
    return values, mask, index, labels


@pytest.mark.parametrize("n", [1, 3, 6])
def test_round_trip_matches_hand_built_arrays(toy_file, n):
    ev = read_events(toy_file, SCHEMA, {"jets": PadSpec(FEATURES, n)})
    jets = ev["jets"]
    values, mask, index, labels = expected_padded(JETS, n)
    np.testing.assert_array_equal(jets.mask, mask)
    np.testing.assert_array_equal(jets.index, index)
    np.testing.assert_array_equal(jets.labels["parton"], labels)
    np.testing.assert_allclose(jets.values, values, rtol=1e-6, atol=1e-5)
    assert jets.values.dtype == np.float32 and jets.mask.dtype == bool
    assert (jets.values[~jets.mask] == 0).all() and (jets.p4[~jets.mask] == 0).all()
    np.testing.assert_array_equal(jets.counts, [3, 0, 1, 4])
    np.testing.assert_array_equal(ev.event["weight"], [0, 1, 2, 3])
    np.testing.assert_array_equal(ev.entry, [0, 1, 2, 3])


def test_p4_is_cartesian(toy_file):
    jets = read_events(toy_file, SCHEMA, {"jets": PadSpec((), 4)})["jets"]
    pt, eta, phi, m = 80.0, -1.0, -2.0, 10.0  # the leading jet of event 0
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    np.testing.assert_allclose(jets.p4[0, 0], [px, py, pz, e], rtol=1e-5)
    assert jets.values.shape == (4, 4, 0)


def test_truncation_logged_once_with_counts(toy_file, caplog):
    with caplog.at_level(logging.INFO, logger="hepattn"):
        read_events(toy_file, SCHEMA, {"jets": PadSpec(FEATURES, 2)}, step_size=1)
    msgs = [r.getMessage() for r in caplog.records if "objects" in r.getMessage()]
    assert len(msgs) == 1
    assert "2 of 4 events have more than 2 objects (up to 4)" in msgs[0]
    assert "3 lowest-pT objects dropped" in msgs[0]


@pytest.mark.parametrize("step", [1, 2, 3, 100])
def test_chunked_streaming_equals_reading_all(toy_file, step):
    spec = {"jets": PadSpec(FEATURES + ("dphi", "log_pt_rel"), 3)}
    whole = read_events(toy_file, SCHEMA, spec)
    parts = list(iterate_events(toy_file, SCHEMA, spec, step_size=step))
    assert len(parts) == -(-len(JETS) // step)
    cat = read_events(toy_file, SCHEMA, spec, step_size=step)
    for a in (cat["jets"], parts[0]["jets"]):
        n = len(a)
        np.testing.assert_array_equal(a.values, whole["jets"].values[:n])
        np.testing.assert_array_equal(a.mask, whole["jets"].mask[:n])
        np.testing.assert_array_equal(a.labels["parton"], whole["jets"].labels["parton"][:n])


def test_many_files_and_glob(tmp_path):
    for i in range(3):
        write_tree(
            tmp_path / f"part{i}.root",
            {"jet": jets_array(), "weight": np.full(len(JETS), i, np.float32)},
            tree="events",
        )
    spec = {"jets": PadSpec(FEATURES, 3)}
    ev = read_events(str(tmp_path / "part*.root"), SCHEMA, spec)
    assert len(ev) == 3 * len(JETS)
    np.testing.assert_array_equal(ev.event["weight"], np.repeat([0, 1, 2], len(JETS)))
    np.testing.assert_array_equal(ev.file_index, np.repeat([0, 1, 2], len(JETS)))
    ev2 = read_events([tmp_path / "part1.root", tmp_path / "part0.root"], SCHEMA, spec)
    np.testing.assert_array_equal(ev2.event["weight"], np.repeat([1, 0], len(JETS)))
    # a global entry range over the chain of files
    ev3 = read_events(str(tmp_path / "part*.root"), SCHEMA, spec, entry_start=3, entry_stop=6)
    np.testing.assert_array_equal(ev3.event["weight"], [0, 1, 1])
    np.testing.assert_array_equal(ev3.entry, [3, 0, 1])


#: HZZ's Jet_btag is a discriminant (−1, or 1.4 … 4.7), not a score: read as stored
KEEP = BtagPolicy(out_of_range="keep")


def test_hzz_cartesian_matches_direct_uproot_read(hzz_path):
    spec = {"jets": PadSpec(("px", "py", "pz", "energy", "btag", "pt"), 6)}
    with pytest.raises(DataError, match="'Jet_btag' holds 2410 b-tag default values"):
        read_events(hzz_path, "cartesian", spec)
    ev = read_events(hzz_path, "cartesian", spec, btag=KEEP)
    raw = uproot.open(hzz_path)["events"].arrays(
        ["Jet_Px", "Jet_Py", "Jet_Pz", "Jet_E", "Jet_btag"]
    )
    assert len(ev) == len(raw) == 2421
    jets = ev["jets"]
    np.testing.assert_array_equal(jets.mask.sum(1), ak.num(raw.Jet_Px))
    for b in range(len(raw)):
        px, py = np.asarray(raw.Jet_Px[b]), np.asarray(raw.Jet_Py[b])
        order = np.argsort(-np.hypot(px, py), kind="stable")
        n = len(order)
        cols = [raw.Jet_Px, raw.Jet_Py, raw.Jet_Pz, raw.Jet_E, raw.Jet_btag]
        want = np.stack([np.asarray(c[b])[order] for c in cols], axis=-1) if n else np.zeros((0, 5))
        np.testing.assert_allclose(jets.values[b, :n, :5], want, rtol=1e-6)
        np.testing.assert_array_equal(jets.index[b, :n], order)
    np.testing.assert_allclose(jets.p4[..., 0], jets.values[..., 0])
    np.testing.assert_allclose(ev.event["weight"], raw_weight(hzz_path))


def raw_weight(path):
    return uproot.open(path)["events"]["EventWeight"].array(library="np")


def test_hzz_tlorentzvector_objects_equal_cartesian(hzz_path, hzz_objects_path):
    spec = {"jets": PadSpec(("pt", "eta", "phi", "mass", "btag"), 6)}
    a = read_events(hzz_path, "cartesian", spec, btag=KEEP)["jets"]
    b = read_events(hzz_objects_path, "cartesian-objects", spec, btag=KEEP)["jets"]
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-2)  # mass: cancellation


def test_axis_features_relative_to_sum_of_objects(toy_file):
    jets = read_events(toy_file, SCHEMA, {"jets": PadSpec(("dr", "dphi", "log_e_rel"), 4)})["jets"]
    p4 = jets.p4[3]
    axis = p4.sum(0)
    phi_axis = np.arctan2(axis[1], axis[0])
    dphi = (np.arctan2(p4[:, 1], p4[:, 0]) - phi_axis + np.pi) % (2 * np.pi) - np.pi
    np.testing.assert_allclose(jets.values[3, :, 1], dphi, atol=1e-5)
    assert np.all(np.abs(jets.values[..., 1]) <= np.pi)
    np.testing.assert_allclose(jets.values[3, :, 2], np.log(p4[:, 3] / axis[3]), atol=1e-5)
