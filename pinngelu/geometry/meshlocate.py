"""Point location and boundary distances in a simplex mesh: the :class:`MeshLocator` mixin.

Used by :class:`~pinngelu.geometry.MeshDomain`, which provides ``points``, ``cells`` (positively
oriented simplices), ``dim``, ``n_facets`` and the boundary facets ``_fverts`` / ``_fnormal``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from ._checks import FloatArray, IntArray, _as_points
from .simplex import _segment_distance

# tolerance on barycentric coordinates in point location (relative to the cell size)
_BARY_EPS = 1e-12


class MeshLocator:
    """Cell location (``locate``) and distance to the boundary (``boundary_distance``)."""

    points: FloatArray
    cells: IntArray
    dim: int
    _fverts: FloatArray
    _fnormal: FloatArray

    @property
    def n_facets(self) -> int:
        """Number of boundary facets (segments in 2D, triangles in 3D)."""
        return int(self._fverts.shape[0])

    def _set_locator(self, used_nodes: IntArray) -> None:
        """Point location: centroids, inverse edge matrices, bounding radius; bounding box."""
        P = self.points
        V = P[self.cells]  # (M, d+1, d)
        self._v0 = V[:, 0].copy()
        self._tinv = np.linalg.inv(np.swapaxes(V[:, 1:] - V[:, :1], 1, 2))
        cen = V.mean(axis=1)
        self._ctree = cKDTree(cen)
        self._rmax = float(np.max(np.linalg.norm(V - cen[:, None, :], axis=2)))
        self._ftree: cKDTree | None = None
        self._frmax = 0.0
        self._bbox = (P[used_nodes].min(axis=0), P[used_nodes].max(axis=0))

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
            return _segment_distance(X, V[:, 0], V[:, 1])
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
            np.minimum(_segment_distance(X, A, B), _segment_distance(X, B, C)),
            _segment_distance(X, C, A),
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
