"""``tag``, ``match`` and ``label`` on many files: one friend file per input
(``--output-dir``), inputs read ``--chunk-entries`` at a time with the answers of one read bit
for bit, refusals before any computation, no partial file after a failure, and peak memory
that does not grow with the size of a file (measured in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.cli import main
from hepattn.cli._options import CHUNK_ENTRIES
from hepattn.data.writer import TreeWriter
from hepattn.tasks.friends import (
    DEFAULT_CHUNK_ENTRIES,
    chunk_size,
    entry_ranges,
    output_name,
)
from hepattn.tasks.matching import Matcher
from tests.labels.test_label import _event, ttbar_genpart, write_nanoaod
from tests.reliability._helpers import error_lines, rewrite, snapshot, string_metadata
from tests.tasks.test_matching_task import SAMPLE, slice_file
from tests.tasks.test_tagging_task import prong_file
from tests.tasks.test_topology_task import event_file, train_tiny

REPO = Path(__file__).resolve().parents[2]


def _tree(path, tree: str = "hepattn") -> tuple[dict, dict[str, str]]:
    """Every branch of ``tree`` (awkward arrays) and the file's metadata strings."""
    with uproot.open(path) as f:
        arrays = f[tree].arrays(library="ak")
        meta = {k.split(";")[0]: str(f[k]) for k in f.keys() if f[k].classname == "TObjString"}
    return {k: arrays[k] for k in arrays.fields}, meta


def _bits(arr) -> tuple:
    """An array's values as bytes (NaN payloads included) and its list lengths."""
    flat = ak.to_numpy(ak.flatten(arr, axis=None))
    counts = tuple(ak.to_numpy(ak.num(arr, axis=1)).tolist()) if arr.ndim > 1 else ()
    return str(flat.dtype), flat.tobytes(), counts


def assert_same_friend(a, b, tree: str = "hepattn", model_free: bool = False) -> None:
    """The trees ``tree`` of files ``a`` and ``b`` hold the same branches bit for bit, with
    the same metadata (``model_free``: except the model path)."""
    (ta, ma), (tb, mb) = _tree(a, tree), _tree(b, tree)
    assert list(ta) == list(tb)
    for name in ta:
        assert _bits(ta[name]) == _bits(tb[name]), name
    if model_free:
        ma.pop("model", None), mb.pop("model", None)
    assert ma == mb


def _run(argv, capsys=None) -> int:
    rc = main([*argv, "--no-progress"])
    if capsys is not None:
        capsys.readouterr()
    return rc


def test_defaults_and_chunk_rounding():
    assert CHUNK_ENTRIES == DEFAULT_CHUNK_ENTRIES == 50_000
    assert chunk_size(1) == 1024 and chunk_size(1024) == 1024 and chunk_size(1025) == 2048
    assert chunk_size(50_000) == 50_176
    assert output_name("a/b/x.root") == "x.root" and output_name("d/x.h5") == "x.root"


def test_chunked_match_equals_one_read(tmp_path, capsys):
    """The bundled matcher: the chi2 on 2,500 events in three chunks (1024 + 1024 + 452)
    and in one, the network on 1,100 events in two (1024 + 76) and in one: the same branches
    bit for bit, and the network's equal to the library's one-shot answer."""
    matcher = Matcher.load()
    for method, n, chunks in (("chi2", 2500, 3), ("network", 1100, 2)):
        src = slice_file(tmp_path / f"ev_{method}.root", 0, n)
        assert len(entry_ranges(matcher, src, chunk_size(1000))) == chunks
        one, many = tmp_path / f"one_{method}.root", tmp_path / f"many_{method}.root"
        assert _run(["match", str(src), "-o", str(one), "--method", method]) == 0
        argv = ["match", str(src), "-o", str(many), "--method", method]
        assert _run([*argv, "--chunk-entries", "1000"]) == 0
        assert_same_friend(one, many)
    branches, _ = matcher.match(matcher.read(src))  # the whole file at once, no CLI
    arrays, _ = _tree(many)
    for name, value in branches.items():
        assert ak.to_numpy(arrays[name]).tobytes() == value.tobytes(), name


def test_chunked_tag_equals_one_read(tmp_path, capsys):
    """The bundled tagger on 1,100 jets in two chunks and in one."""
    src = prong_file(tmp_path / "jets.root", n=1100, seed=3)
    one, two = tmp_path / "one.root", tmp_path / "two.root"
    assert _run(["tag", str(src), "-o", str(one)]) == 0
    assert _run(["tag", str(src), "-o", str(two), "--chunk-entries", "1024"]) == 0
    out = capsys.readouterr().out
    assert "tagged 1,100 jets" in out and "accuracy against 'label'" in out
    assert_same_friend(one, two)


def test_reader_notes_once_per_output_not_per_chunk(tmp_path, capsys, caplog):
    """The 1,100 shipped jets with the most towers (some over the tagger's tower cap) in two
    chunks and in one: the reader's note on truncated jets is one line with the file's totals
    either way."""
    sample = REPO / "samples" / "prongs.root"
    with uproot.open(sample) as f:
        counts = f["jets"]["ntower"].array(library="np")
    busiest = np.sort(np.argsort(-counts, kind="stable")[:1100])

    def head(d: dict) -> dict:
        return {k: head(v) if isinstance(v, dict) else v[busiest] for k, v in d.items()}

    src = rewrite(sample, tmp_path / "jets.root", "jets", head)
    notes = []
    for extra in ([], ["--chunk-entries", "1024"]):
        caplog.clear()
        with caplog.at_level("INFO", logger="hepattn.data.reader"):
            assert _run(["tag", str(src), "-o", str(tmp_path / f"{len(extra)}.root"), *extra]) == 0
        notes.append([r.getMessage() for r in caplog.records if "more than" in r.getMessage()])
    capsys.readouterr()
    assert len(notes[0]) == 1 and notes[1] == notes[0] and " of 1100 events" in notes[0][0]


def test_tag_refuses_only_a_file_whose_jets_all_lack_towers(tmp_path, capsys):
    """A chunk with no towers at all is fine when the file has some; a file with none is
    refused, counting all its jets, and nothing is written."""
    jets = prong_file(tmp_path / "jets.root", n=1100, seed=4)

    def empty(which):
        def change(d):
            t = d["tower"]
            counts = ak.num(t["pt"]).tolist()
            keep = ak.Array([[i not in which] * n for i, n in enumerate(counts)])
            d["tower"] = {k: v[keep] for k, v in t.items()}
            return d

        return change

    first = rewrite(jets, tmp_path / "first.root", "jets", empty(set(range(1024))))
    out = tmp_path / "t.root"
    assert _run(["tag", str(first), "-o", str(out), "--chunk-entries", "1024"], capsys) == 0
    pred = uproot.open(out)["hepattn"]["pred"].array(library="np")
    assert (pred[:1024] == -1).all() and (pred[1024:] >= 0).all()
    none = rewrite(jets, tmp_path / "none.root", "jets", empty(set(range(1100))))
    argv = ["tag", str(none), "-o", str(tmp_path / "n.root"), "--chunk-entries", "1024"]
    assert _run(argv) == 1
    lines = error_lines(capsys)
    assert len(lines) == 1 and "none of the 1,100 jets has towers" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "first.root",
        "jets.root",
        "none.root",
        "t.root",
    ]


def test_chunked_topology_match_equals_one_read(tmp_path, capsys):
    """``match --topology``: the network (a tiny lepton+jets model) and the HH baseline, in
    three chunks (1024 + 1024 + 52) and in one."""
    train = event_file(tmp_path / "train.root", "ttbar-ljets", n=64, seed=1)
    train_tiny("ttbar-ljets", train, train, tmp_path / "run")
    model = tmp_path / "run" / "best"
    cases = [
        (event_file(tmp_path / "lj.root", "ttbar-ljets", n=2100, seed=2), "ttbar-ljets",
         ["--model", str(model)]),
        (event_file(tmp_path / "hh.root", "hh-4b", n=2100, seed=3), "hh-4b",
         ["--method", "pairing"]),
    ]  # fmt: skip
    for src, topology, extra in cases:
        one, three = tmp_path / f"one_{topology}.root", tmp_path / f"three_{topology}.root"
        base = ["match", str(src), "--topology", topology, *extra]
        assert _run([*base, "-o", str(one)]) == 0
        assert _run([*base, "-o", str(three), "--chunk-entries", "1000"]) == 0
        assert_same_friend(one, three)
    assert "matched 2,100 events (hh-4b) with the pairing method" in capsys.readouterr().out


def test_chunked_label_equals_one_read(tmp_path, capsys):
    events = [
        _event(ttbar_genpart("had")),
        _event(ttbar_genpart("lep")),
        _event({k: v[:4] for k, v in ttbar_genpart("had").items()}),
    ] * 7
    src = tmp_path / "nano.root"
    write_nanoaod(src, events)
    one, chunked = tmp_path / "one.root", tmp_path / "chunked.root"
    base = ["label", str(src), "--topology", "ttbar-allhad"]
    assert _run([*base, "-o", str(one)]) == 0
    assert _run([*base, "-o", str(chunked), "--chunk-entries", "4"]) == 0
    assert_same_friend(one, chunked, tree="labels")
    assert "labelled 21 events" in capsys.readouterr().out
    other = tmp_path / "in" / "other.root"
    other.parent.mkdir()
    write_nanoaod(other, events[:5])
    out = tmp_path / "labels"
    argv = ["label", str(src), str(other), "--topology", "ttbar-allhad", "--output-dir", str(out)]
    assert _run([*argv, "--chunk-entries", "4"]) == 0
    printed = capsys.readouterr().out
    assert "labelled 26 events" in printed and f"wrote {out / 'other.root'}:labels" in printed
    assert_same_friend(one, out / "nano.root", tree="labels")
    assert uproot.open(out / "other.root")["labels"].num_entries == 5


def test_output_dir_writes_one_friend_per_input(tmp_path, capsys):
    """Two inputs (a list, then a glob): one output each, named as the input, equal to the
    output of that input alone; ``-o`` with both writes one tree for the two in order."""
    src = tmp_path / "in"
    src.mkdir()
    a = slice_file(src / "a.root", 0, 60)
    b = slice_file(src / "b.root", 60, 100)
    runs = (([str(a), str(b)], tmp_path / "out1"), ([str(src / "*.root")], tmp_path / "out2"))
    for inputs, out in runs:
        argv = ["match", *inputs, "--output-dir", str(out), "--method", "chi2"]
        assert _run(argv) == 0
        printed = capsys.readouterr().out
        assert f"wrote {out / 'a.root'}:hepattn" in printed
        assert f"wrote {out / 'b.root'}:hepattn" in printed
        assert "matched 100 events" in printed
        assert sorted(p.name for p in out.iterdir()) == ["a.root", "b.root"]
    for name, path in (("a.root", a), ("b.root", b)):
        alone = tmp_path / f"alone_{name}"
        assert _run(["match", str(path), "-o", str(alone), "--method", "chi2"], capsys) == 0
        assert_same_friend(alone, tmp_path / "out1" / name)
        assert uproot.open(alone)["hepattn"].num_entries == uproot.open(path)["events"].num_entries
    both = tmp_path / "both.root"
    assert _run(["match", str(a), str(b), "-o", str(both), "--method", "chi2"], capsys) == 0
    parts = [_tree(tmp_path / "out1" / n)[0]["assignment"] for n in ("a.root", "b.root")]
    joined = ak.concatenate(parts)
    assert _bits(_tree(both)[0]["assignment"]) == _bits(joined)


def test_output_dir_refusals_before_any_computation(tmp_path, capsys, monkeypatch):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    a = slice_file(src / "a.root", 0, 20)
    twin = slice_file(src / "sub" / "a.root", 20, 40)
    plain = src / "notes.txt"
    plain.write_text("not a directory")
    before = snapshot(src)

    def no_read(*args, **kwargs):
        raise AssertionError("computation started")

    monkeypatch.setattr(Matcher, "read", no_read)
    for argv, words in (
        (["--output-dir", str(src)], ["is the input file", str(a)]),  # would replace the input
        ([str(twin), "--output-dir", str(tmp_path / "o")], ["would both be written", str(twin)]),
        (["--output-dir", str(plain)], ["--output-dir", "not a directory"]),
    ):
        assert _run(["match", str(a), *argv, "--method", "chi2"]) == 1
        lines = error_lines(capsys)
        assert len(lines) == 1 and all(w in lines[0] for w in words), lines
    assert snapshot(src) == before and not (tmp_path / "o").exists()
    for argv in (
        [],  # neither -o nor --output-dir
        ["-o", str(tmp_path / "x.root"), "--output-dir", str(tmp_path / "o")],
        ["-o", str(tmp_path / "x.root"), "--chunk-entries", "0"],
    ):
        with pytest.raises(SystemExit) as err:
            main(["match", str(a), *argv])
        assert err.value.code == 2
    capsys.readouterr()


def test_a_failure_in_a_later_chunk_leaves_no_file(tmp_path, capsys, monkeypatch):
    """The second input fails in its second chunk: the first output is complete, the second
    absent, and no temporary file is left."""
    from hepattn.errors import DataError

    src = tmp_path / "in"
    src.mkdir()
    a = slice_file(src / "a.root", 0, 1500)
    b = slice_file(src / "b.root", 1500, 3000)
    calls = []
    original = Matcher.match

    def failing(self, ev, *args, **kwargs):
        calls.append(len(ev))
        if len(calls) == 4:  # a: 1024 + 476, b: 1024 + (this one)
            raise DataError("broken chunk")
        return original(self, ev, *args, **kwargs)

    monkeypatch.setattr(Matcher, "match", failing)
    out = tmp_path / "out"
    argv = ["match", str(a), str(b), "--output-dir", str(out), "--method", "chi2"]
    assert _run([*argv, "--chunk-entries", "1024"]) == 1
    assert error_lines(capsys) == ["hepattn match: error: broken chunk"]
    assert calls == [1024, 476, 1024, 476]
    assert [p.name for p in out.iterdir()] == ["a.root"]
    assert uproot.open(out / "a.root")["hepattn"].num_entries == 1500


# ---- peak memory -------------------------------------------------------------------------

PEAK = (
    "import resource, sys\n"
    "from hepattn.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rc)\n"
)


def peak_kb(argv) -> int:
    """The peak resident memory (KiB on Linux) of ``hepattn ARGV`` run in its own process
    (one CPU thread, so that per-thread buffers do not vary between runs)."""
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *argv, "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("PEAK_KB")][-1]
    kb, rc = map(int, line.split()[1:])
    assert rc == 0
    return kb


def tiled(src, dst, tree: str, n: int) -> Path:
    """``dst``: the entries of ``src`` repeated up to ``n`` entries (written with uproot), with
    ``src``'s metadata."""
    with uproot.open(src) as f:
        meta = string_metadata(f)
        t = f[tree]
        names = t.keys()
        jagged = {x.split("_")[0] for x in names if "_" in x}
        counters = {k for k in names if k[:1] == "n" and k[1:] in jagged}
        arrays = t.arrays([k for k in names if k not in counters])
    groups: dict[str, dict] = {}
    data: dict = {}
    for name in arrays.fields:
        prefix = name.split("_")[0]
        if "n" + prefix in counters:
            groups.setdefault(prefix, {})[name[len(prefix) + 1 :]] = arrays[name]
        else:
            data[name] = ak.to_numpy(arrays[name])
    data.update({g: ak.zip(fields) for g, fields in groups.items()})
    with TreeWriter(dst, tree=tree, metadata=meta or None) as writer:
        done = 0
        while done < n:
            k = min(len(arrays), n - done)
            writer.extend({name: v[:k] for name, v in data.items()})
            done += k
    return Path(dst)


def _ratio(tmp_path, src, tree, chunk, argv, name) -> tuple[float, int, int]:
    one = tiled(src, tmp_path / f"{name}_one.root", tree, chunk)
    ten = tiled(src, tmp_path / f"{name}_ten.root", tree, 10 * chunk)
    out = ["--chunk-entries", str(chunk)]
    first = peak_kb([argv[0], str(one), "-o", str(tmp_path / f"{name}_o1.root"), *argv[1:], *out])
    tenth = peak_kb([argv[0], str(ten), "-o", str(tmp_path / f"{name}_o10.root"), *argv[1:], *out])
    return tenth / first, first, tenth


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS units differ")
def test_peak_memory_of_ten_chunks_stays_within_1_5_of_one(tmp_path):
    """``match --method chi2`` on a file of ten chunks of 8,192 events and on one chunk."""
    argv = ["match", "--method", "chi2"]
    ratio, one, ten = _ratio(tmp_path, SAMPLE, "events", 8192, argv, "chi2")
    assert ratio <= 1.5, (one, ten)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS units differ")
def test_peak_memory_of_every_command(tmp_path, capsys):
    """Ten chunks against one for the network matcher, the tagger, the chi2 and ``label``;
    and the whole ten-chunk file in one read takes clearly more (the test can fail)."""
    tagger_sample = REPO / "samples" / "prongs.root"
    cases = [
        ("matcher", SAMPLE, "events", 20480, ["match"]),
        ("chi2", SAMPLE, "events", 20480, ["match", "--method", "chi2"]),
        ("label", SAMPLE, "events", 20480, ["label", "--topology", "ttbar-allhad"]),
        ("tagger", tagger_sample, "jets", 4096, ["tag"]),
    ]
    ratios = {}
    for name, src, tree, chunk, argv in cases:
        ratios[name] = _ratio(tmp_path, src, tree, chunk, argv, name)
    with capsys.disabled():
        for name, (ratio, one, ten) in ratios.items():
            mb = f"one chunk {one / 1024:.0f} MB, ten chunks {ten / 1024:.0f} MB"
            print(f"\n{name}: {mb}, ratio {ratio:.2f}")
    assert all(r <= 1.5 for r, _, _ in ratios.values()), ratios
    ten = tmp_path / "chi2_ten.root"
    argv = ["match", str(ten), "-o", str(tmp_path / "w.root"), "--method", "chi2"]
    whole = peak_kb([*argv, "--chunk-entries", "1000000"])
    with capsys.disabled():
        print(f"chi2, the ten-chunk file in one read: {whole / 1024:.0f} MB")
    assert whole > 1.5 * ratios["chi2"][1], (whole, ratios["chi2"])
