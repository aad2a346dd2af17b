"""2D wedges: the ends of the boundary pieces matched into corners (re-entrant ones,
facets of a curved mesh boundary left out, the ends of displacement conditions), and
the points inside a piece where a predicate switches a displacement condition."""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..geometry import Geometry
from .conditions import _Conditions
from .pieces import _ccw, _Pieces, _pieces
from .point import (
    _OTHER,
    ANGLE_TOL,
    FACET_TURN_MAX,
    FLAT_TOL,
    MESH_ANGLE_TOL,
    _curve_facets,
    _Wedge,
)

# local parameter of the probe points next to a piece's ends (2D), and the samples along
# a piece where predicates are watched for switches
_PROBE = 1e-7
_SWITCH_SAMPLES = 65


def _ccw_angle(da: np.ndarray, db: np.ndarray) -> np.ndarray:
    """Counter-clockwise angle (rad) in (0, 2 pi] from ``da (n, 2)`` to ``db (n, 2)``."""
    cross = da[:, 0] * db[:, 1] - da[:, 1] * db[:, 0]
    ang = np.mod(np.arctan2(cross, np.sum(da * db, axis=1)), 2.0 * np.pi)
    return np.where(ang <= 0.0, 2.0 * np.pi, ang)


def _match_ends(pos: np.ndarray, dirs: np.ndarray, out: np.ndarray, tol: float) -> np.ndarray:
    """Pairs ``(J, 2)`` of end indices (outgoing, incoming) that meet at a point: each
    outgoing end with the incoming end at the smallest counter-clockwise angle."""
    m = pos.shape[0]
    pairs = cKDTree(pos).query_pairs(tol, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
    _, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    counts = np.bincount(label)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    two = np.flatnonzero(counts == 2)
    e1, e2 = order[start[two]], order[start[two] + 1]
    ok = out[e1] != out[e2]
    a = np.where(out[e1], e1, e2)[ok]
    b = np.where(out[e1], e2, e1)[ok]
    res = [np.column_stack([a, b])]
    for c in np.flatnonzero(counts > 2):  # several pieces meet at one point
        members = order[start[c] : start[c] + counts[c]]
        outs, ins = members[out[members]], members[~out[members]]
        if ins.size == 0:
            continue
        for e in outs:
            ang = _ccw_angle(np.repeat(dirs[e][None], ins.size, axis=0), dirs[ins])
            res.append(np.array([[e, ins[int(np.argmin(ang))]]]))
    return np.concatenate(res).astype(np.int64)


def _wedges_2d(geom: Geometry, cond: _Conditions) -> list[_Wedge]:
    pc = _pieces(geom)
    n = pc.part.size
    lo, hi = (np.asarray(v, dtype=np.float64) for v in geom.bbox)
    diag = float(np.linalg.norm(hi - lo))
    pos = np.concatenate([pc.x0, pc.x1])
    dirs = np.concatenate([pc.t0, pc.t1])
    out = np.concatenate([pc.start_out, ~pc.start_out])
    piece = np.concatenate([np.arange(n), np.arange(n)])
    pairs = _match_ends(pos, dirs, out, 1e-7 * diag)
    a, b = pairs[:, 0], pairs[:, 1]
    angle = _ccw_angle(dirs[a], dirs[b])
    # the codes on both sides, at probe points next to the corner
    probes = None
    if cond.predicates:
        ends = np.concatenate([a, b])
        s = np.where(ends < n, _PROBE, 1.0 - _PROBE)
        probes, _ = pc.at(piece[ends], s)
    codes = cond.codes(pc.part[piece[np.concatenate([a, b])]], probes)
    ca, cb = codes[: a.size], codes[a.size :]
    turn = angle - np.pi
    tol = MESH_ANGLE_TOL if pc.faceted else ANGLE_TOL
    reentrant = turn > tol
    if pc.faceted:
        junction = np.full(2 * n, -1, dtype=np.int64)
        junction[a] = np.arange(a.size)
        junction[b] = np.arange(a.size)
        check = np.flatnonzero(reentrant & (turn <= FACET_TURN_MAX))
        nb_turn = np.full(check.size, -np.inf)
        for i, j in enumerate(check):
            for e in (a[j], b[j]):  # the next vertex that turns, along either side
                k = junction[(e + n) % (2 * n)]
                for _ in range(a.size):
                    if k < 0 or k == j or abs(turn[k]) >= FLAT_TOL:
                        break
                    e2 = a[k] if b[k] == (e + n) % (2 * n) else b[k]
                    e = e2
                    k = junction[(e + n) % (2 * n)]
                if k >= 0 and k != j:
                    nb_turn[i] = max(nb_turn[i], turn[k])
        reentrant[check] &= ~_curve_facets(turn[check], nb_turn)
    keep = (ca != _OTHER) & (cb != _OTHER) & ((ca != cb) | reentrant)
    wedges = []
    for j in np.flatnonzero(keep):
        wedges.append(
            _Wedge(
                0.5 * (pos[a[j]] + pos[b[j]]),
                float(angle[j]),
                (int(ca[j]), int(cb[j])),
                (int(pc.part[piece[a[j]]]), int(pc.part[piece[b[j]]])),
                dirs[a[j]].copy(),
                dirs[b[j]].copy(),
                "re-entrant corner" if reentrant[j] else "end of a displacement condition",
                approx=pc.faceted,
            )
        )
    if cond.predicates:
        wedges += _switches_2d(pc, cond)
    return wedges


def _switches_2d(pc: _Pieces, cond: _Conditions) -> list[_Wedge]:
    """Points inside pieces where a predicate switches a displacement condition."""
    n = pc.part.size
    m = 5 if pc.faceted else _SWITCH_SAMPLES
    s = np.linspace(_PROBE, 1.0 - _PROBE, m)
    ids = np.repeat(np.arange(n), m)
    X, _ = pc.at(ids, np.tile(s, n))
    C = cond.codes(pc.part[ids], X).reshape(n, m)
    pi, si = np.nonzero(C[:, 1:] != C[:, :-1])
    if pi.size == 0:
        return []
    lo, hi = s[si].copy(), s[si + 1].copy()
    c_lo = C[pi, si]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        Xm, _ = pc.at(pi, mid)
        same = cond.codes(pc.part[pi], Xm) == c_lo
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    Xs, Ns = pc.at(pi, 0.5 * (lo + hi))
    T = _ccw(Ns)
    c_hi = C[pi, si + 1]
    wedges = []
    for j in range(pi.size):
        fwd = bool(pc.start_out[pi[j]])  # the parameter runs counter-clockwise
        ca, cb = (c_hi[j], c_lo[j]) if fwd else (c_lo[j], c_hi[j])
        if _OTHER in (ca, cb) or ca == cb:
            continue
        k = int(pc.part[pi[j]])
        wedges.append(
            _Wedge(
                Xs[j],
                math.pi,
                (int(ca), int(cb)),
                (k, k),
                T[j].copy(),
                -T[j],
                "end of a displacement condition",
            )
        )
    return wedges
