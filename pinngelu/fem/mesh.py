"""The finite-element mesh of a problem's geometry and the boundary facets of its parts."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from ..geometry import Geometry
from ..geometry.meshing import mesh_geometry
from ..geometry.project import project_to_boundary
from ..geometry.quadrature import refine_simplices, refinement_levels


class FEMUnavailableError(ImportError, RuntimeError):
    """scikit-fem is not installed (the ``fem`` extra)."""


def _skfem():
    """The scikit-fem module, or :class:`FEMUnavailableError` naming the extra."""
    try:
        import skfem
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise FEMUnavailableError(
            "pinngelu.fem needs scikit-fem: pip install 'pinngelu[fem]' (or scikit-fem)"
        ) from exc
    return skfem


def check_available() -> None:
    """Raise :class:`FEMUnavailableError` when scikit-fem cannot be imported."""
    _skfem()


def fem_mesh(geometry: Geometry, h: float | None = None, curved: bool = True):
    """The scikit-fem mesh of ``geometry``: quadratic cells (``MeshTri2`` /
    ``MeshTet2``) whose boundary midside nodes lie on the exact boundary (``curved``,
    the default), or straight-sided ones (``MeshTri`` / ``MeshTet``).

    Parameters
    ----------
    geometry : Geometry
        Analytic shapes are meshed like :meth:`Geometry.mesh` at size ``h`` (m), with
        the flat cells of the triangulation repaired rather than dropped, so that the
        cells always share whole facets
        (:func:`pinngelu.geometry.meshing.mesh_geometry` with ``conforming=True``); a
        :class:`pinngelu.MeshDomain` gives its own mesh (the nodes its cells use),
        uniformly refined until its cells are at most ``h``
        (:func:`pinngelu.geometry.quadrature.refinement_levels`; none when ``h`` is not
        given), straight.
    h : float, optional
        Element size (m); default 1/40 of the largest extent of the bounding box
        (:func:`default_mesh_h`).
    curved : bool
        Move the midside nodes of boundary facets (2D) or edges (3D) onto the zero
        level of the geometry's distance function (Newton steps), so that P2 elements
        keep their third-order displacement convergence on curved boundaries.
    """
    skfem = _skfem()
    straight = getattr(geometry, "straight_cells", False)
    if straight:
        P, cells = _used_nodes(*geometry.mesh(h))
        for _ in range(0 if h is None else refinement_levels(geometry, float(h))):
            P, cells = refine_simplices(P, cells)
    else:
        h = default_mesh_h(geometry) if h is None else h
        P, cells = mesh_geometry(geometry, h, conforming=True)
    cls = skfem.MeshTri if geometry.dim == 2 else skfem.MeshTet
    mesh = cls(np.ascontiguousarray(P.T, dtype=float), np.ascontiguousarray(cells.T))
    if not curved or straight:
        return mesh
    return _curve(geometry, mesh, float(h))


#: The default element size of :func:`fem_mesh` is the largest extent over this.
DEFAULT_MESH_DIVISIONS = 40


def default_mesh_h(geometry: Geometry) -> float | None:
    """The element size :func:`fem_mesh` uses without one: the largest extent over
    :data:`DEFAULT_MESH_DIVISIONS` (None for a mesh domain: its own cells)."""
    if getattr(geometry, "straight_cells", False):
        return None
    lo, hi = geometry.bbox
    return float(np.max(np.asarray(hi) - np.asarray(lo))) / DEFAULT_MESH_DIVISIONS


def _used_nodes(P: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nodes used by ``cells`` and the cells renumbered to them (a mesh domain keeps
    every node of its file, also the unused and merged ones, which would be unknowns
    without stiffness)."""
    used = np.unique(cells)
    if used.size == P.shape[0]:
        return P, cells
    remap = np.full(P.shape[0], -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return P[used], remap[cells]


def _curve(geometry: Geometry, mesh, h: float):
    """The quadratic mesh of ``mesh`` with boundary midside nodes projected onto the
    boundary of ``geometry``."""
    skfem = _skfem()
    cls = skfem.MeshTri2 if geometry.dim == 2 else skfem.MeshTet2
    m2 = cls.from_mesh(mesh)
    doflocs = np.array(m2.doflocs)
    idx = mesh.nvertices + (mesh.boundary_facets() if geometry.dim == 2 else mesh.boundary_edges())
    X = project_to_boundary(geometry, doflocs[:, idx].T, h)
    doflocs[:, idx] = X.T
    return cls(doflocs, np.array(m2.t))


def _part_samples(geometry: Geometry, k: int, spacing: float) -> np.ndarray:
    """Dense points ``(n, d)`` on boundary part ``k`` (about ``spacing`` apart)."""
    if geometry.dim == 2:
        n = max(200, math.ceil(geometry._base_measure(k) / spacing) + 1)
        u = np.linspace(0.0, 1.0, n)[:, None]
    else:
        l1, l2 = geometry._part_extent(k)
        n1 = max(20, math.ceil(l1 / spacing) + 1)
        n2 = max(20, math.ceil(l2 / spacing) + 1)
        g1, g2 = np.meshgrid(np.linspace(0, 1, n1), np.linspace(0, 1, n2), indexing="ij")
        u = np.column_stack([g1.ravel(), g2.ravel()])
    X, N = geometry._part_map(k, u)
    acc = geometry._part_accept(k, X, N)
    return X if acc is None else X[acc]


def facet_parts(geometry: Geometry, mesh) -> dict[str, np.ndarray]:
    """Boundary facets of ``mesh`` per named boundary part of ``geometry``.

    A facet belongs to the part nearest to all its vertices and its centroid (the
    largest of those distances, measured to dense points on each part, is the
    smallest for that part).

    Returns
    -------
    dict
        Part name -> facet indices (into ``mesh.facets``).

    Raises
    ------
    ValueError
        If a boundary facet lies on no part (farther than a quarter of its size); the
        message names the parts, the distance and the tolerance.
    """
    bf = mesh.boundary_facets()
    V = mesh.p[:, mesh.facets[:, bf]]  # (d, nv, nf)
    V = np.moveaxis(V, 0, -1)  # (nv, nf, d)
    cen = V.mean(axis=0)
    names = geometry.boundary_parts
    if getattr(geometry, "straight_cells", False):  # a (refined) copy of a mesh domain
        part = geometry.part_of(cen)
        return {name: bf[part == k] for k, name in enumerate(names)}
    size = np.max(np.linalg.norm(V - cen[None], axis=-1), axis=0)
    spacing = 0.05 * float(np.min(size))
    score = np.full((len(names), bf.size), np.inf)
    for k in range(len(names)):
        S = _part_samples(geometry, k, spacing)
        if S.shape[0] == 0:
            continue
        tree = cKDTree(S)
        dist = tree.query(cen)[0]
        for v in V:
            dist = np.maximum(dist, tree.query(v)[0])
        score[k] = dist
    best = np.argmin(score, axis=0)
    far = score[best, np.arange(bf.size)] > 0.25 * size
    if np.any(far):
        i = int(np.flatnonzero(far)[0])
        k = int(best[i])
        raise ValueError(
            f"{int(far.sum())} boundary facet(s) of the mesh lie on no boundary part of "
            f"{geometry!r}: the first, centred at {np.round(cen[i], 6).tolist()}, is "
            f"{score[k, i]:.3g} from the nearest part {names[k]!r}, more than the "
            f"tolerance of a quarter of its size ({0.25 * size[i]:.3g}); the parts are "
            f"{list(names)}.  A boundary facet away from every part is a gap in the mesh "
            "(cells missing inside the domain) or a part the geometry does not name: "
            "pass another element size h, or a mesh of your own (solve(..., mesh=...), "
            "or the geometry as a MeshDomain from a Gmsh file) whose boundary facets all "
            "lie on the named parts"
        )
    return {name: bf[best == k] for k, name in enumerate(names)}


def select_facets(mesh, parts: dict[str, np.ndarray], part) -> np.ndarray:
    """Facets of a condition's part: a name, or a predicate on facet centroids (the
    Dirichlet and symmetry conditions; loads use :func:`predicate_load_facets`)."""
    if isinstance(part, str):
        return parts[part]
    bf = mesh.boundary_facets()
    cen = mesh.p[:, mesh.facets[:, bf]].mean(axis=1).T
    keep = _predicate(part, cen)
    return bf[keep]


#: Sample points per facet edge (2D: along the facet) at which a load's part predicate
#: is evaluated to find the facets it covers wholly or in part.
PREDICATE_SAMPLES = 8
#: A facet covered over less than this fraction of its measure carries no load, one
#: covered over all but this fraction the whole load: predicates written with a
#: tolerance band (``X[:, 0] > 2 - 1e-9`` for the edge x = 2) select the facets of the
#: edge, not slivers of their neighbours.
SLIVER = 1e-6
#: Deepest subdivision of a triangular facet cut by the edge of a predicate's region
#: (3D): pieces cut straight are integrated exactly at any depth; the corners of the
#: region are resolved to ``2**-PREDICATE_DEPTH`` of the facet.
PREDICATE_DEPTH = 24
#: Most triangles one facet is subdivided into (3D) before the predicate weighs the
#: Gauss points of the rest.
PREDICATE_VISITS = 4000
#: A cut counts as straight when the predicate holds on the right side at this fraction
#: of the triangle's size from the chord (a curved region's edge is followed by chords
#: this close to it).
STRAIGHT_TOL = 1e-3
#: How far sample points are moved toward the centroid of their triangle (in reference
#: coordinates, where the facet's edges are about 1 long), so that a region whose edge
#: runs along a side of the triangle does not cut it by round-off.
NUDGE = 1e-11


def _predicate(part, X: np.ndarray) -> np.ndarray:
    """``part(X (N, d))`` as a boolean array ``(N,)``, checked."""
    keep = np.asarray(part(X), dtype=bool).reshape(-1)
    if keep.shape != (X.shape[0],):
        raise ValueError(
            f"the part predicate returned shape {keep.shape} for {X.shape[0]} points, "
            f"expected ({X.shape[0]},): it must return one bool per point (row of X)"
        )
    return keep


def _facet_samples(m: int, n: int) -> np.ndarray:
    """Sample points ``(m, k)`` of the reference facet (``m = 1``: the segment [0, 1];
    ``m = 2``: the triangle), ``n`` intervals per edge, vertices and edges included."""
    t = np.linspace(0.0, 1.0, n + 1)
    if m == 1:
        return t[None]
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    ok = i + j <= n
    return np.vstack([i[ok], j[ok]]) / n


def predicate_load_facets(mesh, part, order: int):
    """The boundary facets a load on the predicate ``part`` acts on, with the quadrature
    of the facets it covers in part.

    The predicate is evaluated at :data:`PREDICATE_SAMPLES` points per edge of every
    boundary facet (on the curved facet where the mesh is curved).  Facets where it
    holds at every sample carry the load whole; facets where it holds at some get a
    quadrature of the covered part alone: in 2D the ends of the covered intervals are
    found by bisection to round-off, in 3D the facet is subdivided where the region's
    edge crosses it, and pieces cut along a straight line are split exactly there
    (:data:`PREDICATE_DEPTH`; curved edges of the region are followed by chords within
    :data:`STRAIGHT_TOL` of the pieces' size).  So the applied force is exact for a
    region bounded by straight lines (planes), whatever the mesh.  Slivers of a facet
    (:data:`SLIVER`) are left out.

    Parameters
    ----------
    mesh : skfem.Mesh
    part : callable
        ``part(X (N, d)) -> bool (N,)``.
    order : int
        Polynomial degree of the integrand in the reference coordinates (the Gauss rule
        of each piece integrates it exactly).

    Returns
    -------
    whole : ndarray of int
        Facets covered wholly.
    pieces : list of (int, ndarray, ndarray)
        ``(facet, X (m, q), W (q,))``: the quadrature (reference facet coordinates and
        weights) of the covered part of each facet covered in part.
    """
    from skfem.quadrature import get_quadrature

    bf = mesh.boundary_facets()
    d = mesh.dim()
    mapping = mesh._mapping()
    S = _facet_samples(d - 1, PREDICATE_SAMPLES)
    X = np.asarray(mapping.G(S, find=bf))  # (d, nf, ns)
    hit = _predicate(part, X.reshape(d, -1).T).reshape(bf.size, S.shape[1])
    whole = bf[hit.all(axis=1)]
    some = np.flatnonzero(hit.any(axis=1) & ~hit.all(axis=1))
    refdom = mesh.brefdom
    Xq, Wq = get_quadrature(refdom, order)
    pieces, extra = [], []
    for i in some:
        f = int(bf[i])

        inside = _facet_predicate(mesh, mapping, f, part)

        if d == 2:
            Y, W = _covered_intervals(inside, S[0], hit[i], Xq, Wq)
        else:
            Y, W = _covered_triangles(inside, Xq, Wq)
        covered = float(W.sum() / Wq.sum())
        if covered > 1.0 - SLIVER:
            extra.append(f)
        elif covered >= SLIVER:
            pieces.append((f, Y, W))
    return np.concatenate([whole, np.array(extra, dtype=whole.dtype)]), pieces


def _facet_predicate(mesh, mapping, f: int, part):
    """``inside(Y (m, n)) -> bool (n,)``: the predicate at reference points ``Y`` of
    facet ``f``.  The facet's map is quadratic (exact for straight and P2 cells): it is
    interpolated from its images of the six (2D: three) quadratic nodes."""
    m = mesh.dim() - 1
    R = (
        np.array([[0.0, 1.0, 0.5]])
        if m == 1
        else np.array([[0.0, 1.0, 0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0, 0.5, 0.5]])
    )
    N = np.asarray(mapping.G(R, find=np.array([f])))[:, 0]  # (d, nodes)

    def inside(Y: np.ndarray) -> np.ndarray:
        lam = np.vstack([1.0 - Y.sum(axis=0), Y])  # barycentric (m + 1, n)
        phi = [lam[i] * (2.0 * lam[i] - 1.0) for i in range(m + 1)]
        pairs = [(0, 1)] if m == 1 else [(0, 1), (1, 2), (0, 2)]
        phi += [4.0 * lam[i] * lam[j] for i, j in pairs]
        return _predicate(part, (N @ np.array(phi)).T)

    return inside


def _bisect(inside, A: np.ndarray, B: np.ndarray, at_a: np.ndarray) -> np.ndarray:
    """The points ``(m, k)`` on the segments from ``A`` to ``B`` (reference points
    ``(m, k)``, where ``inside`` is ``at_a`` at ``A`` and not at ``B``) where
    ``inside`` changes, to round-off: 32 points per segment and round, all segments in
    one call of the predicate."""
    n = 32
    s = np.linspace(0.0, 1.0, n + 1)[1:-1]
    A, B = A.astype(float), B.astype(float)
    for _ in range(12):
        D = B - A
        if not np.any(D):
            break
        Y = A[:, :, None] + D[:, :, None] * s[None, None, :]  # (m, k, n - 1)
        val = inside(Y.reshape(A.shape[0], -1)).reshape(A.shape[1], n - 1)
        same = val == at_a[:, None]
        # the last sample still on A's side (-1: none), the interval after it
        j = np.where(same.all(axis=1), n - 2, np.argmin(same, axis=1) - 1)
        lo = np.where(j >= 0, s[np.maximum(j, 0)], 0.0)
        hi = np.where(j + 1 < n - 1, s[np.minimum(j + 1, n - 2)], 1.0)
        A, B = A + D * lo, A + D * hi
    return 0.5 * (A + B)


def _toward(P: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The points ``P`` (n, 2) moved :data:`NUDGE` toward ``c`` (2,)."""
    D = c - P
    r = np.linalg.norm(D, axis=1, keepdims=True)
    return P + D * np.minimum(NUDGE / np.where(r > 0, r, 1.0), 0.5)


def _covered_intervals(inside, t: np.ndarray, hit: np.ndarray, Xq, Wq):
    """2D: the quadrature of the parts of the segment [0, 1] where ``inside`` holds,
    from its values ``hit`` at the samples ``t``: each change located by bisection."""
    k = np.flatnonzero(hit[1:] != hit[:-1])
    x = _bisect(inside, t[k][None], t[k + 1][None], hit[k])[0] if k.size else []
    ends = [0.0, *(float(v) for v in x), 1.0]
    Y, W = [], []
    for a, b in zip(ends[:-1], ends[1:], strict=True):
        if b > a and bool(inside(np.array([[0.5 * (a + b)]]))[0]):
            Y.append(a + (b - a) * Xq)
            W.append((b - a) * Wq)
    if not W:
        return np.zeros((1, 0)), np.zeros(0)
    return np.hstack(Y), np.concatenate(W)


def _covered_triangles(inside, Xq, Wq):
    """3D: the quadrature of the part of the reference triangle where ``inside`` holds.

    A triangle is classified by the predicate at its vertices and at points along its
    edges, all moved :data:`NUDGE` toward the centroid (so that a region whose edge
    runs along a side or through a corner of the triangle is not mistaken for a cut by
    round-off).  A triangle cut once along a straight line (one
    vertex apart, its two edges changing once) is split exactly where the line crosses
    its edges (bisection on the edges); any other mixed triangle is split in four, at
    most :data:`PREDICATE_DEPTH` times and :data:`PREDICATE_VISITS` triangles in all,
    after which the predicate weighs the Gauss points."""
    Y: list[np.ndarray] = []
    W: list[np.ndarray] = []
    area0 = float(Wq.sum())  # the reference triangle's area
    n = 4
    E = np.linspace(0.0, 1.0, n + 1)[1:-1]
    visits = [0]

    def add(T: np.ndarray, indicator: bool = False) -> None:
        """Gauss points of the triangle ``T`` (3, 2) in reference coordinates (with
        ``indicator``, the weights times the predicate at the points)."""
        J = np.column_stack([T[1] - T[0], T[2] - T[0]])
        area = 0.5 * abs(np.linalg.det(J))
        if area == 0.0:
            return
        y = T[0][:, None] + J @ Xq
        w = Wq * (area / area0)
        if indicator:
            w = w * inside(y)
        Y.append(y)
        W.append(w)

    def visit(T: np.ndarray, depth: int) -> None:
        visits[0] += 1
        c = T.mean(axis=0)
        pts = [T[0], T[1], T[2]]
        pts += [T[a] + s * (T[b] - T[a]) for a, b in ((0, 1), (1, 2), (2, 0)) for s in E]
        P = _toward(np.array(pts), c)
        val = inside(P.T)
        if val.all():
            add(T)
            return
        if not val.any():
            return
        vert, along = val[:3], val[3:].reshape(3, n - 1)
        lone = [i for i in range(3) if vert[i] != vert[(i + 1) % 3] and vert[i] != vert[i - 1]]
        if len(lone) == 1:
            i = lone[0]
            j, k = (i + 1) % 3, (i + 2) % 3
            # a straight cut: edges i->j and k->i change once, edge j->k not at all
            ij = np.concatenate([[vert[i]], along[i], [vert[j]]])
            ki = np.concatenate([[vert[k]], along[k], [vert[i]]])
            jk = np.concatenate([[vert[j]], along[j], [vert[k]]])
            if (
                np.count_nonzero(ij[1:] != ij[:-1]) == 1
                and np.count_nonzero(ki[1:] != ki[:-1]) == 1
                and not np.any(jk != jk[0])
            ):
                # on the edges moved inside by NUDGE (a region's edge may run along
                # the other edge), then at the same fraction of the edges themselves
                Q = _toward(T, c)
                X = _bisect(
                    inside,
                    np.column_stack([Q[i], Q[i]]),
                    np.column_stack([Q[j], Q[k]]),
                    np.array([vert[i], vert[i]]),
                )
                t = [
                    float(np.linalg.norm(X[:, e] - Q[i]) / np.linalg.norm(Q[w] - Q[i]))
                    for e, w in enumerate((j, k))
                ]
                A = T[i] + t[0] * (T[j] - T[i])
                B = T[i] + t[1] * (T[k] - T[i])
                tip = np.array([T[i], A, B])
                rest = [np.array([A, T[j], T[k]]), np.array([A, T[k], B])]
                # the cut is straight: the pieces' centroids, and points a little to
                # either side of the chord A-B, lie where the predicate says
                e = B - A
                nrm = np.array([-e[1], e[0]]) / max(float(np.linalg.norm(e)), 1e-300)
                gap = max(STRAIGHT_TOL * float(np.linalg.norm(T[1] - T[0])), 10.0 * NUDGE)
                nrm *= np.sign(nrm @ (T[i] - A)) * gap
                chord = [A + q * e + sgn * nrm for q in (0.25, 0.5, 0.75) for sgn in (1, -1)]
                probe = np.array([*(R.mean(axis=0) for R in [tip, *rest]), *chord]).T
                want = [vert[i], vert[j], vert[j]] + [vert[i], vert[j]] * 3
                ok = np.array_equal(inside(probe), want)
                if ok or depth >= PREDICATE_DEPTH or visits[0] >= PREDICATE_VISITS:
                    for R in [tip] if vert[i] else rest:
                        add(R)
                    return
        if depth >= PREDICATE_DEPTH or visits[0] >= PREDICATE_VISITS:
            add(T, indicator=True)
            return
        m01, m12, m20 = 0.5 * (T[0] + T[1]), 0.5 * (T[1] + T[2]), 0.5 * (T[2] + T[0])
        for R in (
            np.array([T[0], m01, m20]),
            np.array([m01, T[1], m12]),
            np.array([m20, m12, T[2]]),
            np.array([m01, m12, m20]),
        ):
            visit(R, depth + 1)

    visit(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 0)
    if not W:
        return np.zeros((2, 0)), np.zeros(0)
    return np.hstack(Y), np.concatenate(W)
