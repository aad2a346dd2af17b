"""Conforming simplex meshes of analytic domains (for exporting fields).

Boundary points along every part, a regular lattice inside, Delaunay triangulation, and
removal of the cells outside the domain; see :meth:`pinngelu.geometry.Geometry.mesh`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import Delaunay, cKDTree

from ._checks import FloatArray, IntArray, _positive
from .partint import part_intervals
from .simplex import _simplex_volumes

if TYPE_CHECKING:
    from .base import Geometry


def _boundary_mesh_points(geom: Geometry, h: float) -> FloatArray:
    d = geom.dim
    pts: list[FloatArray] = []
    for k in range(len(geom.boundary_parts)):
        base = geom._base_measure(k)
        if d == 2:
            if geom._part_has_filter(k):
                _, a, b = part_intervals(geom, k)
            else:
                a, b = np.array([0.0]), np.array([1.0])
            breaks = geom._part_breaks(k)
            us: list[FloatArray] = []
            for lo, hi in zip(a, b, strict=True):
                cuts = [lo, *[c for c in breaks if lo < c < hi], hi]
                for c0, c1 in zip(cuts[:-1], cuts[1:], strict=True):
                    m = max(
                        math.ceil((c1 - c0) * geom._part_min_segments(k) - 1e-9),
                        math.ceil((c1 - c0) * base / h - 1e-9),
                        1,
                    )
                    us.append(np.linspace(c0, c1, m + 1))
            if not us:
                continue
            u = np.concatenate(us)[:, None]
            X, _ = geom._part_map(k, u)
            pts.append(X)
        else:
            u = geom._part_mesh_u(k, h)
            X, N = geom._part_map(k, u)
            acc = geom._part_accept(k, X, N)
            if acc is not None:
                X = X[acc]
            pts.append(X)
    if not pts:
        return np.empty((0, d))
    return np.concatenate(pts)


def _lattice(geom: Geometry, h: float) -> FloatArray:
    lo, hi = geom.bbox
    if geom.dim == 2:
        dy = h * math.sqrt(3.0) / 2.0
        ny = int(math.floor((hi[1] - lo[1]) / dy)) + 1
        nx = int(math.floor((hi[0] - lo[0]) / h)) + 2
        rows = []
        for j in range(ny + 1):
            x = lo[0] + (0.5 * h if j % 2 else 0.0) + h * np.arange(nx)
            rows.append(np.column_stack([x, np.full(nx, lo[1] + j * dy)]))
        return np.concatenate(rows)
    n = np.floor((hi - lo) / h).astype(int) + 1
    axes = [lo[i] + h * np.arange(n[i] + 1) for i in range(3)]
    corner = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    centres = corner + 0.5 * h
    return np.concatenate([corner, centres])


def mesh_geometry(geom: Geometry, h: float) -> tuple[FloatArray, IntArray]:
    """Conforming simplex mesh of ``geom``; see :meth:`Geometry.mesh`."""
    h = _positive(h, "h")
    d = geom.dim
    lo, hi = geom.bbox
    est = float(np.prod((hi - lo) / h + 2.0))
    if est > 5e6:
        raise ValueError(f"mesh size h={h} is too small for this domain (about {est:.3g} points)")
    B = _boundary_mesh_points(geom, h)
    tree = cKDTree(B)
    dup = tree.query_pairs(1e-9 * h, output_type="ndarray")
    if len(dup):
        keep = np.ones(B.shape[0], dtype=bool)
        keep[dup[:, 1]] = False
        B = B[keep]
        tree = cKDTree(B)
    L = _lattice(geom, h)
    L = L[geom._phi(L) < -0.45 * h]
    if L.shape[0]:
        dist, _ = tree.query(L)
        L = L[dist > 0.45 * h]
    P = np.concatenate([B, L])
    tri = Delaunay(P)
    cells = np.asarray(tri.simplices, dtype=np.int64)
    cent = P[cells].mean(axis=1)
    cells = cells[geom.contains(cent, tol=0.0)]
    vol = _simplex_volumes(P, cells)
    good = np.abs(vol) > 1e-10 * h**d
    cells, vol = cells[good], vol[good]
    neg = vol < 0
    cells[neg, 0], cells[neg, 1] = cells[neg, 1].copy(), cells[neg, 0].copy()
    used = np.unique(cells)
    remap = np.full(P.shape[0], -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return P[used], remap[cells]
