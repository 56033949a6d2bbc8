"""Are a matcher's probabilities honest? Reliability, calibration error, purity against
efficiency, and the isotonic map that calibrates them.

- :func:`reliability`: predicted probabilities in ``bins`` equal-width bins; per bin the
  count, the mean prediction and the observed frequency of the outcome (with its binomial
  error). The expected calibration error is ``ECE = Σ_b (n_b / N) |ō_b − p̄_b|``.
- :func:`outcomes`: per *predicted* resonance (after pairing predictions with the true
  resonances the way the efficiencies do, :func:`hepattn.metrics.matching.best_pairing`) whether
  its chosen jets are right, and whether a true resonance to find was there (reconstructable):
  what the assignment probability (given it is there) and the detection probability predict.
- :func:`purity_curve`: cutting on an event score (higher = keep), the fraction of events
  kept against the fraction correct among them — the curve an analyst chooses a cut on.
- :func:`fit_isotonic` / :func:`apply_isotonic`: the monotone map fitted by pool-adjacent-
  violators on validation events, used as a piecewise-linear function between its block
  centres (constant beyond them), so that it can be evaluated with elementwise operations
  (also inside an ONNX graph).
- :func:`fit_platt`: ``p' = σ(a·logit p + b)`` (two parameters, logistic regression), as knots
  of the same piecewise-linear form.
- :func:`choose_map`: of the identity, Platt and isotonic, the map with the smallest ECE in a
  two-fold cross-validation on the fitting events (isotonic maps follow noise on a few
  thousand events; a model that is already calibrated keeps the identity), refitted on all.
"""

from __future__ import annotations

import numpy as np

from hepattn.metrics.matching import best_pairing, reconstructable
from hepattn.topology import Topology

__all__ = [
    "MAPS",
    "apply_isotonic",
    "choose_map",
    "fit_platt",
    "ece",
    "fit_isotonic",
    "outcomes",
    "purity_curve",
    "reliability",
]


def reliability(prob: np.ndarray, outcome: np.ndarray, bins: int = 10) -> dict:
    """Reliability diagram of ``prob: float[n]`` against ``outcome: bool[n]`` (NaN
    predictions left out): ``{"bins": [{"lo", "hi", "count", "predicted", "observed",
    "observed_err"}], "ece": float, "n": int}``; empty bins have ``predicted`` and
    ``observed`` None."""
    p = np.asarray(prob, np.float64)
    o = np.asarray(outcome, bool)
    keep = np.isfinite(p)
    p, o = np.clip(p[keep], 0.0, 1.0), o[keep]
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.minimum(np.searchsorted(edges, p, side="right") - 1, bins - 1)
    rows, total = [], 0.0
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        row = {"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": n}
        if n:
            pred, obs = float(p[sel].mean()), float(o[sel].mean())
            total += n * abs(obs - pred)
            row.update(
                predicted=pred, observed=obs, observed_err=float(np.sqrt(obs * (1 - obs) / n))
            )
        else:
            row.update(predicted=None, observed=None, observed_err=None)
        rows.append(row)
    n_all = int(p.size)
    return {"bins": rows, "ece": total / n_all if n_all else float("nan"), "n": n_all}


def ece(prob: np.ndarray, outcome: np.ndarray, bins: int = 10) -> float:
    """The expected calibration error of :func:`reliability`."""
    return reliability(prob, outcome, bins)["ece"]


def outcomes(
    pred: np.ndarray, truth: np.ndarray, topology: Topology
) -> tuple[np.ndarray, np.ndarray]:
    """``(correct, present)``, both ``bool[B, R]`` per *predicted* resonance: its chosen jets
    are those of the true resonance it is paired with, and that true resonance is
    reconstructable (all its jet daughters have distinct jets)."""
    perm, options = best_pairing(pred, truth, topology)  # (B,), (perms, B, R by true r)
    rec = reconstructable(truth, topology)  # (B, R) by true resonance
    perms = np.asarray(topology.permutations)  # (perms, R): predicted perm[r] ↔ true r
    chosen = perms[perm]  # (B, R)
    b = np.arange(len(perm))[:, None]
    correct = np.zeros_like(rec)
    present = np.zeros_like(rec)
    correct[b, chosen] = options[perm, np.arange(len(perm))]  # (B, R by true r)
    present[b, chosen] = rec
    return correct, present


def purity_curve(score: np.ndarray, correct: np.ndarray, points: int = 20) -> dict:
    """Keep the events with ``score`` ≥ a threshold (NaN: never kept): for thresholds at the
    quantiles that keep 100 %, 95 %, … of the events, ``{"kept": [...], "purity": [...],
    "threshold": [...]}`` — the fraction of all events kept, the fraction of them correct."""
    s = np.asarray(score, np.float64)
    c = np.asarray(correct, bool)
    s = np.where(np.isfinite(s), s, -np.inf)
    order = np.argsort(-s, kind="stable")
    hits = np.cumsum(c[order])
    n = len(s)
    kept, purity, threshold = [], [], []
    for frac in np.linspace(1.0, 1.0 / points, points):
        k = max(1, int(round(frac * n))) if n else 0
        if k == 0:
            break
        kept.append(k / n)
        purity.append(float(hits[k - 1] / k))
        threshold.append(float(s[order[k - 1]]))
    return {"kept": kept, "purity": purity, "threshold": threshold}


def fit_isotonic(prob: np.ndarray, outcome: np.ndarray) -> tuple[list[float], list[float]]:
    """The non-decreasing map ``p → P(outcome | p)`` fitted by pool-adjacent-violators:
    knots ``(x, y)`` at the mean prediction and observed frequency of each pooled block
    (NaN predictions left out; at least one knot)."""
    p = np.asarray(prob, np.float64)
    o = np.asarray(outcome, np.float64)
    keep = np.isfinite(p)
    p, o = p[keep], o[keep]
    if p.size == 0:
        return [0.0, 1.0], [0.0, 1.0]
    order = np.argsort(p, kind="stable")
    p, o = p[order], o[order]
    # blocks: (sum of outcomes, sum of predictions, count)
    ys, xs, ns = [], [], []
    for pi, oi in zip(p, o, strict=True):
        ys.append(oi)
        xs.append(pi)
        ns.append(1.0)
        while len(ys) > 1 and ys[-2] / ns[-2] >= ys[-1] / ns[-1]:
            y, x, n = ys.pop(), xs.pop(), ns.pop()
            ys[-1] += y
            xs[-1] += x
            ns[-1] += n
    x = [xi / ni for xi, ni in zip(xs, ns, strict=True)]
    y = [yi / ni for yi, ni in zip(ys, ns, strict=True)]
    return x, y


def apply_isotonic(prob: np.ndarray, x: list[float], y: list[float]) -> np.ndarray:
    """The fitted map at ``prob`` (piecewise linear between the knots, constant beyond;
    NaN stays NaN)."""
    p = np.asarray(prob, np.float64)
    out = np.interp(p, np.asarray(x), np.asarray(y))
    return np.where(np.isfinite(p), out, np.nan).astype(np.asarray(prob).dtype)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def fit_platt(prob: np.ndarray, outcome: np.ndarray, knots: int = 201):
    """Platt scaling ``p' = σ(a·logit p + b)`` fitted by Newton's method on the log-likelihood
    (NaN predictions left out), as ``(x, y)`` knots on ``knots`` points of [0, 1]; a fit that
    would reverse the order (a ≤ 0) gives the constant base rate instead."""
    p = np.asarray(prob, np.float64)
    o = np.asarray(outcome, np.float64)
    keep = np.isfinite(p)
    z, o = _logit(p[keep]), o[keep]
    a, b = 1.0, 0.0
    for _ in range(50):
        q = _sigmoid(a * z + b)
        w = q * (1 - q) + 1e-12
        g = np.array([np.sum((q - o) * z), np.sum(q - o)])
        h = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]])
        h += 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    if not (np.isfinite(a) and a > 0):  # a map must not reverse the order: the base rate
        a, b = 0.0, float(_logit(np.array([o.mean() if o.size else 0.5]))[0])
    x = np.linspace(0.0, 1.0, knots)
    y = _sigmoid(a * _logit(x) + b)
    return x.tolist(), y.tolist()


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(t, -500, 500)))


#: The maps :func:`choose_map` chooses from: name → fit(prob, outcome) → (x, y).
MAPS = {
    "identity": lambda p, o: ([0.0, 1.0], [0.0, 1.0]),
    "platt": fit_platt,
    "isotonic": fit_isotonic,
}


def choose_map(prob: np.ndarray, outcome: np.ndarray) -> dict:
    """``{"method", "x", "y", "cv_ece": {method: ECE}}``: the map of :data:`MAPS` with the
    smallest two-fold cross-validated ECE (folds: alternate events), refitted on all."""
    p = np.asarray(prob, np.float64)
    o = np.asarray(outcome, bool)
    folds = np.arange(len(p)) % 2 == 0
    cv = {}
    for name, fit in MAPS.items():
        errs = []
        for train in (folds, ~folds):
            x, y = fit(p[train], o[train])
            errs.append(ece(apply_isotonic(p[~train], x, y), o[~train]))
        cv[name] = float(np.mean(errs))
    best = min(cv, key=cv.get)
    x, y = MAPS[best](p, o)
    return {"method": best, "x": list(map(float, x)), "y": list(map(float, y)), "cv_ece": cv}
