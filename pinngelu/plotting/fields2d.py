"""A scalar field on a 2D triangle mesh, optionally on the deformed shape.

Fields of 3D solutions are drawn on the deformed surface by
:mod:`pinngelu.plotting.surface3d`.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.tri as mtri
import numpy as np

from .common import plt, save_figure

__all__ = ["plot_field"]


def plot_field(
    points: np.ndarray,
    cells: np.ndarray,
    values: np.ndarray,
    path: str | os.PathLike,
    title: str = "",
    displacement: np.ndarray | None = None,
    scale: float | None = None,
    cmap: str = "viridis",
) -> Path:
    """A scalar field on a 2D triangle mesh, optionally on the deformed shape.

    For 3D meshes the field is drawn at the nodes as a scatter plot seen along z;
    :func:`pinngelu.plotting.plot_surface` draws it on the surface instead.
    """
    P = np.asarray(points, dtype=float)
    ext = np.ptp(P[:, :2], axis=0)
    aspect = float(ext[1] / ext[0]) if ext[0] > 0 else 1.0
    # slender parts: a wide figure with the colour bar underneath
    wide = aspect < 0.4
    fig, ax = plt.subplots(figsize=(9, 2.2 + 9 * max(aspect, 0.05)) if wide else (6, 5))
    if displacement is not None:
        span = float(np.max(P.max(0) - P.min(0)))
        umax = float(np.max(np.linalg.norm(displacement, axis=1))) or 1.0
        s = scale if scale is not None else 0.1 * span / umax
        P = P + s * displacement
        title = f"{title} (deformation x{s:.3g})"
    if P.shape[1] == 2 and cells.shape[1] == 3:
        tri = mtri.Triangulation(P[:, 0], P[:, 1], cells)
        m = ax.tripcolor(tri, values, shading="gouraud", cmap=cmap)
    else:
        m = ax.scatter(P[:, 0], P[:, 1], c=values, s=4, cmap=cmap)
    fig.colorbar(m, ax=ax, **({"orientation": "horizontal", "pad": 0.25} if wide else {}))
    ax.set_aspect("equal")
    ax.set_title(title)
    return save_figure(fig, path)
