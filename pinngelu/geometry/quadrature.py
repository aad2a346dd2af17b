"""Quadrature over a geometry: its volume (cells of :meth:`Geometry.mesh`) and its named
boundary parts (their measure-preserving parametrisations).

The rules have positive weights only:

- volume: closed rules of degree 3 whose points are the cells' vertices and the
  centroids of their faces of every dimension below ``d + 1`` that carry a weight
  (triangles: vertices 3/60, edge midpoints 8/60, centroid 27/60; tetrahedra:
  vertices 1/40, face centroids 9/40); points shared by neighbouring cells are merged
  and their weights summed, so there are about 3 points per triangle and 2.2 per
  tetrahedron;
- boundary parts: Gauss-Legendre with 3 points per parameter interval (2D: segments of
  the part's parameter, cut at its breaks, e.g. the corners of a polygon part; 3D:
  tensor products on the parameter square), exact for degree 5 in the parameter.

The volume points include points on the boundary (the vertices and edge or face
centres of the boundary cells).  An energy loss needs them: with interior points only,
a network can grow a thin layer at a loaded boundary, unseen by the strain energy,
where the work of the load then grows without bound.

Volume cells are quadratic: their boundary edges follow curved parts through their
midpoints (an ``O(h^3)`` error of the domain instead of the ``O(h^2)`` of chords);
boundary points lie on the exact boundary with its exact normals.

Grading (``volume_quadrature(geometry, h, grading)``, :mod:`.graded`): where the
strain-energy density is singular, like ``r^(2 lam - 2)`` (``lam ~ 0.54``) at a
re-entrant corner, the cells within a few of their sizes of the given points are split
recursively through their edge midpoints in their reference coordinates (curved cells
keep their exact shape), so that the cells touching a point halve at each level down
to ``h 2^-levels``: a geometric mesh, hanging nodes and all, whose added points grow
linearly with the number of levels.  The leaves far from the points keep the closed
degree-3 rule (points merged as above), those near them take a closed conical product
rule of higher degree with no point on the singular vertex; all weights are positive
and sum to the same measure as without grading.  The defaults integrate the energy
density of a 270 degree corner to about 1e-8 relative (cells of one size: 1e-2 at
``h`` a twentieth of the domain, less their point on the corner).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .. import memory
from ._checks import FloatArray, IntArray
from .graded import Grading, as_grading, graded_cell_quadrature
from .partint import part_intervals, split_intervals
from .project import project_to_boundary

if TYPE_CHECKING:
    from .base import Geometry

__all__ = [
    "volume_quadrature",
    "Grading",
    "part_quadrature",
    "closed_rule",
    "mesh_size",
    "size_for_cells",
    "CELLS_PER_H",
    "refinement_levels",
    "refine_simplices",
    "POINTS_PER_CELL",
    "MESH_CELLS_PER_H",
    "BYTES_PER_CELL",
    "GRADED_BYTES_PER_CELL",
    "volume_cells",
    "volume_quadrature_bytes",
    "PART_BYTES_PER_POINT",
    "part_points",
]

_GL3_X, _GL3_W = np.polynomial.legendre.leggauss(3)

POINTS_PER_CELL = {2: 3.0, 3: 2.2}
"""About how many merged volume points each cell of a large mesh contributes."""

MESH_CELLS_PER_H = {2: 4.0 / math.sqrt(3.0), 3: 12.0}
"""Cells of :meth:`Geometry.mesh` of size ``h`` per volume ``h^d``: the triangular
lattice's equilateral triangles in 2D; in 3D the Delaunay tetrahedra of the
body-centred cubic lattice (two points per ``h^3``, measured 12.0 cells per ``h^3`` on a
box and 11.8 on a spherical shell)."""

BYTES_PER_CELL = {2: 700.0, 3: 1300.0}
"""Peak memory (bytes) per cell of building the volume quadrature: the mesh (Delaunay
included), the cells' quadratic maps at every rule point, the merging of shared points
and the points and weights returned.  Measured as the rise of the peak resident memory:
671 to 686 bytes per triangle (a square, a disk, a mesh domain refined five times) and
1231 to 1278 per tetrahedron (a box, a spherical shell, a mesh domain refined three
times)."""

GRADED_BYTES_PER_CELL = {2: 2900.0, 3: 4200.0}
"""The same with grading (:mod:`.graded`): every cell goes through the recursive split;
measured 2790 to 3010 bytes per triangle (an L-shaped polygon graded toward its corner)
and 4170 per tetrahedron (a box graded toward two points)."""

GRADED_BYTES_PER_LEVEL = {2: 2.5e5, 3: 2.0e6}
"""Bytes per grading point and level of the sub-cells around it (measured 4.3 MB for a
2D point at 20 levels, 18 MB for a 3D point at 10)."""


def closed_rule(d: int) -> list[tuple[int, float]]:
    """The closed degree-3 rule on a simplex of dimension ``d`` (2 or 3).

    Returns
    -------
    list of (k, weight)
        Each entry puts ``weight`` (a fraction of the simplex's measure) on the
        centroid of every ``k``-vertex face (``k = 1``: the vertices).
    """
    if d == 2:
        return [(1, 3.0 / 60.0), (2, 8.0 / 60.0), (3, 27.0 / 60.0)]
    if d == 3:
        return [(1, 1.0 / 40.0), (3, 9.0 / 40.0)]
    raise ValueError(f"simplex rules exist for d = 2 and 3, got d = {d}")


def volume_quadrature(
    geometry: Geometry, h: float, grading: Grading | ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """Points and weights integrating over the domain.

    Cells are quadratic (isoparametric): the midpoints of their boundary edges are
    moved onto the exact boundary (:func:`~pinngelu.geometry.project.project_to_boundary`),
    so that curved parts are followed to third order (straight chords would leave an
    ``O(h^2)`` error of the domain, measured as a 1e-2 error of the displacement of a
    plate with holes at 4 cells per hole radius).  Cells whose map would fold (a
    Jacobian determinant <= 0 at a rule point) stay straight.

    Parameters
    ----------
    geometry : Geometry
        An analytic shape (meshed with :meth:`Geometry.mesh`), or a mesh domain (its
        own cells, straight, uniformly refined to the size closest to ``h``:
        :func:`refinement_levels`).
    h : float
        Cell size (length units).
    grading : Grading or array_like of shape (k, d), optional
        Cells graded geometrically toward these points (length units; an array: a
        :class:`~pinngelu.geometry.graded.Grading` of these points with the default
        levels, radius factor, reach and order), e.g. re-entrant corners and crack tips,
        where the energy density is singular.  ``None`` (the default): the cells of size
        ``h`` only, exactly as without the argument.

    Returns
    -------
    X : ndarray, shape (n, d)
        Points (length units), each once.
    w : ndarray, shape (n,)
        Weights (length^d), positive: ``sum(w f(X))`` approximates the integral of
        ``f``, exactly for cubic polynomials on straight cells.

    Raises
    ------
    MemoryLimitError
        If building it (:func:`volume_quadrature_bytes`, estimated from the number of
        cells before any is made) would exceed the memory limit
        (:mod:`pinngelu.memory`).
    """
    if not (isinstance(h, (int, float)) and math.isfinite(h) and h > 0):
        raise ValueError(f"quadrature cell size h must be a positive number, got {h!r}")
    d = geometry.dim
    grading = as_grading(grading, d)
    memory.check(
        volume_quadrature_bytes(geometry, float(h), grading),
        f"the volume quadrature of cell size h={float(h):.3g} (about "
        f"{volume_cells(geometry, float(h)):.3g} cells)",
        "the cell size h (larger)",
    )
    P, cells = geometry.mesh(float(h))
    if getattr(geometry, "straight_cells", False):
        for _ in range(refinement_levels(geometry, float(h))):
            P, cells = refine_simplices(P, cells)
    V = P[cells]  # (M, d + 1, d)
    mid = _edge_midpoints(geometry, P, cells, float(h))
    straight = 0.5 * (V[:, _PAIRS[d][:, 0]] + V[:, _PAIRS[d][:, 1]])
    orient = np.sign(np.linalg.det(V[:, 1:] - V[:, :1]))  # cells of either orientation
    rules = [(k, wk, list(itertools.combinations(range(d + 1), k))) for k, wk in closed_rule(d)]
    folded = np.zeros(cells.shape[0], dtype=bool)
    for _, _, subsets in rules:
        for S in subsets:
            folded |= _quadratic_map(V, mid, _bary(d, S))[1] * orient <= 0.0
    mid[folded] = straight[folded]
    if grading is not None:
        return graded_cell_quadrature(geometry, float(h), cells, V, mid, closed_rule(d), grading)
    Xs, ws = [], []
    for k, wk, subsets in rules:
        faces = np.sort(np.stack([cells[:, list(c)] for c in subsets], 1), axis=2)
        xs, dets = zip(*(_quadratic_map(V, mid, _bary(d, S)) for S in subsets), strict=True)
        x = np.stack(xs, 1).reshape(-1, d)  # (M n_faces, d)
        wc = (np.abs(np.stack(dets, 1)) * (wk / math.factorial(d))).reshape(-1)
        uniq, first, inv = np.unique(
            faces.reshape(-1, k), axis=0, return_index=True, return_inverse=True
        )
        w = np.zeros(uniq.shape[0])
        np.add.at(w, inv.reshape(-1), wc)
        Xs.append(x[first])
        ws.append(w)
    return np.ascontiguousarray(np.concatenate(Xs)), np.concatenate(ws)


def volume_cells(geometry: Geometry, h: float) -> float:
    """About how many cells :func:`volume_quadrature` integrates over at size ``h``,
    found without meshing.

    Parameters
    ----------
    geometry : Geometry
    h : float
        Cell size (length units), ``> 0``.

    Returns
    -------
    float
        A mesh domain's own cells times ``2^d`` per uniform refinement
        (:func:`refinement_levels`), exactly; for analytic shapes
        ``MESH_CELLS_PER_H[d] measure / h^d`` (the lattice of :meth:`Geometry.mesh`;
        the boundary adds a few percent on slender parts).
    """
    d = geometry.dim
    if getattr(geometry, "straight_cells", False):
        _, cells = geometry.mesh(None)
        return float(cells.shape[0]) * float(2**d) ** refinement_levels(geometry, h)
    return MESH_CELLS_PER_H[d] * float(geometry.measure) / float(h) ** d


def volume_quadrature_bytes(
    geometry: Geometry, h: float, grading: Grading | ArrayLike | None = None
) -> float:
    """Estimated peak memory (bytes) of :func:`volume_quadrature` ``(geometry, h,
    grading)``, from the number of cells (:func:`volume_cells`) alone.

    ``BYTES_PER_CELL[d] cells`` without grading; with it
    ``GRADED_BYTES_PER_CELL[d] cells + GRADED_BYTES_PER_LEVEL[d] levels k`` for ``k``
    grading points.  The points and weights returned are ``8 (d + 1)`` bytes per point
    of it, about ``POINTS_PER_CELL[d]`` points per cell.
    """
    d = geometry.dim
    cells = volume_cells(geometry, h)
    grading = as_grading(grading, d)
    if grading is None:
        return BYTES_PER_CELL[d] * cells
    levels = grading.resolved()[0]
    k = grading.points.shape[0]
    return GRADED_BYTES_PER_CELL[d] * cells + GRADED_BYTES_PER_LEVEL[d] * levels * k


CELLS_PER_H = {2: 4.0 / math.sqrt(3.0), 3: 6.0}
"""About how many simplices of size ``h`` fill a volume ``h^d`` (equilateral triangles;
a cube cut into six tetrahedra)."""


def size_for_cells(d: int, measure: float, n_cells: float) -> float:
    """The cell size ``h`` (length units) at which ``n_cells`` simplices of size ``h``
    fill a region of ``measure`` (length^d): ``(CELLS_PER_H[d] measure / n_cells)^(1/d)``."""
    return float((CELLS_PER_H[d] * measure / n_cells) ** (1.0 / d))


def mesh_size(geometry: Geometry) -> float:
    """The cell size (length units) of a mesh domain: the ``h`` at which as many
    simplices of size ``h`` fill its volume (:data:`CELLS_PER_H`); ``inf`` for analytic
    shapes (meshed at any size)."""
    if not getattr(geometry, "straight_cells", False):
        return math.inf
    _, cells = geometry.mesh(None)
    return size_for_cells(geometry.dim, geometry.measure, cells.shape[0])


def refinement_levels(geometry: Geometry, h: float) -> int:
    """The number of uniform refinements (each halves the cell size) that bring a mesh
    domain's cell size (:func:`mesh_size`) closest to ``h`` (in ratio); 0 for analytic
    shapes."""
    size = mesh_size(geometry)
    if not math.isfinite(size) or size <= h:
        return 0
    return max(0, round(math.log2(size / h)))


def refine_simplices(P: FloatArray, cells: IntArray) -> tuple[FloatArray, IntArray]:
    """One uniform refinement: every triangle into 4, every tetrahedron into 8 (edge
    midpoints as new nodes; Bey's rule, the interior octahedron cut along its 2-4
    diagonal).

    Parameters
    ----------
    P : ndarray, shape (n, d)
    cells : ndarray of int, shape (M, d + 1)

    Returns
    -------
    (ndarray (n', d), ndarray of int (M 2^d, d + 1))
        Nodes (the old ones first) and cells, each child with its parent's orientation.
    """
    d = P.shape[1]
    ue, inv = _unique_edges(cells)
    m = P.shape[0] + inv.reshape(cells.shape[0], -1)  # node of each edge's midpoint
    P2 = np.concatenate([P, P[ue].mean(axis=1)])
    v = [cells[:, i] for i in range(d + 1)]
    if d == 2:  # edges (01, 02, 12)
        e01, e02, e12 = m[:, 0], m[:, 1], m[:, 2]
        kids = [(v[0], e01, e02), (e01, v[1], e12), (e02, e12, v[2]), (e01, e12, e02)]
    else:  # edges (01, 02, 03, 12, 13, 23)
        e01, e02, e03, e12, e13, e23 = (m[:, i] for i in range(6))
        kids = [
            (v[0], e01, e02, e03),
            (e01, v[1], e12, e13),
            (e02, e12, v[2], e23),
            (e03, e13, e23, v[3]),
            (e01, e02, e03, e13),
            (e01, e02, e12, e13),
            (e02, e03, e13, e23),
            (e02, e12, e13, e23),
        ]
    C = np.stack([np.stack(k, axis=1) for k in kids], axis=1).reshape(-1, d + 1)
    # keep every child's orientation that of its parent
    par = np.repeat(np.sign(np.linalg.det(P[cells[:, 1:]] - P[cells[:, :1]])), len(kids))
    own = np.sign(np.linalg.det(P2[C[:, 1:]] - P2[C[:, :1]]))
    flip = own != par
    C[flip, 0], C[flip, 1] = C[flip, 1].copy(), C[flip, 0].copy()
    return P2, C


_PAIRS = {d: np.array(list(itertools.combinations(range(d + 1), 2))) for d in (2, 3)}


def _bary(d: int, S) -> FloatArray:
    """Barycentric coordinates (d + 1,) of the centroid of the face with vertices ``S``."""
    lam = np.zeros(d + 1)
    lam[list(S)] = 1.0 / len(S)
    return lam


def _unique_edges(cells: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct edges (n, 2) of simplices ``cells`` (M, d + 1), each by its sorted
    nodes, and the index (M n_edges,) of every cell edge among them (edges in
    :data:`_PAIRS` order)."""
    pairs = _PAIRS[cells.shape[1] - 1]
    E = np.sort(cells[:, pairs], axis=2).reshape(-1, 2)
    ue, inv = np.unique(E, axis=0, return_inverse=True)
    return ue, inv.reshape(-1)


def _edge_midpoints(geometry: Geometry, P: FloatArray, cells: IntArray, h: float) -> FloatArray:
    """Midpoints (M, n_edges, d) of the cells' edges, those of boundary edges moved
    onto the boundary of an analytic shape."""
    d = P.shape[1]
    pairs = _PAIRS[d]
    ue, inv = _unique_edges(cells)
    mid = P[ue].mean(axis=1)
    if not getattr(geometry, "straight_cells", False):
        if d == 2:
            on_bnd = np.bincount(inv, minlength=ue.shape[0]) == 1
        else:
            F = np.sort(
                np.stack([cells[:, list(c)] for c in itertools.combinations(range(4), 3)], 1),
                axis=2,
            ).reshape(-1, 3)
            uf, cnt = np.unique(F, axis=0, return_counts=True)
            bf = uf[cnt == 1]
            be = np.sort(np.concatenate([bf[:, [0, 1]], bf[:, [0, 2]], bf[:, [1, 2]]]), axis=1)
            key = ue[:, 0] * P.shape[0] + ue[:, 1]
            on_bnd = np.isin(key, be[:, 0] * P.shape[0] + be[:, 1])
        idx = np.flatnonzero(on_bnd)
        mid[idx] = project_to_boundary(geometry, mid[idx], h)
    return mid[inv].reshape(cells.shape[0], pairs.shape[0], d)


def _quadratic_map(V: FloatArray, mid: FloatArray, lam: FloatArray):
    """Position (M, d) and Jacobian determinant (M,) of the quadratic maps of the cells
    (vertices ``V`` (M, d + 1, d), edge midpoints ``mid`` (M, n_edges, d)) at the
    barycentric point ``lam`` (d + 1,)."""
    d = V.shape[2]
    pairs = _PAIRS[d]
    x = np.einsum("i,mid->md", lam * (2.0 * lam - 1.0), V)
    x += np.einsum("e,med->md", 4.0 * lam[pairs[:, 0]] * lam[pairs[:, 1]], mid)
    # dx / d lam_i = (4 lam_i - 1) V_i + sum over edges (i, j) of 4 lam_j m_ij
    dl = (4.0 * lam - 1.0)[None, :, None] * V
    for e, (i, j) in enumerate(pairs):
        dl[:, i] += 4.0 * lam[j] * mid[:, e]
        dl[:, j] += 4.0 * lam[i] * mid[:, e]
    J = (dl[:, 1:] - dl[:, :1]).transpose(0, 2, 1)  # (M, d, d): columns d x / d xi_k
    return x, np.linalg.det(J)


PART_BYTES_PER_POINT = {2: 64.0, 3: 104.0}
"""Peak memory (bytes) per point of :func:`part_quadrature` on an analytic shape (the
parameters, the mapped points, normals and weights): measured 60 on a square's side,
94 on a box's face and 99 on a spherical surface."""


def part_points(geometry: Geometry, part: str, h: float) -> float:
    """About how many points :func:`part_quadrature` ``(geometry, part, h)`` returns on
    an analytic shape, found without building them (an upper bound where a filter
    leaves out some of the parameter domain): 3 per parameter interval of length at most
    ``h`` in 2D (``3 (measure / h + breaks + 1)``), 9 per cell of the parameter square
    in 3D (``9 ceil(l1 / h) ceil(l2 / h)`` for the part's extents ``l1``, ``l2``).

    Parameters
    ----------
    geometry : Geometry
    part : str
    h : float
        Largest parameter interval (length units), ``> 0``.

    Returns
    -------
    float
        0 for mesh domains (their facets are integrated as they are).
    """
    if getattr(geometry, "straight_cells", False):
        return 0.0
    k = geometry._part_index(part)
    try:
        if geometry.dim == 2:
            base = geometry._base_measure(k)
            return 3.0 * (base / h + len(geometry._part_breaks(k)) + 1.0)
        l1, l2 = geometry._part_extent(k)
    except NotImplementedError:
        return 0.0
    return 9.0 * math.ceil(l1 / h - 1e-9) * math.ceil(l2 / h - 1e-9)


def part_quadrature(geometry: Geometry, part: str, h: float) -> tuple[FloatArray, ...]:
    """Points, outward normals and weights integrating over a named boundary part.

    Parameters
    ----------
    geometry : Geometry
        An analytic shape (its parts are parametrised by the unit interval or square).
    part : str
        Name of the part.
    h : float
        Largest interval of the parameter, in length units of the part.

    Returns
    -------
    X : ndarray, shape (n, d)
        Points on the part (length units).
    N : ndarray, shape (n, d)
        Outward unit normals.
    w : ndarray, shape (n,)
        Weights (length^(d-1)).

    Raises
    ------
    ValueError
        If the geometry's parts have no parametrisation (mesh domains).
    MemoryLimitError
        If the points (:func:`part_points`, :data:`PART_BYTES_PER_POINT` bytes each)
        would exceed the memory limit (:mod:`pinngelu.memory`).
    """
    if not (isinstance(h, (int, float)) and math.isfinite(h) and h > 0):
        raise ValueError(f"quadrature cell size h must be a positive number, got {h!r}")
    k = geometry._part_index(part)
    if getattr(geometry, "straight_cells", False):
        return _facet_quadrature(*geometry.part_facets(part))
    n = part_points(geometry, part, float(h))
    memory.check(
        PART_BYTES_PER_POINT[geometry.dim] * n,
        f"the quadrature of boundary part {part!r} at h={float(h):.3g} (about {n:.3g} points)",
        "the cell size h (larger)",
    )
    try:
        base = geometry._base_measure(k)
    except NotImplementedError:
        raise ValueError(
            f"boundary part {part!r} of {type(geometry).__name__} has no parametrisation to "
            "integrate over"
        ) from None
    if geometry.dim == 2:
        _, a, b = part_intervals(geometry, k)
        a, b = split_intervals(a, b, geometry._part_breaks(k), h / base)
        half = 0.5 * (b - a)
        u = (0.5 * (a + b))[:, None] + half[:, None] * _GL3_X[None, :]
        X, N = geometry._part_map(k, u.reshape(-1, 1))
        w = (base * half[:, None] * _GL3_W[None, :]).reshape(-1)
        return X, N, w
    l1, l2 = geometry._part_extent(k)
    n1 = max(1, math.ceil(l1 / h - 1e-9))
    e1 = np.linspace(0.0, 1.0, n1 + 1)
    h1 = 0.5 * (e1[1:] - e1[:-1])
    u1 = ((0.5 * (e1[1:] + e1[:-1]))[:, None] + h1[:, None] * _GL3_X[None, :]).reshape(-1)
    w1 = (h1[:, None] * _GL3_W[None, :]).reshape(-1)
    line, a, b = part_intervals(geometry, k, u1, n_grid=256)
    a, b, line = _split_lines(line, a, b, h / max(l2, 1e-300))
    half = 0.5 * (b - a)
    u2 = (0.5 * (a + b))[:, None] + half[:, None] * _GL3_X[None, :]
    u = np.column_stack([np.repeat(u1[line], _GL3_X.size), u2.reshape(-1)])
    X, N = geometry._part_map(k, u)
    w = (base * w1[line][:, None] * half[:, None] * _GL3_W[None, :]).reshape(-1)
    return X, N, w


# Dunavant's degree-4 rule on a triangle: barycentric (a, a, 1 - 2a) and its
# permutations for the two values of a, with these weights (fractions of the area)
_DUNAVANT4 = ((0.445948490915965, 0.223381589678011), (0.091576213509771, 0.109951743655322))


def _facet_quadrature(V: FloatArray, N: FloatArray) -> tuple[FloatArray, ...]:
    """Points, normals and weights over straight facets ``V`` (n, d, d): Gauss-Legendre
    with 3 points on segments (degree 5), Dunavant's 6 points on triangles (degree 4)."""
    if V.shape[1] == 2:
        t = 0.5 * (_GL3_X + 1.0)
        lam = np.column_stack([1.0 - t, t])
        wl = 0.5 * _GL3_W
        meas = np.linalg.norm(V[:, 1] - V[:, 0], axis=1)
    else:
        lam, wl = [], []
        for a, wa in _DUNAVANT4:
            for i in range(3):
                bc = np.full(3, a)
                bc[i] = 1.0 - 2.0 * a
                lam.append(bc)
                wl.append(wa)
        lam, wl = np.array(lam), np.array(wl)
        meas = 0.5 * np.linalg.norm(np.cross(V[:, 1] - V[:, 0], V[:, 2] - V[:, 0]), axis=1)
    X = np.einsum("qk,nkd->nqd", lam, V).reshape(-1, V.shape[2])
    w = (meas[:, None] * wl[None, :]).reshape(-1)
    return np.ascontiguousarray(X), np.repeat(N, lam.shape[0], axis=0), w


def _split_lines(line, a, b, max_len: float):
    """Cut each interval ``[a, b]`` of the second parameter into pieces of at most
    ``max_len``, keeping their line index."""
    m = np.maximum(1, np.ceil((b - a) / max_len - 1e-9).astype(np.int64))
    rep = np.repeat(np.arange(a.size), m)
    j = np.arange(rep.size) - np.repeat(np.cumsum(m) - m, m)
    step = ((b - a) / m)[rep]
    lo = a[rep] + j * step
    return lo, lo + step, line[rep]
