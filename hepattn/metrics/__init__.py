"""Metrics: classification (tagger) and jet–parton matching efficiencies for any declared
topology (:mod:`~hepattn.metrics.matching`)."""

from hepattn.metrics.classification import (
    accuracy_with_error,
    confusion_matrix,
    one_vs_rest_auc,
    per_class_accuracy,
    roc_curve,
)
from hepattn.metrics.matching import (
    definitions,
    efficiency_table,
    format_table,
    jet_rows,
    reconstructable,
    resonance_correct,
    truth_from_parton_labels,
)

__all__ = [
    "accuracy_with_error",
    "confusion_matrix",
    "definitions",
    "efficiency_table",
    "format_table",
    "jet_rows",
    "one_vs_rest_auc",
    "per_class_accuracy",
    "reconstructable",
    "resonance_correct",
    "roc_curve",
    "truth_from_parton_labels",
]
