"""Integration along the parametrisation of (filtered) boundary parts.

A boundary part of a :class:`~pinngelu.geometry.base.Geometry` is the image of the unit
interval (2D) or unit square (3D) under a measure-preserving map; a filter (``_part_accept``,
used by set differences) may keep only some of it. These functions locate the kept
sub-intervals by bisection and integrate over them by Gauss-Legendre quadrature.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ._checks import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:
    from .base import Geometry

_GL_X, _GL_W = np.polynomial.legendre.leggauss(10)


def _accept_u(geom: Geometry, k: int, u: FloatArray) -> BoolArray:
    X, N = geom._part_map(k, u)
    acc = geom._part_accept(k, X, N)
    return np.ones(u.shape[0], dtype=bool) if acc is None else acc


def part_intervals(
    geom: Geometry, k: int, fixed: FloatArray | None = None, n_grid: int = 1024
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Accepted sub-intervals ``[a, b]`` of the last parameter of part ``k``.

    For 2D domains the part parameter is 1D and a single "line" is used. For 3D domains
    ``fixed`` holds the values (L,) of the first parameter and intervals are found in the
    second parameter on each line. Returns (line index, a, b), each of shape (I,).
    """
    n_lines = 1 if fixed is None else len(fixed)
    t = np.linspace(0.0, 1.0, n_grid + 1)

    def accept(lines: IntArray, tt: FloatArray) -> BoolArray:
        if fixed is None:
            u = tt[:, None]
        else:
            u = np.column_stack([fixed[lines], tt])
        return _accept_u(geom, k, u)

    lines_all = np.repeat(np.arange(n_lines), n_grid + 1)
    A = accept(lines_all, np.tile(t, n_lines)).reshape(n_lines, n_grid + 1)
    li, ti = np.nonzero(A[:, 1:] != A[:, :-1])
    lo = t[ti].copy()
    hi = t[ti + 1].copy()
    state_lo = A[li, ti]
    for _ in range(55):
        if lo.size == 0:
            break
        mid = 0.5 * (lo + hi)
        same = accept(li, mid) == state_lo
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    cross = 0.5 * (lo + hi)
    out_l: list[int] = []
    out_a: list[float] = []
    out_b: list[float] = []
    for line in range(n_lines):
        sel = li == line
        cr = cross[sel]
        starts_in = bool(A[line, 0])
        pts = list(cr)
        if starts_in:
            pts = [0.0, *pts]
        if len(pts) % 2 == 1:
            pts.append(1.0)
        for j in range(0, len(pts), 2):
            if pts[j + 1] > pts[j]:
                out_l.append(line)
                out_a.append(pts[j])
                out_b.append(pts[j + 1])
    return (
        np.asarray(out_l, dtype=np.int64),
        np.asarray(out_a, dtype=np.float64),
        np.asarray(out_b, dtype=np.float64),
    )


def integrate_part(geom: Geometry, k: int, origin: FloatArray) -> tuple[float, float]:
    """Measure of part ``k`` and flux ``integral of (x - origin) . n`` over it."""
    base = geom._base_measure(k)
    if geom.dim == 2:
        _, a, b = part_intervals(geom, k)
        a, b = split_intervals(a, b, geom._part_breaks(k), 1.0 / 16.0)
        meas = float(np.sum(b - a))
        if a.size == 0:
            return 0.0, 0.0
        half = 0.5 * (b - a)
        u = (0.5 * (a + b))[:, None] + half[:, None] * _GL_X[None, :]
        X, N = geom._part_map(k, u.reshape(-1, 1))
        f = np.sum((X - origin) * N, axis=1).reshape(u.shape)
        flux = float(np.sum(half[:, None] * _GL_W[None, :] * f))
        return base * meas, base * flux
    n_lines = 384
    u1 = (np.arange(n_lines) + 0.5) / n_lines
    line, a, b = part_intervals(geom, k, u1, n_grid=256)
    if a.size == 0:
        return 0.0, 0.0
    meas = float(np.sum(b - a)) / n_lines
    half = 0.5 * (b - a)
    u2 = (0.5 * (a + b))[:, None] + half[:, None] * _GL_X[None, :]
    u = np.column_stack([np.repeat(u1[line], len(_GL_X)), u2.reshape(-1)])
    X, N = geom._part_map(k, u)
    f = np.sum((X - origin) * N, axis=1).reshape(u2.shape)
    flux = float(np.sum(half[:, None] * _GL_W[None, :] * f)) / n_lines
    return base * meas, base * flux


def split_intervals(
    a: FloatArray, b: FloatArray, breaks: FloatArray, max_len: float
) -> tuple[FloatArray, FloatArray]:
    out_a: list[float] = []
    out_b: list[float] = []
    for lo, hi in zip(a, b, strict=True):
        cuts = [lo, *[c for c in breaks if lo < c < hi], hi]
        for c0, c1 in zip(cuts[:-1], cuts[1:], strict=True):
            m = max(1, math.ceil((c1 - c0) / max_len))
            edges = np.linspace(c0, c1, m + 1)
            out_a.extend(edges[:-1])
            out_b.extend(edges[1:])
    return np.asarray(out_a, dtype=np.float64), np.asarray(out_b, dtype=np.float64)
