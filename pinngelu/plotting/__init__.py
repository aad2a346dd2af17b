"""Figures of a solved problem (matplotlib on the ``Agg`` backend, no display needed).

Each function writes one image atomically (:func:`pinngelu.io.atomic_write`) and
returns its path.  One concept per module, each depending only on those above it:

=================  ==================================================================
``common``         the ``Agg`` backend, :func:`save_figure` (atomic, closes the figure)
``history``        :func:`plot_history`: loss and error against iteration and time
``fields2d``       :func:`plot_field`: a scalar on a 2D triangle mesh, optionally deformed
``surface3d``      :func:`plot_surface`: a nodal scalar on the deformed surface of a
                   tetrahedral mesh (:func:`boundary_triangles`, :func:`magnification`,
                   :func:`case_surface_figures`)
``case``           :func:`plot_case_figures`: the standard figures of a case, sent to
                   ``fields2d`` (2D) or ``surface3d`` (3D)
``family``         :func:`plot_family_errors`: a trained family's differences from
                   finite elements against each parameter
=================  ==================================================================
"""

from .case import plot_case_figures
from .common import save_figure
from .family import plot_family_errors
from .fields2d import plot_field
from .history import plot_history
from .surface3d import (
    DEFAULT_VIEWS,
    FIGURE_DPI,
    MAGNIFICATION_FRACTION,
    boundary_triangles,
    case_surface_figures,
    magnification,
    plot_surface,
)

__all__ = [
    "DEFAULT_VIEWS",
    "FIGURE_DPI",
    "MAGNIFICATION_FRACTION",
    "boundary_triangles",
    "case_surface_figures",
    "magnification",
    "plot_case_figures",
    "plot_family_errors",
    "plot_field",
    "plot_history",
    "plot_surface",
    "save_figure",
]
