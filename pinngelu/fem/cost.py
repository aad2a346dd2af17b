"""The memory a finite-element solve needs, estimated before meshing and before the
linear solve, and checked against :mod:`pinngelu.memory`'s limit.

The constants were measured with :mod:`tracemalloc` (every array of scikit-fem, SciPy
and pyamg is a NumPy allocation) on meshes of a unit square and a unit cube, and
SuperLU's factors by the size of their ``L`` and ``U``; ``tests/test_fem_inputs.py``
checks the estimate of a whole solve within 25% of its measured peak.
"""

from __future__ import annotations

import math

from .. import memory
from ..geometry import Geometry
from ..geometry.quadrature import refinement_levels

__all__ = [
    "AMG_BYTES_PER_NONZERO",
    "BYTES_PER_CELL",
    "CELLS_PER_MEASURE",
    "NONZEROS_PER_CELL",
    "UNKNOWNS_PER_CELL",
    "check_factorisation",
    "check_solve",
    "estimate_cells",
    "factorisation_bytes",
    "solve_bytes",
    "unknowns",
]

CELLS_PER_MEASURE = {2: 2.31, 3: 12.0}
"""Cells of :meth:`Geometry.mesh` per ``h^d`` of the domain's measure (a triangular
lattice in 2D, the Delaunay cells of a body-centred cubic one in 3D; measured 2.32 on a
square, 11.7 to 12.0 on a cube and a spherical shell)."""

BYTES_PER_CELL = {(2, 1): 4.0e3, (2, 2): 12.5e3, (3, 1): 13.1e3, (3, 2): 94.4e3}
"""Peak bytes per cell of assembling the stiffness matrix, keyed ``(dim, order)``: the
basis (values and gradients of every basis function at every quadrature point of every
cell; on straight cells a second, lower-order one for the stiffness) and the matrix's
triplets (P2 in 3D: 86 kB curved, 94 kB straight)."""

KEPT_BYTES_PER_CELL = {(2, 1): 1.5e3, (2, 2): 6.5e3, (3, 1): 6.4e3, (3, 2): 47e3}
"""Bytes per cell held during the linear solve: the basis and the stiffness matrix."""

UNKNOWNS_PER_CELL = {(2, 1): 1.05, (2, 2): 4.1, (3, 1): 0.65, (3, 2): 4.55}
"""Unknowns (vector degrees of freedom) per cell."""

NONZEROS_PER_CELL = {(2, 1): 14.0, (2, 2): 93.0, (3, 1): 24.0, (3, 2): 363.0}
"""Nonzeros of the stiffness matrix per cell."""

AMG_BYTES_PER_NONZERO = 64.0
"""Peak bytes of the smoothed-aggregation hierarchy (rigid-body near-null space) and
the conjugate gradients, per nonzero of the condensed matrix (measured 57 to 63)."""

LU_BYTES_PER_FILL = 16.0
"""Bytes per nonzero of SuperLU's factors (value, index and its own bookkeeping)."""

LU_FILL = {2: (9.0, 4.0 / 3.0), 3: (2.0, 1.7)}
"""SuperLU's fill (nonzeros of ``L`` and ``U``) as ``c n^p`` for ``n`` unknowns, keyed
by dimension: measured on P2 elasticity with SciPy's default ordering (2D: 8.4 to 9.1
n^(4/3) from 1e3 to 6e4 unknowns; 3D: 2.0 n^1.7 from 2e3 to 3e4)."""


def estimate_cells(geometry: Geometry, h: float | None) -> int:
    """The number of cells of the finite-element mesh of ``geometry`` at size ``h``,
    before meshing: a mesh domain's cells times ``2^d`` per uniform refinement, or
    :data:`CELLS_PER_MEASURE` times the measure over ``h^d``."""
    d = geometry.dim
    if getattr(geometry, "straight_cells", False):
        levels = 0 if h is None else refinement_levels(geometry, float(h))
        return int(geometry.cells.shape[0]) * 2 ** (d * levels)
    return max(1, math.ceil(CELLS_PER_MEASURE[d] * float(geometry.measure) / float(h) ** d))


def unknowns(n_cells: int, dim: int, order: int = 2) -> float:
    """The estimated number of unknowns of ``n_cells`` cells (:data:`UNKNOWNS_PER_CELL`)."""
    return UNKNOWNS_PER_CELL[(dim, order)] * n_cells


def solve_bytes(n_cells: int, dim: int, order: int = 2, direct: bool = False) -> float:
    """Estimated peak bytes of :func:`pinngelu.fem.solve` on ``n_cells`` cells: the
    assembly, or the basis and matrix kept plus the linear solver (SuperLU's factors
    with ``direct``, else the AMG hierarchy), whichever is larger."""
    key = (dim, order)
    n = unknowns(n_cells, dim, order)
    nnz = NONZEROS_PER_CELL[key] * n_cells
    linear = factorisation_bytes(n, nnz, dim, "direct" if direct else "amg")
    return max(BYTES_PER_CELL[key] * n_cells, KEPT_BYTES_PER_CELL[key] * n_cells + linear)


def factorisation_bytes(n: float, nnz: float, dim: int, method: str) -> float:
    """Estimated bytes of the linear solve of ``n`` unknowns and ``nnz`` nonzeros:
    SuperLU's factors (``method="direct"``, :data:`LU_FILL`) or the AMG hierarchy and
    the conjugate gradients (``"amg"``, :data:`AMG_BYTES_PER_NONZERO`)."""
    if method == "direct":
        c, p = LU_FILL[dim]
        return LU_BYTES_PER_FILL * max(c * float(n) ** p, float(nnz))
    return AMG_BYTES_PER_NONZERO * float(nnz)


def check_solve(
    geometry: Geometry, h: float | None, n_cells: int, order: int, direct: bool
) -> None:
    """Refuse a solve on ``n_cells`` cells whose estimated peak (:func:`solve_bytes`)
    exceeds the memory limit (:func:`pinngelu.memory.check`)."""
    d = geometry.dim
    at = "" if h is None else f" at h = {h:.4g}"
    memory.check(
        solve_bytes(n_cells, d, order, direct),
        f"the P{order} finite-element solve of {geometry!r}{at} (about {n_cells:,} cells, "
        f"{int(unknowns(n_cells, d, order)):,} unknowns)",
        f"the element size h (a larger one: the memory grows as h^-{d})",
    )


def check_factorisation(n: int, nnz: int, dim: int, method: str, kept: float) -> None:
    """Refuse a linear solve (``kept`` bytes already held) whose estimated need
    (:func:`factorisation_bytes`) exceeds the memory limit."""
    what = (
        f"the sparse LU factorisation (SuperLU) of {n:,} unknowns"
        if method == "direct"
        else f"the AMG-preconditioned CG of {n:,} unknowns"
    )
    setting = (
        "the solver (solver='amg' needs far less in 3D) or the element size h"
        if method == "direct"
        else "the element size h (a larger one)"
    )
    memory.check(kept + factorisation_bytes(n, nnz, dim, method), what, setting)
