"""Multi-class classification metrics on predicted probabilities ``prob: float[B, C]``.

- top-1 accuracy with a bootstrap uncertainty (standard deviation over resamples of the
  events, with replacement);
- per-class accuracy (recall of each true class) and the confusion matrix, rows = true class,
  normalized per row;
- one-vs-rest ROC AUC per class, computed exactly from ranks (Mann–Whitney U):
  ``AUC = (Σ ranks of positives − n₊(n₊+1)/2) / (n₊ n₋)`` with average ranks for ties;
- background rejection at a signal efficiency ε_s (:func:`rejection_at`): ``1 / ε_b`` where
  ε_b is the fraction of background events (weighted) above the score threshold that keeps
  the fraction ε_s of the signal.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "accuracy_with_error",
    "confusion_matrix",
    "one_vs_rest_auc",
    "per_class_accuracy",
    "rejection_at",
    "roc_curve",
]


def accuracy_with_error(
    prob: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> tuple[float, float]:
    """Top-1 accuracy (weighted, if ``weights`` are given) and its bootstrap standard deviation.

    ``acc = Σ w_i [argmax prob_i = label_i] / Σ w_i``; the uncertainty is the standard
    deviation of ``acc`` over ``n_boot`` resamples of the events with replacement.
    """
    correct = (np.argmax(prob, axis=1) == labels).astype(np.float64)
    if len(correct) == 0:
        return float("nan"), float("nan")
    w = np.ones_like(correct) if weights is None else np.asarray(weights, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(correct), size=(n_boot, len(correct)))
    boot = (correct[idx] * w[idx]).sum(axis=1) / w[idx].sum(axis=1)
    return float((correct * w).sum() / w.sum()), float(boot.std(ddof=1))


def confusion_matrix(
    prob: np.ndarray, labels: np.ndarray, num_classes: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """``float[C, C]``: (weighted) fraction of true class i predicted as j; rows sum to 1."""
    pred = np.argmax(prob, axis=1)
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    np.add.at(counts, (labels, pred), 1.0 if weights is None else np.asarray(weights, float))
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-300)


def per_class_accuracy(
    prob: np.ndarray, labels: np.ndarray, num_classes: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """``float[C]``: (weighted) accuracy on the events of each true class (NaN if absent)."""
    cm = confusion_matrix(prob, labels, num_classes, weights)
    present = np.bincount(labels, minlength=num_classes) > 0
    return np.where(present, np.diag(cm), np.nan)


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = score[order]
    # average ranks over ties
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def one_vs_rest_auc(prob: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``float[C]``: AUC of ``prob[:, c]`` separating class c from all others."""
    return np.array([_auc(prob[:, c], labels == c) for c in range(num_classes)])


def roc_curve(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate) as the threshold sweeps down the scores."""
    order = np.argsort(-score, kind="mergesort")
    pos = positive[order].astype(np.float64)
    tpr = np.concatenate([[0.0], np.cumsum(pos) / max(pos.sum(), 1.0)])
    fpr = np.concatenate([[0.0], np.cumsum(1.0 - pos) / max((1.0 - pos).sum(), 1.0)])
    return fpr, tpr


def rejection_at(
    score: np.ndarray,
    signal: np.ndarray,
    efficiency: float,
    weights: np.ndarray | None = None,
) -> float:
    """Background rejection ``1 / ε_b`` at the signal efficiency ``efficiency``: the threshold
    is the score above which the (weighted) fraction ``efficiency`` of the ``signal`` events
    lies; ε_b the (weighted) fraction of the other events above it (inf when none is)."""
    score = np.asarray(score, np.float64)
    signal = np.asarray(signal, bool)
    w = np.ones(len(score)) if weights is None else np.asarray(weights, np.float64)
    if not signal.any() or signal.all():
        return float("nan")
    s_score, s_w = score[signal], w[signal]
    order = np.argsort(-s_score, kind="mergesort")
    kept = np.cumsum(s_w[order]) / s_w.sum()
    cut = s_score[order][min(int(np.searchsorted(kept, efficiency)), len(order) - 1)]
    b_score, b_w = score[~signal], w[~signal]
    eff_b = b_w[b_score >= cut].sum() / b_w.sum()
    return float("inf") if eff_b <= 0 else float(1.0 / eff_b)
