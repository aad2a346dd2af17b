"""Analytic 2D domains: rectangle, disk, annulus, annular sector.

Polygons are in :mod:`pinngelu.geometry.polygon`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._axisbox import _AxisBox
from ._checks import (
    FloatArray,
    _as_float,
    _as_vector,
    _check_measure,
    _check_resolved,
    _positive,
)
from .base import Geometry
from .distance import Ball, DistanceFunction, HalfSpace, segment_distance


class Rectangle(_AxisBox):
    """Axis-aligned rectangle ``[x_min, x_max] x [y_min, y_max]``.

    Parameters
    ----------
    x_min, x_max, y_min, y_max : float
        Extent (length units), ``x_min < x_max`` and ``y_min < y_max``.

    Notes
    -----
    Boundary parts: ``"left"`` (x = x_min), ``"right"`` (x = x_max), ``"bottom"``
    (y = y_min), ``"top"`` (y = y_max).
    """

    def __init__(self, x_min: float, x_max: float, y_min: float, y_max: float) -> None:
        x0, x1 = _as_float(x_min, "x_min"), _as_float(x_max, "x_max")
        y0, y1 = _as_float(y_min, "y_min"), _as_float(y_max, "y_max")
        super().__init__(
            [x0, y0],
            [x1, y1],
            2,
            ("left", "right", "bottom", "top"),
            sides=("x_max - x_min", "y_max - y_min"),
        )

    def __repr__(self) -> str:
        return f"Rectangle({self.lo[0]}, {self.hi[0]}, {self.lo[1]}, {self.hi[1]})"


def _check_ring(what: str, center: FloatArray, r_inner: float, r_outer: float) -> None:
    """The ring width and the radius must be resolvable (relative to radius and position)."""
    scale = max(r_outer, float(np.max(np.abs(center))))
    _check_resolved(what, "r_outer", r_outer, float(np.max(np.abs(center))))
    _check_resolved(what, "r_outer - r_inner", r_outer - r_inner, scale)


class AnnularSector(Geometry):
    """Annular sector ``r_inner <= |x - c| <= r_outer``, ``theta_start <= theta <= theta_end``.

    Parameters
    ----------
    center : array_like, shape (2,)
        Centre (length units).
    r_inner, r_outer : float
        Radii (length units), ``0 < r_inner < r_outer``.
    theta_start, theta_end : float
        Polar angles (radians) of the radial edges, ``0 < theta_end - theta_start < 2 pi``.

    Notes
    -----
    Boundary parts: ``"inner"`` (arc r = r_inner, normal towards the centre), ``"outer"``
    (arc r = r_outer), ``"start"`` (radial edge at theta_start), ``"end"`` (radial edge at
    theta_end). For the quarter ring ``theta in [0, pi/2]`` about the origin, "start" lies on
    y = 0 with normal (0, -1) and "end" on x = 0 with normal (-1, 0).
    """

    dim = 2
    _interior_exact = True

    def __init__(
        self,
        center: ArrayLike,
        r_inner: float,
        r_outer: float,
        theta_start: float,
        theta_end: float,
    ) -> None:
        self.center = _as_vector(center, 2, "center")
        self.r_inner = _positive(r_inner, "r_inner")
        self.r_outer = _positive(r_outer, "r_outer")
        if self.r_inner >= self.r_outer:
            raise ValueError(f"need r_inner < r_outer, got r_inner={r_inner}, r_outer={r_outer}")
        self.theta_start = _as_float(theta_start, "theta_start")
        self.theta_end = _as_float(theta_end, "theta_end")
        span = self.theta_end - self.theta_start
        if not 0.0 < span < 2.0 * math.pi:
            raise ValueError(
                f"need 0 < theta_end - theta_start < 2*pi, got {span} (use Annulus for a full ring)"
            )
        _check_ring("AnnularSector", self.center, self.r_inner, self.r_outer)
        _check_resolved(
            "AnnularSector",
            "theta_end - theta_start",
            span,
            max(2.0 * math.pi, abs(self.theta_start), abs(self.theta_end)),
        )
        self.span = span
        _check_measure("AnnularSector", self.measure, "area")
        ts, te = self.theta_start, self.theta_end
        self._d_start = np.array([math.cos(ts), math.sin(ts)])
        self._d_end = np.array([math.cos(te), math.sin(te)])

    def __repr__(self) -> str:
        return (
            f"AnnularSector({self.center.tolist()}, {self.r_inner}, {self.r_outer}, "
            f"{self.theta_start}, {self.theta_end})"
        )

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        cands = [self.theta_start, self.theta_end]
        for q in range(-8, 9):
            a = q * math.pi / 2.0
            if self.theta_start < a < self.theta_end:
                cands.append(a)
        th = np.asarray(cands)
        e = np.column_stack([np.cos(th), np.sin(th)])
        ring = np.concatenate([self.r_inner * e, self.r_outer * e])
        return self.center + ring.min(axis=0), self.center + ring.max(axis=0)

    @property
    def measure(self) -> float:
        return 0.5 * self.span * (self.r_outer**2 - self.r_inner**2)

    @property
    def boundary_parts(self) -> tuple[str, ...]:
        return ("inner", "outer", "start", "end")

    def _phi(self, X: FloatArray) -> FloatArray:
        Y = X - self.center
        r = np.linalg.norm(Y, axis=1)
        radial = np.maximum(self.r_inner - r, r - self.r_outer)
        cs = self._d_start[0] * Y[:, 1] - self._d_start[1] * Y[:, 0]
        ce = Y[:, 0] * self._d_end[1] - Y[:, 1] * self._d_end[0]
        if self.span <= math.pi:
            ang = np.maximum(-cs, -ce)
        else:
            ang = np.minimum(-cs, -ce)
        return np.maximum(radial, ang)

    def _base_measure(self, k: int) -> float:
        if k == 0:
            return self.r_inner * self.span
        if k == 1:
            return self.r_outer * self.span
        return self.r_outer - self.r_inner

    def _part_min_segments(self, k: int) -> int:
        return max(2, math.ceil(16 * self.span / (2 * math.pi))) if k < 2 else 1

    def _part_map(self, k: int, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        t = u[:, 0]
        if k < 2:
            r = self.r_inner if k == 0 else self.r_outer
            th = self.theta_start + t * self.span
            e = np.column_stack([np.cos(th), np.sin(th)])
            return self.center + r * e, (-e if k == 0 else e)
        th = self.theta_start if k == 2 else self.theta_end
        e = np.array([math.cos(th), math.sin(th)])
        n = (
            np.array([math.sin(th), -math.cos(th)])
            if k == 2
            else np.array([-math.sin(th), math.cos(th)])
        )
        r = self.r_inner + t * (self.r_outer - self.r_inner)
        return self.center + r[:, None] * e, np.tile(n, (t.size, 1))

    def _part_distance(self, k: int, inside: bool) -> DistanceFunction:
        if not inside:
            return super()._part_distance(k, inside)
        if k < 2:
            return Ball(self.center, self.r_outer if k else self.r_inner, inside=k == 1)
        th = self.theta_start if k == 2 else self.theta_end
        e = np.array([math.cos(th), math.sin(th)])
        n_in = np.array([-e[1], e[0]]) if k == 2 else np.array([e[1], -e[0]])
        if self.span <= math.pi:
            return HalfSpace(self.center, n_in)
        # the edge's line crosses the domain: trim it
        return segment_distance(
            self.center + self.r_inner * e, self.center + self.r_outer * e, n_in
        )

    def _interior_map(self, u: FloatArray) -> FloatArray:
        r = np.sqrt(self.r_inner**2 + u[:, 0] * (self.r_outer**2 - self.r_inner**2))
        th = self.theta_start + u[:, 1] * self.span
        return self.center + r[:, None] * np.column_stack([np.cos(th), np.sin(th)])


class Annulus(Geometry):
    """Annulus ``r_inner <= |x - c| <= r_outer``.

    Parameters
    ----------
    center : array_like, shape (2,)
        Centre (length units).
    r_inner, r_outer : float
        Radii (length units), ``0 < r_inner < r_outer``.

    Notes
    -----
    Boundary parts: ``"inner"`` (circle r = r_inner, outward normal points towards the centre)
    and ``"outer"`` (circle r = r_outer).
    """

    dim = 2
    _interior_exact = True

    def __init__(self, center: ArrayLike, r_inner: float, r_outer: float) -> None:
        self.center = _as_vector(center, 2, "center")
        self.r_inner = _positive(r_inner, "r_inner")
        self.r_outer = _positive(r_outer, "r_outer")
        if self.r_inner >= self.r_outer:
            raise ValueError(f"need r_inner < r_outer, got r_inner={r_inner}, r_outer={r_outer}")
        _check_ring("Annulus", self.center, self.r_inner, self.r_outer)
        _check_measure("Annulus", self.measure, "area")

    def __repr__(self) -> str:
        return f"Annulus({self.center.tolist()}, {self.r_inner}, {self.r_outer})"

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        return self.center - self.r_outer, self.center + self.r_outer

    @property
    def measure(self) -> float:
        return math.pi * (self.r_outer**2 - self.r_inner**2)

    @property
    def boundary_parts(self) -> tuple[str, ...]:
        return ("inner", "outer")

    def _phi(self, X: FloatArray) -> FloatArray:
        r = np.linalg.norm(X - self.center, axis=1)
        return np.maximum(self.r_inner - r, r - self.r_outer)

    def _base_measure(self, k: int) -> float:
        return 2.0 * math.pi * (self.r_inner if k == 0 else self.r_outer)

    def _part_min_segments(self, k: int) -> int:
        return 16

    def _part_map(self, k: int, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        th = 2.0 * math.pi * u[:, 0]
        e = np.column_stack([np.cos(th), np.sin(th)])
        r = self.r_inner if k == 0 else self.r_outer
        return self.center + r * e, (-e if k == 0 else e)

    def _part_distance(self, k: int, inside: bool) -> DistanceFunction:
        if not inside:
            return super()._part_distance(k, inside)
        return Ball(self.center, self.r_outer if k else self.r_inner, inside=k == 1)

    def _interior_map(self, u: FloatArray) -> FloatArray:
        r = np.sqrt(self.r_inner**2 + u[:, 0] * (self.r_outer**2 - self.r_inner**2))
        th = 2.0 * math.pi * u[:, 1]
        return self.center + r[:, None] * np.column_stack([np.cos(th), np.sin(th)])


class Disk(Geometry):
    """Disk ``|x - c| <= radius``.

    Parameters
    ----------
    center : array_like, shape (2,)
        Centre (length units).
    radius : float
        Radius (length units), ``> 0``.

    Notes
    -----
    Boundary part: ``"boundary"`` (the circle).
    """

    dim = 2
    _interior_exact = True

    def __init__(self, center: ArrayLike, radius: float) -> None:
        self.center = _as_vector(center, 2, "center")
        self.radius = _positive(radius, "radius")
        _check_resolved("Disk", "radius", self.radius, float(np.max(np.abs(self.center))))
        _check_measure("Disk", self.measure, "area")

    def __repr__(self) -> str:
        return f"Disk({self.center.tolist()}, {self.radius})"

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        return self.center - self.radius, self.center + self.radius

    @property
    def measure(self) -> float:
        return math.pi * self.radius**2

    @property
    def boundary_parts(self) -> tuple[str, ...]:
        return ("boundary",)

    def _phi(self, X: FloatArray) -> FloatArray:
        return np.linalg.norm(X - self.center, axis=1) - self.radius

    def _base_measure(self, k: int) -> float:
        return 2.0 * math.pi * self.radius

    def _part_min_segments(self, k: int) -> int:
        return 16

    def _part_map(self, k: int, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        th = 2.0 * math.pi * u[:, 0]
        e = np.column_stack([np.cos(th), np.sin(th)])
        return self.center + self.radius * e, e

    def _part_distance(self, k: int, inside: bool) -> DistanceFunction:
        return Ball(self.center, self.radius, inside=inside)

    def _interior_map(self, u: FloatArray) -> FloatArray:
        r = self.radius * np.sqrt(u[:, 0])
        th = 2.0 * math.pi * u[:, 1]
        return self.center + r[:, None] * np.column_stack([np.cos(th), np.sin(th)])
