"""The tagger end to end on a tiny synthetic tower file: train, resume, eval, tag."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch
import uproot
import yaml

from hepattn.cli import main
from hepattn.data import write_tree
from hepattn.errors import DataError
from hepattn.tasks.presets import run_config_dict
from hepattn.tasks.tagging import CLASSES, Tagger, TaggerRunConfig

TINY = {
    "kind": "transformer",
    "model": {
        "encoder": {
            "dim": 16,
            "num_heads": 2,
            "num_layers": 1,
            "mlp_ratio": 1.0,
            "interaction": {"enabled": True, "width": 8, "layers": 1},
        },
        "class_layers": 1,
    },
    "data": {"max_objects": 12},
    "training": {
        "epochs": 2,
        "batch_size": 16,
        "lr": 0.003,
        "warmup_steps": 2,
        "seed": 3,
        "patience": 5,
        "threads": 1,
    },
}


def prong_file(path, n=56, seed=0, shuffle_towers=False, labels=None):
    """Jets with a class-dependent number of tower clusters, in the hepattn-prongs format."""
    rng = np.random.default_rng(seed)
    shuffler = np.random.default_rng(seed + 1000)
    labels = np.arange(n) % len(CLASSES) if labels is None else np.asarray(labels)
    towers = []
    for lab in labels:
        k = [1, 2, 3, 4, 4, 6, 8][lab % 7]
        centres = rng.normal(0, 0.4, (k, 2))
        m = int(rng.integers(3, 15))
        which = rng.integers(0, k, m)
        eta = centres[which, 0] + rng.normal(0, 0.05, m)
        phi = centres[which, 1] + rng.normal(0, 0.05, m)
        pt = rng.exponential(50, m) + 1
        order = shuffler.permutation(m) if shuffle_towers else np.argsort(-pt)
        towers.append((pt[order], eta[order], phi[order], pt[order] * np.cosh(eta[order])))
    counts = [len(t[0]) for t in towers]

    def jag(i):
        return ak.unflatten(np.concatenate([t[i] for t in towers]).astype(np.float32), counts)

    tower = ak.zip({"pt": jag(0), "eta": jag(1), "phi": jag(2), "e": jag(3)})
    f32 = np.zeros(len(labels), np.float32)
    write_tree(
        path,
        {
            "jet_pt": f32 + 1100,
            "jet_eta": f32,
            "jet_phi": f32,
            "jet_mass": f32 + 400,
            "label": labels.astype(np.int32),
            "n_contained": labels.astype(np.int32),
            "weight": f32 + 1,
            "event": np.arange(len(labels), dtype=np.int64),
            "tower": tower,
        },
        tree="jets",
    )
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("tagger")
    train, val = prong_file(d / "train.root", seed=1), prong_file(d / "val.root", n=21, seed=2)
    run = TaggerRunConfig.from_dict(TINY)
    summary = Tagger.train(run, [train], [val], d / "run", command="pytest")
    return d, summary


def test_training_writes_checkpoint_best_model_and_card(trained):
    d, summary = trained
    best = d / "run" / "best"
    for name in ("config.yaml", "weights.pt", "standardization.json", "card.md", "metrics.json"):
        assert (best / name).exists(), name
    assert (d / "run" / "last.pt").exists()
    assert summary["epochs"] == 2 and summary["train_jets"] == 56
    card = (best / "card.md").read_text()
    assert "pytest" in card and "56 jets" in card and "Validation accuracy" in card
    cfg = yaml.safe_load((best / "config.yaml").read_text())
    assert cfg["task"] == "tagger" and cfg["classes"] == list(CLASSES)


def test_kill_and_resume_gives_the_same_weights(trained, tmp_path, monkeypatch):
    d, _ = trained
    run = TaggerRunConfig.from_dict(TINY)
    real_loss, calls = Tagger.loss, {"n": 0}

    def dying_loss(self, model, batch):  # killed during the 2nd epoch (3 steps per epoch)
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("killed")
        return real_loss(self, model, batch)

    monkeypatch.setattr(Tagger, "loss", dying_loss)
    with pytest.raises(KeyboardInterrupt):
        Tagger.train(run, [d / "train.root"], [d / "val.root"], tmp_path / "r")
    monkeypatch.setattr(Tagger, "loss", real_loss)
    assert torch.load(tmp_path / "r" / "last.pt", weights_only=True)["epoch"] == 1
    Tagger.train(run, [d / "train.root"], [d / "val.root"], tmp_path / "r", resume=True)
    a = torch.load(tmp_path / "r" / "last.pt", weights_only=True)["model"]
    b = torch.load(d / "run" / "last.pt", weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_tag_output_contract_and_tower_order_independence(trained, tmp_path, capsys):
    d, _ = trained
    model = d / "run" / "best"
    sorted_in = prong_file(tmp_path / "a.root", n=14, seed=5)
    shuffled_in = prong_file(tmp_path / "b.root", n=14, seed=5, shuffle_towers=True)
    assert (
        main(["tag", str(sorted_in), "-o", str(tmp_path / "a_out.root"), "--model", str(model)])
        == 0
    )
    assert "tagged 14 jets" in capsys.readouterr().out
    assert (
        main(
            [
                "tag",
                str(shuffled_in),
                "-o",
                str(tmp_path / "b_out.root"),
                "--model",
                str(model),
                "--schema",
                "hepattn-prongs",
            ]
        )
        == 0
    )
    with uproot.open(tmp_path / "a_out.root") as f, uproot.open(tmp_path / "b_out.root") as g:
        assert str(f["classes"]) == "1,2,3,4b,4q,6,8"
        t = f["hepattn"]
        assert t.num_entries == 14
        prob = t["prob"].array(library="np")
        assert prob.shape == (14, 7)
        np.testing.assert_allclose(prob.sum(1), 1, atol=1e-5)
        np.testing.assert_array_equal(t["pred"].array(library="np"), prob.argmax(1))
        np.testing.assert_allclose(g["hepattn"]["prob"].array(library="np"), prob, atol=1e-5)


def test_eval_writes_metrics_and_plots(trained, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    d, _ = trained
    assert (
        main(
            [
                "eval",
                "tagger",
                str(d / "val.root"),
                "--model",
                str(d / "run" / "best"),
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "top-1 accuracy" in out and "AUC" in out
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["n_jets"] == 21 and 0 <= m["accuracy"] <= 1 and m["accuracy_err"] >= 0
    assert set(m["auc_one_vs_rest"]) == set(CLASSES)
    assert (tmp_path / "confusion.png").stat().st_size > 0 and (tmp_path / "roc.png").exists()


def test_bad_training_input(tmp_path):
    run = TaggerRunConfig.from_dict(TINY)
    bad = prong_file(tmp_path / "bad.root", n=7, labels=[0, 1, 2, 9, 3, 4, 5])
    with pytest.raises(DataError, match=r"bad.root: label 9 in entry 3 is out of range"):
        Tagger.train(run, [bad], [bad], tmp_path / "r")


def test_saved_tagger_loads_and_predicts(trained):
    d, _ = trained
    tagger = Tagger.load(d / "run" / "best")
    ev = tagger.read(d / "val.root", need_labels=True)
    prob = tagger.predict(ev)
    assert prob.shape == (21, 7) and np.isfinite(prob).all()
    # predicting twice gives the same answer (inputs are not modified in place)
    np.testing.assert_array_equal(tagger.predict(ev), prob)


@pytest.mark.parametrize("kind", ["pfn", "mass_hl", "mass_hl135", "transformer_no_interaction"])
def test_every_kind_trains_saves_and_predicts(trained, tmp_path, kind):
    d, _ = trained
    cfg = run_config_dict("tagger", kind=kind, training={"seed": 1, "epochs": 1, "threads": 1})
    cfg["training"].update(batch_size=16, warmup_steps=2)
    if kind == "pfn":
        cfg["model"].update(phi_sizes=[16, 16], f_sizes=[16])
    if kind.startswith("mass_hl"):
        cfg["model"].update(hidden=[16, 16])
    if kind.startswith("transformer"):
        cfg["model"] = TINY["model"] | {
            "encoder": dict(TINY["model"]["encoder"], interaction={"enabled": False})
        }
    run = TaggerRunConfig.from_dict(cfg)
    summary = Tagger.train(run, [d / "train.root"], [d / "val.root"], tmp_path / kind)
    assert summary["epochs"] == 1
    assert summary["ended_by"] == "epoch_cap" and summary["cpu_seconds"] > 0
    tagger = Tagger.load(tmp_path / kind / "best")
    assert tagger.run.kind == cfg["kind"]
    if kind == "mass_hl135":  # the jet mass and 135 N-subjettiness values, standardized
        assert tagger.run.model["inputs"] == "nsub135"
        assert len(tagger.standardizers["jet"].features) == 136
    prob = tagger.predict(tagger.read(d / "val.root"))
    assert prob.shape == (21, 7) and np.isfinite(prob).all()


def test_learning_rate_grid_keeps_the_best_on_validation(trained, tmp_path):
    from hepattn.tasks.trainer import train_lr_grid

    d, _ = trained
    cfg = run_config_dict("tagger", kind="pfn", training={"seed": 1, "epochs": 2, "threads": 1})
    cfg["training"].update(batch_size=16, warmup_steps=2)
    cfg["model"].update(phi_sizes=[16, 16], f_sizes=[16])
    run = TaggerRunConfig.from_dict(cfg)
    summary, where = train_lr_grid(
        Tagger, run, [d / "train.root"], [d / "val.root"], tmp_path, (1e-2, 1e-5)
    )
    grid = summary["lr_grid"]
    assert set(grid) == {"0.01", "1e-05"}
    chosen = max(grid, key=lambda k: grid[k]["val_score"])
    assert summary["lr"] == float(chosen) and where == tmp_path / f"lr_{chosen}"
    assert summary["val_score"] == grid[chosen]["val_score"]
    assert Tagger.load(where / "best").run.training.lr == float(chosen)
    assert summary["lr_grid_cpu_seconds"] == pytest.approx(
        sum(g["cpu_seconds"] for g in grid.values()), abs=0.1
    )


def _train_cli(d, out, cfg, *extra):
    return main(
        [
            "train",
            "tagger",
            "--train",
            str(d / "train.root"),
            "--val",
            str(d / "val.root"),
            "--out",
            str(out),
            "--config",
            str(cfg),
            *extra,
        ]
    )


def test_train_command_line(trained, tmp_path, capsys):
    d, _ = trained
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(dict(TINY, training=dict(TINY["training"], epochs=1))))
    assert _train_cli(d, tmp_path / "run", cfg, "--seed", "5", "--no-progress") == 0
    out = capsys.readouterr().out
    assert "trained transformer tagger" in out and "best validation accuracy" in out
    card = (tmp_path / "run" / "best" / "card.md").read_text()
    assert "hepattn " in card and (tmp_path / "run" / "last.pt").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    assert _train_cli(d, tmp_path / "r2", bad) == 1
    assert "not valid YAML" in capsys.readouterr().err


def test_all_padded_training_set_is_refused(tmp_path):
    path = tmp_path / "empty_jets.root"
    f32 = np.zeros(4, np.float32)
    empty = ak.Array([[] for _ in range(4)])
    tower = ak.zip(
        {
            "pt": ak.values_astype(empty, np.float32),
            "eta": ak.values_astype(empty, np.float32),
            "phi": ak.values_astype(empty, np.float32),
            "e": ak.values_astype(empty, np.float32),
        }
    )
    write_tree(
        path,
        {
            "jet_pt": f32,
            "jet_eta": f32,
            "jet_phi": f32,
            "jet_mass": f32,
            "label": np.arange(4, dtype=np.int32),
            "n_contained": np.zeros(4, np.int32),
            "weight": f32 + 1,
            "event": np.arange(4, dtype=np.int64),
            "tower": tower,
        },
        tree="jets",
    )
    with pytest.raises(DataError, match="no real objects"):
        Tagger.train(TaggerRunConfig.from_dict(TINY), [path], [path], tmp_path / "r")


def test_streamed_training_from_the_command_line(trained, tmp_path, capsys):
    """--stream: the training file read in chunks each epoch; same card and outputs."""
    d, _ = trained
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(dict(TINY, training=dict(TINY["training"], epochs=2))))
    args = ("--stream", "--chunk-entries", "100", "--no-progress")
    assert _train_cli(d, tmp_path / "run", cfg, *args) == 0
    assert "trained transformer tagger" in capsys.readouterr().out
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 2 and all(h["train_loss"] > 0 for h in history)
    assert (tmp_path / "run" / "best" / "card.md").exists()
    assert _train_cli(d, tmp_path / "r2", cfg, "--stream", "--chunk-entries", "0") == 1
    assert "--chunk-entries must be at least 1" in capsys.readouterr().err


def test_tag_says_when_the_file_was_training_or_validation_data(trained, tmp_path, capsys):
    d, _ = trained
    model = str(d / "run" / "best")
    assert main(["tag", str(d / "val.root"), "-o", str(tmp_path / "v.root"), "--model", model]) == 0
    assert "is part of this model's validation data" in capsys.readouterr().out
    fresh = prong_file(tmp_path / "fresh.root", n=7, seed=9)
    assert main(["tag", str(fresh), "-o", str(tmp_path / "f.root"), "--model", model]) == 0
    assert "part of this model's" not in capsys.readouterr().out
    tagger = Tagger.load(model)
    assert tagger.data_role(d / "train.root") == "training"
    # the bundled tagger was trained and selected on other seeds: the shipped sample is held
    # out, and `hepattn tag` says so with the accuracy it prints
    sample = Path(__file__).resolve().parents[2] / "samples" / "prongs.root"
    bundled = Tagger.load("default")
    assert bundled.data_role(sample) is None and bundled.data_note(sample, 7000) is None
    assert main(["tag", str(sample), "-o", str(tmp_path / "s.root"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "held out (not among the model's training or validation files)" in out


def test_the_model_remembers_its_schema(trained, tmp_path):
    """Trained with --schema, a model reads with that schema; another --schema overrides it."""
    from hepattn.data.schema import BUILTIN_SCHEMAS

    d, _ = trained
    schema = tmp_path / "myprongs.yaml"
    schema.write_text(yaml.safe_dump(BUILTIN_SCHEMAS["hepattn-prongs"].to_dict() | {"name": "x"}))
    run = TaggerRunConfig.from_dict(dict(TINY, training=dict(TINY["training"], epochs=1)))
    Tagger.train(run, [d / "train.root"], [d / "val.root"], tmp_path / "r", schema=str(schema))
    tagger = Tagger.load(tmp_path / "r" / "best")
    assert tagger.run.data.schema == str(schema)
    assert len(tagger.read(d / "val.root")) == 21
    with pytest.raises(DataError, match="tree 'Delphes' not found.*'hepattn-prongs' fits"):
        tagger.read(d / "val.root", schema="delphes")
