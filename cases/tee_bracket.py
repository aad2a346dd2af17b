"""Steel T-bracket with re-entrant corners, clamped on its flange, loaded at its foot.

A T-shaped steel bracket (E = 210 GPa, nu = 0.3, plane stress): a flange
``[0, 0.2] x [0.16, 0.2]`` (m) and a web ``[0.08, 0.12] x [0, 0.16]`` hanging from its
middle, which meet at two re-entrant corners (0.08, 0.16) and (0.12, 0.16).  It is

- clamped with u = 0 on the top edge of the flange (y = 0.2);
- loaded on the foot of the web (y = 0) by a uniform sideways traction of 1 MPa along x
  (the web bends);
- free everywhere else.

Trained untuned: the library's defaults (the energy formulation; the clamp built into
the network), the cases' network and time budget, no setting taken from the answer.

Reference: a P2 finite-element solution on a mesh of size 2.5 mm refined six times
around the re-entrant corners and the clamp ends (down to 0.04 mm;
:class:`pinngelu.fem.CaseReference`, its own error estimated from the solution at
2h with the same grading).  The re-entrant corners and the ends of the clamp are
singular points of the stress; stress errors are measured outside 10 mm of them.

Metrics: relative L2 error of the displacement against the reference over a grid of
spacing 2 mm; relative L2 errors of the stress and of the von Mises stress on the
reference's quadrature outside the singular points; the sideways deflection of the
foot's centre of both.  Targets: displacement <= 1e-3, von Mises <= 1e-2.

Run ``python cases/tee_bracket.py --help`` for the options.
"""

from __future__ import annotations

import sys

import numpy as np

import pinngelu as pg
from pinngelu.app.runner import CASE_HIDDEN, STEEL_E, STEEL_NU, CaseSettings, case_config, case_main
from pinngelu.fem import CaseReference

E = STEEL_E
"""Young's modulus (Pa)."""
NU = STEEL_NU
"""Poisson ratio."""
VERTICES = [
    (0.0, 0.16),
    (0.08, 0.16),
    (0.08, 0.0),
    (0.12, 0.0),
    (0.12, 0.16),
    (0.2, 0.16),
    (0.2, 0.2),
    (0.0, 0.2),
]
"""The outline (m), counter-clockwise from the flange's lower left corner."""
PARTS = ["free", "free", "foot", "free", "free", "free", "clamp", "free"]
"""The boundary part of each edge."""
LOAD = 1e6
"""Sideways traction on the foot (Pa)."""
MATERIAL = pg.Material.from_E_nu(E, NU)
SINGULAR_POINTS = np.array([[0.08, 0.16], [0.12, 0.16], [0.0, 0.2], [0.2, 0.2]])
"""Re-entrant corners and clamp ends (m)."""
EXCLUDE_RADIUS = 0.01
"""Radius (m) around the singular points left out of the stress errors."""


def _problem(n_interior: int, n_boundary: int, exact=None) -> pg.ElasticityProblem:
    conditions = [pg.Dirichlet("clamp", 0.0), pg.Traction("foot", [LOAD, 0.0])]
    return pg.ElasticityProblem(
        pg.Polygon(VERTICES, PARTS),
        MATERIAL,
        conditions,
        plane_stress=True,
        n_interior=n_interior,
        n_boundary=n_boundary,
        exact=exact,
    )


REFERENCE = CaseReference(
    lambda: _problem(64, 64), 0.0025, SINGULAR_POINTS, EXCLUDE_RADIUS, graded=(0.02, 6)
)
"""The P2 reference (solved on first use)."""


def exact(X: np.ndarray) -> np.ndarray:
    """Reference displacement (N, 2) (m) at points ``X`` (N, 2) (m)."""
    return REFERENCE.displacement(X)


def grid(spacing: float = 0.002) -> np.ndarray:
    """Grid points of the bracket (n, 2) (m)."""
    t = np.linspace(0.0, 0.2, round(0.2 / spacing) + 1)
    gx, gy = np.meshgrid(t, t, indexing="ij")
    X = np.stack([gx.ravel(), gy.ravel()], axis=1)
    web = (X[:, 0] >= 0.08 - 1e-12) & (X[:, 0] <= 0.12 + 1e-12)
    return X[web | (X[:, 1] >= 0.16 - 1e-12)]


def build_problem(n_interior: int = 2000, n_boundary: int = 800) -> pg.ElasticityProblem:
    """The problem definition (plane stress, energy formulation).

    Parameters
    ----------
    n_interior, n_boundary : int
        Sizes of the point sets: the energy quadrature has about ``2 n_interior``
        points.
    """
    return _problem(n_interior, n_boundary, exact=exact)


def extra_metrics(sol: pg.Solution) -> dict:
    """Stress errors against the reference and the foot's deflection."""
    foot = np.array([[0.1, 0.0]])
    return {
        **REFERENCE.metrics(sol),
        "foot_deflection": float(sol.displacement(foot)[0, 0]),
        "foot_deflection_reference": float(exact(foot)[0, 0]),
    }


SETTINGS = CaseSettings(hidden=CASE_HIDDEN, mesh_h=0.0025, config=case_config())


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return case_main(
        "tee_bracket",
        __doc__,
        SETTINGS,
        lambda args: build_problem(),
        argv,
        error_points=grid,
        extra_metrics=extra_metrics,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
