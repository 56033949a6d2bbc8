"""Fine-tuning (``train --init-from``): the run starts from a saved model's weights and
standardization, frozen parts stay as they were, another network is refused naming the
difference, and the card says where the model came from."""

from __future__ import annotations

import json

import pytest
import torch

from hepattn.cli import main
from hepattn.models import ModelError
from hepattn.tasks.matching import Matcher, MatcherRunConfig
from tests.tasks.test_matching_task import TINY, slice_file

FEATURES = ["log_pt", "eta", "log_e", "mass", "btag"]  # those of the decision_model fixture


def _run(**data):
    cfg = {**TINY, "data": {**TINY["data"], "features": FEATURES, **data}}
    return MatcherRunConfig.from_dict(cfg)


def test_fine_tune_from_weights_with_the_encoder_frozen(decision_model, tmp_path):
    train, val = (
        slice_file(tmp_path / "t.root", 1000, 1300),
        slice_file(tmp_path / "v.root", 1300, 1400),
    )
    base = Matcher.load(decision_model)
    out = tmp_path / "ft"
    info = Matcher.train(_run(), [train], [val], out, init_from=decision_model, freeze=("encoder",))
    assert info["init_from"] == str(decision_model)
    tuned = Matcher.load(out / "best")
    before, after = base.net.state_dict(), tuned.net.state_dict()
    enc = [k for k in before if k.startswith("encoder.")]
    heads = [k for k in before if not k.startswith("encoder.")]
    assert enc and all(torch.equal(before[k], after[k]) for k in enc)  # frozen
    assert any(not torch.equal(before[k], after[k]) for k in heads)  # trained
    assert tuned.standardizers["objects"] == base.standardizers["objects"]  # kept
    card = (out / "best" / "card.md").read_text()
    assert "## Initialized from" in card and str(decision_model) in card
    assert json.loads((out / "best" / "training.json").read_text())["init_from"]


def test_another_network_is_refused_before_reading(decision_model, tmp_path):
    with pytest.raises(ModelError, match="data.features"):
        Matcher.train(_run(features=FEATURES[:4]), ["nothing.root"], ["nothing.root"],
                      tmp_path / "x", init_from=decision_model)  # fmt: skip
    with pytest.raises(ModelError, match="data.max_objects"):
        Matcher.train(_run(max_objects=10), ["nothing.root"], ["nothing.root"], tmp_path / "y",
                      init_from=decision_model)  # fmt: skip


def test_cli_init_from(decision_model, tmp_path, capsys):
    train, val = (
        slice_file(tmp_path / "t.root", 1000, 1200),
        slice_file(tmp_path / "v.root", 1300, 1400),
    )
    import yaml

    cfg = tmp_path / "c.yaml"
    saved = yaml.safe_load((decision_model / "config.yaml").read_text())
    cfg.write_text(yaml.safe_dump({k: v for k, v in saved.items() if k != "task"}))
    argv = ["train", "matcher", "--config", str(cfg), "--train", str(train), "--val", str(val),
            "-o", str(tmp_path / "o"), "--init-from", str(decision_model), "--no-progress",
            "--refit-standardization"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert "refitted" in (tmp_path / "o" / "best" / "card.md").read_text()
    bad = [*argv[:-1], "--freeze", "heads"]
    with pytest.raises(SystemExit):
        main(bad)
