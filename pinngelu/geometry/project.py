"""Points moved onto the boundary of an analytic shape: :func:`project_to_boundary`.

Used to curve meshes: the midpoints of boundary edges go onto the exact boundary, so
that quadratic (isoparametric) cells follow curved parts to third order instead of the
second order of their chords (finite-element reference meshes, energy quadrature).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._checks import FloatArray

if TYPE_CHECKING:
    from .base import Geometry

__all__ = ["project_to_boundary"]


def project_to_boundary(geometry: Geometry, X0: FloatArray, h: float) -> FloatArray:
    """Newton projection of points near the boundary onto its zero level.

    Parameters
    ----------
    geometry : Geometry
        An analytic shape (its level function ``_phi``, differentiated by central
        differences).
    X0 : ndarray, shape (n, d)
        Points within a fraction of ``h`` of the boundary (length units), e.g. the
        midpoints of boundary edges of a mesh of size ``h``.
    h : float
        Mesh size (length units): sets the difference step, the tolerance and the
        largest move.

    Returns
    -------
    ndarray, shape (n, d)
        The projected points; a point the iteration does not settle on the boundary
        (at a kink of the level function) or moves farther than ``h / 4`` stays where
        it was.  Points already on a flat part do not move.
    """
    X = np.array(X0, dtype=float, copy=True)
    if X.shape[0] == 0:
        return X
    d = X.shape[1]
    eps = 1e-7 * h
    tol = 1e-12 * h
    for _ in range(8):
        phi = geometry._phi(X)
        move = np.abs(phi) > tol
        if not np.any(move):
            break
        Xm = X[move]
        g = np.zeros_like(Xm)
        for i in range(d):
            e = np.zeros(d)
            e[i] = eps
            g[:, i] = (geometry._phi(Xm + e) - geometry._phi(Xm - e)) / (2 * eps)
        step = (phi[move] / np.maximum(np.sum(g * g, axis=1), 1e-300))[:, None] * g
        X[move] = Xm - step
    bad = (np.abs(geometry._phi(X)) > 1e-9 * h) | (np.linalg.norm(X - X0, axis=1) > 0.25 * h)
    X[bad] = X0[bad]
    return X
