"""Constructive solid geometry: the set difference :class:`Difference`."""

from __future__ import annotations

import numpy as np

from ._checks import BoolArray, FloatArray
from .base import Geometry
from .distance import DistanceFunction
from .partint import integrate_part

MOMENT_TOLERANCE = 1e-6
"""Largest relative departure of a difference's boundary moment from its measure times
the identity (see :class:`Difference`)."""


class Difference(Geometry, difference=True):
    """Set difference ``a \\ b`` (regularised: the result is closed).

    Parameters
    ----------
    a : Geometry
        Outer domain.
    b : Geometry
        Domain removed from ``a`` (fully or partly inside ``a``), same dimension.
    names : dict of str to str, optional
        Renames boundary parts of ``b``, e.g. ``{"boundary": "hole"}``.

    Notes
    -----
    Boundary parts: the parts of ``a`` restricted to points not inside ``b`` (same names), then
    the parts of ``b`` lying inside ``a`` (renamed via ``names``), whose normals are flipped so
    that they point into ``b``. Parts that vanish entirely are dropped. Names must be unique.
    Part measures and the domain measure are computed once, deterministically: the end
    points of the kept arcs / segments are located by bisection and the measure follows
    from the divergence theorem by Gauss-Legendre quadrature (2D about 1e-8 relative); in
    3D along lines of the part parametrisation, in panels between the lines where the kept
    intervals change, graded toward them. The moment ``integral of (x - o) n^T`` over the
    kept parts must be the measure times the identity to ``MOMENT_TOLERANCE`` (1e-6):
    otherwise a part was missed or cut short (a wall thinner than about 1/256 of a
    part's parametrisation) and the constructor raises ``ValueError``.
    """

    def __init__(self, a: Geometry, b: Geometry, names: dict[str, str] | None = None) -> None:
        if not isinstance(a, Geometry) or not isinstance(b, Geometry):
            raise ValueError("Difference needs two Geometry objects")
        if a.dim != b.dim:
            raise ValueError(f"dimension mismatch: a is {a.dim}D, b is {b.dim}D")
        self.dim = a.dim
        self.a = a
        self.b = b
        rename = dict(names or {})
        b_parts = b.boundary_parts
        for key in rename:
            if key not in b_parts:
                raise ValueError(
                    f"unknown boundary part {key!r} of the subtracted domain in names; "
                    f"valid parts: {', '.join(b_parts)}"
                )
        lo, hi = a.bbox
        self._delta = 1e-9 * float(np.linalg.norm(hi - lo))
        # candidate parts: (source, index in source, name)
        cands: list[tuple[int, int, str]] = [(0, k, s) for k, s in enumerate(a.boundary_parts)]
        cands += [(1, k, rename.get(s, s)) for k, s in enumerate(b_parts)]
        seen: set[str] = set()
        for _, _, s in cands:
            if s in seen:
                raise ValueError(
                    f"duplicate boundary part name {s!r} in the difference; rename the parts of "
                    "the subtracted domain with names={...}"
                )
            seen.add(s)
        self._parts = cands
        origin = 0.5 * (lo + hi)
        kept: list[tuple[int, int, str]] = []
        meas: list[float] = []
        moment = np.zeros((self.dim, self.dim))
        flux = 0.0
        for src, k, s in cands:
            self._parts = [(src, k, s)]
            m, fk, mk = integrate_part(self, 0, origin)
            if m > 1e-12 * max(self._src(src)._base_measure(k), 1e-300):
                kept.append((src, k, s))
                meas.append(m)
                flux += fk
                moment += mk
        if not kept:
            raise ValueError("the difference has an empty boundary")
        self._parts = kept
        self._meas = meas
        self._measure = flux / self.dim
        if self._measure <= 0.0:
            raise ValueError("the difference is empty (b covers a)")
        # over a closed boundary the moment of (x - origin) n^T is the measure times the
        # identity: a part missed or cut short (a wall thinner than the search grid of
        # the parametrisation) breaks that
        off = float(np.max(np.abs(moment - self._measure * np.eye(self.dim))))
        if off > MOMENT_TOLERANCE * self._measure:
            raise ValueError(
                f"the boundary of the difference is not resolved: its parts enclose a "
                f"measure of {self._measure:.6g} by one coordinate and up to "
                f"{off:.3g} more or less by another (relative {off / self._measure:.1e}, "
                f"tolerance {MOMENT_TOLERANCE:g}); a wall or gap of the shape is probably "
                "thinner than about 1/256 of the size of a part: make it thicker, or "
                "mesh the part and use MeshDomain"
            )

    def __repr__(self) -> str:
        return f"Difference({self.a!r}, {self.b!r})"

    def _src(self, src: int) -> Geometry:
        return self.a if src == 0 else self.b

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        return self.a.bbox

    @property
    def measure(self) -> float:
        return float(self._measure)

    @property
    def _candidate_measure(self) -> float:
        return self.a._candidate_measure

    def _candidate_map(self, u: FloatArray) -> FloatArray:
        return self.a._candidate_map(u)

    @property
    def boundary_parts(self) -> tuple[str, ...]:
        return tuple(s for _, _, s in self._parts)

    def _phi(self, X: FloatArray) -> FloatArray:
        return np.maximum(self.a._phi(X), -self.b._phi(X))

    def _part_measure(self, k: int) -> float:
        return self._meas[k]

    def _base_measure(self, k: int) -> float:
        src, j, _ = self._parts[k]
        return self._src(src)._base_measure(j)

    def _part_has_filter(self, k: int) -> bool:
        return True

    def _part_breaks(self, k: int) -> FloatArray:
        src, j, _ = self._parts[k]
        return self._src(src)._part_breaks(j)

    def _part_min_segments(self, k: int) -> int:
        src, j, _ = self._parts[k]
        return self._src(src)._part_min_segments(j)

    def _part_extent(self, k: int) -> tuple[float, float]:
        src, j, _ = self._parts[k]
        return self._src(src)._part_extent(j)

    def _part_mesh_u(self, k: int, h: float) -> FloatArray:
        src, j, _ = self._parts[k]
        return self._src(src)._part_mesh_u(j, h)

    def _part_map(self, k: int, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        src, j, _ = self._parts[k]
        X, N = self._src(src)._part_map(j, u)
        return X, (N if src == 0 else -N)

    def _part_accept(self, k: int, X: FloatArray, N: FloatArray) -> BoolArray:
        src, j, _ = self._parts[k]
        g = self._src(src)
        inner = g._part_accept(j, X, N if src == 0 else -N)
        dl = self._delta
        if src == 0:
            # the region a \ b lies on the side -N of a's boundary: keep if that side is not in b
            acc = (self.b._phi(X - dl * N) >= 0.0) & (self.b._phi(X) >= -1e-3 * dl)
        else:
            # N points into b here; the region lies on the side -N: keep if that side is in a
            acc = (self.a._phi(X - dl * N) <= 0.0) & (self.a._phi(X) <= 1e-3 * dl)
        return acc if inner is None else acc & inner

    def _part_distance(self, k: int, inside: bool) -> DistanceFunction:
        # a's ADF is positive on a, which holds the difference; b's parts need b's ADF
        # positive outside b
        src, j, _ = self._parts[k]
        return self._src(src)._part_distance(j, inside if src == 0 else not inside)
