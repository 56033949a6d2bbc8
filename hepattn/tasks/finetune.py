"""Fine-tuning: training that starts from a saved model instead of random weights.

``hepattn train matcher|tagger --init-from MODEL`` (a bundled name — ``default`` — or a model
directory) starts from MODEL's weights and input standardization (``--refit-standardization``:
fitted on the new training set instead), optionally with parts of the network frozen
(``--freeze encoder``: the encoder's parameters are not trained, only the heads), with the
run's own training settings (learning rate, epochs, seed). The new run must describe the same
network: the task, the topology (matchers), the kind (taggers), the inputs (collection,
features, ``max_objects``, the other collections' features) and the model section — a
difference is refused in one line naming it. The new model's card records what it started
from.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from hepattn.errors import HepattnError
from hepattn.models import ModelError, resolve_model

__all__ = ["FREEZABLE", "check_same_network", "freeze", "load_init"]

#: Parts of a network ``--freeze`` may name (their parameters' names contain ``<part>.``).
FREEZABLE = ("encoder",)
#: The data-section keys that decide the network's inputs.
INPUT_KEYS = ("collection", "features", "max_objects", "object_features")


def load_init(task_cls: type, run, model: str | os.PathLike):
    """The saved model ``model`` of ``task_cls`` to start from (a matcher's bundled model:
    that of the run's topology)."""
    topology = getattr(run, "topology", None)
    path = resolve_model(model, task_cls.name, topology.name if topology is not None else None)
    return task_cls.load_dir(path)


def _section(run, name: str) -> dict[str, Any]:
    value = getattr(run, name, None)
    if value is None:
        return {}
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return dict(value)


def check_same_network(base, run) -> None:
    """Refuse (a :class:`ModelError`, one line) a run whose network differs from ``base``'s:
    topology, kind, the inputs (:data:`INPUT_KEYS`) or the model section."""
    where = f"--init-from {base.path}"
    for attr in ("topology", "kind"):
        mine, theirs = getattr(run, attr, None), getattr(base.run, attr, None)
        mine = getattr(mine, "name", mine)
        theirs = getattr(theirs, "name", theirs)
        if mine != theirs:
            raise ModelError(f"{where}: the model's {attr} is {theirs!r}, this run's {mine!r}")
    data, base_data = _section(run, "data"), _section(base.run, "data")
    for key in INPUT_KEYS:
        if data.get(key) != base_data.get(key):
            raise ModelError(
                f"{where}: the model's data.{key} is {base_data.get(key)!r}, this run's "
                f"{data.get(key)!r}; fine-tuning needs the same inputs"
            )
    model, base_model = _section(run, "model"), _section(base.run, "model")
    for key in sorted(set(model) | set(base_model)):
        if model.get(key) != base_model.get(key):
            raise ModelError(
                f"{where}: the model's model.{key} is {base_model.get(key)!r}, this run's "
                f"{model.get(key)!r}; fine-tuning needs the same network (use the model's "
                f"config: {Path(base.path) / 'config.yaml'})"
            )


def _keep_eval(module) -> None:
    """Keep ``module`` in eval mode whatever ``train()`` is called with (a frozen batch norm
    normalizes with, and keeps, the running statistics it was trained with)."""
    import types

    from torch import nn

    def train(self, mode: bool = True):
        return nn.Module.train(self, False)

    module.train = types.MethodType(train, module)
    module.eval()


def freeze(net, parts) -> int:
    """Stop training the parameters of ``parts`` (:data:`FREEZABLE`) — and the running
    statistics of their batch norms; the number of parameters frozen."""
    n = 0
    for part in parts:
        if part not in FREEZABLE:
            raise HepattnError(f"--freeze {part!r}: choose among {', '.join(FREEZABLE)}")
        for name, p in net.named_parameters():
            if f"{part}." in name:
                p.requires_grad_(False)
                n += p.numel()
        for name, m in net.named_modules():
            if f"{part}." in f"{name}." and hasattr(m, "running_mean"):  # batch norms
                _keep_eval(m)
    if parts and n == 0:
        raise HepattnError(f"--freeze {', '.join(parts)}: the network has no such part")
    return n
