"""Candidate 3D edges chained into straight segments (collinear, same sides and parts),
the ends of a segment of an analytic shape located on it by bisection."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry import Geometry
from .point import _Wedge


@dataclass
class _EdgeData:
    """Candidate mesh edges: nodes ``(n, 2)``, direction ``t`` (node 0 -> node 1),
    dihedral angle, the directions into the facets of side a and b, and the class
    ``(code a, code b, part a, part b)``."""

    edges: np.ndarray
    t: np.ndarray
    angle: np.ndarray
    da: np.ndarray
    db: np.ndarray
    cls: np.ndarray
    reentrant: np.ndarray

    def oriented_class(self, i: int, flip: bool) -> tuple[int, ...]:
        c = self.cls[i]
        return (int(c[1]), int(c[0]), int(c[3]), int(c[2])) if flip else tuple(int(v) for v in c)


def _chain_edges(
    geom: Geometry, P: np.ndarray, data: _EdgeData, exact: bool, h: float
) -> list[_Wedge]:
    """Chain collinear candidate edges of one class into straight segments."""
    n = data.edges.shape[0]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    incident: dict[int, list[int]] = {}
    for i, (v0, v1) in enumerate(data.edges.tolist()):
        incident.setdefault(v0, []).append(i)
        incident.setdefault(v1, []).append(i)
    for v, lst in incident.items():
        for x in range(len(lst)):
            for y in range(x + 1, len(lst)):
                i, j = lst[x], lst[y]
                ui = P[data.edges[i, 1] if data.edges[i, 0] == v else data.edges[i, 0]] - P[v]
                uj = P[data.edges[j, 1] if data.edges[j, 0] == v else data.edges[j, 0]] - P[v]
                cosang = ui @ uj / (np.linalg.norm(ui) * np.linalg.norm(uj))
                if cosang > -(1.0 - 1e-10):
                    continue
                c = -ui  # the chain's direction through v
                same = data.oriented_class(i, data.t[i] @ c < 0) == data.oriented_class(
                    j, data.t[j] @ c < 0
                )
                if same and abs(data.angle[i] - data.angle[j]) < math.radians(1.0):
                    parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    wedges = []
    for members in groups.values():
        c = data.t[members[0]]
        nodes = np.unique(data.edges[members])
        s = (P[nodes] - P[nodes[0]]) @ c
        p0, p1 = P[nodes[np.argmin(s)]].copy(), P[nodes[np.argmax(s)]].copy()
        c = (p1 - p0) / np.linalg.norm(p1 - p0)
        lead = c[np.flatnonzero(np.abs(c) > 1e-9)[0]]
        if lead < 0:  # run along the first coordinate that changes, upwards
            p0, p1, c = p1, p0, -c
        lengths = np.linalg.norm(P[data.edges[members, 1]] - P[data.edges[members, 0]], axis=1)
        da, db = np.zeros(3), np.zeros(3)
        for i, w in zip(members, lengths, strict=True):
            flip = data.t[i] @ c < 0
            da += w * (data.db[i] if flip else data.da[i])
            db += w * (data.da[i] if flip else data.db[i])
        da -= (da @ c) * c
        db -= (db @ c) * c
        da /= np.linalg.norm(da)
        db /= np.linalg.norm(db)
        ang = float(np.average(data.angle[members], weights=lengths))
        cls = data.oriented_class(members[0], data.t[members[0]] @ c < 0)
        if not exact and abs(ang - math.pi) > math.radians(30.0):
            p0 = _extend(geom, p0, -c, c, da, ang, h)
            p1 = _extend(geom, p1, c, c, da, ang, h)
        reentrant = bool(data.reentrant[members[0]])
        wedges.append(
            _Wedge(
                0.5 * (p0 + p1),
                ang,
                (cls[0], cls[1]),
                (cls[2], cls[3]),
                da,
                db,
                "re-entrant edge" if reentrant else "end of a displacement condition",
                np.stack([p0, p1]),
                approx=True,
            )
        )
    return wedges


def _extend(
    geom: Geometry,
    p: np.ndarray,
    step: np.ndarray,
    t: np.ndarray,
    da: np.ndarray,
    angle: float,
    h: float,
) -> np.ndarray:
    """Move the end ``p`` of an edge of an analytic shape along ``step`` (at most
    ``h``) while the wedge (``da`` turned by ``angle`` about ``t``) is still there:
    bisection on the signed distance at points around the edge."""
    lo_, hi_ = (np.asarray(v, dtype=np.float64) for v in geom.bbox)
    delta = 1e-6 * float(np.linalg.norm(hi_ - lo_))
    e2 = np.cross(t, da)
    inside = np.array([0.1, 0.5, 0.9]) * angle
    outside = angle + np.array([0.1, 0.5, 0.9]) * (2.0 * math.pi - angle)
    rays_in = np.cos(inside)[:, None] * da + np.sin(inside)[:, None] * e2
    rays_out = np.cos(outside)[:, None] * da + np.sin(outside)[:, None] * e2

    def present(s: float) -> bool:
        q = p + s * step
        phi_in = geom._phi(q + delta * rays_in)
        phi_out = geom._phi(q + delta * rays_out)
        return bool(np.all(phi_in < 0.0) and np.all(phi_out > 0.0))

    if not present(1e-3 * h):  # the edge ends at p (or bends there: a curved edge)
        return p
    if present(h):
        return p + h * step
    lo, hi = 0.0, h
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if present(mid):
            lo = mid
        else:
            hi = mid
    return p + lo * step
