"""Thick-walled steel sphere under internal pressure (Lame, 3D).

A hollow steel sphere (E = 210 GPa, nu = 0.3) of inner radius a = 0.1 m and outer
radius b = 0.2 m carries an internal pressure p = 100 MPa; the outer surface is free.
By symmetry one octant (x, y, z >= 0) of the shell is modelled, with

- symmetry (u . n = 0, zero tangential traction) on the coordinate planes x = 0, y = 0
  and z = 0;
- pressure p on the inner sphere r = a, traction-free outer sphere r = b.

Reference: Lame's solution for the sphere (Timoshenko and Goodier, *Theory of
Elasticity*, 3rd ed., 1970: spherical container under internal or external uniform
pressure), a purely radial displacement::

    u_r = A r + B / r^2,   A = p a^3 (1 - 2 nu) / (E (b^3 - a^3)),
                           B = p a^3 b^3 (1 + nu) / (2 E (b^3 - a^3))
    sigma_rr = p a^3 (r^3 - b^3) / (r^3 (b^3 - a^3))
    sigma_tt = sigma_pp = p a^3 (2 r^3 + b^3) / (2 r^3 (b^3 - a^3))

Metrics: relative L2 error of the displacement (and, for information, of the stress
tensor) over an 11 x 11 x 11 spherical grid of the octant.  Target: displacement
<= 1e-2.

Run ``python cases/hollow_sphere.py --help`` for the options.
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
A_IN = 0.1
"""Inner radius a (m)."""
B_OUT = 0.2
"""Outer radius b (m)."""
P_IN = 100e6
"""Internal pressure p (Pa)."""
MATERIAL = pg.Material.from_E_nu(E, NU)


def radial_displacement(r: np.ndarray) -> np.ndarray:
    """Lame's radial displacement ``u_r = A r + B / r^2`` (m) at radii ``r`` (m)."""
    d = B_OUT**3 - A_IN**3
    a = P_IN * A_IN**3 * (1 - 2 * NU) / (E * d)
    b = P_IN * A_IN**3 * B_OUT**3 * (1 + NU) / (2 * E * d)
    return a * r + b / r**2


def polar_stress(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lame's radial and hoop stresses ``(sigma_rr, sigma_tt)`` (Pa) at radii ``r`` (m)
    (the two hoop stresses are equal)."""
    d = B_OUT**3 - A_IN**3
    s_rr = P_IN * A_IN**3 * (r**3 - B_OUT**3) / (r**3 * d)
    s_tt = P_IN * A_IN**3 * (2 * r**3 + B_OUT**3) / (2 * r**3 * d)
    return s_rr, s_tt


def exact(X: np.ndarray) -> np.ndarray:
    """Exact displacement (N, 3) (m) at points ``X`` (N, 3) (m)."""
    r = np.linalg.norm(X, axis=1)
    return (radial_displacement(r) / r)[:, None] * X


def exact_stress(X: np.ndarray) -> np.ndarray:
    """Exact stress (N, 3, 3) (Pa) at ``X`` (N, 3) (m):
    ``sigma_tt I + (sigma_rr - sigma_tt) e_r e_r``."""
    r = np.linalg.norm(X, axis=1)
    e_r = X / r[:, None]
    s_rr, s_tt = polar_stress(r)
    rr = np.einsum("ni,nj->nij", e_r, e_r)
    return s_tt[:, None, None] * np.eye(3)[None] + (s_rr - s_tt)[:, None, None] * rr


def grid(n: int = 11) -> np.ndarray:
    """The n x n x n grid in (r, polar angle, azimuth) of the octant (n^3, 3) (m)."""
    r, th, ph = np.meshgrid(
        np.linspace(A_IN, B_OUT, n),
        np.linspace(0.0, np.pi / 2, n),
        np.linspace(0.0, np.pi / 2, n),
        indexing="ij",
    )
    X = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=-1)
    X = (r[..., None] * X).reshape(-1, 3)
    # the pole (theta = 0) repeats for every azimuth: keep it once per radius
    return np.unique(np.round(X, 14), axis=0)


def build_problem(n_interior: int = 3000, n_boundary: int = 1500) -> pg.ElasticityProblem:
    """The problem definition.

    Parameters
    ----------
    n_interior, n_boundary : int
        Collocation points in the shell octant and on its boundary.
    """
    geom = pg.SphericalShellOctant(A_IN, B_OUT)
    conditions = [
        pg.Pressure("inner", P_IN),
        pg.Traction("outer", 0.0),
        pg.Symmetry("x0"),
        pg.Symmetry("y0"),
        pg.Symmetry("z0"),
    ]
    return pg.ElasticityProblem(
        geom,
        MATERIAL,
        conditions,
        n_interior=n_interior,
        n_boundary=n_boundary,
        exact=exact,
        formulation=pg.StrongForm(),  # the tuned path of this verification case
    )


def extra_metrics(sol: pg.Solution) -> dict:
    """Relative L2 error of the stress tensor over :func:`grid` (for information)."""
    X = grid()
    sig, sig_e = sol.stress(X), exact_stress(X)
    return {"rel_l2_stress": float(np.linalg.norm(sig - sig_e) / np.linalg.norm(sig_e))}


SETTINGS = CaseSettings(
    hidden=CASE_HIDDEN,
    mesh_h=0.01,
    config=case_config(print_every=100),
)


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return case_main(
        "hollow_sphere",
        __doc__,
        SETTINGS,
        lambda args: build_problem(),
        argv,
        error_points=grid,
        extra_metrics=extra_metrics,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
