"""Thick-walled steel cylinder under internal pressure (Lame, plane strain).

A long steel tube (E = 210 GPa, nu = 0.3) of inner radius a = 0.1 m and outer radius
b = 0.2 m carries an internal pressure p = 100 MPa; the outer surface is free.  Far from
the ends the tube is in plane strain.  By symmetry one quarter of the cross-section is
modelled: the annular sector a <= r <= b, 0 <= theta <= 90 degrees, with

- symmetry (u . n = 0, zero tangential traction) on the straight edges y = 0 and x = 0;
- pressure p on the inner arc r = a, traction-free outer arc r = b.

Reference: Lame's solution (Timoshenko and Goodier, *Theory of Elasticity*, 3rd ed.,
1970, chapter 4: stress distributions symmetrical about an axis, and their
displacements), with ``C = p a^2 / (b^2 - a^2)``::

    sigma_rr = C (1 - b^2 / r^2),   sigma_tt = C (1 + b^2 / r^2),   sigma_rt = 0
    u_r = C (1 + nu) / E ((1 - 2 nu) r + b^2 / r)        (plane strain)

Metrics: relative L2 errors of the displacement and of sigma_rr and sigma_tt over a
41 x 41 polar grid of the quarter ring.  Targets: displacement <= 1e-3, each stress
component <= 1e-2.

Run ``python cases/lame_cylinder.py --help`` for the options.
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


def polar(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radius ``r`` (m) and the radial and hoop unit vectors ``e_r``, ``e_t`` (N, 2) at
    points ``X`` (N, 2) (m)."""
    r = np.hypot(X[:, 0], X[:, 1])
    e_r = X / r[:, None]
    e_t = np.stack([-e_r[:, 1], e_r[:, 0]], axis=1)
    return r, e_r, e_t


def radial_displacement(r: np.ndarray) -> np.ndarray:
    """Lame's radial displacement ``u_r(r)`` (m) in plane strain, ``r`` in m."""
    c = P_IN * A_IN**2 / (B_OUT**2 - A_IN**2)
    return c * (1 + NU) / E * ((1 - 2 * NU) * r + B_OUT**2 / r)


def polar_stress(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lame's radial and hoop stresses ``(sigma_rr, sigma_tt)`` (Pa) at radii ``r`` (m)."""
    c = P_IN * A_IN**2 / (B_OUT**2 - A_IN**2)
    return c * (1 - B_OUT**2 / r**2), c * (1 + B_OUT**2 / r**2)


def exact(X: np.ndarray) -> np.ndarray:
    """Exact displacement (N, 2) (m) at points ``X`` (N, 2) (m)."""
    r, e_r, _ = polar(X)
    return radial_displacement(r)[:, None] * e_r


def exact_stress(X: np.ndarray) -> np.ndarray:
    """Exact in-plane Cauchy stress (N, 2, 2) (Pa) at points ``X`` (N, 2) (m)."""
    r, e_r, e_t = polar(X)
    s_rr, s_tt = polar_stress(r)
    rr = np.einsum("ni,nj->nij", e_r, e_r)
    tt = np.einsum("ni,nj->nij", e_t, e_t)
    return s_rr[:, None, None] * rr + s_tt[:, None, None] * tt


def grid(n: int = 41) -> np.ndarray:
    """The n x n polar evaluation grid (r, theta) of the quarter ring (n^2, 2) (m)."""
    r, th = np.meshgrid(np.linspace(A_IN, B_OUT, n), np.linspace(0.0, np.pi / 2, n), indexing="ij")
    return np.stack([(r * np.cos(th)).ravel(), (r * np.sin(th)).ravel()], axis=1)


def build_problem(n_interior: int = 2000, n_boundary: int = 800) -> pg.ElasticityProblem:
    """The problem definition (plane strain).

    Parameters
    ----------
    n_interior, n_boundary : int
        Collocation points in the quarter ring and on its boundary.
    """
    geom = pg.AnnularSector((0.0, 0.0), A_IN, B_OUT, 0.0, np.pi / 2)
    conditions = [
        pg.Pressure("inner", P_IN),
        pg.Traction("outer", 0.0),
        pg.Symmetry("start"),
        pg.Symmetry("end"),
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


def extra_metrics(sol: pg.Solution, points: np.ndarray | None = None) -> dict:
    """Relative L2 errors of ``sigma_rr`` and ``sigma_tt`` over ``points`` (default:
    :func:`grid`)."""
    X = grid() if points is None else points
    r, e_r, e_t = polar(X)
    sig = sol.stress(X)
    s_rr = np.einsum("ni,nij,nj->n", e_r, sig, e_r)
    s_tt = np.einsum("ni,nij,nj->n", e_t, sig, e_t)
    rr, tt = polar_stress(r)
    return {
        "rel_l2_stress_rr": float(np.linalg.norm(s_rr - rr) / np.linalg.norm(rr)),
        "rel_l2_stress_tt": float(np.linalg.norm(s_tt - tt) / np.linalg.norm(tt)),
    }


SETTINGS = CaseSettings(
    hidden=CASE_HIDDEN,
    config=case_config(),
)


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return case_main(
        "lame_cylinder",
        __doc__,
        SETTINGS,
        lambda args: build_problem(),
        argv,
        error_points=grid,
        extra_metrics=extra_metrics,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
