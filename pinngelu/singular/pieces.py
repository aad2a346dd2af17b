"""The boundary of a 2D domain as pieces (polygon edges, mesh facets, the kept pieces of
the parametrised parts of analytic shapes and their differences) with their end data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from ..geometry import Difference, Geometry, MeshDomain, Polygon
from ..geometry.partint import part_intervals


@dataclass
class _Pieces:
    """The boundary of a 2D domain as pieces (edges, facets, arcs) with end data.

    ``t0``, ``t1``: unit directions into the piece at its start / end; ``start_out``:
    the piece leaves its start in the counter-clockwise walk (material on the left);
    ``at(ids, s)``: points and outward normals at local parameters ``s`` in (0, 1).
    """

    part: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    start_out: np.ndarray
    faceted: bool
    at: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _ccw(N: np.ndarray) -> np.ndarray:
    """The tangent of the counter-clockwise walk (material on the left) from the
    outward normals ``N (n, 2)``."""
    return np.column_stack([-N[:, 1], N[:, 0]])


def _segment_pieces(
    x0: np.ndarray, x1: np.ndarray, part: np.ndarray, normals: np.ndarray, faceted: bool
) -> _Pieces:
    """Straight pieces ``x0 -> x1`` walked counter-clockwise."""
    E = x1 - x0
    T = E / np.linalg.norm(E, axis=1)[:, None]

    def at(ids: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x0[ids] + s[:, None] * E[ids], normals[ids]

    n = x0.shape[0]
    return _Pieces(part, x0, x1, T, -T, np.ones(n, dtype=bool), faceted, at)


def _polygon_pieces(geom: Polygon) -> _Pieces:
    V = geom.vertices
    x0, x1 = V, np.roll(V, -1, axis=0)
    names = geom.boundary_parts
    part = np.array([names.index(s) for s in geom.edge_names], dtype=np.int64)
    area2 = float(np.sum(x0[:, 0] * x1[:, 1] - x1[:, 0] * x0[:, 1]))
    if area2 < 0:  # walk the edges backwards
        x0, x1 = x1, x0
    E = x1 - x0
    N = np.column_stack([E[:, 1], -E[:, 0]]) / np.linalg.norm(E, axis=1)[:, None]
    return _segment_pieces(x0.copy(), x1.copy(), part, N, faceted=False)


def _mesh_pieces(geom: MeshDomain) -> _Pieces:
    F = geom._fnodes  # oriented: the outward normal is the edge turned clockwise
    P = geom.points
    return _segment_pieces(P[F[:, 0]], P[F[:, 1]], geom._fpart.copy(), geom._fnormal, True)


def _cut_value(geom: Geometry, k: int, X: np.ndarray) -> np.ndarray:
    """A continuous function of the points ``X`` of part ``k`` (its parametrisation),
    <= 0 where a difference keeps them: the signed distances of the other operands."""
    if isinstance(geom, Difference):
        src, j, _ = geom._parts[k]
        if src == 0:
            return np.maximum(_cut_value(geom.a, j, X), -geom.b._phi(X))
        return np.maximum(_cut_value(geom.b, j, X), geom.a._phi(X))
    return np.full(X.shape[0], -np.inf)


def _polish_end(geom: Geometry, k: int, u0: float, breaks: np.ndarray) -> float:
    """The end ``u0`` of a kept interval of part ``k`` (found by bisection on the
    sampling filter) polished to a root of :func:`_cut_value`."""
    if not 0.0 < u0 < 1.0:
        return u0
    lo, hi = max(u0 - 1e-6, 0.0), min(u0 + 1e-6, 1.0)
    for c in breaks:  # stay on the piece (the map may jump at its breaks)
        if lo < c <= u0:
            lo = float(c)
        elif u0 < c < hi:
            hi = u0 + 0.999 * (float(c) - u0)

    def g(u: float) -> float:
        X, _ = geom._part_map(k, np.array([[u]]))
        return float(_cut_value(geom, k, X)[0])

    try:
        glo, ghi = g(lo), g(hi)
        if np.isfinite(glo) and np.isfinite(ghi) and glo * ghi < 0.0:
            return float(brentq(g, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=200))
    except (ValueError, RuntimeError):  # pragma: no cover - keep the bisection's end
        pass
    return u0


def _analytic_pieces(geom: Geometry) -> _Pieces:
    """Pieces of the parametrised boundary parts of an analytic 2D domain."""
    lo_, hi_ = (np.asarray(v, dtype=np.float64) for v in geom.bbox)
    diag = float(np.linalg.norm(hi_ - lo_))
    rows: list[tuple[int, float, float, bool]] = []
    for k in range(len(geom.boundary_parts)):
        breaks = np.asarray(geom._part_breaks(k), dtype=np.float64)
        if geom._part_has_filter(k):
            _, a, b = part_intervals(geom, k)
            a = [_polish_end(geom, k, float(u), breaks) for u in a]
            b = [_polish_end(geom, k, float(u), breaks) for u in b]
        else:
            a, b = [0.0], [1.0]
        base = geom._base_measure(k)
        for lo, hi in zip(a, b, strict=True):
            if (hi - lo) * base <= 1e-9 * diag:  # a sliver where two cuts touch
                continue
            tol = 1e-12 * max(hi - lo, 1e-300)
            inner = [float(c) for c in breaks if lo + tol < c < hi - tol]
            cuts = [lo, *inner, hi]
            for j in range(len(cuts) - 1):
                if cuts[j + 1] > cuts[j]:
                    rows.append((k, cuts[j], cuts[j + 1], j + 1 < len(cuts) - 1))
    part = np.array([r[0] for r in rows], dtype=np.int64)
    c0 = np.array([r[1] for r in rows])
    c1 = np.array([r[2] for r in rows])
    at_break = np.array([r[3] for r in rows], dtype=bool)

    def at(ids: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        u = c0[ids] + np.asarray(s, dtype=np.float64) * (c1[ids] - c0[ids])
        X = np.empty((ids.size, 2))
        N = np.empty((ids.size, 2))
        for k in np.unique(part[ids]):
            m = part[ids] == k
            X[m], N[m] = geom._part_map(int(k), u[m][:, None])
        return X, N

    n = part.size
    ids = np.arange(n)
    x0, _ = at(ids, np.zeros(n))
    # the end: direct, or extrapolated from inside where the map jumps at a break
    x1, _ = at(ids, np.ones(n))
    if np.any(at_break):
        b = ids[at_break]
        xa, _ = at(b, np.full(b.size, 1.0 - 1e-7))
        xb, _ = at(b, np.full(b.size, 1.0 - 2e-7))
        x1[at_break] = 2.0 * xa - xb
    # the tangents from the normals at the ends (just inside where the map jumps)
    _, n0 = at(ids, np.zeros(n))
    _, n1 = at(ids, np.where(at_break, 1.0 - 1e-9, 1.0))
    xs, _ = at(ids, np.full(n, 1e-3))
    T0, T1 = _ccw(n0), _ccw(n1)
    fwd = np.sum((xs - x0) * T0, axis=1) > 0.0  # the parameter runs counter-clockwise
    sgn = np.where(fwd, 1.0, -1.0)[:, None]
    return _Pieces(part, x0, x1, sgn * T0, -sgn * T1, fwd, False, at)


def _pieces(geom: Geometry) -> _Pieces:
    if isinstance(geom, Polygon):
        return _polygon_pieces(geom)
    if isinstance(geom, MeshDomain):
        return _mesh_pieces(geom)
    return _analytic_pieces(geom)
