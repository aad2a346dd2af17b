"""Residual-based adaptive collocation: RAD and RAR-D (Wu, Zhu, Tan, Kartha and Lu,
"A comprehensive study of non-adaptive and residual-based adaptive sampling for
physics-informed neural networks", CMAME 403, 115671, 2023).

Every ``every`` iterations the collocation points of each residual group of the
strong form (the interior equations, and each boundary condition separately) are
drawn again from a dense candidate pool, with probability proportional to Wu et
al.'s density

    p(x)  ~  r(x)^k / mean(r^k) + c,

where ``r(x)`` is the norm of the group's residual rows at ``x`` for the current
parameters and the mean is over the pool.  ``k`` sharpens the concentration on large
residuals, ``c`` keeps a uniform share (``c -> inf`` is uniform resampling, ``k = 0``
too).  The pool is ``pool_factor`` times the group's number of points, drawn with
the problem's own sampler (scrambled Sobol' or uniform); the residuals come from the
loss kernel (:func:`pinngelu.loss.pointwise_residuals`) on the groups the problem
builds at the pool (:meth:`pinngelu.ElasticityProblem.groups_at`), so the adapted
sampling uses the very residuals the loss is made of.

RAD replaces all of a group's points; RAR-D (``add > 0``) keeps them and adds a
fraction ``add`` of the group's initial count at each adaptation.  The draw is
without replacement from the pool (successive sampling, by the exponential-key
method of Efraimidis and Spirakis), from the run's random generator only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import checks
from ..loss import pointwise_residuals

__all__ = ["RAD", "density", "draw", "adapt_points", "PointSets"]

_TINY = float(np.finfo(np.float64).tiny)  # the smallest normal float64

PointSets = tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]
"""Collocation points of a problem: interior points ``(N, d)`` and, per boundary
condition, points ``(n_k, d)`` with their outward unit normals ``(n_k, d)`` (the
arguments of :meth:`pinngelu.ElasticityProblem.groups_at`)."""


@dataclass(frozen=True)
class RAD:
    """Residual-based adaptive collocation, passed as ``TrainConfig(adapt=RAD(...))``.

    Parameters
    ----------
    every : int
        Iterations between adaptations (>= 1).
    k : float
        Exponent of the residual in the density ``r^k / mean(r^k) + c`` (>= 0; Wu et
        al. recommend 1 to 2; 0 gives uniform sampling).
    c : float
        Uniform share of the density (>= 0; Wu et al. recommend 0 to 1).  With
        ``c = 0`` the points go only where the residual is nonzero.
    pool_factor : int
        Candidates per adaptation, as a multiple of each group's initial number of
        points (>= 1; 1 with ``add = 0`` redraws uniformly).
    add : float
        0 (the default): RAD, each adaptation replaces all the points of a group.
        Above 0: RAR-D, each adaptation keeps the points and adds
        ``max(1, round(add * n0))`` drawn ones, ``n0`` the group's initial count, so
        that the groups grow (and every evaluation costs more) as training goes on.
    max_growth : float
        RAR-D only: a group holds at most ``max_growth * n0`` points (>= 1, default
        10); adaptations add none beyond that.

    Raises
    ------
    ValueError
        On a non-integer or non-positive ``every`` or ``pool_factor``, a negative,
        non-finite or non-numeric ``k``, ``c`` or ``add``, or ``add > pool_factor``.

    Notes
    -----
    Use it when the error concentrates (corners, load jumps, holes, steep layers) and
    uniform points resolve it poorly.  Each adaptation costs a pass of the loss kernel
    over the pool (about ``pool_factor`` evaluations of the loss) and, as with
    ``resample_every``, the optimiser's memory (L-BFGS, quasi-Newton).
    """

    every: int = 500
    k: float = 1.0
    c: float = 1.0
    pool_factor: int = 10
    add: float = 0.0
    max_growth: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "every", checks.count("RAD: every", self.every, 1))
        object.__setattr__(self, "k", checks.real_at_least("RAD: k", self.k, 0.0))
        object.__setattr__(self, "c", checks.real_at_least("RAD: c", self.c, 0.0))
        pool = checks.count("RAD: pool_factor", self.pool_factor, 1)
        object.__setattr__(self, "pool_factor", pool)
        object.__setattr__(self, "add", checks.real_at_least("RAD: add", self.add, 0.0))
        growth = checks.real_at_least("RAD: max_growth", self.max_growth, 1.0)
        object.__setattr__(self, "max_growth", growth)
        if self.add > self.pool_factor:
            raise ValueError(
                f"RAD: add ({self.add:g}) cannot exceed pool_factor ({self.pool_factor}): "
                "the points added are drawn from the pool"
            )

    def n_new(self, n0: int, n_now: int) -> int:
        """Points to draw for a group of initial count ``n0`` that holds ``n_now``
        (RAR-D: none once the group holds ``max_growth * n0``)."""
        if self.add == 0:
            return n_now
        room = max(0, int(self.max_growth * n0) - n_now)
        return min(max(1, round(self.add * n0)), room)


def density(r: np.ndarray, k: float, c: float) -> np.ndarray:
    """Wu et al.'s sampling probabilities over a pool of candidates.

    Parameters
    ----------
    r : ndarray, shape (M,)
        Residual norms (>= 0) at the candidates.
    k, c : float
        Exponent and uniform share (see :class:`RAD`).

    Returns
    -------
    ndarray, shape (M,)
        ``p_i = (r_i^k / mean(r^k) + c) / sum_j (r_j^k / mean(r^k) + c)``; uniform when
        ``r^k`` is zero everywhere.  Where ``r^k`` overflows, underflows or becomes
        subnormal in floating point (a large ``k``, tiny residuals) the ratios are
        formed in logarithms, so that the density stays the one asked for (never a
        silent uniform draw).

    Raises
    ------
    ValueError
        If a residual is NaN or infinite.
    """
    r = np.asarray(r, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        raise ValueError(f"{int(np.sum(~np.isfinite(r)))} candidate residual(s) are NaN or inf")
    with np.errstate(over="ignore", under="ignore"):
        rk = np.ones_like(r) if k == 0 else r**k
        mean = float(np.mean(rk)) if rk.size else 0.0
    # r^k leaves the normal floating-point range (zero, subnormal with lost digits, or
    # inf): r^k / mean(r^k) in logarithms
    lost = np.any((rk < _TINY) & (r > 0)) or not math.isfinite(mean)
    if lost:
        with np.errstate(divide="ignore"):
            lr = k * np.log(r)
        top = float(np.max(lr))
        if not math.isfinite(top):
            return np.full(r.shape, 1.0 / max(r.size, 1))
        rk = np.exp(lr - top)
        mean = float(np.mean(rk))
    if not mean > 0:  # zero residual: nothing to adapt to
        return np.full(r.shape, 1.0 / max(r.size, 1))
    p = rk / mean + c
    return p / np.sum(p)


def draw(p: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct indices drawn with probabilities ``p`` without replacement.

    Successive sampling (each draw proportional to ``p`` over the candidates not yet
    drawn), by the exponential keys of Efraimidis and Spirakis: the ``n`` largest of
    ``log(u_i) / p_i``, ``u_i`` uniform; candidates of zero probability come last.

    Parameters
    ----------
    p : ndarray, shape (M,)
        Probabilities (>= 0).
    n : int
        Indices to draw, ``0 <= n <= M``.
    rng : numpy.random.Generator
        Consumes ``M`` uniform numbers.

    Returns
    -------
    ndarray of int, shape (n,)
        Increasing indices into the pool.
    """
    u = rng.random(p.shape[0])
    with np.errstate(divide="ignore"):
        keys = np.where(p > 0, np.log1p(-u) / np.where(p > 0, p, 1.0), -np.inf)
    order = np.argsort(-keys, kind="stable")
    return np.sort(order[:n])


def adapt_points(
    problem,
    mlp,
    theta: np.ndarray,
    q: np.ndarray | None,
    points: PointSets,
    rad: RAD,
    rng: np.random.Generator,
    device="cpu",
    comm=None,
) -> PointSets:
    """New collocation points drawn from the residual at ``theta``.

    Parameters
    ----------
    problem : ElasticityProblem
        Supplies ``sample_points``, ``groups_at``, ``point_conditions`` and
        ``boundary_counts``.
    mlp : MLP
    theta : ndarray, shape (n_params,)
        Network parameters.
    q : ndarray, shape (n_q,), optional
        Trainable physical parameters of an inverse problem.
    points : PointSets
        The current points (kept by RAR-D).
    rad : RAD
    rng : numpy.random.Generator
        Draws the pool, then the points (group by group, interior first).
    device : {"cpu", "cuda"} or Backend
    comm : communicator, optional
        Under MPI every rank draws the same pool and the same points; the pool's
        residuals are split over the ranks (:func:`pinngelu.loss.pointwise_residuals`).

    Returns
    -------
    PointSets
        The interior points and, per condition, points and normals (empty for the
        conditions built into the network).

    Raises
    ------
    ValueError
        If a residual at the pool is NaN or infinite (or the problem's callables fail
        there: the exception propagates).
    """
    Xi, boundary = points
    conds = problem.point_conditions()
    n0 = [problem.n_interior, *problem.boundary_counts()]
    pool_i, pool_b = problem.sample_points(
        rng, rad.pool_factor * n0[0], [rad.pool_factor * n for n in n0[1:]]
    )
    groups = problem.groups_at(pool_i, pool_b)[: 1 + len(conds)]
    R = pointwise_residuals(mlp, theta, groups, device, q, comm)
    norms = [np.sqrt(np.sum(r * r, axis=1)) for r in R]

    def pick(j: int, current: int) -> np.ndarray:
        try:
            p = density(norms[j], rad.k, rad.c)
        except ValueError as exc:
            raise ValueError(f"group {groups[j].name!r}: {exc}") from exc
        return draw(p, rad.n_new(n0[j], current), rng)

    idx = pick(0, Xi.shape[0])
    new_i = pool_i[idx] if rad.add == 0 else np.concatenate([Xi, pool_i[idx]])
    new_b = list(boundary)
    for j, k in enumerate(conds, start=1):
        Xb, Nb = boundary[k]
        PX, PN = pool_b[k]
        idx = pick(j, Xb.shape[0])
        if rad.add == 0:
            new_b[k] = (PX[idx], PN[idx])
        else:
            new_b[k] = (np.concatenate([Xb, PX[idx]]), np.concatenate([Nb, PN[idx]]))
    return new_i, new_b
