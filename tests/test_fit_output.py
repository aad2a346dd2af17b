"""The least-squares output layer and the displacement-scale calibration."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from stagecfg import stage_config

import pinngelu as pg
from pinngelu.loss import features, fit_output_layer, jets, loss_and_grad

plate = importlib.import_module("pinngelu.cases.plate_manufactured")


@pytest.fixture(scope="module")
def setup():
    prob = plate.build_problem(n_interior=300, n_boundary=200)
    groups = prob.residual_groups(np.random.default_rng(0))
    mlp = pg.MLP(2, (9, 7), 2, "gelu")
    theta = mlp.init(np.random.default_rng(1))
    return prob, groups, mlp, theta


def test_features_are_the_basis_of_the_output(setup):
    _, groups, mlp, theta = setup
    X = groups[0].X
    F = features(mlp, theta, X)
    assert F.shape == (X.shape[0], 7, 6)
    W, b = mlp.layer(theta, mlp.n_layers - 1)
    u, du, ddu = jets(mlp, theta, X)
    np.testing.assert_allclose(np.einsum("ji,pi->pj", W, F[:, :, 0]) + b, u, atol=1e-14)
    np.testing.assert_allclose(np.einsum("ji,pic->pjc", W, F[:, :, 1:3]), du, atol=1e-14)
    np.testing.assert_allclose(np.einsum("ji,pic->pjc", W, F[:, :, 3:]), ddu, atol=1e-13)


def test_fit_solves_the_normal_equations(setup):
    """At the fit, the loss gradient in the output layer vanishes (checked by the
    kernels' reverse pass, an independent computation), and the loss drops."""
    _, groups, mlp, theta = setup
    before = loss_and_grad(mlp, theta, groups)
    fitted = fit_output_layer(mlp, theta, groups)
    after = loss_and_grad(mlp, fitted, groups)
    o = mlp.offsets[-2]
    np.testing.assert_array_equal(fitted[:o], theta[:o])  # hidden layers untouched
    assert after.loss < 0.2 * before.loss
    assert np.max(np.abs(after.grad[o:])) < 1e-9 * np.max(np.abs(before.grad[o:]))
    # any perturbation of the output layer raises the loss (a minimum, not a saddle)
    rng = np.random.default_rng(5)
    for _ in range(5):
        pert = fitted.copy()
        pert[o:] += 1e-4 * rng.normal(size=pert.size - o)
        assert loss_and_grad(mlp, pert, groups).loss > after.loss


def test_train_calibrates_the_displacement_scale():
    """The automatic scale of the plate (from its loads) is ~40x the displacement;
    after calibration U is the RMS of the fitted field, within a factor 2 of the
    exact solution's RMS, and the network's outputs are O(1)."""
    prob = plate.build_problem(n_interior=300, n_boundary=200)
    U0 = prob.scales.displacement
    mlp = pg.MLP(2, (20, 20), 2)
    cfg = stage_config(lbfgs_iters=1, print_every=0)
    pg.train(prob, mlp, rng=np.random.default_rng(0), config=cfg, out=None)
    U = prob.scales.displacement
    X = plate.grid(41)
    rms_exact = np.sqrt(np.mean(np.sum(plate.exact(X) ** 2, axis=1)))
    assert U0 > 20 * rms_exact
    assert 0.5 * rms_exact < U < 2 * rms_exact


def test_given_scale_is_kept():
    prob = plate.build_problem(n_interior=100, n_boundary=100)
    prob2 = pg.ElasticityProblem(
        prob.geometry,
        prob.material,
        prob.conditions,
        prob.body_force,
        n_interior=100,
        n_boundary=100,
        displacement_scale=3.0,
    )
    mlp = pg.MLP(2, (8,), 2)
    cfg = stage_config(lbfgs_iters=1, print_every=0)
    pg.train(prob2, mlp, rng=np.random.default_rng(0), config=cfg, out=None)
    assert prob2.scales.displacement == 3.0


def test_training_the_same_problem_twice_gives_the_same_bits():
    prob = plate.build_problem(n_interior=200, n_boundary=100)
    mlp = pg.MLP(2, (10, 10), 2)
    cfg = stage_config(lbfgs_iters=15, print_every=0)
    a = pg.train(prob, mlp, rng=np.random.default_rng(4), config=cfg, out=None)
    U = prob.scales.displacement
    b = pg.train(prob, mlp, rng=np.random.default_rng(4), config=cfg, out=None)
    assert prob.scales.displacement == U
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.loss == b.loss
