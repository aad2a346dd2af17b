"""Topology of volume meshes: splitting cells into simplices, finding the boundary facets
and their outward normals, and assigning facets to named boundary parts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import FloatArray, IntArray

#: name of the part holding every boundary facet that is in no named group
REMAINDER = "boundary"

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


@dataclass
class FaceCandidates:
    """Faces that may lie on the boundary, each with a point on its inner side.

    Attributes
    ----------
    faces : ndarray of int, shape (n, s)
        Node indices of each face (simplex facets, or quadrilateral faces of hexahedra).
    inner : ndarray, shape (n, d)
        A point on the side of the face where its cell lies.
    simplices : ndarray of int, shape (n, t, d)
        The face as ``t`` simplex facets (``t = 1`` for simplex facets, 2 for quadrilaterals).
    """

    faces: IntArray
    inner: FloatArray
    simplices: IntArray


@dataclass
class BoundaryFacets:
    """The boundary of a mesh as simplex facets with outward normals.

    Attributes
    ----------
    index : dict of tuple to int
        Sorted node tuple of each boundary face -> face number.
    n_faces : int
        Number of boundary faces (a hexahedron's quadrilateral face is one face).
    nodes : ndarray of int, shape (F, d)
        Node indices of each simplex facet, ordered so that the normal points outwards.
    owner : ndarray of int, shape (F,)
        Face number of each simplex facet.
    normals : ndarray, shape (F, d)
        Outward unit normals.
    measures : ndarray, shape (F,)
        Lengths (2D) or areas (3D) of the facets.
    """

    index: dict[tuple[int, ...], int]
    n_faces: int
    nodes: IntArray
    owner: IntArray
    normals: FloatArray
    measures: FloatArray


def split_cells(
    P: FloatArray, blocks: list[tuple[str, IntArray]]
) -> tuple[IntArray, list[FaceCandidates]]:
    """Split volume cells into simplices and list their candidate boundary faces.

    Parameters
    ----------
    P : ndarray, shape (P, d)
        Node coordinates.
    blocks : list of (str, ndarray of int)
        meshio cell type and corner nodes of each block (triangles, quadrilaterals,
        tetrahedra, hexahedra).

    Returns
    -------
    simplices : ndarray of int, shape (M, d + 1)
        Quadrilaterals split into two triangles, hexahedra into six tetrahedra.
    candidates : list of FaceCandidates
        The faces of the simplices (the face opposite vertex i, inner point = vertex i) and
        the quadrilateral faces of the hexahedra (inner point = centroid).
    """
    dim = P.shape[1]
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
    cands: list[FaceCandidates] = []
    if owned:
        O = np.concatenate(owned).astype(np.int64)
        nv = dim + 1
        TF = np.concatenate([O[:, [j for j in range(nv) if j != i]] for i in range(nv)])
        TI = np.concatenate([P[O[:, i]] for i in range(nv)])
        cands.append(FaceCandidates(TF, TI, TF[:, None, :]))
    if quad_faces:
        cands.append(
            FaceCandidates(
                np.concatenate(quad_faces), np.concatenate(quad_inner), np.concatenate(quad_tris)
            )
        )
    return S, cands


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


def boundary_facets(P: FloatArray, cands: list[FaceCandidates], source: str) -> BoundaryFacets:
    """The candidate faces that occur exactly once, as simplex facets with outward normals.

    Parameters
    ----------
    P : ndarray, shape (P, d)
        Node coordinates.
    cands : list of FaceCandidates
        From :func:`split_cells`.
    source : str
        Name of the mesh in error messages.

    Returns
    -------
    BoundaryFacets
    """
    dim = P.shape[1]
    index: dict[tuple[int, ...], int] = {}
    FT_l, FO_l, FIN_l = [], [], []
    n_faces = 0
    for cand in cands:
        b = _unique_boundary(cand.faces, source)
        F, IN, T = cand.faces[b], cand.inner[b], cand.simplices[b]
        keys = np.sort(F, axis=1).tolist()
        index.update(zip(map(tuple, keys), range(n_faces, n_faces + F.shape[0]), strict=True))
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
    return BoundaryFacets(index, n_faces, FT, FO, normals, meas)


def lookup_faces(index: dict[tuple[int, ...], int], F: IntArray) -> tuple[IntArray, IntArray]:
    """Boundary face numbers of facets ``F`` (k, s); also the rows not found."""
    idx = np.full(F.shape[0], -1, dtype=np.int64)
    for r in range(F.shape[0]):
        idx[r] = index.get(tuple(sorted(F[r].tolist())), -1)
    missing = np.flatnonzero(idx < 0)
    return idx[idx >= 0], missing


def assign_parts(
    bnd: BoundaryFacets, groups: dict[str, list[IntArray]], order: list[str], source: str
) -> tuple[IntArray, list[str]]:
    """Part number of every boundary face, and the part names.

    Named parts come first, in ``order``; the faces in no named part form the part
    :data:`REMAINDER`, last (a named part called :data:`REMAINDER` takes them in, with a
    warning issued by the caller).

    Returns
    -------
    face_part : ndarray of int, shape (n_faces,)
    names : list of str
    """
    face_part = np.full(bnd.n_faces, -1, dtype=np.int64)
    names: list[str] = []
    for name in order:
        k = len(names) if name not in names else names.index(name)
        if name not in names:
            names.append(name)
        for F in groups.get(name, []):
            idx, missing = lookup_faces(bnd.index, F)
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
    return face_part, names
