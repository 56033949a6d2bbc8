"""``hepattn match|tag --dask``: per-file jobs on a LocalCluster of two worker processes give
the outputs of the single-process command, load the model once per worker, and a corrupt file
among the inputs is one error naming it (or skipped with --skip-bad) while the others are
written."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import uproot

from hepattn.cli import main
from tests.tasks.test_matching_task import slice_file

pytest.importorskip("distributed")
pytest.importorskip("dask_awkward")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask_in")
    return [slice_file(d / f"f{i}.root", 150 * i, 150 * (i + 1)) for i in range(8)]


def _read(path):
    t = uproot.open(path)["hepattn"]
    return {k: t[k].array(library="np") for k in ("assignment", "prob", "t1_detection")}


def test_match_on_two_workers_equals_the_single_process_outputs(inputs, tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a Dask worker runs (one thread)
    try:
        assert main(["match", *map(str, inputs), "--output-dir", str(tmp_path / "one")]) == 0
    finally:
        torch.set_num_threads(threads)
    argv = ["match", *map(str, inputs), "--output-dir", str(tmp_path / "dask")]
    assert main([*argv, "--dask", "local:2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Dask: 2 workers, model loads per worker" in out
    loads = [int(x) for x in out.split("model loads per worker [")[1].split("]")[0].split(",")]
    assert all(n <= 1 for n in loads) and sum(loads) >= 1
    for f in inputs:
        one, dask = _read(tmp_path / "one" / f.name), _read(tmp_path / "dask" / f.name)
        for k in one:
            np.testing.assert_array_equal(one[k], dask[k], err_msg=f"{f.name} {k}")


def test_a_corrupt_input_is_named_and_the_others_are_written(inputs, tmp_path, capsys):
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"root" + b"\0" * 100)
    files = [*map(str, inputs[:3]), str(bad)]
    argv = ["match", *files, "--output-dir", str(tmp_path / "o"), "--dask", "local:2"]
    assert main([*argv, "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "bad.root" in err and "the other outputs are complete" in err
    assert sorted(p.name for p in (tmp_path / "o").glob("*.root")) == [
        "f0.root",
        "f1.root",
        "f2.root",
    ]
    argv = ["match", *files, "--output-dir", str(tmp_path / "s"), "--skip-bad", "--no-progress"]
    assert main(argv) == 0
    assert "skipped " in capsys.readouterr().out and "bad.root" in capsys.readouterr().out + str(
        bad
    )
    assert len(list((tmp_path / "s").glob("*.root"))) == 3


def test_dask_needs_an_output_directory(inputs, tmp_path, capsys):
    argv = ["tag", str(inputs[0]), "-o", str(tmp_path / "x.root"), "--dask", "local:2"]
    assert main(argv) == 1
    assert "--dask runs one job per input file: give --output-dir" in capsys.readouterr().err
