"""Task names, tagger kinds and run configs: the policy of building a run.

Light on purpose (no torch, no awkward): the command line builds its parsers from these
names before anything heavy is imported. A run config starts from the bundled YAML of the
task (and tagger kind) in ``hepattn/configs/`` or from the user's YAML file, takes the
command line's training overrides, and is validated — model section included — by
:func:`load_run_config`. The prong classes (:data:`CLASSES`) are declared in
:mod:`hepattn.prong_classes` and re-exported here.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from hepattn.config import ConfigError, load_yaml
from hepattn.prong_classes import CLASSES  # re-exported: the tagger's classes

__all__ = [
    "CLASSES",
    "DEFAULT_KIND",
    "KINDS",
    "LR_GRIDS",
    "TAGGER_KINDS",
    "TASKS",
    "TASK_ALIASES",
    "TRAINING_OVERRIDES",
    "VARIANTS",
    "load_run_config",
    "run_config_dict",
    "task_class",
]

#: The tasks, and the class implementing each (imported on first use).
TASKS: dict[str, str] = {
    "tagger": "hepattn.tasks.tagging:Tagger",
    "matcher": "hepattn.tasks.matching:Matcher",
}
#: Former task names, still accepted where a task is named (``--task topology-matcher``): the
#: matcher of a declared topology was a task of its own before there was one matcher.
TASK_ALIASES: dict[str, str] = {"topology-matcher": "matcher"}
#: Network kinds of a tagger (the ``kind`` of its run config and saved model).
KINDS: tuple[str, ...] = ("transformer", "pfn", "mass_hl")
DEFAULT_KIND = "transformer"
#: Named variants of a kind: (kind, model-section settings laid over its bundled config).
#: ``pfn_1p2m``: the PFN at the paper's size (1,187,847 parameters against its 1,205,895);
#: ``mass_hl135``: Mass + HL on the jet mass and 135 N-subjettiness values (the abstract's
#: larger high-level set).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "transformer_no_interaction": ("transformer", {"encoder": {"interaction": {"enabled": False}}}),
    "pfn_1p2m": ("pfn", {"phi_sizes": [256, 512, 512], "f_sizes": [512, 512, 512]}),
    "mass_hl135": ("mass_hl", {"inputs": "nsub135"}),
}
#: Peak learning rates a benchmark chooses from on the validation set, per kind or variant
#: (:func:`hepattn.tasks.trainer.train_lr_grid`); the others train at their config's ``lr``.
#: The bundled 1e-3 leaves ``pfn_1p2m`` at chance (best epoch 1 on 1,000 jets per class).
LR_GRIDS: dict[str, tuple[float, ...]] = {"pfn_1p2m": (3e-4, 1e-4)}
#: Everything ``hepattn train tagger --kind`` accepts.
TAGGER_KINDS: tuple[str, ...] = ("transformer", *VARIANTS, *KINDS[1:])
#: Keys of the ``training`` section that the command line may override.
TRAINING_OVERRIDES = ("seed", "epochs", "device", "threads", "compile", "amp")


def task_class(name: str):
    """The :class:`~hepattn.tasks.base.Task` subclass of task ``name`` (or a former name)."""
    name = TASK_ALIASES.get(name, name)
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; the tasks are {list(TASKS)}")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def _merge(base: dict, extra: Mapping) -> dict:
    """``base`` with ``extra`` laid over it, nested mappings merged key by key (in place)."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def run_config_dict(
    task: str,
    config: str | os.PathLike | None = None,
    kind: str | None = None,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The run config of ``task`` as a plain dict, not yet validated.

    ``config``: a YAML file, or None for the bundled config of the task and ``kind``
    (``hepattn/configs/tagger_<kind>.yaml``, ``matcher.yaml``). ``kind`` (tagger only; one
    of :data:`TAGGER_KINDS`) wins over the ``kind`` of a config file; a variant also lays its
    model settings over the file's. ``training``: overrides of the ``training`` section
    (None values are ignored).
    """
    task = TASK_ALIASES.get(task, task)
    if task == "tagger":
        if kind is not None and kind not in TAGGER_KINDS:
            raise ConfigError(f"unknown tagger kind {kind!r}; choose one of {TAGGER_KINDS}")
        base, model = VARIANTS.get(kind or DEFAULT_KIND, (kind or DEFAULT_KIND, {}))
        name = f"tagger_{base}.yaml"
    elif task in TASKS:
        if kind is not None:
            raise ConfigError(f"the {task} has no model kinds (got kind {kind!r})")
        base, model, name = None, {}, f"{task}.yaml"
    else:
        task_class(task)  # raises: unknown task
    if config is None:
        cfg = yaml.safe_load(resources.files("hepattn.configs").joinpath(name).read_text())
    else:
        cfg = load_yaml(config)
    if kind is not None:
        cfg["kind"] = base
    _merge(cfg.setdefault("model", {}), model)
    if training:
        unknown = sorted(set(training) - set(TRAINING_OVERRIDES))
        if unknown:
            raise ConfigError(f"cannot override training keys {unknown}")
        cfg.setdefault("training", {}).update({k: v for k, v in training.items() if v is not None})
    return cfg


def load_run_config(
    task: str,
    config: str | os.PathLike | None = None,
    topology: str | None = None,
    regressions: str | None = None,
    classifications: str | None = None,
    **options: Any,
):
    """The validated run config (:attr:`Task.run_config`) of :func:`run_config_dict` (with the
    same ``kind`` and ``training`` options); every problem — the model section's included —
    is a :class:`ConfigError` naming the file. ``topology`` (matcher): the declared
    topology, which wins over the config's; the schema of its generated files (its
    declaration's ``defaults.schema``) becomes the default schema unless the config file
    names one. ``regressions`` (matcher; ``hepattn train matcher --regressions``): ``all``,
    keys of the topology's declared regressions separated by commas (``EVENT_nu_pz,t_had_pt``)
    or ``none``, which wins over the config's ``model.regressions``; ``classifications`` the
    same for ``model.classifications`` (``--classifications all|NAME,...|none``)."""
    cfg = run_config_dict(task, config, **options)
    if TASK_ALIASES.get(task, task) == "matcher":
        from hepattn.topology import TopologyError, topology_entry, topology_from_entry

        model, data = cfg.setdefault("model", {}), cfg.setdefault("data", {})
        own_schema = config is not None and "schema" in data
        if topology is not None:
            model["topology"] = topology_entry(topology)
        try:
            schema = topology_from_entry(model.get("topology")).defaults.schema
        except TopologyError as err:
            raise ConfigError(f"{config}: model.topology: {err}") from None
        if schema is not None and not own_schema:
            data["schema"] = schema
        for key, value in (("regressions", regressions), ("classifications", classifications)):
            if value is not None:
                model.pop(key, None)
                if value == "all":
                    model[key] = "all"
                elif value != "none":
                    model[key] = [k.strip() for k in value.split(",") if k.strip()]
    try:
        return task_class(task).run_config.from_dict(cfg)
    except ConfigError as err:
        raise ConfigError(f"{config}: {err}" if config is not None else str(err)) from None
