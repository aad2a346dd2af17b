"""The finite-element check of a trained solution, as used by ``pinngelu run CASE
--fem``: reference solution, its own error estimate, comparison and VTU fields."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
from scipy.spatial import cKDTree

from ..elasticity import Material
from ..problem import ElasticityProblem
from .compare import compare, comparison_fields
from .mesh import fem_mesh
from .solve import SOLVERS, solve
from .steps import DEFAULT, output, step

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


def graded_mesh(
    problem: ElasticityProblem,
    h: float,
    points: np.ndarray | None,
    radius: float | None,
    levels: int,
    zones: Sequence[tuple[np.ndarray, float, int]] = (),
):
    """A straight-sided mesh of size ``h`` refined ``levels`` times around singular
    points: refinement ``k`` splits the cells whose centroid lies within
    ``radius / 2^k`` of one of ``points`` (k = 0, 1, ...; skfem's red-green-blue
    refinement keeps the mesh conforming), so that P2 keeps its accuracy next to
    re-entrant corners.  Polygons, boxes and mesh domains only (no curved parts).

    ``zones`` are further ``(points, radius, levels)`` refined the same way at the same
    time: e.g. points sampled densely along singular lines or over a creased surface
    (``points`` may then be None)."""
    mesh = fem_mesh(problem.geometry, h, curved=False)
    todo = [] if points is None else [(points, radius, levels)]
    todo += list(zones)
    trees = [(cKDTree(np.asarray(P, dtype=float)), float(r), int(n)) for P, r, n in todo]
    for k in range(max((n for _, _, n in trees), default=0)):
        c = mesh.p[:, mesh.t].mean(axis=1).T
        mark = np.zeros(c.shape[0], dtype=bool)
        for tree, r, n in trees:
            if k < n:
                mark |= tree.query(c, distance_upper_bound=r / 2**k)[0] < r / 2**k
        skfem_log = logging.getLogger("skfem")
        level = skfem_log.level
        skfem_log.setLevel(logging.ERROR)  # not its notes on copying arrays of large meshes
        try:
            mesh = mesh.refined(np.flatnonzero(mark))
        finally:
            skfem_log.setLevel(level)
    return mesh


def reference(
    problem: ElasticityProblem,
    h: float | None = None,
    mesh_at: Callable[[float], object] | None = None,
    *,
    solver: str = "auto",
    material: Material | None = None,
    out=DEFAULT,
    **exclusions,
):
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
    mesh_at : callable, optional
        ``mesh_at(h)``: the mesh to solve on at size ``h`` (e.g. :func:`graded_mesh`)
        instead of :func:`~pinngelu.fem.mesh.fem_mesh`.
    solver : {"auto", "direct", "amg"}
        The linear solver of both solves (:func:`~pinngelu.fem.solve.solve`).
    material : Material, optional
        The material to solve with instead of the problem's (the identified one of an
        inverse problem).
    out : text stream, None or DEFAULT
        Where to print a line per solve (unknowns, solver, CG iterations, times) and
        the lines of long steps (:func:`~pinngelu.fem.solve.solve`).
    **exclusions
        ``exclude_points``, ``exclude_radius``, ``exclude`` of :func:`compare`.

    Returns
    -------
    (FEMSolution, dict)
        The reference and ``{"h", "n_dofs", "displacement", "stress", "von_mises",
        "solves", "time_s"}``: the estimated relative L2 errors of the reference, the
        ``solve_info`` of the solves at ``h`` and ``2 h`` and the wall time (s) of the
        whole estimate.
    """
    t0 = time.perf_counter()
    h = default_h(problem) if h is None else float(h)
    stream = output() if out is DEFAULT else out

    def at(size: float):
        if mesh_at is None:
            return solve(problem, size, solver=solver, material=material, out=out)
        with step(f"P2 FEM: meshing {problem.geometry!r} (h = {size:.4g}, graded)", stream):
            mesh = mesh_at(size)
        return solve(problem, mesh=mesh, solver=solver, material=material, out=out)

    fine, coarse = (at(size) for size in (h, 2.0 * h))
    c = compare(coarse, fine, **exclusions)
    pu, ps = ORDERS
    est = {
        "h": h,
        "n_dofs": fine.n_dofs,
        "displacement": c.displacement / (2**pu - 1),
        "stress": c.stress / (2**ps - 1),
        "von_mises": c.von_mises / (2**ps - 1),
        "solves": [fine.solve_info, coarse.solve_info],
        "time_s": time.perf_counter() - t0,
    }
    return fine, est


def fem_report(
    problem: ElasticityProblem, solution, points: np.ndarray, out=None, h: float | None = None
) -> tuple[dict, dict[str, np.ndarray]]:
    """Solve the reference, compare ``solution`` with it, and build the fields at
    ``points (P, d)`` for the VTU.

    The reference is solved with the solution's material where the problem identifies
    material parameters (an inverse problem's own material is only the initial guess),
    with the problem's otherwise; the summary says which.

    Returns
    -------
    (dict, dict)
        The summary entry (``rel_l2_displacement``, ``rel_l2_stress``,
        ``rel_l2_von_mises``, ``max_rel_von_mises``, ``reference_error``,
        ``solve_time_s``, ``material``: ``lam``, ``mu``, ``E``, ``nu`` and ``source``,
        ``"identified"`` or ``"problem"``) and the fields ``*_fem`` and ``*_fem_diff``.
    """
    t0 = time.perf_counter()
    identified = bool(getattr(problem, "identify", ())) and hasattr(solution, "material")
    material = solution.material if identified else problem.material
    ref, est = reference(problem, h, material=material, out=out)
    c = compare(solution, ref)
    summary = {
        "rel_l2_displacement": c.displacement,
        "rel_l2_stress": c.stress,
        "rel_l2_von_mises": c.von_mises,
        "max_rel_von_mises": c.von_mises_max,
        "reference_error": est,
        "solve_time_s": time.perf_counter() - t0,
        "material": {
            "lam": material.lam,
            "mu": material.mu,
            "E": material.E,
            "nu": material.nu,
            "source": "identified" if identified else "problem",
        },
    }
    fields = comparison_fields(solution, ref, points)
    fields = {k: v for k, v in fields.items() if k.endswith(("_fem", "_fem_diff"))}
    if out is not None:
        which = (
            f", identified material lam={material.lam:.4g}, mu={material.mu:.4g}"
            if identified
            else ""
        )
        print(
            f"FEM (P2, h={est['h']:.3g}, {est['n_dofs']} dofs{which}, own error ~"
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
    exclude : callable, optional
        ``exclude(X (N, d)) -> bool (N,)``: further points left out of the stress
        errors (e.g. near a clamped face).
    graded : (radius, levels), optional
        Refine the reference's mesh ``levels`` times around ``singular_points``
        (:func:`graded_mesh`): for re-entrant corners, where a uniform mesh converges
        slowly.
    refine : sequence of (points, radius, levels), optional
        Further zones of :func:`graded_mesh`, independent of the stress exclusions:
        ``levels`` refinements around ``points (k, d)``, the ``k``-th within
        ``radius / 2^k``; for singular lines and surfaces, given as points sampled
        along them (a clamp's edges, a creased surface).
    solver : {"auto", "direct", "amg"}
        The linear solver (:func:`~pinngelu.fem.solve.solve`; ``"auto"``: AMG-CG for
        large systems).
    verbose : bool
        Print a line per solve (unknowns, solver, CG iterations, times), the lines of
        its long steps and one with the estimated errors and the total time when the
        reference is solved, to :func:`pinngelu.fem.steps.output` (standard output,
        nothing under ``pinngelu run --quiet``).  The time of the solve is the
        ``reference`` step of a recording :class:`~pinngelu.fem.steps.StepTimes`.

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
        exclude: Callable[[np.ndarray], np.ndarray] | None = None,
        graded: tuple[float, int] | None = None,
        refine: Sequence[tuple[np.ndarray, float, int]] | None = None,
        solver: str = "auto",
        verbose: bool = True,
    ) -> None:
        self._args = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self._build = build
        self.h = float(h)
        self.exclusions: dict = {}
        if singular_points is not None:
            self.exclusions = {
                "exclude_points": np.asarray(singular_points, dtype=float),
                "exclude_radius": float(exclude_radius),
            }
        if exclude is not None:
            self.exclusions["exclude"] = exclude
        self.graded = graded
        self.refine = [(np.asarray(P, dtype=float), float(r), int(n)) for P, r, n in (refine or ())]
        if graded is not None and singular_points is None:
            raise ValueError("a graded reference mesh needs singular_points to refine around")
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        self.solver = solver
        self.verbose = bool(verbose)
        self._solved = None

    def replace(self, **changes) -> CaseReference:
        """A new, unsolved reference with some of the constructor's arguments changed:
        e.g. ``replace(h=0.01, refine=None)`` for a cheaper one in quick checks."""
        unknown = set(changes) - set(self._args)
        if unknown:
            raise TypeError(f"CaseReference has no argument(s) {sorted(unknown)}")
        return type(self)(**(self._args | changes))

    def solve(self):
        """``(FEMSolution, estimate)`` of :func:`reference` (solved on the first call)."""
        if self._solved is None:
            problem = self._build()
            mesh_at = None
            if self.graded is not None or self.refine:
                radius, levels = self.graded or (None, 0)
                pts = self.exclusions["exclude_points"] if self.graded else None

                def mesh_at(h):
                    return graded_mesh(problem, h, pts, radius, levels, self.refine)

            out = output() if self.verbose else None
            what = f"P2 reference of {problem.geometry!r} (h = {self.h:g} and {2 * self.h:g})"
            with step(what, out, key="reference"):
                self._solved = reference(
                    problem, self.h, mesh_at, solver=self.solver, out=out, **self.exclusions
                )
            if out is not None:
                est = self._solved[1]
                print(
                    f"P2 reference (h = {est['h']:g} m, {est['n_dofs']} unknowns) in "
                    f"{est['time_s']:.1f} s; its estimated relative L2 errors: displacement "
                    f"{est['displacement']:.1e}, stress {est['stress']:.1e}, von Mises "
                    f"{est['von_mises']:.1e}",
                    file=out,
                    flush=True,
                )
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
