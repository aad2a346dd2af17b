"""Strong-Wolfe line search with safeguarded cubic interpolation.

Implements Algorithms 3.5 (bracketing) and 3.6 (zoom) of Nocedal & Wright, *Numerical
Optimization*, 2nd ed. Trial steps inside a bracket come from the minimiser of the cubic
interpolating the function values and directional derivatives at the bracket ends, safeguarded
as follows:

* if the cubic has no minimiser, or it lies outside the bracket, the bracket is bisected;
* a minimiser inside the bracket but closer than 10 % of the bracket width to one end is moved
  to that 10 % mark (so a minimiser next to the best end is approached geometrically rather
  than by repeated halving);
* if the bracket has not shrunk by half over the last two trials, the bracket is bisected.

Non-finite function values or gradients are treated as "step too long": such a trial becomes
the upper end of the bracket, which is then shrunk by bisection until finite values are found.

:func:`search_lower` runs :func:`strong_wolfe` on an objective ``fun(x) -> (f, g)`` along a
direction and returns the lowest finite trial point below the start: the search of L-BFGS and
of the dense quasi-Newton methods.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .common import FloatArray, Objective, all_finite, evaluate

__all__ = ["LineSearchResult", "TrialPoint", "strong_wolfe", "cubic_minimizer", "search_lower"]

Phi = Callable[[float], tuple[float, ArrayLike]]

_EPS = float(np.finfo(np.float64).eps)
_SAFE_FRACTION = 0.1
_MIN_SHRINK = 0.5
_EXTRAP_MIN = 1.1
_EXTRAP_MAX = 4.0


@dataclass
class LineSearchResult:
    """Outcome of :func:`strong_wolfe`.

    Attributes
    ----------
    step : float
        Accepted step length (``0.0`` if no point better than the start was found).
    f : float
        Objective value at ``step``.
    g : ndarray, shape (n,) or scalar
        Gradient at ``step`` as returned by ``phi`` (``g0`` when ``step == 0``).
    dg : float
        Directional derivative at ``step``.
    n_evals : int
        Number of calls of ``phi``.
    success : bool
        Whether ``step`` satisfies the strong Wolfe conditions.
    message : str
        Human-readable description of the outcome.
    """

    step: float
    f: float
    g: FloatArray | float
    dg: float
    n_evals: int
    success: bool
    message: str


@dataclass
class _Point:
    step: float
    f: float
    g: FloatArray | float
    dg: float
    finite: bool


def cubic_minimizer(
    a1: float, f1: float, d1: float, a2: float, f2: float, d2: float
) -> float | None:
    """Minimiser of the cubic interpolating values and slopes at two points.

    Parameters
    ----------
    a1, f1, d1 : float
        Abscissa, value and derivative at the first point.
    a2, f2, d2 : float
        Abscissa, value and derivative at the second point.

    Returns
    -------
    float or None
        The local minimiser of the interpolating cubic (Nocedal & Wright eq. 3.59), or ``None``
        if it does not exist or is not finite.
    """
    if a1 == a2:
        return None
    theta = d1 + d2 - 3.0 * (f1 - f2) / (a1 - a2)
    disc = theta * theta - d1 * d2
    if not math.isfinite(disc) or disc < 0.0:
        return None
    root = math.copysign(math.sqrt(disc), a2 - a1)
    denom = d2 - d1 + 2.0 * root
    if denom == 0.0:
        return None
    a = a2 - (a2 - a1) * (d2 + root - theta) / denom
    return a if math.isfinite(a) else None


def strong_wolfe(
    phi: Phi,
    f0: float,
    g0: FloatArray | float,
    dg0: float,
    step0: float = 1.0,
    *,
    direction: FloatArray | None = None,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evals: int = 25,
    step_max: float = 1e10,
    xtol: float = 0.0,
) -> LineSearchResult:
    """Find a step satisfying the strong Wolfe conditions along a descent direction.

    With ``phi(a) = f(x + a d)`` the accepted step satisfies

    * sufficient decrease: ``phi(a) <= f0 + c1 * a * dg0``;
    * curvature: ``|phi'(a)| <= c2 * |dg0|``.

    Parameters
    ----------
    phi : callable
        ``phi(step) -> (f, g)``: objective value and gradient at ``x + step * d``. ``g`` is the
        full gradient, shape (n,), when ``direction`` is given; otherwise it must be the scalar
        derivative ``phi'(step)``. NaN/inf values are allowed and mean "step too long".
    f0 : float
        ``phi(0)``.
    g0 : ndarray, shape (n,), or float
        Gradient at ``step = 0`` (returned unchanged when no better point is found).
    dg0 : float
        ``phi'(0)``; must be negative.
    step0 : float, optional
        First trial step (clipped to ``step_max``).
    direction : ndarray, shape (n,), optional
        Search direction ``d``; the directional derivative is ``g @ d``. If omitted, ``g`` is
        taken as the directional derivative itself.
    c1, c2 : float, optional
        Wolfe constants, ``0 < c1 < c2 < 1``.
    max_evals : int, optional
        Maximum number of calls of ``phi``.
    step_max : float, optional
        Largest step tried.
    xtol : float, optional
        Relative bracket width below which the zoom phase gives up and returns its best
        sufficient-decrease point (as MINPACK's ``dcsrch``); only applies once such a point
        exists, so a bracket starting at ``step = 0`` (e.g. after a NaN trial) keeps shrinking.
        Off (0) by default.

    Returns
    -------
    LineSearchResult
        On success the strong Wolfe point. Otherwise the best point seen: the trial with the
        lowest value among those satisfying sufficient decrease if any, else the trial with the
        lowest finite value (``step = 0`` if nothing beat ``f0``), with ``success=False``.

    Notes
    -----
    Besides ``max_evals``, the zoom phase stops (unsuccessfully) when the bracket width reaches
    machine precision, or when the slopes at both ends have the same sign and
    ``width * max|slope| <= 4 eps |f_lo|``, i.e. when no change of the objective inside the
    bracket could be resolved in floating point. The latter ends hopeless searches near a
    minimiser quickly; a bracket whose end slopes have opposite signs is still refined, since
    the slopes locate the minimiser even when the values no longer differ.
    """
    if not 0.0 < c1 < c2 < 1.0:
        raise ValueError(f"need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
    if max_evals < 1:
        raise ValueError("max_evals must be at least 1")
    if not (math.isfinite(step0) and step0 > 0.0):
        raise ValueError(f"step0 must be positive and finite, got {step0}")
    f0 = float(f0)
    dg0 = float(dg0)
    start = _Point(0.0, f0, g0, dg0, True)
    if not (math.isfinite(f0) and math.isfinite(dg0)):
        return _result(start, 0, False, "non-finite value or slope at the starting point")
    if dg0 >= 0.0:
        return _result(start, 0, False, "not a descent direction (dg0 >= 0)")

    n_evals = 0
    best: _Point | None = None  # lowest value among points with sufficient decrease
    lowest = start  # lowest finite value among all points, start included

    def evaluate(step: float) -> _Point:
        nonlocal n_evals, best, lowest
        f, g = phi(step)
        n_evals += 1
        f = float(f)
        if direction is None:
            dg = float(np.asarray(g, dtype=np.float64))
            finite = math.isfinite(f) and math.isfinite(dg)
        else:
            g = np.asarray(g, dtype=np.float64)
            dg = float(g @ direction)
            finite = math.isfinite(f) and math.isfinite(dg) and bool(np.all(np.isfinite(g)))
        point = _Point(step, f, g, dg, finite)
        if finite:
            if f < lowest.f:
                lowest = point
            if armijo(point) and (best is None or f < best.f):
                best = point
        return point

    def armijo(p: _Point) -> bool:
        return p.f <= f0 + c1 * p.step * dg0

    def curvature(p: _Point) -> bool:
        return abs(p.dg) <= -c2 * dg0

    def failure(message: str) -> LineSearchResult:
        return _result(best if best is not None else lowest, n_evals, False, message)

    def zoom(lo: _Point, hi: _Point) -> LineSearchResult:
        widths: list[float] = []
        while n_evals < max_evals:
            width = hi.step - lo.step
            top = max(abs(lo.step), abs(hi.step))
            if abs(width) <= 4.0 * _EPS * top:
                return failure("bracket collapsed to machine precision")
            slope = max(abs(lo.dg), abs(hi.dg)) if hi.finite else abs(lo.dg)
            bracketed = hi.finite and lo.dg * hi.dg < 0.0
            if not bracketed and abs(width) * slope <= 4.0 * _EPS * abs(lo.f):
                return failure("predicted change within the bracket is below rounding error")
            if lo.step > 0.0 and abs(width) <= xtol * top:
                return failure("bracket narrower than xtol; returning the best point")
            trial = None
            progress = len(widths) < 2 or abs(width) <= _MIN_SHRINK * widths[-2]
            if hi.finite and progress:
                trial = cubic_minimizer(lo.step, lo.f, lo.dg, hi.step, hi.f, hi.dg)
                a_min, a_max = min(lo.step, hi.step), max(lo.step, hi.step)
                if trial is not None and not a_min < trial < a_max:
                    trial = None
                elif trial is not None:
                    margin = _SAFE_FRACTION * abs(width)
                    trial = min(max(trial, a_min + margin), a_max - margin)
            if trial is None:
                trial = lo.step + 0.5 * width
            widths.append(abs(width))
            cur = evaluate(trial)
            if cur.finite and armijo(cur) and cur.f <= lo.f and curvature(cur):
                # a tie with lo (rounding) is accepted too: the Wolfe conditions hold
                return _result(cur, n_evals, True, "strong Wolfe conditions satisfied")
            if not cur.finite or not armijo(cur) or cur.f >= lo.f:
                hi = cur
            else:
                if cur.dg * (hi.step - lo.step) >= 0.0:
                    hi = lo
                lo = cur
        return failure("maximum number of evaluations reached in zoom")

    step_max = float(step_max)
    prev = start
    step = min(float(step0), step_max)
    first = True
    while n_evals < max_evals:
        cur = evaluate(step)
        if not cur.finite or not armijo(cur) or (not first and cur.f >= prev.f):
            return zoom(prev, cur)
        if curvature(cur):
            return _result(cur, n_evals, True, "strong Wolfe conditions satisfied")
        if cur.dg >= 0.0:
            return zoom(cur, prev)
        if step >= step_max:
            return failure("step_max reached")
        lower = step + _EXTRAP_MIN * (step - prev.step)
        upper = step + _EXTRAP_MAX * (step - prev.step)
        trial = cubic_minimizer(prev.step, prev.f, prev.dg, cur.step, cur.f, cur.dg)
        trial = upper if trial is None else min(max(trial, lower), upper)
        prev = cur
        step = min(trial, step_max)
        first = False
    return failure("maximum number of evaluations reached while bracketing")


def _result(p: _Point, n_evals: int, success: bool, message: str) -> LineSearchResult:
    return LineSearchResult(
        step=p.step, f=p.f, g=p.g, dg=p.dg, n_evals=n_evals, success=success, message=message
    )


@dataclass(frozen=True)
class TrialPoint:
    """A trial point of :func:`search_lower`: ``x = x0 + step d``, its value and gradient.

    Attributes
    ----------
    f : float
    x : ndarray, shape (n,)
    step : float
    g : ndarray, shape (n,)
    """

    f: float
    x: FloatArray
    step: float
    g: FloatArray


def search_lower(
    fun: Objective,
    x: FloatArray,
    f: float,
    g: FloatArray,
    d: FloatArray,
    step0: float,
    *,
    c1: float,
    c2: float,
    max_evals: int,
    step_max: float,
) -> tuple[TrialPoint | None, bool, str, int]:
    """Strong-Wolfe search from ``x`` along ``d`` that keeps the lowest trial point.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``, ``x`` and ``g`` of shape (n,).
    x : ndarray, shape (n,)
        Start of the search.
    f : float
        Value at ``x``.
    g : ndarray, shape (n,)
        Gradient at ``x``.
    d : ndarray, shape (n,)
        Search direction (a descent direction: ``g . d < 0``).
    step0 : float
        First trial step (in units of ``d``).
    c1, c2, max_evals, step_max
        As in :func:`strong_wolfe`.

    Returns
    -------
    best : TrialPoint or None
        The lowest-valued finite trial point if it is strictly below ``f`` (the first
        one reached among equal values), else None.
    success : bool
        Whether the search met the strong Wolfe conditions.
    message : str
        The search's message.
    n_evals : int
        Evaluations of ``fun``.
    """
    n = x.shape[0]
    best: TrialPoint | None = None
    n_evals = 0

    def phi(step: float) -> tuple[float, FloatArray]:
        nonlocal best, n_evals
        x_trial = x + step * d
        f_trial, g_trial = evaluate(fun, x_trial, n)
        n_evals += 1
        if all_finite(f_trial, g_trial) and (best is None or f_trial < best.f):
            best = TrialPoint(f_trial, x_trial, step, g_trial)
        return f_trial, g_trial

    res = strong_wolfe(
        phi,
        f,
        g,
        float(g @ d),
        step0,
        direction=d,
        c1=c1,
        c2=c2,
        max_evals=max_evals,
        step_max=step_max,
    )
    lower = best if best is not None and best.f < f else None
    return lower, res.success, res.message, n_evals
