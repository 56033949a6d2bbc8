"""Run-config policy: bundled configs per task and kind, overrides, validation on load."""

from __future__ import annotations

import pytest
import yaml

from hepattn.config import ConfigError
from hepattn.tasks.presets import (
    KINDS,
    TAGGER_KINDS,
    load_run_config,
    run_config_dict,
    task_class,
)


def test_kind_overrides_config_file(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"kind": "transformer", "model": {}}))
    assert run_config_dict("tagger", cfg, "pfn")["kind"] == "pfn"
    out = run_config_dict("tagger", cfg, "transformer_no_interaction")
    assert out["kind"] == "transformer" and out["model"]["encoder"]["interaction"] == {
        "enabled": False
    }


def test_every_kind_has_a_bundled_config_that_loads():
    assert set(KINDS) < set(TAGGER_KINDS) and "transformer_no_interaction" in TAGGER_KINDS
    for kind in TAGGER_KINDS:
        run = load_run_config("tagger", kind=kind, training={"epochs": 3, "seed": None})
        assert run.kind in KINDS and run.training.epochs == 3
    run = load_run_config("tagger", kind="transformer_no_interaction")
    assert run.model["encoder"]["interaction"]["enabled"] is False
    assert load_run_config("matcher").data.schema == "hepattn-ttbar"
    assert task_class("matcher").name == "matcher"


def test_bad_model_section_fails_when_the_config_is_loaded(tmp_path):
    """The model section is validated with the run config, naming the file and the key."""
    cfg = run_config_dict("matcher")
    cfg["model"]["encoder"]["num_layerz"] = 2
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"m.yaml: MatcherRunConfig.model: .*num_layerz"):
        load_run_config("matcher", path)
    with pytest.raises(ConfigError, match="TaggerRunConfig.model: .*phi_sizes"):
        load_run_config("tagger", kind="pfn").__class__.from_dict(
            {"kind": "pfn", "model": {"phi_sizes": "x"}}
        )
    with pytest.raises(ConfigError, match="unknown tagger kind"):
        run_config_dict("tagger", kind="bdt")
    with pytest.raises(ConfigError, match="no model kinds"):
        run_config_dict("matcher", kind="pfn")
    with pytest.raises(ConfigError, match="unknown task"):
        run_config_dict("regressor")
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_run_config("tagger", tmp_path / "bad.yaml")


def test_the_generator_writes_the_tagger_classes():
    """One class list for the tagger, its CLI and export; the generator's labels agree."""
    from hepattn.generate.prongs import CLASSES as GENERATED
    from hepattn.prong_classes import CLASSES as DECLARED
    from hepattn.tasks.presets import CLASSES

    assert GENERATED is CLASSES is DECLARED


def test_every_tagger_kind_has_a_network():
    """The kinds the command line offers are the kinds the network layer builds."""
    from hepattn.nn.tagger_nets import NETWORK_KINDS
    from hepattn.tasks.presets import KINDS

    assert KINDS == NETWORK_KINDS
