"""Validation of user meshes: node coordinates, cell indices and simplex cells.

:func:`check_mesh` checks a simplex mesh (triangles in 2D, tetrahedra in 3D) given as arrays,
e.g. the ``mesh=(points, cells)`` of :func:`pinngelu.io.write_solution`;
:class:`~pinngelu.geometry.MeshDomain` runs the same checks on its cells. Every problem raises
``ValueError`` (``TypeError`` for complex numbers) whose message starts with the mesh's name.

What is checked, in this order:

* node coordinates: real, shape ``(P, d)``, finite;
* cells: integer node indices, shape ``(M, d + 1)`` with ``M >= 1``, indices in ``0..P-1``;
* cells of zero area / volume (relative to their longest edge);
* duplicated cells (the same set of nodes twice);
* a facet shared by more than two cells, two cells on the same side of a shared facet
  (folded or overlapping cells), and a cell centroid strictly inside another cell
  (overlapping cells that share no facet);
* inverted cells: cells are reoriented to positive orientation; when the mesh mixes both
  orientations a :class:`MeshOrientationWarning` says how many were flipped.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from ._checks import FloatArray, IntArray
from .simplex import _simplex_volumes

__all__ = ["MeshOrientationWarning", "check_mesh"]

# a centroid counts as strictly inside another cell when all its barycentric coordinates
# there exceed this (relative) margin
_INSIDE_EPS = 1e-9
# neighbours (by centroid) searched for overlapping cells
_OVERLAP_NEIGHBOURS = 12


class MeshOrientationWarning(UserWarning):
    """A mesh mixes positively and negatively oriented cells (they were reoriented)."""


def check_nodes(
    points: ArrayLike, name: str = "mesh", dims: tuple[int, ...] = (2, 3)
) -> FloatArray:
    """Node coordinates as a ``float64`` array ``(P, d)``, checked.

    Parameters
    ----------
    points : array_like, shape (P, d)
        Node coordinates (length units), ``d`` in ``dims``.
    name : str
        Name of the mesh in error messages.
    dims : tuple of int
        Accepted numbers of coordinates.

    Returns
    -------
    ndarray, shape (P, d)

    Raises
    ------
    TypeError
        Complex coordinates.
    ValueError
        Wrong shape, non-numeric, NaN or infinite coordinates.
    """
    arr = np.asarray(points)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name}: node coordinates (points) must be real, got complex values")
    try:
        P = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: node coordinates (points) must be numbers ({exc})") from None
    want = " or ".join(f"(P, {d})" for d in dims)
    if P.ndim != 2 or P.shape[1] not in dims:
        raise ValueError(f"{name}: points must have shape {want}, got {P.shape}")
    bad = ~np.all(np.isfinite(P), axis=1)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}: node coordinates contain NaN or inf ({int(bad.sum())} node(s); "
            f"first: node {i} at {P[i].tolist()})"
        )
    return P


def as_index(a: Any, what: str) -> IntArray:
    """Node indices as ``int64``; integral floats are accepted, other values raise."""
    arr = np.asarray(a)
    if np.iscomplexobj(arr):
        raise TypeError(f"{what}: node indices must be integers, got complex values")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        try:
            ok = np.all(np.isfinite(arr)) and np.all(np.equal(np.mod(arr, 1), 0))
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(f"{what}: node indices must be integers")
    return np.ascontiguousarray(arr, dtype=np.int64)


def check_indices(cells: IntArray, n_points: int, what: str) -> None:
    """Raise ``ValueError`` unless every node index lies in ``0..n_points-1``."""
    if cells.size == 0:
        return
    lo, hi = int(cells.min()), int(cells.max())
    if lo < 0:
        row = int(np.flatnonzero(np.any(cells < 0, axis=1))[0])
        raise ValueError(
            f"{what}: node indices must be >= 0, got {lo} (cell {row}: {cells[row].tolist()})"
        )
    if hi >= n_points:
        row = int(np.flatnonzero(np.any(cells >= n_points, axis=1))[0])
        raise ValueError(
            f"{what}: node indices must lie in 0..{n_points - 1}, got {hi} "
            f"(cell {row}: {cells[row].tolist()})"
        )


def check_simplices(P: FloatArray, S: IntArray, name: str = "mesh") -> tuple[IntArray, FloatArray]:
    """Check simplex cells and orient them positively.

    Parameters
    ----------
    P : ndarray, shape (P, d)
        Checked node coordinates (length units).
    S : ndarray of int, shape (M, d + 1)
        Triangles / tetrahedra with checked node indices.
    name : str
        Name of the mesh in error messages.

    Returns
    -------
    cells : ndarray of int, shape (M, d + 1)
        The cells, positively oriented (a copy).
    volumes : ndarray, shape (M,)
        Their areas / volumes (length^d), all positive.
    """
    dim = P.shape[1]
    S = np.array(S, dtype=np.int64)
    vol = _simplex_volumes(P, S)
    edge = np.max(
        [
            np.linalg.norm(P[S[:, i]] - P[S[:, j]], axis=1)
            for i in range(dim + 1)
            for j in range(i + 1, dim + 1)
        ],
        axis=0,
    )
    degen = ~(np.abs(vol) > 1e-12 * edge**dim)
    if np.any(degen):
        i = int(np.flatnonzero(degen)[0])
        what = "area" if dim == 2 else "volume"
        raise ValueError(
            f"{name}: {int(degen.sum())} degenerate (zero-{what}) cell(s); "
            f"first: nodes {S[i].tolist()} at {P[S[i]].tolist()}"
        )
    neg = vol < 0
    n_neg = int(neg.sum())
    if 0 < n_neg < S.shape[0]:
        warnings.warn(
            f"{name}: {n_neg} of {S.shape[0]} cells are inverted (negative orientation) "
            "relative to the others; they were reoriented",
            MeshOrientationWarning,
            stacklevel=3,
        )
    S[neg, 0], S[neg, 1] = S[neg, 1].copy(), S[neg, 0].copy()
    vol = np.abs(vol)
    _check_facets(P, S, name)
    _check_overlap(P, S, name)
    return S, vol


def _check_duplicates(S: IntArray, name: str) -> None:
    """No two cells with the same set of nodes."""
    key = np.sort(S, axis=1)
    _, first, inv, counts = np.unique(
        key, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    if np.any(counts > 1):
        g = int(np.flatnonzero(counts > 1)[0])
        rows = np.flatnonzero(inv.reshape(-1) == g)
        raise ValueError(
            f"{name}: {int(np.sum(counts[counts > 1] - 1))} duplicated cell(s); first: cells "
            f"{rows[0]} and {rows[1]} both have nodes {key[first[g]].tolist()}"
        )


def _check_facets(P: FloatArray, S: IntArray, name: str) -> None:
    """No facet in more than two cells; two cells sharing a facet lie on opposite sides."""
    nv = S.shape[1]
    F = np.concatenate([S[:, [j for j in range(nv) if j != i]] for i in range(nv)])
    opp = np.concatenate([S[:, i] for i in range(nv)])
    key = np.sort(F, axis=1)
    _, first, inv, counts = np.unique(
        key, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    inv = inv.reshape(-1)
    if np.any(counts > 2):
        j = int(np.flatnonzero(counts > 2)[0])
        raise ValueError(
            f"{name}: a facet is shared by {int(counts[j])} cells (nodes "
            f"{key[first[j]].tolist()}): the mesh is not conforming (duplicate or overlapping "
            "cells)"
        )
    _check_duplicates(S, name)
    shared = np.flatnonzero(counts == 2)
    if shared.size == 0:
        return
    order = np.argsort(inv, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])[shared]
    r1, r2 = order[starts], order[starts + 1]
    # side of the opposite vertex relative to the facet: sign of the simplex volume
    base = key[r1]
    s1 = _simplex_volumes(P, np.column_stack([base, opp[r1]]))
    s2 = _simplex_volumes(P, np.column_stack([base, opp[r2]]))
    same = np.sign(s1) == np.sign(s2)
    if np.any(same):
        j = int(np.flatnonzero(same)[0])
        nc = S.shape[0]
        raise ValueError(
            f"{name}: {int(same.sum())} facet(s) with both of their cells on the same side "
            f"(overlapping or folded cells); first: cells {int(r1[j] % nc)} and "
            f"{int(r2[j] % nc)} at facet nodes {base[j].tolist()}"
        )


def _check_overlap(P: FloatArray, S: IntArray, name: str) -> None:
    """No cell centroid strictly inside another cell (catches overlaps sharing no facet)."""
    n = S.shape[0]
    if n < 2:
        return
    V = P[S]
    cen = V.mean(axis=1)
    k = min(_OVERLAP_NEIGHBOURS, n)
    _, idx = cKDTree(cen).query(cen, k=k)
    idx = idx.reshape(n, k)
    T = np.swapaxes(V[:, 1:] - V[:, :1], 1, 2)
    Tinv = np.linalg.inv(T)
    for col in range(1, k):
        c = idx[:, col]
        lam = np.einsum("nij,nj->ni", Tinv[c], cen - V[c, 0])
        lam = np.column_stack([1.0 - lam.sum(axis=1), lam])
        hit = lam.min(axis=1) > _INSIDE_EPS
        if np.any(hit):
            i = int(np.flatnonzero(hit)[0])
            raise ValueError(
                f"{name}: overlapping cells: the centroid of cell {i} lies inside cell "
                f"{int(c[i])} ({int(hit.sum())} such pair(s) found)"
            )


def check_mesh(
    points: ArrayLike, cells: ArrayLike, name: str = "mesh"
) -> tuple[FloatArray, IntArray]:
    """Check a simplex mesh given as arrays and return it with positively oriented cells.

    Parameters
    ----------
    points : array_like, shape (P, d)
        Node coordinates (length units), ``d`` = 2 or 3.
    cells : array_like of int, shape (M, d + 1)
        Triangles (2D) or tetrahedra (3D), 0-based node indices, either orientation.
    name : str, optional
        Name of the mesh in error messages (e.g. the file or the argument).

    Returns
    -------
    points : ndarray, shape (P, d)
        The coordinates as ``float64``.
    cells : ndarray of int, shape (M, d + 1)
        The cells, positively oriented (inverted cells reoriented).

    Raises
    ------
    TypeError
        Complex coordinates or indices.
    ValueError
        Wrong shapes, non-finite coordinates, non-integer, negative or out-of-range node
        indices, degenerate, duplicated or overlapping cells, a facet in more than two
        cells.

    Warns
    -----
    MeshOrientationWarning
        When the cells mix both orientations (they are reoriented).
    """
    P = check_nodes(points, name)
    dim = P.shape[1]
    C = as_index(cells, f"{name}: cells")
    if C.ndim != 2 or C.shape[0] == 0 or C.shape[1] != dim + 1:
        kind = "triangles (M, 3)" if dim == 2 else "tetrahedra (M, 4)"
        raise ValueError(f"{name}: cells must be {kind} with M >= 1, got shape {C.shape}")
    check_indices(C, P.shape[0], f"{name}: cells")
    S, _ = check_simplices(P, C, name)
    return P, S
