"""How the command line behaves: fast start, help texts, flags, logging, Ctrl-C, schema hints."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import uproot

from hepattn.cli import COMMANDS, build_parser, main
from tests.tasks.test_matching_task import slice_file
from tests.tasks.test_tagging_task import prong_file

REPO = Path(__file__).resolve().parents[2]


def _subparsers(parser: argparse.ArgumentParser, prefix=()):
    """Every (command path, parser) below ``parser``, itself included."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*prefix, name))


def test_help_and_version_import_neither_torch_nor_awkward():
    argvs = [["--help"], ["--version"]]
    argvs += [[*path, "--help"] for path, _ in _subparsers(build_parser()) if path]
    code = (
        "import sys\n"
        "from hepattn.cli import main\n"
        f"for argv in {argvs!r}:\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('torch', 'awkward', 'uproot') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "usage: hepattn" in out and "hepattn 0." in out
    assert out.strip().splitlines()[-1] == "[]"
    assert len(argvs) > len(COMMANDS) + 5  # every command and sub-command was asked


def test_every_option_has_help_and_help_names_only_existing_options():
    root = build_parser()
    for path, parser in _subparsers(root):
        # options of this command, of the top level, and of its own sub-commands
        below = [p for _, p in _subparsers(parser)] + [root]
        known = {o for p in below for a in p._actions for o in a.option_strings}
        texts = [parser.description or ""]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                texts += [a.help or "" for a in action._choices_actions]
                assert all(a.help for a in action._choices_actions), path
                continue
            assert action.help and action.help != argparse.SUPPRESS, (path, action.dest)
            texts.append(action.help)
        for text in texts:
            for option in re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", text):
                assert option in known, f"hepattn {' '.join(path)}: help names {option}"


def test_output_is_dash_o_everywhere_with_old_spellings_kept():
    parse = build_parser().parse_args
    train = ["--train", "a.root", "--val", "b.root"]
    for argv in (
        ["train", "tagger", *train],
        ["train", "matcher", *train],
        ["eval", "tagger", "x.root"],
        ["eval", "matcher", "x.root"],
        ["export-onnx", "default", "--task", "tagger"],
    ):
        assert parse([*argv, "-o", "X"]).output == "X"
        assert parse([*argv, "--output", "X"]).output == "X"
        assert parse([*argv, "--out", "X"]).output == "X"
    assert parse(["compare", "x.root", "--json", "c.json"]).output == "c.json"
    assert parse(["compare", "x.root", "-o", "c.json"]).output == "c.json"
    for command in ("tag", "match"):
        args = parse([command, "x.root", "-o", "y.root", "--tree", "T", "--output-tree", "F"])
        assert (args.output, args.tree, args.output_tree) == ("y.root", "T", "F")
        assert parse([command, "x.root", "-o", "y.root"]).output_tree == "hepattn"


def test_verbose_shows_hepattn_debug_but_not_other_libraries(hzz_path, capsys):
    assert main(["-v", "inspect", hzz_path]) == 0
    logging.getLogger("hepattn.test").debug("hepattn-debug")
    logging.getLogger("fsspec").debug("fsspec-debug")
    err = capsys.readouterr().err
    assert "hepattn-debug" in err and "fsspec-debug" not in err
    assert main(["inspect", hzz_path]) == 0
    logging.getLogger("hepattn.test").debug("quiet")
    assert "quiet" not in capsys.readouterr().err


def test_model_schema_mismatch_names_the_fitting_schema(hzz_path, capsys):
    assert main(["tag", hzz_path, "-o", "never.root"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "tree 'jets' not found" in err
    assert "the built-in schema 'cartesian' fits this file (--schema cartesian)" in err
    assert "schema 'hepattn-prongs' is the one the model remembers; --schema overrides it" in err
    assert not Path("never.root").exists()
    assert main(["inspect", hzz_path, "--schema", "nanoaod"]) == 1
    err = capsys.readouterr().err
    assert "see `hepattn inspect`" not in err and "'cartesian' fits this file" in err


def test_convert_detects_the_schema_or_says_none_fits(hzz_path, tmp_path, capsys):
    pytest.importorskip("h5py")
    assert main(["convert", hzz_path, "--to", "spanet-h5", "-o", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err  # detected as inspect does; it has no parton labels
    assert "detected schema 'cartesian'" in err and "has no label 'parton'" in err
    plain = tmp_path / "plain.root"
    from hepattn.data import write_tree

    write_tree(plain, {"a": np.arange(3)}, tree="t")
    assert main(["convert", str(plain), "--to", "spanet-h5", "-o", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err
    assert "no built-in schema fits this file (reading ['jets'])" in err and "--schema" in err


def _interrupt_after(monkeypatch, owner, name: str) -> None:
    """Make ``owner.name`` raise KeyboardInterrupt after doing its work."""
    real = getattr(owner, name)

    def dying(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(owner, name, dying)


def _one_line_interrupted(capsys, command: str) -> None:
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("INFO")]
    assert err == [f"hepattn {command}: interrupted"]


def test_ctrl_c_in_tag_and_match_exits_130_and_leaves_no_file(tmp_path, monkeypatch, capsys):
    jets = prong_file(tmp_path / "jets.root", n=14, seed=5)
    events = slice_file(tmp_path / "ev.root", 0, 40)
    from hepattn.data.writer import TreeWriter

    _interrupt_after(monkeypatch, TreeWriter, "extend")
    out = tmp_path / "out" / "tagged.root"
    assert main(["tag", str(jets), "-o", str(out), "--no-progress"]) == 130
    _one_line_interrupted(capsys, "tag")
    out2 = tmp_path / "out" / "matched.root"
    assert main(["match", str(events), "-o", str(out2), "--method", "chi2"]) == 130
    _one_line_interrupted(capsys, "match")
    assert not list((tmp_path / "out").iterdir())  # no file, no temporary


def test_ctrl_c_in_compare_eval_and_convert(tmp_path, monkeypatch, capsys):
    events = slice_file(tmp_path / "ev.root", 0, 60)
    out = tmp_path / "out"
    monkeypatch.setattr(
        "hepattn.tasks.comparison.runtime_ms",
        lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt),
    )
    assert main(["compare", str(events), "-o", str(out / "c.json")]) == 130
    _one_line_interrupted(capsys, "compare")
    from hepattn.data import outputs

    _interrupt_after(monkeypatch, outputs, "write_text")
    assert main(["eval", "matcher", str(events), "-o", str(out / "eval")]) == 130
    _one_line_interrupted(capsys, "eval")
    assert [p.name for p in (out / "eval").iterdir()] == ["metrics.json"]  # complete, renamed
    json.loads((out / "eval" / "metrics.json").read_text())
    h5py = pytest.importorskip("h5py")
    _interrupt_after(monkeypatch, h5py.Group, "create_dataset")
    assert main(["convert", str(events), "--to", "spanet-h5", "-o", str(out / "x.h5")]) == 130
    _one_line_interrupted(capsys, "convert")
    assert sorted(p.name for p in out.iterdir()) == ["eval"]


def test_match_documents_its_sentinels(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["match", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "assignment -1 = no jet for that parton" in text
    assert "prob NaN = no triplet chosen for that top" in text and "chi2 inf" in text
    events = slice_file(tmp_path / "ev.root", 0, 30)
    assert main(["match", str(events), "-o", str(tmp_path / "m.root"), "--method", "chi2"]) == 0
    with uproot.open(tmp_path / "m.root") as f:
        assert "prob = NaN" in str(f["sentinels"]) and "chi2 = inf" in str(f["sentinels"])
        assert str(f["assignment_order"]) == "b,q1,q2,b',q1',q2'"
        assert "chi2 form mt" in str(f["chi2"]) and "b-tagged" in str(f["chi2"])
