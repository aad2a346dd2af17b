"""More-Garbow-Hillstrom unconstrained test problems (test and benchmark data).

Not part of the package: ``tests/test_optim.py`` and ``tests/test_curvature_optim.py``
import this module from the
tests folder (pytest puts it on ``sys.path``), and ``benchmarks/optimizers.py``
inserts the tests folder of its checkout on ``sys.path``.

Every problem is a nonlinear least-squares function ``f(x) = sum_i r_i(x)**2`` from

    J. J. More, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained optimization
    software", ACM Trans. Math. Softw. 7(1), 17-41 (1981).

Residuals and Jacobians are coded analytically, so ``fun_grad`` returns the exact value and
gradient ``g = 2 J^T r``. The numbers in parentheses in the docstrings are the problem numbers
of the paper. ``f_min`` is the minimum value reached from the standard starting point; where a
problem has several local minima, the note of the problem says which one that is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["MGHProblem", "PROBLEMS", "get_problem", "problem_names"]

FloatArray = NDArray[np.float64]
ResidualJacobian = Callable[[FloatArray], tuple[FloatArray, FloatArray]]


@dataclass(frozen=True)
class MGHProblem:
    """One More-Garbow-Hillstrom test function.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"rosenbrock"``.
    x0 : ndarray, shape (n,)
        Standard starting point (read-only; copy it before modifying).
    f_min : float
        Known minimum value reached from ``x0`` (see ``note`` for problems with several
        local minima).
    residual_jacobian : callable
        ``residual_jacobian(x) -> (r, J)`` with ``r`` of shape (m,) and ``J`` of shape (m, n).
    note : str
        Remarks on the minimiser, e.g. which local minimum is expected from ``x0``.
    """

    name: str
    x0: FloatArray
    f_min: float
    residual_jacobian: ResidualJacobian = field(repr=False)
    note: str = ""

    def __post_init__(self) -> None:
        x0 = np.array(self.x0, dtype=np.float64)
        x0.flags.writeable = False
        object.__setattr__(self, "x0", x0)

    @property
    def n(self) -> int:
        """Number of variables."""
        return int(self.x0.shape[0])

    def residuals(self, x: FloatArray) -> FloatArray:
        """Residual vector ``r(x)``, shape (m,)."""
        return self.residual_jacobian(np.asarray(x, dtype=np.float64))[0]

    def fun(self, x: FloatArray) -> float:
        """Objective value ``f(x) = r(x) . r(x)``."""
        r = self.residuals(x)
        return float(r @ r)

    def fun_grad(self, x: FloatArray) -> tuple[float, FloatArray]:
        """Objective value and analytic gradient.

        Parameters
        ----------
        x : ndarray, shape (n,)

        Returns
        -------
        f : float
        g : ndarray, shape (n,)
        """
        r, jac = self.residual_jacobian(np.asarray(x, dtype=np.float64))
        return float(r @ r), 2.0 * (jac.T @ r)


def _rosenbrock(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    r = np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])
    jac = np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]])
    return r, jac


def _freudenstein_roth(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2 = x
    r = np.array(
        [
            -13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2,
            -29.0 + x1 + ((x2 + 1.0) * x2 - 14.0) * x2,
        ]
    )
    jac = np.array(
        [
            [1.0, (10.0 - 3.0 * x2) * x2 - 2.0],
            [1.0, (3.0 * x2 + 2.0) * x2 - 14.0],
        ]
    )
    return r, jac


def _powell_badly_scaled(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2 = x
    e1, e2 = np.exp(-x1), np.exp(-x2)
    r = np.array([1.0e4 * x1 * x2 - 1.0, e1 + e2 - 1.0001])
    jac = np.array([[1.0e4 * x2, 1.0e4 * x1], [-e1, -e2]])
    return r, jac


def _brown_badly_scaled(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2 = x
    r = np.array([x1 - 1.0e6, x2 - 2.0e-6, x1 * x2 - 2.0])
    jac = np.array([[1.0, 0.0], [0.0, 1.0], [x2, x1]])
    return r, jac


_BEALE_Y = np.array([1.5, 2.25, 2.625])


def _beale(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2 = x
    i = np.arange(1, 4, dtype=np.float64)
    r = _BEALE_Y - x1 * (1.0 - x2**i)
    jac = np.column_stack([-(1.0 - x2**i), x1 * i * x2 ** (i - 1.0)])
    return r, jac


def _helical_valley(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2, x3 = x
    if x1 > 0.0:
        theta = np.arctan(x2 / x1) / (2.0 * np.pi)
    elif x1 < 0.0:
        theta = np.arctan(x2 / x1) / (2.0 * np.pi) + 0.5
    else:
        theta = 0.25 if x2 >= 0.0 else -0.25
    rho2 = x1 * x1 + x2 * x2
    rho = np.sqrt(rho2)
    dtheta1 = -x2 / (2.0 * np.pi * rho2)
    dtheta2 = x1 / (2.0 * np.pi * rho2)
    r = np.array([10.0 * (x3 - 10.0 * theta), 10.0 * (rho - 1.0), x3])
    jac = np.array(
        [
            [-100.0 * dtheta1, -100.0 * dtheta2, 10.0],
            [10.0 * x1 / rho, 10.0 * x2 / rho, 0.0],
            [0.0, 0.0, 1.0],
        ]
    )
    return r, jac


_BARD_Y = np.array(
    [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]
)


def _bard(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2, x3 = x
    u = np.arange(1, 16, dtype=np.float64)
    v = 16.0 - u
    w = np.minimum(u, v)
    den = v * x2 + w * x3
    r = _BARD_Y - (x1 + u / den)
    jac = np.column_stack([-np.ones_like(u), u * v / den**2, u * w / den**2])
    return r, jac


_GAUSSIAN_Y = np.array(
    [
        0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989,
        0.3521, 0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009,
    ]
)  # fmt: skip


def _gaussian(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2, x3 = x
    t = (8.0 - np.arange(1, 16, dtype=np.float64)) / 2.0
    dt = t - x3
    e = np.exp(-0.5 * x2 * dt * dt)
    r = x1 * e - _GAUSSIAN_Y
    jac = np.column_stack([e, -0.5 * x1 * e * dt * dt, x1 * e * x2 * dt])
    return r, jac


def _box3d(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2, x3 = x
    t = 0.1 * np.arange(1, 11, dtype=np.float64)
    e1, e2 = np.exp(-t * x1), np.exp(-t * x2)
    c = np.exp(-t) - np.exp(-10.0 * t)
    r = e1 - e2 - x3 * c
    jac = np.column_stack([-t * e1, t * e2, -c])
    return r, jac


def _powell_singular(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2, x3, x4 = x
    s5, s10 = np.sqrt(5.0), np.sqrt(10.0)
    a, b = x2 - 2.0 * x3, x1 - x4
    r = np.array([x1 + 10.0 * x2, s5 * (x3 - x4), a * a, s10 * b * b])
    jac = np.array(
        [
            [1.0, 10.0, 0.0, 0.0],
            [0.0, 0.0, s5, -s5],
            [0.0, 2.0 * a, -4.0 * a, 0.0],
            [2.0 * s10 * b, 0.0, 0.0, -2.0 * s10 * b],
        ]
    )
    return r, jac


def _wood(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    x1, x2, x3, x4 = x
    s90, s10 = np.sqrt(90.0), np.sqrt(10.0)
    r = np.array(
        [
            10.0 * (x2 - x1 * x1),
            1.0 - x1,
            s90 * (x4 - x3 * x3),
            1.0 - x3,
            s10 * (x2 + x4 - 2.0),
            (x2 - x4) / s10,
        ]
    )
    jac = np.array(
        [
            [-20.0 * x1, 10.0, 0.0, 0.0],
            [-1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, -2.0 * s90 * x3, s90],
            [0.0, 0.0, -1.0, 0.0],
            [0.0, s10, 0.0, s10],
            [0.0, 1.0 / s10, 0.0, -1.0 / s10],
        ]
    )
    return r, jac


def _watson(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    n = x.shape[0]
    t = np.arange(1, 30, dtype=np.float64) / 29.0
    powers = t[:, None] ** np.arange(n, dtype=np.float64)[None, :]  # t^(j-1), j = 1..n
    j = np.arange(1, n + 1, dtype=np.float64)
    dpow = np.zeros_like(powers)  # (j-1) t^(j-2)
    dpow[:, 1:] = (j[1:] - 1.0)[None, :] * powers[:, :-1]
    s = powers @ x
    r_fit = dpow @ x - s * s - 1.0
    jac_fit = dpow - 2.0 * s[:, None] * powers
    r = np.concatenate([r_fit, [x[0], x[1] - x[0] ** 2 - 1.0]])
    extra = np.zeros((2, n))
    extra[0, 0] = 1.0
    extra[1, 0] = -2.0 * x[0]
    extra[1, 1] = 1.0
    return r, np.vstack([jac_fit, extra])


def _extended_rosenbrock(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    n = x.shape[0]
    odd, even = x[0::2], x[1::2]
    r = np.empty(n)
    r[0::2] = 10.0 * (even - odd * odd)
    r[1::2] = 1.0 - odd
    jac = np.zeros((n, n))
    k = np.arange(0, n, 2)
    jac[k, k] = -20.0 * odd
    jac[k, k + 1] = 10.0
    jac[k + 1, k] = -1.0
    return r, jac


def _penalty1(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    n = x.shape[0]
    sa = np.sqrt(1.0e-5)
    r = np.concatenate([sa * (x - 1.0), [x @ x - 0.25]])
    jac = np.vstack([sa * np.eye(n), 2.0 * x[None, :]])
    return r, jac


def _variably_dimensioned(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    n = x.shape[0]
    j = np.arange(1, n + 1, dtype=np.float64)
    s = j @ (x - 1.0)
    r = np.concatenate([x - 1.0, [s, s * s]])
    jac = np.vstack([np.eye(n), j[None, :], 2.0 * s * j[None, :]])
    return r, jac


def _trigonometric(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    n = x.shape[0]
    i = np.arange(1, n + 1, dtype=np.float64)
    c, s = np.cos(x), np.sin(x)
    r = n - c.sum() + i * (1.0 - c) - s
    jac = np.tile(s, (n, 1))
    jac[np.arange(n), np.arange(n)] += i * s - c
    return r, jac


def _build_problems() -> dict[str, MGHProblem]:
    problems = [
        MGHProblem("rosenbrock", np.array([-1.2, 1.0]), 0.0, _rosenbrock, "(1) minimiser (1, 1)."),
        MGHProblem(
            "freudenstein_roth",
            np.array([0.5, -2.0]),
            48.98425367924000,
            _freudenstein_roth,
            "(2) global minimum 0 at (5, 4); from the standard start gradient methods "
            "(scipy's L-BFGS-B included) reach the local minimum 48.9842536792400 at "
            "(11.4128, -0.896805), which is the value stored in f_min.",
        ),
        MGHProblem(
            "powell_badly_scaled",
            np.array([0.0, 1.0]),
            0.0,
            _powell_badly_scaled,
            "(3) minimiser (1.098159e-5, 9.106146).",
        ),
        MGHProblem(
            "brown_badly_scaled",
            np.array([1.0, 1.0]),
            0.0,
            _brown_badly_scaled,
            "(4) minimiser (1e6, 2e-6).",
        ),
        MGHProblem("beale", np.array([1.0, 1.0]), 0.0, _beale, "(5) minimiser (3, 0.5)."),
        MGHProblem(
            "helical_valley",
            np.array([-1.0, 0.0, 0.0]),
            0.0,
            _helical_valley,
            "(7) minimiser (1, 0, 0).",
        ),
        MGHProblem(
            "bard",
            np.array([1.0, 1.0, 1.0]),
            8.21487730657897e-3,
            _bard,
            "(8) minimum 8.21487e-3; a second, non-attained infimum 17.4286 lies at "
            "x2, x3 -> -inf.",
        ),
        MGHProblem(
            "gaussian",
            np.array([0.4, 1.0, 0.0]),
            1.12793276962e-8,
            _gaussian,
            "(9) minimum 1.12793e-8.",
        ),
        MGHProblem(
            "box3d",
            np.array([0.0, 10.0, 20.0]),
            0.0,
            _box3d,
            "(12) with m = 10; minimisers (1, 10, 1), (10, 1, -1) and the line x1 = x2, x3 = 0.",
        ),
        MGHProblem(
            "powell_singular",
            np.array([3.0, -1.0, 0.0, 1.0]),
            0.0,
            _powell_singular,
            "(13) minimiser 0; the Hessian is singular there, so convergence is linear.",
        ),
        MGHProblem(
            "wood", np.array([-3.0, -1.0, -3.0, -1.0]), 0.0, _wood, "(14) minimiser (1, 1, 1, 1)."
        ),
        MGHProblem(
            "watson6",
            np.zeros(6),
            2.28767005355238e-3,
            _watson,
            "(20) with n = 6: minimum 2.28767e-3.",
        ),
        MGHProblem(
            "extended_rosenbrock100",
            np.tile([-1.2, 1.0], 50),
            0.0,
            _extended_rosenbrock,
            "(21) with n = 100; minimiser (1, ..., 1).",
        ),
        MGHProblem(
            "penalty1_10",
            np.arange(1.0, 11.0),
            7.08765146709037e-5,
            _penalty1,
            "(23) with n = 10: minimum 7.08765e-5.",
        ),
        MGHProblem(
            "variably_dimensioned10",
            1.0 - np.arange(1.0, 11.0) / 10.0,
            0.0,
            _variably_dimensioned,
            "(25) with n = 10; minimiser (1, ..., 1).",
        ),
        MGHProblem(
            "trigonometric10",
            np.full(10, 0.1),
            2.79505612187774e-5,
            _trigonometric,
            "(26) with n = 10: global minimum 0, but from the standard start gradient methods "
            "(scipy's L-BFGS-B included) reach the local minimum 2.79506e-5, which is the "
            "value stored in f_min.",
        ),
    ]
    return {p.name: p for p in problems}


PROBLEMS: dict[str, MGHProblem] = _build_problems()
"""All problems, keyed by name."""


def problem_names() -> list[str]:
    """Names of all problems, in the order of the paper."""
    return list(PROBLEMS)


def get_problem(name: str) -> MGHProblem:
    """Look up a problem by name.

    Parameters
    ----------
    name : str
        One of :func:`problem_names`.

    Returns
    -------
    MGHProblem
    """
    try:
        return PROBLEMS[name]
    except KeyError:
        raise KeyError(f"unknown MGH problem {name!r}; known: {problem_names()}") from None
