"""Solving an :class:`pinngelu.ElasticityProblem` with P2 finite elements."""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import spsolve

from ..elasticity import Dirichlet, Pressure, Symmetry, Traction, _describe, _eval_spec
from ..problem import ElasticityProblem
from ..rigid_body import free_modes, rigid_body_modes
from .forms import elasticity_form, load_form, pressure_form
from .mesh import _skfem, facet_parts, fem_mesh, select_facets
from .solution import FEMSolution

#: Largest ``|n_i|`` deviation from 1 for a symmetry facet to count as axis-aligned.
AXIS_TOL = 1e-8


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
) -> FEMSolution:
    """Finite-element solution of ``problem`` (Lagrange elements of ``order``, default P2).

    Parameters
    ----------
    problem : ElasticityProblem
        The problem of the network: its geometry, material (``lam*`` in plane stress),
        body force and conditions (Dirichlet, per component or full, constants or
        callables; Traction; Pressure; Symmetry on axis-aligned facets).  Displacement
        data and identified parameters are ignored (the given material is used).
    h : float, optional
        Element size (m) for :func:`fem_mesh` (default 1/40 of the largest extent).
    mesh : skfem.MeshTri or skfem.MeshTet, optional
        A mesh of the geometry to use instead (its boundary facets are assigned to
        the geometry's parts by distance).
    order : {1, 2}
        Polynomial degree.

    Returns
    -------
    FEMSolution

    Raises
    ------
    ValueError
        On a Symmetry condition on facets that are not perpendicular to an axis, or
        when the displacement constraints leave a rigid-body motion free (pure
        traction problems are refused).
    """
    skfem = _skfem()
    if not isinstance(problem, ElasticityProblem):
        raise ValueError("problem must be a pinngelu ElasticityProblem")
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    d = problem.dim
    geom = problem.geometry
    if mesh is None:
        mesh = fem_mesh(geom, h)
    if mesh.dim() != d:
        raise ValueError(f"the mesh is {mesh.dim()}-D, the problem {d}-D")
    parts = facet_parts(geom, mesh)
    if d == 2:
        scalar = skfem.ElementTriP2() if order == 2 else skfem.ElementTriP1()
    else:
        scalar = skfem.ElementTetP2() if order == 2 else skfem.ElementTetP1()
    elem = skfem.ElementVector(scalar)
    basis = skfem.Basis(mesh, elem, intorder=2 * order + 1)
    lam, mu = problem.lam_eff, problem.material.mu
    K = elasticity_form(lam, mu).assemble(basis)
    f = np.zeros(basis.N)
    if problem.body_force is not None:
        f += load_form(_spec(problem.body_force, d, "body force")).assemble(basis)
    x = np.zeros(basis.N)
    fixed: list[np.ndarray] = []
    names = [f"u^{i + 1}" for i in range(d)]
    for bc in problem.conditions:
        what = f"{type(bc).__name__} on {_describe(bc.part)!r}"
        facets = select_facets(mesh, parts, bc.part)
        if facets.size == 0:
            continue
        if isinstance(bc, (Traction, Pressure)):
            if _is_zero(bc.value):
                continue
            fb = skfem.FacetBasis(mesh, elem, facets=facets, intorder=2 * order + 2)
            if isinstance(bc, Pressure):
                form = pressure_form(_spec(bc.value, 1, what))
            else:
                comps = tuple(range(d)) if bc.components is None else tuple(bc.components)
                form = load_form(_spec(bc.value, len(comps), what, select=comps))
            f += form.assemble(fb)
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
    u = skfem.solve(*skfem.condense(K, f, x=x, D=D), solver=spsolve)
    return FEMSolution(basis, u, problem.material, problem.plane_stress, parts=parts)


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
