"""Activation functions and their first three derivatives.

The pointwise function :func:`act_derivs` is plain Python on scalars (only the
``math`` module), so the same source compiles for the CPU (``numba.njit``) and for
CUDA (``numba.cuda.jit(device=True)``).  Every formula is written so that the tails
do not cancel: the exact GELU uses ``erfc``, the logistic-type functions use
``exp(-|t|)``.

Activations (name, integer code):

====================  ====  ===============================================
``"gelu"``            0     exact GELU, ``x * Phi(x)``
``"gelu_tanh"``       1     tanh approximation ``x/2 (1 + tanh(k (x + a x^3)))``
``"tanh"``            2     hyperbolic tangent
``"sin"``             3     sine
``"softplus"``        4     ``log(1 + e^x)``
``"relu"``            5     ``max(x, 0)``; its second derivative is zero
``"linear"``          6     identity (for tests and linear models)
====================  ====  ===============================================
"""

from __future__ import annotations

import math

import numpy as np

GELU = 0
GELU_TANH = 1
TANH = 2
SIN = 3
SOFTPLUS = 4
RELU = 5
LINEAR = 6

ACTIVATIONS: dict[str, int] = {
    "gelu": GELU,
    "gelu_tanh": GELU_TANH,
    "tanh": TANH,
    "sin": SIN,
    "softplus": SOFTPLUS,
    "relu": RELU,
    "linear": LINEAR,
}

_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_K_TANH = 0.7978845608028654  # sqrt(2 / pi)
_A_TANH = 0.044715


def _logistic_pair(t):
    """Return ``(s, 1 - s)`` for ``s = 1 / (1 + exp(-t))`` without cancellation."""
    e = math.exp(-abs(t))
    inv = 1.0 / (1.0 + e)
    if t >= 0.0:
        return inv, e * inv
    return e * inv, inv


def act_derivs(kind, x):
    """Value and first three derivatives of activation ``kind`` at scalar ``x``.

    Parameters
    ----------
    kind : int
        Activation code (see :data:`ACTIVATIONS`).
    x : float
        Argument.

    Returns
    -------
    tuple of float
        ``(phi(x), phi'(x), phi''(x), phi'''(x))``.
    """
    if kind == GELU:
        cdf = 0.5 * math.erfc(-x * _INV_SQRT2)
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * x * x)
        x2 = x * x
        return x * cdf, cdf + x * pdf, pdf * (2.0 - x2), pdf * x * (x2 - 4.0)
    if kind == GELU_TANH:
        # phi = x s(2u), u = k (x + a x^3); s the logistic function
        u = _K_TANH * (x + _A_TANH * x * x * x)
        u1 = _K_TANH * (1.0 + 3.0 * _A_TANH * x * x)
        u2 = 6.0 * _K_TANH * _A_TANH * x
        u3 = 6.0 * _K_TANH * _A_TANH
        s, sc = _logistic_pair(2.0 * u)
        # derivatives of s(2u) in u
        s1 = 2.0 * s * sc
        s2 = 2.0 * s1 * (sc - s)
        s3 = 2.0 * s2 * (sc - s) - 4.0 * s1 * s1
        g1 = s1 * u1
        g2 = s2 * u1 * u1 + s1 * u2
        g3 = s3 * u1 * u1 * u1 + 3.0 * s2 * u1 * u2 + s1 * u3
        return x * s, s + x * g1, 2.0 * g1 + x * g2, 3.0 * g2 + x * g3
    if kind == TANH:
        e = math.exp(-2.0 * abs(x))
        sech2 = 4.0 * e / ((1.0 + e) * (1.0 + e))
        t = math.tanh(x)
        return t, sech2, -2.0 * t * sech2, sech2 * (4.0 - 6.0 * sech2)
    if kind == SIN:
        sn = math.sin(x)
        cs = math.cos(x)
        return sn, cs, -sn, -cs
    if kind == SOFTPLUS:
        s, sc = _logistic_pair(x)
        v = max(x, 0.0) + math.log1p(math.exp(-abs(x)))
        d2 = s * sc
        return v, s, d2, d2 * (sc - s)
    if kind == RELU:
        if x > 0.0:
            return x, 1.0, 0.0, 0.0
        return 0.0, 0.0, 0.0, 0.0
    # LINEAR
    return x, 1.0, 0.0, 0.0


def activation_code(name: str | int) -> int:
    """Return the integer code of an activation given by name (or code).

    Raises
    ------
    ValueError
        If the activation is unknown.
    """
    if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
        if int(name) in ACTIVATIONS.values():
            return int(name)
        raise ValueError(f"unknown activation code {name!r}; known: {sorted(ACTIVATIONS.values())}")
    if isinstance(name, str) and name.lower() in ACTIVATIONS:
        return ACTIVATIONS[name.lower()]
    raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")


def activation_name(code: int) -> str:
    """Return the name of an activation code."""
    for k, v in ACTIVATIONS.items():
        if v == code:
            return k
    raise ValueError(f"unknown activation code {code!r}")


def evaluate(name: str | int, x: np.ndarray) -> np.ndarray:
    """Evaluate an activation and its derivatives on an array (NumPy, not compiled).

    Parameters
    ----------
    name : str or int
        Activation name or code.
    x : array_like, shape (...)
        Arguments.

    Returns
    -------
    numpy.ndarray, shape (4, ...)
        ``phi, phi', phi'', phi'''`` at every entry of ``x``.
    """
    kind = activation_code(name)
    xa = np.asarray(x, dtype=np.float64)
    out = np.empty((4,) + xa.shape)
    flat = out.reshape(4, -1)
    for i, xi in enumerate(xa.ravel()):
        flat[:, i] = act_derivs(kind, float(xi))
    return out
