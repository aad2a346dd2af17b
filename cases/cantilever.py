"""End-loaded steel cantilever in plane stress (Timoshenko and Goodier).

A steel bar (E = 210 GPa, nu = 0.3) of length L = 1 m, depth 2c = 200 mm and thickness
t = 10 mm is clamped at x = 0 and carries a downward end load P = 5 kN at x = L; the
axes are 0 <= x <= L, -c <= y <= c, y upwards.  Plane stress, with

- the exact displacement prescribed on the whole clamped end x = 0;
- the parabolic shear traction ``t_y = -P (c^2 - y^2) / (2 I)`` (resultant -P) at the
  free end x = L, with I = t (2c)^3 / 12;
- traction-free top and bottom edges y = +-c.

Reference: Timoshenko and Goodier, *Theory of Elasticity*, 3rd ed., 1970, chapter 3:
bending of a cantilever loaded at the end (here with the clamp at x = 0 and the load
downwards), G = E / (2 (1 + nu))::

    sigma_xx = P (L - x) y / I,   sigma_yy = 0,   sigma_xy = -P (c^2 - y^2) / (2 I)
    u_x = P (L x - x^2 / 2) y / (E I) - nu P y^3 / (6 E I) + P y^3 / (6 G I)
          - P c^2 y / (2 G I)
    u_y = -nu P (L - x) y^2 / (2 E I) - P (L x^2 / 2 - x^3 / 6) / (E I)

with the rigid-body motion fixed by u = 0 and du_y/dx = 0 at the centroid of the
clamped end, so that the tip deflection is ``u_y(L, 0) = -P L^3 / (3 E I)`` (about
-1.19 mm); the largest bending stress is 75 MPa.

Metrics: relative L2 error of the displacement over a 101 x 21 grid; the tip deflection
``u_y(L, 0)``, its exact value and their relative difference.  Target: tip deflection
within 1e-3 relative.

Run ``python cases/cantilever.py --help`` for the options.
"""

from __future__ import annotations

import sys

import numpy as np

import pinngelu as pg
from pinngelu.app.runner import CASE_HIDDEN, STEEL_E, STEEL_NU, CaseSettings, case_config, case_main

E = STEEL_E
"""Young's modulus (Pa)."""
NU = STEEL_NU
"""Poisson ratio."""
LENGTH = 1.0
"""Length L (m)."""
C = 0.1
"""Half-depth c (m)."""
THICKNESS = 0.01
"""Thickness t (m)."""
P = 5000.0
"""End load (N), pointing in -y."""
MATERIAL = pg.Material.from_E_nu(E, NU)
G = MATERIAL.mu
I = THICKNESS * (2 * C) ** 3 / 12
"""Second moment of area (m^4)."""
TIP_DEFLECTION = -P * LENGTH**3 / (3 * E * I)
"""Exact u_y(L, 0) (m)."""


def exact(X: np.ndarray) -> np.ndarray:
    """Exact displacement (N, 2) (m) at points ``X`` (N, 2) (m)."""
    x, y = X[:, 0], X[:, 1]
    ux = (
        P * (LENGTH * x - x**2 / 2) * y / (E * I)
        - NU * P * y**3 / (6 * E * I)
        + P * y**3 / (6 * G * I)
        - P * C**2 * y / (2 * G * I)
    )
    uy = -NU * P * (LENGTH - x) * y**2 / (2 * E * I) - P * (LENGTH * x**2 / 2 - x**3 / 6) / (E * I)
    return np.stack([ux, uy], axis=1)


def exact_stress(X: np.ndarray) -> np.ndarray:
    """Exact in-plane stress (N, 2, 2) (Pa) at points ``X`` (N, 2) (m)."""
    x, y = X[:, 0], X[:, 1]
    sig = np.zeros((X.shape[0], 2, 2))
    sig[:, 0, 0] = P * (LENGTH - x) * y / I
    sig[:, 0, 1] = sig[:, 1, 0] = -P * (C**2 - y**2) / (2 * I)
    return sig


def end_traction(X: np.ndarray) -> np.ndarray:
    """Traction (N, 2) (Pa) on the loaded end x = L: ``(0, -P (c^2 - y^2) / (2 I))``."""
    y = X[:, 1]
    return np.stack([np.zeros_like(y), -P * (C**2 - y**2) / (2 * I)], axis=1)


def grid(nx: int = 101, ny: int = 21) -> np.ndarray:
    """The nx x ny evaluation grid of the beam (nx ny, 2) (m)."""
    gx, gy = np.meshgrid(np.linspace(0.0, LENGTH, nx), np.linspace(-C, C, ny), indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def build_problem(n_interior: int = 2000, n_boundary: int = 800) -> pg.ElasticityProblem:
    """The problem definition (plane stress).

    Parameters
    ----------
    n_interior, n_boundary : int
        Collocation points in the beam and on its boundary.
    """
    geom = pg.Rectangle(0.0, LENGTH, -C, C)
    conditions = [
        pg.Dirichlet("left", exact),
        pg.Traction("right", end_traction),
        pg.Traction("top", 0.0),
        pg.Traction("bottom", 0.0),
    ]
    return pg.ElasticityProblem(
        geom,
        MATERIAL,
        conditions,
        plane_stress=True,
        n_interior=n_interior,
        n_boundary=n_boundary,
        exact=exact,
        formulation=pg.StrongForm(),  # the tuned path of this verification case
    )


def extra_metrics(sol: pg.Solution) -> dict:
    """Tip deflection ``u_y(L, 0)`` (m), its exact value and the relative error."""
    tip = float(sol.displacement(np.array([[LENGTH, 0.0]]))[0, 1])
    return {
        "tip_deflection": tip,
        "tip_deflection_exact": TIP_DEFLECTION,
        "tip_deflection_error": abs(tip - TIP_DEFLECTION) / abs(TIP_DEFLECTION),
    }


SETTINGS = CaseSettings(
    hidden=CASE_HIDDEN,
    mesh_h=0.01,
    config=case_config(),
)


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return case_main(
        "cantilever",
        __doc__,
        SETTINGS,
        lambda args: build_problem(),
        argv,
        error_points=grid,
        extra_metrics=extra_metrics,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
