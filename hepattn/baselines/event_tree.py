"""The event classification baseline: a gradient-boosted tree on the event variables analysts
use, against which a matcher's classification head is measured (:mod:`hepattn.tasks.
classification`).

Features of each event (:func:`event_features`), from its padded jets and the topology's
classical baseline (:mod:`hepattn.baselines.registry`: the χ² for tt̄, the D_HH pairing for
HH → 4b), run on it as in ``hepattn compare``:

==================  ======================================================================
``ht``              H_T = Σ pT of the jets read [GeV]
``n_jets``          jets in the event (before truncation)
``n_btags``         b-tagged jets (the baseline's b-tag rule)
``jet1_pt``         the leading jet's pT [GeV]
``score``           the baseline's figure of merit (χ², D_HH; missing where it had none)
``m_<R>``           the invariant mass of resonance R's jets in the baseline's assignment
                    (m_t1, m_t2: the χ²'s triplet masses; m_H1, m_H2: the D_HH-paired masses)
``m_<R>_<a><b>``    the mass of R's exchangeable daughters (the W: m_t1_q1q2)
``m_all``           the mass of all the assigned jets (m_4j for HH → 4b, m_6j for tt̄)
==================  ======================================================================

A feature without a value (fewer jets than the topology needs) is missing (NaN), which the
tree handles natively. The tree is scikit-learn's ``HistGradientBoostingClassifier`` (seeded,
early stopping on a tenth of the training events), trained on the same events as the network.
"""

from __future__ import annotations

import numpy as np

from hepattn._optional import require

__all__ = ["EventTree", "event_features"]


def event_features(matcher, ev, btag_wp: float | None = None) -> tuple[list[str], np.ndarray]:
    """``(names, float64[B, F])``: the module's features of the events ``ev`` read by
    ``matcher`` (a :class:`~hepattn.tasks.matching.Matcher`)."""
    from hepattn.baselines.btag import btag_rule
    from hepattn.physics.kinematics import invariant_mass
    from hepattn.topology import JETS

    topo = matcher.topology
    jets = ev[matcher.run.data.collection]
    p4 = np.where(jets.mask[..., None], jets.p4, 0).astype(np.float64)
    pt = np.hypot(p4[..., 0], p4[..., 1])
    rule = btag_rule(ev, matcher.run.data.collection, btag_wp)
    tags = np.zeros(jets.mask.shape, bool) if rule.values is None else rule.values > rule.threshold
    _, result = matcher.baseline(ev, btag_wp)
    slots = result.slots
    score = np.where(np.isfinite(result.score), result.score, np.nan)
    cols = {
        "ht": pt.sum(1),
        "n_jets": ev.derived["n_jets"].astype(np.float64),
        "n_btags": (tags & jets.mask).sum(1).astype(np.float64),
        "jet1_pt": pt.max(1),
        "score": score,
    }

    def system(parton_cols: list[int]) -> np.ndarray:
        s = slots[:, parton_cols]
        picked = np.take_along_axis(p4, np.maximum(s, 0)[..., None], axis=1)
        m = invariant_mass(picked.sum(1))
        return np.where((s >= 0).all(1), m, np.nan)

    everything = []
    offset = 0
    for r in topo.resonances:
        own = [offset + i for i in range(len(r.daughters)) if r.source(i) == JETS]
        offset += len(r.daughters)
        everything += own
        if own:
            cols[f"m_{r.name}"] = system(own)
        if r.symmetric and len(r.symmetric) < len(own):
            sym = [offset - len(r.daughters) + r.daughters.index(d) for d in r.symmetric]
            cols[f"m_{r.name}_{''.join(r.symmetric)}"] = system(sym)
    cols["m_all"] = system(everything)
    names = list(cols)
    return names, np.stack([cols[n] for n in names], axis=1)


class EventTree:
    """A seeded gradient-boosted tree on :func:`event_features`; ``fit`` then
    ``predict_proba``."""

    def __init__(self, seed: int = 0, max_iter: int = 300) -> None:
        ensemble = require("sklearn.ensemble", "the event classification baseline (a BDT)")
        self.model = ensemble.HistGradientBoostingClassifier(
            max_iter=max_iter,
            learning_rate=0.1,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=20,
            random_state=seed,
        )
        self.names: list[str] = []

    def fit(self, names: list[str], x: np.ndarray, labels: np.ndarray, weights=None) -> EventTree:
        """Train on the features ``x: [B, F]`` (named ``names``) and classes ``labels``."""
        self.names = list(names)
        self.model.fit(x, labels, sample_weight=weights)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``float[B, C]`` the class probabilities (classes in label order)."""
        return self.model.predict_proba(x)

    def describe(self) -> str:
        return (
            f"gradient-boosted tree (scikit-learn HistGradientBoostingClassifier, "
            f"{self.model.n_iter_} iterations, early stopping) on {', '.join(self.names)}"
        )
