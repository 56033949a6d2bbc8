from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hepattn.data import (
    PaddedDataset,
    PadSpec,
    RootStreamDataset,
    Standardizer,
    collate,
    read_events,
)
from hepattn.data.writer import write_tree
from tests.conftest import SCHEMA, jets_array

SPEC = PadSpec(("log_pt", "eta", "phi", "btag"), 5)


def test_padded_dataset_batches_with_workers(toy_file):
    ev = read_events(toy_file, SCHEMA, {"jets": SPEC})
    std = Standardizer.fit(ev["jets"].values, ev["jets"].mask, SPEC.features)
    ds = PaddedDataset(ev, "jets", std)
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate)
    batches = list(loader)
    assert [len(b) for b in batches] == [2, 2]
    b0, b1 = batches
    # trimmed to the largest event of each batch: 3 jets, then 4
    assert b0.x.shape == (2, 3, 4) and b1.x.shape == (2, 4, 4)
    assert b0.mask.dtype == torch.bool and b0.labels["parton"].dtype == torch.int64
    assert torch.equal(b0.mask.sum(1), torch.tensor([3, 0]))
    assert (b1.x[~b1.mask] == 0).all()
    assert torch.equal(b1.entry, torch.tensor([2, 3]))
    assert b1.event["weight"].tolist() == [2.0, 3.0]
    std_x = std.transform(ev["jets"].values, ev["jets"].mask)
    np.testing.assert_allclose(b1.x.numpy(), std_x[2:, :4], atol=1e-6)


def test_sliced_batches_equal_the_data_loader(toy_file):
    ev = read_events(toy_file, SCHEMA, {"jets": SPEC})
    ds = PaddedDataset(ev, "jets")
    loader = DataLoader(ds, batch_size=3, collate_fn=collate)
    for got, want in zip(ds.batches(3), loader, strict=True):
        for name in ("x", "p4", "mask", "index", "entry"):
            assert torch.equal(getattr(got, name), getattr(want, name)), name
        assert torch.equal(got.labels["parton"], want.labels["parton"])
        assert torch.equal(got.event["weight"], want.event["weight"])
    assert [len(b) for b in ds.batches(3)] == [3, 1]


def test_stream_dataset_each_event_once_across_workers(tmp_path):
    for i in range(2):
        write_tree(
            tmp_path / f"f{i}.root",
            {"jet": jets_array(), "weight": np.arange(4, dtype=np.float32) + 10 * i},
            tree="events",
        )
    ds = RootStreamDataset(
        str(tmp_path / "f*.root"), SCHEMA, "jets", SPEC, chunk_entries=3, shuffle=True, seed=3
    )
    assert ds.num_entries == 8
    weights = sorted(
        w
        for b in DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate)
        for w in b.event["weight"].tolist()
    )
    assert weights == [0, 1, 2, 3, 10, 11, 12, 13]
    # without workers: same events; order differs between epochs when shuffled
    ds.set_epoch(1)
    one = [
        w
        for b in DataLoader(ds, batch_size=8, collate_fn=collate)
        for w in b.event["weight"].tolist()
    ]
    assert sorted(one) == weights


def test_batch_to_device_and_pin():
    item = {
        "x": torch.zeros(3, 2),
        "p4": torch.zeros(3, 4),
        "mask": torch.ones(3, dtype=bool),
        "index": torch.arange(3),
        "entry": torch.tensor(0),
        "labels": {},
        "event": {"w": torch.tensor(1.0)},
    }
    b = collate([item, item]).to("cpu")
    assert b.x.shape == (2, 3, 2) and b.event["w"].shape == (2,)
    if torch.cuda.is_available():  # pragma: no cover
        pytest.skip("pinning checked on CPU only")
