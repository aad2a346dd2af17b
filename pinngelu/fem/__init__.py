"""Finite-element reference solutions (P2 Lagrange elements, scikit-fem).

:func:`solve` solves the same :class:`pinngelu.ElasticityProblem` as the network
(mesh of its geometry, material, body force, Dirichlet, traction, pressure and
axis-aligned symmetry conditions, plane strain / plane stress, 3D) and returns a
:class:`FEMSolution`; :func:`compare` measures a trained solution against it.
Large systems are solved by conjugate gradients preconditioned with smoothed-aggregation
algebraic multigrid (pyamg; the rigid-body motions, :func:`rigid_body_basis`, as its
near-null space), small ones by SuperLU.  Needs the ``fem`` extra
(``pip install pinngelu[fem]``: scikit-fem and pyamg).

A solve is refused before meshing when its estimated memory exceeds the limit of
:mod:`pinngelu.memory` (:mod:`pinngelu.fem.cost`), and its long steps (meshing,
assembly, linear solve) print a line when they start and their time when they end
(:mod:`pinngelu.fem.steps`).
"""

from __future__ import annotations

from .compare import FEMComparison, compare, write_comparison
from .mesh import FEMUnavailableError, check_available, facet_parts, fem_mesh
from .report import CaseReference, fem_report, reference
from .solution import FEMSolution
from .solve import FEMSolveError, rigid_body_basis, solve

__all__ = [
    "CaseReference",
    "FEMComparison",
    "FEMSolution",
    "FEMSolveError",
    "FEMUnavailableError",
    "check_available",
    "compare",
    "facet_parts",
    "fem_mesh",
    "fem_report",
    "reference",
    "rigid_body_basis",
    "solve",
    "write_comparison",
]
