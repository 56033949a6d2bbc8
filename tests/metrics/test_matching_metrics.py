"""Jet–parton matching efficiencies on hand-made predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepattn.errors import DataError
from hepattn.metrics import efficiency_table, format_table, reconstructable, resonance_correct
from hepattn.metrics.matching import truth_from_parton_labels

TRUTH = [0, 1, 2, 3, 4, 5]


def _correct(pred, truth=TRUTH):
    return resonance_correct(np.array([pred]), np.array([truth]))[0].tolist()


def test_light_quark_swap_still_correct():
    assert _correct([0, 2, 1, 3, 5, 4]) == [True, True]


def test_top_swap_still_correct():
    assert _correct([3, 4, 5, 0, 1, 2]) == [True, True]
    assert _correct([3, 5, 4, 0, 2, 1]) == [True, True]


def test_b_and_q_swapped_is_wrong():
    assert _correct([1, 0, 2, 3, 4, 5]) == [False, True]
    assert _correct([0, 1, 2, 4, 3, 5]) == [True, False]


def test_wrong_jet_and_no_prediction():
    assert _correct([0, 1, 6, 3, 4, 5]) == [False, True]
    assert _correct([-1] * 6) == [False, False]


def test_partial_truth():
    truth = [0, 1, 2, 3, -1, 5]  # only the first top reconstructable
    assert reconstructable(np.array([truth])).tolist() == [[True, False]]
    # The reconstructable top is found by either predicted triplet; -1 never matches.
    assert _correct([0, 1, 2, 3, 4, 5], truth) == [True, False]
    assert _correct([3, 6, 5, 0, 2, 1], truth) == [True, False]
    assert _correct([3, -1, 5, 0, 7, 8], truth) == [False, False]
    # Repeated indices make a top non-reconstructable.
    assert reconstructable(np.array([[0, 0, 2, 3, 4, 4]])).tolist() == [[False, False]]


def test_best_order_when_only_one_triplet_matches():
    # Direct order: nothing matches; swapped order: predicted triplet 1 is true top 0.
    assert _correct([6, 7, 8, 0, 2, 1]) == [True, False]


def test_efficiency_table_rows_and_errors():
    perfect = TRUTH
    wrong = [1, 0, 2, 4, 3, 5]
    one_top = [0, 1, 2, 5, 3, 4]
    rows = [
        # (pred, truth, n_jets)
        (perfect, TRUTH, 6),
        (one_top, TRUTH, 6),
        (wrong, TRUTH, 6),
        (perfect, TRUTH, 6),
        (perfect, TRUTH, 7),
        (wrong, [0, 1, 2, -1, 4, 5], 7),  # 1 reconstructable top, wrong
        (perfect, [0, 1, 2, -1, 4, 5], 7),  # 1 reconstructable top, right
        (one_top, TRUTH, 9),
        (perfect, [-1, 1, 2, 3, -1, 5], 8),  # no reconstructable top
        ([0, 1, 2, -1, -1, -1], [0, 1, 2, -1, 3, 4], 5),  # fewer than 6 jets: in no row
    ]
    pred = np.array([r[0] for r in rows])
    truth = np.array([r[1] for r in rows])
    n_jets = np.array([r[2] for r in rows])
    table = efficiency_table(pred, truth, n_jets)
    assert list(table) == ["6", "7", ">=8", "inclusive"]
    for row in table.values():
        assert set(row) >= {
            "event", "event_err", "top2", "top2_err", "top1", "top1_err",
            "n_events", "n_events_1top",
        }  # fmt: skip
        # the SPA-Net columns are the generic full / single metrics under their old names
        assert (row["top2"], row["n_events_1top"]) == (row["full"], row["n_single"])

    six = table["6"]
    assert (six["n_events"], six["n_events_1top"]) == (4, 0)
    assert six["event"] == pytest.approx(2 / 4)
    assert six["event_err"] == pytest.approx(math.sqrt(0.5 * 0.5 / 4))
    assert six["top2"] == pytest.approx(5 / 8)
    assert six["top2_err"] == pytest.approx(math.sqrt(5 / 8 * 3 / 8 / 8))
    assert math.isnan(six["top1"]) and math.isnan(six["top1_err"])

    seven = table["7"]
    assert (seven["n_events"], seven["n_events_1top"]) == (1, 2)
    assert seven["event"] == 1.0 and seven["event_err"] == 0.0
    assert seven["top1"] == pytest.approx(0.5)
    assert seven["top1_err"] == pytest.approx(math.sqrt(0.25 / 2))

    ge8 = table[">=8"]
    assert (ge8["n_events"], ge8["n_events_1top"]) == (1, 0)
    assert ge8["event"] == 0.0 and ge8["top2"] == 0.5

    inc = table["inclusive"]
    assert (inc["n_events"], inc["n_events_1top"]) == (6, 2)
    assert inc["event"] == pytest.approx(3 / 6)
    assert inc["top2"] == pytest.approx(8 / 12)
    assert inc["top1"] == pytest.approx(0.5)
    assert isinstance(inc["n_events"], int)


def test_format_table():
    pred = np.array([TRUTH, [1, 0, 2, 3, 4, 5]])
    truth = np.array([TRUTH, TRUTH])
    n_jets = np.array([6, 8])
    tables = {
        "chi2": efficiency_table(pred, truth, n_jets),
        "network": efficiency_table(truth, truth, n_jets),
    }
    text = format_table(tables, title="test sample")
    lines = text.splitlines()
    assert lines[0] == "test sample"
    assert "chi2 ε_event" in lines[2] and "network ε_1^top" in lines[2]
    assert lines[2].count("n (events)") == 1 and lines[2].count("n (single)") == 1
    six = next(line for line in lines if line.startswith("| 6 |"))
    assert "100.0 ± 0.0 %" in six and "—" in six
    assert any(line.startswith("| ≥ 8 |") for line in lines)
    assert any(line.startswith("| inclusive | 2 | 0 |") for line in lines)
    # Different counts per method: counts shown per method.
    tables["network"] = efficiency_table(truth[:1], truth[:1], n_jets[:1])
    assert format_table(tables).splitlines()[0].count("n (events)") == 2
    with pytest.raises(DataError):
        format_table({})


def test_truth_from_parton_labels():
    labels = np.array(
        [
            [3, 0, 2, 4, -1, 1, 5, -1],
            [0, 0, 1, -1, -1, -1, -1, -1],  # b ambiguous (two jets), others missing
        ]
    )
    truth = truth_from_parton_labels(labels)
    assert truth.tolist() == [[1, 5, 2, 0, 3, 6], [-1, 2, -1, -1, -1, -1]]
    with pytest.raises(DataError, match="-1..5"):
        truth_from_parton_labels(np.array([[6, 0]]))


def test_bad_inputs():
    with pytest.raises(DataError, match="shape"):
        resonance_correct(np.zeros((2, 5), dtype=int), np.zeros((2, 5), dtype=int))
    with pytest.raises(DataError, match="same shape"):
        resonance_correct(np.zeros((2, 6), dtype=int), np.zeros((3, 6), dtype=int))
    with pytest.raises(DataError, match="-2"):
        reconstructable(np.full((1, 6), -2))
    with pytest.raises(DataError, match="integer"):
        resonance_correct(np.full((1, 6), 0.5), np.zeros((1, 6), dtype=int))
    with pytest.raises(DataError, match="has 6 jets"):
        efficiency_table(np.array([[0, 1, 2, 3, 4, 6]]), np.array([TRUTH]), np.array([6]))
    with pytest.raises(DataError, match="n_jets"):
        efficiency_table(np.array([TRUTH]), np.array([TRUTH]), np.array([6, 7]))
