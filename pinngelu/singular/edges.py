"""3D wedges: the edges of the boundary triangles where the surface turns re-entrant
(facets of a curved surface left out) or where a clamped facet meets a free one, with
their dihedral angles and sides."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..geometry import Geometry
from .chain import _chain_edges, _EdgeData
from .conditions import _Conditions
from .point import _OTHER, FACET_TURN_MAX, FLAT_TOL, MESH_ANGLE_TOL, _curve_facets, _Wedge
from .surface import _facet_codes, _Surface, _surface_3d


def _exact_wedges(
    srf: _Surface, nodes: np.ndarray, t: np.ndarray, da: np.ndarray, db: np.ndarray, parts
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Angles and side directions of mesh edges ``nodes (n, 2)`` of an analytic shape
    from the parts' exact normals at the nodes (where both parts were sampled at a
    node), the mesh's ``da``, ``db`` choosing the sides; ``ok (n,)`` where they are."""
    pa, pb = parts
    v0, v1 = nodes[:, 0], nodes[:, 1]
    out = []
    for k, dm in ((pa, da), (pb, db)):
        m0, m1 = srf.member[v0, k], srf.member[v1, k]
        n = m0[:, None] * srf.part_normals[v0, k] + m1[:, None] * srf.part_normals[v1, k]
        d = np.cross(t, n)
        d -= np.sum(d * t, axis=1)[:, None] * t
        norm = np.linalg.norm(d, axis=1)
        ok = (m0 | m1) & (norm > 1e-12)
        d = d / np.where(ok, norm, 1.0)[:, None]
        d = np.where((np.sum(d * dm, axis=1) < 0.0)[:, None], -d, d)
        out.append((np.where(ok[:, None], d, dm), ok))
    (da2, oka), (db2, okb) = out
    ok = oka & okb
    ang = np.mod(
        np.arctan2(np.sum(np.cross(da2, db2) * t, axis=1), np.sum(da2 * db2, axis=1)),
        2.0 * np.pi,
    )
    return ang, da2, db2, ok


def _wedges_3d(geom: Geometry, cond: _Conditions) -> list[_Wedge]:
    srf = _surface_3d(geom)
    P, F, normals, fpart = srf.P, srf.F, srf.normals, srf.part
    nf = F.shape[0]
    fcode = _facet_codes(cond, P, F, fpart)
    # every facet's three edges, with the opposite vertex
    I = np.concatenate([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]])
    W = np.concatenate([F[:, 2], F[:, 0], F[:, 1]])
    fac = np.tile(np.arange(nf), 3)
    key = np.sort(I, axis=1)
    edges, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    t = P[edges[:, 1]] - P[edges[:, 0]]
    t /= np.linalg.norm(t, axis=1)[:, None]
    d = P[W] - P[edges[inv, 0]]
    d -= np.sum(d * t[inv], axis=1)[:, None] * t[inv]
    d /= np.linalg.norm(d, axis=1)[:, None]
    # side a: the material lies counter-clockwise from it about t
    is_a = np.sum(np.cross(t[inv], d) * normals[fac], axis=1) < 0.0
    order = np.argsort(inv, kind="stable")
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ne = edges.shape[0]
    inc_a = np.full(ne, -1, dtype=np.int64)
    inc_b = np.full(ne, -1, dtype=np.int64)
    two = np.flatnonzero(counts == 2)
    i1, i2 = order[start[two]], order[start[two] + 1]
    ok = is_a[i1] != is_a[i2]
    inc_a[two[ok]] = np.where(is_a[i1], i1, i2)[ok]
    inc_b[two[ok]] = np.where(is_a[i1], i2, i1)[ok]
    for e in np.flatnonzero(counts > 2):  # non-manifold edges: nearest facet about t
        members = order[start[e] : start[e] + counts[e]]
        outs, ins = members[is_a[members]], members[~is_a[members]]
        if outs.size and ins.size:
            ang = [_angle_about(t[e], d[outs[0]], d[i]) for i in ins]
            inc_a[e], inc_b[e] = outs[0], ins[int(np.argmin(ang))]
    paired = inc_a >= 0
    angle = np.full(ne, np.pi)
    ia, ib = inc_a[paired], inc_b[paired]
    te = t[paired]
    angle[paired] = np.mod(
        np.arctan2(np.sum(np.cross(d[ia], d[ib]) * te, axis=1), np.sum(d[ia] * d[ib], axis=1)),
        2.0 * np.pi,
    )
    turn = angle - np.pi
    reentrant = paired & (turn > MESH_ANGLE_TOL)
    check = np.flatnonzero(reentrant & (turn <= FACET_TURN_MAX))
    if check.size:
        inc_fac = (np.where(paired, fac[inc_a], -1), np.where(paired, fac[inc_b], -1))
        nb_turn = _neighbour_turn_3d(P, F, inv.reshape(3, nf).T, edges, t, turn, inc_fac, check)
        reentrant[check] &= ~_curve_facets(turn[check], nb_turn)
    ca = np.where(paired, fcode[fac[np.where(paired, inc_a, 0)]], _OTHER)
    cb = np.where(paired, fcode[fac[np.where(paired, inc_b, 0)]], _OTHER)
    pa = np.where(paired, fpart[fac[np.where(paired, inc_a, 0)]], -1)
    pb = np.where(paired, fpart[fac[np.where(paired, inc_b, 0)]], -1)
    keep = paired & (ca != _OTHER) & (cb != _OTHER) & ((ca != cb) | reentrant)
    sel = np.flatnonzero(keep)
    if sel.size == 0:
        return []
    ang, da, db = angle[sel], d[inc_a[sel]], d[inc_b[sel]]
    if not srf.exact:  # the parts' exact normals where the nodes were sampled
        ang2, da2, db2, ok = _exact_wedges(srf, edges[sel], t[sel], da, db, (pa[sel], pb[sel]))
        ang = np.where(ok, ang2, ang)
        da, db = np.where(ok[:, None], da2, da), np.where(ok[:, None], db2, db)
    data = _EdgeData(
        edges=edges[sel],
        t=t[sel],
        angle=ang,
        da=da,
        db=db,
        cls=np.column_stack([ca[sel], cb[sel], pa[sel], pb[sel]]),
        reentrant=reentrant[sel],
    )
    return _chain_edges(geom, P, data, srf.exact, srf.h)


def _neighbour_turn_3d(
    P: np.ndarray,
    F: np.ndarray,
    fedges: np.ndarray,
    edges: np.ndarray,
    t: np.ndarray,
    turn: np.ndarray,
    inc_fac: tuple[np.ndarray, np.ndarray],
    check: np.ndarray,
) -> np.ndarray:
    """For the edges ``check``: the largest turn of the nearby edges that run roughly
    parallel to them (within 60 degrees) off their line, on a faceted curved surface
    the next edges across the strips of facets.  Nearby: the edges of the facets around
    the nodes of the flat regions (facets joined across edges turning less than
    :data:`FLAT_TOL`) of the edge's two facets."""
    nf = F.shape[0]
    fa, fb = inc_fac
    # flat regions of facets
    flat = np.flatnonzero((fa >= 0) & (np.abs(turn) < FLAT_TOL))
    graph = coo_matrix((np.ones(flat.size), (fa[flat], fb[flat])), shape=(nf, nf))
    _, region = connected_components(graph, directed=False)
    order = np.argsort(region, kind="stable")
    rstart = np.searchsorted(region[order], np.arange(region.max() + 2))
    # facets around each node
    nv = P.shape[0]
    vf = F.ravel()
    o = np.argsort(vf, kind="stable")
    ptr = np.searchsorted(vf[o], np.arange(nv + 1))
    vfac = np.repeat(np.arange(nf), 3)[o]
    out = np.full(check.size, -np.inf)
    for i, e in enumerate(check):
        v0, v1 = edges[e]
        regs = {int(region[fa[e]]), int(region[fb[e]])}
        facets = np.concatenate([order[rstart[r] : rstart[r + 1]] for r in regs])
        nodes = np.unique(F[facets])
        fan = np.unique(np.concatenate([vfac[ptr[v] : ptr[v + 1]] for v in nodes]))
        oe = np.unique(fedges[fan])
        oe = oe[np.abs(t[oe] @ t[e]) >= 0.5]
        # off the edge's line (its continuation is the same feature)
        r = P[edges[oe]] - P[v0]
        off = r - (r @ t[e])[..., None] * t[e]
        dist = np.linalg.norm(off, axis=2).max(axis=1)
        length = np.linalg.norm(P[v1] - P[v0])
        oe = oe[dist > 1e-6 * length]
        if oe.size:
            out[i] = float(np.max(turn[oe]))
    return out


def _angle_about(t: np.ndarray, da: np.ndarray, db: np.ndarray) -> float:
    """Counter-clockwise angle (rad) about ``t`` from ``da`` to ``db``, in [0, 2 pi)."""
    return float(np.mod(np.arctan2(np.cross(da, db) @ t, da @ db), 2.0 * np.pi))
