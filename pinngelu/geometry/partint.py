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


def integrate_part(geom: Geometry, k: int, origin: FloatArray) -> tuple[float, float, FloatArray]:
    """Measure of part ``k``, its flux ``integral of (x - origin) . n`` and its moment
    ``integral of (x - origin) n^T`` (d, d).

    Summed over the parts of a closed boundary the moment is the domain's measure times
    the identity (divergence theorem), so its trace over ``d`` is the measure and its
    departure from a multiple of the identity tells how well the parts were resolved.

    In 3D the part is integrated along lines of its first parameter: the lines' values
    where the number of kept intervals changes are located by bisection, and the lines
    are Gauss-Legendre points of panels between them, graded geometrically toward each
    such value (where the integrand has kinks or square-root ends).
    """
    base = geom._base_measure(k)
    d = geom.dim
    if d == 2:
        _, a, b = part_intervals(geom, k)
        a, b = split_intervals(a, b, geom._part_breaks(k), 1.0 / 16.0)
        meas = float(np.sum(b - a))
        if a.size == 0:
            return 0.0, 0.0, np.zeros((d, d))
        half = 0.5 * (b - a)
        u = (0.5 * (a + b))[:, None] + half[:, None] * _GL_X[None, :]
        X, N = geom._part_map(k, u.reshape(-1, 1))
        f = np.sum((X - origin) * N, axis=1).reshape(u.shape)
        flux = float(np.sum(half[:, None] * _GL_W[None, :] * f))
        w = (half[:, None] * _GL_W[None, :]).reshape(-1)
        return base * meas, base * flux, base * np.einsum("p,pi,pj->ij", w, X - origin, N)
    cuts = _line_breaks(geom, k)
    u1, w1 = _graded_panels(cuts)
    line, a, b = part_intervals(geom, k, u1, n_grid=LINE_GRID)
    if a.size == 0:
        return 0.0, 0.0, np.zeros((d, d))
    meas = float(np.sum(w1[line] * (b - a)))
    half = 0.5 * (b - a)
    u2 = (0.5 * (a + b))[:, None] + half[:, None] * _GL_X[None, :]
    u = np.column_stack([np.repeat(u1[line], len(_GL_X)), u2.reshape(-1)])
    X, N = geom._part_map(k, u)
    w = (w1[line, None] * half[:, None] * _GL_W[None, :]).reshape(-1)
    moment = base * np.einsum("p,pi,pj->ij", w, X - origin, N)
    return base * meas, float(np.trace(moment)), moment


LINE_GRID = 256
"""Samples per line of a 3D part in which its kept intervals are looked for (features
narrower than ``1 / LINE_GRID`` of the parametrisation can be missed: the moment check
of :class:`~pinngelu.geometry.csg.Difference` then refuses the shape)."""

_SCAN_LINES = 384
_PANEL = 1.0 / 8.0
_GRADE_RATIO = 0.15
_GRADE_LEVELS = 7


def _line_breaks(geom: Geometry, k: int) -> FloatArray:
    """Sorted values of the first parameter of 3D part ``k`` where the kept intervals on
    the line change their number or leave an edge (located to about 1e-12), with 0 and
    1."""
    # the edges too: a wall along an edge of the part, thinner than the scan's spacing
    u1 = np.concatenate([[0.0], (np.arange(_SCAN_LINES) + 0.5) / _SCAN_LINES, [1.0]])
    count = _interval_count(geom, k, u1)
    idx = np.nonzero(count[1:] != count[:-1])[0]
    lo, hi = u1[idx].copy(), u1[idx + 1].copy()
    c_lo = count[idx]
    for _ in range(40):
        if lo.size == 0:
            break
        mid = 0.5 * (lo + hi)
        same = _interval_count(geom, k, mid) == c_lo
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    inner = np.unique(0.5 * (lo + hi))
    return np.concatenate([[0.0], inner[(inner > 0.0) & (inner < 1.0)], [1.0]])


def _interval_count(geom: Geometry, k: int, u1: FloatArray) -> IntArray:
    """A code of the kept intervals on each line: their number, and whether one starts
    at 0 and one ends at 1 (an end leaving the edge of the parametrisation is a kink of
    the integrand even where the number stays)."""
    line, a, b = part_intervals(geom, k, u1, n_grid=LINE_GRID)
    keep = b - a > 1e-7  # slivers where a part touches another's plane are no intervals
    line, a, b = line[keep], a[keep], b[keep]
    n = np.bincount(line, minlength=u1.size)
    at0 = np.bincount(line, weights=(a == 0.0), minlength=u1.size)
    at1 = np.bincount(line, weights=(b == 1.0), minlength=u1.size)
    return (4 * n + 2 * (at0 > 0) + (at1 > 0)).astype(np.int64)


def _graded_panels(cuts: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre points and weights on [0, 1] from panels between ``cuts``, each
    segment split into panels of at most ``_PANEL`` and graded toward both of its ends
    (``_GRADE_LEVELS`` panels shrinking by ``_GRADE_RATIO``)."""
    edges: list[float] = []
    for c0, c1 in zip(cuts[:-1], cuts[1:], strict=True):
        ln = c1 - c0
        if ln <= 0.0:
            continue
        r = _GRADE_RATIO ** np.arange(1, _GRADE_LEVELS + 1)  # fractions near each end
        inner = np.linspace(c0 + r[0] * ln, c1 - r[0] * ln, max(1, math.ceil(ln / _PANEL)) + 1)
        seg = np.concatenate([c0 + ln * r[::-1], inner, c1 - ln * r])
        edges.extend([c0, *seg.tolist()])
    edges.append(float(cuts[-1]))
    e = np.unique(np.asarray(edges))
    half = 0.5 * np.diff(e)
    mid = 0.5 * (e[1:] + e[:-1])
    x = (mid[:, None] + half[:, None] * _GL_X[None, :]).reshape(-1)
    w = (half[:, None] * _GL_W[None, :]).reshape(-1)
    return x, w


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
