"""Williams' corner singularities of plane elasticity.

Near the apex of a wedge of opening ``angle`` (the material in
``0 <= theta <= angle``) whose two sides are traction free or clamped, the displacement
is a sum of terms ``r^lam f(theta)``: the Williams modes.  Their exponents ``lam`` are the
roots of the determinant of the 4 x 4 system of the boundary conditions on both sides;
an exponent with ``0 < Re(lam) < 1`` makes the stress (``~ r^(lam - 1)``) infinite at the
apex, and the coefficients of these modes in a solution are its generalised stress
intensity factors.

The general solution with ``u ~ r^lam`` comes from the Kolosov-Muskhelishvili potentials
``phi = A z^lam``, ``psi = B z^lam``; with ``alpha = (lam - 1) theta`` and
``beta = (lam + 1) theta``, and four coefficients ``c``, it reads (``mu = 1``, up to the
factor ``1/2``)::

    u_r     = (kappa - lam)(c1 cos alpha - c2 sin alpha) - c3 cos beta - c4 sin beta
    u_theta = (kappa + lam)(c1 sin alpha + c2 cos alpha) + c3 sin beta - c4 cos beta

and the tractions on a ray ``theta = const`` are, divided by ``lam r^(lam - 1)``::

    s_tt = (lam + 1)(c1 cos alpha - c2 sin alpha) + c3 cos beta + c4 sin beta
    s_rt = (lam - 1)(c1 sin alpha + c2 cos alpha) + c3 sin beta - c4 cos beta

All of these are analytic in ``lam``: for a complex exponent the complex field is a
solution, and its real and imaginary parts are two real modes.  See the theory page,
section "Singular points and Williams exponents".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = [
    "IMAG_MAX",
    "Side",
    "WilliamsMode",
    "characteristic",
    "exponents",
    "kolosov",
    "modes",
    "wedge_polar",
]

Side = Literal["free", "clamped"]
"""A side of the wedge: ``"free"`` (traction free) or ``"clamped"`` (``u = 0``)."""

#: The exponents are searched in ``0 < Re(lam) < below``, ``|Im(lam)| < IMAG_MAX``.
IMAG_MAX = 3.0
#: Left edge of the searched rectangle: no exponent of these wedges has a smaller real
#: part (the smallest over all angles is 1/4, the clamped-free crack).
RE_MIN = 1e-2
#: Exponents within this distance of 1 are left out (at ``lam = 1`` every field
#: ``r f(theta)`` is linear: a rigid rotation or a uniform strain, never singular).
TRIVIAL_TOL = 1e-8
#: Spacing of the starting points of Newton's method in the complex plane.
_GRID = 0.1
#: Relative singular-value tolerance of the null space of the boundary matrix.
NULL_RTOL = 1e-7
_SIDES = ("free", "clamped")
_EPS = np.finfo(float).eps


# --------------------------------------------------------------------- material
def kolosov(nu: float, plane_stress: bool) -> float:
    """Kolosov's constant.

    Parameters
    ----------
    nu : float
        Poisson's ratio, in ``(-1, 0.5)``.
    plane_stress : bool
        Plane stress (``(3 - nu) / (1 + nu)``) or plane strain (``3 - 4 nu``).

    Returns
    -------
    float
        ``kappa`` (dimensionless, > 1).
    """
    nu = float(nu)
    if not (np.isfinite(nu) and -1.0 < nu < 0.5):
        raise ValueError(f"Poisson's ratio must lie in (-1, 0.5), got {nu}")
    return (3.0 - nu) / (1.0 + nu) if plane_stress else 3.0 - 4.0 * nu


def _check_wedge(angle: float, sides) -> tuple[float, tuple[str, str]]:
    angle = float(angle)
    if not (np.isfinite(angle) and 0.0 < angle <= 2.0 * np.pi * (1.0 + 1e-12)):
        raise ValueError(f"the wedge angle must lie in (0, 2 pi] (radians), got {angle}")
    sides = tuple(sides)
    if len(sides) != 2 or any(s not in _SIDES for s in sides):
        raise ValueError(f"sides must be two of {_SIDES}, got {sides!r}")
    return min(angle, 2.0 * np.pi), sides  # type: ignore[return-value]


def _check_kappa(kappa: float) -> float:
    kappa = float(kappa)
    if not (np.isfinite(kappa) and kappa > 1.0):
        raise ValueError(f"Kolosov's constant must be finite and > 1, got {kappa}")
    return kappa


# ---------------------------------------------------------- angular functions
def _rows(lam: np.ndarray, theta: float, side: str, kappa: float) -> np.ndarray:
    """The two boundary-condition rows ``(n, 2, 4)`` of ``side`` on the ray ``theta``
    for the exponents ``lam (n,)``: tractions ``(s_tt, s_rt) / (lam r^(lam-1))`` of a
    free side, displacements ``(u_r, u_theta)`` (times ``2 mu``) of a clamped one."""
    a, b = (lam - 1.0) * theta, (lam + 1.0) * theta
    ca, sa, cb, sb = np.cos(a), np.sin(a), np.cos(b), np.sin(b)
    if side == "free":
        r1 = [(lam + 1.0) * ca, -(lam + 1.0) * sa, cb, sb]
        r2 = [(lam - 1.0) * sa, (lam - 1.0) * ca, sb, -cb]
    else:
        r1 = [(kappa - lam) * ca, -(kappa - lam) * sa, -cb, -sb]
        r2 = [(kappa + lam) * sa, (kappa + lam) * ca, sb, -cb]
    return np.stack([np.stack(r1, axis=-1), np.stack(r2, axis=-1)], axis=-2)


def _matrix(lam, angle: float, sides, kappa: float) -> np.ndarray:
    """The boundary matrix ``M(lam)`` ``(..., 4, 4)``: rows of side ``a`` at
    ``theta = 0``, then of side ``b`` at ``theta = angle``; columns ``c1..c4``."""
    lam = np.asarray(lam, dtype=complex)
    flat = lam.reshape(-1)
    M = np.concatenate(
        [_rows(flat, 0.0, sides[0], kappa), _rows(flat, angle, sides[1], kappa)], axis=-2
    )
    return M.reshape(lam.shape + (4, 4))


def _polar(lam: complex, theta: np.ndarray, kappa: float) -> tuple[np.ndarray, ...]:
    """The polar components of the four basis fields at ``r = 1`` and their
    ``theta``-derivatives: ``Fr, Ft, dFr, dFt``, each ``(n, 4)``."""
    theta = np.asarray(theta, dtype=float)[:, None]
    a, b = (lam - 1.0) * theta, (lam + 1.0) * theta
    ca, sa, cb, sb = np.cos(a), np.sin(a), np.cos(b), np.sin(b)
    km, kp, lm, lp = kappa - lam, kappa + lam, lam - 1.0, lam + 1.0
    Fr = np.concatenate([km * ca, -km * sa, -cb, -sb], axis=1)
    Ft = np.concatenate([kp * sa, kp * ca, sb, -cb], axis=1)
    dFr = np.concatenate([-km * lm * sa, -km * lm * ca, lp * sb, -lp * cb], axis=1)
    dFt = np.concatenate([kp * lm * ca, -kp * lm * sa, lp * cb, lp * sb], axis=1)
    return Fr, Ft, dFr, dFt


def _angular(
    lam: complex, c: np.ndarray, theta: np.ndarray, kappa: float
) -> tuple[np.ndarray, np.ndarray]:
    """The complex Cartesian field ``G (n, 2)`` at ``r = 1`` (``u = r^lam G(theta)``)
    and ``dG/dtheta (n, 2)``."""
    Fr, Ft, dFr, dFt = (F @ c for F in _polar(lam, theta, kappa))
    ct, st = np.cos(theta), np.sin(theta)
    G = np.stack([ct * Fr - st * Ft, st * Fr + ct * Ft], axis=1)
    dG = np.stack(
        [ct * dFr - st * dFt - st * Fr - ct * Ft, st * dFr + ct * dFt + ct * Fr - st * Ft],
        axis=1,
    )
    return G, dG


# ------------------------------------------------------------- determinant
def characteristic(lam: complex, angle: float, sides: tuple[Side, Side], kappa: float) -> complex:
    """The characteristic function of the wedge: ``det M(lam)``.

    ``M(lam)`` is the 4 x 4 matrix of the boundary conditions on ``theta = 0`` (side
    ``a``) and ``theta = angle`` (side ``b``) for the fields ``u = r^lam f(theta)``
    (module docstring; traction rows divided by ``lam``).  It is an entire function of
    ``lam``, real on the real axis, and equals the closed forms

    - free-free: ``4 (sin^2(lam angle) - lam^2 sin^2(angle))``;
    - clamped-clamped: ``4 (kappa^2 sin^2(lam angle) - lam^2 sin^2(angle))``;
    - clamped-free (either order):
      ``4 lam^2 sin^2(angle) - kappa^2 - 1 - 2 kappa cos(2 lam angle)``.

    Parameters
    ----------
    lam : complex
        The exponent of the displacement (dimensionless); an array gives an array.
    angle : float
        Wedge angle (rad), in ``(0, 2 pi]``.
    sides : (Side, Side)
        The conditions on side ``a`` (``theta = 0``) and side ``b`` (``theta = angle``).
    kappa : float
        Kolosov's constant (:func:`kolosov`).

    Returns
    -------
    complex
        ``det M(lam)`` (dimensionless), zero at the exponents (and at the trivial
        ``lam = 0``, translations, and ``lam = 1``, rigid rotations of free sides).
    """
    angle, sides = _check_wedge(angle, sides)
    kappa = _check_kappa(kappa)
    d = np.linalg.det(_matrix(lam, angle, sides, kappa))
    return complex(d) if np.ndim(d) == 0 else d


def _noise(lam, angle, sides, kappa) -> np.ndarray:
    """Rounding level of ``det M(lam)``: a multiple of eps times Hadamard's bound."""
    M = _matrix(lam, angle, sides, kappa)
    return 64.0 * _EPS * np.prod(np.linalg.norm(M, axis=-1), axis=-1)


# -------------------------------------------------------------- root finding
def _derivatives(f: Callable, z: complex, rho: float, n: int, k: int = 32) -> np.ndarray:
    """The Taylor coefficients ``a_0..a_{n}`` of ``f`` at ``z`` (Cauchy's formula on a
    circle of radius ``rho`` with ``k`` points)."""
    w = np.exp(2j * np.pi * np.arange(k) / k)
    v = f(z + rho * w)
    return np.array([np.mean(v * w**-j) / rho**j for j in range(n + 1)])


def _winding(f: Callable, z: np.ndarray, max_points: int = 400_000) -> int:
    """The winding number of ``f`` along the closed polygon through ``z`` (first point
    not repeated): the number of zeros inside, by the argument principle.  Segments
    where the phase turns by more than 0.5 rad are subdivided."""
    z = np.append(np.asarray(z, dtype=complex), z[0])
    v = f(z)
    for _ in range(60):
        if not np.all(np.isfinite(v)) or np.any(v == 0):
            raise RuntimeError("the characteristic function vanishes on a search contour")
        d = np.angle(v[1:] / v[:-1])
        bad = np.flatnonzero(np.abs(d) > 0.5)
        if bad.size == 0:
            w = d.sum() / (2.0 * np.pi)
            if abs(w - round(w)) > 1e-3:  # pragma: no cover - guarded by the refinement
                raise RuntimeError("the winding number of a search contour is not integral")
            return int(round(w))
        if z.size + bad.size > max_points:
            break
        zm = 0.5 * (z[bad] + z[bad + 1])
        z = np.insert(z, bad + 1, zm)
        v = np.insert(v, bad + 1, f(zm))
    raise RuntimeError(
        "a zero of the characteristic function lies on or too close to a search contour"
    )


def _rectangle(x0: float, x1: float, y0: float, y1: float, h: float) -> np.ndarray:
    """The counter-clockwise boundary of a rectangle, sampled at spacing ``<= h``."""
    nx, ny = max(int(np.ceil((x1 - x0) / h)), 4), max(int(np.ceil((y1 - y0) / h)), 4)
    xs, ys = np.linspace(x0, x1, nx + 1), np.linspace(y0, y1, ny + 1)
    return np.concatenate(
        [xs[:-1] + 1j * y0, x1 + 1j * ys[:-1], xs[::-1][:-1] + 1j * y1, x0 + 1j * ys[::-1][:-1]]
    )


def _circle(z: complex, rho: float, k: int = 64) -> np.ndarray:
    return z + rho * np.exp(2j * np.pi * np.arange(k) / k)


def _newton(f: Callable, z: np.ndarray, box, iters: int = 60) -> np.ndarray:
    """Damped Newton's method from every point of ``z``; returns the points that
    settled inside ``box = (x0, x1, y0, y1)`` (enlarged by one grid step)."""
    x0, x1, y0, y1 = box
    h = 1e-4
    z = np.asarray(z, dtype=complex).copy()
    step = np.full(z.shape, np.inf, dtype=complex)
    alive = np.ones(z.shape, dtype=bool)
    for _ in range(iters):
        zi = z[alive]
        v = f(zi[None, :] + np.array([0.0, h, -h, 1j * h, -1j * h])[:, None])
        fz, df = v[0], (v[1] - v[2] - 1j * v[3] + 1j * v[4]) / (4.0 * h)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = fz / df
        s = np.where(np.isfinite(s), s, 0.0)
        big = np.abs(s) > 0.25
        s[big] *= 0.25 / np.abs(s[big])
        z[alive] = zi - s
        step[alive] = s
        out = (
            (z.real < x0 - _GRID)
            | (z.real > x1 + _GRID)
            | (z.imag < y0 - _GRID)
            | (z.imag > y1 + _GRID)
        )
        alive &= ~out
        alive &= np.abs(step) > 1e-14 * (1.0 + np.abs(z))
        if not alive.any():
            break
    ok = (np.abs(step) < 1e-6 * (1.0 + np.abs(z))) & np.isfinite(z)
    ok &= (z.real >= x0 - _GRID) & (z.real <= x1 + _GRID)
    ok &= (z.imag >= y0 - _GRID) & (z.imag <= y1 + _GRID)
    return z[ok]


def _cluster(z: np.ndarray, tol: float) -> list[complex]:
    """Representatives of the points of ``z`` closer than ``tol`` (relative)."""
    out: list[complex] = []
    for p in z[np.argsort(z.real + 1e-3 * z.imag)]:
        if not any(abs(p - q) <= tol * (1.0 + abs(q)) for q in out):
            out.append(complex(p))
    return out


def _refine(f: Callable, noise: Callable, smat: Callable, z: complex, m: int, rho: float):
    """Accurate roots of the cluster of ``m`` roots around ``z`` (within ``rho``).

    ``m = 1``: Newton's method.  ``m = 2``: Newton's method on ``f'`` gives the centre of
    the pair; a double root (the boundary matrix has a two-dimensional null space there,
    or ``f`` vanishes within rounding) is returned twice, otherwise the two roots of the
    local quadratic model, polished by Newton's method."""
    r = min(rho, 1e-2)

    def newton1(p: complex) -> complex:
        for _ in range(50):
            a = _derivatives(f, p, 0.25 * r, 1)
            s = a[0] / a[1]
            p -= s
            if abs(s) <= 4 * _EPS * (1.0 + abs(p)):
                break
        return p

    if m == 1:
        return [newton1(z)]
    if m != 2:
        raise RuntimeError(f"a zero of multiplicity {m} of the characteristic function near {z}")
    c = z
    for _ in range(50):
        a = _derivatives(f, c, 0.5 * r, 2)
        s = a[1] / (2.0 * a[2])
        c -= s
        if abs(s) <= 4 * _EPS * (1.0 + abs(c)):
            break
    if z.imag == 0:  # f is real on the real axis: so is the centre of a pair there
        c = complex(c.real, 0.0)
    a = _derivatives(f, c, 0.5 * r, 2)
    sv = smat(c)
    if sv[2] <= NULL_RTOL * sv[0] or abs(a[0]) <= 16.0 * noise(c):
        return [c, c]
    d = np.sqrt(-a[0] / a[2])
    p, q = newton1(c + d), newton1(c - d)
    if abs(p - q) <= 0.1 * abs(d):  # both went to one root: a double root within noise
        return [c, c]
    if z.imag == 0 and abs(p.imag) > 1e-12 * (1.0 + abs(p)):
        q = p.conjugate()
    return [p, q]


def _roots(angle: float, sides, kappa: float, below: float) -> list[complex]:
    """All zeros of ``det M`` in ``RE_MIN <= Re < below + margin``,
    ``|Im| < IMAG_MAX``, with multiplicity; one of each conjugate pair (``Im > 0``)."""

    def f(z):
        return np.linalg.det(_matrix(z, angle, sides, kappa))

    def noise(z):
        return float(_noise(z, angle, sides, kappa))

    def smat(z):
        M = _matrix(z, angle, sides, kappa)
        M = M / np.linalg.norm(M, axis=1, keepdims=True)
        return np.linalg.svd(M, compute_uv=False)

    x0 = min(RE_MIN, 0.5 * below)
    H = IMAG_MAX
    # the right edge a little beyond ``below``; moved if a zero lies on the contour
    for shift in (0.0137, 0.0291, 0.0419):
        x1 = below + shift * max(1.0, below)
        try:
            total = _winding(f, _rectangle(x0, x1, -H, H, 0.02))
            break
        except RuntimeError:
            continue
    else:  # pragma: no cover
        raise RuntimeError("could not place a search contour free of zeros")

    spacing = _GRID
    roots: list[complex] = []  # every zero found, with multiplicity, conjugates included
    for _ in range(5):
        # Newton's method on f deflated by the zeros found so far
        R = np.asarray(roots, dtype=complex)

        def g(z, R=R):
            return f(z) / np.prod(z[..., None] - R, axis=-1)

        xs = np.arange(x0 + 0.5 * spacing, x1 + spacing, spacing)
        ys = np.arange(0.0, H, spacing)
        z = _newton(g, (xs[None, :] + 1j * ys[:, None]).ravel(), (x0, x1, 0.0, H))
        z = z.real + 1j * np.abs(z.imag)
        z = z[(z.real > x0) & (z.real < x1) & (z.imag < H)]
        cands = [
            p for p in _cluster(z, 1e-6) if all(abs(p - q) > 1e-6 * (1.0 + abs(q)) for q in roots)
        ]
        for k, p in enumerate(cands):
            if p.imag < 1e-6:
                p = complex(p.real, 0.0)
            near = [abs(p - q) for j, q in enumerate(cands) if j != k]
            near += [abs(p - q) for q in roots]
            rho = min([1e-4, 0.4 * min(near, default=1.0)] + ([0.5 * p.imag] if p.imag else []))
            m = _winding(f, _circle(p, rho))
            if m == 0:
                continue
            for q in _refine(f, noise, smat, p, m, rho):
                if abs(q.imag) <= 1e-12 * (1.0 + abs(q)):
                    roots.append(complex(q.real, 0.0))
                elif p.imag == 0:  # a conjugate pair from a cluster on the real axis
                    roots.append(q)
                else:
                    roots += [q, q.conjugate()]
        if len(roots) == total:
            break
        spacing *= 0.5
    else:
        raise RuntimeError(
            f"found {len(roots)} of the {total} zeros of the characteristic function in "
            f"the search rectangle (angle {angle}, sides {sides}, kappa {kappa})"
        )
    # a conjugate pair is listed once (Im > 0); a double root twice
    return [q for q in roots if q.imag >= 0.0]


def exponents(
    angle: float,
    sides: tuple[Side, Side] = ("free", "free"),
    nu: float = 0.3,
    plane_stress: bool = False,
    below: float = 1.0,
) -> np.ndarray:
    """The Williams exponents of a wedge.

    Parameters
    ----------
    angle : float
        Wedge angle (rad), in ``(0, 2 pi]`` (``2 pi``: a crack, or a rigid line when
        both sides are clamped).
    sides : (Side, Side)
        Conditions on side ``a`` (``theta = 0``) and side ``b`` (``theta = angle``).
    nu : float
        Poisson's ratio (the exponents of a free-free wedge do not depend on it).
    plane_stress : bool
        Plane stress or plane strain (through Kolosov's constant).
    below : float
        Upper bound of the real parts (exclusive).

    Returns
    -------
    ndarray (k,), complex
        The exponents ``lam`` of the displacement ``u ~ r^lam`` (dimensionless; the stress
        is ``~ r^(lam - 1)``) with ``0 < Re(lam) < below`` and ``|Im(lam)| < IMAG_MAX``
        (searched from ``Re(lam) = RE_MIN`` on: no wedge of these conditions has a
        smaller one), sorted by real part, then imaginary part.  A complex-conjugate pair is listed
        once (``Im > 0``); a double root (e.g. ``lam = 1/2`` of the crack: modes I and
        II) twice.  ``lam = 1`` (rigid rotations and uniform strains) is left out.

    Raises
    ------
    RuntimeError
        If the root finder cannot account for every zero in its search rectangle
        (counted by the argument principle).
    """
    angle, sides = _check_wedge(angle, sides)
    kappa = kolosov(nu, plane_stress)
    below = float(below)
    if not (np.isfinite(below) and below > 0.0):
        raise ValueError(f"below must be finite and > 0, got {below}")
    lam = np.array(_roots(angle, sides, kappa, below), dtype=complex)
    keep = (lam.real > 0.0) & (lam.real < below - 1e-9) & (np.abs(lam - 1.0) > TRIVIAL_TOL)
    lam = lam[keep]
    return lam[np.lexsort((lam.imag, lam.real))]


# -------------------------------------------------------------------- modes
def wedge_polar(X: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Polar coordinates ``(r, theta)`` of points ``X (N, 2)`` in a wedge's local frame
    (side ``a`` along ``theta = 0``); the angle on the branch centred on the bisector,
    in ``[angle / 2 - pi, angle / 2 + pi)``, so that fields are smooth across both
    sides (the cut lies outside the material, on the crack itself when
    ``angle = 2 pi``)."""
    r = np.hypot(X[:, 0], X[:, 1])
    t = np.arctan2(X[:, 1], X[:, 0])
    lo = 0.5 * angle - np.pi
    return r, np.where(t < lo, t + 2.0 * np.pi, t)


@dataclass(frozen=True, eq=False)
class WilliamsMode:
    """One Williams mode ``u = part(r^lam G(theta))`` of a wedge.

    Attributes
    ----------
    exponent : complex
        ``lam``: ``u ~ r^lam``, stress ``~ r^(lam - 1)``.
    part : str
        ``"real"`` or ``"imag"``: the real or the imaginary part of the complex field of
        a complex exponent (``"real"`` for a real exponent).
    angle : float
        Wedge angle (rad).
    sides : (Side, Side)
        Conditions on side ``a`` (``theta = 0``) and side ``b`` (``theta = angle``).
    kappa : float
        Kolosov's constant.
    coefficients : ndarray (4,), complex
        The coefficients ``c1..c4`` of the angular functions (module docstring), scaled
        so that the mode is normalised.
    """

    exponent: complex
    part: str
    angle: float
    sides: tuple[Side, Side]
    kappa: float
    coefficients: np.ndarray

    def _take(self, z: np.ndarray) -> np.ndarray:
        return z.imag.copy() if self.part == "imag" else z.real.copy()

    def _theta(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return wedge_polar(X, self.angle)

    def displacement(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The displacement and its gradient.

        Parameters
        ----------
        X : ndarray (N, 2)
            Points in the local frame of the wedge (length units of the caller): the
            apex at the origin, side ``a`` along ``+x``, the material counter-clockwise
            up to side ``b`` at ``theta = angle``.  Points outside the wedge get the
            analytic continuation of the field (branch cut on the bisector of the
            exterior angle).

        Returns
        -------
        u : ndarray (N, 2)
            Displacement, normalised so that ``max |u(r = 1, theta)| = 1`` over
            ``[0, angle]`` (independent of the shear modulus); 0 at the apex.
        du : ndarray (N, 2, 2)
            ``du[p, i, j] = d u_i / d x_j``; ``~ r^(lam - 1)``, set to 0 at the apex.
        """
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"points must have shape (N, 2), got {X.shape}")
        lam = complex(self.exponent)
        r, t = self._theta(X)
        G, dG = _angular(lam, self.coefficients, t, self.kappa)
        pos = r > 0.0
        lr = np.log(np.where(pos, r, 1.0))
        rl = np.where(pos, np.exp(lam * lr), 0.0)
        rl1 = np.where(pos, np.exp((lam - 1.0) * lr), 0.0)
        ct, st = np.cos(t)[:, None], np.sin(t)[:, None]
        u = self._take(rl[:, None] * G)
        du = np.empty((X.shape[0], 2, 2))
        du[:, :, 0] = self._take(rl1[:, None] * (lam * ct * G - st * dG))
        du[:, :, 1] = self._take(rl1[:, None] * (lam * st * G + ct * dG))
        return u, du

    def stress(self, X: np.ndarray, mu: float, lam_eff: float) -> np.ndarray:
        """The stress of the mode by Hooke's law.

        Parameters
        ----------
        X : ndarray (N, 2)
            Points in the local frame (see :meth:`displacement`).
        mu : float
            Shear modulus (Pa).
        lam_eff : float
            The in-plane Lame constant (Pa): ``lam`` in plane strain,
            ``2 lam mu / (lam + 2 mu)`` in plane stress.  Must agree with ``kappa``
            (``kappa = (lam_eff + 3 mu) / (lam_eff + mu)``).

        Returns
        -------
        ndarray (N, 2, 2)
            The in-plane stress (Pa per unit of the mode's displacement), 0 at the apex.
        """
        mu, lam_eff = float(mu), float(lam_eff)
        k = (lam_eff + 3.0 * mu) / (lam_eff + mu)
        if not (mu > 0 and abs(k - self.kappa) <= 1e-8 * self.kappa):
            raise ValueError(
                f"mu = {mu}, lam_eff = {lam_eff} give kappa = {k}, the mode has "
                f"kappa = {self.kappa}"
            )
        _, du = self.displacement(X)
        eps = 0.5 * (du + np.swapaxes(du, 1, 2))
        tr = eps[:, 0, 0] + eps[:, 1, 1]
        return lam_eff * tr[:, None, None] * np.eye(2) + 2.0 * mu * eps


def _normalise(lam: complex, c: np.ndarray, part: str, angle: float, kappa: float) -> np.ndarray:
    """Scale ``c`` so that ``max |part(G(theta))| = 1`` over ``[0, angle]`` and fix the
    sign: the polar component of larger magnitude at ``theta = angle / 2`` positive."""

    def take(z):
        return z.imag if part == "imag" else z.real

    def norm2(t: float) -> float:
        G, _ = _angular(lam, c, np.array([t]), kappa)
        return float(np.sum(take(G[0]) ** 2))

    t = np.linspace(0.0, angle, 1025)
    G, _ = _angular(lam, c, t, kappa)
    n2 = np.sum(take(G) ** 2, axis=1)
    k = int(np.argmax(n2))
    lo, hi = t[max(k - 1, 0)], t[min(k + 1, t.size - 1)]
    res = minimize_scalar(
        lambda s: -norm2(s), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}
    )
    peak = max(n2[k], -float(res.fun))
    if not peak > 0:
        raise RuntimeError("a Williams mode vanishes identically")
    c = c / np.sqrt(peak)
    # the sign
    probe = np.concatenate([[0.5 * angle], t])
    G, _ = _angular(lam, c, probe, kappa)
    g = take(G)
    ct, st = np.cos(probe), np.sin(probe)
    pol = np.stack([ct * g[:, 0] + st * g[:, 1], -st * g[:, 0] + ct * g[:, 1]], axis=1)
    i = 0 if np.max(np.abs(pol[0])) > 1e-6 else int(np.argmax(np.max(np.abs(pol), axis=1) > 1e-3))
    comp = pol[i, int(np.argmax(np.abs(pol[i])))]
    return -c if comp < 0 else c


def _null_space(lam: complex, m: int, angle: float, sides, kappa: float) -> np.ndarray:
    """``m`` independent null vectors ``(m, 4)`` of the boundary matrix at ``lam``."""
    M = _matrix(lam, angle, sides, kappa)
    M = M / np.linalg.norm(M, axis=1, keepdims=True)
    if lam.imag == 0:
        M = M.real
    _, s, Vh = np.linalg.svd(M)
    if s[4 - m] > NULL_RTOL * s[0]:
        raise ValueError(
            f"the boundary matrix at lam = {lam} has a null space of dimension < {m}: a "
            "defective root (the modes involve r^lam log r); change the angle slightly"
        )
    return Vh[4 - m :].conj()


def _reflection_basis(lam: float, C: np.ndarray, angle: float, kappa: float) -> np.ndarray:
    """The null vectors ``C (2, 4)`` of a double root of a symmetric wedge recombined
    into a mode symmetric about the bisector, then an antisymmetric one."""
    t = np.linspace(0.0, angle, 41)
    S = np.array([[np.cos(angle), np.sin(angle)], [np.sin(angle), -np.cos(angle)]])
    F = np.stack([_angular(lam, c, t, kappa)[0].real.ravel() for c in C], axis=1)
    R = np.stack([(_angular(lam, c, angle - t, kappa)[0].real @ S.T).ravel() for c in C], axis=1)
    A = np.linalg.lstsq(F, R, rcond=None)[0]  # the reflection in the basis C
    w, V = np.linalg.eig(A)
    order = np.argsort(-w.real)
    V = V[:, order].real
    return V.T @ C


def modes(
    angle: float,
    sides: tuple[Side, Side] = ("free", "free"),
    nu: float = 0.3,
    plane_stress: bool = False,
    below: float = 1.0,
) -> list[WilliamsMode]:
    """The Williams modes of a wedge, one or two per exponent of :func:`exponents`.

    A real exponent gives its eigenfunction (a double root two, from the null space of
    the boundary matrix; for equal sides the mode symmetric about the bisector first,
    e.g. mode I then mode II of the crack); a complex exponent gives the real and the
    imaginary part of ``r^lam G(theta)``, after a phase that makes the two orthogonal on
    ``r = 1`` (the larger first).

    Parameters
    ----------
    angle, sides, nu, plane_stress, below
        As in :func:`exponents`.

    Returns
    -------
    list of WilliamsMode
        In the order of the exponents.
    """
    angle, sides = _check_wedge(angle, sides)
    kappa = kolosov(nu, plane_stress)
    lams = exponents(angle, sides, nu, plane_stress, below)
    out: list[WilliamsMode] = []
    k = 0
    while k < lams.size:
        lam = complex(lams[k])
        m = int(np.sum(lams[k:] == lam))
        k += m
        C = _null_space(lam, m, angle, sides, kappa)
        if lam.imag == 0:
            lam = complex(lam.real, 0.0)
            C = C.real
            if m == 2 and sides[0] == sides[1]:
                C = _reflection_basis(lam.real, C, angle, kappa)
            for c in C:
                c = _normalise(lam, c.astype(complex), "real", angle, kappa)
                out.append(WilliamsMode(lam, "real", angle, sides, kappa, c))
            continue
        for c in C:
            t = np.linspace(0.0, angle, 513)
            G, _ = _angular(lam, c, t, kappa)
            S = np.sum(G * G)
            c = c * np.exp(-0.5j * np.angle(S))
            for part in ("real", "imag"):
                cp = _normalise(lam, c, part, angle, kappa)
                out.append(WilliamsMode(lam, part, angle, sides, kappa, cp))
    return out
