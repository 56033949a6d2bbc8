"""The matcher's run configuration: what it reads (:class:`MatcherDataConfig`), a whole run
(:class:`MatcherRunConfig`: model with its topology, data, training), the network config it
builds (:func:`network_config`), the model card template, and the upgrade of configs saved by
earlier versions (:func:`upgrade_saved_config`). The task is :mod:`hepattn.tasks.matching`.
"""

from __future__ import annotations

import dataclasses

from hepattn.config import Config, ConfigError
from hepattn.nn.encoder import EncoderConfig
from hepattn.nn.matcher import MatcherConfig
from hepattn.topology import (
    JETS,
    TTBAR_ALLHAD,
    Topology,
    TopologyError,
    topology_from_entry,
)
from hepattn.training.loop import TrainingConfig

__all__ = [
    "CARD",
    "LEGACY_TASK",
    "MatcherDataConfig",
    "MatcherRunConfig",
    "network_config",
    "upgrade_saved_config",
]

#: The task name matchers of declared topologies were saved under before there was one task.
LEGACY_TASK = "topology-matcher"


@dataclasses.dataclass(frozen=True)
class MatcherDataConfig(Config):
    """Which objects a matcher reads (see the module docstring).

    Attributes:
        schema: default schema of the input files (a topology's default: its
            ``defaults.schema``, set by :func:`hepattn.tasks.presets.load_run_config`).
        collection: the schema's jet collection.
        features: per-jet input features.
        max_objects: jets kept per event (leading in p_T); partons of dropped jets count as
            unmatched.
        label: per-jet parton label (index in the topology's parton order, −1 none).
        object_features: features of each one-object collection (a lepton).
        weight: event-level field with the per-event weight (e.g. NanoAOD's ``genWeight``
            through the schema's ``event:``) used in the loss and the validation metrics;
            ``None``: unweighted (:mod:`hepattn.tasks.weights`).
    """

    schema: str = "hepattn-ttbar"
    collection: str = "jets"
    features: tuple[str, ...] = ("log_pt", "eta", "log_e", "mass", "btag_score")
    max_objects: int = 16
    label: str = "parton"
    object_features: tuple[str, ...] = ("log_pt", "eta", "log_e", "charge")
    weight: str | None = None


@dataclasses.dataclass(frozen=True)
class MatcherRunConfig(Config):
    """A whole matcher run (one YAML file): ``model`` (with ``topology``), data, optimisation.

    The model section is checked (:class:`~hepattn.nn.matcher.MatcherConfig`) when the run
    config is built, so a bad key fails when the YAML is loaded. ``model.regressions``: the
    keys of the topology's declared regressions to regress (``[EVENT_nu_pz, t_had_pt]``), or
    ``all``, which stands for every one the topology declares (the saved config lists them);
    absent: no regression heads. ``model.classifications``: names of the topology's declared
    classifications (``[process]``) or ``all``; absent: no classification head.
    """

    model: dict = dataclasses.field(default_factory=dict)
    data: MatcherDataConfig = dataclasses.field(default_factory=MatcherDataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        if self.model.get("regressions") == "all":
            try:
                keys = [r.key for r in topology_from_entry(self.model.get("topology")).regressions]
            except TopologyError as err:
                raise ConfigError(f"MatcherRunConfig.model: {err}") from None
            object.__setattr__(self, "model", {**self.model, "regressions": keys})
        if self.model.get("classifications") == "all":
            try:
                topo = topology_from_entry(self.model.get("topology"))
            except TopologyError as err:
                raise ConfigError(f"MatcherRunConfig.model: {err}") from None
            names = [c.name for c in topo.classifications]
            object.__setattr__(self, "model", {**self.model, "classifications": names})
        try:
            network_config(self.model, self.data)
        except (ConfigError, TopologyError) as err:
            raise ConfigError(f"MatcherRunConfig.model: {err}") from None
        if "topology" not in self.model:  # saved with the model: its absence marks old ones
            object.__setattr__(self, "model", {"topology": TTBAR_ALLHAD.name, **self.model})

    @property
    def topology(self) -> Topology:
        return topology_from_entry(self.model.get("topology"))


def _widths(topology: Topology, data: MatcherDataConfig) -> dict[str, int]:
    """Feature count of each collection of ``topology``."""
    out = {}
    for c in topology.collections:
        if c.name == JETS:
            out[c.name] = len(data.features)
        elif c.transverse:
            out[c.name] = 1
        else:
            out[c.name] = len(data.object_features)
    return out


def network_config(model: dict, data: MatcherDataConfig) -> MatcherConfig:
    """The checked network config (``input_dim`` and ``num_types`` filled in here)."""
    topology = topology_from_entry(model.get("topology"))
    for c in topology.collections:
        if c.name != JETS and c.max_objects != 1:
            raise ConfigError(
                f"topology {topology.name!r}: collection {c.name!r} needs max_objects: 1 "
                "(only the jets may hold several objects)"
            )
    heads = {"regressions": "regression", "classifications": "classification"}
    for key, what in heads.items():
        declared = [getattr(x, "key", x.name) for x in getattr(topology, key)]
        asked = model.get(key, [])
        for name in asked if isinstance(asked, list | tuple) else []:
            if name not in declared:
                raise ConfigError(
                    f"{key}: topology {topology.name!r} declares no {what} {name!r} "
                    f"(it declares {declared}; or write `{key}: all`)"
                )
    n_col = len(topology.collections)
    enc = {
        **model.get("encoder", {}),
        "input_dim": max(_widths(topology, data).values()),
        "num_types": n_col if n_col > 1 else 0,
    }
    return MatcherConfig.from_dict(
        {**model, "topology": topology.name, "encoder": EncoderConfig.from_dict(enc).to_dict()}
    )


def upgrade_saved_config(config: dict) -> dict:
    """A ``config.yaml`` of an earlier matcher as this task reads it (unchanged if current):

    - an all-hadronic matcher saved before the topologies (``task: matcher`` with no
      ``model.topology``): ``triplet_dim`` is the ``tensor_dim`` of its two order-3 heads,
      the topology ``ttbar-allhad``, and it has no detection head (``detection: false``);
    - a ``task: topology-matcher`` model: the same network, task ``matcher``.
    """
    config = dict(config)
    model = dict(config.get("model") or {})
    if config.get("task") == "matcher" and "topology" not in model:
        if "triplet_dim" in model:
            model["tensor_dim"] = model.pop("triplet_dim")
        model.update(topology=TTBAR_ALLHAD.name, detection=False)
    if config.get("task") == LEGACY_TASK:
        config["task"] = "matcher"
    config["model"] = model
    return config


CARD = """# hepattn jet–parton matcher, topology `{topology}`

- **Task**: assign jets to the partons {partons} ({symmetries}).
- **Model**: encoder over {collections} + one symmetric tensor attention head per resonance and
  a detection head, {params:,} trainable parameters; config in `config.yaml`.
- **Regressions**: {regressions}.
- **Classifications**: {classifications}.
- **Inputs**: jets of schema `{schema}`, features {features}, leading {max_objects} jets by pT.
- **Training command**: `{command}`
- **Training data**: {train_files} — {train_events:,} events with at least one
  reconstructable resonance ({all_rec:,} with all); validation: {val_files} —
  {val_events:,} events.
- **Event weights**: {weights}.
- **Budget**: {epochs} epochs (max {max_epochs}), batch size {batch_size}, AdamW lr {lr},
  {seconds:.0f} s wall time on {device} ({threads} CPU threads).
- **Validation resonance efficiency** (best epoch {best_epoch}): {val_percent:.2f} % of
  reconstructable resonances correct.
"""
