"""Figures of 3D solutions: the deformed surface of a tetrahedral mesh, coloured by a
scalar (matplotlib ``Agg``, no display needed).

The boundary triangles of the mesh (the faces of exactly one tetrahedron, ordered so
that their normals point outwards) are moved by ``scale * u`` and drawn as one
:class:`~mpl_toolkits.mplot3d.art3d.Poly3DCollection` per view, in orthographic
projection with equal axis scaling.  Each face gets the colour of the mean of its
nodes' values, darkened by Lambert shading under a light fixed relative to the
camera; faces turned away from the camera are left out (on a closed surface they are
hidden anyway) and the rest are painted back to front.  The undeformed shape is
drawn as faint dashed feature edges (where the surface bends by more than 30
degrees), on the side facing the camera.  Files are written atomically
(:func:`pinngelu.io.atomic_write`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator
from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..geometry.meshtopo import boundary_facets, split_cells
from .common import plt, save_figure

__all__ = [
    "DEFAULT_VIEWS",
    "boundary_triangles",
    "magnification",
    "plot_surface",
    "case_surface_figures",
]

DEFAULT_VIEWS: tuple[tuple[float, float], ...] = ((30.0, 45.0), (-30.0, -135.0))
"""Camera angles ``(elevation, azimuth)`` in degrees of the two views of
:func:`plot_surface` (matplotlib's ``view_init``): from the ``(+x, +y, +z)`` side and
from the opposite side."""

MAGNIFICATION_FRACTION = 0.1
"""The largest displacement is drawn as this fraction of the bounding-box diagonal."""

FIGURE_DPI = 120
"""Resolution of the figures (pixels per inch)."""

_VIEW_WIDTH = 5.0  # inches per view; the colour bar takes 1.2 more

_AMBIENT = 0.35  # share of the colour kept on faces turned away from the light
# outline: edges where the surface bends by more than 30 degrees, but not folds of
# more than 150 degrees (the two sides of a zero-thickness gap in the mesh)
_FEATURE_COS = (np.cos(np.radians(30.0)), np.cos(np.radians(150.0)))
_MIN_CHAIN = 0.2


def _points(points: np.ndarray) -> np.ndarray:
    P = np.asarray(points, dtype=float)
    if P.ndim != 2 or P.shape[1] != 3 or P.shape[0] == 0:
        raise ValueError(f"points must have shape (P, 3) with P >= 1, got {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError("points contain NaN or infinite coordinates")
    return P


def _node_array(values, n: int, width: int | None, name: str) -> np.ndarray:
    A = np.asarray(values, dtype=float)
    shape = (n,) if width is None else (n, width)
    if A.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (one per node), got {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return A


def boundary_triangles(
    points: np.ndarray, cells: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The boundary of a tetrahedral mesh as outward-oriented triangles.

    Parameters
    ----------
    points : ndarray, shape (P, 3)
        Node coordinates (m).
    cells : ndarray of int, shape (M, 4)
        Tetrahedra (node indices, either orientation).

    Returns
    -------
    triangles : ndarray of int, shape (F, 3)
        The faces that belong to exactly one tetrahedron, their nodes ordered so that
        ``(p1 - p0) x (p2 - p0)`` points out of the mesh.
    normals : ndarray, shape (F, 3)
        Outward unit normals.
    areas : ndarray, shape (F,)
        Areas (m^2).

    Raises
    ------
    ValueError
        For malformed arrays, node indices out of range, or a face shared by more than
        two tetrahedra (a non-conforming mesh).
    """
    P = _points(points)
    C = np.asarray(cells)
    if C.ndim != 2 or C.shape[1] != 4 or C.shape[0] == 0:
        raise ValueError(f"cells must be tetrahedra of shape (M, 4) with M >= 1, got {C.shape}")
    if not np.issubdtype(C.dtype, np.integer):
        raise ValueError(f"cells must hold integer node indices, got dtype {C.dtype}")
    if C.min() < 0 or C.max() >= P.shape[0]:
        raise ValueError(f"cells refer to nodes outside 0..{P.shape[0] - 1}")
    _, cands = split_cells(P, [("tetra", C.astype(np.int64))])
    b = boundary_facets(P, cands, "tetrahedral mesh")
    return b.nodes, b.normals, b.measures


def magnification(
    points: np.ndarray, u: np.ndarray, fraction: float = MAGNIFICATION_FRACTION
) -> float:
    """Factor by which a displacement is drawn: ``fraction * diagonal / max |u|``.

    Parameters
    ----------
    points : ndarray, shape (P, 3)
        Node coordinates (m); ``diagonal`` is the length of their bounding box's
        diagonal (m).
    u : ndarray, shape (P, 3)
        Displacement at the nodes (m).
    fraction : float
        Drawn length of the largest displacement, as a fraction of the diagonal.

    Returns
    -------
    float
        The factor (dimensionless); 1 where ``u`` is zero everywhere.
    """
    P = _points(points)
    U = _node_array(u, P.shape[0], 3, "u")
    if not (np.isfinite(fraction) and fraction > 0):
        raise ValueError(f"fraction must be positive and finite, got {fraction}")
    umax = float(np.max(np.linalg.norm(U, axis=1)))
    diag = float(np.linalg.norm(P.max(axis=0) - P.min(axis=0)))
    if umax == 0.0 or diag == 0.0:
        return 1.0
    return fraction * diag / umax


def _feature_edges(P: np.ndarray, T: np.ndarray, N: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges of the surface where it bends by 30 to 150 degrees, or where it ends (an
    edge of one triangle only); chains of such edges shorter than ``_MIN_CHAIN`` of the
    bounding-box diagonal (notches of the mesh) are left out.

    Returns the segments ``(k, 2, 3)`` and the triangles on either side ``(k, 2)``
    (both the same triangle for an edge of one triangle)."""
    E = np.sort(np.concatenate([T[:, [0, 1]], T[:, [1, 2]], T[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(T.shape[0]), 3)
    order = np.lexsort((E[:, 1], E[:, 0]))
    E, owner = E[order], owner[order]
    same = np.all(E[1:] == E[:-1], axis=1)
    first = np.flatnonzero(same)  # edge i and i + 1 are the same edge
    cos = np.sum(N[owner[first]] * N[owner[first + 1]], axis=1)
    sharp = (cos < _FEATURE_COS[0]) & (cos > _FEATURE_COS[1])
    paired = np.zeros(E.shape[0], dtype=bool)
    paired[first] = paired[first + 1] = True
    keep = np.concatenate([E[first[sharp]], E[~paired]])
    lone = owner[~paired]
    sides = np.concatenate(
        [np.column_stack([owner[first[sharp]], owner[first[sharp] + 1]]), np.c_[lone, lone]]
    )
    if keep.shape[0] == 0:
        return np.empty((0, 2, 3)), np.empty((0, 2), dtype=np.int64)
    n = P.shape[0]
    graph = coo_matrix((np.ones(keep.shape[0]), (keep[:, 0], keep[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    length = np.linalg.norm(P[keep[:, 1]] - P[keep[:, 0]], axis=1)
    chain = np.bincount(label[keep[:, 0]], weights=length, minlength=n)
    diag = float(np.linalg.norm(P.max(axis=0) - P.min(axis=0)))
    long = chain[label[keep[:, 0]]] >= _MIN_CHAIN * diag
    return P[keep[long]], sides[long]


def _camera(elev: float, azim: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vector towards the camera, and the light direction (from the upper left,
    in front)."""
    el, az = np.radians(elev), np.radians(azim)
    eye = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    right = np.array([-np.sin(az), np.cos(az), 0.0])
    up = np.cross(eye, right)
    light = eye + 0.6 * up - 0.5 * right
    return eye, light / np.linalg.norm(light)


def _draw_view(ax, X, T, face_rgba, outline, elev, azim, lo, hi) -> None:
    """One picture: the surface ``X[T]`` with its face colours, and the ``outline``
    ``(segments, normals of the triangles on either side)`` where it is seen."""
    eye, light = _camera(elev, azim)
    c = np.cross(X[T[:, 1]] - X[T[:, 0]], X[T[:, 2]] - X[T[:, 0]])
    n = c / np.maximum(np.linalg.norm(c, axis=1), 1e-300)[:, None]
    front = n @ eye > 0.0
    tris = X[T[front]]
    # painter's order, far faces first (matplotlib sorts again by the same depth)
    order = np.argsort(tris.mean(axis=1) @ eye)
    tris = tris[order]
    shade = _AMBIENT + (1.0 - _AMBIENT) * np.clip(n[front][order] @ light, 0.0, 1.0)
    rgba = face_rgba[front][order].copy()
    rgba[:, :3] *= shade[:, None]
    ax.computed_zorder = False
    ax.add_collection3d(
        Poly3DCollection(tris, facecolors=rgba, edgecolors=rgba, linewidths=0.2, zorder=1)
    )
    if outline is not None:
        segments, side_normals = outline
        seen = np.any(side_normals @ eye > 0.0, axis=1)  # not hidden behind the part
        ax.add_collection3d(
            Line3DCollection(
                segments[seen], colors="k", linewidths=0.6, linestyles="--", alpha=0.45, zorder=2
            )
        )
    ax.set_proj_type("ortho")
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_zlim(lo[2], hi[2])
    ax.set_box_aspect(hi - lo)
    ax.set_xlabel("x (m)", fontsize=8, labelpad=-2)
    ax.set_ylabel("y (m)", fontsize=8, labelpad=-2)
    ax.set_zlabel("z (m)", fontsize=8, labelpad=-2)
    ax.tick_params(labelsize=6, pad=0)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(4))
    ax.set_title(f"view: elevation {elev:g}°, azimuth {azim:g}°", fontsize=8)


def plot_surface(
    points: np.ndarray,
    cells: np.ndarray,
    u: np.ndarray | None,
    scalar: np.ndarray,
    path: str | os.PathLike,
    title: str = "",
    label: str = "",
    *,
    scale: float | None = None,
    cmap: str = "coolwarm",
    views: Sequence[tuple[float, float]] = DEFAULT_VIEWS,
    outline: bool = True,
) -> Path:
    """Draw the (deformed) surface of a tetrahedral mesh coloured by a nodal scalar.

    One picture per view, side by side, with one colour bar.  For a
    PINN-against-reference error map pass, for example,
    ``scalar = |u_pinn - u_ref| / max |u_ref|`` and ``label = "relative error"``.

    Parameters
    ----------
    points : ndarray, shape (P, 3)
        Node coordinates (m).
    cells : ndarray of int, shape (M, 4)
        Tetrahedra; only their boundary faces are drawn (:func:`boundary_triangles`).
    u : ndarray, shape (P, 3), or None
        Displacement at the nodes (m); ``None`` draws the undeformed surface.
    scalar : ndarray, shape (P,)
        Value at the nodes, in the units named by ``label``; a face takes the mean of
        its three nodes.
    path : path
        Output file (PNG unless the suffix names another format matplotlib writes),
        written completely or not at all.
    title : str
        Figure title; the magnification, where the surface is deformed, is appended as
        ``(deformation x<scale>)``.
    label : str
        Colour bar label, with the units, e.g. ``"|u| (m)"``.
    scale : float, optional
        Magnification of ``u``; by default :func:`magnification` (the largest
        displacement drawn as 10 % of the bounding-box diagonal).
    cmap : str
        Matplotlib colour map.  The shading darkens the colours, so maps without a
        near-black end read best (``"coolwarm"``, ``"Spectral_r"``, ``"YlOrRd"``).
    views : sequence of (float, float)
        ``(elevation, azimuth)`` in degrees of each picture.
    outline : bool
        Draw the feature edges of the undeformed surface as faint dashed lines.

    Returns
    -------
    Path
        ``path``. The image is ``5 * len(views) + 1.2`` by 5 inches at 120 dpi
        (1344 x 600 pixels with two views).

    Raises
    ------
    ValueError
        For arrays of the wrong shape, non-finite values, a negative or non-finite
        ``scale``, or no view.
    """
    P = _points(points)
    T, N0, _ = boundary_triangles(P, cells)
    s = _node_array(scalar, P.shape[0], None, "scalar")
    views = [(float(e), float(a)) for e, a in views]
    if not views:
        raise ValueError("views must name at least one (elevation, azimuth)")
    X = P
    if u is not None:
        U = _node_array(u, P.shape[0], 3, "u")
        if scale is None:
            scale = magnification(P, U)
        elif not (np.isfinite(scale) and scale >= 0):
            raise ValueError(f"scale must be non-negative and finite, got {scale}")
        X = P + scale * U
        title = f"{title} (deformation x{scale:.3g})".strip()
    used = np.unique(T)
    lo = np.minimum(X[used].min(axis=0), P[used].min(axis=0))
    hi = np.maximum(X[used].max(axis=0), P[used].max(axis=0))
    pad = 0.02 * float(np.max(hi - lo)) or 1.0
    lo, hi = lo - pad, hi + pad
    face = s[T].mean(axis=1)
    vmin, vmax = float(face.min()), float(face.max())
    if vmax <= vmin:
        vmin, vmax = vmin - 0.5 * (abs(vmin) or 1.0), vmax + 0.5 * (abs(vmax) or 1.0)
    norm = Normalize(vmin, vmax)
    colormap = plt.get_cmap(cmap)
    rgba = colormap(norm(face))
    edges = None
    if outline:
        segments, sides = _feature_edges(P, T, N0)
        edges = (segments, N0[sides])
    width = _VIEW_WIDTH * len(views) + 1.2
    fig = plt.figure(figsize=(width, 5.0))
    for k, (elev, azim) in enumerate(views):
        box = (_VIEW_WIDTH * k / width, 0.0, _VIEW_WIDTH / width, 0.9)
        _draw_view(fig.add_axes(box, projection="3d"), X, T, rgba, edges, elev, azim, lo, hi)
    cax = fig.add_axes(((_VIEW_WIDTH * len(views) + 0.1) / width, 0.12, 0.15 / width, 0.7))
    fig.colorbar(ScalarMappable(norm, colormap), cax=cax, label=label)
    fig.suptitle(title, y=0.97)
    return save_figure(fig, path, dpi=FIGURE_DPI, tight=False)


def case_surface_figures(
    points: np.ndarray,
    cells: np.ndarray,
    fields: dict[str, np.ndarray],
    outdir: str | os.PathLike,
) -> list[Path]:
    """The field figures of a 3D case on its deformed surface, all at one magnification.

    Parameters
    ----------
    points : ndarray, shape (P, 3)
        Node coordinates (m).
    cells : ndarray of int, shape (M, 4)
        Tetrahedra.
    fields : dict
        :meth:`pinngelu.Solution.fields` at ``points``: ``displacement`` (P, 3) (m),
        ``von_mises`` (P,) (Pa) and, where an exact solution is known,
        ``displacement_error`` (P, 3) (m).
    outdir : path
        Existing folder.

    Returns
    -------
    list of Path
        ``displacement.png`` (``|u|``), ``von_mises.png`` and, with an exact solution,
        ``error.png`` (``|u - u_exact|``).
    """
    outdir = Path(outdir)
    u = fields["displacement"]
    scale = magnification(points, u)
    figures = [
        ("displacement.png", np.linalg.norm(u, axis=1), "displacement", "|u| (m)", "Spectral_r"),
        ("von_mises.png", fields["von_mises"], "von Mises stress", "von Mises (Pa)", "coolwarm"),
    ]
    if "displacement_error" in fields:
        err = np.linalg.norm(fields["displacement_error"], axis=1)
        figures.append(("error.png", err, "displacement error", "|u - u_exact| (m)", "YlOrRd"))
    return [
        plot_surface(points, cells, u, v, outdir / name, title, label, scale=scale, cmap=cm)
        for name, v, title, label, cm in figures
    ]
