"""Outputs never destroy anything: every command that writes checks its outputs against its
inputs, devices, directories and FIFOs before any computation, exit 1 with one line naming
the path, and leaves every input and earlier output as it was."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from hepattn.cli import main
from hepattn.models import DEFAULTS, bundled_matcher
from hepattn.tasks.base import Task
from tests.reliability._helpers import error_lines, snapshot
from tests.tasks.test_matching_task import slice_file
from tests.tasks.test_tagging_task import prong_file


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A prong file, a ttbar file, a FIFO, a directory; loading a model fails loudly, so a
    refused output is known to be refused before any computation."""
    jets = prong_file(tmp_path / "jets.root", n=14, seed=5)
    events = slice_file(tmp_path / "ev.root", 0, 40)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "adir").mkdir()

    def no_load(*args, **kwargs):
        raise AssertionError("a model was loaded before the output was checked")

    monkeypatch.setattr(Task, "load", classmethod(no_load))
    return {"jets": str(jets), "ev": str(events), "fifo": str(fifo), "dir": str(tmp_path / "adir")}


def _refused(capsys, argv, name: str, words: str) -> None:
    assert main(argv) == 1, argv
    lines = error_lines(capsys)
    assert len(lines) == 1 and name in lines[0] and words in lines[0], lines


def commands(f, out):
    """One invocation per writing command with output ``out``."""
    return [
        ["tag", f["jets"], "-o", out],
        ["match", f["ev"], "-o", out],
        ["compare", f["ev"], "--json", out],
        ["convert", f["ev"], "--to", "spanet-h5", "-o", out],
        ["export-onnx", "default", "--task", "tagger", "-o", out],
        ["eval", "matcher", f["ev"], "--json", out],
    ]


def test_output_that_is_the_input_is_refused(files, tmp_path, capsys):
    link = tmp_path / "link.root"
    link.symlink_to(files["ev"])
    before = snapshot(tmp_path, DEFAULTS["tagger"], bundled_matcher("ttbar-allhad"))
    for argv in commands(files, files["ev"])[1:4]:  # match, compare, convert read ev.root
        _refused(capsys, argv, "ev.root", "is the input file")
    _refused(capsys, ["tag", files["jets"], "-o", files["jets"]], "jets.root", "is the input")
    # a model file is an input too
    weights = str(DEFAULTS["tagger"] / "weights.pt")
    _refused(capsys, ["export-onnx", "default", "--task", "tagger", "-o", weights], weights, "")
    _refused(capsys, ["eval", "tagger", files["jets"], "--json", files["jets"]], "jets", "input")
    # the same file through another spelling (a symbolic link)
    _refused(capsys, ["match", str(link), "-o", files["ev"]], "ev.root", "is the input file")
    assert snapshot(tmp_path, DEFAULTS["tagger"], bundled_matcher("ttbar-allhad")) == before


@pytest.mark.parametrize("target", ["/dev/null", "/dev/full", "fifo", "dir"])
def test_devices_fifos_and_directories_are_refused(files, tmp_path, capsys, target):
    out = files.get(target, target)
    if not Path(out).exists():
        pytest.skip(f"{out} does not exist here")
    before = snapshot(tmp_path)
    mode = os.stat(out).st_mode
    for argv in commands(files, out):
        _refused(capsys, argv, out, "refusing to replace it")
    assert os.stat(out).st_mode == mode  # still a device, FIFO or directory
    assert snapshot(tmp_path) == before


def test_directory_outputs_and_two_outputs_on_one_path(files, tmp_path, capsys):
    before = snapshot(tmp_path)
    # train and eval -o want a directory: an existing file is refused, the input first of all
    _refused(
        capsys,
        ["train", "matcher", "--train", files["ev"], "--val", files["ev"], "-o", files["ev"]],
        "ev.root",
        "is the input file",
    )
    _refused(
        capsys, ["eval", "matcher", files["ev"], "-o", files["jets"]], "jets.root", "not a dir"
    )
    # eval -o DIR writes DIR/metrics.json: a directory there is refused
    (tmp_path / "ev_out" / "metrics.json").mkdir(parents=True)
    _refused(capsys, ["eval", "matcher", files["ev"], "-o", str(tmp_path / "ev_out")],
             "metrics.json", "is a directory")  # fmt: skip
    # generate: --json on the ROOT output, --plots on a file
    out = str(tmp_path / "gen.root")
    _refused(capsys, ["generate", "ttbar", "-n", "5", "-o", out, "--json", out], out, "also the")
    _refused(capsys, ["generate", "ttbar", "-n", "5", "-o", out, "--plots", files["jets"]],
             "jets.root", "not a directory")  # fmt: skip
    assert not Path(out).exists() and not Path(out + ".parts").exists()
    assert snapshot(tmp_path) == before


def test_os_error_while_writing_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """No space left on the device (simulated at the rename): one line naming the output,
    exit 1, no temporary file, the earlier output intact."""
    events = slice_file(tmp_path / "ev.root", 0, 30)
    out = tmp_path / "m.root"
    out.write_bytes(b"an earlier output")
    before = snapshot(tmp_path)

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("hepattn.data.outputs.os.replace", full)
    _refused(capsys, ["match", str(events), "-o", str(out), "--method", "chi2"], str(out),
             "No space left on device")  # fmt: skip
    assert snapshot(tmp_path) == before  # no .tmp left, earlier output unchanged
