"""Gaussian moments, Lipschitz constants and the variance-preserving initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import erfc

from pinngelu.activations import act_derivs, activation_code
from pinngelu.network.stats import (
    SMOOTH_ACTIVATIONS,
    gaussian_expectation,
    gaussian_moments,
    gaussian_rule,
    lipschitz_argmax,
    lipschitz_constant,
    propagate_variance,
    variance_map,
    variance_map_slope,
    variance_preserving_gain,
)

NAMES = ("gelu", "gelu_tanh", "tanh", "sin", "softplus", "relu", "linear")
MOMENTS = {"mean": (0, 1), "second": (0, 2), "d1_sq": (1, 2), "d2_sq": (2, 2)}
SQRT_2PI = math.sqrt(2.0 * math.pi)


def quad_moment(name: str, s: float, order: int, power: int) -> float:
    """``E[phi^(order)(z)^power]``, ``z ~ N(0, s^2)``, by adaptive quadrature."""
    kind = activation_code(name)

    def f(z: float) -> float:
        return act_derivs(kind, z)[order] ** power * math.exp(-0.5 * (z / s) ** 2) / (s * SQRT_2PI)

    total = 0.0
    for a, b in ((-12.0 * s, 0.0), (0.0, 12.0 * s)):  # split at the ReLU kink
        val, _ = quad(f, a, b, epsabs=1e-15, epsrel=1e-13, limit=400)
        total += val
    return total


def gelu_second_moment(s: float) -> float:
    """Closed form of ``E[GELU(z)^2]``, ``z ~ N(0, s^2)``.

    Stein's lemma gives ``E[z^2 Phi^2] = s^2 E[Phi(z)^2 + 2 z Phi(z) pdf(z)]`` with
    ``E[Phi(z)^2] = 1/4 + asin(s^2 / (1 + s^2)) / (2 pi)`` (a bivariate orthant
    probability) and ``E[z Phi(z) pdf(z)] = s^2 / (2 pi (1 + s^2) sqrt(1 + 2 s^2))``.
    """
    s2 = s * s
    return (
        s2 / 4.0
        + s2 * math.asin(s2 / (1.0 + s2)) / (2.0 * math.pi)
        + s2 * s2 / (math.pi * (1.0 + s2) * math.sqrt(1.0 + 2.0 * s2))
    )


# --------------------------------------------------------------------------- moments


@pytest.mark.parametrize("s", [0.05, 0.3, 1.0, 2.0, 5.0, 20.0])
def test_gelu_mean_closed_form(s: float) -> None:
    got = gaussian_moments("gelu", s)["mean"]
    assert got == pytest.approx(s * s / math.sqrt(2.0 * math.pi * (1.0 + s * s)), rel=1e-12)


@pytest.mark.parametrize("s", [0.05, 0.3, 1.0, 2.0, 5.0, 20.0])
def test_gelu_second_moment_closed_form(s: float) -> None:
    assert gaussian_moments("gelu", s)["second"] == pytest.approx(gelu_second_moment(s), rel=1e-12)


@pytest.mark.parametrize("s", [0.1, 0.7, 1.0, 2.5, 6.0])
def test_sin_closed_forms(s: float) -> None:
    m = gaussian_moments("sin", s)
    e = math.exp(-2.0 * s * s)
    assert abs(m["mean"]) < 1e-15
    assert m["second"] == pytest.approx(0.5 * (1.0 - e), rel=1e-12)
    assert m["d1_sq"] == pytest.approx(0.5 * (1.0 + e), rel=1e-12)
    assert m["d2_sq"] == pytest.approx(0.5 * (1.0 - e), rel=1e-12)


@pytest.mark.parametrize("s", [0.1, 1.0, 3.0, 50.0])
def test_relu_and_linear_closed_forms(s: float) -> None:
    m = gaussian_moments("relu", s)
    assert m["mean"] == pytest.approx(s / SQRT_2PI, rel=1e-13)
    assert m["second"] == pytest.approx(0.5 * s * s, rel=1e-13)
    assert m["d1_sq"] == pytest.approx(0.5, rel=1e-13)
    assert m["d2_sq"] == 0.0
    m = gaussian_moments("linear", s)
    assert abs(m["mean"]) < 1e-13 * s
    assert m["second"] == pytest.approx(s * s, rel=1e-13)
    assert m["d1_sq"] == pytest.approx(1.0, rel=1e-13)
    assert m["d2_sq"] == 0.0


@pytest.mark.parametrize("s", [0.2, 1.0, 2.0, 8.0])
def test_tanh_identities(s: float) -> None:
    m = gaussian_moments("tanh", s)
    assert abs(m["mean"]) < 1e-15  # odd function
    # tanh' = 1 - tanh^2
    e1 = gaussian_expectation("tanh", s, lambda d: d[1])
    assert e1 == pytest.approx(1.0 - m["second"], rel=1e-12)
    # tanh'' = -2 tanh tanh', and E[tanh''] = 0 by oddness
    assert abs(gaussian_expectation("tanh", s, lambda d: d[2])) < 1e-15
    assert abs(gaussian_expectation("tanh", s, lambda d: d[2] + 2 * d[0] * d[1])) < 1e-15


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("s", [0.4, 1.0, 2.5])
def test_moments_against_quad(name: str, s: float) -> None:
    m = gaussian_moments(name, s)
    for key, (order, power) in MOMENTS.items():
        ref = quad_moment(name, s, order, power)
        assert m[key] == pytest.approx(ref, rel=1e-10, abs=1e-14), (key, m[key], ref)


@pytest.mark.parametrize("name", [n for n in NAMES if activation_code(n) in SMOOTH_ACTIVATIONS])
@pytest.mark.parametrize("s", [0.1, 0.5, 1.0])
def test_hermite_and_panels_agree(name: str, s: float) -> None:
    h = gaussian_moments(name, s, method="hermite")
    h2 = gaussian_moments(name, s, n_nodes=500)
    p = gaussian_moments(name, s, method="panels")
    for key in MOMENTS:
        assert h[key] == pytest.approx(p[key], rel=1e-12, abs=1e-15)
        assert h2[key] == pytest.approx(p[key], rel=1e-12, abs=1e-15)


def test_rules() -> None:
    for name in NAMES:
        for s in (1e-6, 0.5, 1.0, 3.0, 1e3):
            z, w = gaussian_rule(name, s)
            assert z.shape == w.shape and z.ndim == 1
            assert np.sum(w) == pytest.approx(1.0, rel=1e-13)
            assert np.sum(w * z) == pytest.approx(0.0, abs=1e-13 * s)
            assert np.sum(w * z * z) == pytest.approx(s * s, rel=1e-12)
    z, _ = gaussian_rule("relu", 1.0)
    assert np.min(np.abs(z)) > 0.0  # the kink is a panel edge, not a node
    z, w = gaussian_rule("gelu", 0.0)
    assert z.tolist() == [0.0] and w.tolist() == [1.0]
    assert gaussian_moments("gelu", 0.0) == {
        "mean": 0.0,
        "second": 0.0,
        "d1_sq": 0.25,
        "d2_sq": 4.0 / (2.0 * math.pi),
    }
    with pytest.raises(ValueError):
        gaussian_rule("gelu", -1.0)
    with pytest.raises(ValueError):
        gaussian_rule("gelu", 1.0, method="simpson")
    with pytest.raises(ValueError):
        gaussian_rule("swish", 1.0)


# ------------------------------------------------------------------------- Lipschitz


def test_gelu_lipschitz_constant() -> None:
    r2 = math.sqrt(2.0)
    exact = 0.5 * erfc(-r2 / r2) + r2 * math.exp(-1.0) / SQRT_2PI  # Phi(sqrt 2) + sqrt 2 pdf
    assert exact == pytest.approx(1.1289, abs=1e-4)
    lip, x_max = lipschitz_argmax("gelu", -10.0, 10.0)
    assert lip == pytest.approx(exact, rel=1e-15)
    assert x_max == pytest.approx(r2, abs=1e-12)
    assert lipschitz_constant("gelu", -10.0, 10.0) == lip
    # the gelu_tanh approximation has its maximum slope close by
    lip_t, x_t = lipschitz_argmax("gelu_tanh", -10.0, 10.0)
    assert lip_t == pytest.approx(exact, abs=2e-4)
    assert abs(act_derivs(activation_code("gelu_tanh"), x_t)[2]) < 1e-14
    assert abs(x_t - r2) < 1e-2


def test_lipschitz_subintervals() -> None:
    # on [-3, -1] the slope is negative; |phi'| peaks at the minimum of phi', x = -sqrt 2
    r2 = math.sqrt(2.0)
    lip, x_max = lipschitz_argmax("gelu", -3.0, -1.0)
    assert x_max == pytest.approx(-r2, abs=1e-12)
    assert lip == pytest.approx(r2 * math.exp(-1.0) / SQRT_2PI - 0.5 * erfc(1.0), rel=1e-14)
    # monotone phi' on [2, 5]: maximum at the left endpoint
    lip, x_max = lipschitz_argmax("gelu", 2.0, 5.0)
    assert x_max == 2.0
    assert lip == act_derivs(activation_code("gelu"), 2.0)[1]
    lip, x_max = lipschitz_argmax("sin", 1.0, 2.0)
    assert (lip, x_max) == (pytest.approx(math.cos(1.0), rel=1e-15), 1.0)
    lip, x_max = lipschitz_argmax("sin", 1.0, 4.0)
    assert (lip, x_max) == (pytest.approx(1.0, rel=1e-15), pytest.approx(math.pi, abs=1e-7))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tanh", 1.0),
        ("sin", 1.0),
        ("relu", 1.0),
        ("linear", 1.0),
        ("softplus", 1.0 / (1.0 + math.exp(-10.0))),
    ],
)
def test_lipschitz_unit_slope(name: str, expected: float) -> None:
    lip, x_max = lipschitz_argmax(name, -10.0, 10.0)
    assert lip == pytest.approx(expected, rel=1e-15, abs=1e-15)
    if name == "tanh":
        assert abs(x_max) < 1e-6


def test_lipschitz_arguments() -> None:
    assert lipschitz_constant("gelu", 0.5, 0.5) == act_derivs(activation_code("gelu"), 0.5)[1]
    with pytest.raises(ValueError):
        lipschitz_constant("gelu", 1.0, 0.0)
    with pytest.raises(ValueError):
        lipschitz_constant("gelu", 0.0, math.inf)


# ------------------------------------------------------------ variance-preserving gain


@pytest.mark.parametrize("q", [0.01, 0.25, 1.0, 4.0, 100.0])
def test_gain_closed_forms(q: float) -> None:
    assert variance_preserving_gain("gelu", q) == pytest.approx(
        q / gelu_second_moment(math.sqrt(q)), rel=1e-12
    )
    assert variance_preserving_gain("relu", q) == pytest.approx(2.0, rel=1e-13)
    assert variance_preserving_gain("linear", q) == pytest.approx(1.0, rel=1e-13)
    assert variance_preserving_gain("sin", q) == pytest.approx(
        2.0 * q / (1.0 - math.exp(-2.0 * q)), rel=1e-12
    )


def test_gelu_gain_at_unit_variance() -> None:
    # E[GELU(z)^2] = 1/3 + 1 / (2 pi sqrt 3) for z ~ N(0, 1)
    c = variance_preserving_gain("gelu")
    assert c == pytest.approx(1.0 / (1.0 / 3.0 + 1.0 / (2.0 * math.pi * math.sqrt(3.0))), rel=1e-13)
    assert c == pytest.approx(2.3517156, abs=1e-7)
    assert variance_preserving_gain(activation_code("gelu"), 1.0) == c


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("q", [0.3, 1.0, 3.0])
def test_gain_makes_q_a_fixed_point(name: str, q: float) -> None:
    c = variance_preserving_gain(name, q)
    assert c * quad_moment(name, math.sqrt(q), 0, 2) == pytest.approx(q, rel=1e-10)
    assert variance_map(name, q, c) == pytest.approx(q, rel=1e-13)


def test_gain_arguments() -> None:
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            variance_preserving_gain("gelu", bad)
    with pytest.raises(ValueError):
        variance_preserving_gain("swish")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("q", [0.5, 1.0, 2.0])
def test_variance_map_slope_matches_finite_difference(name: str, q: float) -> None:
    c = variance_preserving_gain(name, q)
    dq = 1e-4 * q
    fd = (variance_map(name, q + dq, c) - variance_map(name, q - dq, c)) / (2.0 * dq)
    assert variance_map_slope(name, q) == pytest.approx(fd, rel=1e-7)


def test_variance_map_slopes() -> None:
    # stable (tanh, sin, softplus), marginal (ReLU, linear), unstable (GELU) fixed points
    assert variance_map_slope("relu") == pytest.approx(1.0, rel=1e-13)
    assert variance_map_slope("linear") == pytest.approx(1.0, rel=1e-13)
    assert variance_map_slope("tanh") < 0.5
    assert variance_map_slope("sin") < 0.5
    assert variance_map_slope("softplus") < 0.5
    assert variance_map_slope("gelu") == pytest.approx(1.144, abs=1e-3)
    assert variance_map_slope("gelu_tanh") == pytest.approx(1.144, abs=1e-3)


def test_propagate_variance() -> None:
    for name in NAMES:
        c = variance_preserving_gain(name)
        qs = propagate_variance(name, 1.0, c, 12)
        assert qs.shape == (13,)
        np.testing.assert_allclose(qs, 1.0, rtol=1e-11)
    # ReLU with c = 2 keeps every variance; a wrong gain scales it geometrically
    np.testing.assert_allclose(propagate_variance("relu", 3.0, 2.0, 5), 3.0, rtol=1e-13)
    np.testing.assert_allclose(propagate_variance("relu", 1.0, 3.0, 5), 1.5 ** np.arange(6))
    # near the GELU fixed point deviations grow like chi^L (linearised map)
    chi = variance_map_slope("gelu")
    c = variance_preserving_gain("gelu")
    eps = 1e-7
    qs = propagate_variance("gelu", 1.0 + eps, c, 10)
    np.testing.assert_allclose((qs - 1.0) / eps, chi ** np.arange(11), rtol=1e-4)
    # near the tanh fixed point they decay
    qs = propagate_variance("tanh", 1.5, variance_preserving_gain("tanh"), 30)
    assert abs(qs[-1] - 1.0) < 1e-8


# --------------------------------------------------------------- deep random networks

_NUMPY_ACT = {
    "tanh": np.tanh,
    "sin": np.sin,
    "gelu": lambda h: 0.5 * h * erfc(-h / math.sqrt(2.0)),
}


def deep_network_variances(
    name: str, gain: float, q: float, n_layers: int, width: int = 500, n_inputs: int = 2000
) -> np.ndarray:
    """Empirical pre-activation variance of every layer of a random MLP, shape ``(n_layers,)``.

    The first pre-activations are ``N(0, q)``; each layer is ``h <- phi(h) W^T`` with
    ``W_ij ~ N(0, gain / width)`` and zero biases (float32 for speed).
    """
    rng = np.random.default_rng(20240607)
    act = _NUMPY_ACT[name]
    h = (math.sqrt(q) * rng.standard_normal((n_inputs, width))).astype(np.float32)
    out = np.empty(n_layers)
    for layer in range(n_layers):
        w = (math.sqrt(gain / width) * rng.standard_normal((width, width))).astype(np.float32)
        h = act(h) @ w.T
        out[layer] = np.mean(np.square(h, dtype=np.float64))
    return out


@pytest.mark.parametrize("name", ["tanh", "sin"])
def test_deep_network_keeps_variance_at_stable_fixed_point(name: str) -> None:
    q = 1.0
    c = variance_preserving_gain(name, q)
    qs = deep_network_variances(name, c, q, 30)
    assert np.all(np.abs(qs[-5:] / q - 1.0) < 0.1), qs[-5:]
    # a wrong gain settles at a different fixed point
    q_big = deep_network_variances(name, 2.0 * c, q, 30)[-5:]
    q_small = deep_network_variances(name, 0.5 * c, q, 30)[-5:]
    assert np.all(q_big > 2.0 * q), q_big
    assert np.all(q_small < 0.2 * q), q_small
    # and the mean-field map predicts where
    np.testing.assert_allclose(q_big, propagate_variance(name, q, 2.0 * c, 30)[-5:], rtol=0.1)
    np.testing.assert_allclose(q_small, propagate_variance(name, q, 0.5 * c, 30)[-5:], rtol=0.1)


def test_gelu_network_variance() -> None:
    q = 1.0
    c = variance_preserving_gain("gelu", q)
    qs = deep_network_variances("gelu", c, q, 30)
    # the gain keeps the variance over the depth of a typical PINN ...
    assert np.all(np.abs(qs[:4] / q - 1.0) < 0.1), qs[:4]
    # ... while a wrong gain is off by far more already
    assert deep_network_variances("gelu", 2.0 * c, q, 4)[-1] > 10.0 * q
    assert deep_network_variances("gelu", 0.5 * c, q, 4)[-1] < 0.1 * q
    # The fixed point repels (chi ~ 1.144 > 1): finite-width fluctuations of a few percent
    # per layer grow like chi^L (~56 at L = 30), so the deep end leaves the 10% band.
    assert variance_map_slope("gelu", q) > 1.1
    assert abs(qs[-1] / q - 1.0) > 0.1, qs


def test_stats_lives_beside_the_network_and_keeps_its_old_name() -> None:
    """``pinngelu.stats`` (the name the docs use) is :mod:`pinngelu.network.stats`."""
    import importlib

    import pinngelu
    from pinngelu import network

    old = importlib.import_module("pinngelu.stats")
    assert old is network.stats is pinngelu.stats
    assert old.__name__ == "pinngelu.network.stats"
    assert network.gelu_fixed_point_gain(1.0) == variance_preserving_gain("gelu", 1.0)
