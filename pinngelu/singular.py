"""Singular points of an elasticity problem: where the stress of the solution is unbounded.

Near a corner of the boundary the displacement behaves like ``r^lam`` (Williams' modes,
:mod:`pinngelu.williams`), and the stress like ``r^(lam - 1)``: an exponent with
``0 < Re(lam) < 1`` makes the stress infinite at the corner.  This happens

- at a re-entrant corner (interior angle above 180 degrees) between two free or two
  clamped sides;
- where a displacement condition ends and a free (traction, pressure or no condition)
  part begins, at any angle: the ends of a clamp on a straight edge (180 degrees), the
  corner where a clamped edge meets a free one (90 degrees), ...

:func:`singular_points` finds these points from the problem's geometry and conditions
and lists those with at least one exponent ``0 < Re(lam) < 1``; in 3D the same wedges
along straight edges (re-entrant edges, the rims of a clamped face), with the exponents
of the plane-strain wedge of the same angle.

How each geometry is read
-------------------------
Polygon
    Its vertices and the part of each edge: exact positions and angles.  Two collinear
    edges of different parts meet at a 180-degree vertex (a clamp on half an edge).
Other 2D shapes (rectangles, disks, rings, sectors, differences ``a - b``)
    The boundary is walked along the parametrisations of the boundary parts: the kept
    pieces of each part (end points of differences found by bisection, then polished
    by a root search on the signed distance of the other operand, to rounding), cut at
    the parts' breaks; the pieces' ends are matched into junctions, whose interior
    angle comes from the one-sided tangents (curved sides included).
2D :class:`~pinngelu.geometry.MeshDomain`
    The boundary polyline of its facets.  A vertex is re-entrant when its interior
    angle exceeds 180 degrees by more than :data:`MESH_ANGLE_TOL` and it is not a
    facet corner of a curved boundary (below).
3D
    The boundary triangles of a mesh domain, or of ``geometry.mesh(h)`` for analytic
    shapes (each triangle given the part its vertices were sampled on; the angles and
    side directions then come from the parts' exact normals at the vertices).  Edges
    whose interior dihedral angle exceeds 180 degrees by :data:`MESH_ANGLE_TOL` (and
    that are not facet edges of a curved surface), or where a clamped facet meets a
    free one, are chained into straight segments (collinear, same sides and parts); for
    analytic shapes the segments' ends are then located on the shape by bisection on
    its signed distance.  A curved singular edge (the rim of a clamped curved face)
    comes out as one segment per mesh edge.

Facets of a curved boundary: a mesh vertex that turns by at most :data:`FACET_TURN_MAX`
beyond 180 degrees while the next vertex that turns (more than :data:`FLAT_TOL`) along
either side turns the same way by at least half as much is a facet corner of a curved
boundary, not a corner; in 3D the same with the edges around the edge's two facets
(around the flat regions they lie in) that run within 60 degrees of parallel to it.  So
a polygonal boundary whose consecutive corners all turn alike by less than 60 degrees
is taken for a curved one.  Angles read off a mesh are rounded to
:data:`MESH_ANGLE_STEP`.

Conditions: a side is ``"clamped"`` where Dirichlet conditions fix every displacement
component (whatever their values) and ``"free"`` where only tractions and pressures
act, or nothing; loads do not change the exponents.  A side with a Symmetry condition,
with some components displaced and others loaded, or whose condition a predicate
selects in part of a facet (3D), is not a side of these wedges: points with such a side
are not listed, whatever their angle.  Conditions on predicates are attributed point by
point: on each side of a corner at a point next to it (in 3D at the centroid of each
facet and next to its vertices); in 2D the points inside a side where a predicate
switches a displacement condition on or off are found too (by sampling and bisection).

Kinds: a point whose angle exceeds 180 degrees is a ``"re-entrant corner"`` (2D) or
``"re-entrant edge"`` (3D), whatever its sides; otherwise it is the ``"end of a
displacement condition"`` (a clamped side meets a free one).

Example
-------
>>> import pinngelu as pg
>>> from pinngelu.singular import singular_points
>>> geom = pg.Rectangle(0.0, 1.0, 0.0, 0.2)
>>> prob = pg.ElasticityProblem(geom, pg.Material.from_E_nu(210e9, 0.3),
...                             [pg.Dirichlet("left", 0.0)], plane_stress=True)
>>> [p.position.tolist() for p in singular_points(prob)]     # doctest: +SKIP
[[0.0, 0.0], [0.0, 0.2]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import brentq
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .elasticity import Dirichlet, Symmetry, prescribed_components
from .geometry import Difference, Geometry, MeshDomain, Polygon
from .geometry.boundary_sample import _eval_predicate
from .geometry.meshtopo import boundary_facets, split_cells
from .geometry.partint import part_intervals

if TYPE_CHECKING:
    from .problem import ElasticityProblem

__all__ = [
    "ANGLE_TOL",
    "FACET_TURN_MAX",
    "FLAT_TOL",
    "MESH_ANGLE_STEP",
    "MESH_ANGLE_TOL",
    "SingularPoint",
    "singular_points",
]

#: Angle (rad) by which a corner of an exact geometry (polygons, analytic shapes) must
#: exceed 180 degrees to count as re-entrant (rounding of the tangents).
ANGLE_TOL = 1e-9
#: Angle (rad) by which a vertex or edge of a mesh must exceed 180 degrees to count as
#: re-entrant (10 degrees): smaller turns are the facets of a curved boundary.
MESH_ANGLE_TOL = math.radians(10.0)
#: Largest turn (rad) beyond 180 degrees of a mesh vertex or edge that may be a facet
#: of a curved boundary (60 degrees): larger turns are always corners.
FACET_TURN_MAX = math.radians(60.0)
#: Turn (rad) below which a mesh vertex or edge is flat: where the facets of a curved
#: boundary are themselves split into several, the search for the neighbouring facet
#: corner goes on across such flat vertices and edges.
FLAT_TOL = math.radians(0.5)
#: Resolution (rad) of the angles of wedges read off a mesh (one degree): they are
#: rounded to it, and wedges of one rounded angle share their exponents.
MESH_ANGLE_STEP = math.radians(1.0)
#: Exponents with ``Re(lam) >= 1 - EXPONENT_TOL`` do not make a point singular.
EXPONENT_TOL = 1e-8

_FREE, _CLAMPED, _OTHER = 0, 1, 2
_SIDE_NAMES = ("free", "clamped")
_KIND_ORDER = ("re-entrant corner", "re-entrant edge", "end of a displacement condition")
# local parameter of the probe points next to a piece's ends (2D), and the samples along
# a piece where predicates are watched for switches
_PROBE = 1e-7
_SWITCH_SAMPLES = 65


# ------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class SingularPoint:
    """A point (2D) or a straight edge (3D) where the stress is unbounded.

    Attributes
    ----------
    position : ndarray, shape (d,)
        The corner (m); in 3D the midpoint of :attr:`edge`.
    angle : float
        Interior angle of the wedge (rad), measured inside the material; in 3D the
        dihedral angle.
    sides : (str, str)
        The condition on side ``a`` and on side ``b``: ``"free"`` or ``"clamped"``.
    parts : (str or None, str or None)
        The boundary part names of side ``a`` and side ``b`` (None where a side could
        not be attributed to a part).
    direction_a : ndarray, shape (d,)
        Unit vector along side ``a``, from the corner into the side (the tangent at the
        corner for a curved side).
    direction_b : ndarray, shape (d,)
        Unit vector along side ``b``, likewise.
    exponents : ndarray, complex
        The Williams exponents ``lam`` (``u ~ r^lam``) with ``0 < Re(lam) < 1``
        (:func:`pinngelu.williams.exponents`); a complex-conjugate pair once.
    kind : str
        ``"re-entrant corner"`` (2D) or ``"re-entrant edge"`` (3D) where the angle
        exceeds 180 degrees, otherwise ``"end of a displacement condition"`` (a clamped
        side meets a free one).
    edge : ndarray, shape (2, 3), or None
        3D only: the end points (m) of the straight singular edge.

    Notes
    -----
    Orientation: in 2D, turning ``direction_a`` counter-clockwise by ``angle`` gives
    ``direction_b`` and sweeps through the material; this is the local frame of
    :func:`pinngelu.williams.exponents` (side ``a`` along ``theta = 0``).  In 3D the
    same holds in the plane normal to the edge, for a right-handed turn about the edge
    direction ``edge[1] - edge[0]``: looking down that direction from its tip, the turn
    is counter-clockwise.
    """

    position: np.ndarray
    angle: float
    sides: tuple[str, str]
    parts: tuple[str | None, str | None]
    direction_a: np.ndarray
    direction_b: np.ndarray
    exponents: np.ndarray
    kind: str
    edge: np.ndarray | None = None

    @property
    def dim(self) -> int:
        """Spatial dimension (2 or 3)."""
        return int(np.asarray(self.position).shape[0])

    def __repr__(self) -> str:
        if self.edge is None:
            where = _fmt_point(self.position)
        else:
            where = f"{_fmt_point(self.edge[0])}-{_fmt_point(self.edge[1])}"
        lam = ", ".join(_fmt_complex(z) for z in np.asarray(self.exponents))
        return (
            f"SingularPoint({self.kind} at {where}, {math.degrees(self.angle):.6g} deg, "
            f"{self.sides[0]}-{self.sides[1]} (parts {self.parts[0]!r}, {self.parts[1]!r}), "
            f"exponents [{lam}])"
        )

    __str__ = __repr__


def _fmt_point(x: np.ndarray) -> str:
    return "(" + ", ".join(f"{float(v):.6g}" for v in np.asarray(x)) + ")"


def _fmt_complex(z: complex) -> str:
    z = complex(z)
    if z.imag == 0.0:
        return f"{z.real:.4f}"
    return f"{z.real:.4f}{z.imag:+.4f}j"


# ------------------------------------------------------------------- public API
ExponentFunction = Callable[..., np.ndarray]


def singular_points(
    problem: ElasticityProblem, exponents: ExponentFunction | None = None
) -> list[SingularPoint]:
    """The singular points of a problem: re-entrant corners and edges, and the ends of
    displacement conditions, whose Williams exponents make the stress unbounded.

    Parameters
    ----------
    problem : ElasticityProblem
        Geometry (2D or 3D), conditions, material (its Poisson ratio) and, in 2D,
        plane stress or plane strain.
    exponents : callable, optional
        ``exponents(angle, sides, nu, plane_stress) -> ndarray (complex)``, the
        exponents of a wedge; default :func:`pinngelu.williams.exponents`.

    Returns
    -------
    list of SingularPoint
        The points with at least one exponent ``0 < Re(lam) < 1``: re-entrant corners
        first, then ends of displacement conditions, each sorted by position; empty
        when there is none.  3D edges use the plane-strain exponents of their wedge.

    Notes
    -----
    See the module docstring for how each geometry is read and which sides are
    attributed.  The cost is that of a walk of the boundary (2D), or of the boundary
    facets of a mesh (3D), plus one exponent computation per distinct wedge.
    """
    fn = _default_exponents if exponents is None else exponents
    geom = problem.geometry
    cond = _Conditions(problem)
    nu = float(problem.material.nu)
    if geom.dim == 2:
        wedges = _wedges_2d(geom, cond)
        plane_stress = bool(problem.plane_stress)
    else:
        wedges = _wedges_3d(geom, cond)
        plane_stress = False
    names = geom.boundary_parts
    cache: dict[tuple, np.ndarray] = {}
    out: list[SingularPoint] = []
    for w in wedges:
        angle = w.angle
        if w.approx:
            angle = max(round(angle / MESH_ANGLE_STEP), 1) * MESH_ANGLE_STEP
        sides = (_SIDE_NAMES[w.codes[0]], _SIDE_NAMES[w.codes[1]])
        key = (round(angle, 12), sides)
        if key not in cache:
            lam = np.asarray(fn(angle, sides, nu, plane_stress), dtype=complex).reshape(-1)
            cache[key] = lam[(lam.real > 0.0) & (lam.real < 1.0 - EXPONENT_TOL)]
        lam = cache[key]
        if lam.size == 0:
            continue
        pa, pb = (names[k] if k >= 0 else None for k in w.parts)
        out.append(
            SingularPoint(
                position=np.asarray(w.position, dtype=np.float64),
                angle=float(angle),
                sides=sides,
                parts=(pa, pb),
                direction_a=np.asarray(w.da, dtype=np.float64) + 0.0,
                direction_b=np.asarray(w.db, dtype=np.float64) + 0.0,
                exponents=lam.copy(),
                kind=w.kind,
                edge=None if w.edge is None else np.asarray(w.edge, dtype=np.float64),
            )
        )
    out.sort(key=lambda p: (_KIND_ORDER.index(p.kind), *np.round(p.position, 12).tolist()))
    return out


@lru_cache(maxsize=256)
def _cached_williams(angle: float, sides: tuple[str, str], nu: float, ps: bool) -> np.ndarray:
    from .williams import exponents

    return np.asarray(exponents(angle, sides, nu, ps), dtype=complex)


def _default_exponents(angle: float, sides, nu: float, plane_stress: bool) -> np.ndarray:
    return _cached_williams(float(angle), tuple(sides), float(nu), bool(plane_stress)).copy()


@dataclass
class _Wedge:
    """A candidate singular point before its exponents are known."""

    position: np.ndarray
    angle: float
    codes: tuple[int, int]
    parts: tuple[int, int]
    da: np.ndarray
    db: np.ndarray
    kind: str
    edge: np.ndarray | None = None
    approx: bool = False


# ------------------------------------------------------------------- conditions
class _Conditions:
    """The kind of the condition (free, clamped, other) at boundary points."""

    def __init__(self, problem: ElasticityProblem) -> None:
        d = problem.dim
        names = problem.geometry.boundary_parts
        self.full = (1 << d) - 1
        self.disp = np.zeros(len(names), dtype=np.int64)
        self.sym = np.zeros(len(names), dtype=bool)
        self.predicates: list[tuple[Callable, int, bool]] = []
        for bc in problem.conditions:
            if isinstance(bc, Dirichlet):
                bits = sum(1 << int(c) for c in prescribed_components(bc, d))
                sym = False
            elif isinstance(bc, Symmetry):
                bits, sym = 0, True
            else:  # tractions and pressures do not change the exponents
                continue
            if isinstance(bc.part, str):
                k = names.index(bc.part)
                self.disp[k] |= bits
                self.sym[k] |= sym
            else:
                self.predicates.append((bc.part, bits, sym))

    def codes(self, part: np.ndarray, X: np.ndarray | None) -> np.ndarray:
        """Codes ``(n,)`` (free, clamped, other) at points ``X (n, d)`` of parts
        ``part (n,)`` (-1: unknown part, other); ``X`` may be None without
        predicates."""
        part = np.asarray(part, dtype=np.int64)
        known = part >= 0
        idx = np.where(known, part, 0)
        disp = np.where(known, self.disp[idx], 0)
        sym = np.where(known, self.sym[idx], False)
        if self.predicates and part.size:
            for pred, bits, s in self.predicates:
                m = _eval_predicate(pred, X)
                disp = np.where(m, disp | bits, disp)
                sym = sym | (m & s)
        code = np.where(disp == self.full, _CLAMPED, np.where(disp == 0, _FREE, _OTHER))
        return np.where(sym | ~known, _OTHER, code).astype(np.int64)


# ------------------------------------------------------------------- 2D boundary
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


def _curve_facets(turn: np.ndarray, neighbour_turn: np.ndarray) -> np.ndarray:
    """Re-entrant mesh vertices / edges taken for facets of a curved boundary."""
    return (turn <= FACET_TURN_MAX) & (neighbour_turn >= 0.5 * turn)


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


# ------------------------------------------------------------------- 3D boundary
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
