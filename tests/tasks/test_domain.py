"""A model's domain: measured at training, saved with it, checked at inference (counted,
warned once, refused with one line, or ignored)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from hepattn.errors import DataError
from hepattn.models import ModelError
from hepattn.tasks.domain import (
    MARGIN,
    Domain,
    Quantity,
    QuantityRange,
    beyond_tails,
    domain_summary,
)


def test_range_by_hand():
    x = np.array([[1.5, 3.5, 99.0], [2.5, 0.0, 0.0]])
    mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    r = QuantityRange.measure(Quantity(x, mask, (2.5, 0.5)))
    assert (r.min, r.max, r.n, r.unit) == (1.5, 3.5, 3, "objects")  # 99 and 0 are padding
    assert r.quantiles["0.5"] == 2.5 and not r.integer
    assert r.standardized == (-2.0, 2.0)  # (1.5 − 2.5) / 0.5, (3.5 − 2.5) / 0.5
    assert r.bounds() == pytest.approx((1.5 - 2 * MARGIN, 3.5 + 2 * MARGIN))
    assert QuantityRange.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    counts = QuantityRange.measure(Quantity(np.array([5.0, 9.0, 147.0])))
    assert counts.integer and counts.bounds() == (5.0, 147.0)  # whole numbers: no margin


def _domain():
    """1,000 training values of x in [0, 1] (500 events of 2 jets), 2 or 4 jets per event."""
    q = {
        "jets.x": Quantity(np.linspace(0, 1, 1000).reshape(500, 2), np.ones((500, 2), bool)),
        "jets.count": Quantity(np.array([2.0, 4.0] * 250)),
    }
    return Domain.measure(q, {"jets": 4}, "toy")


def test_reported_only_beyond_the_training_tails():
    """λ = 2N/(n + 1): 3 of 52,696 jets beyond extremes of 50,000 are tails, 1 of 4 jets
    beyond those of 7,000 is not."""
    assert not beyond_tails(3, 52_696, 50_000) and not beyond_tails(0, 10, 10)
    assert beyond_tails(1, 4, 7_000) and beyond_tails(2, 6, 1_000)
    assert beyond_tails(300, 1_000, 1_000)  # far beyond: no sum needed
    assert not beyond_tails(1, 10, 1_000)  # λ = 0.02: P(K ≥ 1) ≈ 0.02


def _inputs(x, mask, counts):
    q = {
        "jets.x": Quantity(np.asarray(x, float), np.asarray(mask, bool)),
        "jets.count": Quantity(np.asarray(counts, float)),
    }
    return q, {"jets": np.asarray(counts)}


def where(i):
    return f"f.root: entry {i}"


def test_check_counts_objects_events_and_truncation(caplog):
    d = _domain()
    q, counts = _inputs([[0.5, 9.0], [-3.0, 0.1], [0.2, 1.05]], [[1, 1], [1, 1], [1, 1]], [2, 7, 2])
    with caplog.at_level(logging.WARNING):
        t = d.check(q, counts, where, "M")
    c = t.counts["jets.x"]
    assert (c.outside, c.total, c.events) == (2, 6, 2)  # 1.05 is inside the margin
    assert c.farthest == 9.0 and c.distance == pytest.approx(8.0)  # 8 widths above the max
    # 7 > 4 + 0.1·2: counted, but one of three events is within the tails of 500
    assert t.counts["jets.count"].outside == 1
    assert t.truncated["jets"]["events"] == 1 and t.truncated["jets"]["objects"] == 3
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "jets x: 2 of 6 objects (in 2 events) outside the range model M" in lines[0]
    assert "farthest 9" in lines[0] and "0 to 1" in lines[0]
    assert "1 of 3 events have more than the 4 objects" in lines[1]  # training had at most 4


def test_padding_is_never_outside():
    q, counts = _inputs([[0.5, 1e9]], [[1, 0]], [2])
    t = _domain().check(q, {}, where, "M")
    assert t.counts["jets.x"].outside == 0 and t.counts["jets.x"].total == 1
    assert t.counts["jets.count"].outside == 0


def test_error_policy_one_line_naming_file_entry_and_value():
    q, counts = _inputs([[0.5, 0.6], [0.3, -7.0]], [[1, 1], [1, 1]], [2, 2])
    with pytest.raises(DataError) as err:
        _domain().check(q, counts, where, "M", "error")
    msg = str(err.value)
    assert msg.startswith("f.root: entry 1: jets x -7 is outside the range model M")
    assert "--domain warn" in msg and "\n" not in msg
    q, counts = _inputs([[0.5, 0.6]], [[1, 1]], [9])
    with pytest.raises(DataError, match="entry 0: 9 jets, more than the 4 model M reads"):
        _domain().check({}, counts, where, "M", "error")


def test_ignore_checks_nothing_and_unknown_policy_refused():
    q, counts = _inputs([[50.0, 0.6]], [[1, 1]], [9])
    assert _domain().check(q, counts, where, "M", "ignore").outside == 0
    with pytest.raises(DataError, match="--domain must be one of"):
        _domain().check(q, counts, where, "M", "loud")


def test_summary_sums_reads_and_logs_once(caplog):
    d = _domain()
    q, counts = _inputs([[5.0, 0.6], [5.0, 0.6]], [[1, 1], [1, 1]], [2, 2])
    with caplog.at_level(logging.WARNING), domain_summary() as tally:
        d.check(q, counts, where, "M")
        d.check(q, counts, where, "M")
        assert not caplog.records  # nothing logged while collecting
    assert tally.counts["jets.x"].outside == 4 and tally.events == 4
    assert len(caplog.records) == 1 and "4 of 8 objects" in caplog.records[0].getMessage()
    out = tally.to_dict()
    assert out["outside"]["jets.x"]["outside"] == 4 and out["outside"]["jets.x"]["range"] == [0, 1]
    json.dumps(out)


def test_record_round_trip_and_damaged_record():
    d = _domain()
    assert Domain.from_dict(json.loads(json.dumps(d.to_dict()))) == d
    assert "| `jets.x` | object |" in d.card() and "jets 4" in d.card()
    with pytest.raises(ModelError, match="m/domain.json: not a domain record"):
        Domain.from_dict({"version": 1, "quantities": {}}, "m/domain.json")
    with pytest.raises(ModelError, match="version"):
        Domain.from_dict({**d.to_dict(), "version": 99})


def test_a_trained_model_records_its_domain_and_checks_it(decision_model, tmp_path, caplog):
    """Training writes ``domain.json`` and the card's section; loading reads it back; the
    ONNX metadata carries it."""
    from hepattn.export import onnx_metadata
    from hepattn.tasks.matching import Matcher
    from tests.tasks.test_matching_task import slice_file

    record = json.loads((decision_model / "domain.json").read_text())
    assert record["events"] == 600 and "all 600 events of the training files" in record["source"]
    q = record["quantities"]
    assert set(q) >= {"jets.log_pt", "jets.btag", "jets.count"}
    assert q["jets.btag"]["min"] == 0 and q["jets.btag"]["max"] == 1
    assert len(q["jets.log_pt"]["standardized"]) == 2
    assert "## Domain" in (decision_model / "card.md").read_text()
    m = Matcher.load(decision_model)
    assert m.domain.ranges["jets.count"].max == q["jets.count"]["max"]
    assert json.loads(onnx_metadata(m, "matcher")["domain"]) == record
    held_out = slice_file(tmp_path / "h.root", 800, 900)
    with caplog.at_level(logging.WARNING):
        m.read(held_out)
    assert not [r for r in caplog.records if "domain:" in r.getMessage()]
