"""The strong form: the Navier-Cauchy residual at interior collocation points and the
boundary-condition residuals at boundary points, a weighted sum of squares.

:class:`StrongForm` is the formulation (:mod:`pinngelu.formulation`); the functions
below draw the collocation points of a problem and build its residual groups at given
points (the problem's :meth:`~pinngelu.ElasticityProblem.sample_points` and
:meth:`~pinngelu.ElasticityProblem.groups_at` call them; adaptive collocation builds
groups at its own points with them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .elasticity import (
    BoundaryCondition,
    Dirichlet,
    Pressure,
    Traction,
    _describe,
    navier_operator,
    symmetry_operator,
    traction_operator,
    value_operator,
)
from .formulation import Formulation
from .hard_bc import build_hard_dirichlet
from .loss import ResidualGroup, check_points

if TYPE_CHECKING:
    from .problem import ElasticityProblem

__all__ = [
    "StrongForm",
    "point_conditions",
    "boundary_counts",
    "sample_points",
    "groups_at",
]


@dataclass(frozen=True)
class StrongForm(Formulation):
    """The strong form (the default formulation of :class:`~pinngelu.ElasticityProblem`).

    Displacement conditions are residuals, or built into the network with
    ``ElasticityProblem(hard_dirichlet=True)``.  Supports every optimiser, displacement
    data, identified parameters, resampling and adaptive points.
    """

    name: ClassVar[str] = "strong form"

    def prepare(self, problem: ElasticityProblem) -> tuple[Any, dict[int, str]]:
        if not problem.hard_dirichlet:
            return None, {}
        return build_hard_dirichlet(problem.geometry, problem.conditions, problem.dim)

    def residual_groups(
        self, problem: ElasticityProblem, rng: np.random.Generator
    ) -> list[ResidualGroup]:
        return groups_at(problem, *sample_points(problem, rng))


def _split_boundary(
    problem: ElasticityProblem, conditions: Sequence[BoundaryCondition]
) -> list[int]:
    meas = []
    for bc in conditions:
        if isinstance(bc.part, str):
            meas.append(problem.geometry.part_measure(bc.part))
        else:
            meas.append(np.nan)
    meas = np.array(meas)
    if np.any(np.isnan(meas)):
        fill = np.nanmean(meas) if np.any(~np.isnan(meas)) else 1.0
        meas = np.where(np.isnan(meas), fill, meas)
    share = meas / meas.sum()
    return [max(16, int(round(problem.n_boundary * s))) for s in share]


def point_conditions(problem: ElasticityProblem) -> list[int]:
    """Indices into ``conditions`` of the conditions sampled at boundary collocation
    points: all but the Dirichlet conditions built into the network (see
    ``hard_dirichlet``), in order; each has one residual group, after the
    interior group."""
    hard = problem.hard_conditions
    return [k for k in range(len(problem.conditions)) if hard.get(k) != "dirichlet"]


def boundary_counts(problem: ElasticityProblem) -> list[int]:
    """Collocation points of each condition of :func:`point_conditions` (the split of
    ``n_boundary`` in proportion to the measures of their parts, 16 at least)."""
    return _split_boundary(problem, [problem.conditions[k] for k in point_conditions(problem)])


def sample_points(
    problem: ElasticityProblem,
    rng: np.random.Generator,
    n_interior: int | None = None,
    counts: Sequence[int] | None = None,
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Draw collocation points with the problem's sampler (``sampling``).

    Parameters
    ----------
    rng : numpy.random.Generator
    n_interior : int, optional
        Interior points (default ``problem.n_interior``).
    counts : sequence of int, optional
        Points of each condition of :func:`point_conditions` (default
        :func:`boundary_counts`).

    Returns
    -------
    X_interior : ndarray, shape (N, d)
        Interior points (m).
    boundary : list of (ndarray (n_k, d), ndarray (n_k, d))
        Per condition (all of ``conditions``), boundary points (m) and their outward
        unit normals; empty ``(0, d)`` arrays for the conditions built into the
        network.  ``groups_at(X_interior, boundary)`` builds the residual groups.
    """
    n = problem.n_interior if n_interior is None else int(n_interior)
    Xi = problem.geometry.sample_interior(n, rng, method=problem.sampling)
    counts = iter(boundary_counts(problem) if counts is None else counts)
    sampled = set(point_conditions(problem))
    empty = np.zeros((0, problem.dim))
    boundary = []
    for k, bc in enumerate(problem.conditions):
        if k not in sampled:
            boundary.append((empty, empty))
            continue
        s = problem.geometry.sample_boundary(
            int(next(counts)), rng, parts=bc.part, method=problem.sampling
        )
        boundary.append((s.points, s.normals))
    return Xi, boundary


def groups_at(
    problem: ElasticityProblem,
    X_interior: np.ndarray,
    boundary: list[tuple[np.ndarray, np.ndarray]],
) -> list[ResidualGroup]:
    """Residual groups at given points (m): interior points ``(N, d)`` and, per
    condition, boundary points with their outward unit normals (ignored for the
    conditions built into the network; see ``hard_dirichlet``).  With hard
    conditions the operators act on the network's jets through
    :meth:`pinngelu.hard_bc.HardDirichlet.fold`."""
    d = problem.dim
    sc = problem.scales
    mu = problem.material.mu
    lam_r = problem.lam_eff / mu
    groups = []

    def operator(op, *args):
        """``(C, C_q)`` of an operator affine in ``(lam, mu)``: the coefficients at
        the given material, and their derivatives in the identified parameters."""
        C = op(*args, lam_r, 1.0)
        if problem.n_q == 0:
            return C, None
        zero = op(*args, 0.0, 0.0)
        dC = {"lam": op(*args, 1.0, 0.0) - zero, "mu": op(*args, 0.0, 1.0) - zero}
        fixed = {"lam": lam_r, "mu": 1.0}
        for name in problem.identify:
            fixed[name] = 0.0
        return op(*args, fixed["lam"], fixed["mu"]), np.stack(
            [dC[name] for name in problem.identify]
        )

    def group(name, X, C, g, weight, Cq=None):
        if problem.hard is not None:
            C, g, Cq = problem.hard.fold(X, C, g, Cq, sc)
        return ResidualGroup(name, sc.to_hat(X), C, g, weight, param_coefficients=Cq)

    Xi = check_points(X_interior, d, "interior points")
    if problem.body_force is None:
        gi = np.zeros((Xi.shape[0], d))
    else:
        f = problem.evaluate("body force", problem.body_force, Xi, d, "body force")
        gi = -f * sc.length**2 / (mu * sc.displacement)
    C, Cq = operator(navier_operator, d)
    groups.append(group("pde", Xi, C, gi, problem.interior_weight, Cq))
    for k, (bc, (Xb, Nb)) in enumerate(zip(problem.conditions, boundary, strict=True)):
        name = f"{type(bc).__name__.lower()}:{_describe(bc.part)}"
        if any(g.name == name for g in groups):
            name = f"{name}#{k}"
        if problem.hard_conditions.get(k) == "dirichlet":
            continue
        Cq = None
        if isinstance(bc, Dirichlet):
            comps = tuple(range(d)) if bc.components is None else tuple(bc.components)
            v = problem.evaluate(name, bc.value, Xb, len(comps), name)
            C = value_operator(Xb.shape[0], d, comps)
            g = v / sc.displacement
        elif isinstance(bc, (Traction, Pressure)):
            comps, t = problem.traction_values(bc, Xb, Nb, name)
            C, Cq = operator(traction_operator, Nb)
            C = C[:, list(comps)]
            Cq = None if Cq is None else Cq[:, :, list(comps)]
            g = t / sc.stress
        else:
            C, Cq = operator(symmetry_operator, Nb)
            g = np.zeros((Xb.shape[0], d + 1))
            if problem.hard_conditions.get(k) == "symmetry":
                # u . n = 0 holds exactly: keep the tangential tractions
                C, g = C[:, 1:], g[:, 1:]
                Cq = None if Cq is None else Cq[:, :, 1:]
        groups.append(group(name, Xb, C, g, bc.weight, Cq))
    for dat in problem.data:
        C = value_operator(dat.X.shape[0], d, tuple(range(d)))
        g = np.asarray(dat.u, dtype=np.float64) / sc.displacement
        groups.append(group(dat.name, np.asarray(dat.X, float), C, g, dat.weight))
    return groups
