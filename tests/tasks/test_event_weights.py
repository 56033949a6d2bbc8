"""Per-event weights (``data.weight``) in the matchers' loss and validation metrics: hand
examples (weight 0 changes nothing, a negative weight flips its event's gradient, a weight
of 2 counts an event twice), and weighted training end to end (negative weights, streamed)."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import torch
import uproot
import yaml

from hepattn.cli import main
from hepattn.data import Batch
from hepattn.errors import DataError
from hepattn.tasks.matching import Matcher, MatcherRunConfig
from hepattn.tasks.weights import weighted_loss, weighted_ratio
from hepattn.topology import TOPOLOGIES
from tests.tasks.test_matching_task import BRANCHES, SAMPLE, TINY

ENCODER = {"dim": 16, "num_heads": 2, "num_layers": 1, "interaction": {"width": 8}}


def allhad_task():
    torch.manual_seed(0)
    task = Matcher(MatcherRunConfig.from_dict(TINY))
    return task, task.build().eval()  # eval: the interaction's batch norm couples events


def hh_task():
    torch.manual_seed(0)
    cfg = {
        "model": {"topology": "hh-4b", "encoder": ENCODER, "tensor_dim": 6},
        "data": {"schema": "hepattn-hh4b"},
    }
    task = Matcher(MatcherRunConfig.from_dict(cfg))
    return task, task.build().eval()


#: Per event, the jet slot of each parton (parton order), −1 none: all partons, one top
#: missing a quark, no reconstructable top at all.
TRUTH = {
    "matcher": [[0, 1, 2, 3, 4, 5], [5, 3, 1, 0, -1, 2], [-1, 1, 2, 3, -1, 4]],
    "hh-4b": [[0, 1, 2, 3], [5, 3, -1, 0], [-1, 1, 2, -1]],
}


def hand_batch(kind: str, events, weights, n_features: int) -> Batch:
    """Events ``events`` (indices into a fixed set of 3) with weights ``weights``."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 8, n_features, generator=g)
    p3 = torch.randn(3, 8, 3, generator=g) * 50
    p4 = torch.cat([p3, p3.norm(dim=-1, keepdim=True) + 10], -1)
    mask = torch.ones(3, 8, dtype=torch.bool)
    mask[1, 6:] = False
    truth = torch.tensor(TRUTH[kind])
    topo = TOPOLOGIES["ttbar-allhad" if kind == "matcher" else kind]
    derived = {f"target_{r}": truth[:, list(i)] for r, i in enumerate(topo.jet_head_index)}
    derived["truth"] = truth
    sel = list(events)
    derived = {k: v[sel] for k, v in derived.items()}
    derived["weight"] = torch.tensor(weights, dtype=torch.float32)
    return Batch(
        x=x[sel],
        p4=p4[sel],
        mask=mask[sel],
        index=torch.arange(8).expand(len(sel), 8),
        entry=torch.tensor(sel),
        derived=derived,
    )


def grads(task, net, batch) -> torch.Tensor:
    net.zero_grad()
    task.loss(net, batch).backward()
    return torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])


CASES = [("matcher", allhad_task, 5), ("hh-4b", hh_task, 5)]


@pytest.mark.parametrize(("kind", "make", "nf"), CASES, ids=["allhad", "hh-4b"])
def test_weights_in_the_loss_on_a_hand_example(kind, make, nf):
    task, net = make()

    def g(events, weights):
        return grads(task, net, hand_batch(kind, events, weights, nf))

    close = {"rtol": 1e-4, "atol": 1e-7}
    # no weights at all is weight 1
    b = hand_batch(kind, [0, 1, 2], [1, 1, 1], nf)
    loss_w = task.loss(net, b)
    del b.derived["weight"]
    torch.testing.assert_close(task.loss(net, b), loss_w)
    # an event of weight 0 has no effect: as if it were not in the batch
    torch.testing.assert_close(g([0, 1, 2], [1, 0, 1]), g([0, 2], [1, 1]), **close)
    # a negative weight flips its event's gradient (Σ|w| normalisation keeps the others)
    torch.testing.assert_close(g([1], [-1]), -g([1], [1]), **close)
    # with two events: (g0 + g1)/2 − (g0 − g1)/2 is event 1's own gradient
    torch.testing.assert_close(g([0, 1], [1, 1]) - g([0, 1], [1, -1]), g([1], [1]), **close)
    # a weight of 2 is the event twice
    torch.testing.assert_close(g([0, 1], [2, 1]), g([0, 0, 1], [1, 1, 1]), **close)
    # the scale of the weights does not matter
    torch.testing.assert_close(g([0, 1, 2], [3e5, -1e5, 2e5]), g([0, 1, 2], [3, -1, 2]), **close)


@pytest.mark.parametrize(("kind", "make", "nf"), CASES, ids=["allhad", "hh-4b"])
def test_validation_metrics_are_weighted(kind, make, nf):
    task, net = make()

    def metrics(*batches):
        return task.summarize(task.evaluate(net, list(batches), "cpu"))

    weighted = metrics(hand_batch(kind, [0, 1, 2], [2, 1, 0], nf))
    repeated = metrics(hand_batch(kind, [0, 0, 1], [1, 1, 1], nf), hand_batch(kind, [2], [0], nf))
    assert weighted.keys() == repeated.keys()
    for k in weighted:
        assert weighted[k] == pytest.approx(repeated[k], rel=1e-5), k
    # and differ from the unweighted ones
    plain = metrics(hand_batch(kind, [0, 1, 2], [1, 1, 1], nf))
    assert plain["loss"] != pytest.approx(weighted["loss"], rel=1e-4)


def test_weighted_loss_and_ratio_edge_cases():
    ell = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    w = torch.tensor([1.0, -1.0, 2.0])
    assert weighted_loss(ell, w).item() == pytest.approx((1 - 2 + 8) / 4)
    used = torch.tensor([True, False, False])
    assert weighted_loss(ell, w, used).item() == pytest.approx(1.0)
    assert weighted_loss(ell, w, torch.zeros(3, dtype=torch.bool)).item() == 0.0
    assert weighted_ratio(3.0, 4.0, "x") == 0.75 and weighted_ratio(0.0, 0.0, "x") == 0.0
    with pytest.raises(DataError, match="sum to -2 for the top efficiency"):
        weighted_ratio(1.0, -2.0, "top efficiency")


def weighted_file(path, stop, weights):
    """Events [0, stop) of the sample with event weights ``weights``."""
    t = uproot.open(SAMPLE)["events"]
    a = t.arrays([*BRANCHES, "event"], entry_stop=stop)
    jets = ak.zip({b[4:]: a[b] for b in BRANCHES})
    from hepattn.data import write_tree

    write_tree(path, {"jet": jets, "event": a["event"].to_numpy(), "gen_w": weights}, tree="events")
    return path


def test_weighted_streamed_training_from_the_command_line(tmp_path, capsys):
    """Negative weights, a schema mapping `weight` to the branch `gen_w`, a validation
    fraction, --stream: trains, and the card and training.json say so."""
    from hepattn.data.schema import BUILTIN_SCHEMAS

    rng = np.random.default_rng(0)
    w = np.where(rng.random(600) < 0.2, -1.0, 1.0) * rng.uniform(0.5, 2, 600)
    data = weighted_file(tmp_path / "w.root", 600, w)
    schema = BUILTIN_SCHEMAS["hepattn-ttbar"].to_dict() | {"name": "mine"}
    schema["event"] = {"weight": "gen_w", "event": "event"}
    schema_path = tmp_path / "mine.yaml"
    schema_path.write_text(yaml.safe_dump(schema))
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    argv = ["train", "matcher", "--train", str(data), "--val-fraction", "0.3", "--config", str(cfg)]
    argv += ["--schema", str(schema_path), "--no-progress"]
    out = tmp_path / "run"
    assert (
        main([*argv, "--weight", "weight", "--stream", "--chunk-entries", "200", "-o", str(out)])
        == 0
    )
    assert "best validation resonance efficiency" in capsys.readouterr().out
    card = (out / "best" / "card.md").read_text()
    assert "event field `weight`" in card and "30 % of the training entries" in card
    info = json.loads((out / "best" / "training.json").read_text())
    assert info["val_fraction"] == 0.3 and np.isfinite(info["val_loss"])
    assert yaml.safe_load((out / "best" / "config.yaml").read_text())["data"]["weight"] == "weight"
    # a weight field the schema does not have: one line naming it, before any training
    assert main([*argv, "--weight", "genWeight", "-o", str(tmp_path / "r2")]) == 1
    err = capsys.readouterr().err
    assert "event field 'genWeight' (data.weight)" in err and err.count("\n") == 1
    # a resume with other weights is refused, naming the key
    again = [*argv, "--weight", "none", "--stream", "--chunk-entries", "200", "-o", str(out)]
    assert main([*again, "--resume"]) == 1
    assert "data.weight ('weight' → None)" in capsys.readouterr().err


def test_weighted_eval_and_compare_tables(tmp_path, capsys):
    """``eval``/``compare --weight``: events of weight 0 drop out of every efficiency and a
    common factor cancels, so the table of (even entries × 2.5, odd × 0) equals the
    unweighted table of the even entries alone — for the χ² and the network — while the
    counts stay event counts; a field the files lack is one line naming it."""
    from hepattn.baselines.btag import file_working_points
    from hepattn.data import write_tree
    from hepattn.data.schema import BUILTIN_SCHEMAS

    t = uproot.open(SAMPLE)["events"]
    names = [k for k in t.keys() if k.startswith("jet_") and k != "jet_n"]
    a = t.arrays([*names, "event"], entry_stop=400)
    even = np.arange(len(a)) % 2 == 0
    wps = json.dumps(file_working_points(SAMPLE))

    def write(path, sel, w):
        jets = ak.zip({b[4:]: a[b][sel] for b in names})
        branches = {"jet": jets, "event": a["event"].to_numpy()[sel], "gen_w": w}
        write_tree(path, branches, tree="events", metadata={"btag_working_points": wps})
        return str(path)

    weighted = write(tmp_path / "w.root", slice(None), np.where(even, 2.5, 0.0))
    evens = write(tmp_path / "e.root", even, np.ones(int(even.sum())))
    schema = BUILTIN_SCHEMAS["hepattn-ttbar"].to_dict() | {"name": "mine", "tree": "events"}
    schema["event"] = {"weight": "gen_w", "event": "event"}
    schema_path = tmp_path / "mine.yaml"
    schema_path.write_text(yaml.safe_dump(schema))
    common = ["--schema", str(schema_path), "--no-progress"]

    def compare(path, weight, name):
        out = tmp_path / name
        argv = ["compare", path, *common, "--weight", weight, "--timing-events", "10"]
        assert main([*argv, "--json", str(out)]) == 0
        return json.loads(out.read_text()), capsys.readouterr().out

    got, text = compare(weighted, "weight", "cw.json")
    want, _ = compare(evens, "none", "ce.json")
    assert got["weighted"] == "weight" and want["weighted"] is None
    assert "weighted by event field 'weight'" in text
    for row, methods in want["rows"].items():
        for method, cell in methods.items():
            for key, value in cell.items():
                if key.startswith("n_"):
                    assert got["rows"][row][method][key] >= value
                else:
                    assert got["rows"][row][method][key] == pytest.approx(value, nan_ok=True)
    assert (
        got["rows"]["inclusive"]["network"]["n_events"]
        > want["rows"]["inclusive"]["network"]["n_events"]
    )
    ev_json = tmp_path / "eval.json"
    argv = ["eval", "matcher", weighted, *common, "--weight", "weight", "--json", str(ev_json)]
    assert main(argv) == 0
    assert "weighted by event field 'weight'" in capsys.readouterr().out
    report = json.loads(ev_json.read_text())
    assert report["weighted"] == "weight"
    assert report["rows"]["inclusive"]["event"] == pytest.approx(
        got["rows"]["inclusive"]["network"]["event"]
    )
    for cmd in (["compare", weighted], ["eval", "matcher", weighted]):
        assert main([*cmd, *common, "--weight", "genWeight"]) == 1
        err = capsys.readouterr().err
        assert "event field 'genWeight'" in err and err.count("\n") == 1
