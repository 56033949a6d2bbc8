"""Matplotlib figures written as PNG files (the CLI decides when; needs ``hepattn[plots]``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from hepattn.errors import HepattnError

__all__ = ["confusion_png", "roc_png"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise HepattnError("plots need matplotlib: pip install 'hepattn[plots]'") from None
    return plt


def confusion_png(
    cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike, title: str = ""
) -> None:
    """Row-normalized confusion matrix (true class on the vertical axis) with cell values."""
    cm = np.asarray(cm)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), labels=classes)
    ax.set_yticks(range(len(classes)), labels=classes)
    ax.set_xlabel("predicted prongs")
    ax.set_ylabel("true prongs")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                f"{cm[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if cm[i, j] > 0.5 else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def roc_png(
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]],
    path: str | os.PathLike,
    title: str = "",
) -> None:
    """One-vs-rest ROC curves: ``{name: (fpr, tpr, auc)}``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.legend(fontsize=7)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
