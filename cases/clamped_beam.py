"""Thin steel beam of aspect ratio 20, clamped with u = 0, under an end traction.

A steel beam (E = 210 GPa, nu = 0.3, plane stress), L = 2 m long and H = 0.1 m deep
(aspect ratio 20), occupies ``[0, L] x [0, H]``.  It is

- clamped on its left end x = 0 with u = 0 (both components: the clamp the way an
  engineer writes it, not the exact field of beam theory);
- loaded on its right end x = L by a uniform downward traction of 1 MPa
  (a shear force of 100 kN per metre of thickness);
- free on its top and bottom edges.

Trained untuned: the library's defaults (the energy formulation, which takes the end
traction as a work term and builds the clamp into the network), the cases' network
and time budget, no setting taken from the answer.

Reference: a P2 finite-element solution on a uniform mesh of size H / 10
(:class:`pinngelu.fem.CaseReference`; its own error, estimated from the solution at
2 h, is in the summary: 1.4e-5 in displacement, 5e-4 in von Mises).  The clamp corners (0, 0) and
(0, H) are singular points of the stress, where the u = 0 clamp meets a free edge;
stress errors are measured outside 20 mm of them.  For orientation, Euler-Bernoulli
theory gives a tip deflection ``-4 P L^3 / (E H^3) = -15.24 mm`` (per unit thickness,
``P = 1e5`` N/m); the reference's -15.25 mm adds shear and the clamp's flexibility.

Metrics: relative L2 error of the displacement against the reference over a
401 x 21 grid; relative L2 errors of the stress and of the von Mises stress on the
reference's quadrature outside the clamp corners; the tip deflection ``u_y(L, H/2)``
of both.  Targets: displacement <= 1e-3, von Mises <= 1e-2.

Run ``python cases/clamped_beam.py --help`` for the options.
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
LENGTH = 2.0
"""Length L (m)."""
DEPTH = 0.1
"""Depth H (m)."""
LOAD = 1e6
"""Downward traction on the right end (Pa)."""
MATERIAL = pg.Material.from_E_nu(E, NU)
CLAMP_CORNERS = np.array([[0.0, 0.0], [0.0, DEPTH]])
"""Singular points of the stress (m)."""
EXCLUDE_RADIUS = 0.02
"""Radius (m) around the clamp corners left out of the stress errors."""


def _problem(n_interior: int, n_boundary: int, exact=None) -> pg.ElasticityProblem:
    geom = pg.Rectangle(0.0, LENGTH, 0.0, DEPTH)
    conditions = [pg.Dirichlet("left", 0.0), pg.Traction("right", [0.0, -LOAD])]
    return pg.ElasticityProblem(
        geom,
        MATERIAL,
        conditions,
        plane_stress=True,
        n_interior=n_interior,
        n_boundary=n_boundary,
        exact=exact,
    )


REFERENCE = CaseReference(lambda: _problem(64, 64), DEPTH / 10, CLAMP_CORNERS, EXCLUDE_RADIUS)
"""The P2 reference (solved on first use)."""


def exact(X: np.ndarray) -> np.ndarray:
    """Reference displacement (N, 2) (m) at points ``X`` (N, 2) (m)."""
    return REFERENCE.displacement(X)


def grid(nx: int = 401, ny: int = 21) -> np.ndarray:
    """The nx x ny evaluation grid of the beam (nx ny, 2) (m)."""
    gx, gy = np.meshgrid(np.linspace(0, LENGTH, nx), np.linspace(0, DEPTH, ny), indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


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
    """Stress and von Mises errors against the reference and the tip deflections."""
    tip = np.array([[LENGTH, DEPTH / 2]])
    return {
        **REFERENCE.metrics(sol),
        "tip_deflection": float(sol.displacement(tip)[0, 1]),
        "tip_deflection_reference": float(exact(tip)[0, 1]),
    }


SETTINGS = CaseSettings(hidden=CASE_HIDDEN, mesh_h=DEPTH / 8, config=case_config())


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return case_main(
        "clamped_beam",
        __doc__,
        SETTINGS,
        lambda args: build_problem(),
        argv,
        error_points=grid,
        extra_metrics=extra_metrics,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
