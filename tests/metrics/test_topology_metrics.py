"""Jet–parton matching efficiencies for declared topologies, on hand-made predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepattn.errors import DataError
from hepattn.metrics import (
    definitions,
    efficiency_table,
    format_table,
    jet_rows,
    resonance_correct,
)
from hepattn.metrics.matching import reconstructable
from hepattn.topology import load_topology

LJETS = load_topology("ttbar-ljets")  # b_had, q1, q2, b_lep, l, nu
HH = load_topology("hh-4b")  # b1, b2, b3, b4
ALLHAD = load_topology("ttbar-allhad")  # b, q1, q2, b′, q1′, q2′


def _correct(pred, truth, topology):
    return resonance_correct(np.array([pred]), np.array([truth]), topology)[0].tolist()


def test_parton_orders_assumed_here():
    assert LJETS.partons == ("b_had", "q1", "q2", "b_lep", "l", "nu")
    assert HH.partons == ("b1", "b2", "b3", "b4")
    assert len(ALLHAD.partons) == 6


def test_jet_rows():
    assert jet_rows(LJETS) == ("4", "5", ">=6", "inclusive")
    assert jet_rows(HH) == ("4", "5", ">=6", "inclusive")
    assert jet_rows(ALLHAD) == ("6", "7", ">=8", "inclusive")


def test_ljets_light_quarks_exchangeable_tops_not():
    truth = [0, 1, 2, 3, 0, 0]
    assert _correct([0, 1, 2, 3, 0, 0], truth, LJETS) == [True, True]
    assert _correct([0, 2, 1, 3, 0, 0], truth, LJETS) == [True, True]  # q1 ↔ q2
    # b_had ↔ q1 is wrong; b_had ↔ b_lep swaps two distinguishable tops' jets: both wrong.
    assert _correct([1, 0, 2, 3, 0, 0], truth, LJETS) == [False, True]
    assert _correct([3, 1, 2, 0, 0, 0], truth, LJETS) == [False, False]
    assert _correct([0, 1, 2, 4, 0, 0], truth, LJETS) == [True, False]


def test_ljets_lepton_and_met_columns_ignored():
    truth = [0, 1, 2, 3, -1, -1]
    for junk in ([0, 0], [-7, 99], [5, -1]):
        assert _correct([0, 2, 1, 3, *junk], truth, LJETS) == [True, True]
        assert _correct([0, 2, 1, 3, -1, -1], [0, 1, 2, 3, *junk], LJETS) == [True, True]
        assert reconstructable(np.array([[0, 1, 2, 3, *junk]]), LJETS).tolist() == [[True, True]]
    # Float junk (NaN) in those columns, and indices past n_jets there, are not errors.
    table = efficiency_table(
        np.array([[0, 1, 2, 3, np.nan, 50.0]]),
        np.array([[0, 1, 2, 3, 9, 9]]),
        np.array([4]),
        LJETS,
    )
    assert table["4"]["event"] == 1.0 and table["4"]["n_events"] == 1


def test_hh_pairs_and_higgs_exchangeable():
    truth = [0, 1, 2, 3]
    assert _correct([1, 0, 3, 2], truth, HH) == [True, True]  # b ↔ b̄ in each Higgs
    assert _correct([2, 3, 0, 1], truth, HH) == [True, True]  # H1 ↔ H2
    assert _correct([3, 2, 1, 0], truth, HH) == [True, True]  # both
    assert _correct([3, 2, 4, 5], truth, HH) == [False, True]  # predicted H1 is true H2
    assert _correct([0, 2, 1, 3], truth, HH) == [False, False]  # wrong pairing
    assert _correct([-1, -1, -1, -1], truth, HH) == [False, False]


def test_allhad_symmetries():
    truth = [0, 1, 2, 3, 4, 5]
    assert _correct([3, 5, 4, 0, 2, 1], truth, ALLHAD) == [True, True]
    assert _correct([1, 0, 2, 3, 4, 5], truth, ALLHAD) == [False, True]
    assert _correct([6, 7, 8, 0, 2, 1], truth, ALLHAD) == [True, False]


def test_non_reconstructable_resonance_never_correct():
    assert reconstructable(np.array([[0, 1, -1, 3], [0, 0, 2, 3]]), HH).tolist() == [
        [True, False],
        [False, True],
    ]
    assert _correct([0, 1, -1, 3], [0, 1, -1, 3], HH) == [True, False]
    assert reconstructable(np.array([[0, 1, 1, 3, 0, 0]]), LJETS).tolist() == [[False, True]]
    assert _correct([0, 1, 1, 3, 0, 0], [0, 1, 1, 3, 0, 0], LJETS) == [False, True]


def test_ljets_table_rows_counts_and_errors():
    T = [0, 1, 2, 3, 0, 0]
    rows = [
        # (pred, truth, n_jets)
        (T, T, 4),
        ([0, 2, 1, 1, 0, 0], T, 4),  # t_had right, t_lep wrong
        ([0, 1, 2, 3, 0, 0], [0, 1, -1, 3, 0, 0], 4),  # only t_lep reconstructable: right
        (T, T, 5),
        ([3, 1, 2, 0, 0, 0], T, 7),
        (T, [-1, 1, 2, -1, 0, 0], 6),  # nothing reconstructable
        ([0, 1, 2, -1, 0, 0], [0, 1, 2, -1, 0, 0], 3),  # fewer than 4 jets: in no row
    ]
    pred, truth, n_jets = (np.array([r[i] for r in rows]) for i in range(3))
    table = efficiency_table(pred, truth, n_jets, LJETS)
    assert list(table) == ["4", "5", ">=6", "inclusive"]
    for cell in table.values():
        assert set(cell) >= {
            "event", "event_err", "n_events",
            "t_had", "t_had_err", "n_t_had", "t_lep", "t_lep_err", "n_t_lep",
        }  # fmt: skip
    four = table["4"]
    assert (four["n_events"], four["n_t_had"], four["n_t_lep"]) == (2, 2, 3)
    assert four["event"] == pytest.approx(0.5)
    assert four["event_err"] == pytest.approx(math.sqrt(0.25 / 2))
    assert four["t_had"] == 1.0 and four["t_had_err"] == 0.0
    assert four["t_lep"] == pytest.approx(2 / 3)
    assert four["t_lep_err"] == pytest.approx(math.sqrt(2 / 3 * 1 / 3 / 3))
    assert table["5"]["event"] == 1.0
    ge6 = table[">=6"]
    assert (ge6["n_events"], ge6["event"], ge6["t_had"], ge6["t_lep"]) == (1, 0.0, 0.0, 0.0)
    inc = table["inclusive"]
    assert (inc["n_events"], inc["n_t_had"], inc["n_t_lep"]) == (4, 4, 5)
    assert inc["event"] == pytest.approx(2 / 4)
    assert inc["t_had"] == pytest.approx(3 / 4)
    assert inc["t_lep"] == pytest.approx(3 / 5)
    assert isinstance(inc["n_t_lep"], int)
    empty = efficiency_table(pred[:1], truth[:1], n_jets[:1], LJETS)["5"]
    assert empty["n_events"] == 0 and math.isnan(empty["event"]) and math.isnan(empty["t_had"])


def test_hh_table_with_exchanged_higgs():
    pred = np.array([[2, 3, 1, 0], [0, 2, 1, 3], [0, 1, 5, 4]])
    truth = np.array([[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]])
    table = efficiency_table(pred, truth, np.array([4, 4, 6]), HH)
    inc = table["inclusive"]
    assert inc["n_events"] == 3 and inc["event"] == pytest.approx(1 / 3)
    assert inc["H1"] == pytest.approx(2 / 3) and inc["H2"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_allhad_event_efficiency_equals_matching_module(seed):
    rng = np.random.default_rng(seed)
    b = 2000
    n_jets = rng.integers(4, 11, size=b)
    # Small jet indices (repeats and collisions likely) and some −1.
    truth = rng.integers(0, 8, size=(b, 6)) % n_jets[:, None]
    pred = rng.integers(0, 8, size=(b, 6)) % n_jets[:, None]
    truth[rng.random((b, 6)) < 0.1] = -1
    pred[rng.random((b, 6)) < 0.05] = -1
    # Make many events (nearly) right, in either top order and light-quark order.
    good = rng.random(b) < 0.5
    pred[good] = truth[good][:, [3, 5, 4, 0, 1, 2]]
    ours = efficiency_table(pred, truth, n_jets, ALLHAD)
    theirs = efficiency_table(pred, truth, n_jets)
    assert list(ours) == list(theirs)
    for row in ours:
        assert ours[row]["n_events"] == theirs[row]["n_events"]
        assert ours[row]["event"] == pytest.approx(theirs[row]["event"], nan_ok=True)
        assert ours[row]["event_err"] == pytest.approx(theirs[row]["event_err"], nan_ok=True)
    assert ours["inclusive"]["n_events"] > 100


def test_format_table():
    truth = np.array([[0, 1, 2, 3], [0, 1, 2, 3]])
    pred = np.array([[0, 1, 2, 3], [0, 2, 1, 3]])
    n_jets = np.array([4, 6])
    tables = {
        "pairing": efficiency_table(pred, truth, n_jets, HH),
        "network": efficiency_table(truth, truth, n_jets, HH),
    }
    lines = format_table(tables, HH, "hh sample").splitlines()
    assert lines[0] == "hh sample"
    header = lines[2]
    assert "pairing ε_event" in header and "network ε_H2" in header
    assert header.count("n (events)") == 1 and header.count("n (H1)") == 1
    assert "| 4 | 1 | 1 | 1 |" in lines[4]
    assert "100.0 ± 0.0 %" in lines[4] and "—" in lines[5]
    assert any(line.startswith("| ≥ 6 |") for line in lines)
    assert lines[-1] == definitions(HH)
    assert "H1 ↔ H2" in lines[-1] and "b1 ↔ b2" in lines[-1]
    assert "not compared" not in lines[-1]
    assert "t_lep's l" in definitions(LJETS)
    # Different counts per method: counts shown per method.
    tables["network"] = efficiency_table(truth[:1], truth[:1], n_jets[:1], HH)
    assert format_table(tables, HH).splitlines()[0].count("n (events)") == 2
    with pytest.raises(DataError, match="at least one"):
        format_table({}, HH)
    with pytest.raises(DataError, match="lacks"):
        format_table(tables, LJETS)


def test_bad_inputs():
    four = np.zeros((2, 4), dtype=int)
    with pytest.raises(DataError, match=r"shape \[B, 6\]"):
        resonance_correct(four, four, LJETS)
    with pytest.raises(DataError, match="same shape"):
        resonance_correct(np.zeros((2, 4), dtype=int), np.zeros((3, 4), dtype=int), HH)
    with pytest.raises(DataError, match="-2"):
        reconstructable(np.array([[0, 1, 2, -2]]), HH)
    with pytest.raises(DataError, match="integer"):
        resonance_correct(np.full((1, 4), 0.5), four[:1], HH)
    with pytest.raises(DataError, match="b3 but the event has 4 jets"):
        efficiency_table(np.array([[0, 1, 4, 3]]), four[:1], np.array([4]), HH)
    with pytest.raises(DataError, match="truth of event 1"):
        efficiency_table(four, np.array([[0, 1, 2, 3], [0, 1, 2, 5]]), [4, 5], HH)
    with pytest.raises(DataError, match="n_jets"):
        efficiency_table(four, four, np.array([4, 4, 4]), HH)
    with pytest.raises(DataError, match="n_jets must be integers"):
        efficiency_table(four, four, np.array([4.0, 4.0]), HH)


def test_weighted_tables_count_sums_of_weights():
    """A weight of 2 counts an event twice, weight 0 drops it, a common factor cancels; the
    error is the binomial one for equal weights; a cell whose weights sum to ≤ 0 is NaN."""
    from hepattn.metrics.matching import efficiency_table
    from hepattn.topology import TOPOLOGIES

    rng = np.random.default_rng(3)
    n = 60
    truth = np.tile(np.arange(6), (n, 1))
    pred = truth.copy()
    wrong = rng.random(n) < 0.4
    pred[wrong, 1], pred[wrong, 3] = truth[wrong, 3], truth[wrong, 1]  # swap a b and a q
    nj = rng.integers(6, 10, n)
    w = rng.integers(0, 3, n).astype(float)
    rep = np.repeat(np.arange(n), w.astype(int))
    topo = TOPOLOGIES["ttbar-allhad"]
    for table in (
        lambda p, t, j, ww=None: efficiency_table(p, t, j, weights=ww),
        lambda p, t, j, ww=None: efficiency_table(p, t, j, topo, ww),
    ):
        weighted = table(pred, truth, nj, w)
        doubled = table(pred[rep], truth[rep], nj[rep])
        for row, cell in weighted.items():
            for key, value in cell.items():
                if not key.startswith("n_") and not key.endswith("_err"):
                    assert value == pytest.approx(doubled[row][key], nan_ok=True)
        ones = table(pred, truth, nj, np.full(n, 3.0))
        plain = table(pred, truth, nj)
        for row, cell in plain.items():
            for key, value in cell.items():
                assert ones[row][key] == pytest.approx(value, nan_ok=True)
        negative = table(pred, truth, nj, -np.ones(n))
        assert np.isnan(negative["inclusive"]["event"])
    with pytest.raises(DataError, match="one per event"):
        efficiency_table(pred, truth, nj, np.ones(n - 1))
    with pytest.raises(DataError, match="finite"):
        efficiency_table(pred, truth, nj, np.full(n, np.nan))
