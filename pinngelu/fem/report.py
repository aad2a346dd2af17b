"""The finite-element check of a trained solution, as used by ``pinngelu run CASE
--fem``: reference solution, its own error estimate, comparison and VTU fields."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..problem import ElasticityProblem
from .compare import compare, comparison_fields
from .solve import solve

#: Default element size of the reference over the largest extent of the domain
#: (2D, 3D).
DEFAULT_DIVISIONS = {2: 40, 3: 5}
#: Convergence orders of P2 on curved cells: displacement (L2), stress (L2).
ORDERS = (3, 2)


def default_h(problem: ElasticityProblem) -> float:
    """The reference's element size (m): the largest extent over
    :data:`DEFAULT_DIVISIONS`."""
    lo, hi = (np.asarray(v, dtype=float) for v in problem.geometry.bbox)
    return float(np.max(hi - lo)) / DEFAULT_DIVISIONS[problem.dim]


def reference(problem: ElasticityProblem, h: float | None = None, **exclusions):
    """The P2 reference at size ``h`` and an estimate of its own error.

    The problem is solved at ``h`` and at ``2 h``; the relative L2 difference ``D`` of
    the two, measured like :func:`compare`, gives Richardson's estimate
    ``D / (2^p - 1)`` of the error at ``h`` (``p = 3`` for the displacement, 2 for the
    stress).

    Parameters
    ----------
    problem : ElasticityProblem
    h : float, optional
        Element size (m), default :func:`default_h`.
    **exclusions
        ``exclude_points``, ``exclude_radius``, ``exclude`` of :func:`compare`.

    Returns
    -------
    (FEMSolution, dict)
        The reference and ``{"h", "n_dofs", "displacement", "stress", "von_mises"}``
        (estimated relative L2 errors of the reference).
    """
    h = default_h(problem) if h is None else float(h)
    fine = solve(problem, h)
    coarse = solve(problem, 2.0 * h)
    c = compare(coarse, fine, **exclusions)
    pu, ps = ORDERS
    est = {
        "h": h,
        "n_dofs": fine.n_dofs,
        "displacement": c.displacement / (2**pu - 1),
        "stress": c.stress / (2**ps - 1),
        "von_mises": c.von_mises / (2**ps - 1),
    }
    return fine, est


def fem_report(
    problem: ElasticityProblem, solution, points: np.ndarray, out=None, h: float | None = None
) -> tuple[dict, dict[str, np.ndarray]]:
    """Solve the reference, compare ``solution`` with it, and build the fields at
    ``points (P, d)`` for the VTU.

    Returns
    -------
    (dict, dict)
        The summary entry (``rel_l2_displacement``, ``rel_l2_stress``,
        ``rel_l2_von_mises``, ``max_rel_von_mises``, ``reference_error``,
        ``solve_time_s``) and the fields ``*_fem`` and ``*_fem_diff``.
    """
    t0 = time.perf_counter()
    ref, est = reference(problem, h)
    c = compare(solution, ref)
    summary = {
        "rel_l2_displacement": c.displacement,
        "rel_l2_stress": c.stress,
        "rel_l2_von_mises": c.von_mises,
        "max_rel_von_mises": c.von_mises_max,
        "reference_error": est,
        "solve_time_s": time.perf_counter() - t0,
    }
    fields = comparison_fields(solution, ref, points)
    fields = {k: v for k, v in fields.items() if k.endswith(("_fem", "_fem_diff"))}
    if out is not None:
        print(
            f"FEM (P2, h={est['h']:.3g}, {est['n_dofs']} dofs, own error ~"
            f"{est['displacement']:.1e} / {est['stress']:.1e}): PINN-vs-FEM rel. L2 "
            f"displacement {c.displacement:.3e}, stress {c.stress:.3e}",
            file=out,
        )
    return summary, fields


class CaseReference:
    """The P2 reference of a case without an analytic solution, solved once per process
    on first use.

    Parameters
    ----------
    build : callable
        ``build() -> ElasticityProblem``: the case's problem (its geometry, material and
        conditions; collocation settings do not matter).
    h : float
        Element size of the reference (m); its error is estimated from a second solve
        at ``2 h`` (:func:`reference`).
    singular_points : array_like (k, d), optional
        Points where the stress is singular (re-entrant corners, the ends of a clamp):
        stress errors are measured outside ``exclude_radius`` of them.
    exclude_radius : float, optional
        Radius (m) around ``singular_points``.

    Examples
    --------
    >>> REFERENCE = CaseReference(lambda: make(), h=0.005)        # doctest: +SKIP
    >>> problem = make(exact=REFERENCE.displacement)              # doctest: +SKIP
    """

    def __init__(
        self,
        build: Callable[[], ElasticityProblem],
        h: float,
        singular_points: np.ndarray | None = None,
        exclude_radius: float | None = None,
    ) -> None:
        self._build = build
        self.h = float(h)
        self.exclusions = {}
        if singular_points is not None:
            self.exclusions = {
                "exclude_points": np.asarray(singular_points, dtype=float),
                "exclude_radius": float(exclude_radius),
            }
        self._solved = None

    def solve(self):
        """``(FEMSolution, estimate)`` of :func:`reference` (solved on the first call)."""
        if self._solved is None:
            self._solved = reference(self._build(), self.h, **self.exclusions)
        return self._solved

    def displacement(self, X: np.ndarray) -> np.ndarray:
        """Reference displacement (N, d) (m) at points ``X`` (N, d) (m): the case's
        ``exact``."""
        return self.solve()[0].displacement(np.asarray(X, dtype=float))

    def metrics(self, solution) -> dict:
        """PINN-vs-reference relative L2 errors on the reference's quadrature
        (``rel_l2_stress``, ``rel_l2_von_mises``: outside the exclusions) and the
        reference's own estimated errors (``reference_error_displacement``,
        ``reference_error_von_mises``)."""
        ref, est = self.solve()
        c = compare(solution, ref, **self.exclusions)
        return {
            "rel_l2_displacement_fem_quadrature": c.displacement,
            "rel_l2_stress": c.stress,
            "rel_l2_von_mises": c.von_mises,
            "reference_error_displacement": est["displacement"],
            "reference_error_von_mises": est["von_mises"],
        }
