from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from hepattn.training.loop import TrainingConfig, TrainingError, ended_by, fit
from tests.training.ddp_worker import collate


class Task:
    """A linear regression task, enough to drive the loop."""

    def __init__(self, poison_after: int | None = None):
        self.calls, self.poison_after = 0, poison_after

    def loss(self, model, batch):
        self.calls += 1
        x, y = batch
        loss = ((model(x).squeeze(-1) - y) ** 2).mean()
        if self.poison_after is not None and self.calls > self.poison_after:
            return loss * float("nan")
        return loss

    def evaluate(self, model, loader, device):
        with torch.no_grad():
            total = (
                sum(self.loss(model, b).item() for b in loader)
                if self.poison_after is None
                else 1.0
            )
        return {"loss": total}

    def summarize(self, sums):
        return {"loss": sums["loss"], "score": -sums["loss"]}

    def save_model(self, model, directory, metrics):
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), directory / "weights.pt")


def data(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    return TensorDataset(x, x @ torch.tensor([1.0, -2.0, 0.5]))


def test_trains_keeps_best_and_stops_early(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    cfg = TrainingConfig(epochs=30, batch_size=8, lr=0.05, warmup_steps=2, patience=2)
    history = fit(Task(), model, data(), data(16), collate, cfg, tmp_path)
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert (tmp_path / "best" / "weights.pt").exists() and (tmp_path / "last.pt").exists()


def test_empty_training_set(tmp_path):
    with pytest.raises(TrainingError, match="training set is empty"):
        fit(Task(), torch.nn.Linear(3, 1), data(0), data(4), collate, TrainingConfig(), tmp_path)


def test_nan_loss_stops_with_clear_message_and_keeps_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    cfg = TrainingConfig(epochs=5, batch_size=8, warmup_steps=1)
    with pytest.raises(TrainingError, match="non-finite loss"):
        fit(Task(poison_after=12), model, data(), data(8), collate, cfg, tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["epoch"] == 1  # 8 steps per epoch: epoch 1 finished, epoch 2 poisoned
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_the_loss_is_read_on_the_host_only_every_sync_every_steps(tmp_path, monkeypatch):
    """No per-step GPU→CPU synchronisation: the running loss is read every SYNC_EVERY steps
    (and at the end of each epoch) to check it is finite and to show it."""
    from hepattn.training import loop

    reads, real = [], loop._checked

    def counting(total, state, since, where):
        reads.append(state.step)
        return real(total, state, since, where)

    monkeypatch.setattr(loop, "_checked", counting)
    monkeypatch.setattr(loop, "SYNC_EVERY", 5)
    cfg = TrainingConfig(epochs=2, batch_size=8, warmup_steps=1, patience=5)
    fit(Task(), torch.nn.Linear(3, 1), data(), data(8), collate, cfg, tmp_path)
    assert reads == [5, 8, 10, 15, 16]  # 8 steps per epoch


def test_stopped_early_hand_values():
    from hepattn.training import stopped_early

    assert stopped_early(14, 10, 4)  # 4 epochs without gain: the loop stopped itself
    assert not stopped_early(20, 19, 4)  # cut by a cap of 20 while still improving
    assert not stopped_early(20, 20, 4)
    assert stopped_early(20, 16, 4)  # patience and cap reached together: stopped by patience


def test_stopped_early_matches_the_loop(tmp_path):
    torch.manual_seed(0)
    cfg = TrainingConfig(epochs=30, batch_size=8, lr=0.05, warmup_steps=2, patience=2)
    history = fit(Task(), torch.nn.Linear(3, 1), data(), data(16), collate, cfg, tmp_path)
    from hepattn.training import stopped_early

    scores = [h["val_score"] for h in history]
    best = 1 + max(range(len(scores)), key=scores.__getitem__)  # first best, as the loop
    assert len(history) < cfg.epochs  # this run stops itself
    assert stopped_early(len(history), best, cfg.patience)


def test_cpu_budget_stops_training_and_says_so(tmp_path):
    """A spent CPU budget ends the epoch at the step that spends it, which is then validated
    and recorded; the history carries the cumulative CPU seconds."""
    torch.manual_seed(0)
    cfg = TrainingConfig(epochs=30, batch_size=8, lr=0.05, warmup_steps=2, patience=2)
    free = fit(Task(), torch.nn.Linear(3, 1), data(), data(16), collate, cfg, tmp_path / "free")
    cpu = [h["cpu_seconds"] for h in free]
    assert cpu == sorted(cpu) and cpu[-1] > 0 and "cpu_budget_spent" not in free[-1]
    assert ended_by(free, cfg) == "early_stopping"
    short = TrainingConfig(epochs=1, batch_size=8, warmup_steps=2)
    one = fit(Task(), torch.nn.Linear(3, 1), data(), data(16), collate, short, tmp_path / "one")
    assert ended_by(one, short) == "epoch_cap"

    capped = TrainingConfig(**{**cfg.to_dict(), "cpu_budget_s": 1e-9})
    out = tmp_path / "capped"
    history = fit(Task(), torch.nn.Linear(3, 1), data(), data(16), collate, capped, out)
    assert len(history) == 1 and history[0]["cpu_budget_spent"]
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 1  # of 8 in an epoch
    assert (out / "best" / "weights.pt").exists()
    assert ended_by(history, capped) == "cpu_budget"
    with pytest.raises(Exception, match="cpu_budget_s must be positive"):
        TrainingConfig(cpu_budget_s=0.0)


def test_cpu_budget_counts_earlier_legs_on_resume(tmp_path):
    torch.manual_seed(0)
    cfg = TrainingConfig(epochs=2, batch_size=8, lr=0.05, warmup_steps=2, patience=5)
    model = torch.nn.Linear(3, 1)
    first = fit(Task(), model, data(), data(16), collate, cfg, tmp_path, run_config={"a": 1})
    spent = first[-1]["cpu_seconds"]
    more = TrainingConfig(**{**cfg.to_dict(), "epochs": 10, "cpu_budget_s": spent})
    history = fit(
        Task(), model, data(), data(16), collate, more, tmp_path, run_config={"a": 1}, resume=True
    )
    assert len(history) == 3 and history[-1]["cpu_budget_spent"]  # one step of epoch 3
    assert history[-1]["cpu_seconds"] >= spent
