"""Simplex meshes of analytic domains (for exporting fields, the quadrature and the
finite-element reference).

Boundary points along every part, a regular lattice inside, Delaunay triangulation, and
removal of the cells outside the domain; see :meth:`pinngelu.geometry.Geometry.mesh`.

Coplanar (3D) or collinear (2D) points make the Delaunay triangulation hold flat cells
of zero measure.  Dropping a flat cell inside the domain leaves the cells on its two
sides meeting on different facets (a gap with no volume, which a finite-element solver
sees as a crack).  ``mesh_geometry(..., conforming=True)`` repairs them instead
(:func:`repair_flat_cells`): the cells around a flat cell are split so that both sides
meet on the same facets.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import Delaunay, cKDTree

from ._checks import BoolArray, FloatArray, IntArray, _positive
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


def mesh_geometry(
    geom: Geometry, h: float, conforming: bool = False
) -> tuple[FloatArray, IntArray]:
    """Simplex mesh of ``geom``; see :meth:`Geometry.mesh`.

    Parameters
    ----------
    geom : Geometry
    h : float
        Target edge length (length units).
    conforming : bool
        Repair the flat cells of the Delaunay triangulation inside the domain
        (:func:`repair_flat_cells`) instead of dropping them, so that neighbouring cells
        always share whole facets (the finite-element reference needs it; the export
        and the quadrature do not, and keep the cells as they were).
    """
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
    inside = geom.contains(cent, tol=0.0)
    if conforming:
        P, cells, inside = repair_flat_cells(P, cells, 1e-10 * h**d, inside)
    cells = cells[inside]
    vol = _simplex_volumes(P, cells)
    good = np.abs(vol) > 1e-10 * h**d
    cells, vol = cells[good], vol[good]
    neg = vol < 0
    cells[neg, 0], cells[neg, 1] = cells[neg, 1].copy(), cells[neg, 0].copy()
    used = np.unique(cells)
    remap = np.full(P.shape[0], -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return P[used], remap[cells]


def repair_flat_cells(
    P: FloatArray, cells: IntArray, tol: float, flags: BoolArray | None = None
) -> tuple[FloatArray, IntArray, BoolArray]:
    """Split the cells around the flat cells of a triangulation so that it stays
    conforming once the flat cells are dropped.

    A flat cell (measure at most ``tol``) with flagged neighbours (cells of the domain)
    across all its facets lies between two layers of cells that meet it on different
    facets.  Its points are
    coplanar (3D) or collinear (2D), in one of three configurations:

    - one point inside the triangle of the other three (3D): the cells on that
      triangle are split at the point;
    - one point on the segment between two others: the cells holding that edge are
      split at the point;
    - four points forming a convex quadrilateral (3D): a point is added where its
      diagonals cross, and the cells holding either diagonal are split there.

    Every split replaces a cell by cells of the same orientation (the split point lies
    on the split edge or facet), and the pieces of the flat cell, which then hold a
    point twice, disappear.  Flat cells with a facet on the hull or only beside
    unflagged cells are left: dropping them leaves no gap, only boundary.

    Parameters
    ----------
    P : ndarray, shape (n, d)
        Points.
    cells : ndarray of int, shape (m, d + 1)
        A conforming triangulation of the points (e.g. Delaunay), either orientation.
    tol : float
        Cells of measure at most ``tol`` are flat.
    flags : ndarray of bool, shape (m,), optional
        A flag per cell (inside the domain; default all), inherited by the pieces of a
        split cell.

    Returns
    -------
    points : ndarray, shape (n', d)
        The points with the added crossing points appended.
    cells : ndarray of int, shape (m', d + 1)
        The cells, without flat ones.
    flags : ndarray of bool, shape (m',)
        The flags of the returned cells.
    """
    d = P.shape[1]
    k = d + 1
    cells = np.asarray(cells, dtype=np.int64)
    flags = np.ones(cells.shape[0], dtype=bool) if flags is None else np.asarray(flags, bool)
    vol = np.abs(_simplex_volumes(P, cells))
    flat = np.flatnonzero(vol <= tol)
    if flat.size == 0:
        return P, cells, flags
    pts = [row for row in P]
    cl: list[tuple[int, ...]] = [tuple(int(v) for v in c) for c in cells]
    fl = list(flags)
    alive = [True] * len(cl)
    v2c: dict[int, set[int]] = {}
    for t, c in enumerate(cl):
        for v in c:
            v2c.setdefault(v, set()).add(t)

    def holding(vs) -> set[int]:
        out = set(v2c.get(vs[0], ()))
        for v in vs[1:]:
            out &= v2c.get(v, set())
        return out

    def measure(c) -> float:
        V = np.array([pts[v] for v in c])
        return abs(float(np.linalg.det(V[1:] - V[0]))) / math.factorial(d)

    queue = [int(t) for t in flat]

    def replace(t: int, new: list[tuple[int, ...]]) -> None:
        alive[t] = False
        for v in cl[t]:
            v2c[v].discard(t)
        for c in new:
            if len(set(c)) < k:  # a piece of a flat cell holding a point twice
                continue
            cl.append(c)
            fl.append(fl[t])
            alive.append(True)
            n = len(cl) - 1
            for v in c:
                v2c.setdefault(v, set()).add(n)
            if measure(c) <= tol:
                queue.append(n)

    def split(vs: tuple[int, ...], s: int) -> None:
        """Split every cell holding the vertices ``vs`` (an edge or a facet) at ``s``."""
        for t in sorted(holding(vs)):
            c = cl[t]
            replace(t, [tuple(s if v == w else v for v in c) for w in vs])

    budget = 20 * len(queue) + 100
    while queue and budget > 0:
        budget -= 1
        t = queue.pop()
        if not alive[t] or measure(cl[t]) > tol:
            continue
        c = cl[t]
        facets = [tuple(v for v in c if v != w) for w in c]
        if any(not any(fl[o] for o in holding(f) if o != t) for f in facets):
            continue  # on the hull, or beside dropped cells: dropping it leaves no gap
        op = _flat_configuration(np.array([pts[v] for v in c]))
        if op is None:
            continue
        kind, a, b = op
        if kind == "point":  # c[a] on the edge or facet of the vertices b
            split(tuple(c[i] for i in b), c[a])
        else:  # a new point where the diagonals a and b cross
            pts.append(b)
            s = len(pts) - 1
            split((c[a[0]], c[a[1]]), s)
            split((c[a[2]], c[a[3]]), s)
    P = np.array(pts, dtype=float).reshape(-1, d)
    live = np.flatnonzero(alive)
    C = np.array(cl, dtype=np.int64).reshape(-1, k)[live]
    F = np.array(fl, dtype=bool)[live]
    good = np.abs(_simplex_volumes(P, C)) > tol
    return P, C[good], F[good]


def _flat_configuration(V: FloatArray):
    """How the points ``V`` (k, d) of a flat cell lie in their plane (line).

    Returns ``("point", i, others)`` when point ``i`` lies inside the triangle or on
    the segment of the points ``others`` (indices), ``("cross", (a, b, c, e), X)`` when
    the segments a-b and c-e cross at ``X`` (d,), or None (more degenerate).
    """
    k, d = V.shape
    c = V.mean(axis=0)
    _, sv, Vt = np.linalg.svd(V - c)
    scale = float(sv[0]) if sv[0] > 0 else 1.0
    m = d - 1  # the dimension of the plane (line)
    Q = (V - c) @ Vt[:m].T / scale  # in-plane coordinates, O(1)
    eps = 1e-9
    if m == 2:
        for i in range(k):  # a point inside the triangle of the others
            o = [j for j in range(k) if j != i]
            lam = _barycentric(Q[o], Q[i])
            if lam is not None and np.all(lam > eps):
                return "point", i, tuple(o)
    for i in range(k):  # a point on the segment between two others
        for a in range(k):
            for b in range(a + 1, k):
                if i in (a, b):
                    continue
                e = Q[b] - Q[a]
                t = float((Q[i] - Q[a]) @ e / (e @ e))
                if eps < t < 1 - eps and np.linalg.norm(Q[a] + t * e - Q[i]) < eps:
                    return "point", i, (a, b)
    if m == 2 and k == 4:
        for a, b, p, q in ((0, 1, 2, 3), (0, 2, 1, 3), (0, 3, 1, 2)):
            M = np.column_stack([Q[b] - Q[a], Q[p] - Q[q]])
            if abs(np.linalg.det(M)) < eps:
                continue
            s, t = np.linalg.solve(M, Q[p] - Q[a])
            if eps < s < 1 - eps and eps < t < 1 - eps:
                X = V[a] + s * (V[b] - V[a])
                return "cross", (a, b, p, q), X
    return None


def _barycentric(T: FloatArray, x: FloatArray) -> FloatArray | None:
    """Barycentric coordinates of ``x`` (2,) in the triangle ``T`` (3, 2), or None for
    a degenerate triangle."""
    M = np.column_stack([T[1] - T[0], T[2] - T[0]])
    if abs(np.linalg.det(M)) < 1e-12:
        return None
    l12 = np.linalg.solve(M, x - T[0])
    return np.array([1.0 - l12.sum(), l12[0], l12[1]])
