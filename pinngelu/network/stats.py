"""Gaussian statistics of the activations: moments, Lipschitz constants, initialisation.

The mean-field ("signal propagation") view of a random MLP underlies the weight
initialisation of :mod:`pinngelu.network`.  For a layer ``h' = W phi(h)`` with
independent weights ``W_ij ~ N(0, c / n_in)`` and zero biases, the pre-activations of a
wide network are, for every input, approximately independent ``N(0, q_l)`` variables,
and their variance follows the *variance map*

.. math::

    q_{l+1} = V(q_l) = c \\, E_{z \\sim N(0, q_l)}[\\phi(z)^2].

:func:`variance_preserving_gain` chooses ``c`` so that a given ``q`` is a fixed point of
``V``; :func:`variance_map_slope` returns ``chi = V'(q)``, which decides whether the
fixed point attracts (``chi < 1``: ``tanh``, ``sin``, ``softplus``), is marginal
(``chi = 1``: ReLU with ``c = 2``, the linear map) or repels (``chi > 1``: GELU, where
``chi(q=1) ~ 1.144``; finite-width fluctuations then grow like ``chi**depth``, so the
variance is kept only over a moderate depth).

Gaussian expectations are computed with one of two quadrature rules for
``z ~ N(0, s^2)``:

``"hermite"``
    Gauss-Hermite (probabilists', :func:`numpy.polynomial.hermite_e.hermegauss`, or
    :func:`scipy.special.roots_hermitenorm` above 360 nodes, where ``hermegauss``
    overflows) with ``n_nodes`` nodes (default 300).  Exponentially convergent for
    activations that are analytic in a strip around the real axis, accurate to about
    ``1e-15`` for every smooth activation of :mod:`pinngelu.activations` when ``s <= 1``;
    it converges slowly when the Gaussian is wide compared with the strip (``tanh`` has
    poles at ``+-i pi/2``) and only algebraically across the kink of ReLU.
``"panels"``
    Composite Gauss-Legendre with the Gaussian density as part of the integrand, on
    ``[-10 s, 10 s]`` (the neglected mass is below ``1e-22``), with panels of width
    ``min(1/4, s/2)`` up to ``|z| = 30`` and geometrically growing panels beyond, where
    every activation except ``sin`` is polynomial up to exponentially small terms
    (``sin`` is covered by uniform panels throughout).  ``z = 0`` is always a panel edge,
    so the ReLU kink is integrated exactly.  Accurate to about ``1e-15`` for every ``s``.

``"auto"`` (the default) uses Gauss-Hermite for smooth activations with ``s <= 1`` (or
whenever ``n_nodes`` is given) and panels otherwise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss
from scipy.special import roots_hermitenorm

from ..activations import ACTIVATIONS, RELU, SIN, act_derivs, activation_code, evaluate

__all__ = [
    "DEFAULT_HERMITE_NODES",
    "SMOOTH_ACTIVATIONS",
    "gaussian_expectation",
    "gaussian_moments",
    "gaussian_rule",
    "lipschitz_argmax",
    "lipschitz_constant",
    "propagate_variance",
    "variance_map",
    "variance_map_slope",
    "variance_preserving_gain",
]

DEFAULT_HERMITE_NODES = 300
"""Default number of Gauss-Hermite nodes."""

SMOOTH_ACTIVATIONS: frozenset[int] = frozenset(c for c in ACTIVATIONS.values() if c != RELU)
"""Codes of the activations that are analytic on the whole real line."""

_HERMITE_MAX_S = 1.0
_HERMEGAUSS_MAX_NODES = 360
_TAIL_SIGMAS = 10.0
_FINE_WIDTH = 0.25
_FINE_EXTENT = 30.0
_GEOMETRIC_RATIO = 1.25
_LEGENDRE_NODES = 16
_MAX_PANELS = 400_000


@functools.lru_cache(maxsize=16)
def _hermite_standard(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite rule for ``N(0, 1)``: nodes and weights of shape ``(n,)``."""
    x = w = None
    if n <= _HERMEGAUSS_MAX_NODES:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            x, w = hermegauss(n)
    if w is None or not np.all(np.isfinite(w)):
        # hermegauss overflows for n >~ 380; scipy uses an asymptotic method there
        x, w = roots_hermitenorm(n)
    w = w / math.sqrt(2.0 * math.pi)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


@functools.lru_cache(maxsize=4)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre rule on ``[-1, 1]``: nodes and weights of shape ``(n,)``."""
    x, w = leggauss(n)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def _panel_edges(s: float, uniform_everywhere: bool) -> np.ndarray:
    """Symmetric panel edges on ``[-10 s, 10 s]`` with ``0`` as an edge, shape ``(m + 1,)``."""
    half = _TAIL_SIGMAS * s
    width = min(_FINE_WIDTH, 0.5 * s)
    inner = half if uniform_everywhere else min(half, _FINE_EXTENT)
    n_inner = max(1, math.ceil(inner / width))
    if n_inner > _MAX_PANELS:
        raise ValueError(
            f"standard deviation s={s!r} needs more than {_MAX_PANELS} quadrature panels"
        )
    edges = list(np.linspace(0.0, inner, n_inner + 1))
    while edges[-1] < half:
        edges.append(min(edges[-1] * _GEOMETRIC_RATIO, half))
    pos = np.asarray(edges)
    return np.concatenate([-pos[:0:-1], pos])


def gaussian_rule(
    activation: str | int,
    s: float,
    n_nodes: int | None = None,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature rule for expectations over ``z ~ N(0, s^2)``.

    Parameters
    ----------
    activation : str or int
        Activation name or code; it selects the rule (kinks, oscillation).
    s : float
        Standard deviation, ``s >= 0``.  ``s = 0`` gives the single node ``0``.
    n_nodes : int, optional
        Number of Gauss-Hermite nodes (default :data:`DEFAULT_HERMITE_NODES`); giving it
        selects Gauss-Hermite under ``method="auto"``.
    method : {"auto", "hermite", "panels"}
        Quadrature rule, see the module documentation.

    Returns
    -------
    z : numpy.ndarray, shape (m,)
        Nodes.
    w : numpy.ndarray, shape (m,)
        Weights; ``sum(w * f(z))`` approximates ``E[f(z)]`` and ``sum(w)`` is ``1`` up to
        rounding (and the neglected tail mass below ``1e-22`` for panels).
    """
    kind = activation_code(activation)
    s = float(s)
    if not s >= 0.0 or not math.isfinite(s):
        raise ValueError(f"standard deviation must be finite and >= 0, got {s!r}")
    if method not in ("auto", "hermite", "panels"):
        raise ValueError(f"unknown method {method!r}; choose 'auto', 'hermite' or 'panels'")
    if s == 0.0:
        return np.zeros(1), np.ones(1)
    if method == "auto":
        use_hermite = n_nodes is not None or (kind in SMOOTH_ACTIVATIONS and s <= _HERMITE_MAX_S)
        method = "hermite" if use_hermite else "panels"
    if method == "hermite":
        n = DEFAULT_HERMITE_NODES if n_nodes is None else int(n_nodes)
        if n < 1:
            raise ValueError(f"n_nodes must be positive, got {n_nodes!r}")
        x, w = _hermite_standard(n)
        return s * x, w.copy()
    edges = _panel_edges(s, uniform_everywhere=kind == SIN)
    t, wt = _legendre(_LEGENDRE_NODES)
    a = edges[:-1, None]
    b = edges[1:, None]
    z = (0.5 * (a + b) + 0.5 * (b - a) * t).ravel()
    w = (0.5 * (b - a) * wt).ravel()
    w *= np.exp(-0.5 * (z / s) ** 2) / (s * math.sqrt(2.0 * math.pi))
    return z, w


def gaussian_expectation(
    activation: str | int,
    s: float,
    func: Callable[[np.ndarray], np.ndarray],
    n_nodes: int | None = None,
    method: str = "auto",
) -> float:
    """Expectation of a function of the activation jet over ``z ~ N(0, s^2)``.

    Parameters
    ----------
    activation : str or int
        Activation name or code.
    s : float
        Standard deviation of ``z``.
    func : callable
        Maps the jet ``D`` of shape ``(4, m)`` (rows ``phi, phi', phi'', phi'''`` at the
        nodes) to the integrand values, shape ``(m,)``; e.g. ``lambda d: d[1] ** 2``.
    n_nodes, method
        See :func:`gaussian_rule`.

    Returns
    -------
    float
        ``E[func(D(z))]``.
    """
    z, w = gaussian_rule(activation, s, n_nodes=n_nodes, method=method)
    vals = np.asarray(func(evaluate(activation, z)), dtype=np.float64)
    return float(w @ vals)


def gaussian_moments(
    activation: str | int,
    s: float,
    n_nodes: int | None = None,
    method: str = "auto",
) -> dict[str, float]:
    """Gaussian moments of an activation and its derivatives, ``z ~ N(0, s^2)``.

    Parameters
    ----------
    activation : str or int
        Activation name or code.
    s : float
        Standard deviation of ``z``.
    n_nodes, method
        See :func:`gaussian_rule`.

    Returns
    -------
    dict of str to float
        ``"mean"``: ``E[phi(z)]``; ``"second"``: ``E[phi(z)^2]``; ``"d1_sq"``:
        ``E[phi'(z)^2]``; ``"d2_sq"``: ``E[phi''(z)^2]``.
    """
    z, w = gaussian_rule(activation, s, n_nodes=n_nodes, method=method)
    d = evaluate(activation, z)
    return {
        "mean": float(w @ d[0]),
        "second": float(w @ d[0] ** 2),
        "d1_sq": float(w @ d[1] ** 2),
        "d2_sq": float(w @ d[2] ** 2),
    }


def variance_preserving_gain(activation: str | int, q: float = 1.0) -> float:
    """Weight-variance gain that makes ``q`` a fixed point of the variance map.

    With weights ``W_ij ~ N(0, c / n_in)``, zero biases and pre-activations ``h`` that
    are ``N(0, q)`` (the mean-field, infinite-width assumption: the ``n_in`` summands
    of ``h'_i = sum_j W_ij phi(h_j)`` are independent of ``W``, so by the central limit
    theorem ``h'_i`` is Gaussian with variance ``c E[phi(h)^2]``), the next layer has
    variance ``c E[phi(z)^2]``, ``z ~ N(0, q)``.  The gain is therefore

    ``c = q / E[phi(z)^2]``.

    Examples: ReLU ``c = 2`` for every ``q`` (He initialisation), linear ``c = 1``, GELU
    ``c ~ 2.3517`` at ``q = 1``.  Whether the fixed point is stable is decided by
    :func:`variance_map_slope`.

    Parameters
    ----------
    activation : str or int
        Activation name or code.
    q : float
        Target pre-activation variance, ``q > 0``.

    Returns
    -------
    float
        The gain ``c``.
    """
    q = float(q)
    if not q > 0.0 or not math.isfinite(q):
        raise ValueError(f"variance q must be finite and positive, got {q!r}")
    second = gaussian_moments(activation, math.sqrt(q))["second"]
    if not second > 0.0:
        raise ValueError(f"activation {activation!r} has E[phi^2] = 0 at q={q!r}")
    return q / second


def variance_map(activation: str | int, q: float, gain: float) -> float:
    """One step of the mean-field variance map, ``gain * E[phi(z)^2]``, ``z ~ N(0, q)``.

    Parameters
    ----------
    activation : str or int
        Activation name or code.
    q : float
        Pre-activation variance of the current layer, ``q >= 0``.
    gain : float
        Weight-variance gain ``c`` (``Var W_ij = c / n_in``).

    Returns
    -------
    float
        Pre-activation variance of the next layer.
    """
    return gain * gaussian_moments(activation, math.sqrt(q))["second"]


def propagate_variance(
    activation: str | int,
    q0: float,
    gain: float,
    n_layers: int,
) -> np.ndarray:
    """Iterate the mean-field variance map through ``n_layers`` layers.

    Parameters
    ----------
    activation : str or int
        Activation name or code.
    q0 : float
        Pre-activation variance of the first layer.
    gain : float
        Weight-variance gain ``c`` of every layer (zero biases).
    n_layers : int
        Number of steps.

    Returns
    -------
    numpy.ndarray, shape (n_layers + 1,)
        ``q_0, q_1, ..., q_{n_layers}``.
    """
    qs = np.empty(n_layers + 1)
    qs[0] = q0
    for layer in range(n_layers):
        qs[layer + 1] = variance_map(activation, qs[layer], gain)
    return qs


def variance_map_slope(activation: str | int, q: float = 1.0, gain: float | None = None) -> float:
    """Slope ``chi = V'(q)`` of the variance map ``V(q) = c E[phi(z)^2]``, ``z ~ N(0, q)``.

    By the Gaussian heat-equation identity ``d/dq E[f(z)] = E[f''(z)] / 2``, applied to
    ``f = phi^2``,

    ``chi = c E[phi'(z)^2 + phi(z) phi''(z)]``.

    At a fixed point ``q``, ``chi < 1`` means that deviations of the variance shrink from
    layer to layer, ``chi > 1`` that they grow geometrically.

    Parameters
    ----------
    activation : str or int
        Activation name or code.
    q : float
        Pre-activation variance, ``q > 0``.
    gain : float, optional
        Weight-variance gain; defaults to :func:`variance_preserving_gain` at ``q``.

    Returns
    -------
    float
        ``chi``.
    """
    c = variance_preserving_gain(activation, q) if gain is None else float(gain)
    e = gaussian_expectation(activation, math.sqrt(q), lambda d: d[1] ** 2 + d[0] * d[2])
    return c * e


def lipschitz_argmax(
    activation: str | int,
    a: float,
    b: float,
    n_grid: int = 2001,
) -> tuple[float, float]:
    """Supremum of ``|phi'|`` on ``[a, b]`` and a point where it is attained.

    The candidates are the points of a uniform grid (endpoints included), the roots of
    ``phi''`` bracketed by sign changes on the grid (refined with Brent's method), and a
    bounded minimisation of ``-|phi'|`` around the best grid point (for maxima that are
    not critical points of ``phi'``, such as the kink of ReLU).

    Parameters
    ----------
    activation : str or int
        Activation name or code.
    a, b : float
        Interval, ``a <= b``.
    n_grid : int
        Number of grid points.

    Returns
    -------
    lip : float
        ``max |phi'(x)|`` over ``[a, b]``.
    x_max : float
        A point of ``[a, b]`` where it is attained.
    """
    from scipy.optimize import brentq, minimize_scalar  # slow to import: only here

    kind = activation_code(activation)
    a = float(a)
    b = float(b)
    if not (math.isfinite(a) and math.isfinite(b) and a <= b):
        raise ValueError(f"need a finite interval a <= b, got [{a!r}, {b!r}]")
    if n_grid < 2:
        raise ValueError(f"n_grid must be at least 2, got {n_grid!r}")
    x = np.linspace(a, b, n_grid)
    d = evaluate(kind, x)
    slope = np.abs(d[1])
    i_best = int(np.argmax(slope))
    candidates = [float(x[i_best])]

    def second(t: float) -> float:
        return act_derivs(kind, t)[2]

    eps = np.finfo(np.float64).eps
    for i in np.flatnonzero(d[2, :-1] * d[2, 1:] < 0.0):
        candidates.append(brentq(second, x[i], x[i + 1], xtol=1e-300, rtol=4.0 * eps))
    lo = float(x[max(i_best - 1, 0)])
    hi = float(x[min(i_best + 1, n_grid - 1)])
    if hi > lo:
        res = minimize_scalar(
            lambda t: -abs(act_derivs(kind, t)[1]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-12 * max(1.0, abs(lo), abs(hi))},
        )
        candidates.append(float(res.x))
    values = [abs(act_derivs(kind, t)[1]) for t in candidates]
    j = int(np.argmax(values))
    return float(values[j]), float(candidates[j])


def lipschitz_constant(activation: str | int, a: float, b: float, n_grid: int = 2001) -> float:
    """Lipschitz constant ``sup |phi'|`` of an activation on ``[a, b]``.

    For GELU the global value is ``phi'(sqrt 2) = Phi(sqrt 2) + sqrt 2 pdf(sqrt 2) ~ 1.1289``
    (``phi'' = pdf (2 - x^2)``); for ``tanh``, ``sin``, ReLU and softplus it is at most 1.
    See :func:`lipschitz_argmax` for the method and parameters.

    Returns
    -------
    float
        ``max |phi'(x)|`` over ``[a, b]``.
    """
    return lipschitz_argmax(activation, a, b, n_grid=n_grid)[0]
