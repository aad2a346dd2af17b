"""Steel plate with a circular hole under uniaxial tension (Kirsch, plane stress).

A thin steel plate (E = 210 GPa, nu = 0.3, plane stress), 200 mm x 200 mm, with a
central hole of radius R = 25 mm, is pulled along x by a remote stress S = 100 MPa.
One quarter, ``[0, W]^2`` minus the disk ``r < R`` (W = 0.1 m), is modelled with

- symmetry (u . n = 0, zero tangential traction) on the cut edges x = 0 and y = 0;
- a traction-free hole;
- on the outer edges x = W and y = W, the exact tractions ``sigma(x) . n`` of the
  infinite plate, so that Kirsch's solution is exact on the finite model.

Reference: Kirsch's solution (G. Kirsch, Z. VDI 42, 1898; Timoshenko and Goodier,
*Theory of Elasticity*, 3rd ed., 1970, chapter 4: the effect of circular holes on
stress distributions in plates), in polar coordinates::

    sigma_rr = S/2 (1 - R^2/r^2) + S/2 (1 - 4 R^2/r^2 + 3 R^4/r^4) cos 2t
    sigma_tt = S/2 (1 + R^2/r^2) - S/2 (1 + 3 R^4/r^4) cos 2t
    sigma_rt = -S/2 (1 + 2 R^2/r^2 - 3 R^4/r^4) sin 2t

and its displacement in Kolosov's form (as in Sukumar et al., CMAME 190, 6183-6200,
2001), free of rigid-body motion, which the symmetry conditions fix; Kolosov's
constant kappa = (3 - nu) / (1 + nu) in plane stress::

    u_x = S R / (8 mu) [(r/R) (kappa + 1) cos t + 2 (R/r) ((1 + kappa) cos t + cos 3t)
                        - 2 (R/r)^3 cos 3t]
    u_y = S R / (8 mu) [(r/R) (kappa - 3) sin t + 2 (R/r) ((1 - kappa) sin t + sin 3t)
                        - 2 (R/r)^3 sin 3t]

Metrics: relative L2 errors of the displacement and of the in-plane stress tensor over
a 101 x 101 grid of the quarter plate (points in the hole dropped); the stress
concentration factor ``scf`` = max sigma_xx / S over 41 points of the hole boundary
with theta in [80, 90] degrees (exact: 3, at 90 degrees) and ``scf_error`` =
|scf - 3| / 3.  Targets: displacement <= 1e-3,
stress <= 1e-2, scf within 1% of 3.

Run ``python cases/plate_with_hole.py --help`` for the options.
"""

from __future__ import annotations

import sys
from functools import partial

import numpy as np

import pinngelu as pg
from pinngelu.app.runner import CASE_HIDDEN, STEEL_E, STEEL_NU, CaseSettings, case_config, case_main

E = STEEL_E
"""Young's modulus (Pa)."""
NU = STEEL_NU
"""Poisson ratio."""
W = 0.1
"""Half-width of the square plate (m)."""
R = 0.025
"""Hole radius (m)."""
S = 100e6
"""Remote tension along x (Pa)."""
MATERIAL = pg.Material.from_E_nu(E, NU)
KAPPA = (3 - NU) / (1 + NU)
"""Kolosov's constant in plane stress."""
SCF_EXACT = 3.0
"""Kirsch's stress concentration factor: sigma_xx / S at the hole, theta = 90 degrees."""


def polar_stress(X: np.ndarray, radius: float = R) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kirsch's stresses ``(sigma_rr, sigma_tt, sigma_rt)`` (Pa) at points ``X`` (N, 2)
    (m) around a hole of ``radius`` (m), each of shape (N,)."""
    R = radius
    r = np.hypot(X[:, 0], X[:, 1])
    t = np.arctan2(X[:, 1], X[:, 0])
    q2, q4 = (R / r) ** 2, (R / r) ** 4
    c2, s2 = np.cos(2 * t), np.sin(2 * t)
    s_rr = 0.5 * S * (1 - q2) + 0.5 * S * (1 - 4 * q2 + 3 * q4) * c2
    s_tt = 0.5 * S * (1 + q2) - 0.5 * S * (1 + 3 * q4) * c2
    s_rt = -0.5 * S * (1 + 2 * q2 - 3 * q4) * s2
    return s_rr, s_tt, s_rt


def exact_stress(X: np.ndarray, radius: float = R) -> np.ndarray:
    """Kirsch's in-plane stress (N, 2, 2) (Pa) in Cartesian components at ``X`` (N, 2)
    (m) around a hole of ``radius`` (m)."""
    s_rr, s_tt, s_rt = polar_stress(X, radius)
    t = np.arctan2(X[:, 1], X[:, 0])
    c, s = np.cos(t), np.sin(t)
    sig = np.empty((X.shape[0], 2, 2))
    sig[:, 0, 0] = s_rr * c * c + s_tt * s * s - 2 * s_rt * s * c
    sig[:, 1, 1] = s_rr * s * s + s_tt * c * c + 2 * s_rt * s * c
    sig[:, 0, 1] = sig[:, 1, 0] = (s_rr - s_tt) * s * c + s_rt * (c * c - s * s)
    return sig


def exact(X: np.ndarray, radius: float = R) -> np.ndarray:
    """Kirsch's displacement (N, 2) (m) at ``X`` (N, 2) (m) around a hole of
    ``radius`` (m), plane stress, with zero rigid-body motion (u_x = 0 on x = 0,
    u_y = 0 on y = 0)."""
    R = radius
    r = np.hypot(X[:, 0], X[:, 1])
    t = np.arctan2(X[:, 1], X[:, 0])
    k = KAPPA
    q1, q3 = R / r, (R / r) ** 3
    f = S * R / (8 * MATERIAL.mu)
    ux = f * (
        (k + 1) * np.cos(t) / q1
        + 2 * q1 * ((1 + k) * np.cos(t) + np.cos(3 * t))
        - 2 * q3 * np.cos(3 * t)
    )
    uy = f * (
        (k - 3) * np.sin(t) / q1
        + 2 * q1 * ((1 - k) * np.sin(t) + np.sin(3 * t))
        - 2 * q3 * np.sin(3 * t)
    )
    return np.stack([ux, uy], axis=1)


def edge_traction(X: np.ndarray, normal: tuple[float, float], radius: float = R) -> np.ndarray:
    """Kirsch's traction ``sigma . n`` (N, 2) (Pa) at ``X`` (N, 2) (m) for a fixed unit
    normal ``n`` and a hole of ``radius`` (m)."""
    return exact_stress(X, radius) @ np.asarray(normal, dtype=float)


def grid(n: int = 101) -> np.ndarray:
    """The n x n grid of ``[0, W]^2`` without the points inside the hole (m)."""
    t = np.linspace(0.0, W, n)
    gx, gy = np.meshgrid(t, t, indexing="ij")
    X = np.stack([gx.ravel(), gy.ravel()], axis=1)
    return X[np.hypot(X[:, 0], X[:, 1]) >= R]


def hole_points(n: int = 41, theta_min_deg: float = 80.0) -> np.ndarray:
    """``n`` points (n, 2) (m) on the hole for theta in [theta_min_deg, 90] degrees."""
    t = np.deg2rad(np.linspace(theta_min_deg, 90.0, n))
    return R * np.stack([np.cos(t), np.sin(t)], axis=1)


TUNED = pg.StrongForm()
"""The formulation of this verification case (its tuned path)."""


def build_problem(
    n_interior: int = 2500, n_boundary: int = 1000, formulation: pg.Formulation | None = TUNED
) -> pg.ElasticityProblem:
    """The problem definition (plane stress).

    Parameters
    ----------
    n_interior, n_boundary : int
        Collocation points in the quarter plate and on its boundary.
    formulation : Formulation, optional
        Default: the strong form of the case; None: the library's default choice (the
        energy formulation: ``benchmarks/untuned.py`` measures the hole's stress with
        it).
    """
    geom = pg.Difference(
        pg.Rectangle(0.0, W, 0.0, W), pg.Disk((0.0, 0.0), R), names={"boundary": "hole"}
    )
    conditions = [
        pg.Symmetry("left"),
        pg.Symmetry("bottom"),
        pg.Traction("hole", 0.0),
        pg.Traction("right", partial(edge_traction, normal=(1.0, 0.0))),
        pg.Traction("top", partial(edge_traction, normal=(0.0, 1.0))),
    ]
    return pg.ElasticityProblem(
        geom,
        MATERIAL,
        conditions,
        plane_stress=True,
        n_interior=n_interior,
        n_boundary=n_boundary,
        exact=exact,
        formulation=formulation,
    )


def extra_metrics(sol: pg.Solution) -> dict:
    """Relative L2 error of the stress over :func:`grid`, and the stress concentration
    factor with its relative error."""
    X = grid()
    sig, sig_e = sol.stress(X), exact_stress(X)
    scf = float(np.max(sol.stress(hole_points())[:, 0, 0]) / S)
    return {
        "rel_l2_stress": float(np.linalg.norm(sig - sig_e) / np.linalg.norm(sig_e)),
        "scf": scf,
        "scf_error": abs(scf - SCF_EXACT) / SCF_EXACT,
    }


SETTINGS = CaseSettings(
    hidden=CASE_HIDDEN,
    config=case_config(),
)


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return case_main(
        "plate_with_hole",
        __doc__,
        SETTINGS,
        lambda args: build_problem(),
        argv,
        error_points=grid,
        extra_metrics=extra_metrics,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
