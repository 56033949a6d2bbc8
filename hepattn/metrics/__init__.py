"""Metrics: classification (tagger) and, with the matching task, jet–parton efficiencies."""

from hepattn.metrics.classification import (
    accuracy_with_error,
    confusion_matrix,
    one_vs_rest_auc,
    per_class_accuracy,
    roc_curve,
)
from hepattn.metrics.matching import (
    efficiency_table,
    format_table,
    reconstructable,
    top_correct,
    truth_from_parton_labels,
)

__all__ = [
    "accuracy_with_error",
    "confusion_matrix",
    "efficiency_table",
    "format_table",
    "one_vs_rest_auc",
    "per_class_accuracy",
    "reconstructable",
    "roc_curve",
    "top_correct",
    "truth_from_parton_labels",
]
