"""Approximate distance functions (ADFs) of boundary parts, with analytic jets.

An ADF ``phi`` of a boundary part is zero on the part, positive in the rest of the
domain and normalised to first order (``|grad phi| = 1`` on the part away from its
ends).  Hard Dirichlet conditions use it as ``u = G + phi N`` (see
:mod:`pinngelu.hard_bc`).  Construction after Sukumar and Srivastava (CMAME 389,
2022): distances to carriers (lines, planes, circles, spheres), trimmed segments,
and R-equivalence joining (``m = 1``).

Every function returns its jets ``(value (N,), gradient (N, d), Hessian (N, d, d))``
through the small forward-mode arithmetic :class:`Jet`, so each formula is written
once and its derivatives follow from the chain rule.  Where an ADF is not
differentiable (end points of a trimmed segment, corners where two joined parts
meet) the value is 0 and the derivatives are set to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import FloatArray

__all__ = [
    "NoDistanceFunction",
    "Jet",
    "DistanceFunction",
    "HalfSpace",
    "Ball",
    "TrimmedSegment",
    "REquivalence",
    "r_equivalence",
    "segment_distance",
]


class NoDistanceFunction(ValueError):
    """A shape or boundary part has no analytic distance function (its Dirichlet
    conditions stay soft)."""


@dataclass
class Jet:
    """Value ``v (N,)``, gradient ``g (N, d)`` and Hessian ``h (N, d, d)`` of a field."""

    v: FloatArray
    g: FloatArray
    h: FloatArray

    @classmethod
    def coordinate(cls, X: FloatArray, i: int) -> Jet:
        N, d = X.shape
        g = np.zeros((N, d))
        g[:, i] = 1.0
        return cls(X[:, i].copy(), g, np.zeros((N, d, d)))

    @classmethod
    def constant(cls, c, N: int, d: int) -> Jet:
        return cls(
            np.broadcast_to(np.asarray(c, float), (N,)).copy(),
            np.zeros((N, d)),
            np.zeros((N, d, d)),
        )

    def __add__(self, o):
        if isinstance(o, Jet):
            return Jet(self.v + o.v, self.g + o.g, self.h + o.h)
        return Jet(self.v + o, self.g, self.h)

    __radd__ = __add__

    def __neg__(self) -> Jet:
        return Jet(-self.v, -self.g, -self.h)

    def __sub__(self, o):
        return self + (-o)

    def __rsub__(self, o):
        return (-self) + o

    def __mul__(self, o):
        if isinstance(o, Jet):
            gg = self.g[:, :, None] * o.g[:, None, :]
            return Jet(
                self.v * o.v,
                self.g * o.v[:, None] + self.v[:, None] * o.g,
                self.h * o.v[:, None, None]
                + self.v[:, None, None] * o.h
                + gg
                + np.swapaxes(gg, 1, 2),
            )
        o = np.asarray(o, float)
        if o.ndim == 1:
            return Jet(self.v * o, self.g * o[:, None], self.h * o[:, None, None])
        return Jet(self.v * o, self.g * o, self.h * o)

    __rmul__ = __mul__

    def apply(self, f0, f1, f2) -> Jet:
        """``f(self)`` from ``f``, ``f'`` and ``f''`` at the values (chain rule)."""
        gg = self.g[:, :, None] * self.g[:, None, :]
        return Jet(f0, f1[:, None] * self.g, f1[:, None, None] * self.h + f2[:, None, None] * gg)

    def sqrt(self) -> Jet:
        s = np.sqrt(self.v)
        return self.apply(s, 0.5 / s, -0.25 / (s * self.v))

    def reciprocal(self) -> Jet:
        r = 1.0 / self.v
        return self.apply(r, -r * r, 2.0 * r * r * r)

    def __truediv__(self, o):
        if isinstance(o, Jet):
            return self * o.reciprocal()
        return self * (1.0 / np.asarray(o, float))

    def rows(self, mask: np.ndarray) -> Jet:
        return Jet(self.v[mask], self.g[mask], self.h[mask])

    def where(self, mask: np.ndarray, other: Jet) -> Jet:
        """This jet where ``mask``, ``other`` elsewhere."""
        return Jet(
            np.where(mask, self.v, other.v),
            np.where(mask[:, None], self.g, other.g),
            np.where(mask[:, None, None], self.h, other.h),
        )

    def sanitized(self) -> Jet:
        """Zero value and derivatives at rows that are not finite (singular points)."""
        with np.errstate(over="ignore", invalid="ignore"):
            # a finite sum means every entry is finite (one pass over each array)
            if np.isfinite(self.v.sum() + self.g.sum() + self.h.sum()):
                return self
        ok = np.isfinite(self.v) & np.all(np.isfinite(self.g), axis=1)
        ok &= np.all(np.isfinite(self.h), axis=(1, 2))
        if ok.all():
            return self
        v = np.where(ok, self.v, 0.0)
        return Jet(v, np.where(ok[:, None], self.g, 0.0), np.where(ok[:, None, None], self.h, 0.0))


def _coords(X: FloatArray) -> list[Jet]:
    return [Jet.coordinate(X, i) for i in range(X.shape[1])]


class DistanceFunction:
    """An approximate distance function: :meth:`jets` at points ``X (N, d)``."""

    dim: int

    def _jet(self, X: FloatArray) -> Jet:
        raise NotImplementedError

    def jets(self, X: FloatArray) -> Jet:
        """Value ``(N,)``, gradient ``(N, d)`` and Hessian ``(N, d, d)`` at ``X (N, d)``
        (length units of ``X``), with singular rows zeroed."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"points must have shape (N, {self.dim}), got {X.shape}")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self._jet(X).sanitized()

    def __call__(self, X: FloatArray) -> FloatArray:
        return self.jets(X).v


class HalfSpace(DistanceFunction):
    """``phi = n . (x - p)``: distance to the line / plane through ``p`` with unit normal
    ``n`` pointing into the domain (exact; the domain must lie in ``phi >= 0``)."""

    def __init__(self, p, n) -> None:
        self.p = np.asarray(p, float)
        n = np.asarray(n, float)
        self.n = n / np.linalg.norm(n)
        self.dim = self.p.size

    def _jet(self, X):
        N, d = X.shape
        g = np.broadcast_to(self.n, (N, d)).copy()
        return Jet((X - self.p) @ self.n, g, np.zeros((N, d, d)))


class Ball(DistanceFunction):
    """Circle / sphere ``|x - c| = R``: ``phi = s (R^2 - |x - c|^2) / (2 R)`` with
    ``s = +1`` when the domain is inside the ball, ``-1`` when it is outside."""

    def __init__(self, center, radius: float, inside: bool) -> None:
        self.c = np.asarray(center, float)
        self.R = float(radius)
        self.s = 1.0 if inside else -1.0
        self.dim = self.c.size

    def _jet(self, X):
        Y = X - self.c
        N, d = X.shape
        k = self.s / (2.0 * self.R)
        return Jet(
            k * (self.R**2 - np.sum(Y * Y, axis=1)),
            -2.0 * k * Y,
            np.broadcast_to(-2.0 * k * np.eye(d), (N, d, d)).copy(),
        )


class TrimmedSegment(DistanceFunction):
    """Trimmed distance to the segment ``a b`` in 2D (Sukumar and Srivastava, eq. 5):
    ``f`` the signed distance to the line, ``t = ((L/2)^2 - |x - x_c|^2) / L``,
    ``varphi = sqrt(t^2 + f^4)``, ``phi = sqrt(f^2 + ((varphi - t) / 2)^2)``.

    Zero on the segment only, positive elsewhere.  Where ``t > 0`` it is evaluated as
    ``|f| sqrt(1 + q^2)``, ``q = f^3 / (2 (varphi + t))``, the same function, smooth up
    to the segment from the domain's side ``side`` (+1: the side the left normal of
    ``b - a`` points to, -1: the other one), so the jets on the segment are the
    one-sided limits."""

    dim = 2

    def __init__(self, a, b, side: float) -> None:
        self.a, self.b = np.asarray(a, float), np.asarray(b, float)
        self.side = 1.0 if side > 0 else -1.0

    def _jet(self, X):
        x, y = _coords(X)
        (x1, y1), (x2, y2) = self.a, self.b
        L = float(np.hypot(x2 - x1, y2 - y1))
        xc, yc = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
        f = ((x - x1) * (-(y2 - y1)) + (y - y1) * (x2 - x1)) / L  # left normal positive
        dx, dy = x - xc, y - yc
        t = (-(dx * dx + dy * dy) + (0.5 * L) ** 2) / L
        f2 = f * f
        vphi = (t * t + f2 * f2).sqrt()
        sgn = np.where(f.v > 0, 1.0, np.where(f.v < 0, -1.0, self.side))
        inner = t.v > 0
        q = f2 * f / ((vphi + t) * 2.0)
        near = (f * sgn) * (q * q + 1.0).sqrt()
        w = (vphi - t) * 0.5
        far = (f2 + w * w).sqrt()
        return near.where(inner, far)


class REquivalence(DistanceFunction):
    """R-equivalence (``m = 1``) of ADFs: ``phi = 1 / sum_i (1 / phi_i)``, written as
    ``prod_i phi_i / sum_j prod_{i != j} phi_i``; zero on the union of the parts."""

    def __init__(self, parts: list[DistanceFunction]) -> None:
        if not parts:
            raise ValueError("R-equivalence of no distance functions")
        self.parts = list(parts)
        self.dim = parts[0].dim

    def _jet(self, X):
        return r_join([p.jets(X) for p in self.parts])


def co_products(J: list[Jet]) -> Jet:
    """``sum_l prod_{j != l} phi_j`` of jets."""
    den = None
    for k in range(len(J)):
        term = None
        for i, j in enumerate(J):
            if i != k:
                term = j if term is None else term * j
        den = term if den is None else den + term
    return den


def r_join(J: list[Jet]) -> Jet:
    """R-equivalence (``m = 1``) of jets: ``prod_i phi_i / sum_l prod_{j != l} phi_j``."""
    if len(J) == 1:
        return J[0]
    num = J[0]
    for j in J[1:]:
        num = num * j
    return num / co_products(J)


def segment_distance(a, b, toward) -> TrimmedSegment:
    """Trimmed segment ADF whose one-sided jets on the segment are taken from the side
    ``toward (2,)`` points to (into the domain)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    left = np.array([-(b[1] - a[1]), b[0] - a[0]])
    return TrimmedSegment(a, b, float(np.sign(left @ np.asarray(toward, float))) or 1.0)


def r_equivalence(parts: list[DistanceFunction]) -> DistanceFunction:
    """One ADF for the union of parts (the part itself when there is one)."""
    return parts[0] if len(parts) == 1 else REquivalence(parts)
