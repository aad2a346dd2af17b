"""Analytic 3D domains: box and spherical-shell octant."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._axisbox import _AxisBox
from ._checks import FloatArray, _check_measure, _check_resolved, _positive
from .base import Geometry
from .distance import Ball, DistanceFunction, HalfSpace


class Box(_AxisBox):
    """Axis-aligned box ``[lo, hi]`` in 3D.

    Parameters
    ----------
    lo, hi : array_like, shape (3,)
        Opposite corners (length units), ``lo < hi`` componentwise.

    Notes
    -----
    Boundary parts: ``"x_min"``, ``"x_max"``, ``"y_min"``, ``"y_max"``, ``"z_min"``,
    ``"z_max"`` (the faces at the named coordinate bound).
    """

    def __init__(self, lo: ArrayLike, hi: ArrayLike) -> None:
        super().__init__(lo, hi, 3, ("x_min", "x_max", "y_min", "y_max", "z_min", "z_max"))

    def __repr__(self) -> str:
        return f"Box({self.lo.tolist()}, {self.hi.tolist()})"


class SphericalShellOctant(Geometry):
    """Octant ``x, y, z >= 0`` of the spherical shell ``r_inner <= |x| <= r_outer``.

    Parameters
    ----------
    r_inner, r_outer : float
        Radii (length units), ``0 < r_inner < r_outer``; the centre is the origin.

    Notes
    -----
    Boundary parts: ``"inner"`` (sphere r = r_inner, normal towards the origin), ``"outer"``
    (sphere r = r_outer), ``"x0"``, ``"y0"``, ``"z0"`` (quarter-annulus faces in the planes
    x = 0, y = 0, z = 0 with normals (-1, 0, 0), (0, -1, 0), (0, 0, -1)).
    """

    dim = 3
    _interior_exact = True

    def __init__(self, r_inner: float, r_outer: float) -> None:
        self.r_inner = _positive(r_inner, "r_inner")
        self.r_outer = _positive(r_outer, "r_outer")
        if self.r_inner >= self.r_outer:
            raise ValueError(f"need r_inner < r_outer, got r_inner={r_inner}, r_outer={r_outer}")
        _check_resolved(
            "SphericalShellOctant", "r_outer - r_inner", self.r_outer - self.r_inner, self.r_outer
        )
        _check_measure("SphericalShellOctant", self.measure, "volume")

    def __repr__(self) -> str:
        return f"SphericalShellOctant({self.r_inner}, {self.r_outer})"

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        return np.zeros(3), np.full(3, self.r_outer)

    @property
    def measure(self) -> float:
        return math.pi / 6.0 * (self.r_outer**3 - self.r_inner**3)

    @property
    def boundary_parts(self) -> tuple[str, ...]:
        return ("inner", "outer", "x0", "y0", "z0")

    def _phi(self, X: FloatArray) -> FloatArray:
        r = np.linalg.norm(X, axis=1)
        return np.maximum(np.maximum(self.r_inner - r, r - self.r_outer), np.max(-X, axis=1))

    def _base_measure(self, k: int) -> float:
        if k == 0:
            return 0.5 * math.pi * self.r_inner**2
        if k == 1:
            return 0.5 * math.pi * self.r_outer**2
        return 0.25 * math.pi * (self.r_outer**2 - self.r_inner**2)

    # plane faces: the two in-plane axes, in cyclic order
    _PLANE_AXES = {2: (1, 2), 3: (2, 0), 4: (0, 1)}

    def _part_map(self, k: int, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        m = u.shape[0]
        if k < 2:
            r = self.r_inner if k == 0 else self.r_outer
            z = u[:, 0]
            rho = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
            ph = 0.5 * math.pi * u[:, 1]
            e = np.column_stack([rho * np.cos(ph), rho * np.sin(ph), z])
            return r * e, (-e if k == 0 else e)
        a, b = self._PLANE_AXES[k]
        rho = np.sqrt(self.r_inner**2 + u[:, 0] * (self.r_outer**2 - self.r_inner**2))
        al = 0.5 * math.pi * u[:, 1]
        X = np.zeros((m, 3))
        X[:, a] = rho * np.cos(al)
        X[:, b] = rho * np.sin(al)
        N = np.zeros((m, 3))
        N[:, k - 2] = -1.0
        return X, N

    def _part_distance(self, k: int, inside: bool) -> DistanceFunction:
        if not inside:
            return super()._part_distance(k, inside)
        if k < 2:
            return Ball(np.zeros(3), self.r_outer if k else self.r_inner, inside=k == 1)
        n = np.zeros(3)
        n[k - 2] = 1.0
        return HalfSpace(np.zeros(3), n)

    def _part_mesh_u(self, k: int, h: float) -> FloatArray:
        rows: list[FloatArray] = []
        if k < 2:
            r = self.r_inner if k == 0 else self.r_outer
            nt = max(4, math.ceil(0.5 * math.pi * r / h - 1e-9))
            for th in np.linspace(0.0, 0.5 * math.pi, nt + 1):
                npf = max(
                    math.ceil(4 * math.sin(th) - 1e-9),
                    math.ceil(0.5 * math.pi * r * math.sin(th) / h - 1e-9),
                    1,
                )
                u2 = np.linspace(0.0, 1.0, npf + 1) if th > 0 else np.zeros(1)
                rows.append(np.column_stack([np.full(u2.size, math.cos(th)), u2]))
            return np.concatenate(rows)
        ri, ro = self.r_inner, self.r_outer
        nr = max(1, math.ceil((ro - ri) / h - 1e-9))
        for rho in np.linspace(ri, ro, nr + 1):
            na = max(4, math.ceil(0.5 * math.pi * rho / h - 1e-9))
            u2 = np.linspace(0.0, 1.0, na + 1)
            u1 = (rho**2 - ri**2) / (ro**2 - ri**2)
            rows.append(np.column_stack([np.full(u2.size, u1), u2]))
        return np.clip(np.concatenate(rows), 0.0, 1.0)

    def _interior_map(self, u: FloatArray) -> FloatArray:
        ri3, ro3 = self.r_inner**3, self.r_outer**3
        r = np.cbrt(ri3 + u[:, 0] * (ro3 - ri3))
        c = u[:, 1]
        s = np.sqrt(np.clip(1.0 - c * c, 0.0, None))
        ph = 0.5 * math.pi * u[:, 2]
        return r[:, None] * np.column_stack([s * np.cos(ph), s * np.sin(ph), c])
