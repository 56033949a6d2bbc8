"""Training: the loop shared by all tasks, and checkpoints."""

from hepattn.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from hepattn.training.loop import (
    TrainingConfig,
    TrainingError,
    ended_by,
    fit,
    pick_device,
    seed_everything,
    stopped_early,
)

__all__ = [
    "CheckpointError",
    "TrainingConfig",
    "TrainingError",
    "ended_by",
    "fit",
    "load_checkpoint",
    "pick_device",
    "save_checkpoint",
    "seed_everything",
    "stopped_early",
]
