"""Solving an :class:`pinngelu.ElasticityProblem` with P2 finite elements.

The linear system is solved directly (SuperLU) or, for large problems, by conjugate
gradients preconditioned with smoothed-aggregation algebraic multigrid (pyamg) whose
near-null space is the rigid-body motions of the mesh's degrees of freedom.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from scipy.sparse.linalg import spsolve

from ..elasticity import (
    Dirichlet,
    Material,
    Pressure,
    Symmetry,
    Traction,
    _describe,
    _eval_spec,
)
from ..problem import ElasticityProblem
from ..rigid_body import free_modes, rigid_body_modes
from .cost import (
    KEPT_BYTES_PER_CELL,
    check_factorisation,
    check_solve,
    estimate_cells,
    unknowns,
)
from .forms import elasticity_form, load_form, pressure_form
from .mesh import (
    FEMUnavailableError,
    _skfem,
    default_mesh_h,
    facet_parts,
    fem_mesh,
    predicate_load_facets,
    select_facets,
)
from .solution import FEMSolution
from .steps import DEFAULT, output, step

#: Largest ``|n_i|`` deviation from 1 for a symmetry facet to count as axis-aligned.
AXIS_TOL = 1e-8

#: The linear solvers of :func:`solve`.
SOLVERS = ("auto", "direct", "amg")
#: ``solver="auto"`` uses AMG-CG from this many unknowns on (2D, 3D): below, SuperLU is
#: as fast or faster; above, its fill-in makes it slower, far slower in 3D (P2
#: tetrahedra: 10683 unknowns 3.8 s against 1.4 s, 73161 unknowns 55 s against 8 s;
#: P2 triangles: 3.3 s each at 88542 unknowns).
AMG_MIN_DOFS = {2: 100_000, 3: 10_000}
#: Without pyamg, ``solver="auto"`` falls back to SuperLU up to this many unknowns (with
#: a warning) and refuses larger problems.
DIRECT_MAX_DOFS = {2: 1_000_000, 3: 100_000}
#: Relative residual ``|b - A u| / |b|`` at which CG stops: far below the discretisation
#: error of any reference (the solution then agrees with SuperLU's to about 1e-11).
CG_RTOL = 1e-10
#: Most CG iterations before :class:`FEMSolveError` (the block with a bore needs 30-40).
CG_MAXITER = 1000
#: Options of ``pyamg.smoothed_aggregation_solver``: a small strength threshold and
#: energy-minimising prolongation smoothing (about half the CG iterations of pyamg's
#: defaults on P2 tetrahedra).
AMG_OPTIONS = {
    "strength": ("symmetric", {"theta": 0.02}),
    "smooth": ("energy", {"krylov": "cg", "maxiter": 2, "degree": 1}),
}


class FEMSolveError(RuntimeError):
    """The iterative solve of a finite-element system did not converge."""


def rigid_body_basis(basis) -> np.ndarray:
    """The rigid-body motions as coefficient vectors of the vector Lagrange ``basis``:
    array ``(N, m)`` (``m = 3`` in 2D, 6 in 3D), rotations about the centroid of the
    degrees of freedom.  They span the null space of the unconstrained stiffness matrix
    and are the near-null space given to the algebraic multigrid."""
    d = basis.mesh.dim()
    X = basis.doflocs.T
    modes = rigid_body_modes(X - X.mean(axis=0))  # (N, d, m)
    return np.ascontiguousarray(modes[np.arange(basis.N), _component_of(basis, d)])


def _pyamg():
    """The pyamg module, or None when it is not installed."""
    try:
        import pyamg
    except ImportError:
        return None
    return pyamg


def _name(problem) -> str:
    """The problem in a message: its dimension and geometry."""
    return f"the {problem.dim}D problem on {problem.geometry!r}"


def _direct(solver: str, d: int, n: float) -> bool:
    """Whether ``solver`` solves ``n`` unknowns with SuperLU (pyamg assumed present)."""
    return solver == "direct" or (solver == "auto" and n < AMG_MIN_DOFS[d])


def _choose_solver(solver: str, d: int, n: int, problem) -> str:
    """``"direct"`` or ``"amg"`` for ``n`` unknowns; a missing pyamg falls back to the
    direct solver for small problems of ``solver="auto"`` (warning) and is refused
    otherwise."""
    if solver == "direct":
        return "direct"
    if solver == "auto" and n < AMG_MIN_DOFS[d]:
        return "direct"
    if _pyamg() is not None:
        return "amg"
    if solver == "auto" and n <= DIRECT_MAX_DOFS[d]:
        warnings.warn(
            f"pyamg is not installed: solving the {n} unknowns of {_name(problem)} with the "
            "direct solver (slow and memory-hungry at this size; pip install "
            "'pinngelu[fem]' for the AMG-preconditioned CG)",
            stacklevel=3,
        )
        return "direct"
    if solver == "amg":
        why = f"solver='amg' (for {_name(problem)}) needs pyamg"
    else:
        why = (
            f"{_name(problem)} has {n} unknowns, too many for the direct solver (at most "
            f"{DIRECT_MAX_DOFS[d]} in {d}D): its AMG-preconditioned CG needs pyamg"
        )
    raise FEMUnavailableError(f"{why}: pip install 'pinngelu[fem]' (or pyamg)")


def _pcg(A, b: np.ndarray, M, rtol: float, maxiter: int) -> tuple[np.ndarray, int, float]:
    """Preconditioned conjugate gradients from zero: ``(x, iterations, |b - A x| /
    |b|)``.  Convergence is confirmed on the true residual (recomputed; CG restarts from
    it when the recursive one has drifted below)."""
    nb = float(np.linalg.norm(b))
    x = np.zeros_like(b)
    if nb == 0.0:
        return x, 0, 0.0
    r = b.copy()
    z = M @ r
    p = z.copy()
    rz = float(r @ z)
    it = 0
    while it < maxiter:
        Ap = A @ p
        alpha = rz / float(p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        it += 1
        if np.linalg.norm(r) <= rtol * nb:
            r = b - A @ x
            if np.linalg.norm(r) <= rtol * nb:
                break
            z = M @ r
            p = z.copy()
            rz = float(r @ z)
            continue
        z = M @ r
        rz_new = float(r @ z)
        p *= rz_new / rz
        p += z
        rz = rz_new
    return x, it, float(np.linalg.norm(b - A @ x)) / nb


def _linear_solve(A, b: np.ndarray, B: np.ndarray, method: str, problem) -> tuple:
    """Solve ``A u = b`` (symmetric positive definite) directly or by AMG-CG with the
    near-null space ``B``; returns ``(u, info)``."""
    t0 = time.perf_counter()
    info: dict = {"solver": method, "iterations": None, "amg_setup_s": None}
    if method == "direct":
        u = spsolve(A, b) if A.shape[0] else np.zeros(0)
        info["residual"] = float(np.linalg.norm(b - A @ u) / max(np.linalg.norm(b), 1e-300))
    else:
        ml = _pyamg().smoothed_aggregation_solver(A, B=B, **AMG_OPTIONS)
        info["amg_setup_s"] = time.perf_counter() - t0
        info["amg_levels"] = len(ml.levels)
        u, it, res = _pcg(A, b, ml.aspreconditioner(cycle="V"), CG_RTOL, CG_MAXITER)
        info["iterations"], info["residual"] = it, res
        if not res <= CG_RTOL:
            raise FEMSolveError(
                f"the AMG-preconditioned CG did not converge for {_name(problem)} "
                f"({A.shape[0]} unknowns): relative residual "
                f"{res:.2e} after {it} iterations (tolerance {CG_RTOL:g}); "
                "solve(..., solver='direct') solves it with SuperLU"
            )
    info["solve_s"] = time.perf_counter() - t0
    return u, info


def describe_solve(info: dict) -> str:
    """One line of a solve's ``solve_info``: unknowns, solver, iterations, times."""
    if info["solver"] == "amg":
        how = (
            f"AMG-CG, {info['iterations']} iterations to a relative residual of "
            f"{info['residual']:.1e} (AMG setup {info['amg_setup_s']:.1f} s)"
        )
    else:
        how = "direct (SuperLU)"
    return (
        f"P{info['order']} FEM solve: {info['n_dofs']} unknowns ({info['n_free']} free), "
        f"{how}; assembly {info['assembly_s']:.1f} s, solve {info['solve_s']:.1f} s"
    )


def _spec(spec, ncomp: int, what: str, select=None):
    """``f(X (N, d)) -> (N, d)`` of a value specification (constant or callable); with
    ``select`` the ``ncomp`` values go to those components, the others are zero."""

    def f(X):
        v = _eval_spec(spec, X, ncomp, what)
        if select is None:
            return v
        out = np.zeros((X.shape[0], X.shape[1]))
        out[:, list(select)] = v
        return out

    return f


def _is_zero(spec) -> bool:
    return not callable(spec) and bool(np.all(np.asarray(spec, dtype=float) == 0.0))


def _facet_normals(mesh, facets: np.ndarray) -> np.ndarray:
    """Unit outward normals ``(n, d)`` of boundary facets (from their cell's centroid)."""
    V = np.moveaxis(mesh.p[:, mesh.facets[:, facets]], 0, -1)  # (nv, n, d)
    if mesh.dim() == 2:
        t = V[1] - V[0]
        n = np.column_stack([t[:, 1], -t[:, 0]])
    else:
        n = np.cross(V[1] - V[0], V[2] - V[0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    cell = mesh.f2t[0, facets]
    out = V.mean(axis=0) - mesh.p[:, mesh.t[:, cell]].mean(axis=1).T
    n *= np.sign(np.einsum("ij,ij->i", n, out))[:, None]
    return n


def solve(
    problem: ElasticityProblem,
    h: float | None = None,
    *,
    mesh=None,
    order: int = 2,
    solver: str = "auto",
    material: Material | None = None,
    out=DEFAULT,
) -> FEMSolution:
    """Finite-element solution of ``problem`` (Lagrange elements of ``order``, default P2).

    Parameters
    ----------
    problem : ElasticityProblem
        The problem of the network: its geometry, material (``lam*`` in plane stress),
        body force and conditions (Dirichlet, per component or full, constants or
        callables; Traction; Pressure; Symmetry on axis-aligned facets).  Displacement
        data and identified parameters are ignored (the problem's material, or
        ``material``, is used).
    h : float, optional
        Element size (m) for :func:`fem_mesh` (default 1/40 of the largest extent).
    mesh : skfem.MeshTri or skfem.MeshTet, optional
        A mesh of the geometry to use instead (its boundary facets are assigned to
        the geometry's parts by distance).
    order : {1, 2}
        Polynomial degree.
    solver : {"auto", "direct", "amg"}
        The linear solver: SuperLU (``"direct"``), or conjugate gradients to a relative
        residual of :data:`CG_RTOL` preconditioned by smoothed-aggregation algebraic
        multigrid with the rigid-body motions as near-null space (``"amg"``, needs
        pyamg, of the ``fem`` extra); ``"auto"`` takes AMG-CG from
        :data:`AMG_MIN_DOFS` unknowns on (10000 in 3D, 100000 in 2D).
    material : Material, optional
        The material to solve with instead of the problem's: e.g. the identified one of
        an inverse problem (``Solution.material``), whose problem holds the initial
        guess.
    out : text stream, None or DEFAULT
        Where to print a line with the number of unknowns, the solver, its CG
        iterations and the assembly and solve times (:func:`describe_solve`), and the
        lines of the steps (meshing, assembly, solve) that run longer than
        :data:`~pinngelu.fem.steps.STEP_SECONDS`; the default prints the step lines
        only, to :func:`pinngelu.fem.steps.output` (standard output); None prints
        nothing.

    Returns
    -------
    FEMSolution
        With ``solve_info``: a dict of the solve (``solver``, ``order``, ``n_dofs``,
        ``n_free``, ``iterations`` (None for the direct solver), ``residual``,
        ``amg_setup_s``, ``assembly_s`` (meshing, boundary parts and assembly), ``solve_s``).

    Raises
    ------
    ValueError
        On a Symmetry condition on facets that are not perpendicular to an axis, or
        when the displacement constraints leave a rigid-body motion free (pure
        traction problems are refused), or on an unknown ``solver``.
    pinngelu.memory.MemoryLimitError
        When the solve's estimated memory exceeds the limit of :mod:`pinngelu.memory`
        (:mod:`pinngelu.fem.cost`): checked before meshing (cells estimated from ``h``
        and the domain's measure), after it, and before the linear solve.
    FEMUnavailableError
        When AMG-CG is asked for (or needed: more than :data:`DIRECT_MAX_DOFS`
        unknowns with ``"auto"``) and pyamg is not installed.
    FEMSolveError
        When CG does not reach its tolerance within :data:`CG_MAXITER` iterations.
    """
    skfem = _skfem()
    if not isinstance(problem, ElasticityProblem):
        raise ValueError(
            f"problem must be a pinngelu ElasticityProblem, got {type(problem).__name__}"
        )
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    t0 = time.perf_counter()
    d = problem.dim
    geom = problem.geometry
    stream = output() if out is DEFAULT else out
    name = f"P{order} FEM"
    if mesh is None:
        size = default_mesh_h(geom) if h is None else float(h)
        cells = estimate_cells(geom, size)
        check_solve(geom, size, cells, order, _direct(solver, d, unknowns(cells, d, order)))
        at = "" if size is None else f" (h = {size:.4g})"
        with step(f"{name}: meshing {geom!r}{at}", stream):
            mesh = fem_mesh(geom, h)
    if mesh.dim() != d:
        raise ValueError(
            f"mesh: the mesh is {mesh.dim()}D, the problem {d}D; pass a mesh of the "
            "problem's geometry"
        )
    n_cells = int(mesh.t.shape[1])
    check_solve(geom, h, n_cells, order, _direct(solver, d, unknowns(n_cells, d, order)))
    material = problem.material if material is None else material
    with step(f"{name}: assembling the system of {n_cells:,} cells", stream):
        basis, parts, A, b, x, I = _assemble(skfem, problem, mesh, order, material)
    method = _choose_solver(solver, d, A.shape[0], problem)
    check_factorisation(A.shape[0], A.nnz, d, method, KEPT_BYTES_PER_CELL[(d, order)] * n_cells)
    B = rigid_body_basis(basis)[I] if method == "amg" else None
    assembly_s = time.perf_counter() - t0
    how = "AMG-CG" if method == "amg" else "SuperLU"
    with step(f"{name}: solving for {A.shape[0]:,} unknowns ({how})", stream):
        x[I], info = _linear_solve(A, b, B, method, problem)
    info = {"order": order, "n_dofs": int(basis.N), "n_free": int(A.shape[0])} | info
    info["assembly_s"] = assembly_s
    sol = FEMSolution(basis, x, material, problem.plane_stress, parts=parts, geometry=geom)
    sol.solve_info = info
    if out is not DEFAULT and out is not None:
        print(describe_solve(info), file=out, flush=True)
    return sol


def _assemble(skfem, problem: ElasticityProblem, mesh, order: int, material: Material):
    """The condensed system of ``problem`` on ``mesh``: ``(basis, parts, A, b, x, I)``
    (the basis, the boundary facets per part, the matrix and right-hand side of the
    free unknowns ``I``, and ``x`` holding the prescribed values)."""
    d = problem.dim
    geom = problem.geometry
    parts = facet_parts(geom, mesh)
    if d == 2:
        scalar = skfem.ElementTriP2() if order == 2 else skfem.ElementTriP1()
    else:
        scalar = skfem.ElementTetP2() if order == 2 else skfem.ElementTetP1()
    elem = skfem.ElementVector(scalar)
    basis = skfem.Basis(mesh, elem, intorder=2 * order + 1)
    lam = material.lam_2d(problem.plane_stress) if d == 2 else material.lam
    mu = material.mu
    kbasis = basis
    if getattr(mesh, "affine", False):
        # straight cells: the stiffness integrand is a polynomial of degree 2 (order - 1),
        # integrated exactly by a rule of that degree at a fraction of the cost
        kbasis = skfem.Basis(mesh, elem, intorder=max(1, 2 * (order - 1)))
    K = elasticity_form(lam, mu).assemble(kbasis)
    del kbasis
    f = np.zeros(basis.N)
    if problem.body_force is not None:
        f += load_form(_spec(problem.body_force, d, "body force")).assemble(basis)
    x = np.zeros(basis.N)
    fixed: list[np.ndarray] = []
    names = [f"u^{i + 1}" for i in range(d)]
    for bc in problem.conditions:
        what = f"{type(bc).__name__} on {_describe(bc.part)!r}"
        if isinstance(bc, (Traction, Pressure)):
            if _is_zero(bc.value):
                continue
            if isinstance(bc, Pressure):
                form = pressure_form(_spec(bc.value, 1, what))
            else:
                comps = tuple(range(d)) if bc.components is None else tuple(bc.components)
                form = load_form(_spec(bc.value, len(comps), what, select=comps))
            intorder = 2 * order + 2
            if isinstance(bc.part, str):
                whole, pieces = parts[bc.part], []
            else:  # the covered part of every facet the predicate's region cuts
                whole, pieces = predicate_load_facets(mesh, bc.part, intorder)
            if whole.size:
                f += form.assemble(skfem.FacetBasis(mesh, elem, facets=whole, intorder=intorder))
            for facet, Y, W in pieces:
                fb = skfem.FacetBasis(mesh, elem, facets=np.array([facet]), quadrature=(Y, W))
                f += form.assemble(fb)
            continue
        facets = select_facets(mesh, parts, bc.part)
        if facets.size == 0:
            continue
        if isinstance(bc, Dirichlet):
            comps = tuple(range(d)) if bc.components is None else tuple(bc.components)
            dofs = basis.get_dofs(facets)
            idx = [dofs.all([names[c]]) for c in comps]
            allidx = np.unique(np.concatenate(idx))
            v = _eval_spec(bc.value, basis.doflocs[:, allidx].T, len(comps), what)
            pos = {int(i): k for k, i in enumerate(allidx)}
            for k, ii in enumerate(idx):
                x[ii] = v[[pos[int(i)] for i in ii], k]
                fixed.append(ii)
            continue
        if isinstance(bc, Symmetry):
            n = _facet_normals(mesh, facets)
            axis = np.argmax(np.abs(n), axis=1)
            off = 1.0 - np.abs(n[np.arange(n.shape[0]), axis])
            if np.any(off > AXIS_TOL):
                raise ValueError(
                    f"{what}: pinngelu.fem supports symmetry conditions on facets "
                    "perpendicular to a coordinate axis only (a facet has normal "
                    f"{n[int(np.argmax(off))].tolist()})"
                )
            for a in np.unique(axis):
                fixed.append(basis.get_dofs(facets[axis == a]).all([names[a]]))
    D = np.unique(np.concatenate(fixed)) if fixed else np.zeros(0, dtype=np.int64)
    _check_rigid(basis, D, d)
    A, b, x, I = skfem.condense(K, f, x=x, D=D)
    del K
    return basis, parts, A, b, x, I


def _check_rigid(basis, D: np.ndarray, d: int) -> None:
    """Refuse constraints that leave a rigid-body motion free."""
    if D.size:
        X = basis.doflocs[:, D].T
        comp = _component_of(basis, d)[D]
        modes = rigid_body_modes(X)  # (n, d, m)
        rows = modes[np.arange(D.size), comp]
    else:
        rows = np.zeros((0, 3 if d == 2 else 6))
    if free_modes(rows, d).shape[1]:
        raise ValueError(
            "the displacement constraints (Dirichlet and Symmetry conditions) leave a "
            "rigid-body motion free; pinngelu.fem does not solve pure traction problems "
            "(fix a point or add symmetry conditions)"
        )


def _component_of(basis, d: int) -> np.ndarray:
    """The displacement component of every DOF."""
    comp = np.zeros(basis.N, dtype=np.int64)
    for c, ii in enumerate(basis.split_indices()):
        comp[ii] = c
    return comp
