"""Activation functions and their first three derivatives.

The pointwise function :func:`act_derivs` is plain Python on scalars (only the
``math`` module), so the same source compiles for the CPU (``numba.njit``) and for
CUDA (``numba.cuda.jit(device=True)``).  Every formula is written so that the tails
do not cancel: the exact GELU uses ``erfc`` (as ``erfcx`` times one ``exp``, in
arithmetic alone so that loops over it vectorise, see :func:`_gelu`), the
logistic-type functions use ``exp(-|t|)``.

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


# Chebyshev coefficients of g(u) = erfcx(z) / t on u in [-1, 1], with t = 2 / (2 + z) =
# (1 + u) / 2 mapping z in [0, inf) onto u in (-1, 1]: erfc(z) = t exp(-z^2) g(u) for
# z >= 0.  Computed with mpmath at 50 digits from 80 Chebyshev nodes; the 30 kept
# bound the truncation by 2e-18 relative (the first one dropped is 3e-20).
_ERFCX_CHEB = (
    0.5770337386164697,
    0.3554369212704985,
    0.06509515882878653,
    0.003671142395836639,
    -0.0011128447433526325,
    -0.0001607582991537808,
    3.278031574173137e-05,
    5.442441645505016e-06,
    -1.5154665553171482e-06,
    -1.4297608181169865e-07,
    8.234608827419493e-08,
    -1.2962846852306563e-09,
    -4.154721631015199e-09,
    6.347058278362811e-10,
    1.4320822712256225e-10,
    -6.160390105204585e-11,
    2.0612138554721698e-12,
    3.5714931488477042e-12,
    -8.586422843251796e-13,
    -6.14560021379063e-14,
    7.418725748596617e-14,
    -1.2895042755032325e-14,
    -2.358726385710632e-15,
    1.5729349381685912e-15,
    -2.2782966239546465e-16,
    -6.31233045075643e-17,
    3.5916763531814925e-17,
    -5.049809149847729e-18,
    -1.5324541113154899e-18,
    8.90334528899061e-19,
)

# exp by Cody-Waite reduction: y = n ln 2 + r, |r| <= ln(2) / 2
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # trailing zeros: n * _LN2_HI is exact for |n| < 2^11
_LN2_LO = 1.90821492927058770002e-10


def _exp_nonpositive(y):
    """``exp(y)`` for ``y <= 0`` (0 below -746), in arithmetic alone.

    No library call, so a loop over points that calls it is vectorised by the
    compiler (``math.exp`` is a scalar call on the CPU).  Cody-Waite reduction
    ``y = n ln 2 + r``, the Taylor polynomial of degree 13 in ``r`` (truncation below
    5e-18 relative), and ``2^n`` applied as exact multiplications by ``2^-2^b`` for
    the bits of ``-n``.  Accurate to a few ulp (1e-15 relative; tested against mpmath).
    """
    y = max(y, -746.0)
    n = math.floor(y * _LOG2E + 0.5)
    r = (y - n * _LN2_HI) - n * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    m = -n  # in [0, 1077]: p * 2^-m, one bit of m at a time (selects, no branches;
    # the compiler unrolls the loop and folds the exact square roots of powers of 2)
    b = 1024.0
    s = 5.562684646268003e-309  # 2^-1024
    for _ in range(11):
        hit = m >= b
        p = p * (s if hit else 1.0)
        m = m - b if hit else m
        b = 0.5 * b
        s = math.sqrt(s)
    return p


def _gelu(x):
    """The exact GELU ``x Phi(x)`` and its first three derivatives at scalar ``x``.

    ``Phi(x) = erfc(-x / sqrt 2) / 2`` from the Chebyshev expansion of ``erfcx`` above
    (evaluated by Clenshaw's recurrence, written out) and one shared
    ``exp(-x^2 / 2)``: no library call and one branch-free path, so the kernels'
    loops over points vectorise.  Relative error below 1e-13 on every output down to
    the underflow of ``Phi`` (tested against mpmath).
    """
    a = abs(x)
    t = 2.0 / (2.0 + a * _INV_SQRT2)
    u = 2.0 * t - 1.0
    u2 = 2.0 * u
    b1 = _ERFCX_CHEB[29]
    b2 = 0.0
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[28], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[27], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[26], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[25], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[24], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[23], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[22], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[21], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[20], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[19], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[18], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[17], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[16], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[15], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[14], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[13], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[12], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[11], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[10], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[9], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[8], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[7], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[6], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[5], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[4], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[3], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[2], b1
    b1, b2 = u2 * b1 - b2 + _ERFCX_CHEB[1], b1
    g = u * b1 - b2 + _ERFCX_CHEB[0]
    e = _exp_nonpositive(-0.5 * x * x)
    q = 0.5 * t * g * e  # Phi(-|x|)
    cdf = q if x <= 0.0 else 1.0 - q
    pdf = _INV_SQRT_2PI * e
    x2 = x * x
    return x * cdf, cdf + x * pdf, pdf * (2.0 - x2), pdf * x * (x2 - 4.0)


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
        return _gelu(x)
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
