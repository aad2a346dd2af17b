"""Volume quadrature graded geometrically toward singular points: :class:`Grading`.

Near a re-entrant corner the displacement behaves like ``r^lam f(theta)`` and the
strain-energy density like ``r^(2 lam - 2)`` (``lam ~ 0.54`` at a 270 degree corner),
which cells of one size integrate poorly.  The quadratic cells of
:func:`~pinngelu.geometry.quadrature.volume_quadrature` are therefore subdivided
recursively in their reference coordinates: a sub-cell is the image of a sub-simplex of
the reference simplex under its cell's quadratic map, so curved cells keep their exact
shape.  Every level splits a simplex through its edge midpoints (a triangle into 4, a
tetrahedron into the 8 of Bey's rule), so the cells touching a grading point halve at
each level.  A (sub-)cell of level ``k`` is split again while its centroid is closer to
a grading point than ``r_k`` times its size (its longest edge),
``r_k = max(1, radius_factor 2^(-k / m))`` (``m = 7`` in 2D, 4 in 3D), at most
``levels`` times: the geometric mesh of hp-methods, its radius shrinking with the depth
because the deeper levels hold geometrically less of a singular energy.  Conformity is
not needed (hanging nodes are fine for a quadrature).

Rules on the leaves (weights: the rule's weights, fractions of the measure, times the
leaf's reference measure ``2^(-d k) / d!`` times ``|det J|`` of the cell's quadratic map
at the rule point):

- far leaves: the closed degree-3 rule of the unrefined cells, their points merged
  across sub-cells and cells by their exact (dyadic) barycentric coordinates on the
  nodes of the unrefined mesh;
- leaves whose centroid is within ``reach`` of their sizes from a grading point, and
  the leaves of the last level touching one: a closed conical product rule with
  ``order`` points per direction (:func:`product_rule`), its collapsed vertex, which
  carries no point, on the leaf's vertex nearest to the grading point (so a singular
  integrand stays finite).  On a triangle at ``R`` of its sizes from the singular
  point, the closed degree-3 rule integrates ``r^-0.9`` to a relative ``2e-4 R^-3.7``
  (``1.2e-8`` at ``R = 16``), the product rule of order 4 to ``7e-8`` at ``R = 2`` and
  ``4e-9`` at ``R = 4``: with the degree-3 rule alone, a relative 1e-8 of the energy
  would take ``R`` near 16 at every level.

Points coinciding exactly are merged (weights summed); all weights are positive.  Points
of sub-cells on a curved boundary face, and the few that sub-cells smaller than the
``O(h^3)`` distance between the quadratic and the exact boundary place outside it, are
moved onto the exact boundary, as the edge midpoints of the unrefined cells are.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import roots_jacobi

from ._checks import FloatArray, IntArray, _as_real_array
from .project import project_to_boundary

__all__ = ["Grading", "as_grading", "graded_cell_quadrature", "product_rule"]

_MAX_LEVELS = 48  # barycentric numerators 6 2^levels stay exact in int64
# defaults by dimension: levels, radius_factor, reach; and the levels over which the
# radius factor halves
_DEFAULTS = {2: (20, 3.0, 14.0), 3: (10, 2.0, 0.0)}
_HALVING = {2: 7.0, 3: 4.0}


@dataclass(frozen=True, eq=False)
class Grading:
    """Geometric refinement of the volume quadrature toward singular points (see the
    module docstring).

    Parameters
    ----------
    points : array_like, shape (k, d) or (d,)
        Points the cells are graded toward (length units), e.g. re-entrant corners,
        crack tips, the corners of a clamped edge.
    levels : int, optional
        Largest number of halvings (0 to 48): the cells touching a point shrink to
        about ``h 2^-levels``.  Default: 20 in 2D, 10 in 3D.
    radius_factor : float, optional
        ``>= 1``: a (sub-)cell of level ``k`` is split again while its centroid is closer
        to a point than ``max(1, radius_factor 2^(-k/m))`` times its size (its longest
        edge), ``m = 7`` in 2D, 4 in 3D.  Default: 3 in 2D, 2 in 3D.
    reach : float, optional
        ``>= 0``: leaves whose centroid is closer to a point than ``reach`` times their
        size take the product rule of ``order`` instead of the closed degree-3 rule
        (``0``: only the leaves of the last level touching a point).  Default: 14 in 2D,
        0 in 3D (where the product rule has ``order^3`` points).
    order : int, optional
        Points per direction (3 to 8) of the product rule: ``order^d`` points, exact for
        polynomials of degree ``2 order - 3``.

    Notes
    -----
    With the defaults, the integral of the energy density ``r^(2 lam - 2)`` of a
    270 degree corner (``lam = 0.5444837``) over an L-shaped domain of size 2 is accurate
    to 5e-10 relative at ``h = 0.1`` (2e-9 times ``1 + cos(theta)``), 5e-9 at 0.05 and
    3e-9 at 0.025 (``lam`` from 0.5 to 0.7: 5e-9 at most; the cells of size ``h`` alone,
    less their point on the corner: 1e-2 to 4e-3), adding 23000 to 30000 points to the
    2229, 8543, 33645 without grading.  The closed rule alone (``reach = 0``) adds 4200
    points at ``h = 0.1`` and gets to 3e-6 (1e-6 at ``h = 0.05``).  In 3D, the integral
    of ``r^-0.6`` about the midpoint of an edge of a unit cube at ``h = 0.2`` is accurate
    to 7e-7 (alone: 9e-5) with 18510 points instead of 3491.  Once the radius factor has
    shrunk to 1 (level 11 in 2D, 4 in 3D) every level adds the same number of points per
    point, about 360 in 2D (the closed rule alone: 90) and 810 in 3D; the reach adds
    about ``60 reach^2`` in 2D, at any ``h``.
    Instances compare equal when their points and numbers are.
    """

    points: FloatArray
    levels: int | None = None
    radius_factor: float | None = None
    reach: float | None = None
    order: int = 4

    def __post_init__(self) -> None:
        pts = _as_real_array(self.points, "Grading.points")
        if pts.ndim == 1 and pts.size in (2, 3):
            pts = pts[None, :]
        if pts.ndim != 2 or pts.shape[1] not in (2, 3):
            raise ValueError(f"Grading.points must have shape (k, 2) or (k, 3), got {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise ValueError("Grading.points must be finite")
        if pts.shape[0] == 0:
            raise ValueError("Grading needs at least one point")
        pts = np.array(pts, dtype=np.float64)
        pts.setflags(write=False)
        object.__setattr__(self, "points", pts)
        if self.levels is not None:
            object.__setattr__(self, "levels", _int_in(self.levels, "levels", 0, _MAX_LEVELS))
        object.__setattr__(self, "order", _int_in(self.order, "order", 3, 8))
        if self.radius_factor is not None:
            rf = _number(self.radius_factor, "radius_factor")
            if rf < 1.0:
                raise ValueError(f"Grading.radius_factor must be >= 1, got {rf!r}")
            object.__setattr__(self, "radius_factor", rf)
        if self.reach is not None:
            reach = _number(self.reach, "reach")
            if reach < 0.0:
                raise ValueError(f"Grading.reach must be >= 0, got {reach!r}")
            object.__setattr__(self, "reach", reach)

    def resolved(self) -> tuple[int, float, float]:
        """``(levels, radius_factor, reach)``, the defaults of the dimension filled in."""
        levels, rf, reach = _DEFAULTS[self.dim]
        return (
            levels if self.levels is None else self.levels,
            rf if self.radius_factor is None else self.radius_factor,
            reach if self.reach is None else self.reach,
        )

    @property
    def dim(self) -> int:
        """Dimension ``d`` of the points."""
        return int(self.points.shape[1])

    def distance(self, X: FloatArray) -> FloatArray:
        """Distance (n,) of points ``X`` (n, d) to the nearest grading point (length
        units)."""
        dist = np.full(X.shape[0], np.inf)
        for p in self.points:
            dist = np.minimum(dist, np.linalg.norm(X - p, axis=1))
        return dist

    def _key(self) -> tuple:
        pts = (self.points.shape, self.points.tobytes())
        return (pts, self.levels, self.radius_factor, self.reach, self.order)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grading):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _int_in(v, name: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or not lo <= int(v) <= hi:
        raise ValueError(f"Grading.{name} must be an integer in [{lo}, {hi}], got {v!r}")
    return int(v)


def _number(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise ValueError(f"Grading.{name} must be a real number, got {v!r}")
    if not math.isfinite(v):
        raise ValueError(f"Grading.{name} must be finite, got {v!r}")
    return float(v)


def as_grading(grading: Grading | ArrayLike | None, d: int) -> Grading | None:
    """``grading`` as a :class:`Grading` of dimension ``d`` (an array of points (k, d):
    the defaults), or ``None``."""
    if grading is None:
        return None
    if not isinstance(grading, Grading):
        grading = Grading(grading)
    if grading.dim != d:
        raise ValueError(f"grading points of dimension {grading.dim} for a domain of dimension {d}")
    return grading


_PAIRS = {d: np.array(list(itertools.combinations(range(d + 1), 2))) for d in (2, 3)}

# children of a simplex split through its edge midpoints, each vertex of a child given
# as (a, b): the midpoint of the parent's vertices a and b (a == b: the vertex itself),
# in the order of refine_simplices in quadrature.py (Bey's rule in 3D)
_KIDS = {
    2: [
        ((0, 0), (0, 1), (0, 2)),
        ((0, 1), (1, 1), (1, 2)),
        ((0, 2), (1, 2), (2, 2)),
        ((0, 1), (1, 2), (0, 2)),
    ],
    3: [
        ((0, 0), (0, 1), (0, 2), (0, 3)),
        ((0, 1), (1, 1), (1, 2), (1, 3)),
        ((0, 2), (1, 2), (2, 2), (2, 3)),
        ((0, 3), (1, 3), (2, 3), (3, 3)),
        ((0, 1), (0, 2), (0, 3), (1, 3)),
        ((0, 1), (0, 2), (1, 2), (1, 3)),
        ((0, 2), (0, 3), (1, 3), (2, 3)),
        ((0, 2), (1, 2), (1, 3), (2, 3)),
    ],
}
_KID_A = {d: np.array([[a for a, _ in kid] for kid in kids]) for d, kids in _KIDS.items()}
_KID_B = {d: np.array([[b for _, b in kid] for kid in kids]) for d, kids in _KIDS.items()}


def _rule_1d(n: int, alpha: int, ends: tuple[bool, bool]) -> tuple[FloatArray, FloatArray]:
    """Nodes and weights (n,) on [0, 1] for the weight ``(1 - a)^alpha``, Gauss-Jacobi
    with the nodes 0 and / or 1 fixed (``ends``): Gauss-Radau or Gauss-Lobatto."""
    lo, hi = ends
    x, _ = roots_jacobi(n - lo - hi, alpha + hi, float(lo))
    a = np.concatenate([[0.0] * lo, 0.5 * (x + 1.0), [1.0] * hi])
    mom = [
        math.factorial(k) * math.factorial(alpha) / math.factorial(k + alpha + 1) for k in range(n)
    ]
    w = np.linalg.solve(np.vander(a, n, increasing=True).T, np.array(mom))
    return a, w


def product_rule(d: int, n: int) -> tuple[FloatArray, FloatArray]:
    """The closed conical product rule: barycentric points (n^d, d + 1), weights
    (n^d,) as fractions of the measure.  Vertex 0 is the collapsed one (no point on
    it); every face carries points; degree ``2 n - 3``, positive weights."""
    axes = [_rule_1d(n, d - 1 - j, (True, j == d - 1)) for j in range(d)]
    lam, wts = [], []
    for combo in itertools.product(range(n), repeat=d):
        rest, bc, wt = 1.0, [], 1.0
        for j, i in enumerate(combo):
            a = axes[j][0][i]
            bc.append(rest * a)
            rest *= 1.0 - a
            wt *= axes[j][1][i]
        lam.append([*bc, rest])
        wts.append(wt)
    w = np.array(wts)
    return np.array(lam), w / w.sum()


def _quadratic_map(V: FloatArray, mid: FloatArray, lam: FloatArray):
    """Positions (n, d) and Jacobian determinants (n,) of quadratic cells (vertices
    ``V`` (n, d + 1, d), edge midpoints ``mid`` (n, n_edges, d)), each at its own
    barycentric point ``lam`` (n, d + 1)."""
    d = V.shape[2]
    pairs = _PAIRS[d]
    x = np.einsum("ni,nid->nd", lam * (2.0 * lam - 1.0), V)
    x += np.einsum("ne,ned->nd", 4.0 * lam[:, pairs[:, 0]] * lam[:, pairs[:, 1]], mid)
    dl = (4.0 * lam - 1.0)[:, :, None] * V
    for e, (i, j) in enumerate(pairs):
        dl[:, i] += 4.0 * lam[:, j, None] * mid[:, e]
        dl[:, j] += 4.0 * lam[:, i, None] * mid[:, e]
    J = (dl[:, 1:] - dl[:, :1]).transpose(0, 2, 1)
    return x, np.linalg.det(J)


def _refine(grading: Grading, V: FloatArray, mid: FloatArray):
    """The leaves of the graded subdivision: parent cells (n,), integer barycentric
    vertices (n, d + 1, d + 1) over ``2^level`` (rows: vertices), levels (n,), and
    whether a leaf takes the product rule (n,), its vertex nearest to a grading point
    first."""
    M, d = V.shape[0], V.shape[2]
    levels, rf, reach = grading.resolved()
    par = np.arange(M)
    B = np.broadcast_to(np.eye(d + 1, dtype=np.int64), (M, d + 1, d + 1)).copy()
    leaves = []
    for k in range(levels + 1):
        den = float(2**k)
        Xv, _ = _quadratic_map(
            np.repeat(V[par], d + 1, axis=0),
            np.repeat(mid[par], d + 1, axis=0),
            B.reshape(-1, d + 1) / den,
        )
        Xv = Xv.reshape(-1, d + 1, d)
        size = np.max(np.linalg.norm(Xv[:, _PAIRS[d][:, 0]] - Xv[:, _PAIRS[d][:, 1]], axis=2), 1)
        xc, _ = _quadratic_map(V[par], mid[par], B.sum(axis=1) / ((d + 1) * den))
        dist = grading.distance(xc)
        last = k == levels
        split = dist < max(1.0, rf * 2.0 ** (-k / _HALVING[d])) * size
        if last:
            split[:] = False
        near = ~split & ((dist < reach * size) | (last & (dist < size)))
        Bk = B[~split]
        if near.any():  # the vertex nearest to a grading point first
            nv = np.argmin(grading.distance(Xv[near].reshape(-1, d)).reshape(-1, d + 1), 1)
            Bn = B[near]
            rows = np.arange(Bn.shape[0])
            Bn[rows, 0], Bn[rows, nv] = B[near][rows, nv], B[near][rows, 0]
            Bk[near[~split]] = Bn
        leaves.append((par[~split], Bk, np.full(Bk.shape[0], k), near[~split]))
        if not split.any():
            break
        kids = B[split][:, _KID_A[d]] + B[split][:, _KID_B[d]]  # (n, 2^d, d + 1, d + 1)
        par = np.repeat(par[split], kids.shape[1])
        B = kids.reshape(-1, d + 1, d + 1)
    return tuple(np.concatenate(a) for a in zip(*leaves, strict=True))


def _curved_boundary_faces(cells: IntArray, V: FloatArray, mid: FloatArray):
    """Whether the face opposite each vertex of each cell (M, d + 1) lies on the
    boundary (no neighbour across it) and has a curved edge."""
    M, d = cells.shape[0], V.shape[2]
    pairs = _PAIRS[d]
    curved_edge = np.any(mid != 0.5 * (V[:, pairs[:, 0]] + V[:, pairs[:, 1]]), axis=2)
    F = np.sort(np.stack([np.delete(cells, j, axis=1) for j in range(d + 1)], 1), axis=2)
    _, inv, cnt = np.unique(F.reshape(-1, d), axis=0, return_inverse=True, return_counts=True)
    out = (cnt[inv.reshape(-1)] == 1).reshape(M, d + 1)
    for j in range(d + 1):
        in_face = np.array([j not in (a, b) for a, b in pairs])
        out[:, j] &= np.any(curved_edge[:, in_face], axis=1)
    return out


def graded_cell_quadrature(
    geometry,
    h: float,
    cells: IntArray,
    V: FloatArray,
    mid: FloatArray,
    rule: list[tuple[int, float]],
    grading: Grading,
) -> tuple[FloatArray, FloatArray]:
    """Points (n, d) and weights (n,) on the graded subdivision of quadratic cells
    (node indices ``cells`` (M, d + 1), vertices ``V`` (M, d + 1, d), edge midpoints
    ``mid`` (M, n_edges, d)): the closed ``rule`` (``(k, weight)`` as from
    :func:`~pinngelu.geometry.quadrature.closed_rule`) on the far leaves, the product
    rule on the near ones; see the module docstring."""
    levels = grading.resolved()[0]
    par, B, lev, near = _refine(grading, V, mid)
    analytic = not getattr(geometry, "straight_cells", False)
    curved = _curved_boundary_faces(cells, V, mid) if analytic else np.zeros(cells.shape, bool)
    far = ~near
    X1, W1, F1 = _closed_points(cells, V, mid, rule, par[far], B[far], lev[far], levels, curved)
    X2, W2, F2 = _product_points(V, mid, grading.order, par[near], B[near], lev[near], curved)
    X, W = np.concatenate([X1, X2]), np.concatenate([W1, W2])
    if analytic:
        # points on curved boundary faces, and those that sub-cells smaller than the
        # distance between the quadratic and the exact boundary (O(h^3)) place outside
        flag = np.concatenate([F1, F2]) | (geometry._phi(X) > 0.0)
        if flag.any():
            X[flag] = project_to_boundary(geometry, X[flag], h)
    X, inv = np.unique(X, axis=0, return_inverse=True)  # exactly coinciding points
    return np.ascontiguousarray(X), np.bincount(inv.reshape(-1), weights=W, minlength=len(X))


def _closed_points(cells, V, mid, rule, par, B, lev, levels: int, curved):
    """Points, weights and on-curved-boundary flags of the closed rule on leaves
    (parents ``par``, barycentric vertices ``B`` over ``2^lev``), merged by their
    barycentric coordinates on the nodes of the unrefined mesh (over ``6 2^levels``)."""
    d = V.shape[2]
    scale = np.left_shift(np.int64(1), levels - lev)
    Xs, ws, nums = [], [], []
    for k, wk in rule:
        for S in itertools.combinations(range(d + 1), k):
            num = B[:, list(S)].sum(axis=1)  # over k 2^lev
            x, det = _quadratic_map(V[par], mid[par], num / (k * np.ldexp(1.0, lev))[:, None])
            Xs.append(x)
            ws.append(np.abs(det) * np.ldexp(wk / math.factorial(d), -d * lev))
            nums.append(num * ((6 // k) * scale)[:, None])
    X, w, num = (np.concatenate(a) for a in (Xs, ws, nums))
    pid = np.tile(par, len(Xs))
    ids = np.where(num > 0, cells[pid], -1)
    order = np.argsort(ids, axis=1, kind="stable")
    key = np.concatenate(
        [np.take_along_axis(ids, order, 1), np.take_along_axis(num, order, 1)], axis=1
    )
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    W = np.bincount(inv, weights=w, minlength=first.size)
    flag = np.zeros(first.size, dtype=bool)
    np.logical_or.at(flag, inv, np.any((num == 0) & curved[pid], axis=1))
    return X[first], W, flag


def _product_points(V, mid, n: int, par, B, lev, curved):
    """Points, weights and on-curved-boundary flags of the product rule of ``n`` points
    per direction on leaves (parents ``par``, barycentric vertices ``B`` over
    ``2^lev``, the collapsed vertex first)."""
    d = V.shape[2]
    lam_q, w_q = product_rule(d, n)
    lam = np.einsum("qi,nij->nqj", lam_q, B) / np.ldexp(1.0, lev)[:, None, None]
    lam = lam.reshape(-1, d + 1)
    pq = np.repeat(par, lam_q.shape[0])
    x, det = _quadratic_map(V[pq], mid[pq], lam)
    w = (
        np.abs(det).reshape(-1, w_q.size)
        * w_q
        * np.ldexp(1.0 / math.factorial(d), -d * lev)[:, None]
    )
    return x, w.reshape(-1), np.any((lam == 0.0) & curved[pq], axis=1)
