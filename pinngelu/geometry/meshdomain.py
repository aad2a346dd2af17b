"""Domains given by a volume mesh: :class:`MeshDomain`.

A :class:`MeshDomain` is a :class:`~pinngelu.geometry.Geometry` whose interior is the union of
the cells of a conforming mesh (triangles / quadrilaterals in 2D, tetrahedra / hexahedra in
3D) and whose boundary is made of the mesh facets that belong to exactly one cell. Named
boundary parts come from the mesh file (Gmsh physical groups, meshio cell sets) or from
arrays of facets; every boundary facet in no named part belongs to the part ``"boundary"``.

Sampling is exact for the mesh: interior points are drawn by choosing cells with probability
proportional to their area / volume and then a uniform point in the cell; boundary points by
choosing facets proportionally to their length / area and a uniform point on the facet, with
the facet's outward unit normal. Both use measure-preserving maps of the unit square / cube,
so the Sobol' method keeps its low discrepancy. :meth:`MeshDomain.mesh` returns the mesh
itself, so solutions can be written back onto the user's own nodes.

The class is built from arrays; reading files is in :mod:`pinngelu.geometry.meshio_read`,
the checks of the cells in :mod:`pinngelu.geometry.meshcheck` and the boundary topology in
:mod:`pinngelu.geometry.meshtopo`. Curved (second-order) cells are read by their corner
nodes, i.e. with straight edges.

Example
-------
>>> import pinngelu as pg
>>> dom = pg.MeshDomain.from_file("plate.msh")          # doctest: +SKIP
>>> dom.boundary_parts                                   # doctest: +SKIP
('left', 'right', 'hole', 'boundary')
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ._checks import BoolArray, FloatArray, IntArray, _as_float, _as_points
from .base import Geometry
from .distance import DistanceFunction, HalfSpace, NoDistanceFunction
from .meshcheck import as_index, check_indices, check_nodes, check_simplices
from .meshio_read import GroupSpec, mesh_arrays, read_mesh_file
from .meshlocate import MeshLocator
from .meshtopo import REMAINDER, assign_parts, boundary_facets, split_cells

if TYPE_CHECKING:  # meshio is slow to import: only where a file is read
    import meshio

__all__ = ["DUPLICATE_NODES", "MERGE_TOL", "REMAINDER", "DuplicateNodesWarning", "MeshDomain"]

DUPLICATE_NODES = ("merge", "error", "keep")
"""What a :class:`MeshDomain` does with coincident nodes used by its cells."""
MERGE_TOL = 1e-6
"""Nodes closer than this fraction of the shortest cell edge are coincident."""


class DuplicateNodesWarning(UserWarning):
    """Coincident nodes of a mesh were merged into one (the cells on either side of them
    now share their facets)."""


class MeshDomain(MeshLocator, Geometry):
    """A domain given by a conforming mesh of triangles / quadrilaterals (2D) or tetrahedra /
    hexahedra (3D).

    Parameters
    ----------
    points : array_like, shape (P, 2) or (P, 3)
        Node coordinates (length units). A 2D mesh may be given with ``(P, 3)`` nodes whose
        z coordinates are all zero (z is dropped).
    cells : array_like of int, shape (M, k)
        Volume cells, 0-based node indices. 2D: ``k = 3`` (triangles) or ``k = 4``
        (quadrilaterals, split into two triangles). 3D: ``k = 4`` (tetrahedra) or ``k = 8``
        (hexahedra in VTK node order, split into six tetrahedra). The mesh is 2D when the
        nodes have two coordinates, the cells are triangles, or the cells have four nodes
        and every z is zero; otherwise 3D. Either orientation is accepted (cells are
        reoriented; a mesh that mixes both orientations gets a warning).
    boundary_parts : dict of str to array_like of int, optional
        Named boundary parts: facets given as node pairs ``(k, 2)`` in 2D, node triples
        ``(k, 3)`` (or quadrilateral faces of hexahedra, ``(k, 4)``) in 3D, in any node order.
        Every facet must be a boundary facet of the mesh; parts must not overlap.
    duplicate_nodes : {"merge", "error", "keep"}, optional
        What to do with coincident nodes (closer than :data:`MERGE_TOL` times the
        shortest cell edge) used by the cells, such as the interface nodes of two blocks
        meshed apart: ``"merge"`` (the default) makes the cells use one of them, so that
        the blocks form one body, with a :class:`DuplicateNodesWarning` saying how many
        were merged; ``"error"`` refuses the mesh; ``"keep"`` keeps them apart (the cells
        on either side then do not share their facets: a crack, traction-free unless a
        boundary part names its facets).

    Attributes
    ----------
    points : ndarray, shape (P, d)
        Node coordinates (length units), including nodes used by no cell.
    cells : ndarray of int, shape (M, d + 1)
        The triangles / tetrahedra of the domain (quadrilaterals and hexahedra split),
        positively oriented.
    source : str
        The file the mesh was read from, or ``"<arrays>"``.

    Notes
    -----
    *Boundary parts.* The boundary facets are the facets of the volume cells that belong to
    exactly one cell. Named parts are listed first (in the order they were given or found in
    the file); every boundary facet in no named part belongs to the part ``"boundary"``,
    listed last and only if it is not empty (a named part called ``"boundary"`` takes those
    facets in as well, with a ``UserWarning``). The parts are disjoint; the whole boundary
    is ``parts=None`` in :meth:`sample_boundary` (there is no part named ``"all"``).

    *Normals* are the outward unit normals of the facets (checked against the vertex of the
    owning cell opposite the facet, or the hexahedron's centroid), constant on each facet.

    Raises
    ------
    TypeError
        Complex node coordinates or indices.
    ValueError
        Cells or facets of the wrong shape, node indices negative, out of range or not
        integers, non-finite coordinates, degenerate (zero-area / zero-volume), duplicated,
        overlapping or folded cells, a facet shared by more than two cells, named facets
        that are not on the boundary, overlapping parts (see
        :func:`~pinngelu.geometry.meshcheck.check_mesh`); coincident nodes with
        ``duplicate_nodes="error"``.

    Warns
    -----
    DuplicateNodesWarning
        When coincident nodes were merged (``duplicate_nodes="merge"``).
    MeshOrientationWarning
        When the cells mix both orientations (they are reoriented).
    UserWarning
        When a named part called ``"boundary"`` also takes in the facets in no named part.
    """

    _interior_exact = True
    straight_cells = True
    """The cells are the domain: no analytic boundary to curve them onto."""

    def __init__(
        self,
        points: ArrayLike,
        cells: ArrayLike,
        boundary_parts: Mapping[str, ArrayLike] | None = None,
        duplicate_nodes: str = "merge",
    ) -> None:
        where = "<arrays>"
        P = check_nodes(points, where)
        C = as_index(cells, f"{where}: cells")
        if C.ndim != 2 or C.shape[0] == 0:
            raise ValueError(f"{where}: cells must have shape (M, k) with M >= 1, got {C.shape}")
        k = C.shape[1]
        flat = P.shape[1] == 2 or k == 3 or (k == 4 and not np.any(P[:, 2]))
        if flat:
            if k not in (3, 4):
                raise ValueError(
                    f"{where}: 2D cells must be triangles (M, 3) or quadrilaterals (M, 4), "
                    f"got {C.shape}"
                )
            dim = 2
            ctype = "triangle" if k == 3 else "quad"
        else:
            if k not in (4, 8):
                raise ValueError(
                    f"{where}: 3D cells must be tetrahedra (M, 4) or hexahedra (M, 8), "
                    f"got {C.shape}"
                )
            dim = 3
            ctype = "tetra" if k == 4 else "hexahedron"
        groups: dict[str, list[IntArray]] = {}
        for name, facets in (boundary_parts or {}).items():
            F = np.asarray(facets)
            ok = (2,) if dim == 2 else (3, 4)
            if F.ndim != 2 or F.shape[1] not in ok:
                want = "(k, 2) node pairs" if dim == 2 else "(k, 3) node triples"
                raise ValueError(
                    f"boundary part {name!r}: facets must be {want}, got shape {F.shape}"
                )
            groups[str(name)] = [as_index(F, f"boundary part {name!r}")]
        self._build(P, [(ctype, C)], groups, list(groups), dim, where, duplicate_nodes)

    # -- construction from files --------------------------------------------------------------

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        boundary_groups: GroupSpec = None,
        dim: int | None = None,
        duplicate_nodes: str = "merge",
    ) -> MeshDomain:
        """Read a mesh file (any format meshio reads: Gmsh ``.msh``, ``.vtu``, ``.inp``...).

        Parameters
        ----------
        path : path-like
            The mesh file.
        boundary_groups : None, str, sequence of str or dict of str to str, optional
            Which named facet groups of the file become boundary parts. ``None``: all of them.
            A name or list of names: only these, in this order (the facets of other groups go
            to ``"boundary"``). A dict ``{group in the file: part name}``: these groups,
            renamed; several groups mapped to one name are merged.
        dim : {None, 2, 3}, optional
            Spatial dimension; by default 3 if the file has 3D cells, else 2.
        duplicate_nodes : {"merge", "error", "keep"}, optional
            What to do with coincident nodes (see :class:`MeshDomain`).

        Returns
        -------
        MeshDomain

        Notes
        -----
        Volume cells: triangles and quadrilaterals (2D), tetrahedra and hexahedra (3D),
        first or second order (read by their corner nodes). Named facet groups are read from

        * Gmsh physical groups: ``cell_data["gmsh:physical"]`` on line blocks (2D) or
          triangle / quadrilateral blocks (3D), named by ``field_data`` (``$PhysicalNames``);
          a group without a name is called by its tag, e.g. ``"3"``;
        * meshio ``cell_sets`` restricted to facet blocks (Gmsh 4.1, Abaqus ``.inp``, XDMF,
          MED). Sets holding only volume cells or points are ignored. VTU files cannot hold
          cell sets (meshio stores them as unnamed integer data), so VTU meshes have the
          single part ``"boundary"`` unless the facets are given by other means.

        A group found by both ways under one name is one group (the union of its facets).
        With ``boundary_groups=None`` groups are listed in the order Gmsh physical tags
        ascend, then cell sets in file order.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the file cannot be read or has an unsupported format, has no 2D / 3D volume
            cells, has unsupported 3D cells (wedges, pyramids), a 2D mesh off the plane
            ``z = 0``, degenerate cells, a requested group that does not exist (the message
            lists those that do), group facets not on the boundary, or overlapping groups.
        """
        _check_duplicate_nodes(duplicate_nodes)
        try:
            mesh = read_mesh_file(path)
        except ValueError as exc:
            missing = exc.__cause__
            if isinstance(missing, ModuleNotFoundError) and missing.name:
                raise ValueError(
                    f"cannot read mesh file {Path(path)}: its format needs the package "
                    f"{missing.name!r}, which is not installed: pip install {missing.name} "
                    "(or convert the mesh to .msh or .vtu, which need nothing more)"
                ) from exc
            raise
        return cls.from_meshio(
            mesh,
            boundary_groups=boundary_groups,
            dim=dim,
            source=str(Path(path)),
            duplicate_nodes=duplicate_nodes,
        )

    @classmethod
    def from_meshio(
        cls,
        mesh: meshio.Mesh,
        boundary_groups: GroupSpec = None,
        dim: int | None = None,
        source: str = "<meshio.Mesh>",
        duplicate_nodes: str = "merge",
    ) -> MeshDomain:
        """Build the domain from a :class:`meshio.Mesh` (see :meth:`from_file`).

        Parameters
        ----------
        mesh : meshio.Mesh
            The mesh (points in length units).
        boundary_groups, dim
            As in :meth:`from_file`.
        source : str, optional
            Name of the mesh used in error messages.
        duplicate_nodes : {"merge", "error", "keep"}, optional
            What to do with coincident nodes (see :class:`MeshDomain`).

        Returns
        -------
        MeshDomain
        """
        P, blocks, groups, order, dim = mesh_arrays(mesh, boundary_groups, dim, source)
        obj = cls.__new__(cls)
        obj._build(P, blocks, groups, order, dim, source, duplicate_nodes)
        return obj

    # -- the mesh data structure --------------------------------------------------------------

    def _build(
        self,
        points: FloatArray,
        blocks: list[tuple[str, IntArray]],
        groups: dict[str, list[IntArray]],
        order: list[str],
        dim: int,
        source: str,
        duplicate_nodes: str = "merge",
    ) -> None:
        self.source = source
        self.dim = dim
        used = self._set_nodes(points, blocks)
        blocks, groups, used = self._merge_nodes(blocks, groups, used, duplicate_nodes)
        S, cands = split_cells(self.points, blocks)
        self._set_cells(S)
        self._set_boundary(cands)
        self._set_parts(groups, order)
        self._set_locator(used)

    def _set_nodes(self, points: FloatArray, blocks: list[tuple[str, IntArray]]) -> IntArray:
        """Check the nodes and cell indices, drop z of a 2D mesh; return the used nodes."""
        source, dim = self.source, self.dim
        P = check_nodes(points, source)
        if P.shape[1] < dim:
            raise ValueError(f"{source}: points must have shape (P, {dim}), got {P.shape}")
        for _, c in blocks:
            check_indices(c, P.shape[0], f"{source}: cells")
        used_nodes = np.unique(np.concatenate([c.ravel() for _, c in blocks]))
        if dim == 2 and P.shape[1] == 3:
            z = P[used_nodes, 2]
            ext = float(np.ptp(P[used_nodes, :2], axis=0).max())
            if np.any(np.abs(z) > 1e-12 * max(ext, 1e-300)):
                raise ValueError(
                    f"{source}: a 2D mesh must lie in the plane z = 0 "
                    f"(max |z| = {float(np.abs(z).max()):.3g})"
                )
            P = P[:, :2]
        self.points = np.ascontiguousarray(P)
        return used_nodes

    def _merge_nodes(
        self,
        blocks: list[tuple[str, IntArray]],
        groups: dict[str, list[IntArray]],
        used: IntArray,
        how: str,
    ) -> tuple[list[tuple[str, IntArray]], dict[str, list[IntArray]], IntArray]:
        """Coincident nodes used by the cells: one node each (``how="merge"``), refused
        (``"error"``) or kept apart (``"keep"``).  The cells and the named facets are
        renumbered to the node of lowest index; :attr:`points` keeps every node."""
        _check_duplicate_nodes(how)
        if how == "keep" or used.size < 2:
            return blocks, groups, used
        P = self.points
        shortest = np.inf
        for _, c in blocks:
            for i in range(c.shape[1]):
                e = np.linalg.norm(P[c[:, i]] - P[c[:, (i + 1) % c.shape[1]]], axis=1)
                e = e[e > 0]
                if e.size:
                    shortest = min(shortest, float(e.min()))
        if not np.isfinite(shortest):
            return blocks, groups, used
        tol = MERGE_TOL * shortest
        pairs = cKDTree(P[used]).query_pairs(tol, output_type="ndarray")
        if pairs.size == 0:
            return blocks, groups, used
        n = used.size
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        _, label = connected_components(graph, directed=False)
        first = np.full(label.max() + 1, n, dtype=np.int64)
        np.minimum.at(first, label, np.arange(n))
        target = used[first[label]]  # the lowest index of each group of coincident nodes
        merged = int(np.sum(target != used))
        if how == "error":
            i = int(np.flatnonzero(target != used)[0])
            raise ValueError(
                f"{self.source}: {merged} node(s) coincide with other nodes (within "
                f"{tol:.3g}, {MERGE_TOL:g} of the shortest cell edge; first: node "
                f"{int(used[i])} at {P[used[i]].tolist()} and node {int(target[i])}), so "
                "the cells on either side do not share their facets; pass "
                "duplicate_nodes='merge' to merge them, or 'keep' to keep the gap"
            )
        remap = np.arange(P.shape[0], dtype=np.int64)
        remap[used] = target
        warnings.warn(
            f"{self.source}: merged {merged} node(s) into coincident nodes (within "
            f"{tol:.3g}, {MERGE_TOL:g} of the shortest cell edge), so that the cells on "
            "either side share their facets; pass duplicate_nodes='error' to refuse such "
            "a mesh, or 'keep' to keep the nodes apart",
            DuplicateNodesWarning,
            stacklevel=4,
        )
        blocks = [(t, remap[c]) for t, c in blocks]
        groups = {name: [remap[F] for F in fs] for name, fs in groups.items()}
        return blocks, groups, np.unique(target)

    def _set_cells(self, S: IntArray) -> None:
        """Check the simplices, orient them positively; cumulative volumes for sampling."""
        S, vol = check_simplices(self.points, S, self.source)
        self.cells = S
        self._measure = float(vol.sum())
        self._vol_cum = np.concatenate([[0.0], np.cumsum(vol)]) / self._measure

    def _set_boundary(self, cands: list) -> None:
        """Boundary facets with outward normals."""
        bnd = boundary_facets(self.points, cands, self.source)
        self._bnd = bnd
        self._fnodes = bnd.nodes
        self._fnormal = bnd.normals
        self._fmeas = bnd.measures
        self._fverts = self.points[bnd.nodes]

    def _set_parts(self, groups: dict[str, list[IntArray]], order: list[str]) -> None:
        """Named boundary parts and their cumulative facet measures for sampling."""
        face_part, names = assign_parts(self._bnd, groups, order, self.source)
        if REMAINDER in order:
            extra = int(np.sum(face_part == names.index(REMAINDER))) - sum(
                len(F) for F in groups.get(REMAINDER, [])
            )
            if extra > 0:
                warnings.warn(
                    f"{self.source}: the boundary part {REMAINDER!r} is also the name of the "
                    f"part of the facets in no named group: it takes in {extra} such "
                    "facet(s); rename the group to keep them apart",
                    UserWarning,
                    stacklevel=4,
                )
        self._names = tuple(names)
        fpart = face_part[self._bnd.owner]
        self._fpart = fpart
        self._part_facets: list[IntArray] = []
        self._part_cum: list[FloatArray] = []
        self._part_meas: list[float] = []
        for k in range(len(names)):
            idx = np.flatnonzero(fpart == k)
            c = np.concatenate([[0.0], np.cumsum(self._fmeas[idx])])
            self._part_facets.append(idx)
            self._part_meas.append(float(c[-1]))
            self._part_cum.append(c / c[-1])

    def __repr__(self) -> str:
        return (
            f"MeshDomain({self.source!r}, dim={self.dim}, {self.points.shape[0]} points, "
            f"{self.cells.shape[0]} cells, parts={list(self._names)})"
        )

    # -- Geometry interface ----------------------------------------------------------------

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        """Axis-aligned bounding box ``(lo (d,), hi (d,))`` of the cells' nodes (length units)."""
        return self._bbox[0].copy(), self._bbox[1].copy()

    @property
    def measure(self) -> float:
        """Sum of the cell areas (2D, length^2) or volumes (3D, length^3)."""
        return self._measure

    @property
    def boundary_parts(self) -> tuple[str, ...]:
        """Names of the boundary parts: the named groups, then ``"boundary"`` if not empty."""
        return self._names

    def _base_measure(self, k: int) -> float:
        return self._part_meas[k]

    def _part_breaks(self, k: int) -> FloatArray:
        return self._part_cum[k]

    def _part_map(self, k: int, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Measure-preserving map of ``u`` (m, d-1) in the unit cube onto part ``k``.

        The first coordinate picks the facet (by cumulative measure) and, rescaled to the
        facet's interval, serves as the first coordinate of the uniform map onto the facet.
        """
        cum = self._part_cum[k]
        fac = self._part_facets[k]
        j, t = _pick(cum, u[:, 0])
        f = fac[j]
        V = self._fverts[f]
        if self.dim == 2:
            X = V[:, 0] + t[:, None] * (V[:, 1] - V[:, 0])
        else:
            s = np.sqrt(t)
            w = u[:, 1]
            X = (
                (1.0 - s)[:, None] * V[:, 0]
                + (s * (1.0 - w))[:, None] * V[:, 1]
                + (s * w)[:, None] * V[:, 2]
            )
        return X, self._fnormal[f].copy()

    def _interior_map(self, u: FloatArray) -> FloatArray:
        """Measure-preserving map of ``u`` (n, d) in the unit cube onto the mesh.

        The first coordinate picks the cell (by cumulative measure); rescaled to the cell's
        interval it is the "radial" coordinate of the uniform map onto the simplex
        (``s = t^(1/d)`` from vertex 0 towards the opposite facet), the others place the
        point on that facet.
        """
        j, t = _pick(self._vol_cum, u[:, 0])
        V = self.points[self.cells[j]]
        if self.dim == 2:
            s = np.sqrt(t)
            w = u[:, 1]
            lam = np.column_stack([1.0 - s, s * (1.0 - w), s * w])
        else:
            s = np.cbrt(t)
            r = np.sqrt(u[:, 1])
            w = u[:, 2]
            lam = np.column_stack([1.0 - s, s * (1.0 - r), s * r * (1.0 - w), s * r * w])
        return np.einsum("nk,nkd->nd", lam, V)

    def part_facets(self, name: str) -> tuple[FloatArray, FloatArray]:
        """The facets of a boundary part.

        Parameters
        ----------
        name : str
            One of :attr:`boundary_parts`.

        Returns
        -------
        vertices : ndarray, shape (n, d, d)
            The vertices of each facet (segments in 2D, triangles in 3D; length units).
        normals : ndarray, shape (n, d)
            Their outward unit normals.
        """
        f = self._part_facets[self._part_index(name)]
        return self._fverts[f].copy(), self._fnormal[f].copy()

    def part_of(self, X: ArrayLike) -> IntArray:
        """Index into :attr:`boundary_parts` of the boundary facet nearest to each point
        (points on the boundary: the part they lie on), e.g. to name the facets of a
        refined copy of the mesh.

        Parameters
        ----------
        X : array_like, shape (N, d)
            Points (length units).

        Returns
        -------
        ndarray of int, shape (N,)
        """
        pts = _as_points(X, self.dim)
        k = min(16, self._fverts.shape[0])
        _, near = self._facet_tree().query(pts, k=k)
        near = np.asarray(near).reshape(pts.shape[0], k)
        dist = np.stack([self._facet_distance(pts, near[:, j]) for j in range(k)], axis=1)
        f = near[np.arange(pts.shape[0]), np.argmin(dist, axis=1)]
        return self._fpart[f]

    def _part_distance(self, k: int, inside: bool) -> DistanceFunction:
        """The exact distance to the plane (line) of a planar part, where the domain lies
        on one side of it and touches it only on the part; other parts have none."""
        name = self._names[k]
        if not inside:
            raise NoDistanceFunction("a MeshDomain cannot be the subtracted domain")
        f = self._part_facets[k]
        n = -self._fnormal[f].mean(axis=0)  # into the domain
        n /= np.linalg.norm(n)
        p = self._fverts[f].reshape(-1, self.dim).mean(axis=0)
        lo, hi = self._bbox
        tol = 1e-9 * float(np.linalg.norm(hi - lo))
        on_plane = np.abs((self._fverts[f].reshape(-1, self.dim) - p) @ n) <= tol
        if not (np.all(on_plane) and np.allclose(-self._fnormal[f], n, atol=1e-9)):
            raise NoDistanceFunction(
                f"{self.source}: boundary part {name!r} is not planar, so it has no distance "
                "function (hard conditions need a planar part on a mesh domain)"
            )
        used = np.unique(self.cells)
        s = (self.points[used] - p) @ n
        part_nodes = np.unique(self._fnodes[f])
        touching = np.setdiff1d(used[np.abs(s) <= tol], part_nodes)
        if np.any(s < -tol) or touching.size:
            raise NoDistanceFunction(
                f"{self.source}: the plane of boundary part {name!r} cuts the mesh or touches "
                "it outside the part, so its distance is no distance function of the part"
            )
        return HalfSpace(p, n)

    def _phi(self, X: FloatArray) -> FloatArray:
        d = self.boundary_distance(X)
        return np.where(self.locate(X) >= 0, -d, d)

    def contains(self, X: ArrayLike, tol: float = 1e-10) -> BoolArray:
        """Test whether points lie in the mesh (inside a cell or on the boundary).

        Parameters
        ----------
        X : array_like, shape (N, d)
            Points (length units).
        tol : float, optional
            Absolute tolerance (length units): points within ``tol`` of the boundary count
            as contained; a negative ``tol`` keeps only points at least ``-tol`` inside.

        Returns
        -------
        ndarray of bool, shape (N,)
            Exact point location in the cells (right for non-convex meshes and holes).
        """
        pts = _as_points(X, self.dim)
        tol = _as_float(tol, "tol")
        if tol < 0:
            return self._phi(pts) <= tol
        inside = self.locate(pts) >= 0
        if tol == 0 or np.all(inside):
            return inside
        out = np.flatnonzero(~inside)
        tree = self._facet_tree()
        near = tree.query_ball_point(pts[out], r=tol + self._frmax * (1.0 + 1e-9))
        rows = np.repeat(np.arange(out.size), [len(a) for a in near])
        if rows.size:
            f = np.concatenate([np.asarray(a, dtype=np.int64) for a in near])
            ok = self._facet_distance(pts[out[rows]], f) <= tol
            inside[out[np.unique(rows[ok])]] = True
        return inside

    # -- export ---------------------------------------------------------------------------------

    def mesh(self, h: float | None = None) -> tuple[FloatArray, IntArray]:
        """The domain's own mesh, e.g. to write a solution back on the user's nodes.

        Parameters
        ----------
        h : float or None
            Ignored (kept for the :class:`~pinngelu.geometry.Geometry` interface).

        Returns
        -------
        points : ndarray, shape (P, d)
            All nodes of the mesh (length units), in file order (also nodes used by no cell).
        cells : ndarray of int, shape (M, 3) in 2D or (M, 4) in 3D
            Triangles / tetrahedra, positively oriented (quadrilaterals and hexahedra split).
        """
        return self.points.copy(), self.cells.copy()


def _check_duplicate_nodes(how: str) -> None:
    if how not in DUPLICATE_NODES:
        raise ValueError(
            f"duplicate_nodes must be one of {DUPLICATE_NODES}, got {how!r}: 'merge' joins "
            "coincident nodes, 'error' refuses them, 'keep' keeps them apart"
        )


def _pick(cum: FloatArray, t: FloatArray) -> tuple[IntArray, FloatArray]:
    """Interval ``j`` of ``t`` in the cumulative weights ``cum`` and the position in it."""
    j = np.clip(np.searchsorted(cum, t, side="right") - 1, 0, len(cum) - 2)
    local = np.clip((t - cum[j]) / (cum[j + 1] - cum[j]), 0.0, 1.0)
    return j, local
