"""Truncated, corrupted or wrongly typed files: ``inspect`` answers as the readers do (one
line, exit 1, naming the file or branch), never a traceback and never exit 0 in silence."""

from __future__ import annotations

import pytest
import yaml

from hepattn.cli import main
from tests.conftest import SCHEMA
from tests.data.test_bad_input import big_file
from tests.reliability._helpers import error_lines, snapshot
from tests.tasks.test_tagging_task import prong_file


def _fails(capsys, argv, *words) -> None:
    assert main(argv) == 1, argv
    lines = error_lines(capsys)
    assert len(lines) == 1 and all(w in lines[0] for w in words), lines


def test_file_truncated_near_its_end(tmp_path, capsys):
    jets = prong_file(tmp_path / "jets.root", n=200, seed=3)
    cut = tmp_path / "cut.root"
    data = jets.read_bytes()
    cut.write_bytes(data[: len(data) - 300])
    before = snapshot(tmp_path)
    _fails(capsys, ["inspect", str(cut)], "cut.root", "truncated")
    _fails(capsys, ["tag", str(cut), "-o", str(tmp_path / "t.root")], "cut.root", "truncated")
    assert snapshot(tmp_path) == before
    assert main(["inspect", str(jets)]) == 0  # the whole file is fine


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_damaged_baskets(tmp_path, capsys, damage):
    src = big_file(tmp_path)
    data = bytearray(src.read_bytes())
    bad = tmp_path / "bad.root"
    if damage == "truncated":
        bad.write_bytes(bytes(data[: len(data) // 2]))
    else:
        mid = len(data) // 3
        data[mid : mid + 4000] = bytes(4000)
        bad.write_bytes(bytes(data))
    schema = tmp_path / "toy.yaml"
    schema.write_text(yaml.safe_dump(SCHEMA))
    before = snapshot(tmp_path)
    _fails(capsys, ["inspect", str(bad), "--schema", str(schema)], "bad.root")
    assert snapshot(tmp_path) == before


def test_scalar_where_a_list_is_needed(tmp_path, capsys):
    jets = prong_file(tmp_path / "jets.root", n=20, seed=3)
    schema = {
        "name": "wrong",
        "tree": "jets",
        "collections": {
            "towers": {
                "kinematics": "ptetaphie",
                "branches": {"pt": "jet_pt", "eta": "tower_eta", "phi": "tower_phi",
                             "energy": "tower_e"},
            }
        },
    }  # fmt: skip
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(schema))
    _fails(capsys, ["inspect", str(jets), "--schema", str(path)], "'jet_pt'", "one value per")
