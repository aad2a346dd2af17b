"""The base class of all domains: :class:`Geometry`, with membership and sampling.

Every domain is a :class:`Geometry`. It can

* test membership (:meth:`Geometry.contains`),
* draw interior points uniformly, either i.i.d. or from a scrambled Sobol' sequence
  (:meth:`Geometry.sample_interior`),
* draw boundary points with outward unit normals on named boundary parts, distributed
  proportionally to the measure (length in 2D, area in 3D) of the parts
  (:meth:`Geometry.sample_boundary`),
* build a conforming simplex mesh for exporting fields (:meth:`Geometry.mesh`).

Randomness is always passed explicitly as a :class:`numpy.random.Generator`. Coordinates and
lengths are in the units of the problem (for example metres); all arrays are ``float64``.

Boundary parts are parametrised internally by measure-preserving maps from the unit interval
(2D) or unit square (3D), so uniform and Sobol' samples on a part are exactly on the part and,
for the Sobol' method, keep their low discrepancy.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ._checks import (
    BoolArray,
    FloatArray,
    IntArray,
    PartSpec,
    Predicate,
    _as_float,
    _as_points,
    _check_method,
    _check_n,
    _check_rng,
)
from .boundary_sample import BoundarySample, _eval_predicate
from .distance import DistanceFunction, NoDistanceFunction
from .meshing import mesh_geometry
from .partint import part_intervals
from .sampling import (
    FILL_MIN,
    BoxCover,
    _allocate,
    _new_seed,
    _unit_points,
    box_cover,
    rejection_sample,
)


def _empty_boundary(dim: int) -> tuple[FloatArray, FloatArray]:
    return np.empty((0, dim)), np.empty((0, dim))


def _too_few(accepted: int, drawn: int, n: int) -> str:
    """The refusal of a boundary predicate that accepts too few of the drawn points."""
    return (
        f"boundary predicate accepts (almost) no boundary points ({accepted} of {drawn} "
        f"accepted, {n} needed): it selects too few points to hold a condition (a point, "
        "or a set of zero length or area); select a part of the boundary of positive "
        "measure, e.g. a band |x - x0| < tol with tol a fraction of the part's size, or "
        "a named part"
    )


class Geometry:
    """Base class of all domains.

    Subclasses describe the domain by an (approximately) signed distance function ``_phi``
    (negative inside, zero on the boundary), a list of boundary parts, each given by a
    measure-preserving map from the unit interval / square, and optionally an exact
    measure-preserving map from the unit square / cube onto the interior.

    Attributes
    ----------
    dim : int
        Spatial dimension, 2 or 3.
    """

    dim: int = 2
    _interior_exact: bool = False
    # the class of ``a - b`` (set by :class:`~pinngelu.geometry.csg.Difference`)
    _difference: ClassVar[type[Geometry] | None] = None

    def __init_subclass__(cls, difference: bool = False, **kwargs) -> None:
        """``class Difference(Geometry, difference=True)`` makes ``Difference`` the class
        of ``a - b``: csg builds on this module, so this module does not import it."""
        super().__init_subclass__(**kwargs)
        if difference:
            Geometry._difference = cls

    # -- interface implemented by subclasses ------------------------------------------------

    @property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        """Axis-aligned bounding box ``(lo (d,), hi (d,))`` in length units."""
        raise NotImplementedError

    @property
    def measure(self) -> float:
        """Area (2D, length^2) or volume (3D, length^3) of the domain."""
        raise NotImplementedError

    @property
    def boundary_parts(self) -> tuple[str, ...]:
        """Names of the boundary parts."""
        raise NotImplementedError

    def _phi(self, X: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _base_measure(self, k: int) -> float:
        raise NotImplementedError

    def _part_map(self, k: int, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        raise NotImplementedError

    def _part_accept(self, k: int, X: FloatArray, N: FloatArray) -> BoolArray | None:
        return None

    def _part_has_filter(self, k: int) -> bool:
        return False

    def _part_breaks(self, k: int) -> FloatArray:
        return np.array([0.0, 1.0])

    def _part_min_segments(self, k: int) -> int:
        """Minimum number of mesh segments over the whole parameter range (curved parts)."""
        return 1

    def _part_extent(self, k: int) -> tuple[float, float]:
        a = math.sqrt(self._base_measure(k))
        return a, a

    def _part_mesh_u(self, k: int, h: float) -> FloatArray:
        l1, l2 = self._part_extent(k)
        n1 = max(1, math.ceil(l1 / h - 1e-9))
        n2 = max(1, math.ceil(l2 / h - 1e-9))
        g1, g2 = np.meshgrid(np.linspace(0, 1, n1 + 1), np.linspace(0, 1, n2 + 1), indexing="ij")
        return np.column_stack([g1.ravel(), g2.ravel()])

    def _interior_map(self, u: FloatArray) -> FloatArray:
        lo, hi = self.bbox
        return lo + u * (hi - lo)

    @property
    def _candidate_measure(self) -> float:
        if self._interior_exact:
            return self.measure
        lo, hi = self.bbox
        return float(np.prod(hi - lo))

    def _candidate_map(self, u: FloatArray) -> FloatArray:
        if self._interior_exact:
            return self._interior_map(u)
        lo, hi = self.bbox
        return lo + u * (hi - lo)

    # -- public API ---------------------------------------------------------------------------

    def contains(self, X: ArrayLike, tol: float = 1e-10) -> BoolArray:
        """Test whether points lie inside the domain or on its boundary.

        Parameters
        ----------
        X : array_like, shape (N, d)
            Points (length units).
        tol : float, optional
            Absolute tolerance (length units): points within about ``tol`` outside the
            boundary count as contained.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        pts = _as_points(X, self.dim)
        return self._phi(pts) <= _as_float(tol, "tol")

    def part_measure(self, name: str) -> float:
        """Measure of one boundary part.

        Parameters
        ----------
        name : str
            Boundary part name, one of :attr:`boundary_parts`.

        Returns
        -------
        float
            Length (2D, length units) or area (3D, length^2) of the part.
        """
        return float(self._part_measure(self._part_index(name)))

    def _part_measure(self, k: int) -> float:
        return self._base_measure(k)

    def part_distance(self, name: str) -> DistanceFunction:
        """Approximate distance function of one boundary part (for hard Dirichlet
        conditions): zero on the part, positive in the rest of the domain.

        Parameters
        ----------
        name : str
            Boundary part name, one of :attr:`boundary_parts`.

        Returns
        -------
        DistanceFunction
            Its :meth:`~pinngelu.geometry.distance.DistanceFunction.jets` give value,
            gradient and Hessian at points (length units).

        Raises
        ------
        NoDistanceFunction
            For shapes and parts without an analytic distance function.
        """
        return self._part_distance(self._part_index(name), True)

    def _part_distance(self, k: int, inside: bool) -> DistanceFunction:
        """ADF of part ``k`` positive in the domain (``inside``) or in its complement
        (the domain subtracted in a :class:`Difference`)."""
        where = "" if inside else " as the subtracted domain of a Difference"
        raise NoDistanceFunction(
            f"{type(self).__name__}{where} has no distance function for boundary part "
            f"{self.boundary_parts[k]!r}"
        )

    def _part_index(self, name: str) -> int:
        parts = self.boundary_parts
        if not isinstance(name, str) or name not in parts:
            raise ValueError(f"unknown boundary part {name!r}; valid parts: {', '.join(parts)}")
        return parts.index(name)

    def __sub__(self, other: Geometry) -> Geometry:
        """The set difference ``self \\ other``
        (:class:`~pinngelu.geometry.csg.Difference`)."""
        if not isinstance(other, Geometry):
            return NotImplemented
        return Geometry._difference(self, other)

    # -- interior sampling --------------------------------------------------------------------

    def sample_interior(
        self, n: int, rng: np.random.Generator, method: str = "uniform"
    ) -> FloatArray:
        """Draw points uniformly distributed in the domain.

        Parameters
        ----------
        n : int
            Number of points, ``n >= 0``.
        rng : numpy.random.Generator
            Source of randomness (also seeds the Sobol' scrambling).
        method : {"uniform", "sobol"}
            ``"uniform"``: i.i.d. uniform points. ``"sobol"``: scrambled Sobol' points,
            mapped by an exact measure-preserving map where the shape has one, otherwise by
            rejection from the bounding box (taking a prefix of the accepted sequence).

        Returns
        -------
        ndarray, shape (n, d)
            Points inside the domain (length units); exactly ``n`` of them.
        """
        n = _check_n(n)
        _check_method(method)
        _check_rng(rng)
        d = self.dim
        if n == 0:
            return np.empty((0, d))
        if self._interior_exact:
            return self._interior_map(_unit_points(d, n, method, rng, None))
        frac = self.measure / self._candidate_measure
        if frac >= FILL_MIN:
            cand, cand_frac = self._candidate_map, frac
        else:
            cover = self._box_cover()
            cand, cand_frac = cover.map, self.measure / cover.measure
        (X,) = rejection_sample(
            n,
            d,
            lambda u: (cand(u),),
            lambda X: self._phi(X) <= 0.0,
            cand_frac,
            method,
            rng,
            None,
            repr(self),
        )
        return X

    def _box_cover(self) -> BoxCover:
        """Cover of the domain by small boxes (computed once), for low-fill domains."""
        cover = self.__dict__.get("_cover")
        if cover is None:
            lo, hi = self.bbox
            cover = box_cover(self._phi, np.asarray(lo), np.asarray(hi), self.measure)
            self.__dict__["_cover"] = cover
        return cover

    # -- boundary sampling --------------------------------------------------------------------

    def _part_fraction(self, k: int) -> float:
        base = self._base_measure(k)
        return self._part_measure(k) / base if base > 0 else 0.0

    def _sample_part(
        self,
        k: int,
        m: int,
        method: str,
        rng: np.random.Generator | None,
        seed: int | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Exactly ``m`` uniform points and normals on part ``k``."""
        d = self.dim
        if m == 0:
            return _empty_boundary(d)
        if not self._part_has_filter(k):
            return self._part_map(k, _unit_points(d - 1, m, method, rng, seed))
        frac = self._part_fraction(k)
        if frac < FILL_MIN and d == 2:
            return self._part_map(k, self._kept_u(k, _unit_points(1, m, method, rng, seed)))
        return rejection_sample(
            m,
            d - 1,
            lambda u: self._part_map(k, u),
            lambda X, N: self._part_accept(k, X, N),
            frac,
            method,
            rng,
            seed,
            f"boundary part {self.boundary_parts[k]!r} of {self!r}",
        )

    def _kept_u(self, k: int, u: FloatArray) -> FloatArray:
        """Map ``u`` (m, 1) uniformly onto the kept parameter intervals of 2D part ``k``."""
        cache = self.__dict__.setdefault("_kept_intervals", {})
        if k not in cache:
            _, a, b = part_intervals(self, k)
            cache[k] = (a, b, np.concatenate([[0.0], np.cumsum(b - a)]))
        a, b, cum = cache[k]
        t = u[:, 0] * cum[-1]
        j = np.clip(np.searchsorted(cum, t, side="right") - 1, 0, a.size - 1)
        return np.clip(a[j] + (t - cum[j]), a[j], b[j])[:, None]

    def _resolve_parts(self, parts: PartSpec) -> tuple[list[int], Predicate | None]:
        names = self.boundary_parts
        if parts is None:
            return list(range(len(names))), None
        if callable(parts):
            return list(range(len(names))), parts
        wanted = [parts] if isinstance(parts, str) else list(parts)
        if not wanted:
            raise ValueError(f"empty list of boundary parts; valid parts: {', '.join(names)}")
        idx: list[int] = []
        for name in wanted:
            k = self._part_index(name)
            if k not in idx:
                idx.append(k)
        return idx, None

    def _sample_parts(
        self,
        idx: list[int],
        n: int,
        method: str,
        rng: np.random.Generator | None,
        seeds: dict[int, int] | None = None,
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        weights = np.array([self._part_measure(k) for k in idx])
        counts = _allocate(n, weights)
        xs, ns, ps = [], [], []
        for k, c in zip(idx, counts, strict=True):
            seed = None if seeds is None else seeds[k]
            X, N = self._sample_part(k, int(c), method, rng, seed)
            xs.append(X)
            ns.append(N)
            ps.append(np.full(X.shape[0], k, dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ns), np.concatenate(ps)

    def sample_boundary(
        self,
        n: int,
        rng: np.random.Generator,
        parts: PartSpec = None,
        method: str = "uniform",
    ) -> BoundarySample:
        """Draw points uniformly on (parts of) the boundary, with outward unit normals.

        The ``n`` points are split between the selected parts proportionally to their measure
        (largest-remainder rounding, so the split is exact up to one point per part); within a
        part the points are uniform (i.i.d. or Sobol').

        Parameters
        ----------
        n : int
            Number of points, ``n >= 0``.
        rng : numpy.random.Generator
            Source of randomness (also seeds the Sobol' scrambling).
        parts : None, str, sequence of str or callable, optional
            ``None`` for the whole boundary, one or several part names from
            :attr:`boundary_parts`, or a predicate ``pred(X (N, d)) -> bool (N,)`` selecting
            the boundary points where it is true (sampled by oversampling the whole boundary
            and keeping accepted points until exactly ``n`` are found).
        method : {"uniform", "sobol"}
            Random i.i.d. or scrambled Sobol' points in the parametrisation of each part.

        Returns
        -------
        BoundarySample
            ``points`` (n, d), ``normals`` (n, d), ``part`` (n,) and ``names``
            (= :attr:`boundary_parts`).
        """
        n = _check_n(n)
        _check_method(method)
        _check_rng(rng)
        names = self.boundary_parts
        idx, pred = self._resolve_parts(parts)
        if pred is None:
            X, N, P = self._sample_parts(idx, n, method, rng)
            return BoundarySample(X, N, P, names)
        return self._sample_boundary_predicate(n, rng, idx, pred, method)

    def _sample_boundary_predicate(
        self,
        n: int,
        rng: np.random.Generator,
        idx: list[int],
        pred: Predicate,
        method: str,
    ) -> BoundarySample:
        names = self.boundary_parts
        d = self.dim
        if n == 0:
            X, N = _empty_boundary(d)
            return BoundarySample(X, N, np.empty(0, dtype=np.int64), names)
        max_draw = 2000 * n + 2_000_000
        if method == "uniform":
            xs, ns, ps = [], [], []
            have, drawn = 0, 0
            batch = max(2 * n, 256)
            while have < n:
                if drawn > max_draw:
                    raise ValueError(_too_few(have, drawn, n))
                X, N, P = self._sample_parts(idx, batch, method, rng)
                keep = _eval_predicate(pred, X)
                xs.append(X[keep])
                ns.append(N[keep])
                ps.append(P[keep])
                have += int(keep.sum())
                drawn += batch
                rate = max(have / drawn, 1e-4)
                batch = int(math.ceil(max(n - have, 1) / rate * 1.2)) + 64
            X, N, P = np.concatenate(xs), np.concatenate(ns), np.concatenate(ps)
            pick = np.sort(rng.choice(X.shape[0], size=n, replace=False))
            order = np.argsort(P[pick], kind="stable")
            pick = pick[order]
            return BoundarySample(X[pick], N[pick], P[pick], names)
        seeds = {k: _new_seed(rng) for k in idx}
        total = max(2 * n, 256)
        while True:
            X, N, P = self._sample_parts(idx, total, method, None, seeds)
            keep = _eval_predicate(pred, X)
            if int(keep.sum()) >= n:
                break
            if total > max_draw:
                raise ValueError(_too_few(int(keep.sum()), total, n))
            total *= 2
        X, N, P = X[keep], N[keep], P[keep]
        avail = np.array([int(np.sum(P == k)) for k in idx])
        take = _allocate(n, avail.astype(np.float64))
        sel = np.concatenate([np.flatnonzero(P == k)[:t] for k, t in zip(idx, take, strict=True)])
        return BoundarySample(X[sel], N[sel], P[sel], names)

    # -- meshing ------------------------------------------------------------------------------

    def mesh(self, h: float) -> tuple[FloatArray, IntArray]:
        """Conforming simplex mesh of the domain, e.g. for exporting fields to VTU.

        Boundary points are placed at spacing at most ``h`` along every boundary part, interior
        points on a regular lattice (triangular in 2D, body-centred cubic in 3D) away from the
        boundary; the points are Delaunay-triangulated and simplices whose centroid lies
        outside the domain, or whose measure is (nearly) zero, are removed. Curved boundaries
        are approximated by chords, so the mesh measure matches :attr:`measure` up to
        ``O(h^2)``; polygonal domains are meshed exactly.

        Parameters
        ----------
        h : float
            Target edge length (length units), ``h > 0``.

        Returns
        -------
        points : ndarray, shape (P, d)
            Mesh vertices (length units); every vertex is used by some cell.
        cells : ndarray of int, shape (M, 3) in 2D or (M, 4) in 3D
            Vertex indices of each triangle / tetrahedron, positively oriented.
        """
        return mesh_geometry(self, h)
