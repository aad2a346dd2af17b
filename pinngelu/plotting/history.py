"""The loss history of a run: loss (and relative L2 error, where tracked) against
iteration and wall time."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .common import plt, save_figure

__all__ = ["plot_history"]


def plot_history(history: dict, path: str | os.PathLike) -> Path:
    """Loss (and relative L2 error, where tracked) against iteration and wall time."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    it = np.asarray(history["iteration"])
    # an energy is negative at its minimum: a symmetric-log axis then
    scale = "log" if np.all(np.asarray(history["loss"]) > 0) else "symlog"
    axes[0].plot(it, history["loss"], label="loss")
    groups = history.get("groups") or []
    if groups:
        for name in groups[-1]:
            vals = [g.get(name, np.nan) for g in groups]
            axes[0].plot(it, vals, lw=0.8, alpha=0.7, label=name)
    axes[0].set_yscale(scale)
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("loss (scaled units)")
    axes[0].legend(fontsize=7)
    axes[0].grid(True, which="both", alpha=0.3)
    if history.get("error"):
        axes[1].loglog(history["error_time"], history["error"], "o-", ms=3)
        axes[1].set_xlabel("wall time (s)")
        axes[1].set_ylabel("relative L2 error of u")
    else:
        axes[1].plot(history["time"], history["loss"])
        axes[1].set_yscale(scale)
        axes[1].set_xlabel("wall time (s)")
        axes[1].set_ylabel("loss")
    axes[1].grid(True, which="both", alpha=0.3)
    return save_figure(fig, path)
