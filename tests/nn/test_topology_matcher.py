"""Tensor attention heads of order 1–3 for every built-in topology: exact symmetry under the
declared swaps, permutation invariance of inputs, the loss over resonance permutations (equal
to the top-symmetric loss for all-hadronic tt̄), the detection head and exact decoding."""

from __future__ import annotations

import itertools

import pytest
import torch

from hepattn.nn.encoder import EncoderConfig
from hepattn.nn.heads import TensorAttentionHead, head_logprob, head_logprobs, head_topk
from hepattn.nn.inputs import combine_collections
from hepattn.nn.matcher import (
    JetPartonMatcher,
    MatcherConfig,
    complete_targets,
    permutation_nll,
)
from hepattn.topology import TOPOLOGIES
from tests.nn.test_matcher import batch
from tests.nn.test_matcher import model as allhad_model

NAMES = sorted(TOPOLOGIES)


def encoder(d=16):
    return EncoderConfig.from_dict(
        {"input_dim": 4, "dim": d, "num_heads": 2, "num_layers": 1, "interaction": {"width": 8}}
    )


def matcher(name, d=16):
    torch.manual_seed(0)
    n_col = len(TOPOLOGIES[name].collections)
    enc = encoder(d)
    if n_col > 1:
        enc = type(enc)(**{**enc.__dict__, "num_types": n_col})
    cfg = MatcherConfig(encoder=enc, topology=name, tensor_dim=6)
    return JetPartonMatcher(cfg).double().eval()


def inputs(topology, b=3, n=8, seed=1, full=False):
    """Jets (``batch``) and, for a topology reading more collections, one object of each:
    ``(x, p4, mask, types, transverse, head_mask)``."""
    x, p4, mask = batch(b=b, n=n, seed=seed)
    if full:
        mask[:] = True
    if len(topology.collections) == 1:
        return x, p4, mask, None, None, mask
    parts = {"jets": (x, p4, mask)}
    g = torch.Generator().manual_seed(seed + 10)
    for c in topology.collections[1:]:
        p3 = torch.randn(b, 1, 3, generator=g, dtype=torch.float64) * 40
        if c.transverse:
            p3[..., 2] = 0
        p4c = torch.cat([p3, p3.norm(dim=-1, keepdim=True)], -1)
        xc = torch.randn(b, 1, 3, generator=g, dtype=torch.float64)
        parts[c.name] = (xc, p4c, torch.ones(b, 1, dtype=torch.bool))
    i = combine_collections(topology, parts)
    return i.x, i.p4, i.mask, i.types, i.transverse, i.head_mask


def targets_for(topology, b, seed=0):
    """Random distinct jets per event (8 jets), some daughters missing."""
    g = torch.Generator().manual_seed(seed)
    out = [[] for _ in topology.resonances]
    for e in range(b):
        jets = torch.randperm(8, generator=g).tolist()
        for r, o in enumerate(topology.orders):
            t = [jets.pop() for _ in range(o)]
            if (e + r) % 3 == 2:
                t[0] = -1
            out[r].append(t)
    return [torch.tensor(t) for t in out]


@pytest.mark.parametrize("name", NAMES)
def test_heads_are_exactly_symmetric_under_the_declared_daughter_swaps(name):
    m = matcher(name)
    x, p4, full, types, trans, mask = inputs(m.topology)
    heads = m(x, p4, full, types, trans).heads
    for res, head, (xh, sh) in zip(m.topology.resonances, m.heads, heads, strict=True):
        assert head.order == res.order
        lp = head_logprobs(head, xh, sh, mask)
        assert lp.shape == (3,) + (x.shape[1],) * res.order
        if res.symmetric:
            assert torch.equal(lp, lp.transpose(1, 2))  # exchangeable pair first
        torch.testing.assert_close(lp.flatten(1).logsumexp(1), torch.zeros(3, dtype=lp.dtype))
        assert torch.isinf(lp[2, 4:]).all()  # event 2 has 4 real jets


@pytest.mark.parametrize("name", NAMES)
def test_permuting_jets_permutes_every_head_and_leaves_detection(name):
    m = matcher(name)
    x, p4, full, types, trans, mask = inputs(m.topology, b=1)
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(3))
    h1, d1 = m(x, p4, full, types, trans)[:2]
    pick = [None if t is None else t[:, perm] for t in (types, trans)]
    h2, d2 = m(x[:, perm], p4[:, perm], full[:, perm], *pick)[:2]
    torch.testing.assert_close(d1, d2)
    for head, (x1, s1), (x2, s2) in zip(m.heads, h1, h2, strict=True):
        a = head_logprobs(head, x1, s1, mask)
        for axis in range(1, head.order + 1):
            a = a.index_select(axis, perm)
        torch.testing.assert_close(head_logprobs(head, x2, s2, mask[:, perm]), a)


def test_order_1_and_2_heads_mask_repeats_and_padding_and_pick_targets():
    torch.manual_seed(1)
    for order, sym in ((1, 0), (2, 0), (2, 2)):
        head = TensorAttentionHead(8, 5, order, sym).double()
        x, s = head(torch.randn(2, 5, 8, dtype=torch.float64))
        mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
        lp = head_logprobs(head, x, s, mask)
        if order == 2:
            assert torch.isinf(lp[:, range(5), range(5)]).all()
            assert torch.equal(lp, lp.transpose(1, 2)) == bool(sym)
        assert torch.isinf(lp[1, 2:]).all()
        pad = [3] if order == 1 else [0, 2]  # a padded jet
        tgt = torch.tensor([[[0, 1][:order], [-1, 1][:order]], [[1, 0][:order], pad]])
        got = head_logprob(head, x, s, mask, tgt)
        assert got[0, 0] == lp[(0, *tgt[0, 0].tolist())]
        assert torch.isinf(got[0, 1]) and torch.isinf(got[1, 1])
        v, idx = head_topk(head, x, s, mask, 100)
        n_valid = 1 if sym else 2  # two real jets: 0, 1 / (0, 1), (1, 0) / {0, 1}
        assert v.shape[1] == 5**order and torch.isinf(v[1, n_valid:]).all()
        assert torch.isfinite(v[1, :n_valid]).all() and (idx[1, n_valid:] == -1).all()
    with pytest.raises(ValueError, match="exactly one exchangeable pair"):
        TensorAttentionHead(8, 5, 3, 0)
    with pytest.raises(ValueError, match="order 1, 2 or 3"):
        TensorAttentionHead(8, 5, 4, 2)


def test_all_hadronic_is_the_default_topology_with_the_same_heads():
    """The default matcher is the SPA-Net one: two order-3 heads symmetric in (q1, q2), the
    same weights as an explicit ``topology: ttbar-allhad``."""
    old = allhad_model()
    new = matcher("ttbar-allhad")
    assert [h.order for h in old.heads] == [3, 3] == [h.order for h in new.heads]
    new.load_state_dict(old.state_dict(), strict=False)
    x, p4, mask = batch()
    t = torch.tensor([[[0, 1, 2], [3, 4, 5]], [[0, 1, 2], [3, -1, 5]], [[-1, 1, 2], [0, 1, -1]]])
    targets = [t[:, 0], t[:, 1]]
    a = old.target_logprob(old(x, p4, mask).heads, mask, targets)
    b = new.target_logprob(new(x, p4, mask).heads, mask, targets)
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_loss_is_a_minimum_over_the_declared_resonance_permutations(name):
    m = matcher(name)
    x, p4, full, types, trans, mask = inputs(m.topology, b=4, full=True)
    out = m(x, p4, full, types, trans)
    t = targets_for(m.topology, 4)
    loss, used = m.loss(out, mask, t)
    assert torch.isfinite(loss) and used.any()
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    for res, ti in zip(m.topology.resonances, t, strict=True):  # daughter swaps
        if res.symmetric:
            ti[:, [0, 1]] = ti[:, [1, 0]]
    torch.testing.assert_close(m.loss(out, mask, t)[0], loss)
    swapped = [t[p] for p in m.topology.permutations[-1]]  # resonance swap
    lp = m.target_logprob(out[0], mask, swapped)
    if len(m.topology.permutations) > 1:
        torch.testing.assert_close(m.loss(out, mask, swapped)[0], loss)
    else:  # distinguishable: no minimum, the straight sum
        per_event, best = permutation_nll(lp, complete_targets(swapped), m.topology.permutations)
        diag = torch.where(complete_targets(swapped), -lp.diagonal(dim1=1, dim2=2), 0).sum(1)
        torch.testing.assert_close(per_event, diag)
        assert (best == 0).all()


def test_detection_targets_follow_the_chosen_resonance_order():
    m = matcher("hh-4b")
    x, p4, mask = batch(b=2, n=8)
    mask[:] = True
    out = m(x, p4, mask)
    t = [torch.tensor([[0, 1], [2, 3]]), torch.tensor([[-1, 5], [-1, 6]])]  # H2 never
    det = out.detection
    m.config = type(m.config)(**{**m.config.__dict__, "detection_weight": 1.0})
    loss, _ = m.loss(out, mask, t)
    logp = m.target_logprob(out[0], mask, t)
    _, best = permutation_nll(logp, complete_targets(t), m.topology.permutations)
    want = torch.zeros(2, 2, dtype=det.dtype)
    for b in range(2):
        want[b, m.topology.permutations[best[b]][0]] = 1.0
    nll = -logp[torch.arange(2), torch.tensor(m.topology.permutations)[best][:, 0], 0].mean()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(det, want)
    torch.testing.assert_close(loss, nll + bce)


@pytest.mark.parametrize("name", NAMES)
def test_model_decoding_is_exact_against_brute_force(name):
    m = matcher(name)
    x, p4, full, types, trans, mask = inputs(m.topology, n=7)
    out = m(x, p4, full, types, trans)
    assign, prob, det = m.decode(out, mask, k=1)
    assert det.shape == (3, len(m.topology.resonances)) and ((det > 0) & (det < 1)).all()
    assert (assign < 7).all()  # jets only: the lepton and MET (slots 7, 8) are never chosen
    lps = [head_logprobs(h, xh, sh, mask) for h, (xh, sh) in zip(m.heads, out[0], strict=True)]
    topo = m.topology
    for b in range(3):
        n_real = int(mask[b].sum())
        if n_real < sum(topo.orders):
            continue
        best = -float("inf")
        for combo in itertools.product(
            *(itertools.permutations(range(n_real), o) for o in topo.orders)
        ):
            jets = [j for c in combo for j in c]
            if len(set(jets)) == len(jets):
                best = max(best, sum(lp[b][c].item() for lp, c in zip(lps, combo, strict=True)))
        got = sum(
            lp[(b, *[assign[b, c].item() for c in cols])].item()
            for lp, cols in zip(lps, topo.jet_head_index, strict=True)
        )
        assert got == pytest.approx(best)
        mult = torch.tensor([r.log_multiplicity for r in topo.resonances], dtype=torch.float64)
        want = torch.tensor(
            [
                lp[(b, *[assign[b, c].item() for c in cols])].item()
                for lp, cols in zip(lps, topo.jet_head_index, strict=True)
            ],
            dtype=torch.float64,
        )
        torch.testing.assert_close(prob[b], (want + mult).exp().float())


@pytest.mark.parametrize("name", ["hh-4b", "ttbar-ljets"])
def test_training_smoke_run_learns_a_planted_assignment(name):
    """A few optimiser steps on events whose jet features name their parton: the loss falls
    and decoding recovers the planted jets."""
    topo = TOPOLOGIES[name]
    torch.manual_seed(0)
    m = matcher(name).float().train()
    n_daughters = sum(topo.orders)
    b, n = 64, n_daughters + 2

    def make(seed):
        g = torch.Generator().manual_seed(seed)
        x, p4, full, types, trans, mask = inputs(topo, b=b, n=n, seed=seed, full=True)
        x = torch.randn(x.shape, generator=g) * 0.1
        order = torch.argsort(torch.rand(b, n, generator=g), dim=1)[:, :n_daughters]  # (B, o)
        rows = torch.arange(b)[:, None]
        x[rows, order, 0] = 1.0 + torch.arange(n_daughters, dtype=torch.float)  # plant labels
        targets, start = [], 0
        for o in topo.orders:
            targets.append(order[:, start : start + o])
            start += o
        p4 = p4.float()
        return (x, p4, full, types, trans), mask, targets

    batch_in, mask, targets = make(5)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    losses = []
    for step in range(60):
        data, dmask, dt = make(100 + step)
        loss, _ = m.loss(m(*data), dmask, dt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    m.eval()
    with torch.no_grad():
        out = m(*batch_in)
        final, _ = m.loss(out, mask, targets)
        assign, _, _ = m.decode(out, mask)
    assert final.item() < 0.3 * losses[0]
    any_order = torch.zeros(b, dtype=torch.bool)
    for perm in topo.permutations:  # resonance r's jets predicted by head perm[r]
        correct = torch.ones(b, dtype=torch.bool)
        for r, (t, res) in enumerate(zip(targets, topo.resonances, strict=True)):
            got = assign[:, list(topo.jet_head_index[perm[r]])]
            k = len(res.symmetric)
            correct &= (got[:, k:] == t[:, k:]).all(1)
            correct &= (got[:, :k].sort(1).values == t[:, :k].sort(1).values).all(1)
        any_order |= correct
    assert any_order.float().mean() > 0.9
