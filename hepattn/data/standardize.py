"""Per-feature standardization fitted on a training sample and saved with a model.

``x' = (x − mean) / std`` per feature, with mean and std computed over *real* objects only
(``mask`` True). Padded slots stay exactly 0 after the transform, so a model that ignores
padding through the mask sees the same zeros it was trained with. Features whose standard
deviation is below ``1e-6`` (constants, or a flag that never flips in the training sample) are
only shifted (std taken as 1). Features whose training values are exactly 0 and 1 (a
b-tag decision) are recorded as ``binary``, so that a loaded model can refuse continuous
values it never saw.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepattn.errors import DataError

__all__ = ["Standardizer"]

MIN_STD = 1e-6


@dataclass(frozen=True)
class Standardizer:
    """Feature names with their fitted means and standard deviations."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    binary: tuple[str, ...] = ()

    @classmethod
    def fit(cls, values: np.ndarray, mask: np.ndarray, features: Sequence[str]) -> Standardizer:
        """Fit on ``values: float[B, N, F]`` where ``mask: bool[B, N]`` is True."""
        values = np.asarray(values)
        if values.shape[-1] != len(features):
            raise DataError(f"{values.shape[-1]} feature columns but {len(features)} names")
        real = values[np.asarray(mask, dtype=bool)].astype(np.float64)  # (n_real, F)
        if len(real) == 0:
            raise DataError("cannot fit standardization: the sample has no real objects")
        std = real.std(axis=0)
        std = np.where(std < MIN_STD, 1.0, std)
        binary = tuple(
            f for i, f in enumerate(features) if set(np.unique(real[:, i]).tolist()) == {0.0, 1.0}
        )
        return cls(tuple(features), tuple(real.mean(axis=0).tolist()), tuple(std.tolist()), binary)

    def transform(
        self, values: np.ndarray, mask: np.ndarray, features: Sequence[str] | None = None
    ):
        """Standardized copy of ``values: float[B, N, F]``; padded slots exactly 0.

        Works on numpy arrays and torch tensors alike. ``features``, if given, must equal the
        fitted ones (a guard against feeding columns in another order).
        """
        if features is not None and tuple(features) != self.features:
            raise DataError(
                f"features {tuple(features)} do not match the standardization's {self.features}"
            )
        if values.shape[-1] != len(self.features):
            raise DataError(
                f"{values.shape[-1]} feature columns given, standardization has "
                f"{len(self.features)}: {self.features}"
            )
        if isinstance(values, np.ndarray):
            mean = np.asarray(self.mean, dtype=values.dtype)
            std = np.asarray(self.std, dtype=values.dtype)
            return ((values - mean) / std) * np.asarray(mask, dtype=values.dtype)[..., None]
        mean = values.new_tensor(self.mean)
        std = values.new_tensor(self.std)
        return ((values - mean) / std) * mask[..., None].to(values.dtype)

    def to_dict(self) -> dict:
        d = {"features": list(self.features), "mean": list(self.mean), "std": list(self.std)}
        if self.binary:
            d["binary"] = list(self.binary)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Standardizer:
        try:
            feats, mean, std = tuple(d["features"]), tuple(d["mean"]), tuple(d["std"])
        except (KeyError, TypeError) as err:
            raise DataError(f"standardization record is missing {err}") from None
        if not (len(feats) == len(mean) == len(std)):
            raise DataError("standardization record: features, mean and std differ in length")
        binary = tuple(d.get("binary", ()))
        if not set(binary) <= set(feats):
            raise DataError(f"standardization record: binary {list(binary)} not among features")
        try:
            return cls(feats, tuple(map(float, mean)), tuple(map(float, std)), binary)
        except (TypeError, ValueError) as err:
            raise DataError(
                f"standardization record: a mean or std is not a number ({err})"
            ) from None

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Standardizer:
        try:
            d = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise DataError(f"{path}: standardization file not found") from None
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: not valid JSON ({err})") from None
        try:
            return cls.from_dict(d)
        except DataError as err:
            raise DataError(f"{path}: {err}") from None
