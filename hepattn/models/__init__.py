"""Saved models: one directory each, and the default models bundled with the package.

A model directory holds

- ``config.yaml``: ``task`` (``tagger`` or ``matcher``), ``kind``, the model config, the data
  config (schema, features, padding) and the class names — everything needed to rebuild it;
- ``weights.pt``: the state dict, loaded with ``torch.load(weights_only=True)``;
- ``weights.sha256``: its SHA-256 (``sha256sum`` format), checked before it is loaded;
- ``standardization.json``: the fitted input standardization(s), by name;
- ``metrics.json``: validation metrics at save time;
- ``domain.json``: the domain of the training data (:mod:`hepattn.tasks.domain`): what
  inference checks its inputs against (older models have none, and are not checked);
- ``card.md``: the model card (training command, data, budget, measured accuracy).

``resolve_model("default", task)`` gives the bundled model of a task; the bundled matcher of a
declared topology is named by its declaration (``defaults.model``: ``matcher`` for
all-hadronic tt̄, ``matcher-<topology>`` for the others; :func:`bundled_matcher`). Every
failure to load a directory — a missing, empty, truncated or damaged file (hash mismatch),
malformed YAML or JSON, weights with NaN, a standardization record missing or with a zero
std, weights that do not fit the network the config builds — is a :class:`ModelError` naming
the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from hepattn.data.outputs import atomic_path
from hepattn.data.standardize import Standardizer
from hepattn.errors import DataError, HepattnError

log = logging.getLogger(__name__)

__all__ = [
    "ModelError",
    "SavedModel",
    "bundled_matcher",
    "check_standardizers",
    "file_sha256",
    "load_saved",
    "load_state",
    "resolve_model",
    "safe_load",
    "save_model",
]

WEIGHTS = "weights.pt"
#: ``sha256sum`` format record of the weights, checked on load (flipped bytes are caught).
HASH = "weights.sha256"

BUNDLED = Path(__file__).parent
DEFAULTS = {"tagger": BUNDLED / "tagger"}


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
    domain: dict[str, Any] | None = None


def bundled_matcher(topology: str | os.PathLike) -> Path:
    """The bundled matcher of ``topology``: ``hepattn/models/<defaults.model>`` of its
    declaration (``matcher`` for all-hadronic tt̄); a :class:`ModelError` saying how to train
    one when none is bundled (always for a user's topology file)."""
    from hepattn.topology import TOPOLOGIES

    name = str(topology)
    train = (
        f"train one with 'hepattn train matcher --topology {name} --train FILES --val FILES "
        "-o DIR' and pass --model DIR"
    )
    if name not in TOPOLOGIES or TOPOLOGIES[name].defaults.model is None:
        raise ModelError(f"no model is bundled for the user topology {name}; {train}")
    path = BUNDLED / TOPOLOGIES[name].defaults.model
    if not (path / "config.yaml").exists():
        raise ModelError(
            f"no {name} matcher is bundled with this installation (hepattn/models/"
            f"{path.name}); {train}"
        )
    return path


def resolve_model(
    model: str | os.PathLike | None, task: str, topology: str | os.PathLike | None = None
) -> Path:
    """``None`` or ``"default"`` → the bundled model of ``task`` (of a matcher: that of
    ``topology``, all-hadronic tt̄ when None; :func:`bundled_matcher`); else the given
    directory."""
    if model is None or str(model) == "default":
        if task == "matcher":
            from hepattn.topology import TTBAR_ALLHAD

            return bundled_matcher(topology if topology is not None else TTBAR_ALLHAD.name)
        path = DEFAULTS[task]
        if not (path / "config.yaml").exists():
            raise ModelError(f"no default {task} model is bundled with this installation")
        return path
    path = Path(model)
    if not path.is_dir():
        raise ModelError(f"{path}: no such model directory")
    return path


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as ``sha256sum`` prints it."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model(
    directory: str | os.PathLike,
    config: dict[str, Any],
    model: torch.nn.Module,
    standardizers: dict[str, Standardizer],
    metrics: dict[str, Any] | None = None,
    card: str | None = None,
    domain: dict[str, Any] | None = None,
) -> Path:
    """Write a model directory (files replaced one by one, each atomically), with the
    SHA-256 of ``weights.pt`` in ``weights.sha256``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def put(name: str, write) -> None:
        with atomic_path(d / name) as tmp:
            write(tmp)

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    digest = {}

    def weights(p: Path) -> None:
        torch.save(state, p)
        digest["sha256"] = file_sha256(p)

    put(WEIGHTS, weights)
    put(HASH, lambda p: p.write_text(f"{digest['sha256']}  {WEIGHTS}\n"))
    put("config.yaml", lambda p: p.write_text(yaml.safe_dump(config, sort_keys=False)))
    std = {k: s.to_dict() for k, s in standardizers.items()}
    put("standardization.json", lambda p: p.write_text(json.dumps(std, indent=2) + "\n"))
    if metrics is not None:
        put("metrics.json", lambda p: p.write_text(json.dumps(metrics, indent=2) + "\n"))
    if domain is not None:
        put("domain.json", lambda p: p.write_text(json.dumps(domain, indent=1) + "\n"))
    if card is not None:
        put("card.md", lambda p: p.write_text(card))
    return d


def set_card_section(card: str | os.PathLike, title: str, body: str) -> None:
    """Put the section ``## title`` with ``body`` into the model card ``card`` (replacing the
    section of that title where there is one, else at the end), atomically."""
    import re

    path = Path(card)
    text = path.read_text() if path.exists() else ""
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _read(path: Path, parse, what: str):
    """``parse(text)`` of ``path``; a :class:`ModelError` naming it if unreadable."""
    try:
        return parse(path.read_text())
    except OSError as err:
        raise ModelError(f"{path}: cannot be read ({err.strerror})") from None
    except (ValueError, yaml.YAMLError) as err:  # JSONDecodeError, UnicodeDecodeError
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ModelError(f"{path}: not valid {what} ({first})") from None


def _check_hash(path: Path) -> None:
    """Compare ``weights.pt`` with the SHA-256 recorded in ``weights.sha256``."""
    record = path.parent / HASH
    if not record.exists():
        log.warning("%s: no %s beside it: its integrity is not checked", path, HASH)
        return
    fields = _read(record, str.split, "hash record")
    if not fields or len(fields[0]) != 64:
        raise ModelError(f"{record}: not a SHA-256 record ('<64 hex digits>  {WEIGHTS}')")
    actual = file_sha256(path)
    if actual != fields[0].lower():
        raise ModelError(
            f"{path}: damaged: its SHA-256 is {actual[:12]}…, {HASH} records "
            f"{fields[0][:12]}… (flipped bytes, a partial copy, or replaced weights)"
        )


def safe_load(path: Path, error: type[HepattnError], what: str) -> Any:
    """``torch.load(path, weights_only=True)``; an ``error`` naming ``path`` if it carries
    pickled code or objects, or is not a readable ``what``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise error(
            f"{path}: refused to load: it carries pickled code or objects that are not plain "
            f"tensors and data ({str(err).splitlines()[0]})"
        ) from None
    except Exception as err:  # truncated zip, bad archive, …
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise error(f"{path}: not a readable {what} ({first})") from None


def _load_weights(path: Path) -> dict[str, torch.Tensor]:
    _check_hash(path)
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: empty (0 bytes)")
    state = safe_load(path, ModelError, "torch state dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: does not hold a state dict of tensors")
    for name, t in state.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            bad = int((~torch.isfinite(t)).sum())
            raise ModelError(f"{path}: tensor {name!r} holds {bad} non-finite values (NaN/inf)")
    return state


def _load_standardizers(path: Path) -> dict[str, Standardizer]:
    records = _read(path, json.loads, "JSON")
    if not isinstance(records, dict):
        raise ModelError(f"{path}: expected a mapping of name -> standardization record")
    out = {}
    for name, record in records.items():
        try:
            out[name] = Standardizer.from_dict(record)
        except DataError as err:
            raise ModelError(f"{path}: record {name!r}: {err}") from None
        bad = [
            f
            for f, m, s in zip(out[name].features, out[name].mean, out[name].std, strict=True)
            if not (math.isfinite(m) and math.isfinite(s) and s > 0)
        ]
        if bad:
            raise ModelError(
                f"{path}: record {name!r}: feature {bad[0]!r} has a zero, negative or non-finite "
                "standard deviation or mean (its outputs would be NaN)"
            )
    return out


def check_standardizers(saved: SavedModel, required: dict[str, tuple[str, ...] | int]) -> None:
    """A :class:`ModelError` unless ``saved`` has each record of ``required``: name → the
    features the network reads, in order (as ``config.yaml`` names them), or their number."""
    path = saved.path / "standardization.json"
    for name, features in required.items():
        if name not in saved.standardizers:
            raise ModelError(
                f"{path}: no standardization record {name!r} (it has "
                f"{sorted(saved.standardizers)}); the model needs it"
            )
        have = saved.standardizers[name].features
        if isinstance(features, int):
            if len(have) != features:
                raise ModelError(
                    f"{path}: record {name!r} standardizes {len(have)} features, the network "
                    f"reads {features}"
                )
        elif tuple(have) != tuple(features):
            raise ModelError(
                f"{path}: record {name!r} standardizes {len(have)} features {list(have)}, "
                f"config.yaml reads {len(features)}: {list(features)}"
            )


def load_state(saved: SavedModel, net: torch.nn.Module) -> None:
    """Put the saved weights into ``net``; a :class:`ModelError` if they do not fit it."""
    try:
        net.load_state_dict(saved.state_dict)
    except RuntimeError as err:
        lines = [ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()]
        detail = "; ".join(lines) or str(err)
        if len(detail) > 300:
            detail = detail[:300] + " …"
        raise ModelError(
            f"{saved.path / WEIGHTS}: the weights do not fit the network config.yaml "
            f"describes ({detail})"
        ) from None


def load_saved(path: str | os.PathLike, task: str, former: tuple[str, ...] = ()) -> SavedModel:
    """Read a model directory written by :func:`save_model`, checking it is for ``task`` (or
    one of its ``former`` names); every failure is a :class:`ModelError` naming the file and
    the problem."""
    d = Path(path)
    for name in ("config.yaml", WEIGHTS, "standardization.json"):
        if not (d / name).exists():
            raise ModelError(f"{d}: not a hepattn model directory ({name} is missing)")
    config = _read(d / "config.yaml", yaml.safe_load, "YAML")
    if not isinstance(config, dict) or config.get("task") not in (task, *former):
        found = config.get("task") if isinstance(config, dict) else None
        raise ModelError(
            f"{d / 'config.yaml'}: this is a {found!r} model, a {task!r} model is needed"
        )
    state = _load_weights(d / WEIGHTS)
    std = _load_standardizers(d / "standardization.json")
    metrics_path, domain_path = d / "metrics.json", d / "domain.json"
    return SavedModel(
        path=d,
        config=config,
        state_dict=state,
        standardizers=std,
        metrics=_read(metrics_path, json.loads, "JSON") if metrics_path.exists() else {},
        domain=_read(domain_path, json.loads, "JSON") if domain_path.exists() else None,
    )
