"""The boundary triangles of a 3D domain: a mesh domain's facets, or those of
``geometry.mesh(h)`` for analytic shapes with the part of each triangle and the
parts' exact normals at its nodes; the condition codes of the triangles."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..geometry import Geometry, MeshDomain
from ..geometry.meshtopo import boundary_facets, split_cells
from .conditions import _Conditions
from .point import _OTHER


def _mesh_size_3d(geom: Geometry) -> float:
    lo, hi = (np.asarray(v, dtype=np.float64) for v in geom.bbox)
    ext = hi - lo
    h = min(float(np.max(ext)) / 16.0, float(np.min(ext)) / 2.0)
    return max(h, float(np.prod(ext) / 1e5) ** (1.0 / 3.0))


@dataclass
class _Surface:
    """The boundary triangles of a 3D domain.

    ``F (nf, 3)``: node indices, ordered so that the normal points outwards;
    ``normals (nf, 3)``; ``part (nf,)``: part index (-1: unknown).  For analytic shapes
    (``h`` the mesh size, ``exact`` False) also ``member (nv, n_parts)``: the nodes
    sampled on each part, with the part's exact outward normal there,
    ``part_normals (nv, n_parts, 3)``."""

    P: np.ndarray
    F: np.ndarray
    normals: np.ndarray
    part: np.ndarray
    exact: bool
    h: float = 0.0
    member: np.ndarray | None = None
    part_normals: np.ndarray | None = None


def _attribute_parts(
    geom: Geometry, P: np.ndarray, F: np.ndarray, normals: np.ndarray, h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The part of each boundary facet ``F (nf, 3)`` of ``geom.mesh(h)``, from the
    parts' samples the mesh's boundary nodes are: a part all three nodes were sampled on
    (the one whose normals agree best with the facet's), else the part of some node
    whose normal agrees with the facet's within 20 degrees, else -1.  Also the
    membership ``(nv, n_parts)`` of the nodes and the parts' normals there."""
    xs, ns, ks = [], [], []
    n_parts = len(geom.boundary_parts)
    for k in range(n_parts):  # the boundary points of :func:`mesh_geometry`
        u = geom._part_mesh_u(k, h)
        X, N = geom._part_map(k, u)
        acc = geom._part_accept(k, X, N)
        if acc is not None:
            X, N = X[acc], N[acc]
        xs.append(X)
        ns.append(N)
        ks.append(np.full(X.shape[0], k, dtype=np.int64))
    Xs, Ns, Ks = np.concatenate(xs), np.concatenate(ns), np.concatenate(ks)
    nv = P.shape[0]
    member = np.zeros((nv, n_parts), dtype=bool)
    nrm = np.zeros((nv, n_parts, 3))
    nodes = np.unique(F)
    near = cKDTree(Xs).query_ball_point(P[nodes], r=1e-8 * h)
    for v, lst in zip(nodes, near, strict=True):
        for j in lst:
            member[v, Ks[j]] = True
            nrm[v, Ks[j]] = Ns[j]
    mem = member[F]  # (nf, 3, n_parts)
    count = mem.sum(axis=1)
    agree = np.einsum("fvkd,fd->fk", nrm[F], normals) / np.maximum(count, 1)
    every = count == 3
    some = (count > 0) & (agree > math.cos(math.radians(20.0)))
    score = np.where(every, agree + 4.0, np.where(some, agree, -np.inf))
    part = np.argmax(score, axis=1)
    part = np.where(np.isfinite(score[np.arange(F.shape[0]), part]), part, -1)
    return part.astype(np.int64), member, nrm


def _surface_3d(geom: Geometry) -> _Surface:
    if isinstance(geom, MeshDomain):
        return _Surface(geom.points, geom._fnodes, geom._fnormal, geom._fpart.copy(), True)
    h = _mesh_size_3d(geom)
    P, cells = geom.mesh(h)
    _, cands = split_cells(P, [("tetra", cells)])
    bnd = boundary_facets(P, cands, repr(geom))
    part, member, nrm = _attribute_parts(geom, P, bnd.nodes, bnd.normals, h)
    return _Surface(P, bnd.nodes, bnd.normals, part, False, h, member, nrm)


def _facet_codes(cond: _Conditions, P: np.ndarray, F: np.ndarray, part: np.ndarray):
    """Codes per facet; with predicates, those at the centroid and next to each vertex
    must agree (else other)."""
    if not cond.predicates:
        return cond.codes(part, None)
    V = P[F]
    cen = V.mean(axis=1)
    code = cond.codes(part, cen)
    for i in range(3):
        ci = cond.codes(part, V[:, i] + 1e-3 * (cen - V[:, i]))
        code = np.where(ci == code, code, _OTHER)
    return code
