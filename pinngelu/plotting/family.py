"""The check of a trained family: the differences from the finite-element reference
at random parameter points, against each parameter."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

from .common import plt, save_figure

__all__ = ["plot_family_errors"]


def plot_family_errors(
    rows: Sequence[dict], names: Sequence[str], path: str | os.PathLike, targets=(1e-3, 3e-3)
) -> Path:
    """One panel per parameter: the relative L2 displacement and von Mises
    differences of each checked member (``rows``: dicts with the parameter values and
    ``displacement``, ``von_mises``) against the parameter's value, with the
    ``targets`` (median, worst) as lines."""
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    disp = np.array([r["displacement"] for r in rows])
    vm = np.array([r["von_mises"] for r in rows])
    for ax, name in zip(axes[0], names, strict=True):
        v = np.array([r[name] for r in rows])
        ax.semilogy(v, disp, "o", ms=4, label="displacement")
        ax.semilogy(v, vm, "s", ms=4, mfc="none", label="von Mises")
        for t, ls, what in zip(targets, ("--", ":"), ("median", "worst"), strict=True):
            ax.axhline(t, color="k", lw=0.8, ls=ls, label=f"target ({what}, displacement)")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%.4g"))
        ax.set_xlabel(name)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("relative L2 difference from P2")
    axes[0][0].legend(fontsize=7)
    return save_figure(fig, path)
