"""Manufactured-solution plate (Haghighat et al., CMAME 379, 113741, 2021).

Unit square, lam = 1, mu = 0.5, Q = 4, displacement (Navier-Cauchy) formulation::

    u_x = cos(2 pi x) sin(pi y),   u_y = sin(pi x) Q y^4 / 4

with the body force f = -div sigma(u_exact) and the boundary conditions

- u_x = 0 on y = 0 and y = 1; u_y = 0 on x = 0, x = 1 and y = 0;
- sigma_xx = 0 on x = 0 and x = 1; sigma_yy = (lam + 2 mu) Q sin(pi x) on y = 1.

Reference: the exact solution; the relative L2 error of the displacement is
measured on a 101 x 101 grid.

Run ``python cases/plate_manufactured.py --help`` for the options.
"""

from __future__ import annotations

import sys

import numpy as np

import pinngelu as pg
from pinngelu.app.runner import CASE_HIDDEN, CaseSettings, case_config, case_main

LAM, MU, Q = 1.0, 0.5, 4.0
PI = np.pi


def exact(X: np.ndarray) -> np.ndarray:
    """Exact displacement (N, 2)."""
    x, y = X[:, 0], X[:, 1]
    return np.stack([np.cos(2 * PI * x) * np.sin(PI * y), np.sin(PI * x) * Q * y**4 / 4], axis=1)


def body_force(X: np.ndarray) -> np.ndarray:
    """``f = -(mu lap u + (lam + mu) grad div u)`` for the exact solution (N, 2)."""
    x, y = X[:, 0], X[:, 1]
    c2, s2 = np.cos(2 * PI * x), np.sin(2 * PI * x)
    sy, cy = np.sin(PI * y), np.cos(PI * y)
    s1, c1 = np.sin(PI * x), np.cos(PI * x)
    u_xx = -4 * PI**2 * c2 * sy
    u_yy = -(PI**2) * c2 * sy
    u_xy = -2 * PI**2 * s2 * cy
    v_xx = -(PI**2) * s1 * Q * y**4 / 4
    v_yy = 3 * Q * y**2 * s1
    v_xy = PI * c1 * Q * y**3
    fx = -(MU * (u_xx + u_yy) + (LAM + MU) * (u_xx + v_xy))
    fy = -(MU * (v_xx + v_yy) + (LAM + MU) * (u_xy + v_yy))
    return np.stack([fx, fy], axis=1)


def top_traction_y(X: np.ndarray) -> np.ndarray:
    """sigma_yy on y = 1 (N, 1)."""
    return ((LAM + 2 * MU) * Q * np.sin(PI * X[:, 0]))[:, None]


def grid(n: int = 101) -> np.ndarray:
    """The n x n evaluation grid of the unit square (n^2, 2)."""
    t = np.linspace(0.0, 1.0, n)
    gx, gy = np.meshgrid(t, t, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def build_problem(
    n_interior: int = 2000,
    n_boundary: int = 800,
    material: pg.Material | None = None,
    **kwargs,
) -> pg.ElasticityProblem:
    """The problem definition.

    ``material`` replaces the true one (lam = 1, mu = 0.5) while the loads stay those
    of the exact solution (the inverse case starts from a wrong guess); ``kwargs``
    go to :class:`pinngelu.ElasticityProblem` (``data``, ``identify``...).
    """
    geom = pg.Rectangle(0.0, 1.0, 0.0, 1.0)
    conditions = [
        pg.Dirichlet("bottom", 0.0),
        pg.Dirichlet("top", 0.0, components=(0,)),
        pg.Traction("top", top_traction_y, components=(1,)),
        pg.Dirichlet("left", 0.0, components=(1,)),
        pg.Traction("left", 0.0, components=(0,)),
        pg.Dirichlet("right", 0.0, components=(1,)),
        pg.Traction("right", 0.0, components=(0,)),
    ]
    kwargs.setdefault("formulation", pg.StrongForm())  # the tuned path of this case
    return pg.ElasticityProblem(
        geom,
        pg.Material.from_lame(LAM, MU) if material is None else material,
        conditions,
        body_force,
        n_interior=n_interior,
        n_boundary=n_boundary,
        exact=exact,
        **kwargs,
    )


SETTINGS = CaseSettings(
    hidden=CASE_HIDDEN,
    target_error=1e-3,
    config=case_config(),
)


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return case_main(
        "plate_manufactured",
        __doc__,
        SETTINGS,
        lambda args: build_problem(),
        argv,
        error_points=grid,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
