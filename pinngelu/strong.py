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

from . import memory
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
from .kernels.layout import n_channels
from .loss import ResidualGroup, check_points

if TYPE_CHECKING:
    from .problem import ElasticityProblem

__all__ = [
    "StrongForm",
    "point_conditions",
    "boundary_counts",
    "sample_points",
    "groups_at",
    "group_bytes",
    "collocation_bytes",
    "check_collocation_memory",
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

    def memory_bytes(self, problem: ElasticityProblem) -> dict[str, float]:
        """Estimated memory (bytes) of the residual groups (:func:`collocation_bytes`):
        ``points`` (held) and ``points peak``, with ``n_group`` (points of the largest
        group), ``rows`` (residual rows of all the groups), ``k_group`` (rows a point
        of the interior group: ``d``) and ``n_e`` (0)."""
        held, peak = collocation_bytes(problem)
        d = problem.dim
        counts = boundary_counts(problem)
        rows = d * problem.n_interior + sum(
            _condition_rows(problem, k)[0] * nb
            for k, nb in zip(point_conditions(problem), counts, strict=False)
        )
        rows += sum(d * len(dat.X) for dat in problem.data)
        return {
            "points": held,
            "points peak": peak,
            "n_group": float(max([problem.n_interior, *counts])),
            "rows": float(rows),
            "k_group": float(d),
            "n_e": 0.0,
        }


def _condition_rows(problem: ElasticityProblem, k: int) -> tuple[int, bool]:
    """Residual rows per point of condition ``k``, and whether its operator is per
    point."""
    d = problem.dim
    bc = problem.conditions[k]
    if isinstance(bc, Dirichlet):
        return (d if bc.components is None else len(bc.components)), False
    if isinstance(bc, (Traction, Pressure)):
        return d, True
    return d + 1, True


def group_bytes(
    d: int, rows: int, n: float, *, per_point: bool = False, folded: bool = False, n_e: int = 0
) -> tuple[float, float]:
    """Memory (bytes) of a residual group of ``n`` points: what it holds, and what
    building it adds for a while on top of that.

    Held, per point, in float64: the points in scaled units (``d``), the targets
    (``rows``), the singular fields' residuals (``rows n_e``) and, when the operator
    is per point (a boundary operator of the normals, or any operator folded onto the
    network's jets by the hard map), the operator (``rows d nc``).  Building adds, per
    point, the operator's temporary (``rows d nc``) for a boundary operator, and with
    the hard map (:meth:`pinngelu.hard_bc.HardDirichlet.fold`) its maps ``M`` and
    ``J_G`` (``d nc^2 + d nc``) beside the product operator (``nc^2``) or beside the
    operator and targets before and after folding: measured 1020 to 1120 bytes per
    point in 2D and 3550 to 4430 in 3D (1 to 7 rows), against 960 to 1120 and 3440
    to 4430 here.  The points in metres the group is built from are not counted.

    Parameters
    ----------
    d : int
        Dimension.
    rows : int
        Residual rows per point ``K``.
    n : float
        Points.
    per_point : bool
        The operator has one block per point (boundary operators of the normals).
    folded : bool
        The operator is folded onto the network's jets by the hard map.
    n_e : int
        Singular fields (columns of the group's enrichment).

    Returns
    -------
    held, transient : float
        Bytes held by the group once built, and the bytes its building adds on top
        of them at its peak.
    """
    nc = n_channels(d)
    op = rows * d * nc
    held = d + rows + rows * n_e + (op if (per_point or folded) else 0)
    extra = float(d)  # the scaled points' temporary
    if per_point:
        extra += op
    if folded:
        maps = (d + 1) * nc * nc + d * nc
        both = d * nc * nc + d * nc + (op if per_point else 0) + rows
        extra = max(extra, maps - op - rows, both)
    return 8.0 * n * held, 8.0 * n * extra


SAMPLE_BYTES_PER_COORD = 24.0
"""Bytes per coordinate that drawing a collocation point adds for a while (the
unit-cube point it is mapped from and a temporary)."""


def collocation_bytes(
    problem: ElasticityProblem,
    n_interior: int | None = None,
    counts: Sequence[int] | None = None,
) -> tuple[float, float]:
    """Estimated memory (bytes) of drawing the collocation points and building the
    strong-form groups at them (:func:`sample_points` then :func:`groups_at`).

    The drawn points (``8 d`` bytes each, twice that for boundary points with their
    normals) are held while the groups are built one after another
    (:func:`group_bytes`): the Navier equations at interior points (``d`` rows, an
    operator shared by all the points unless the hard map folds it), each condition's
    rows at its boundary points (tractions and symmetry conditions per point), the
    displacement data.  The peak is the largest of what is held plus what one group
    (or the drawing, :data:`SAMPLE_BYTES_PER_COORD`) adds.  Measured against the rise
    of the peak resident memory of ``problem.residual_groups``: see
    ``tests/test_memory.py``.

    Parameters
    ----------
    problem : ElasticityProblem
    n_interior : int, optional
        Interior points (default ``problem.n_interior``).
    counts : sequence of int, optional
        Points of each condition of :func:`point_conditions` (default
        :func:`boundary_counts`).

    Returns
    -------
    held, peak : float
        Bytes held by the points and groups once made, and the peak while they are.
    """
    d = problem.dim
    n = problem.n_interior if n_interior is None else int(n_interior)
    counts = list(boundary_counts(problem) if counts is None else counts)
    folded = problem.hard is not None
    conds = point_conditions(problem)
    drawn = 8.0 * d * (n + 2 * sum(counts))
    peak = drawn + SAMPLE_BYTES_PER_COORD * d * max([n, *counts])
    parts = [group_bytes(d, d, n, folded=folded)]
    for k, nb in zip(conds, counts, strict=False):
        rows, per = _condition_rows(problem, k)
        parts.append(group_bytes(d, rows, nb, per_point=per, folded=folded))
    for dat in problem.data:
        parts.append(group_bytes(d, d, len(dat.X), folded=folded))
    held = drawn
    for h, extra in parts:
        peak = max(peak, held + h + extra)
        held += h
    return held, peak


def check_collocation_memory(
    problem: ElasticityProblem,
    n_interior: int | None = None,
    counts: Sequence[int] | None = None,
) -> None:
    """Refuse (:class:`pinngelu.memory.MemoryLimitError`) collocation points whose
    groups (:func:`collocation_bytes`) would exceed the memory limit."""
    n = problem.n_interior if n_interior is None else int(n_interior)
    nb = sum(boundary_counts(problem) if counts is None else counts)
    memory.check(
        collocation_bytes(problem, n_interior, counts)[1],
        f"the strong-form groups at {n} interior and {nb} boundary collocation points",
        "n_interior and n_boundary of the ElasticityProblem (fewer points)",
    )


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

    Raises
    ------
    MemoryLimitError
        If the points and their groups (:func:`collocation_bytes`) would exceed the
        memory limit (:mod:`pinngelu.memory`); nothing is drawn.
    """
    n = problem.n_interior if n_interior is None else int(n_interior)
    counts = list(boundary_counts(problem) if counts is None else counts)
    check_collocation_memory(problem, n, counts)
    Xi = problem.geometry.sample_interior(n, rng, method=problem.sampling)
    counts = iter(counts)
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
