"""The finite-element mesh of a problem's geometry and the boundary facets of its parts."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from ..geometry import Geometry
from ..geometry.project import project_to_boundary
from ..geometry.quadrature import refine_simplices, refinement_levels


class FEMUnavailableError(ImportError, RuntimeError):
    """scikit-fem is not installed (the ``fem`` extra)."""


def _skfem():
    """The scikit-fem module, or :class:`FEMUnavailableError` naming the extra."""
    try:
        import skfem
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise FEMUnavailableError(
            "pinngelu.fem needs scikit-fem: pip install 'pinngelu[fem]' (or scikit-fem)"
        ) from exc
    return skfem


def check_available() -> None:
    """Raise :class:`FEMUnavailableError` when scikit-fem cannot be imported."""
    _skfem()


def fem_mesh(geometry: Geometry, h: float | None = None, curved: bool = True):
    """The scikit-fem mesh of ``geometry``: quadratic cells (``MeshTri2`` /
    ``MeshTet2``) whose boundary midside nodes lie on the exact boundary (``curved``,
    the default), or straight-sided ones (``MeshTri`` / ``MeshTet``).

    Parameters
    ----------
    geometry : Geometry
        Analytic shapes are meshed with :meth:`Geometry.mesh` at size ``h`` (m); a
        :class:`pinngelu.MeshDomain` gives its own mesh, uniformly refined until its
        cells are at most ``h`` (:func:`pinngelu.geometry.quadrature.refinement_levels`;
        none when ``h`` is not given), straight.
    h : float, optional
        Element size (m); default 1/40 of the largest extent of the bounding box.
    curved : bool
        Move the midside nodes of boundary facets (2D) or edges (3D) onto the zero
        level of the geometry's distance function (Newton steps), so that P2 elements
        keep their third-order displacement convergence on curved boundaries.
    """
    skfem = _skfem()
    straight = getattr(geometry, "straight_cells", False)
    if straight:
        P, cells = geometry.mesh(h)
        for _ in range(0 if h is None else refinement_levels(geometry, float(h))):
            P, cells = refine_simplices(P, cells)
    else:
        if h is None:
            lo, hi = geometry.bbox
            h = float(np.max(np.asarray(hi) - np.asarray(lo))) / 40.0
        P, cells = geometry.mesh(h)
    cls = skfem.MeshTri if geometry.dim == 2 else skfem.MeshTet
    mesh = cls(np.ascontiguousarray(P.T, dtype=float), np.ascontiguousarray(cells.T))
    if not curved or straight:
        return mesh
    return _curve(geometry, mesh, float(h))


def _curve(geometry: Geometry, mesh, h: float):
    """The quadratic mesh of ``mesh`` with boundary midside nodes projected onto the
    boundary of ``geometry``."""
    skfem = _skfem()
    cls = skfem.MeshTri2 if geometry.dim == 2 else skfem.MeshTet2
    m2 = cls.from_mesh(mesh)
    doflocs = np.array(m2.doflocs)
    idx = mesh.nvertices + (mesh.boundary_facets() if geometry.dim == 2 else mesh.boundary_edges())
    X = project_to_boundary(geometry, doflocs[:, idx].T, h)
    doflocs[:, idx] = X.T
    return cls(doflocs, np.array(m2.t))


def _part_samples(geometry: Geometry, k: int, spacing: float) -> np.ndarray:
    """Dense points ``(n, d)`` on boundary part ``k`` (about ``spacing`` apart)."""
    if geometry.dim == 2:
        n = max(200, math.ceil(geometry._base_measure(k) / spacing) + 1)
        u = np.linspace(0.0, 1.0, n)[:, None]
    else:
        l1, l2 = geometry._part_extent(k)
        n1 = max(20, math.ceil(l1 / spacing) + 1)
        n2 = max(20, math.ceil(l2 / spacing) + 1)
        g1, g2 = np.meshgrid(np.linspace(0, 1, n1), np.linspace(0, 1, n2), indexing="ij")
        u = np.column_stack([g1.ravel(), g2.ravel()])
    X, N = geometry._part_map(k, u)
    acc = geometry._part_accept(k, X, N)
    return X if acc is None else X[acc]


def facet_parts(geometry: Geometry, mesh) -> dict[str, np.ndarray]:
    """Boundary facets of ``mesh`` per named boundary part of ``geometry``.

    A facet belongs to the part nearest to all its vertices and its centroid (the
    largest of those distances, measured to dense points on each part, is the
    smallest for that part).

    Returns
    -------
    dict
        Part name -> facet indices (into ``mesh.facets``).

    Raises
    ------
    ValueError
        If a boundary facet lies on no part (farther than a quarter of its size).
    """
    bf = mesh.boundary_facets()
    V = mesh.p[:, mesh.facets[:, bf]]  # (d, nv, nf)
    V = np.moveaxis(V, 0, -1)  # (nv, nf, d)
    cen = V.mean(axis=0)
    names = geometry.boundary_parts
    if getattr(geometry, "straight_cells", False):  # a (refined) copy of a mesh domain
        part = geometry.part_of(cen)
        return {name: bf[part == k] for k, name in enumerate(names)}
    size = np.max(np.linalg.norm(V - cen[None], axis=-1), axis=0)
    spacing = 0.05 * float(np.min(size))
    score = np.full((len(names), bf.size), np.inf)
    for k in range(len(names)):
        S = _part_samples(geometry, k, spacing)
        if S.shape[0] == 0:
            continue
        tree = cKDTree(S)
        dist = tree.query(cen)[0]
        for v in V:
            dist = np.maximum(dist, tree.query(v)[0])
        score[k] = dist
    best = np.argmin(score, axis=0)
    far = score[best, np.arange(bf.size)] > 0.25 * size
    if np.any(far):
        i = int(np.flatnonzero(far)[0])
        raise ValueError(
            f"{int(far.sum())} boundary facet(s) of the mesh lie on no boundary part of "
            f"{geometry!r} (first centred at {cen[i].tolist()})"
        )
    return {name: bf[best == k] for k, name in enumerate(names)}


def select_facets(mesh, parts: dict[str, np.ndarray], part) -> np.ndarray:
    """Facets of a condition's part: a name, or a predicate on facet centroids."""
    if isinstance(part, str):
        return parts[part]
    bf = mesh.boundary_facets()
    cen = mesh.p[:, mesh.facets[:, bf]].mean(axis=1).T
    keep = np.asarray(part(cen), dtype=bool).reshape(-1)
    if keep.shape != (bf.size,):
        raise ValueError(f"the part predicate returned shape {keep.shape}, expected ({bf.size},)")
    return bf[keep]
