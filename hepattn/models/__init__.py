"""Saved models: one directory each, and the default models bundled with the package.

A model directory holds

- ``config.yaml``: ``task`` (``tagger`` or ``matcher``), ``kind``, the model config, the data
  config (schema, features, padding) and the class names — everything needed to rebuild it;
- ``weights.pt``: the state dict, loaded with ``torch.load(weights_only=True)``;
- ``standardization.json``: the fitted input standardization(s), by name;
- ``metrics.json``: validation metrics at save time;
- ``card.md``: the model card (training command, data, budget, measured accuracy).

``resolve_model("default", task)`` gives the bundled model of a task.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from hepattn.data.outputs import atomic_path
from hepattn.data.standardize import Standardizer
from hepattn.errors import HepattnError

__all__ = ["ModelError", "SavedModel", "load_saved", "resolve_model", "save_model"]

BUNDLED = Path(__file__).parent
DEFAULTS = {"tagger": BUNDLED / "tagger", "matcher": BUNDLED / "matcher"}


class ModelError(HepattnError):
    """A model directory is missing, incomplete or for another task."""


@dataclass
class SavedModel:
    """The contents of a model directory (the weights not yet put into a module)."""

    path: Path
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    standardizers: dict[str, Standardizer]
    metrics: dict[str, Any]


def resolve_model(model: str | os.PathLike | None, task: str) -> Path:
    """``None`` or ``"default"`` → the bundled model of ``task``; else the given directory."""
    if model is None or str(model) == "default":
        path = DEFAULTS[task]
        if not (path / "config.yaml").exists():
            raise ModelError(f"no default {task} model is bundled with this installation")
        return path
    path = Path(model)
    if not path.is_dir():
        raise ModelError(f"{path}: no such model directory")
    return path


def save_model(
    directory: str | os.PathLike,
    config: dict[str, Any],
    model: torch.nn.Module,
    standardizers: dict[str, Standardizer],
    metrics: dict[str, Any] | None = None,
    card: str | None = None,
) -> Path:
    """Write a model directory (files replaced one by one, each atomically)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def put(name: str, write) -> None:
        with atomic_path(d / name) as tmp:
            write(tmp)

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    put("weights.pt", lambda p: torch.save(state, p))
    put("config.yaml", lambda p: p.write_text(yaml.safe_dump(config, sort_keys=False)))
    std = {k: s.to_dict() for k, s in standardizers.items()}
    put("standardization.json", lambda p: p.write_text(json.dumps(std, indent=2) + "\n"))
    if metrics is not None:
        put("metrics.json", lambda p: p.write_text(json.dumps(metrics, indent=2) + "\n"))
    if card is not None:
        put("card.md", lambda p: p.write_text(card))
    return d


def load_saved(path: str | os.PathLike, task: str) -> SavedModel:
    """Read a model directory written by :func:`save_model`, checking it is for ``task``."""
    d = Path(path)
    for name in ("config.yaml", "weights.pt", "standardization.json"):
        if not (d / name).exists():
            raise ModelError(f"{d}: not a hepattn model directory ({name} is missing)")
    config = yaml.safe_load((d / "config.yaml").read_text())
    if not isinstance(config, dict) or config.get("task") != task:
        found = config.get("task") if isinstance(config, dict) else None
        raise ModelError(f"{d}: this is a {found!r} model, a {task!r} model is needed")
    try:
        state = torch.load(d / "weights.pt", map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ModelError(
            f"{d / 'weights.pt'}: refused to load: it carries pickled code or objects "
            f"({str(err).splitlines()[0]})"
        ) from None
    std = json.loads((d / "standardization.json").read_text())
    metrics_path = d / "metrics.json"
    return SavedModel(
        path=d,
        config=config,
        state_dict=state,
        standardizers={k: Standardizer.from_dict(v) for k, v in std.items()},
        metrics=json.loads(metrics_path.read_text()) if metrics_path.exists() else {},
    )
