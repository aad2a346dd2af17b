"""Simplex and segment primitives shared by the shapes, the meshing and mesh domains."""

from __future__ import annotations

import math

import numpy as np

from ._checks import FloatArray, IntArray


def _simplex_volumes(points: FloatArray, cells: IntArray) -> FloatArray:
    """Signed area (2D, triangles) or volume (3D, tetrahedra) of each cell, shape (M,)."""
    p0 = points[cells[:, 0]]
    edges = np.stack([points[cells[:, i]] - p0 for i in range(1, cells.shape[1])], axis=1)
    return np.linalg.det(edges) / math.factorial(cells.shape[1] - 1)


def _segment_distance(X: FloatArray, A: FloatArray, B: FloatArray) -> FloatArray:
    """Distance (n,) from points ``X`` (n, d) to segments ``[A, B]``, each (d,) or (n, d)."""
    d = B - A
    t = np.clip(np.sum((X - A) * d, axis=-1) / np.sum(d * d, axis=-1), 0.0, 1.0)
    return np.linalg.norm(X - (A + t[..., None] * d), axis=-1)
