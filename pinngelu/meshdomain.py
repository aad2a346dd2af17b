"""Domains given by a volume mesh, read from a file (any format meshio reads) or from arrays.

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

Curved (second-order) cells are read by their corner nodes, i.e. with straight edges.

Example
-------
>>> import pinngelu as pg
>>> dom = pg.MeshDomain.from_file("plate.msh")          # doctest: +SKIP
>>> dom.boundary_parts                                   # doctest: +SKIP
('left', 'right', 'hole', 'boundary')
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

if TYPE_CHECKING:  # meshio is slow to import: only where a file is read
    import meshio

from .geometry import (
    BoolArray,
    FloatArray,
    Geometry,
    IntArray,
    _as_points,
)

__all__ = ["MeshDomain"]

GroupSpec = str | Sequence[str] | Mapping[str, str] | None

#: name of the part holding every boundary facet that is in no named group
REMAINDER = "boundary"

# corner-node counts of the supported cell types (higher-order cells use their corners)
_CELLS_2D = {"triangle": 3, "triangle6": 3, "triangle7": 3, "quad": 4, "quad8": 4, "quad9": 4}
_CELLS_3D = {"tetra": 4, "tetra10": 4, "hexahedron": 8, "hexahedron20": 8, "hexahedron27": 8}
_FACETS_2D = {"line": 2, "line3": 2}
_FACETS_3D = {"triangle": 3, "triangle6": 3, "triangle7": 3, "quad": 4, "quad8": 4, "quad9": 4}
_VOLUME_3D_OTHER = ("wedge", "pyramid", "polyhedron")
# tolerance on barycentric coordinates in point location (relative to the cell size)
_BARY_EPS = 1e-12

# hexahedron (VTK / meshio node order) -> 6 tetrahedra around the diagonal 0-6
_HEX_TETS = np.array(
    [[0, 1, 2, 6], [0, 2, 3, 6], [0, 3, 7, 6], [0, 7, 4, 6], [0, 4, 5, 6], [0, 5, 1, 6]]
)
# its 6 quadrilateral faces, and each face's two triangles matching the tetrahedra above
_HEX_FACES = np.array(
    [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]
)
_HEX_FACE_TRIS = np.array(
    [
        [[0, 3, 2], [0, 2, 1]],
        [[4, 5, 6], [4, 6, 7]],
        [[0, 1, 5], [0, 5, 4]],
        [[1, 2, 6], [1, 6, 5]],
        [[2, 3, 6], [3, 7, 6]],
        [[3, 0, 7], [0, 4, 7]],
    ]
)


def _topo_dim(cell_type: str) -> int:
    if cell_type in _CELLS_3D or cell_type.startswith(_VOLUME_3D_OTHER):
        return 3
    if cell_type in _CELLS_2D or cell_type.startswith("polygon"):
        return 2
    if cell_type.startswith("line"):
        return 1
    return 0


class MeshDomain(Geometry):
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
        and every z is zero; otherwise 3D. Either orientation is accepted.
    boundary_parts : dict of str to array_like of int, optional
        Named boundary parts: facets given as node pairs ``(k, 2)`` in 2D, node triples
        ``(k, 3)`` (or quadrilateral faces of hexahedra, ``(k, 4)``) in 3D, in any node order.
        Every facet must be a boundary facet of the mesh; parts must not overlap.

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
    facets in as well). The parts are disjoint; the whole boundary is ``parts=None`` in
    :meth:`sample_boundary` (there is no part named ``"all"``).

    *Normals* are the outward unit normals of the facets (checked against the vertex of the
    owning cell opposite the facet, or the hexahedron's centroid), constant on each facet.

    Raises
    ------
    ValueError
        Cells or facets of the wrong shape, node indices out of range, non-finite
        coordinates, degenerate (zero-area / zero-volume) cells, a facet shared by more than
        two cells, named facets that are not on the boundary, overlapping parts.
    """

    _interior_exact = True

    def __init__(
        self,
        points: ArrayLike,
        cells: ArrayLike,
        boundary_parts: Mapping[str, ArrayLike] | None = None,
    ) -> None:
        P = np.asarray(points, dtype=np.float64)
        C = np.asarray(cells)
        where = "<arrays>"
        if P.ndim != 2 or P.shape[1] not in (2, 3):
            raise ValueError(f"points must have shape (P, 2) or (P, 3), got {P.shape}")
        if C.ndim != 2 or C.shape[0] == 0:
            raise ValueError(f"cells must have shape (M, k) with M >= 1, got {C.shape}")
        k = C.shape[1]
        flat = P.shape[1] == 2 or k == 3 or (k == 4 and not np.any(P[:, 2]))
        if flat:
            if k not in (3, 4):
                raise ValueError(
                    f"2D cells must be triangles (M, 3) or quadrilaterals (M, 4), got {C.shape}"
                )
            dim = 2
            ctype = "triangle" if k == 3 else "quad"
        else:
            if k not in (4, 8):
                raise ValueError(
                    f"3D cells must be tetrahedra (M, 4) or hexahedra (M, 8), got {C.shape}"
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
            groups[str(name)] = [_as_index(F, f"boundary part {name!r}")]
        self._build(P, [(ctype, _as_index(C, "cells"))], groups, list(groups), dim, where)

    # -- construction from files --------------------------------------------------------------

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        boundary_groups: GroupSpec = None,
        dim: int | None = None,
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
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(f"mesh file not found: {p}")
        if not p.is_file():
            raise ValueError(f"mesh path {p} is not a file")
        import meshio

        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                mesh = meshio.read(p)
        except SystemExit:  # meshio exits when no reader for the suffix accepts the file
            detail = " ".join(sink.getvalue().split())
            raise ValueError(
                f"cannot read mesh file {p}: not a valid mesh in a format meshio reads "
                f"for the suffix {p.suffix!r} ({detail})"
            ) from None
        except Exception as exc:
            hint = ""
            if "gmsh:physical" in str(exc):
                # meshio 5.3 cannot read MSH 4.1 files in which some elements are in no
                # physical group (e.g. written with Mesh.SaveAll = 1): nschloe/meshio#1388
                hint = (
                    "; meshio cannot read Gmsh 4.1 files in which some elements belong to no "
                    "physical group: put every entity in a physical group, or save the mesh "
                    "in the Gmsh 2.2 format (Mesh.MshFileVersion = 2.2)"
                )
            raise ValueError(f"cannot read mesh file {p}: {exc}{hint}") from exc
        return cls.from_meshio(mesh, boundary_groups=boundary_groups, dim=dim, source=str(p))

    @classmethod
    def from_meshio(
        cls,
        mesh: meshio.Mesh,
        boundary_groups: GroupSpec = None,
        dim: int | None = None,
        source: str = "<meshio.Mesh>",
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

        Returns
        -------
        MeshDomain
        """
        if dim is not None and dim not in (2, 3):
            raise ValueError(f"dim must be None, 2 or 3, got {dim!r}")
        types = [blk.type for blk in mesh.cells]
        dims = {t: _topo_dim(t) for t in types}
        if dim is None:
            top = max(dims.values(), default=0)
            if top < 2:
                found = ", ".join(sorted(set(types))) or "no cells at all"
                raise ValueError(
                    f"{source}: the mesh has no 2D or 3D volume cells (found: {found}); "
                    "note that Gmsh saves only the elements of physical groups when there are "
                    "any: add a physical surface / volume, or set Mesh.SaveAll = 1"
                )
            dim = top
        vol_types = _CELLS_2D if dim == 2 else _CELLS_3D
        fac_types = _FACETS_2D if dim == 2 else _FACETS_3D
        bad = sorted({t for t in types if dims[t] == dim and t not in vol_types})
        if bad:
            raise ValueError(
                f"{source}: unsupported {dim}D cell types {bad}; supported: {', '.join(vol_types)}"
            )
        blocks = [
            (blk.type, _as_index(blk.data[:, : vol_types[blk.type]], f"{source}: cells"))
            for blk in mesh.cells
            if blk.type in vol_types
        ]
        if not blocks:
            found = ", ".join(sorted(set(types))) or "no cells at all"
            raise ValueError(f"{source}: the mesh has no {dim}D volume cells (found: {found})")
        groups = _read_groups(mesh, dim, fac_types)
        order, groups = _select_groups(groups, boundary_groups, dim, source)
        obj = cls.__new__(cls)
        obj._build(np.asarray(mesh.points, dtype=np.float64), blocks, groups, order, dim, source)
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
    ) -> None:
        self.source = source
        self.dim = dim
        P = np.asarray(points, dtype=np.float64)
        if P.ndim != 2 or P.shape[1] not in (2, 3) or P.shape[1] < dim:
            raise ValueError(f"{source}: points must have shape (P, {dim}), got {P.shape}")
        if not np.all(np.isfinite(P)):
            raise ValueError(f"{source}: node coordinates contain NaN or inf")
        n_pts = P.shape[0]
        for _, c in blocks:
            if c.size and (c.min() < 0 or c.max() >= n_pts):
                raise ValueError(
                    f"{source}: cell node indices must lie in 0..{n_pts - 1}, "
                    f"got {int(c.min())}..{int(c.max())}"
                )
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
        P = np.ascontiguousarray(P)
        self.points = P

        # simplices; the faces used to find the boundary, each with a point on its inner side
        simp: list[IntArray] = []
        owned: list[IntArray] = []  # simplices whose own faces are candidate boundary faces
        quad_faces: list[IntArray] = []
        quad_tris: list[IntArray] = []
        quad_inner: list[FloatArray] = []
        for ctype, c in blocks:
            if ctype.startswith("quad"):
                t = np.concatenate([c[:, [0, 1, 2]], c[:, [0, 2, 3]]])
                simp.append(t)
                owned.append(t)  # the diagonal is shared by the two halves: never boundary
            elif ctype.startswith("hexahedron"):
                simp.append(c[:, _HEX_TETS].reshape(-1, 4))
                quad_faces.append(c[:, _HEX_FACES].reshape(-1, 4))
                quad_tris.append(c[:, _HEX_FACE_TRIS].reshape(-1, 2, 3))
                quad_inner.append(np.repeat(P[c].mean(axis=1), 6, axis=0))
            else:
                simp.append(c)
                owned.append(c)
        S = np.concatenate(simp).astype(np.int64)
        vol = _signed_volumes(P, S)
        edge = np.max(
            [
                np.linalg.norm(P[S[:, i]] - P[S[:, j]], axis=1)
                for i in range(dim + 1)
                for j in range(i + 1, dim + 1)
            ],
            axis=0,
        )
        degen = np.abs(vol) <= 1e-12 * edge**dim
        if np.any(degen):
            i = int(np.flatnonzero(degen)[0])
            what = "area" if dim == 2 else "volume"
            raise ValueError(
                f"{source}: {int(degen.sum())} degenerate (zero-{what}) cell(s); "
                f"first: nodes {S[i].tolist()} at {P[S[i]].tolist()}"
            )
        neg = vol < 0
        S[neg, 0], S[neg, 1] = S[neg, 1].copy(), S[neg, 0].copy()
        vol = np.abs(vol)
        self.cells = S
        self._measure = float(vol.sum())
        self._vol_cum = np.concatenate([[0.0], np.cumsum(vol)]) / self._measure

        # boundary faces: simplex faces (the face opposite vertex i, inner point = vertex i)
        # and quadrilateral faces of hexahedra (inner point = centroid), each occurring once
        bfaces: list[IntArray] = []
        binner: list[FloatArray] = []
        bsimp: list[IntArray] = []  # their simplex facets, (n_faces, s, dim)
        if owned:
            O = np.concatenate(owned).astype(np.int64)
            nv = dim + 1
            TF = np.concatenate([O[:, [j for j in range(nv) if j != i]] for i in range(nv)])
            TI = np.concatenate([P[O[:, i]] for i in range(nv)])
            b = _unique_boundary(TF, source)
            bfaces.append(TF[b])
            binner.append(TI[b])
            bsimp.append(TF[b][:, None, :])
        if quad_faces:
            QF = np.concatenate(quad_faces)
            b = _unique_boundary(QF, source)
            bfaces.append(QF[b])
            binner.append(np.concatenate(quad_inner)[b])
            bsimp.append(np.concatenate(quad_tris)[b])
        self._face_index: dict[tuple[int, ...], int] = {}
        FT_l, FO_l, FIN_l = [], [], []
        n_faces = 0
        for F, IN, T in zip(bfaces, binner, bsimp, strict=True):
            keys = np.sort(F, axis=1).tolist()
            self._face_index.update(
                zip(map(tuple, keys), range(n_faces, n_faces + F.shape[0]), strict=True)
            )
            s = T.shape[1]
            FT_l.append(T.reshape(-1, dim))
            FO_l.append(np.repeat(np.arange(n_faces, n_faces + F.shape[0]), s))
            FIN_l.append(np.repeat(IN, s, axis=0))
            n_faces += F.shape[0]
        FT = np.concatenate(FT_l).astype(np.int64)
        FO = np.concatenate(FO_l)
        FIN = np.concatenate(FIN_l)
        normals, meas = _facet_normals(P, FT)
        flip = np.sum((FIN - P[FT[:, 0]]) * normals, axis=1) > 0
        normals[flip] *= -1.0
        FT[flip, 0], FT[flip, 1] = FT[flip, 1].copy(), FT[flip, 0].copy()
        self._fnodes = FT
        self._fnormal = normals
        self._fmeas = meas
        self._fverts = P[FT]

        # named parts
        face_part = np.full(n_faces, -1, dtype=np.int64)
        names: list[str] = []
        for name in order:
            k = len(names) if name not in names else names.index(name)
            if name not in names:
                names.append(name)
            for F in groups.get(name, []):
                idx, missing = self._lookup_faces(F)
                if missing.size:
                    first = np.asarray(F)[missing[0]].tolist()
                    raise ValueError(
                        f"{source}: {missing.size} facet(s) of boundary group {name!r} are not "
                        f"on the boundary of the volume mesh (first: nodes {first}); pass "
                        "boundary_groups=[...] to use only the groups on the boundary"
                    )
                clash = idx[(face_part[idx] >= 0) & (face_part[idx] != k)]
                if clash.size:
                    other = names[int(face_part[clash[0]])]
                    raise ValueError(
                        f"{source}: boundary groups {other!r} and {name!r} overlap "
                        f"({clash.size} shared facet(s)); choose disjoint groups with "
                        "boundary_groups=[...]"
                    )
                face_part[idx] = k
        rest = face_part < 0
        if np.any(rest):
            if REMAINDER in names:
                face_part[rest] = names.index(REMAINDER)
            else:
                face_part[rest] = len(names)
                names.append(REMAINDER)
        empty = [n for k, n in enumerate(names) if not np.any(face_part == k)]
        if empty:
            raise ValueError(f"{source}: boundary group(s) {empty} hold no facets")
        self._names = tuple(names)
        fpart = face_part[FO]
        self._fpart = fpart
        self._part_facets: list[IntArray] = []
        self._part_cum: list[FloatArray] = []
        self._part_meas: list[float] = []
        for k in range(len(names)):
            idx = np.flatnonzero(fpart == k)
            c = np.concatenate([[0.0], np.cumsum(meas[idx])])
            self._part_facets.append(idx)
            self._part_meas.append(float(c[-1]))
            self._part_cum.append(c / c[-1])

        # point location: centroids, inverse edge matrices, bounding radius
        V = P[S]  # (M, d+1, d)
        self._v0 = V[:, 0].copy()
        self._tinv = np.linalg.inv(np.swapaxes(V[:, 1:] - V[:, :1], 1, 2))
        cen = V.mean(axis=1)
        self._ctree = cKDTree(cen)
        self._rmax = float(np.max(np.linalg.norm(V - cen[:, None, :], axis=2)))
        self._ftree: cKDTree | None = None
        self._frmax = 0.0
        lo = P[used_nodes].min(axis=0)
        hi = P[used_nodes].max(axis=0)
        self._bbox = (lo, hi)

    def _lookup_faces(self, F: IntArray) -> tuple[IntArray, IntArray]:
        """Boundary face indices of facets ``F`` (k, s); also the rows not found."""
        idx = np.full(F.shape[0], -1, dtype=np.int64)
        for r in range(F.shape[0]):
            idx[r] = self._face_index.get(tuple(sorted(F[r].tolist())), -1)
        missing = np.flatnonzero(idx < 0)
        return idx[idx >= 0], missing

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

    @property
    def n_facets(self) -> int:
        """Number of boundary facets (segments in 2D, triangles in 3D)."""
        return int(self._fnodes.shape[0])

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

    # -- point location and distances -----------------------------------------------------------

    def locate(self, X: ArrayLike) -> IntArray:
        """Index of a cell containing each point, or -1 outside the mesh.

        Parameters
        ----------
        X : array_like, shape (N, d)
            Points (length units).

        Returns
        -------
        ndarray of int, shape (N,)
            Row of :attr:`cells` holding the point (points on shared facets get one of the
            cells), -1 where no cell holds it (to a relative tolerance of 1e-12 in
            barycentric coordinates).
        """
        pts = _as_points(X, self.dim)
        n_cells = self.cells.shape[0]
        owner = np.full(pts.shape[0], -1, dtype=np.int64)
        pending = np.arange(pts.shape[0])
        k = min(8, n_cells)
        rmax = self._rmax * (1.0 + 1e-9) + 1e-300
        eps = _BARY_EPS
        while pending.size:
            dist, idx = self._ctree.query(pts[pending], k=k)
            dist = dist.reshape(pending.size, -1)
            idx = idx.reshape(pending.size, -1)
            found = np.full(pending.size, -1, dtype=np.int64)
            for col in range(idx.shape[1]):
                need = np.flatnonzero(found < 0)
                if need.size == 0:
                    break
                c = idx[need, col]
                lam = self._barycentric(pts[pending[need]], c)
                ok = lam.min(axis=1) >= -eps
                found[need[ok]] = c[ok]
            owner[pending] = found
            if k >= n_cells:
                break
            done = (found >= 0) | (dist[:, -1] > rmax)
            pending = pending[~done]
            k = min(4 * k, n_cells)
        return owner

    def _barycentric(self, X: FloatArray, c: IntArray) -> FloatArray:
        lam = np.einsum("nij,nj->ni", self._tinv[c], X - self._v0[c])
        return np.column_stack([1.0 - lam.sum(axis=1), lam])

    def _facet_tree(self) -> cKDTree:
        if self._ftree is None:
            cen = self._fverts.mean(axis=1)
            self._ftree = cKDTree(cen)
            self._frmax = float(np.max(np.linalg.norm(self._fverts - cen[:, None, :], axis=2)))
        return self._ftree

    def _facet_distance(self, X: FloatArray, f: IntArray) -> FloatArray:
        """Distance (n,) from points ``X`` (n, d) to boundary facets ``f`` (n,)."""
        V = self._fverts[f]
        if self.dim == 2:
            return _pair_segment_distance(X, V[:, 0], V[:, 1])
        A, B, C = V[:, 0], V[:, 1], V[:, 2]
        nrm = self._fnormal[f]
        h = np.sum((X - A) * nrm, axis=1)
        Q = X - h[:, None] * nrm
        e0, e1, q = B - A, C - A, Q - A
        d00 = np.sum(e0 * e0, axis=1)
        d01 = np.sum(e0 * e1, axis=1)
        d11 = np.sum(e1 * e1, axis=1)
        d20 = np.sum(q * e0, axis=1)
        d21 = np.sum(q * e1, axis=1)
        den = d00 * d11 - d01 * d01
        b1 = (d11 * d20 - d01 * d21) / den
        b2 = (d00 * d21 - d01 * d20) / den
        inside = (b1 >= 0) & (b2 >= 0) & (b1 + b2 <= 1)
        edge = np.minimum(
            np.minimum(_pair_segment_distance(X, A, B), _pair_segment_distance(X, B, C)),
            _pair_segment_distance(X, C, A),
        )
        return np.where(inside, np.abs(h), edge)

    def boundary_distance(self, X: ArrayLike) -> FloatArray:
        """Euclidean distance from points to the boundary (length units).

        Parameters
        ----------
        X : array_like, shape (N, d)
            Points (length units).

        Returns
        -------
        ndarray, shape (N,)
            Distance to the nearest boundary facet.
        """
        pts = _as_points(X, self.dim)
        tree = self._facet_tree()
        nf = self.n_facets
        out = np.full(pts.shape[0], np.inf)
        pending = np.arange(pts.shape[0])
        k = min(8, nf)
        while pending.size:
            dist, idx = tree.query(pts[pending], k=k)
            dist = dist.reshape(pending.size, -1)
            idx = idx.reshape(pending.size, -1)
            best = np.full(pending.size, np.inf)
            for col in range(idx.shape[1]):
                best = np.minimum(best, self._facet_distance(pts[pending], idx[:, col]))
            out[pending] = best
            if k >= nf:
                break
            # facets beyond the k nearest centroids are at least dist_k - r_max away
            done = best <= dist[:, -1] - self._frmax
            pending = pending[~done]
            k = min(4 * k, nf)
        return out

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
        tol = float(tol)
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


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _as_index(a: Any, what: str) -> IntArray:
    arr = np.asarray(a)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{what}: node indices must be integers")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _signed_volumes(P: FloatArray, S: IntArray) -> FloatArray:
    p0 = P[S[:, 0]]
    edges = np.stack([P[S[:, i]] - p0 for i in range(1, S.shape[1])], axis=1)
    return np.linalg.det(edges) / math.factorial(S.shape[1] - 1)


def _unique_boundary(F: IntArray, source: str) -> IntArray:
    """Rows of ``F`` (faces, any node order) that occur exactly once (as sets of nodes)."""
    if F.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    key = np.sort(F, axis=1)
    _, first, inv, counts = np.unique(
        key, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    if np.any(counts > 2):
        j = int(np.flatnonzero(counts > 2)[0])
        raise ValueError(
            f"{source}: a facet is shared by {int(counts[j])} cells (nodes "
            f"{key[first[j]].tolist()}): the mesh is not conforming (duplicate or overlapping "
            "cells)"
        )
    return np.sort(first[counts == 1])


def _facet_normals(P: FloatArray, F: IntArray) -> tuple[FloatArray, FloatArray]:
    """Unit normals (k, d) (either orientation) and measures (k,) of simplex facets."""
    if F.shape[1] == 2:
        e = P[F[:, 1]] - P[F[:, 0]]
        length = np.linalg.norm(e, axis=1)
        return np.column_stack([e[:, 1], -e[:, 0]]) / length[:, None], length
    c = np.cross(P[F[:, 1]] - P[F[:, 0]], P[F[:, 2]] - P[F[:, 0]])
    a2 = np.linalg.norm(c, axis=1)
    return c / a2[:, None], 0.5 * a2


def _pick(cum: FloatArray, t: FloatArray) -> tuple[IntArray, FloatArray]:
    """Interval ``j`` of ``t`` in the cumulative weights ``cum`` and the position in it."""
    j = np.clip(np.searchsorted(cum, t, side="right") - 1, 0, len(cum) - 2)
    local = np.clip((t - cum[j]) / (cum[j + 1] - cum[j]), 0.0, 1.0)
    return j, local


def _pair_segment_distance(X: FloatArray, A: FloatArray, B: FloatArray) -> FloatArray:
    d = B - A
    t = np.clip(np.sum((X - A) * d, axis=1) / np.sum(d * d, axis=1), 0.0, 1.0)
    return np.linalg.norm(X - (A + t[:, None] * d), axis=1)


def _read_groups(
    mesh: meshio.Mesh, dim: int, fac_types: dict[str, int]
) -> dict[str, list[IntArray]]:
    """Named facet groups of a meshio mesh: Gmsh physical groups, then cell sets."""
    groups: dict[str, list[IntArray]] = {}
    fdim = dim - 1
    tag_name: dict[int, str] = {}
    for name, val in (mesh.field_data or {}).items():
        v = np.asarray(val).reshape(-1)
        if v.size >= 2 and int(v[1]) == fdim:
            tag_name.setdefault(int(v[0]), str(name))
    phys = (mesh.cell_data or {}).get("gmsh:physical")
    if phys is not None:
        per_tag: dict[int, list[IntArray]] = {}
        for blk, tags in zip(mesh.cells, phys, strict=False):
            if blk.type not in fac_types:
                continue
            tags = np.asarray(tags).reshape(-1)
            corners = blk.data[:, : fac_types[blk.type]]
            for t in np.unique(tags):
                if int(t) <= 0:
                    continue
                per_tag.setdefault(int(t), []).append(np.asarray(corners[tags == t]))
        for t in sorted(per_tag):
            groups.setdefault(tag_name.get(t, str(t)), []).extend(per_tag[t])
    for name, sets in (mesh.cell_sets or {}).items():
        if str(name).startswith("gmsh:"):
            continue
        facets: list[IntArray] = []
        for blk, ids in zip(mesh.cells, sets, strict=False):
            if ids is None or blk.type not in fac_types:
                continue
            ids = np.asarray(ids, dtype=np.int64).reshape(-1)
            if ids.size:
                facets.append(np.asarray(blk.data[ids, : fac_types[blk.type]]))
        if facets:
            groups.setdefault(str(name), []).extend(facets)
    return {k: [_as_index(F, f"group {k!r}") for F in v] for k, v in groups.items()}


def _select_groups(
    groups: dict[str, list[IntArray]], spec: GroupSpec, dim: int, source: str
) -> tuple[list[str], dict[str, list[IntArray]]]:
    """Apply ``boundary_groups``: part names in order and their facet arrays."""
    if spec is None:
        return list(groups), groups
    if isinstance(spec, str):
        spec = [spec]
    mapping = dict(spec) if isinstance(spec, Mapping) else {str(s): str(s) for s in spec}
    if not mapping:
        raise ValueError(f"{source}: boundary_groups is empty")
    unknown = [g for g in mapping if g not in groups]
    if unknown:
        have = ", ".join(repr(g) for g in groups) or "none"
        kind = "lines" if dim == 2 else "triangles / quadrilaterals"
        raise ValueError(
            f"{source}: boundary group(s) {', '.join(repr(g) for g in unknown)} not found; "
            f"the mesh has these named groups of facets ({kind}): {have}"
        )
    out: dict[str, list[IntArray]] = {}
    order: list[str] = []
    for g, part in mapping.items():
        part = str(part)
        if part not in out:
            out[part] = []
            order.append(part)
        out[part].extend(groups[g])
    return order, out
