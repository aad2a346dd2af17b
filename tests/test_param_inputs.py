"""Networks with parameter inputs (``MLP(..., n_param=p)``): the points carry the
coordinates and then ``p`` parameters; the kernels' jets differentiate the
coordinates only.  Checked against an independent NumPy forward pass (values),
central differences in the coordinates (jets) and in the weights (gradients), and
the residual Jacobian against the gradient."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

import pinngelu as pg
from pinngelu.elasticity import navier_operator
from pinngelu.jacobian import residuals_and_jacobian
from pinngelu.loss import ResidualGroup, features, jets, loss_and_grad


def forward(mlp: pg.MLP, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Plain NumPy forward pass with the exact GELU (independent of the kernels)."""
    a = X
    for k, (W, b) in enumerate(mlp.layers(theta)):
        z = a @ W.T + b
        a = z if k == mlp.n_layers - 1 else 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))
    return a


def _setup(d: int, p: int, n: int = 23, seed: int = 0):
    rng = np.random.default_rng(seed)
    mlp = pg.MLP(d, (7, 6), d, n_param=p)
    theta = mlp.init(rng)
    X = np.column_stack([rng.random((n, d)), rng.uniform(-1.0, 2.0, (n, p))])
    return mlp, theta, X


@pytest.mark.parametrize(("d", "p"), [(2, 1), (2, 3), (3, 2)])
def test_jets_differentiate_the_coordinates_only(d, p):
    mlp, theta, X = _setup(d, p)
    u, du, ddu = jets(mlp, theta, X)
    np.testing.assert_allclose(u, forward(mlp, theta, X), rtol=1e-13, atol=1e-14)
    h1, h2 = 1e-6, 1e-4
    pairs = [(i, j) for i in range(d) for j in range(i, d)]
    for i in range(d):
        e = np.zeros(d + p)
        e[i] = h1
        fd = (forward(mlp, theta, X + e) - forward(mlp, theta, X - e)) / (2 * h1)
        np.testing.assert_allclose(du[:, :, i], fd, rtol=1e-6, atol=1e-8)
    for s, (i, j) in enumerate(pairs):
        ei = np.zeros(d + p)
        ej = np.zeros(d + p)
        ei[i] = h2
        ej[j] = h2
        f = lambda Y: forward(mlp, theta, Y)  # noqa: E731
        fd = (f(X + ei + ej) - f(X + ei - ej) - f(X - ei + ej) + f(X - ei - ej)) / (4 * h2**2)
        np.testing.assert_allclose(ddu[:, :, s], fd, rtol=1e-4, atol=1e-6)


def test_parameters_change_the_value_not_the_channels():
    """A parameter shifts the field (the value depends on it), while the jets keep
    the channels of d = 2 (6 of them, not those of 4 inputs)."""
    mlp, theta, X = _setup(2, 2)
    J = np.empty((X.shape[0], 2, 6))
    Y = X.copy()
    Y[:, 3] += 0.5
    assert not np.allclose(jets(mlp, theta, X)[0], jets(mlp, theta, Y)[0])
    F = features(mlp, theta, X)
    assert F.shape == (X.shape[0], 6, 6) and J.shape[2] == F.shape[2]


@pytest.mark.parametrize("first_order", [False, True])
def test_loss_gradient_matches_central_differences(first_order):
    d, p = 2, 2
    mlp, theta, X = _setup(d, p, n=41, seed=3)
    if first_order:  # a first-derivative operator (the path of the energy formulation)
        C = np.zeros((1, 2, 2, 6))
        C[0, 0, 0, 1] = C[0, 1, 1, 2] = 1.0
        C[0, 0, 1, 2] = 0.3
    else:
        C = navier_operator(d, 1.3, 0.7)
    g = np.random.default_rng(4).normal(size=(X.shape[0], 2))
    grp = ResidualGroup("pde", X, C, g)
    res = loss_and_grad(mlp, theta, [grp])
    n_in = d + p
    # first-layer weights of a coordinate and of a parameter column, a bias, a later layer
    idx = [0, 1 * n_in + 2, 3 * n_in + 3, 7 * n_in + 1, mlp.n_params - 1, int(mlp.offsets[1]) + 5]
    for i in idx:
        e = np.zeros_like(theta)
        e[i] = 1e-6
        fd = loss_and_grad(mlp, theta + e, [grp]).loss - loss_and_grad(mlp, theta - e, [grp]).loss
        fd /= 2e-6
        assert res.grad[i] == pytest.approx(fd, rel=1e-6, abs=1e-9), i


def test_residual_jacobian_gives_the_gradient():
    mlp, theta, X = _setup(2, 3, n=17, seed=5)
    C = navier_operator(2, 1.0, 0.5)
    g = np.random.default_rng(6).normal(size=(X.shape[0], 2))
    grp = ResidualGroup("pde", X, C, g)
    r, Jac = residuals_and_jacobian(mlp, theta, [grp])[:2]
    res = loss_and_grad(mlp, theta, [grp])
    np.testing.assert_allclose(2.0 * Jac.T @ r, res.grad, rtol=1e-11, atol=1e-12)
    assert float(r @ r) == pytest.approx(res.loss, rel=1e-12)


def test_points_without_the_parameter_columns_are_refused():
    mlp, theta, X = _setup(2, 2)
    grp = ResidualGroup("pde", X[:, :2], navier_operator(2, 1.0, 0.5), np.zeros((len(X), 2)))
    with pytest.raises(ValueError, match="takes 2-D inputs and 2 parameters \\(4 columns\\)"):
        loss_and_grad(mlp, theta, [grp])


def test_architecture_round_trip_and_bad_counts(tmp_path):
    mlp, theta, _ = _setup(2, 3)
    assert mlp.n_inputs == 5 and mlp.sizes[0] == 5
    assert pg.MLP.from_dict(mlp.to_dict()) == mlp
    assert "n_param" not in pg.MLP(2, (4,), 2).to_dict()  # old files stay as they were
    mlp.save(tmp_path / "m.npz", theta)
    back, th = pg.MLP.load(tmp_path / "m.npz")
    assert back == mlp and np.array_equal(th, theta)
    with pytest.raises(ValueError, match="n_param must be between 0 and 16"):
        pg.MLP(2, (4,), 2, n_param=17)
    with pytest.raises(TypeError, match="n_param must be an integer"):
        pg.MLP(2, (4,), 2, n_param=1.5)
