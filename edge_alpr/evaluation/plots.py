"""PNG figures for the evaluation commands: the detector's precision-recall curve and plate
accuracy per bucket (plate height, layout, width).

matplotlib comes with the ``train`` extra and is never needed on a Pi, so it is imported only
here and only when a plot is asked for; ``pyplot()`` returns None where it is not installed
and the commands then skip their plots with a note instead of failing.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edge_alpr.evaluation.metrics import TextSummary

_DPI = 120


def pyplot():  # -> the matplotlib.pyplot module, or None
    """matplotlib's pyplot on the file-only Agg backend (no display needed), or None when
    matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


MATPLOTLIB_MISSING = "matplotlib is not installed (pip install 'edge-alpr[train]'): plots skipped"


def save_pr_curve(precision: np.ndarray, recall: np.ndarray, ap: float, path: Path, *, title: str) -> Path:
    """The precision-recall curve (one point per prediction, best score first) as a PNG."""
    plt = _require_pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    try:
        # Start the curve at recall 0 so a run with few predictions still draws a line.
        ax.step(np.concatenate([[0.0], recall]), np.concatenate([[1.0], precision]), where="post",
                label=f"AP50 = {ap:.3f}")
        ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title=title)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left")
        fig.tight_layout()
        fig.savefig(path, dpi=_DPI)
    finally:
        plt.close(fig)
    return path


def save_accuracy_by_bucket(
    summaries: Mapping[str, TextSummary], order: Sequence[str], path: Path, *, title: str, xlabel: str
) -> Path:
    """Exact and character accuracy per bucket as grouped bars, each labelled with its plate count."""
    plt = _require_pyplot()
    names = [name for name in order if name in summaries] + [n for n in summaries if n not in order]
    x = np.arange(len(names))
    exact = [summaries[n].exact_accuracy for n in names]
    char = [summaries[n].char_accuracy for n in names]
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    try:
        ax.bar(x - 0.2, exact, width=0.4, label="exact plate")
        ax.bar(x + 0.2, char, width=0.4, label="character")
        for xi, name in zip(x, names):
            ax.annotate(f"n={summaries[name].plates}", (xi, 1.02), ha="center", fontsize=8)
        ax.set_xticks(x, names)
        ax.set(ylim=(0, 1.1), xlabel=xlabel, ylabel="accuracy", title=title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(path, dpi=_DPI)
    finally:
        plt.close(fig)
    return path


def _require_pyplot():
    plt = pyplot()
    if plt is None:
        raise RuntimeError(MATPLOTLIB_MISSING)
    return plt
