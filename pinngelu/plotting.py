"""Figures of a solved problem (matplotlib, no display needed).

Each function writes one PNG atomically and returns its path.  Fields of 3D
solutions are drawn on the deformed surface by :mod:`pinngelu.plot3d`.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.tri as mtri  # noqa: E402
import numpy as np  # noqa: E402

from .io import atomic_write  # noqa: E402

__all__ = ["plot_history", "plot_field", "plot_case_figures", "save_figure"]


def save_figure(fig, path: str | os.PathLike, dpi: int = 120, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` atomically (:func:`pinngelu.io.atomic_write`) and close it.

    The format follows the suffix (PNG without one).  ``tight`` crops the figure to
    its content; without it the image is exactly the figure size times ``dpi``.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    bbox = "tight" if tight else None
    try:
        return atomic_write(
            path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches=bbox)
        )
    finally:
        plt.close(fig)


def plot_history(history: dict, path: str | os.PathLike) -> Path:
    """Loss (and relative L2 error, where tracked) against iteration and wall time."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    it = np.asarray(history["iteration"])
    axes[0].semilogy(it, history["loss"], label="loss")
    groups = history.get("groups") or []
    if groups:
        for name in groups[-1]:
            vals = [g.get(name, np.nan) for g in groups]
            axes[0].semilogy(it, vals, lw=0.8, alpha=0.7, label=name)
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("loss (scaled units)")
    axes[0].legend(fontsize=7)
    axes[0].grid(True, which="both", alpha=0.3)
    if history.get("error"):
        axes[1].loglog(history["error_time"], history["error"], "o-", ms=3)
        axes[1].set_xlabel("wall time (s)")
        axes[1].set_ylabel("relative L2 error of u")
    else:
        axes[1].semilogy(history["time"], history["loss"])
        axes[1].set_xlabel("wall time (s)")
        axes[1].set_ylabel("loss")
    axes[1].grid(True, which="both", alpha=0.3)
    return save_figure(fig, path)


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
    :func:`pinngelu.plot3d.plot_surface` draws it on the surface instead.
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


def plot_case_figures(
    solution, outdir: str | os.PathLike, history: dict, mesh: tuple[np.ndarray, np.ndarray]
) -> list[Path]:
    """The standard figures of a case: loss history, displacement magnitude on the
    deformed shape, von Mises stress, and the error map where a reference exists.

    3D solutions (tetrahedral ``mesh``) are drawn on the deformed surface of the part
    (:func:`pinngelu.plot3d.case_surface_figures`); 2D ones on the triangle mesh.
    """
    outdir = Path(outdir)
    points, cells = mesh
    f = solution.fields(points, check_inside=False)
    paths = [plot_history(history, outdir / "loss_history.png")]
    if np.shape(points)[1] == 3:
        from .plot3d import case_surface_figures  # plot3d imports this module

        return paths + case_surface_figures(points, cells, f, outdir)
    umag = np.linalg.norm(f["displacement"], axis=1)
    paths.append(
        plot_field(
            points,
            cells,
            umag,
            outdir / "displacement.png",
            "|u| (m)",
            displacement=f["displacement"],
        )
    )
    paths.append(
        plot_field(
            points,
            cells,
            f["von_mises"],
            outdir / "von_mises.png",
            "von Mises stress (Pa)",
            cmap="inferno",
        )
    )
    if "displacement_error" in f:
        err = np.linalg.norm(f["displacement_error"], axis=1)
        paths.append(
            plot_field(points, cells, err, outdir / "error.png", "|u - u_exact| (m)", cmap="magma")
        )
    return paths
