"""Matplotlib figures written as PNG files (the CLI decides when; needs ``hepattn[plots]``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from hepattn._optional import require
from hepattn.data.outputs import atomic_path

__all__ = ["confusion_png", "efficiency_png", "roc_png"]


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend (an install hint if missing)."""
    require("matplotlib").use("Agg")
    return require("matplotlib.pyplot")


def confusion_png(
    cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike, title: str = ""
) -> None:
    """Row-normalized confusion matrix (true class on the vertical axis) with cell values."""
    cm = np.asarray(cm)
    plt = pyplot()
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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def roc_png(
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]],
    path: str | os.PathLike,
    title: str = "",
) -> None:
    """One-vs-rest ROC curves: ``{name: (fpr, tpr, auc)}``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.legend(fontsize=7)
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def efficiency_png(
    tables: dict[str, dict], path: str | os.PathLike, topology=None, title: str = ""
) -> None:
    """The topology's report columns (ε_event, ε_2^top, ε_1^top for all-hadronic tt̄) by jet
    multiplicity, one marker series per method.

    ``tables`` maps a method name to a :func:`hepattn.metrics.matching.efficiency_table` of
    ``topology`` (default all-hadronic tt̄).
    """
    from hepattn.metrics.matching import jet_rows
    from hepattn.topology import TTBAR_ALLHAD

    topology = topology or TTBAR_ALLHAD
    plt = pyplot()
    rows = list(jet_rows(topology))
    labels = dict(topology.report.labels)
    keys = [(c, labels.get(c, f"ε_{c}")) for c in topology.report_columns]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.7 * len(keys), 3.6), sharey=True)
    for ax, (key, label) in zip(axes, keys, strict=True):
        for off, (method, tab) in enumerate(tables.items()):
            x = np.arange(len(rows)) + 0.1 * (off - (len(tables) - 1) / 2)
            y = [100 * tab[r][key] for r in rows]
            e = [100 * tab[r][f"{key}_err"] for r in rows]
            ax.errorbar(x, y, yerr=e, fmt="o", capsize=3, label=method)
        ticks = [r.replace(">=", "≥").replace("inclusive", "incl.") for r in rows]
        ax.set_xticks(range(len(rows)), labels=ticks)
        ax.set_xlabel("jets per event")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("efficiency [%]")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def _save(fig, plt, path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def reliability_png(diagrams: dict[str, dict], path: str | os.PathLike, title: str = "") -> None:
    """Reliability diagrams, ``{name: hepattn.metrics.calibration.reliability(...)}``:
    observed frequency (binomial errors) against the mean prediction per bin, the diagonal
    for a calibrated model, and the ECE in the legend."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.6, ls="--")
    for name, r in diagrams.items():
        rows = [b for b in r["bins"] if b["count"]]
        ax.errorbar(
            [b["predicted"] for b in rows],
            [b["observed"] for b in rows],
            yerr=[b["observed_err"] for b in rows],
            fmt="o-",
            ms=3,
            capsize=2,
            label=f"{name} (ECE {r['ece']:.3f}, {r['n']:,})",
        )
    ax.set_xlabel("predicted probability (bin mean)")
    ax.set_ylabel("observed frequency")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    _save(fig, plt, path)


def purity_png(curves: dict[str, dict], path: str | os.PathLike, title: str = "") -> None:
    """Purity (fraction correct among the kept events) against the fraction of events kept,
    ``{name: hepattn.metrics.calibration.purity_curve(...)}``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, c in curves.items():
        ax.plot(100 * np.asarray(c["kept"]), 100 * np.asarray(c["purity"]), "o-", ms=3, label=name)
    ax.set_xlabel("events kept [%]")
    ax.set_ylabel("correct among kept [%]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    _save(fig, plt, path)


def shifts_png(shifts: dict[str, dict], path: str | os.PathLike, title: str = "") -> None:
    """The shift of the figure of merit under each systematic variation, in points:
    ``{variation: {row: {method: Δ}}}`` (the ``shift`` of ``compare --vary`` / ``eval
    --vary``), one panel per variation, grouped bars per row, one colour per method (a row
    without a method has no bar)."""
    plt = pyplot()
    names = list(shifts)
    fig, axes = plt.subplots(
        1, len(names), figsize=(3.4 * len(names), 3.4), sharey=True, squeeze=False
    )
    for ax, name in zip(axes[0], names, strict=True):
        rows = list(shifts[name])
        methods = list(dict.fromkeys(m for r in rows for m in shifts[name][r]))
        width = 0.8 / max(len(methods), 1)
        for k, method in enumerate(methods):
            x = np.arange(len(rows)) + width * (k - (len(methods) - 1) / 2)
            y = [100 * shifts[name][r].get(method, np.nan) for r in rows]
            ax.bar(x, y, width, label=method, color=f"C{k}")
        ticks = [r.replace(">=", "≥").replace("inclusive", "incl.") for r in rows]
        ax.set_xticks(range(len(rows)), labels=ticks, fontsize=7, rotation=20)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(name)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("shift [points]")
    handles = {h.get_label(): h for ax in axes[0] for h in ax.containers}
    axes[0][0].legend(handles.values(), handles.keys(), fontsize=8)
    fig.suptitle(title)
    _save(fig, plt, path)
