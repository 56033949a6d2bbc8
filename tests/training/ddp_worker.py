"""Train a small regression model with hepattn's loop; run directly or under torchrun.

python ddp_worker.py OUT_DIR [--stream]            # one process
torchrun --standalone --nproc_per_node=2 ddp_worker.py OUT_DIR [--stream]   # two ranks, gloo

``--stream`` trains on an iterable dataset whose ranks hold different numbers of events.
"""

from __future__ import annotations

import sys

import torch
from torch.utils.data import TensorDataset

from hepattn.training.distributed import exit_now, mean_over_ranks
from hepattn.training.loop import TrainingConfig, fit


class Batch(tuple):
    def to(self, device):
        return Batch(t.to(device) for t in self)

    def __len__(self):
        return len(self[0])


def collate(items):
    xs, ys = zip(*items, strict=True)
    return Batch((torch.stack(xs), torch.stack(ys)))


class Task:
    def loss(self, model, batch):
        """Weighted mean with per-event weights: the ranks' weight sums differ, so only the
        global denominator makes two ranks train like one process."""
        x, y = batch
        w = 1.0 + x[:, 0] ** 2
        return (w * (model(x).squeeze(-1) - y) ** 2).sum() / mean_over_ranks(w.sum())

    @torch.no_grad()
    def evaluate(self, model, loader, device):
        total = sum(self.loss(model, b.to(device)).item() * len(b) for b in loader)
        return {"loss_sum": total, "n": sum(len(b) for b in loader)}

    def summarize(self, sums):
        loss = sums["loss_sum"] / sums["n"]
        return {"loss": loss, "score": -loss}

    def save_model(self, model, directory, metrics):
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), directory / "weights.pt")


class UnevenStream(torch.utils.data.IterableDataset):
    """Rank r streams 40 − 16 r events: ranks hold different amounts of data."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return 64

    def __iter__(self):
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        for i in range(40 - 16 * rank):
            yield self.x[i], self.y[i]


def main(out: str, stream: bool = False) -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 5, generator=g)
    y = torch.tanh(x @ torch.randn(5, generator=g)) + 0.1 * torch.randn(96, generator=g)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    cfg = TrainingConfig(epochs=3, batch_size=16, lr=0.01, warmup_steps=2, patience=10, seed=4)
    train = UnevenStream(x, y) if stream else TensorDataset(x, y)
    fit(Task(), model, train, TensorDataset(x[:32], y[:32]), collate, cfg, out)


if __name__ == "__main__":
    main(sys.argv[1], stream="--stream" in sys.argv[2:])
    exit_now()  # as `hepattn train` does under torchrun (hepattn.training.distributed)
