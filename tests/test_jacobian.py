"""The residual Jacobian kernel: rows against the loss kernel, columns against
central differences, ``2 J^T r`` against the gradient, the blocked normal equations
against the dense Jacobian, for d = 1, 2, 3, odd widths and inverse-problem
parameters."""

from __future__ import annotations

import numpy as np
import pytest

import pinngelu as pg
from pinngelu.jacobian import n_residuals, normal_equations, residuals_and_jacobian
from pinngelu.kernels import n_channels
from pinngelu.loss import ResidualGroup, loss_and_grad
from pinngelu.network import MLP

ARCHS = [(1, (5,), 1), (2, (7, 5), 2), (3, (5, 3, 7), 3), (2, (9,), 3)]
IDS = ["d1", "d2-odd", "d3-three-layers", "d2-m3"]


def _net(rng, d, hidden, m):
    mlp = MLP(d, hidden, m, "gelu")
    return mlp, mlp.init(rng, "glorot") + 0.3 * rng.normal(size=mlp.n_params)


def _groups(rng, d, m):
    nc = n_channels(d)

    def group(name, N, K, broadcast, pw, weight):
        X = rng.uniform(-1.2, 1.2, size=(N, d))
        C = rng.normal(size=(1 if broadcast else N, K, m, nc))
        g = rng.normal(size=(N, K))
        w = rng.uniform(0.2, 2.0, size=N) if pw else None
        return ResidualGroup(name, X, C, g, weight=weight, point_weights=w)

    return [
        group("interior", 37, 3, False, False, 0.8),
        group("edge", 11, 2, True, True, 2.5),
        group("corner", 1, 1, False, False, 1.0),
    ]


@pytest.mark.parametrize("arch", ARCHS, ids=IDS)
def test_residuals_and_gradient_match_the_loss_kernel(arch):
    d, hidden, m = arch
    rng = np.random.default_rng(11 + d)
    mlp, theta = _net(rng, d, hidden, m)
    groups = _groups(rng, d, m)
    r, J = residuals_and_jacobian(mlp, theta, groups)
    assert r.shape == (n_residuals(groups),) == (37 * 3 + 11 * 2 + 1,)
    assert J.shape == (r.shape[0], mlp.n_params)
    res = loss_and_grad(mlp, theta, groups, want_residuals=True)
    assert float(r @ r) == pytest.approx(res.loss, rel=1e-13)
    # row order: group by group, point by point, component by component
    row = 0
    for grp in groups:
        w = np.broadcast_to(grp.kernel_weights(), (grp.n_points,))
        want = (np.sqrt(w)[:, None] * res.residuals[grp.name]).reshape(-1)
        np.testing.assert_allclose(r[row : row + want.size], want, rtol=1e-13, atol=1e-15)
        row += want.size
    g = 2.0 * J.T @ r
    assert np.max(np.abs(g - res.grad)) <= 1e-12 * np.max(np.abs(res.grad))


@pytest.mark.parametrize("arch", ARCHS, ids=IDS)
def test_jacobian_matches_central_differences(arch):
    d, hidden, m = arch
    rng = np.random.default_rng(21 + d)
    mlp, theta = _net(rng, d, hidden, m)
    groups = _groups(rng, d, m)
    _, J = residuals_and_jacobian(mlp, theta, groups)
    h = 1e-6
    for i in rng.choice(mlp.n_params, size=min(12, mlp.n_params), replace=False):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        fd = (
            residuals_and_jacobian(mlp, tp, groups)[0] - residuals_and_jacobian(mlp, tm, groups)[0]
        ) / (2 * h)
        np.testing.assert_allclose(J[:, i], fd, rtol=1e-6, atol=1e-7 * np.max(np.abs(fd)))
    # a random direction through every parameter at once
    v = rng.normal(size=mlp.n_params)
    fd = (
        residuals_and_jacobian(mlp, theta + h * v, groups)[0]
        - residuals_and_jacobian(mlp, theta - h * v, groups)[0]
    ) / (2 * h)
    assert np.linalg.norm(J @ v - fd) <= 1e-7 * np.linalg.norm(fd)


@pytest.mark.parametrize("block_rows", [1, 7, 64, 10_000])
def test_blocked_normal_equations_equal_the_dense_products(block_rows):
    rng = np.random.default_rng(5)
    mlp, theta = _net(rng, 2, (7, 5), 2)
    groups = _groups(rng, 2, 2)
    r, J = residuals_and_jacobian(mlp, theta, groups)
    ne = normal_equations(mlp, theta, groups, block_rows=block_rows)
    assert ne.n_res == r.shape[0]
    assert ne.loss == pytest.approx(float(r @ r), rel=1e-14)
    np.testing.assert_allclose(ne.JtJ, J.T @ J, rtol=1e-12, atol=1e-12 * np.max(np.abs(J.T @ J)))
    np.testing.assert_array_equal(ne.JtJ, ne.JtJ.T)
    np.testing.assert_allclose(ne.Jtr, J.T @ r, rtol=1e-12, atol=1e-12 * np.max(np.abs(J.T @ r)))


def test_normal_equations_are_reproducible():
    rng = np.random.default_rng(6)
    mlp, theta = _net(rng, 2, (9, 9), 2)
    groups = _groups(rng, 2, 2)
    a = normal_equations(mlp, theta, groups, block_rows=16)
    b = normal_equations(mlp, theta, groups, block_rows=16)
    assert a.loss == b.loss
    np.testing.assert_array_equal(a.JtJ, b.JtJ)
    np.testing.assert_array_equal(a.Jtr, b.Jtr)


def test_bad_block_rows():
    rng = np.random.default_rng(7)
    mlp, theta = _net(rng, 2, (3,), 2)
    with pytest.raises(ValueError, match="block_rows must be a positive integer"):
        normal_equations(mlp, theta, _groups(rng, 2, 2), block_rows=0)


# ------------------------------------------------------------- inverse problems
def _inverse_problem():
    def exact(X):
        x, y = X[:, 0], X[:, 1]
        return np.stack([x**2, y**2 + x * y], axis=1)

    lam, mu = 1.5, 0.7
    f = -(mu * np.array([2.0, 2.0]) + (lam + mu) * np.array([3.0, 2.0]))
    geom = pg.Rectangle(0.0, 1.0, 0.0, 1.0)
    Xd = geom.sample_interior(30, np.random.default_rng(3))
    return pg.ElasticityProblem(
        geom,
        pg.Material.from_lame(2.0, 1.1),
        [pg.Dirichlet(s, exact) for s in ("left", "right", "bottom")]
        + [pg.Traction("top", lambda X: np.zeros((X.shape[0], 2)))],
        lambda X: np.broadcast_to(f, (X.shape[0], 2)).copy(),
        n_interior=60,
        n_boundary=40,
        data=[pg.DisplacementData(Xd, exact(Xd))],
        identify=("lam", "mu"),
    )


def test_inverse_problem_columns():
    prob = _inverse_problem()
    groups = prob.residual_groups(np.random.default_rng(0))
    mlp = MLP(2, (7, 5), 2, "gelu")
    theta = mlp.init(np.random.default_rng(1))
    q = prob.initial_q() * np.linspace(0.8, 1.3, prob.n_q)
    r, J = residuals_and_jacobian(mlp, theta, groups, q=q)
    assert J.shape == (r.shape[0], mlp.n_params + prob.n_q)
    res = loss_and_grad(mlp, theta, groups, q=q)
    g = 2.0 * J.T @ r
    full = np.concatenate([res.grad, res.grad_q])
    assert np.max(np.abs(g - full)) <= 1e-12 * np.max(np.abs(full))
    h = 1e-6
    for a in range(prob.n_q):
        qp, qm = q.copy(), q.copy()
        qp[a] += h
        qm[a] -= h
        fd = (
            residuals_and_jacobian(mlp, theta, groups, q=qp)[0]
            - residuals_and_jacobian(mlp, theta, groups, q=qm)[0]
        ) / (2 * h)
        np.testing.assert_allclose(J[:, mlp.n_params + a], fd, rtol=1e-6, atol=1e-9)
    ne = normal_equations(mlp, theta, groups, q=q, block_rows=50)
    np.testing.assert_allclose(ne.JtJ, J.T @ J, rtol=1e-12, atol=1e-12 * np.max(np.abs(J.T @ J)))
