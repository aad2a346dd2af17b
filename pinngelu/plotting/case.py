"""The standard figures of a case, 2D solutions on the triangle mesh
(:mod:`~pinngelu.plotting.fields2d`), 3D ones on the deformed surface
(:mod:`~pinngelu.plotting.surface3d`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .fields2d import plot_field
from .history import plot_history
from .surface3d import case_surface_figures

__all__ = ["plot_case_figures"]


def plot_case_figures(
    solution, outdir: str | os.PathLike, history: dict, mesh: tuple[np.ndarray, np.ndarray]
) -> list[Path]:
    """The standard figures of a case: loss history, displacement magnitude on the
    deformed shape, von Mises stress, and the error map where a reference exists.

    3D solutions (tetrahedral ``mesh``) are drawn on the deformed surface of the part
    (:func:`~pinngelu.plotting.surface3d.case_surface_figures`); 2D ones on the triangle mesh.
    """
    outdir = Path(outdir)
    points, cells = mesh
    f = solution.fields(points, check_inside=False)
    paths = [plot_history(history, outdir / "loss_history.png")]
    if np.shape(points)[1] == 3:
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
