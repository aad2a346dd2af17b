"""Axis-aligned boxes in any dimension: the common base of ``Rectangle`` and ``Box``."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import FloatArray, _as_vector, _check_measure, _check_resolved
from .base import Geometry
from .distance import DistanceFunction, HalfSpace, segment_distance


class _AxisBox(Geometry):
    _interior_exact = True

    def __init__(
        self,
        lo: ArrayLike,
        hi: ArrayLike,
        dim: int,
        names: tuple[str, ...],
        sides: tuple[str, ...] | None = None,
    ) -> None:
        self.dim = dim
        what = type(self).__name__
        self.lo = _as_vector(lo, dim, "lo")
        self.hi = _as_vector(hi, dim, "hi")
        side = self.hi - self.lo
        sides = sides or tuple(f"hi[{i}] - lo[{i}]" for i in range(dim))
        if np.any(~(side > 0)):
            i = int(np.flatnonzero(~(side > 0))[0])
            raise ValueError(
                f"degenerate {what}: need lo < hi componentwise, got {sides[i]} = {side[i]:.6g} "
                f"(lo={self.lo}, hi={self.hi})"
            )
        scale = max(
            float(np.max(side)), float(np.max(np.abs(self.lo))), float(np.max(np.abs(self.hi)))
        )
        for i in range(dim):
            _check_resolved(what, sides[i], float(side[i]), scale)
        with np.errstate(over="ignore", under="ignore"):
            measure = float(np.prod(side))
        _check_measure(what, measure, "area" if dim == 2 else "volume")
        self._names = names

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        return self.lo.copy(), self.hi.copy()

    @property
    def measure(self) -> float:
        return float(np.prod(self.hi - self.lo))

    @property
    def boundary_parts(self) -> tuple[str, ...]:
        return self._names

    def _phi(self, X: FloatArray) -> FloatArray:
        return np.max(np.maximum(self.lo - X, X - self.hi), axis=1)

    def _others(self, k: int) -> list[int]:
        axis = k // 2
        return [i for i in range(self.dim) if i != axis]

    def _base_measure(self, k: int) -> float:
        side = self.hi - self.lo
        return float(np.prod(side[self._others(k)]))

    def _part_extent(self, k: int) -> tuple[float, float]:
        side = self.hi - self.lo
        o = self._others(k)
        return float(side[o[0]]), float(side[o[1]])

    def _part_map(self, k: int, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        axis, side = divmod(k, 2)
        m = u.shape[0]
        X = np.empty((m, self.dim))
        for j, i in enumerate(self._others(k)):
            X[:, i] = self.lo[i] + u[:, j] * (self.hi[i] - self.lo[i])
        X[:, axis] = self.hi[axis] if side else self.lo[axis]
        N = np.zeros((m, self.dim))
        N[:, axis] = 1.0 if side else -1.0
        return X, N

    def _interior_map(self, u: FloatArray) -> FloatArray:
        return self.lo + u * (self.hi - self.lo)

    def _part_distance(self, k: int, inside: bool) -> DistanceFunction:
        axis, side = divmod(k, 2)
        n = np.zeros(self.dim)
        n[axis] = -1.0 if side else 1.0  # into the box
        p = self.hi if side else self.lo
        if inside:
            return HalfSpace(p, n)
        if self.dim != 2:
            return super()._part_distance(k, inside)
        o = 1 - axis
        a, b = p.copy(), p.copy()
        a[o], b[o] = self.lo[o], self.hi[o]
        return segment_distance(a, b, -n)
