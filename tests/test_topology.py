"""The declared tt̄ topology: parton order, head order, symmetries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepattn.topology import LOG2, TOPOLOGIES, TTBAR_ALLHAD, Resonance, Topology


def test_ttbar_orders_and_symmetries():
    t = TTBAR_ALLHAD
    assert t.partons == ("b", "q1", "q2", "b′", "q1′", "q2′") and t.n_partons == 6
    assert t.order_string == "b,q1,q2,b',q1',q2'"
    assert t.head_index == ((1, 2, 0), (4, 5, 3))
    assert t.resonances[0].from_head == (2, 0, 1)
    assert t.permutations == ((0, 1), (1, 0))
    assert t.resonances[0].log_multiplicity == pytest.approx(LOG2) == math.log(2)
    assert TOPOLOGIES["ttbar-allhad"] is t
    # head order then back to parton order is the identity
    a = np.arange(6)[None]
    for r, res in enumerate(t.resonances):
        np.testing.assert_array_equal(
            a[:, list(t.head_index[r])][:, list(res.from_head)], a[:, 3 * r : 3 * r + 3]
        )


def test_declarations_are_checked_and_not_exchangeable_has_one_order():
    with pytest.raises(ValueError, match="repeated"):
        Resonance("t", ("b", "b"))
    with pytest.raises(ValueError, match="not all daughters"):
        Resonance("t", ("b", "q1"), symmetric=("q1", "q3"))
    one = Topology("single", (Resonance("W", ("q1", "q2"), ("q1", "q2")),), exchangeable=False)
    assert one.permutations == ((0,),) and one.head_index == ((0, 1),)
