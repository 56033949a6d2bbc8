"""The classical jet–parton baselines behind one signature, by the name a topology declares.

A topology names its baseline in its declaration (``defaults.baseline`` in
``hepattn/configs/topologies/*.yaml``); :func:`run_baseline` runs it on events read by the
matcher (:meth:`hepattn.tasks.matching.Matcher.read`), so that no caller asks which topology
it has:

| name | topology | method (``--method``) | score branch |
|---|---|---|---|
| ``chi2-allhad`` | all-hadronic tt̄ | ``chi2`` | ``chi2`` (:mod:`hepattn.baselines.chi2`) |
| ``chi2-ljets`` | lepton+jets tt̄ | ``chi2`` | ``chi2`` (:mod:`hepattn.baselines.chi2_ljets`) |
| ``pairing-dhh`` | HH → 4b | ``pairing`` | ``dhh`` (:mod:`hepattn.baselines.hh_pairing`) |

Each takes the padded jets (4-momenta, mask) and the b-tags the jets carry — 0/1 decisions,
or scores cut at a working point (:func:`hepattn.baselines.btag.btag_rule`) — and returns
jet slots in the topology's parton order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from hepattn.errors import DataError

__all__ = ["BASELINES", "Baseline", "BaselineOptions", "BaselineResult", "get_baseline"]


@dataclasses.dataclass(frozen=True)
class BaselineOptions:
    """What a user may set of a baseline.

    Attributes:
        btag_wp: the working point b-tag scores are cut at (None: the files' medium one).
        chi2_mode: the all-hadronic χ²'s form (``mt`` or ``dm``; :class:`~hepattn.baselines.
            chi2.Chi2Config`); None: its default.
        progress: a progress bar.
    """

    btag_wp: float | None = None
    chi2_mode: str | None = None
    progress: bool = False


@dataclasses.dataclass(frozen=True)
class BaselineResult:
    """A baseline's answer on ``B`` events.

    Attributes:
        slots: ``int64[B, P]`` jet slots (padded, pT-sorted jets) in parton order, −1 none.
        score: ``float64[B]`` its figure of merit (χ², D_HH), inf where it had no answer.
        description: the rule in words (masses, resolutions, b-tag rule).
    """

    slots: np.ndarray
    score: np.ndarray
    description: str


@dataclasses.dataclass(frozen=True)
class Baseline:
    """One baseline: its ``method`` name (``hepattn match --method``, the compare table's
    row key), the name of its ``score`` branch, the parton order it answers in (``partons``,
    as :attr:`hepattn.topology.Topology.order_string`), ``run(ev, collection, options)``, and
    which :class:`BaselineOptions` beyond the b-tag working point it reads (``options``)."""

    name: str
    method: str
    score: str
    partons: str
    run: Callable[..., BaselineResult]
    options: tuple[str, ...] = ()


def _chi2_allhad(ev, collection: str, options: BaselineOptions) -> BaselineResult:
    from hepattn.baselines.chi2 import Chi2Config, chi2_setup, chi2_slots

    config = Chi2Config() if options.chi2_mode is None else Chi2Config(mode=options.chi2_mode)
    config, _, words = chi2_setup(ev, collection, config, options.btag_wp)
    slots, chi2 = chi2_slots(ev, collection, config, options.progress, options.btag_wp)
    return BaselineResult(slots, chi2, words)


def _chi2_ljets(ev, collection: str, options: BaselineOptions) -> BaselineResult:
    from hepattn.baselines.btag import btag_rule
    from hepattn.baselines.chi2_ljets import Chi2LjetsConfig, solve_chi2_ljets

    rule = btag_rule(ev, collection, options.btag_wp)
    jets = ev[collection]
    lep = ev.derived["lepton_p4"][:, 0].astype(np.float64)
    met = ev.derived["met_p4"][:, 0, :2].astype(np.float64)
    cfg = Chi2LjetsConfig(btag_threshold=rule.threshold)
    p4 = jets.p4.astype(np.float64)
    slots, score, _ = solve_chi2_ljets(p4, jets.mask, lep, met, rule.values, cfg)
    desc = (
        f"lepton+jets chi2 (sigma_W {cfg.sigma_w}, sigma_t,had {cfg.sigma_t_had}, "
        f"sigma_t,lep {cfg.sigma_t_lep} GeV; neutrino pz from m_W, better root), "
        f"b-tags {rule.describe()}"
    )
    return BaselineResult(slots, score, desc)


def _pairing_dhh(ev, collection: str, options: BaselineOptions) -> BaselineResult:
    from hepattn.baselines.btag import btag_rule
    from hepattn.baselines.hh_pairing import pair_hh

    rule = btag_rule(ev, collection, options.btag_wp)
    jets = ev[collection]
    slots, score = pair_hh(
        jets.p4.astype(np.float64), jets.mask, rule.values, "dhh", rule.threshold
    )
    desc = f"HH pairing by ATLAS's D_HH (four leading b-tagged jets), b-tags {rule.describe()}"
    return BaselineResult(slots, score, desc)


#: The baselines by name.
BASELINES: dict[str, Baseline] = {
    b.name: b
    for b in (
        Baseline("chi2-allhad", "chi2", "chi2", "b,q1,q2,b',q1',q2'", _chi2_allhad, ("chi2_mode",)),
        Baseline("chi2-ljets", "chi2", "chi2", "b_had,q1,q2,b_lep,l,nu", _chi2_ljets),
        Baseline("pairing-dhh", "pairing", "dhh", "b1,b2,b3,b4", _pairing_dhh),
    )
}


def get_baseline(name: str | None, topology: str, partons: str | None = None) -> Baseline:
    """The baseline ``name`` a topology declares; a :class:`DataError` naming the topology
    when it declares none (a user's topology), an unknown one, or one answering for other
    partons than the topology's (``partons``: its order string)."""
    if name is None:
        raise DataError(
            f"topology {topology!r} declares no classical baseline (defaults.baseline); "
            f"built-in baselines: {sorted(BASELINES)}"
        )
    if name not in BASELINES:
        raise DataError(
            f"topology {topology!r}: unknown baseline {name!r} (defaults.baseline); "
            f"built-in baselines: {sorted(BASELINES)}"
        )
    base = BASELINES[name]
    if partons is not None and partons != base.partons:
        raise DataError(
            f"topology {topology!r} (partons {partons}) declares the baseline {name!r}, which "
            f"assigns jets to the partons {base.partons}"
        )
    return base
