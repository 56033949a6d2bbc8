"""Exact joint decoding of every built-in topology against brute force, and identity with the
all-hadronic decoder it replaced."""

from __future__ import annotations

import itertools

import pytest
import torch

from hepattn.nn.decoding import decode_joint, decode_topology, jet_sets
from hepattn.topology import TOPOLOGIES
from tests.nn.allhad_decoding_reference import decode_assignments as reference_decode
from tests.nn.test_matcher import batch, model


def canonical(order: int, symmetric: int, n_real: int) -> list[tuple[int, ...]]:
    """The distinct tuples a head ranks: exchangeable leading indices in increasing order."""
    out = []
    for t in itertools.permutations(range(n_real), order):
        if symmetric and list(t[:symmetric]) != sorted(t[:symmetric]):
            continue
        out.append(t)
    return out


def synthetic_heads(topology, n_real: list[int], n: int, seed: int):
    """Random log-probability tables per resonance and event, and their ``topk``."""
    g = torch.Generator().manual_seed(seed)
    tables = []
    for res in topology.resonances:
        per_event = []
        for m in n_real:
            tuples = canonical(res.order, len(res.symmetric), m)
            v = torch.randn(len(tuples), generator=g, dtype=torch.float64)
            per_event.append(dict(zip(tuples, (v - torch.logsumexp(v, 0)).tolist(), strict=True)))
        tables.append(per_event)

    def topk(r, events, k):
        o = topology.orders[r]
        vals = torch.full((len(events), k), float("-inf"), dtype=torch.float64)
        idx = torch.full((len(events), k, o), -1, dtype=torch.long)
        for row, e in enumerate(events.tolist()):
            ranked = sorted(tables[r][e].items(), key=lambda kv: -kv[1])[:k]
            for c, (t, v) in enumerate(ranked):
                vals[row, c] = v
                idx[row, c] = torch.tensor(t)
        return vals, idx

    return tables, topk


def brute_force(topology, tables, e: int, n_real: int):
    """The best log P of the largest set of resonances the event's jets can serve."""
    orders = topology.orders
    for size in range(len(orders), 0, -1):
        best = -float("inf")
        for subset in itertools.combinations(range(len(orders)), size):
            if sum(orders[r] for r in subset) > n_real:
                continue
            for combo in itertools.product(*(tables[r][e].items() for r in subset)):
                jets = [j for t, _ in combo for j in t]
                if len(set(jets)) == len(jets):
                    best = max(best, sum(v for _, v in combo))
        if best > -float("inf"):
            return size, best
    return 0, -float("inf")


@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
def test_decoding_matches_brute_force_for_every_builtin(name):
    topology = TOPOLOGIES[name]
    n = 7
    n_real = [7, 6, 5, 4, 3, 2, 1, 7]
    mask = torch.arange(n)[None] < torch.tensor(n_real)[:, None]
    tables, topk = synthetic_heads(topology, n_real, n, seed=len(name))
    out, logp = decode_topology(topology, topk, mask, k=2)  # tiny k: the bound must grow it
    assert out.shape == (len(n_real), topology.n_partons)
    for e, m in enumerate(n_real):
        size, best = brute_force(topology, tables, e, m)
        got = out[e].tolist()
        jets = [j for j in got if j >= 0]
        assert len(set(jets)) == len(jets) and all(j < m for j in jets)
        chosen = torch.isfinite(logp[e])
        assert int(chosen.sum()) == size
        if size:
            assert logp[e][chosen].sum().item() == pytest.approx(best)
        for r, cols in enumerate(topology.jet_head_index):  # the tuple is the one scored
            t = tuple(got[c] for c in cols)
            if chosen[r]:
                assert tables[r][e][t] == pytest.approx(logp[e, r].item())
            else:
                assert all(j == -1 for j in t)
        non_jet = set(range(topology.n_partons)) - {c for g in topology.jet_head_index for c in g}
        assert all(got[c] == -1 for c in non_jet)


def test_jet_sets_span_several_words():
    idx = torch.tensor([[[0, 62, 63], [64, 125, 126]]])
    s = jet_sets(idx, 130)
    assert s.shape == (1, 2, 3)
    assert s[0, 0].tolist() == [1 | (1 << 62), 1, 0]
    assert s[0, 1].tolist() == [0, (1 << 1) | (1 << 62), 1]


def test_decode_joint_returns_head_order_tuples_per_resonance():
    topology = TOPOLOGIES["ttbar-ljets"]
    tables, topk = synthetic_heads(topology, [5], 5, seed=3)
    choice, _ = decode_joint(topk, topology.orders, torch.tensor([5]), 5)
    assert choice.shape == (1, 4)
    assert tuple(choice[0, :3].tolist()) in tables[0][0]
    assert tuple(choice[0, 3:].tolist()) in tables[1][0]


def test_all_hadronic_decoding_is_unchanged():
    m = model()
    for seed, (b, n) in enumerate([(3, 8), (6, 9), (4, 7)]):
        x, p4, mask = batch(b=b, n=n, seed=seed + 1)
        if b != 3:
            g = torch.Generator().manual_seed(seed)
            mask = torch.arange(n)[None] < torch.randint(1, n + 1, (b,), generator=g)[:, None]
        outputs = m(x, p4, mask)
        for k in (1, 2, 16):
            old, p_old = reference_decode(m, outputs.heads, mask, k=k, with_prob=True)
            new, p_new, _ = m.decode(outputs, mask, k=k)
            assert torch.equal(old, new)
            # the probability: exp(log P + log 2) in float64 (before: in float32)
            torch.testing.assert_close(p_old, p_new, equal_nan=True, rtol=2.5e-7, atol=0)
