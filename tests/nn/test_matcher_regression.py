"""The matcher's regression heads: the Gaussian NLL by hand, targets that are missing masked
out of it, per-resonance targets in the resonance order the assignment loss chose, declared
weights in the loss, and matchers without regressions unchanged."""

from __future__ import annotations

import math

import pytest
import torch

from hepattn.config import ConfigError
from hepattn.nn.matcher import (
    JetPartonMatcher,
    MatcherConfig,
    complete_targets,
    gaussian_nll,
    matcher_loss,
    permutation_nll,
    regression_permutations,
)
from hepattn.tasks.matcher_config import MatcherDataConfig, network_config
from hepattn.topology import TOPOLOGIES
from tests.nn.test_matcher import batch
from tests.nn.test_topology_matcher import encoder


def matcher(name, regressions=(), detection=True):
    torch.manual_seed(0)
    enc, n_col = encoder(), len(TOPOLOGIES[name].collections)
    if n_col > 1:
        enc = type(enc)(**{**enc.__dict__, "num_types": n_col})
    cfg = MatcherConfig(
        encoder=enc,
        topology=name,
        tensor_dim=6,
        detection=detection,
        regressions=tuple(regressions),
    )
    return JetPartonMatcher(cfg).double().eval()


def test_gaussian_nll_by_hand_and_missing_targets_carry_nothing():
    mean = torch.tensor([1.0, 0.0, 2.0], requires_grad=True)
    log_sigma = torch.tensor([math.log(2.0), 0.0, 0.5], requires_grad=True)
    y = torch.tensor([3.0, 0.0, float("nan")])
    nll = gaussian_nll(mean, log_sigma, y)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    # (3 − 1)² / (2 · 2²) + log 2 + ½ log 2π;  0 + 0 + ½ log 2π;  missing: 0
    torch.testing.assert_close(
        nll, torch.tensor([0.5 + math.log(2.0) + half_log_2pi, half_log_2pi, 0.0])
    )
    nll.sum().backward()
    assert mean.grad[2] == 0 and log_sigma.grad[2] == 0  # no gradient from a missing target
    assert torch.isfinite(mean.grad).all() and torch.isfinite(log_sigma.grad).all()
    # d/dμ = −(y − μ)/σ² = −0.5;  d/dlogσ = 1 − (y − μ)²/σ² = 0
    torch.testing.assert_close(mean.grad[0], torch.tensor(-0.5))
    torch.testing.assert_close(log_sigma.grad[0], torch.tensor(0.0))


def test_loss_masks_missing_targets_and_weights_each_regression():
    m = matcher("ttbar-ljets", ["EVENT_nu_pz", "t_had_pt"])
    assert [r.weight for r in m.regressions] == [1.0, 1.0]
    from tests.nn.test_topology_matcher import inputs, targets_for

    x, p4, full, types, trans, mask = inputs(m.topology, b=4)
    out = m(x, p4, full, types, trans)
    assert out.regression.shape == (4, 2, 2)
    t = targets_for(m.topology, 4)
    y = torch.tensor([[0.5, 1.0], [float("nan"), -1.0], [2.0, float("inf")], [0.0, 0.0]])
    terms = m.loss_terms(out, mask, t, y)
    assert terms.reg_ok.tolist() == [[True, True], [False, True], [True, False], [True, True]]
    want = gaussian_nll(out.regression[..., 0], out.regression[..., 1], y)
    torch.testing.assert_close(terms.reg, torch.where(terms.reg_ok, want, 0.0))
    base = matcher_loss(terms._replace(reg=None), 1.0)
    ev0 = want[[0, 2, 3], 0].mean()
    ev1 = want[[0, 1, 3], 1].mean()
    torch.testing.assert_close(matcher_loss(terms, 1.0, (1.0, 0.25)), base + ev0 + 0.25 * ev1)
    loss, _ = m.loss(out, mask, t, y)
    torch.testing.assert_close(loss, base + ev0 + ev1)
    # no target tensor: no regression terms, the loss as without the heads
    assert m.loss_terms(out, mask, t).reg is None
    # every target missing: the term is 0 and the loss stays finite
    nan = torch.full((4, 2), float("nan"))
    torch.testing.assert_close(m.loss(out, mask, t, nan)[0], base)


def test_per_resonance_targets_follow_the_chosen_resonance_order():
    """H1 ↔ H2 are exchangeable: true H1's pT is compared with the pT of the head that the
    assignment loss matched to it."""
    topo = TOPOLOGIES["hh-4b"]
    keys = ["EVENT_hh_mass", "H1_pt", "H2_pt"]
    regs = [topo.regression(k) for k in keys]
    assert regression_permutations(topo, regs) == ((0, 1, 2), (0, 2, 1))
    # a regression declared for only one of two exchangeable resonances stays in place
    assert regression_permutations(topo, regs[:2]) == ((0, 1), (0, 1))
    m = matcher("hh-4b", keys)
    x, p4, mask = batch(b=2, n=8)
    mask[:] = True
    out = m(x, p4, mask)
    t = [torch.tensor([[0, 1], [2, 3]]), torch.tensor([[4, 5], [6, 7]])]
    logp = m.target_logprob(out.heads, mask, t)
    _, best = permutation_nll(logp, complete_targets(t), topo.permutations)
    y = torch.tensor([[0.3, 1.0, -1.0], [0.1, -0.5, 0.5]], dtype=torch.float64)
    terms = m.loss_terms(out, mask, t, y)
    for b in range(2):
        cols = regression_permutations(topo, regs)[int(best[b])]
        pred = out.regression[b, list(cols)]
        torch.testing.assert_close(terms.reg[b], gaussian_nll(pred[:, 0], pred[:, 1], y[b]))


def test_matchers_without_regressions_are_the_networks_they_were():
    plain = matcher("ttbar-allhad")
    with_reg = matcher("ttbar-allhad", ["EVENT_ttbar_mass"])
    assert not any(k.startswith("regression") for k in plain.state_dict())
    extra = set(with_reg.state_dict()) - set(plain.state_dict())
    assert extra and all(k.startswith("regression.") for k in extra)
    x, p4, mask = batch(b=2, n=8)
    out = plain(x, p4, mask)
    assert out.regression is None and plain.regressions == ()
    # no detection head either: the outputs of the oldest matchers
    old = matcher("ttbar-allhad", detection=False)(x, p4, mask)
    assert old.detection is None and old.regression is None
    assert with_reg(x, p4, mask).regression.shape == (2, 1, 2)


def test_run_configs_name_declared_regressions():
    data = MatcherDataConfig()
    cfg = network_config({"topology": "ttbar-allhad"}, data)
    assert cfg.regressions == ()  # a saved config without the key: no regression heads
    cfg = network_config({"topology": "hh-4b", "regressions": ["H1_pt"]}, data)
    assert cfg.regressions == ("H1_pt",)
    with pytest.raises(ConfigError, match="declares no regression 'EVENT_nu_pz'"):
        network_config({"topology": "hh-4b", "regressions": ["EVENT_nu_pz"]}, data)
    with pytest.raises(ConfigError, match="regressions named twice"):
        network_config({"topology": "hh-4b", "regressions": ["H1_pt", "H1_pt"]}, data)
    from hepattn.tasks.matching import MatcherRunConfig

    run = MatcherRunConfig.from_dict({"model": {"topology": "ttbar-ljets", "regressions": "all"}})
    assert run.model["regressions"] == [r.key for r in TOPOLOGIES["ttbar-ljets"].regressions]
    assert "regressions" not in MatcherRunConfig.from_dict({}).model
