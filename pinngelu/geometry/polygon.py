"""Simple polygons (convex or not, either orientation): :class:`Polygon`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ._checks import FloatArray, _as_real_array, _check_measure
from .base import Geometry
from .distance import DistanceFunction, HalfSpace, r_equivalence, segment_distance
from .simplex import _segment_distance


def _segments_intersect(p1: FloatArray, p2: FloatArray, q1: FloatArray, q2: FloatArray) -> bool:
    def orient(a: FloatArray, b: FloatArray, c: FloatArray) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    scale = max(float(np.max(np.abs(np.stack([p1, p2, q1, q2])))), 1.0)
    eps = 1e-12 * scale * scale

    def on_seg(a: FloatArray, b: FloatArray, c: FloatArray) -> bool:
        return bool(
            min(a[0], b[0]) - 1e-12 * scale <= c[0] <= max(a[0], b[0]) + 1e-12 * scale
            and min(a[1], b[1]) - 1e-12 * scale <= c[1] <= max(a[1], b[1]) + 1e-12 * scale
        )

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    if ((d1 > eps and d2 < -eps) or (d1 < -eps and d2 > eps)) and (
        (d3 > eps and d4 < -eps) or (d3 < -eps and d4 > eps)
    ):
        return True
    return (
        (abs(d1) <= eps and on_seg(q1, q2, p1))
        or (abs(d2) <= eps and on_seg(q1, q2, p2))
        or (abs(d3) <= eps and on_seg(p1, p2, q1))
        or (abs(d4) <= eps and on_seg(p1, p2, q2))
    )


class Polygon(Geometry):
    """Simple polygon (convex or not, either orientation).

    Parameters
    ----------
    vertices : array_like, shape (k, 2)
        Vertices in order (length units), ``k >= 3``, without repeating the first vertex.
        Edge ``i`` joins vertex ``i`` to vertex ``(i + 1) % k``.
    part_names : sequence of str, optional
        Name of the boundary part of each edge, length ``k``. Edges sharing a name form one
        part. Default ``("edge0", "edge1", ...)``.

    Notes
    -----
    Boundary parts are listed in order of first appearance. Normals point outwards whether the
    vertices are given clockwise or counter-clockwise.
    """

    dim = 2

    def __init__(self, vertices: ArrayLike, part_names: Sequence[str] | None = None) -> None:
        V = _as_real_array(vertices, "vertices")
        if V.ndim != 2 or V.shape[1] != 2 or V.shape[0] < 3:
            raise ValueError(f"vertices must have shape (k, 2) with k >= 3, got {V.shape}")
        if not np.all(np.isfinite(V)):
            raise ValueError("vertices must be finite")
        k = V.shape[0]
        E = np.roll(V, -1, axis=0) - V
        lengths = np.linalg.norm(E, axis=1)
        scale = float(np.max(np.abs(V))) + float(np.max(lengths))
        if not scale > 0.0 or not np.isfinite(scale):
            raise ValueError(f"degenerate polygon: the vertices span no extent ({V.tolist()})")
        if np.any(lengths <= 1e-12 * scale):
            i = int(np.argmin(lengths))
            raise ValueError(
                f"degenerate polygon: edge {i} has zero length (vertices {i} and {(i + 1) % k} "
                f"coincide at {V[i].tolist()}, or are closer than 1e-12 of the polygon's size)"
            )
        sv = np.linalg.svd(V - V.mean(axis=0), compute_uv=False)
        if not sv[1] > 1e-12 * sv[0]:
            raise ValueError(
                f"degenerate polygon: zero area (all {k} vertices are collinear: {V.tolist()})"
            )
        for i in range(k):
            for j in range(i + 2, k):
                if i == 0 and j == k - 1:
                    continue
                if _segments_intersect(V[i], V[(i + 1) % k], V[j], V[(j + 1) % k]):
                    raise ValueError(f"self-intersecting polygon: edges {i} and {j} intersect")
        area2 = float(np.sum(V[:, 0] * np.roll(V[:, 1], -1) - np.roll(V[:, 0], -1) * V[:, 1]))
        if not abs(area2) > 1e-12 * scale * scale:
            raise ValueError(
                "degenerate polygon: zero area (the vertices are collinear, or the polygon is "
                f"thinner than 1e-12 of its size); |area| = {0.5 * abs(area2):.3g}"
            )
        _check_measure("Polygon", 0.5 * abs(area2), "area")
        for i in range(k):
            j = (i + 1) % k
            cross = E[i, 0] * E[j, 1] - E[i, 1] * E[j, 0]
            if abs(cross) <= 1e-12 * lengths[i] * lengths[j] and float(E[i] @ E[j]) < 0:
                raise ValueError(f"self-intersecting polygon: edges {i} and {j} fold back")
        if part_names is None:
            edge_names = [f"edge{i}" for i in range(k)]
        else:
            edge_names = [str(s) for s in part_names]
            if len(edge_names) != k:
                raise ValueError(
                    f"part_names must have one name per edge ({k}), got {len(edge_names)}"
                )
        self.vertices = V
        self.edge_names = tuple(edge_names)
        self._area = 0.5 * abs(area2)
        self._ccw = area2 > 0
        self._edges = E
        self._lengths = lengths
        T = E / lengths[:, None]
        Nrm = np.column_stack([T[:, 1], -T[:, 0]])
        self._normals = Nrm if self._ccw else -Nrm
        names: list[str] = []
        for s in edge_names:
            if s not in names:
                names.append(s)
        self._names = tuple(names)
        self._part_edges = [
            np.array([i for i in range(k) if edge_names[i] == s], dtype=np.int64) for s in names
        ]
        self._part_cum = []
        for ed in self._part_edges:
            c = np.concatenate([[0.0], np.cumsum(lengths[ed])])
            self._part_cum.append(c / c[-1])

    def __repr__(self) -> str:
        return f"Polygon({self.vertices.tolist()}, part_names={list(self.edge_names)})"

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    @property
    def measure(self) -> float:
        return self._area

    @property
    def boundary_parts(self) -> tuple[str, ...]:
        return self._names

    def _phi(self, X: FloatArray) -> FloatArray:
        V = self.vertices
        k = V.shape[0]
        dist = np.full(X.shape[0], np.inf)
        inside = np.zeros(X.shape[0], dtype=bool)
        for i in range(k):
            a, b = V[i], V[(i + 1) % k]
            dist = np.minimum(dist, _segment_distance(X, a, b))
            cond = (a[1] > X[:, 1]) != (b[1] > X[:, 1])
            with np.errstate(divide="ignore", invalid="ignore"):
                xc = a[0] + (X[:, 1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            inside ^= cond & (X[:, 0] < xc)
        return np.where(inside, -dist, dist)

    def _base_measure(self, k: int) -> float:
        return float(np.sum(self._lengths[self._part_edges[k]]))

    def _part_breaks(self, k: int) -> FloatArray:
        return self._part_cum[k]

    def _part_map(self, k: int, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        cum = self._part_cum[k]
        ed = self._part_edges[k]
        t = u[:, 0]
        j = np.clip(np.searchsorted(cum, t, side="right") - 1, 0, len(ed) - 1)
        local = np.clip((t - cum[j]) / (cum[j + 1] - cum[j]), 0.0, 1.0)
        e = ed[j]
        X = self.vertices[e] + local[:, None] * self._edges[e]
        return X, self._normals[e].copy()

    def _part_distance(self, k: int, inside: bool) -> DistanceFunction:
        V = self.vertices
        scale = float(np.max(np.ptp(V, axis=0)))
        parts: list[DistanceFunction] = []
        for e in self._part_edges[k]:
            a, b = V[e], V[(e + 1) % V.shape[0]]
            n_in = -self._normals[e]
            # the polygon on one side of the edge's line: the exact half-plane distance
            if inside and np.all((V - a) @ n_in >= -1e-12 * scale):
                parts.append(HalfSpace(a, n_in))
            else:
                parts.append(segment_distance(a, b, n_in if inside else -n_in))
        return r_equivalence(parts)
