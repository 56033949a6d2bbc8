"""The matcher end to end on a slice of the shipped ttbar sample: train, match, compare, eval."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.baselines.btag import file_working_points
from hepattn.cli import main
from hepattn.data import write_tree
from hepattn.tasks.matching import Matcher, MatcherRunConfig

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "ttbar_allhad.root"
TINY = {
    "model": {
        "encoder": {
            "dim": 16,
            "num_heads": 2,
            "num_layers": 1,
            "mlp_ratio": 1.0,
            "interaction": {"enabled": True, "width": 8, "layers": 1},
        },
        "tensor_dim": 8,
    },
    "data": {"max_objects": 12},
    "training": {"epochs": 1, "batch_size": 64, "warmup_steps": 2, "threads": 1, "seed": 2},
}
BRANCHES = [
    *("jet_pt", "jet_eta", "jet_phi", "jet_mass", "jet_btag", "jet_btag_score"),
    *("jet_flavour", "jet_parton"),
]


def slice_file(path, start, stop, shuffle_jets=False, seed=0, extra=None):
    """Events [start, stop) of the sample, optionally with each event's jets shuffled and
    ``extra`` event-level branches; its b-tag working points recorded as the sample records
    them."""
    t = uproot.open(SAMPLE)["events"]
    a = t.arrays(BRANCHES + ["weight", "event"], entry_start=start, entry_stop=stop)
    jets = ak.zip({b[4:]: a[b] for b in BRANCHES})
    if shuffle_jets:
        rng = np.random.default_rng(seed)
        perm = ak.Array([rng.permutation(n).tolist() for n in ak.num(jets)])
        jets = jets[perm]
    partons = t.arrays(
        [f"parton_{x}" for x in ("pt", "eta", "phi", "mass", "pdgid", "jet")],
        entry_start=start,
        entry_stop=stop,
    )
    parton = ak.zip({k[7:]: partons[k] for k in partons.fields})
    write_tree(
        path,
        {
            "jet": jets,
            "parton": parton,
            "weight": a["weight"].to_numpy(),
            "event": a["event"].to_numpy(),
            **(extra or {}),
        },
        tree="events",
        metadata={"btag_working_points": json.dumps(file_working_points(SAMPLE))},
    )
    return path


@pytest.fixture(scope="module")
def matcher_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("matcher")
    train = slice_file(d / "train.root", 0, 1500)
    val = slice_file(d / "val.root", 1500, 2000)
    summary = Matcher.train(MatcherRunConfig.from_dict(TINY), [train], [val], d / "run")
    assert summary["epochs"] == 1 and 0 <= summary["val_resonance_efficiency"] <= 1
    return d


def test_match_output_contract_and_jet_order_independence(matcher_dir, tmp_path, capsys):
    model = str(matcher_dir / "run" / "best")
    a = slice_file(tmp_path / "a.root", 2000, 2300)
    b = slice_file(tmp_path / "b.root", 2000, 2300, shuffle_jets=True, seed=4)
    for src in (a, b):
        assert (
            main(["match", str(src), "-o", str(src.with_suffix(".out.root")), "--model", model])
            == 0
        )
    assert "matched 300 events" in capsys.readouterr().out
    out_a = uproot.open(a.with_suffix(".out.root"))["hepattn"]["assignment"].array(library="np")
    out_b = uproot.open(b.with_suffix(".out.root"))["hepattn"]["assignment"].array(library="np")
    assert out_a.shape == (300, 6)
    # map each file's indices to the physical jets (identified by their pT) and compare
    pt_a = uproot.open(a)["events"]["jet_pt"].array()
    pt_b = uproot.open(b)["events"]["jet_pt"].array()
    for e in range(300):
        ja = [pt_a[e][i] if i >= 0 else -1 for i in out_a[e]]
        jb = [pt_b[e][i] if i >= 0 else -1 for i in out_b[e]]
        assert ja == jb
        n = len(pt_a[e])
        assert all(-1 <= i < n for i in out_a[e])
    # chi2 method
    assert (
        main(
            ["match", str(a), "-o", str(tmp_path / "c.root"), "--model", model, "--method", "chi2"]
        )
        == 0
    )
    c = uproot.open(tmp_path / "c.root")["hepattn"]
    assert c.num_entries == 300 and {"assignment", "chi2"} <= set(c.keys())
    assert {"t1_b", "t1_q1", "t1_q2", "t2_b", "t2_q1", "t2_q2"} <= set(c.keys())
    assert np.array_equal(c["t2_q1"].array(library="np"), c["assignment"].array(library="np")[:, 4])


def test_compare_json_contract(matcher_dir, tmp_path, capsys):
    model = str(matcher_dir / "run" / "best")
    src = slice_file(tmp_path / "cmp.root", 2000, 2600)
    assert (
        main(
            [
                "compare",
                str(src),
                "--model",
                model,
                "--json",
                str(tmp_path / "c.json"),
                "--timing-events",
                "20",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "chi2 ε_event" in out and "runtime per 8-jet event" in out
    # the table says what its numbers are: counts, definitions, the chi2 form and b-tag rule
    flat = " ".join(out.split())
    assert "600 events read" in flat and "with >= 6 jets" in flat
    assert "ε_event: events with all resonances (t1, t2) correct / events with all" in flat
    assert "ε_2^top: correct resonances / resonances, over the same events" in flat
    assert "ε_1^top" in flat and "n (events), n (single): events in each cell's" in flat
    assert "chi2: chi2 form mt" in flat and "b slots on b-tagged jets (btag > 0.8993)" in flat
    assert "working point" in flat  # the score cut at the file's working point
    d = json.loads((tmp_path / "c.json").read_text())
    assert d["events"] == 600 and 0 < d["events_ge6_jets"] <= 600 and d["chi2_mode"] == "mt"
    n6 = sum(d["rows"][r]["chi2"]["n_events"] for r in ("6", "7", ">=8"))
    assert n6 == d["rows"]["inclusive"]["chi2"]["n_events"]
    assert set(d["rows"]) == {"6", "7", ">=8", "inclusive"}
    for row in d["rows"].values():
        for method in ("chi2", "network"):
            cell = row[method]
            assert {"event", "top2", "top1", "n_events"} <= set(cell)
            assert isinstance(cell["n_events"], int)
    assert set(d["runtime_ms_per_event_8jets"]) == {"chi2", "network"}


def test_eval_matcher_writes_plot(matcher_dir, tmp_path):
    pytest.importorskip("matplotlib")
    assert (
        main(
            [
                "eval",
                "matcher",
                str(matcher_dir / "val.root"),
                "--model",
                str(matcher_dir / "run" / "best"),
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (tmp_path / "efficiency.png").exists()
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["rows"]["inclusive"]["n_events"] >= 0


def test_saved_matcher_predicts_slots_within_range(matcher_dir):
    matcher = Matcher.load(matcher_dir / "run" / "best")
    ev = matcher.read(matcher_dir / "val.root", need_labels=True)
    slots, prob, det = matcher.predict(ev)
    assert prob.shape == (len(ev), 2) and det.shape == (len(ev), 2)
    n = ev["jets"].mask.sum(1)
    ok = slots >= 0
    assert (slots[ok] < np.repeat(n[:, None], 6, 1)[ok]).all()
    full = ok.all(1)
    assert all(len(set(s)) == 6 for s in slots[full])
    assert np.isfinite(prob[full]).all() and (prob[full] <= 1 + 1e-6).all()


def test_parton_label_out_of_range_is_refused(tmp_path):
    from hepattn.errors import DataError

    t = uproot.open(SAMPLE)["events"]
    a = t.arrays(BRANCHES + ["weight", "event"], entry_stop=20)
    parton = ak.values_astype(a["jet_parton"], np.int32)
    flat = ak.to_numpy(ak.flatten(parton)).copy()
    flat[3] = 9
    a["jet_parton"] = ak.unflatten(flat, ak.num(parton))
    jets = ak.zip({b[4:]: a[b] for b in BRANCHES})
    path = tmp_path / "bad.root"
    write_tree(
        path,
        {"jet": jets, "weight": a["weight"].to_numpy(), "event": a["event"].to_numpy()},
        tree="events",
    )
    schema = {
        "name": "ttbar-jets-only",
        "tree": "events",
        "collections": {
            "jets": {
                "kinematics": "ptetaphim",
                "branches": {
                    "pt": "jet_pt",
                    "eta": "jet_eta",
                    "phi": "jet_phi",
                    "mass": "jet_mass",
                },
                "fields": {"btag": "jet_btag", "btag_score": "jet_btag_score"},
                "labels": {"parton": "jet_parton"},
            }
        },
    }
    from hepattn.data import get_schema
    from hepattn.data.schema import BUILTIN_SCHEMAS

    BUILTIN_SCHEMAS["ttbar-jets-only"] = get_schema(schema)
    try:
        bad = r"bad.root: entry 0: jet labels \('parton'\) must be -1 or a jet daughter"
        with pytest.raises(DataError, match=bad):
            Matcher.train(
                MatcherRunConfig.from_dict(TINY),
                [path],
                [path],
                tmp_path / "r",
                schema="ttbar-jets-only",
            )
    finally:
        del BUILTIN_SCHEMAS["ttbar-jets-only"]


def test_streamed_training_sees_the_same_events(matcher_dir, tmp_path):
    """--stream reads the file chunk by chunk: every trainable event once per epoch."""
    train = matcher_dir / "train.root"
    run = MatcherRunConfig.from_dict(TINY)
    summary = Matcher.train(
        run, [train], [matcher_dir / "val.root"], tmp_path / "run", stream=True, chunk_entries=400
    )
    assert summary["epochs"] == 1 and 0 <= summary["val_resonance_efficiency"] <= 1
    whole = Matcher(run).read([train], need_labels=True)
    trainable = int(Matcher(run).reconstructable(whole).any(-1).sum())
    from hepattn.data import PadSpec, RootStreamDataset

    spec = PadSpec(run.data.features, run.data.max_objects, labels=(run.data.label,))
    ds = RootStreamDataset(
        [train],
        run.data.schema,
        "jets",
        spec,
        chunk_entries=400,
        shuffle=True,
        transform=Matcher(run).prepare,
    )
    entries = sorted(int(item["entry"]) for item in ds)
    assert len(entries) == trainable and len(set(entries)) == trainable


def test_user_fields_named_like_derived_targets_do_not_collide(matcher_dir, tmp_path):
    """Event fields called `truth`, `target_0` or `n_jets` stay the user's; the matcher's
    derived targets live in `derived`, in events and in batches."""
    import yaml

    from hepattn.data.schema import BUILTIN_SCHEMAS

    schema = BUILTIN_SCHEMAS["hepattn-ttbar"].to_dict()
    schema["event"] = {"truth": "weight", "target_0": "event", "n_jets": "weight"}
    path = tmp_path / "clash.yaml"
    path.write_text(yaml.safe_dump(schema | {"name": "clash"}))
    matcher = Matcher.load(matcher_dir / "run" / "best")
    ev = matcher.read(matcher_dir / "val.root", schema=str(path), need_labels=True)
    assert ev.event["truth"].shape == (500,) and ev.derived["truth"].shape == (500, 6)
    assert ev.derived["target_0"].shape == (500, 3) and ev.event["target_0"].ndim == 1
    batch = next(matcher.dataset(ev).batches(8))
    assert batch.event["target_0"].shape == (8,) and batch.derived["target_0"].shape == (8, 3)
    slots, _, _ = matcher.predict(ev)
    assert slots.shape == (500, 6)
