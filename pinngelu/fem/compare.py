"""Network-versus-finite-element comparison: relative L2 errors integrated with the
finite-element quadrature, optionally away from singular points, and the VTU of both
fields and their difference."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .solution import FEMSolution


@dataclass(frozen=True)
class FEMComparison:
    """Relative L2 differences of a trained solution from the finite-element one.

    Attributes
    ----------
    displacement : float
        ``||u - u_h|| / ||u_h||`` over the whole domain (L2, FEM quadrature).
    stress : float
        Same for the stress tensor (Frobenius norm; in-plane components in 2D), over
        the kept region.
    von_mises : float
        Same for the von Mises stress, over the kept region.
    von_mises_max : float
        ``max |vm - vm_h| / max |vm_h|`` over the quadrature points of the kept region.
    kept_fraction : float
        Measure of the kept region over the domain's (1 without exclusions).
    n_dofs : int
        Degrees of freedom of the finite-element solution.
    """

    displacement: float
    stress: float
    von_mises: float
    von_mises_max: float
    kept_fraction: float
    n_dofs: int

    def to_dict(self) -> dict:
        return asdict(self)


def exclusion_mask(
    X: np.ndarray,
    points: np.ndarray | None = None,
    radius: float | None = None,
    exclude: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Boolean ``(N,)``: True where ``X (N, d)`` is kept (farther than ``radius`` from
    every one of ``points (k, d)`` and not selected by ``exclude(X) -> bool (N,)``)."""
    keep = np.ones(X.shape[0], dtype=bool)
    if points is None and radius is not None:
        raise ValueError(
            f"exclude_radius={radius!r} needs exclude_points (the points to exclude "
            "around); pass exclude_points, or drop exclude_radius"
        )
    if points is not None:
        P = np.atleast_2d(np.asarray(points, dtype=float))
        if P.shape[1] != X.shape[1]:
            raise ValueError(f"exclude_points must have shape (k, {X.shape[1]}), got {P.shape}")
        if radius is None or not (float(radius) > 0):
            raise ValueError(f"exclude_radius must be > 0 with exclude_points, got {radius}")
        for p in P:
            keep &= np.linalg.norm(X - p, axis=1) > radius
    if exclude is not None:
        ex = np.asarray(exclude(X), dtype=bool).reshape(-1)
        if ex.shape != keep.shape:
            raise ValueError(f"exclude returned shape {ex.shape}, expected {keep.shape}")
        keep &= ~ex
    return keep


#: Largest difference of the bounding boxes of the compared domains, as a fraction of
#: the reference's largest extent, and largest distance of a reference node outside the
#: solution's domain (the same fraction).
DOMAIN_TOL = 0.01
#: Largest relative difference of the measures (areas, volumes) of the compared domains.
MEASURE_TOL = 0.02


def _domain(solution) -> tuple:
    """``(dim, bbox, measure, geometry)`` of what ``solution`` is defined on (None where
    it does not say)."""
    if isinstance(solution, FEMSolution):
        P = solution.mesh.p.T
        w = np.asarray(solution.basis.dx)
        return solution.dim, (P.min(axis=0), P.max(axis=0)), float(w.sum()), solution.geometry
    geom = getattr(solution, "geometry", None)
    dim = getattr(solution, "dim", None if geom is None else geom.dim)
    if geom is None:
        return dim, None, None, None
    lo, hi = (np.asarray(v, dtype=float) for v in geom.bbox)
    try:
        measure = float(geom.measure)
    except NotImplementedError:
        measure = None
    return dim, (lo, hi), measure, geom


def check_same_domain(solution, fem: FEMSolution) -> None:
    """Refuse to compare fields of different dimensions or on different domains.

    Raises
    ------
    ValueError
        When ``solution`` and the reference ``fem`` differ in dimension, when their
        bounding boxes differ by more than :data:`DOMAIN_TOL` of the reference's largest
        extent, when a node of the reference's mesh lies outside the solution's domain
        (by as much), or when their measures differ by more than :data:`MEASURE_TOL`.
    """
    dim, box, measure, geom = _domain(solution)
    rdim, rbox, rmeasure, _ = _domain(fem)
    if dim is not None and dim != rdim:
        raise ValueError(
            f"compare: the solution is {dim}D and the reference {rdim}D; compare a "
            "solution with a finite-element reference of the same problem (fem.solve of "
            "its problem)"
        )
    extent = float(np.max(rbox[1] - rbox[0]))
    fix = (
        "solve the reference on the solution's geometry (fem.solve(problem) of the "
        "problem the network was trained on)"
    )
    if box is not None:
        off = max(float(np.max(np.abs(box[0] - rbox[0]))), float(np.max(np.abs(box[1] - rbox[1]))))
        if off > DOMAIN_TOL * extent:
            raise ValueError(
                "compare: the solution and the reference are on different domains: "
                f"bounding boxes {_box(box)} and {_box(rbox)} differ by {off:.3g} (more "
                f"than {DOMAIN_TOL:g} of the extent {extent:.3g}); {fix}"
            )
    if geom is not None:
        P = fem.mesh.p.T
        out = ~geom.contains(P, tol=DOMAIN_TOL * extent)
        if np.any(out):
            i = int(np.flatnonzero(out)[0])
            raise ValueError(
                "compare: the solution and the reference are on different domains: "
                f"{int(out.sum())} of the reference's {P.shape[0]} nodes lie outside the "
                f"solution's domain {geom!r} (by more than {DOMAIN_TOL:g} of the extent "
                f"{extent:.3g}; first at {P[i].tolist()}); {fix}"
            )
    if measure is not None and abs(measure - rmeasure) > MEASURE_TOL * rmeasure:
        raise ValueError(
            "compare: the solution and the reference are on different domains: measures "
            f"(area or volume) {measure:.6g} and {rmeasure:.6g} differ by more than "
            f"{MEASURE_TOL:g}; {fix}"
        )


def _box(box) -> str:
    return f"{np.round(box[0], 6).tolist()}..{np.round(box[1], 6).tolist()}"


def _rel(diff2: np.ndarray, ref2: np.ndarray, w: np.ndarray) -> float:
    den = float(np.sum(w * ref2))
    if den == 0:
        raise ValueError("the finite-element field is zero: the relative error is undefined")
    return float(np.sqrt(np.sum(w * diff2) / den))


def compare(
    solution,
    fem: FEMSolution,
    *,
    exclude_points: np.ndarray | None = None,
    exclude_radius: float | None = None,
    exclude: Callable[[np.ndarray], np.ndarray] | None = None,
) -> FEMComparison:
    """Compare ``solution`` (anything with ``fields(X)``, e.g. :class:`pinngelu.Solution`
    or another :class:`FEMSolution`) with ``fem`` on the quadrature of ``fem``.

    Parameters
    ----------
    solution : Solution or FEMSolution
    fem : FEMSolution
        The reference.
    exclude_points : array_like (k, d), optional
        Singular points (re-entrant corners, clamp ends) around which the stress and
        von Mises errors are not measured ...
    exclude_radius : float, optional
        ... within this radius (m).
    exclude : callable, optional
        ``exclude(X (N, d)) -> bool (N,)``: further points left out of the stress
        errors.

    Returns
    -------
    FEMComparison

    Raises
    ------
    ValueError
        When ``solution`` and ``fem`` differ in dimension or lie on different domains
        (:func:`check_same_domain`), or when the exclusions leave nothing to compare.
    """
    check_same_domain(solution, fem)
    X, w, U, G = fem.quadrature()
    ref = fem.fields_from(U, G)
    if isinstance(solution, FEMSolution):
        other = solution.fields(X)
    else:
        other = solution.fields(X, check_inside=False)
    du = other["displacement"] - ref["displacement"]
    e_u = _rel(np.sum(du**2, axis=1), np.sum(ref["displacement"] ** 2, axis=1), w)
    keep = exclusion_mask(X, exclude_points, exclude_radius, exclude)
    if not np.any(keep):
        raise ValueError("the exclusions leave no quadrature point to compare stresses on")
    wk = w[keep]
    ds = (other["stress"] - ref["stress"])[keep]
    e_s = _rel(np.sum(ds**2, axis=(1, 2)), np.sum(ref["stress"][keep] ** 2, axis=(1, 2)), wk)
    vm, vmh = other["von_mises"][keep], ref["von_mises"][keep]
    e_vm = _rel((vm - vmh) ** 2, vmh**2, wk)
    vm_max = float(np.max(np.abs(vm - vmh)) / np.max(np.abs(vmh)))
    return FEMComparison(
        displacement=e_u,
        stress=e_s,
        von_mises=e_vm,
        von_mises_max=vm_max,
        kept_fraction=float(wk.sum() / w.sum()),
        n_dofs=fem.n_dofs,
    )


def comparison_fields(solution, fem: FEMSolution, X: np.ndarray) -> dict[str, np.ndarray]:
    """Both fields and their difference at points ``X``: ``<name>`` (the network's),
    ``<name>_fem`` and ``<name>_fem_diff`` (network minus FEM) for displacement,
    stress and von Mises."""
    check_same_domain(solution, fem)
    a = solution.fields(X) if isinstance(solution, FEMSolution) else solution.fields(X, False)
    b = fem.fields(X)
    out = {}
    for name in ("displacement", "stress", "von_mises"):
        out[name] = a[name]
        out[f"{name}_fem"] = b[name]
        out[f"{name}_fem_diff"] = a[name] - b[name]
    return out


def write_comparison(path: str | os.PathLike, solution, fem: FEMSolution) -> Path:
    """Write :func:`comparison_fields` at the vertices of the finite-element mesh to
    ``path`` (``.vtu`` or another meshio format; atomic, through
    :func:`pinngelu.io.write_fields`)."""
    from ..io import write_fields

    P = fem.mesh.p.T
    return write_fields(path, P, fem.mesh.t.T, comparison_fields(solution, fem, P))
