"""Seeded fuzzing of ``tag``, ``match`` and ``inspect``: bit flips in compressed and
uncompressed ROOT files, truncations, NaN/inf and sentinel injections, branches of another
type, shuffled counters, mutated YAML schemas. Every run ends in an answer (exit 0) or a
clean error (exit 1, one line, no traceback); the inputs are untouched and no temporary file
is left. The default run draws :data:`CASES` cases, the slow one :data:`SLOW_CASES`."""

from __future__ import annotations

import copy
import logging
import struct

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from hepattn.cli import main
from hepattn.data.schema import get_schema
from tests.reliability._helpers import error_lines, snapshot
from tests.tasks.test_matching_task import slice_file
from tests.tasks.test_tagging_task import prong_file

CASES = 150
SLOW_CASES = 1200
MUTATIONS = ("flip", "truncate", "inject", "retype", "counter", "schema")
SENTINELS = (np.nan, np.inf, -np.inf, -1.0, -999.0, 1e30, -1e30, 0.0)


def _arrays(path, tree):
    """The branches of ``tree``, less the counters uproot writes itself (``n<branch>``)."""
    with uproot.open(path) as f:
        t = f[tree]
        out = {k: t[k].array() for k in t.keys()}
    return {k: v for k, v in out.items() if not (k[:1] == "n" and k[1:] in out)}


def _write_flat(path, arrays, tree, uncompressed=False):
    """Write every branch as its own branch (jagged ones get counters ``n<name>``), the
    counter branches the schema reads included as plain integers."""
    kw = {"compression": None} if uncompressed else {}
    data = {k: (np.asarray(v) if v.ndim == 1 else v) for k, v in arrays.items()}
    types = {k: v.dtype if isinstance(v, np.ndarray) else v.type.content for k, v in data.items()}
    with uproot.recreate(path, **kw) as f:
        f.mktree(tree, types).extend(data)
    return path


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """Small valid inputs of each layout: (path, tree, task, schema)."""
    d = tmp_path_factory.mktemp("seeds")
    m = slice_file(d / "m.root", 0, 24)
    t = prong_file(d / "t.root", n=14, seed=2)
    out = []
    for path, tree, task, schema in (
        (m, "events", "match", "hepattn-ttbar"),
        (t, "jets", "tag", "hepattn-prongs"),
    ):
        arrays = _arrays(path, tree)
        flat = _write_flat(d / f"{path.stem}_u.root", arrays, tree, uncompressed=True)
        out += [(path, tree, task, schema), (flat, tree, task, schema)]
    return out


def _mutate(rng, kind, seed, work):
    """One mutated input: ``(path, extra argv)``."""
    path, tree, task, schema = seed
    dst = work / "in.root"
    if kind in ("flip", "truncate"):
        data = bytearray(path.read_bytes())
        if kind == "flip":
            for _ in range(int(rng.integers(1, 9))):
                i = int(rng.integers(0, len(data)))
                data[i] ^= 1 << int(rng.integers(0, 8))
        else:
            data = data[: int(rng.integers(0, len(data)))]
        dst.write_bytes(bytes(data))
        return dst, []
    arrays = _arrays(path, tree)
    names = [k for k, v in arrays.items() if not k.startswith("n")]
    name = names[int(rng.integers(0, len(names)))]
    arr = arrays[name]
    if kind == "inject":
        flat = ak.to_numpy(ak.flatten(arr, axis=None)).astype(np.float64)
        if flat.size:
            hit = rng.random(flat.size) < 0.2
            flat[hit] = rng.choice(SENTINELS, int(hit.sum()))
        arrays[name] = ak.unflatten(flat, ak.num(arr)) if arr.ndim > 1 else flat
    elif kind == "retype":
        choice = int(rng.integers(0, 3))
        if choice == 0:  # integers for floats (or floats for integers)
            arrays[name] = ak.values_astype(arr, np.int16 if "float" in str(arr.type) else "f4")
        elif choice == 1 and arr.ndim > 1:  # one value per entry where a list is needed
            arrays[name] = ak.fill_none(ak.firsts(arr), 0)
        else:  # booleans
            arrays[name] = ak.values_astype(arr, bool)
    elif kind == "counter":
        counters = [k for k in arrays if k.startswith("n") and arrays[k].ndim == 1]
        if counters:
            c = counters[int(rng.integers(0, len(counters)))]
            arrays[c] = rng.permutation(np.asarray(arrays[c]))
    elif kind == "schema":
        doc = copy.deepcopy(get_schema(schema).to_dict())
        _mutate_yaml(rng, doc)
        (work / "s.yaml").write_text(yaml.safe_dump(doc))
        return path, ["--schema", str(work / "s.yaml")]
    return _write_flat(dst, arrays, tree, uncompressed=bool(rng.integers(0, 2))), []


def _mutate_yaml(rng, doc) -> None:
    """Delete, rename or replace one random key anywhere in the nested schema dict."""
    node, parents = doc, []
    while isinstance(node, dict) and node and rng.random() < 0.7:
        key = list(node)[int(rng.integers(0, len(node)))]
        parents.append((node, key))
        node = node[key]
    if not parents:
        doc.clear()
        return
    parent, key = parents[-1]
    what = int(rng.integers(0, 4))
    if what == 0:
        del parent[key]
    elif what == 1:
        parent[key + "_x"] = parent.pop(key)
    else:
        parent[key] = [None, 7, "no_such_branch", [1, 2], {"a": 1}][int(rng.integers(0, 5))]


def _run_case(i, rng, seeds, work, capsys) -> str:
    kind = MUTATIONS[int(rng.integers(0, len(MUTATIONS)))]
    seed = seeds[int(rng.integers(0, len(seeds)))]
    src, extra = _mutate(rng, kind, seed, work)
    command = seed[2] if rng.random() < 0.7 else "inspect"
    out = work / "out" / "o.root"
    argv = [command, str(src), *extra]
    argv += [] if command == "inspect" else ["-o", str(out), "--no-progress"]
    before = snapshot(work / "in.root", src, work / "s.yaml")
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    lines = error_lines_from(err)
    case = f"case {i} ({kind}, {seed[0].name}): {argv} → {rc}: {err[-2000:]}"
    assert rc in (0, 1), case
    assert "Traceback" not in err, case
    if rc == 1:
        assert len(lines) == 1 and lines[0].startswith(f"hepattn {command}: error: "), case
    assert snapshot(work / "in.root", src, work / "s.yaml") == before, case
    left = sorted(p.name for p in (work / "out").iterdir())
    assert left == (["o.root"] if rc == 0 and command != "inspect" else []), case
    for p in (work / "out").iterdir():
        p.unlink()
    return kind, rc


def error_lines_from(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if not ln.startswith(("INFO", "WARNING", "DEBUG"))]


def _fuzz(n, seed, seeds, tmp_path, capsys):
    work = tmp_path / "work"
    (work / "out").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    logging.getLogger("hepattn").setLevel(logging.ERROR)
    runs = [_run_case(i, rng, seeds, work, capsys) for i in range(n)]
    assert {kind for kind, _ in runs} == set(MUTATIONS)
    assert {rc for _, rc in runs} == {0, 1}  # answers and refusals both drawn
    return runs


def test_fuzz(seeds, tmp_path, capsys):
    _fuzz(CASES, 23, seeds, tmp_path, capsys)


@pytest.mark.slow
def test_fuzz_long(seeds, tmp_path, capsys):
    _fuzz(SLOW_CASES, 2023, seeds, tmp_path, capsys)


def test_an_exponent_flip_in_an_uncompressed_basket_is_caught_by_the_domain(
    seeds, tmp_path, capsys, caplog
):
    """ROOT keeps no checksum of uncompressed baskets: a flipped mantissa bit is read as a
    (slightly) different value by any reader. A flip in a float's exponent makes a value the
    model never saw, and the domain check says so."""
    path = next(s[0] for s in seeds if s[0].name == "m_u.root")
    pt = float(_arrays(path, "events")["jet_pt"][0][0])
    data = bytearray(path.read_bytes())
    at = bytes(data).find(struct.pack(">f", pt))
    assert at > 0
    data[at] ^= 0x40  # bit 30: the top bit of the exponent
    bad = tmp_path / "flipped.root"
    bad.write_bytes(bytes(data))
    flipped = float(_arrays(bad, "events")["jet_pt"][0][0])
    assert flipped != pt and (flipped > 1e30 or flipped < 1e-30)
    with caplog.at_level(logging.WARNING):
        assert main(["match", str(bad), "-o", str(tmp_path / "o.root"), "--no-progress"]) == 0
    assert any("jets log_pt: 1 of" in r.getMessage() for r in caplog.records)
    assert main(["match", str(bad), "-o", str(tmp_path / "e.root"), "--domain", "error"]) == 1
    (line,) = error_lines(capsys)
    assert "flipped.root: entry 0: jets log_pt" in line
