"""Metrics: classification (tagger) and, with the matching task, jet–parton efficiencies."""

from hepattn.metrics.classification import (
    accuracy_with_error,
    confusion_matrix,
    one_vs_rest_auc,
    per_class_accuracy,
    roc_curve,
)

__all__ = [
    "accuracy_with_error",
    "confusion_matrix",
    "one_vs_rest_auc",
    "per_class_accuracy",
    "roc_curve",
]
