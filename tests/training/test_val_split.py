"""``train --val-fraction``: a deterministic, disjoint split by entry, recorded in the run,
checked by ``--resume``, the same in memory and streamed; one-line CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from hepattn.cli import main
from hepattn.config import ConfigError
from hepattn.data import PadSpec, iterate_events, read_events
from hepattn.data.split import EntrySplit, file_offsets, global_entries
from hepattn.errors import HepattnError
from hepattn.tasks.tagging import Tagger, TaggerRunConfig
from hepattn.training.checkpoint import CheckpointError
from tests.tasks.test_tagging_task import TINY, prong_file

SPEC = {"towers": PadSpec(("log_pt",), 4)}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("split")
    return [prong_file(d / "a.root", n=37, seed=1), prong_file(d / "b.root", n=26, seed=2)]


def test_split_is_deterministic_disjoint_and_near_the_fraction():
    i = np.arange(50_000)
    split = EntrySplit(0.2, 7)
    val = split.is_validation(i)
    np.testing.assert_array_equal(val, EntrySplit(0.2, 7).is_validation(i))
    assert abs(val.mean() - 0.2) < 0.01
    # another seed draws another split; a larger fraction keeps every entry of a smaller one
    assert (val != EntrySplit(0.2, 8).is_validation(i)).mean() > 0.2
    assert (EntrySplit(0.3, 7).is_validation(i) >= val).all()
    # the rule depends on the entry alone, not on which other entries are asked about
    np.testing.assert_array_equal(split.is_validation(i[::-1][:1000]), val[::-1][:1000])


def test_parts_are_disjoint_complete_and_independent_of_chunking(files):
    split = EntrySplit(0.3, 1)
    ev = read_events(files, "hepattn-prongs", SPEC)
    glob = global_entries(ev)
    np.testing.assert_array_equal(glob, np.arange(63))  # the two files as one chain
    train, val = split.part(ev, "train"), split.part(ev, "val")
    key = list(zip(train.file_index.tolist(), train.entry.tolist(), strict=True))
    vkey = list(zip(val.file_index.tolist(), val.entry.tolist(), strict=True))
    assert not set(key) & set(vkey) and len(key) + len(vkey) == 63
    assert 0 < len(vkey) < 63
    # chunk by chunk (7 entries, across the file boundary) with the files' offsets
    offsets = file_offsets(files)
    assert offsets == {str(files[0]): 0, str(files[1]): 37}
    chunks = iterate_events(files, "hepattn-prongs", SPEC, step_size=7)
    got = np.concatenate([global_entries(split.part(c, "val", offsets), offsets) for c in chunks])
    np.testing.assert_array_equal(got, global_entries(val, offsets))
    with pytest.raises(ValueError, match="give the files' offsets"):
        global_entries(val)  # a part of the files: its offsets cannot be counted from it
    # read_events(select=…) keeps only the validation part of each chunk
    kept = read_events(
        files, "hepattn-prongs", SPEC, step_size=7, select=lambda c: split.part(c, "val", offsets)
    )
    np.testing.assert_array_equal(global_entries(kept, offsets), got)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, float("nan"), True])
def test_a_fraction_outside_0_1_is_refused(bad):
    with pytest.raises(ConfigError, match="between 0 and 1"):
        EntrySplit(bad, 0)


def _run():
    return TaggerRunConfig.from_dict(dict(TINY, training=dict(TINY["training"], epochs=1)))


def test_training_records_the_split_and_resume_refuses_another(files, tmp_path):
    out = tmp_path / "run"
    summary = Tagger.train(_run(), files, None, out, val_fraction=0.25)
    n_val = int(EntrySplit(0.25, TINY["training"]["seed"]).is_validation(np.arange(63)).sum())
    assert summary["val_jets"] == n_val and summary["train_jets"] == 63 - n_val
    info = json.loads((out / "best" / "training.json").read_text())
    assert info["val_fraction"] == 0.25 and info["split_seed"] == TINY["training"]["seed"]
    assert "splitmix64" in info["split_rule"]
    assert "25 % of the training entries" in (out / "best" / "card.md").read_text()
    # the same split streamed: the same validation entries
    streamed = Tagger.train(
        _run(), files, None, tmp_path / "s", val_fraction=0.25, stream=True, chunk_entries=10
    )
    assert streamed["val_jets"] == n_val
    # resume: the same split continues; another fraction, or --val files, are refused
    Tagger.train(_run(), files, None, out, val_fraction=0.25, resume=True)
    with pytest.raises(CheckpointError, match=r"split\.val_fraction \(0\.25 → 0\.5\)"):
        Tagger.train(_run(), files, None, out, val_fraction=0.5, resume=True)
    with pytest.raises(CheckpointError, match=r"split\.val_fraction \(0\.25 → None\)"):
        Tagger.train(_run(), files[:1], files[1:], out, resume=True)


def test_library_needs_exactly_one_kind_of_validation(files, tmp_path):
    with pytest.raises(HepattnError, match="not both"):
        Tagger.train(_run(), files, files, tmp_path / "r", val_fraction=0.2)
    with pytest.raises(HepattnError, match="one of them"):
        Tagger.train(_run(), files, None, tmp_path / "r")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give validation files (--val FILE ...) or a fraction"),
        (["--val", "VAL", "--val-fraction", "0.2"], "not both"),
        (["--val-fraction", "1.5"], "between 0 and 1"),
        (["--val-fraction", "0"], "between 0 and 1"),
    ],
)
def test_command_line_errors_are_one_line(files, tmp_path, capsys, extra, message):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    extra = [str(files[1]) if a == "VAL" else a for a in extra]
    argv = ["train", "tagger", "--train", str(files[0]), "--out", str(tmp_path / "r")]
    assert main([*argv, "--config", str(cfg), *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("hepattn train: error:")
    assert not (tmp_path / "r").exists()
