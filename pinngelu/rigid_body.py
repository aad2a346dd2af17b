"""Rigid-body motions left free by the displacement constraints of a problem.

A rigid-body motion ``u(x) = t + omega x (x - x0)`` (2D: two translations and the
rotation about z; 3D: three translations and three rotations) adds nothing to the
strains, so only conditions that fix displacements remove it: Dirichlet components,
the normal displacement of Symmetry conditions and measured displacements.  Each
such constraint at a point gives one row ``c . mode_m(x)`` over the modes ``m``; the
motion is fixed when the rows have full rank (3 in 2D, 6 in 3D).
"""

from __future__ import annotations

import numpy as np

__all__ = ["RigidBodyWarning", "rigid_body_modes", "free_modes", "describe_free_modes"]

#: Relative singular-value tolerance of the rank test.
RANK_RTOL = 1e-8

_AXES = "xyz"


class RigidBodyWarning(UserWarning):
    """The displacement constraints of a problem (Dirichlet, Symmetry, data) leave a
    rigid-body motion free: the displacement is then determined only up to that
    motion (the stresses are not affected)."""


def rigid_body_modes(X: np.ndarray) -> np.ndarray:
    """The rigid-body modes at points ``X (N, d)``: array ``(N, d, m)`` with
    ``m = 3`` in 2D (translations x, y; rotation about z) and ``m = 6`` in 3D
    (translations x, y, z; rotations about x, y, z: ``e_k x X``)."""
    N, d = X.shape
    if d == 2:
        M = np.zeros((N, 2, 3))
        M[:, 0, 0] = M[:, 1, 1] = 1.0
        M[:, 0, 2], M[:, 1, 2] = -X[:, 1], X[:, 0]
        return M
    M = np.zeros((N, 3, 6))
    for k in range(3):
        M[:, k, k] = 1.0
        e = np.zeros(3)
        e[k] = 1.0
        M[:, :, 3 + k] = np.cross(e, X)
    return M


def free_modes(rows: np.ndarray, d: int) -> np.ndarray:
    """Orthonormal basis ``(m, k)`` of the rigid-body motions the constraint rows
    ``(R, m)`` leave free (``k = 0`` when they fix every motion)."""
    m = 3 if d == 2 else 6
    if rows.shape[0] == 0:
        return np.eye(m)
    _, s, Vt = np.linalg.svd(rows, full_matrices=True)
    rank = int(np.sum(s > RANK_RTOL * s[0])) if s.size and s[0] > 0 else 0
    return Vt[rank:].T


def _vec(v: np.ndarray) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"


def _direction(v: np.ndarray) -> str:
    v = v / np.linalg.norm(v)
    k = int(np.argmax(np.abs(v)))
    if abs(abs(v[k]) - 1.0) < 1e-6:
        return _AXES[k]
    return _vec(v * np.sign(v[k]))


def _translations(Tp: np.ndarray, d: int) -> list[str]:
    """Names of the translations spanned by the columns of ``Tp (d, k)``."""
    k = Tp.shape[1]
    if k == 0:
        return []
    Q, _ = np.linalg.qr(Tp)
    axes = [i for i in range(d) if np.linalg.norm(Q[:, :k].T[:, i]) > 1 - 1e-6]
    if len(axes) == k:
        return [f"translation along {_AXES[i]}" for i in axes]
    if d == 3 and k == 2:
        return [f"translation perpendicular to {_direction(np.cross(Q[:, 0], Q[:, 1]))}"]
    return [f"translation along {_direction(Q[:, j])}" for j in range(k)]


def describe_free_modes(V: np.ndarray, d: int, origin: np.ndarray, length: float) -> list[str]:
    """Plain-words names of the free motions spanned by ``V (m, k)`` (modes in the
    scaled coordinates ``(x - origin) / length``), e.g. ``"translation along y"``,
    ``"rotation about z"``, ``"rotation about z around the point (1, 0)"``."""
    k = V.shape[1]
    if k == 0:
        return []
    T, R = V[:d], V[d:]
    # split the free space into pure translations and motions with a rotation
    _, s, Wt = np.linalg.svd(R, full_matrices=True)
    r = int(np.sum(s > 1e-8))
    W = Wt.T
    out = []
    Tp = T @ W[:, r:]
    out += _translations(Tp, d)
    for j in range(r):
        v = V @ W[:, j]
        t, w = v[:d], v[d:]
        if d == 2:
            p = np.array([-t[1], t[0]]) / w[0]
            axis = "z"
        else:
            p = np.cross(w, t) / float(w @ w)
            axis = _direction(w)
        name = f"rotation about {axis}"
        if np.linalg.norm(p) > 1e-6:
            name += f" around the point {_vec(origin + length * p)}"
        out.append(name)
    return out
