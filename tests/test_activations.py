"""Activations and their derivatives against 50-digit mpmath references."""

from __future__ import annotations

import functools
import math

import mpmath as mp
import numba
import numpy as np
import pytest

from pinngelu import activations
from pinngelu.activations import (
    ACTIVATIONS,
    act_derivs,
    activation_code,
    activation_name,
    evaluate,
)
from pinngelu.kernels.compile import retarget

mp.mp.dps = 50

NAMES = ("gelu", "gelu_tanh", "tanh", "sin", "softplus", "relu", "linear")
SMOOTH = ("gelu", "gelu_tanh", "tanh", "sin", "softplus")

GELU_D1_ROOT = -0.7517915246935645  # phi'(x) = Phi(x) + x pdf(x) = 0, rounded to a double
SPECIAL = (
    0.0,
    1e-300,
    -1e-300,
    1e-8,
    -1e-8,
    GELU_D1_ROOT,
    GELU_D1_ROOT + 1e-9,
    math.sqrt(2.0),
    -math.sqrt(2.0),
    2.0,
    -2.0,
    math.pi,
    -math.pi,
    0.5 * math.pi,
    math.asinh(1.0),
    -6.5,
    -7.0,
    -8.0,
    -9.0,
    -9.99,
    -10.0,
    10.0,
)
GRID = np.unique(np.concatenate([np.linspace(-10.0, 10.0, 801), SPECIAL]))
TAIL = np.array([-6.0, -7.0, -8.0, -8.5, -9.0, -9.5, -10.0])

# Tolerance of the comparison with the references; the tails (x < -6) get the same.
RTOL = 1e-13
# Width of the band around a simple root of phi^(k) inside which the error is measured
# relative to delta * |phi^(k+1)| (the size phi^(k) reaches a distance delta from the root)
# instead of |phi^(k)| itself; see ``rel_err``.
ROOT_DELTA = 1e-2


def _mp_gelu(x: mp.mpf) -> list[mp.mpf]:
    cdf = mp.erfc(-x / mp.sqrt(2)) / 2
    pdf = mp.exp(-(x**2) / 2) / mp.sqrt(2 * mp.pi)
    return [
        x * cdf,
        cdf + x * pdf,
        pdf * (2 - x**2),
        pdf * (x**3 - 4 * x),
        pdf * (-(x**4) + 7 * x**2 - 4),
    ]


def _mp_gelu_tanh_value(x: mp.mpf) -> mp.mpf:
    # x (1 + tanh u) / 2 = x / (1 + exp(-2u)): the logistic form does not cancel for u << 0
    u = mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3)
    return x / (1 + mp.exp(-2 * u))


def _mp_gelu_tanh(x: mp.mpf) -> list[mp.mpf]:
    return list(mp.diffs(_mp_gelu_tanh_value, x, 4))


def _mp_tanh(x: mp.mpf) -> list[mp.mpf]:
    t = mp.tanh(x)
    s2 = mp.sech(x) ** 2
    return [t, s2, -2 * t * s2, s2 * (6 * t**2 - 2), s2 * (16 * t - 24 * t**3)]


def _mp_sin(x: mp.mpf) -> list[mp.mpf]:
    s, c = mp.sin(x), mp.cos(x)
    return [s, c, -s, -c, s]


def _mp_softplus(x: mp.mpf) -> list[mp.mpf]:
    s = 1 / (1 + mp.exp(-x))
    v = s * (1 - s)
    return [mp.log1p(mp.exp(x)), s, v, v * (1 - 2 * s), v * (1 - 6 * v)]


def _mp_relu(x: mp.mpf) -> list[mp.mpf]:
    one = mp.mpf(1) if x > 0 else mp.mpf(0)
    return [x * one, one, mp.mpf(0), mp.mpf(0), mp.mpf(0)]


def _mp_linear(x: mp.mpf) -> list[mp.mpf]:
    return [x, mp.mpf(1), mp.mpf(0), mp.mpf(0), mp.mpf(0)]


MP_REFERENCE = {
    "gelu": _mp_gelu,
    "gelu_tanh": _mp_gelu_tanh,
    "tanh": _mp_tanh,
    "sin": _mp_sin,
    "softplus": _mp_softplus,
    "relu": _mp_relu,
    "linear": _mp_linear,
}


@functools.cache
def reference(name: str, xs: tuple[float, ...]) -> np.ndarray:
    """Derivatives of orders 0..4 at the (exact) doubles ``xs``, shape ``(5, len(xs))``."""
    f = MP_REFERENCE[name]
    out = np.empty((5, len(xs)))
    for i, x in enumerate(xs):
        out[:, i] = [float(v) for v in f(mp.mpf(x))]
    return out


def computed(name: str, xs: np.ndarray) -> np.ndarray:
    """``act_derivs`` at ``xs``, shape ``(4, len(xs))``."""
    kind = activation_code(name)
    return np.array([act_derivs(kind, float(x)) for x in xs]).T


def rel_err(got: np.ndarray, ref: np.ndarray, order: int) -> np.ndarray:
    """Relative error of ``phi^(order)`` that stays meaningful at its roots.

    At a simple root ``x0`` of ``phi^(k)`` the exact value vanishes while the rounding
    error of the formula does not (e.g. ``GELU' = Phi(x) + x pdf(x)`` cancels two terms
    of size ~0.22 at ``x0 = -0.7518``).  The error is therefore divided by
    ``max(|phi^(k)|, delta |phi^(k+1)|)``: away from roots (and in the exponentially
    small tails, where ``|phi^(k+1)| ~ |x| |phi^(k)|`` and ``delta |x| < 1``) this is
    the plain relative error; within ``delta`` of a root it is measured against the size
    ``phi^(k)`` reaches at distance ``delta``, the local scale of the function.
    """
    scale = np.maximum(np.abs(ref[order]), ROOT_DELTA * np.abs(ref[order + 1]))
    diff = np.abs(got - ref[order])
    return np.where(diff == 0.0, 0.0, diff / np.where(scale == 0.0, np.inf, scale))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_against_mpmath(name: str, order: int) -> None:
    ref = reference(name, tuple(GRID))
    got = computed(name, GRID)[order]
    err = rel_err(got, ref, order)
    worst = int(np.argmax(err))
    assert err[worst] < RTOL, f"{name} order {order}: error {err[worst]:.2e} at x={GRID[worst]!r}"


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_tails_have_no_cancellation(name: str, order: int) -> None:
    # Plain relative error, no floor: every value is far from a root here, and a formula
    # that subtracted nearly equal numbers (e.g. 1 - Phi(-x) or 1 + tanh(u)) would lose
    # all its digits in the exponentially small left tail.
    ref = reference(name, tuple(TAIL))
    got = computed(name, TAIL)[order]
    assert np.all(ref[order] != 0.0)
    err = np.abs(got - ref[order]) / np.abs(ref[order])
    assert np.max(err) < RTOL, f"{name} order {order}: {err}"


def test_gelu_left_tail_values() -> None:
    xs = np.array([-8.0, -9.0, -10.0])
    ref = reference("gelu", tuple(xs))
    got = computed("gelu", xs)
    for order in (0, 1):
        err = np.abs(got[order] - ref[order]) / np.abs(ref[order])
        assert np.all(err < 1e-13), (order, err)
    # the values are tiny (GELU(-10) ~ -7.6e-23): nothing was flushed to 0 by cancellation
    assert got[0, -1] == pytest.approx(-7.619853024160526e-23, rel=1e-13)
    assert 0.0 > got[1, -1] > -1e-20


def test_gelu_d1_root() -> None:
    root = mp.findroot(lambda x: _mp_gelu(x)[1], mp.mpf(-0.75))
    assert float(root) == GELU_D1_ROOT
    # At the double nearest the root the exact |phi'| is below |phi''| * ulp / 2 ~ 3e-17;
    # Phi + x pdf cancels two terms of size 0.22 there, so rounding leaves a few ulps of 0.22
    got = act_derivs(activation_code("gelu"), GELU_D1_ROOT)[1]
    assert abs(got) < 1e-16


def _richardson(values_m2h, values_mh, values_ph, values_p2h, h: float) -> np.ndarray:
    """Fourth-order central difference from the values at ``x - 2h, x - h, x + h, x + 2h``."""
    return (8.0 * (values_ph - values_mh) - (values_p2h - values_m2h)) / (12.0 * h)


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_finite_differences(name: str) -> None:
    h = 1e-3
    xs = GRID
    if name == "relu":
        xs = xs[np.abs(xs) > 4 * h]
    vals = [computed(name, xs + k * h) for k in (-2, -1, 1, 2)]
    mid = computed(name, xs)
    ref = reference(name, tuple(xs))
    for order in (1, 2, 3):
        fd = _richardson(*(v[order - 1] for v in vals), h)
        # Truncation ~ h^4 |phi^(order+4)| / 30 stays far below 1e-7 of the local scale of
        # rel_err.  Rounding adds ~ 1.5 eps |phi^(order-1)| / h ~ 3e-13 |phi^(order-1)|,
        # which dominates where the derivative is much smaller than the function (e.g.
        # tanh' = sech^2 ~ 1e-8 at x = -10 while tanh = -1), so it is allowed for as well.
        scale = np.maximum(np.abs(ref[order]), ROOT_DELTA * np.abs(ref[order + 1]))
        tol = 1e-7 * scale + 1e-11 * np.abs(ref[order - 1])
        bad = np.abs(fd - mid[order]) > tol
        assert not np.any(bad), f"{name} order {order}: fd {fd[bad]} at x={xs[bad]}"


def _compiled_act_derivs():
    """``numba.njit`` of :func:`act_derivs`, with its helpers bound to compiled
    versions (Numba cannot call a plain Python function): the rebinding the CPU and
    CUDA backends use (:func:`pinngelu.kernels.compile.retarget`), without fast-math
    flags, so each operation rounds as in Python."""
    return retarget(lambda f, inline: numba.njit(f)).act_derivs


def test_numba_compiled_matches_python() -> None:
    jitted = _compiled_act_derivs()
    xs = np.concatenate([GRID, [-30.0, -40.0, 30.0, 40.0, 1e-12, -1e-12]])
    for name in NAMES:
        kind = activation_code(name)
        for x in xs:
            py = act_derivs(kind, float(x))
            nb = jitted(kind, float(x))
            assert tuple(nb) == tuple(py), (name, float(x), py, nb)


@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 0.25, 7.0])
def test_relu_has_no_curvature(x: float) -> None:
    # ReLU'' = ReLU''' = 0: a ReLU network is piecewise linear, so the second
    # derivatives in a second-order PDE residual vanish identically.
    _, _, d2, d3 = act_derivs(activation_code("relu"), x)
    assert d2 == 0.0 and d3 == 0.0
    jet = evaluate("relu", np.linspace(-5, 5, 101))
    assert not np.any(jet[2]) and not np.any(jet[3])


def test_evaluate_matches_scalar_calls() -> None:
    x = np.linspace(-4.0, 4.0, 12).reshape(3, 4)
    for name in NAMES:
        out = evaluate(name, x)
        assert out.shape == (4, 3, 4)
        kind = activation_code(name)
        for idx in np.ndindex(x.shape):
            assert tuple(out[(slice(None), *idx)]) == act_derivs(kind, float(x[idx]))


def test_activation_codes() -> None:
    assert set(ACTIVATIONS) == set(NAMES)
    assert len(set(ACTIVATIONS.values())) == len(NAMES)
    for name, code in ACTIVATIONS.items():
        assert activation_code(name) == code
        assert activation_code(name.upper()) == code
        assert activation_code(code) == code
        assert activation_code(np.int64(code)) == code
        assert activation_name(code) == name


@pytest.mark.parametrize("bad", ["swish", "", "gelu2"])
def test_unknown_activation_name(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        activation_code(bad)
    msg = str(info.value)
    assert repr(bad) in msg
    for name in NAMES:
        assert name in msg


@pytest.mark.parametrize("bad", [99, -1, True, 1.5, None])
def test_unknown_activation_code(bad: object) -> None:
    with pytest.raises(ValueError):
        activation_code(bad)  # type: ignore[arg-type]


def test_exp_of_nonpositive_arguments_matches_mpmath() -> None:
    # the exp inside the exact GELU (arithmetic alone, so that the kernels' loops
    # vectorise): a few ulp where the result is normal, the subnormal range to its
    # spacing, zero below
    ys = np.concatenate(
        [
            [0.0, -1e-300, -0.5 * math.log(2.0), -700.0, -708.39, -745.0],
            -np.logspace(-18, 2.87, 600),
        ]
    )
    exp = retarget(lambda f, inline: numba.njit(f))._exp_nonpositive
    for y in ys:
        ref = mp.exp(mp.mpf(float(y)))
        for got in (activations._exp_nonpositive(float(y)), exp(float(y))):
            if ref > 2.3e-308:
                assert abs(got - ref) / ref < 1e-15, (y, got)
            else:
                assert abs(got - ref) <= 5e-324, (y, got)
    assert activations._exp_nonpositive(-746.5) == 0.0
    assert activations._exp_nonpositive(-1e300) == 0.0
