from __future__ import annotations

from hepattn.cli import main


def test_inspect_hzz_detects_schema_and_counts_truncation(hzz_path, capsys):
    assert main(["inspect", hzz_path, "--max-objects", "3"]) == 0
    out = capsys.readouterr().out
    assert "events" in out and "2,421 entries" in out
    assert "schema: cartesian" in out and "Jet_Px" in out
    assert "36 events (1.49 %) truncated, 40 objects dropped" in out
    assert "     5 | #" in out


def test_inspect_with_explicit_schema_and_errors(hzz_path, tmp_path, capsys):
    assert main(["inspect", hzz_path, "--schema", "nanoaod"]) == 1
    err = capsys.readouterr().err
    assert "tree 'Events' not found; the file has trees ['events']" in err
    assert main(["inspect", str(tmp_path / "missing.root")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_inspect_unknown_layout(tmp_path, capsys):
    import numpy as np

    from hepattn.data import write_tree

    write_tree(tmp_path / "x.root", {"a": np.arange(3)}, tree="t")
    assert main(["inspect", str(tmp_path / "x.root")]) == 0
    assert "none of the built-in schemas fits" in capsys.readouterr().out
