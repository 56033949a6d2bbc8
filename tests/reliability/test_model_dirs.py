"""Every way a model directory can be broken is a one-line ModelError naming the file and
the problem (exit 1, nothing written, nothing changed); flipped bytes in the weights are caught
by the hash in ``weights.sha256``; NaN outputs are an error, never a written result."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch
import yaml

from hepattn.cli import main
from hepattn.models import DEFAULTS, HASH, file_sha256
from hepattn.tasks.tagging import Tagger
from tests.reliability._helpers import error_lines, snapshot
from tests.tasks.test_tagging_task import prong_file


def _rehash(d) -> None:
    (d / HASH).write_text(f"{file_sha256(d / 'weights.pt')}  weights.pt\n")


def _state(d, change) -> None:
    state = torch.load(d / "weights.pt", weights_only=True)
    change(state)
    torch.save(state, d / "weights.pt")
    _rehash(d)


def _bytes(d, change, rehash=True) -> None:
    data = bytearray((d / "weights.pt").read_bytes())
    (d / "weights.pt").write_bytes(bytes(change(data)))
    if rehash:
        _rehash(d)


def _flip(data: bytearray) -> bytearray:
    data[len(data) // 2] ^= 0x10
    return data


def _text(name, change):
    def edit(d):
        (d / name).write_text(change((d / name).read_text()))

    return edit


def _yaml(name, change):
    def edit(d):
        cfg = yaml.safe_load((d / name).read_text())
        change(cfg)
        (d / name).write_text(yaml.safe_dump(cfg))

    return edit


def _std(change):
    def edit(d):
        std = json.loads((d / "standardization.json").read_text())
        change(std)
        (d / "standardization.json").write_text(json.dumps(std))

    return edit


BREAKAGES = {
    "empty weights": ("weights.pt", "empty", lambda d: _bytes(d, lambda b: b"")),
    "truncated weights": (
        "weights.pt",
        "not a readable torch state dict",
        lambda d: _bytes(d, lambda b: b[: len(b) // 2]),
    ),
    "flipped byte": ("weights.pt", "damaged", lambda d: _bytes(d, _flip, rehash=False)),
    "missing key": ("weights.pt", "Missing key", lambda d: _state(d, lambda s: s.popitem())),
    "wrong shape": (
        "weights.pt",
        "size mismatch",
        lambda d: _state(d, lambda s: s.update({k: torch.zeros(3, 3) for k in list(s)[:1]})),
    ),
    "nan weights": (
        "weights.pt",
        "non-finite",
        lambda d: _state(d, lambda s: next(iter(s.values())).fill_(float("nan"))),
    ),
    "malformed config": (
        "config.yaml",
        "not valid YAML",
        _text("config.yaml", lambda t: t + "\n: ["),
    ),
    "bad config key": (
        "config.yaml",
        "depth",
        _yaml("config.yaml", lambda c: c["model"]["encoder"].update(depth=3)),
    ),
    "dimension mismatch": (
        "standardization.json",
        "config.yaml reads 6",
        _yaml("config.yaml", lambda c: c["data"]["features"].pop()),
    ),
    "malformed standardization": (
        "standardization.json",
        "not valid JSON",
        _text("standardization.json", lambda t: t[: len(t) // 2]),
    ),
    "renamed standardization": (
        "standardization.json",
        "no standardization record 'objects'",
        _std(lambda s: s.update(obj=s.pop("objects"))),
    ),
    "zero std": (
        "standardization.json",
        "zero",
        _std(lambda s: s["objects"]["std"].__setitem__(2, 0)),
    ),
    "wrong task": (
        "config.yaml",
        "a 'tagger' model is needed",
        _yaml("config.yaml", lambda c: c.update(task="matcher")),
    ),
}


@pytest.fixture
def jets(tmp_path):
    return prong_file(tmp_path / "jets.root", n=14, seed=5)


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_broken_model_directory(tmp_path, capsys, jets, name):
    file, words, breakage = BREAKAGES[name]
    d = tmp_path / "model"
    shutil.copytree(DEFAULTS["tagger"], d)
    breakage(d)
    before = snapshot(tmp_path)
    out = tmp_path / "t.root"
    assert main(["tag", str(jets), "-o", str(out), "--model", str(d)]) == 1
    lines = error_lines(capsys)
    assert len(lines) == 1 and str(d / file) in lines[0] and words in lines[0], lines
    assert not out.exists() and snapshot(tmp_path) == before


def test_bundled_models_carry_their_hashes():
    for d in DEFAULTS.values():
        assert (d / HASH).read_text().split()[0] == file_sha256(d / "weights.pt")


def test_saved_models_carry_a_hash_and_old_ones_load_with_a_warning(tmp_path, caplog):
    d = tmp_path / "model"
    tagger = Tagger.load()
    tagger.save_model(tagger.net, d, {})
    assert (d / HASH).read_text().split()[0] == file_sha256(d / "weights.pt")
    (d / HASH).unlink()
    with caplog.at_level(logging.WARNING, logger="hepattn"):
        Tagger.load(d)
    assert "integrity is not checked" in caplog.text


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_all_nan_output_is_an_error(tmp_path, capsys, jets):
    """A standardization that overflows (a tiny but valid std) makes every output NaN."""
    d = tmp_path / "model"
    shutil.copytree(DEFAULTS["tagger"], d)
    _std(lambda s: s["objects"]["std"].__setitem__(0, 1e-45))(d)
    out = tmp_path / "t.root"
    assert main(["tag", str(jets), "-o", str(out), "--model", str(d)]) == 1
    lines = error_lines(capsys)
    assert len(lines) == 1 and "NaN outputs for 14 of 14 jets" in lines[0], lines
    assert not out.exists()
