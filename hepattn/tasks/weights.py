"""Per-event weights, one mechanism for every task: where they come from, the weighted loss,
the weighted validation metrics.

- **Source**: the run config's ``data.weight`` names an event-level field of the schema (the
  schema maps it to a branch, e.g. NanoAOD's ``genWeight``); ``None``: unweighted. Read with
  the labels (training and evaluation) into ``ev.derived["weight"]`` (:func:`read_weights`);
  negative weights (NLO generators) are used with their sign, non-finite ones are refused by
  the reader.
- **Loss** of a batch (:func:`weighted_loss`): ``Σ_i w_i ℓ_i / Σ_i |w_i|`` over the events
  ``i`` that carry a loss. With weights ≥ 0 this is the weighted mean ``Σ w ℓ / Σ w``; with
  negative weights the denominator stays positive, so a batch whose weights happen to sum to
  ≤ 0 still descends the weighted loss, and each event's gradient is exactly ``w_i / Σ|w|``
  times its own (an event of weight 0 has no effect, a negative weight flips its gradient).
  Under torchrun the denominator is the mean over ranks (:func:`mean_over_ranks`), so the
  ranks together follow the global weighted mean.
- **Metrics** (validation during training): additive sums ``Σ w x`` and ``Σ w`` over the
  validation set, divided at the end (:func:`weighted_ratio`); a weighted sum ≤ 0 (too few
  events for weights of both signs) is an error, not a number.
- **Evaluation** (``eval``, ``compare``): the model's ``data.weight`` where the files have it,
  or ``--weight FIELD|none`` (:meth:`~hepattn.tasks.base.Task.apply_weight`); the tagger's
  accuracies and the matchers' efficiency tables become weighted
  (:mod:`hepattn.metrics.matching`), the report names the field (:func:`weighted_by`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from hepattn.data import Events
from hepattn.errors import DataError
from hepattn.training.distributed import mean_over_ranks

__all__ = [
    "batch_weights",
    "check_weight_field",
    "read_weights",
    "weight_note",
    "weighted_by",
    "weighted_loss",
    "weighted_ratio",
]


def check_weight_field(field: str, have: Iterable[str], schema: str) -> None:
    """A :class:`DataError` naming ``field`` (``data.weight``) when the input's event fields
    ``have`` lack it."""
    have = sorted(have)
    if field not in have:
        raise DataError(
            f"the run config weights events by the event field {field!r} (data.weight), but "
            f"schema {schema!r} has no such field (its event fields: {have}); map it to the "
            "weight branch under the schema's `event:` (e.g. {weight: genWeight}), or train "
            "unweighted (--weight none)"
        )


def read_weights(ev: Events, field: str | None, schema: str, required: bool) -> None:
    """Put the event weights ``ev.event[field]`` into ``ev.derived["weight"]`` (float32).

    ``field`` None: nothing (unweighted). A field the input lacks is an error
    (:func:`check_weight_field`) when ``required`` (training), else the events stay
    unweighted (evaluating a weighted model on a file without weights).
    """
    if field is None:
        return
    if field not in ev.event:
        if required:
            check_weight_field(field, ev.event, schema)
        return
    ev.derived["weight"] = np.asarray(ev.event[field], np.float32)


def weighted_by(task, ev: Events) -> str | None:
    """The event field ``ev``'s metrics are weighted by (None: unweighted)."""
    return task.run.data.weight if "weight" in ev.derived else None


def weight_note(report: dict) -> str:
    """``"; weighted by FIELD"`` for a report's title when its metrics are weighted."""
    field = report.get("weighted")
    return f"; weighted by event field {field!r} (Σ w over events)" if field else ""


def batch_weights(batch) -> torch.Tensor:
    """``float32[B]``: the batch's event weights, ones when it has none."""
    w = batch.derived.get("weight")
    if w is None:
        return torch.ones(len(batch), dtype=torch.float32, device=batch.mask.device)
    return w.to(torch.float32)


def weighted_loss(
    per_event: torch.Tensor, weight: torch.Tensor, used: torch.Tensor | None = None
) -> torch.Tensor:
    """``Σ w ℓ / Σ |w|`` over the ``used`` events (``bool[B]``; default all) of
    ``per_event: float[B]`` losses (module doc); 0 with a gradient path when none is used."""
    w = weight.to(per_event.dtype)
    if used is not None:
        w = torch.where(used, w, torch.zeros_like(w))
        per_event = torch.where(used, per_event, torch.zeros_like(per_event))
    norm = mean_over_ranks(w.abs().sum()).clamp(min=1e-12)
    return (per_event * w).sum() / norm


def weighted_ratio(num: float, den: float, what: str) -> float:
    """``num / den`` of validation sums (``Σ w x``, ``Σ w``); 0 when both are 0 (nothing to
    count); a :class:`DataError` when the weight sum ``den`` is ≤ 0 otherwise."""
    if den > 0:
        return num / den
    if den == 0 and num == 0:
        return 0.0
    raise DataError(
        f"the event weights of the validation events sum to {den:.6g} for the {what}: the "
        "weighted metric is undefined; validate on more events (a larger --val-fraction or "
        "--val files)"
    )
