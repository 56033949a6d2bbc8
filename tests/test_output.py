"""Atomic small outputs: strict JSON, no temporary left behind."""

from __future__ import annotations

import json

import pytest

from hepattn.output import atomic_path, to_json, write_json


def test_json_output_is_strict():
    text = to_json({"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": 2}})
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": {"d": 2}}


def test_atomic_write_leaves_nothing_on_interrupt(tmp_path):
    out = tmp_path / "sub" / "r.json"
    write_json(out, {"x": 1})
    assert json.loads(out.read_text()) == {"x": 1}

    def dying(tmp):
        tmp.write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_path(out, dying)
    assert json.loads(out.read_text()) == {"x": 1}  # the old file is untouched
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.json"]
