"""Metrics: classification (tagger) and, with the matching task, jet–parton efficiencies
(all-hadronic tt̄ in :mod:`~hepattn.metrics.matching`, any declared topology in
:mod:`~hepattn.metrics.topology`, whose ``reconstructable`` is not re-exported here: the name
is the all-hadronic one's)."""

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
from hepattn.metrics.topology import (
    format_topology_table,
    jet_rows,
    resonance_correct,
    topology_definitions,
    topology_efficiency_table,
)

__all__ = [
    "accuracy_with_error",
    "confusion_matrix",
    "efficiency_table",
    "format_table",
    "format_topology_table",
    "jet_rows",
    "one_vs_rest_auc",
    "per_class_accuracy",
    "reconstructable",
    "resonance_correct",
    "roc_curve",
    "top_correct",
    "topology_definitions",
    "topology_efficiency_table",
    "truth_from_parton_labels",
]
