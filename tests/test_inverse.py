"""Inverse problems: material parameters trained together with the network.

The gradient in the parameters is checked against central differences of the loss,
the parametrisation against the forward problem, and a small identification
against the true Lame constants of a manufactured solution.
"""

from __future__ import annotations

import numpy as np
import pytest
from stagecfg import stage_config

import pinngelu as pg
from pinngelu.loss import loss_and_grad

LAM, MU = 1.5, 0.7


def exact(X):
    """A quadratic displacement whose Laplacian and grad-div are independent."""
    x, y = X[:, 0], X[:, 1]
    return np.stack([x**2, y**2 + x * y], axis=1)


def body_force(X, lam=LAM, mu=MU):
    """f = -(mu lap u + (lam + mu) grad div u): lap u = (2, 2), grad div u = (3, 2)."""
    f = -(mu * np.array([2.0, 2.0]) + (lam + mu) * np.array([3.0, 2.0]))
    return np.broadcast_to(f, (X.shape[0], 2)).copy()


def make_problem(guess=(LAM, MU), identify=("lam", "mu"), plane_stress=False, n_data=60, **kw):
    rng = np.random.default_rng(3)
    geom = pg.Rectangle(0.0, 1.0, 0.0, 1.0)
    Xd = geom.sample_interior(n_data, rng)
    data = [pg.DisplacementData(Xd, exact(Xd))]
    conds = [pg.Dirichlet(side, exact) for side in ("left", "right", "bottom", "top")]
    conds[-1] = pg.Traction("top", lambda X: top_traction(X, plane_stress))
    return pg.ElasticityProblem(
        geom,
        pg.Material.from_lame(*guess),
        conds,
        body_force
        if not plane_stress
        else (lambda X: body_force(X, 2 * LAM * MU / (LAM + 2 * MU))),
        plane_stress=plane_stress,
        n_interior=200,
        n_boundary=120,
        data=data,
        exact=exact,
        identify=identify,
        **kw,
    )


def top_traction(X, plane_stress=False):
    """sigma . n on y = 1 (n = e_y) of the exact solution with the true material."""
    lam = 2 * LAM * MU / (LAM + 2 * MU) if plane_stress else LAM
    x, y = X[:, 0], X[:, 1]
    ux_x, ux_y, uy_x, uy_y = 2 * x, 0 * x, y, 2 * y + x
    div = ux_x + uy_y
    return np.stack([MU * (ux_y + uy_x), lam * div + 2 * MU * uy_y], axis=1)


@pytest.mark.parametrize("identify", [("lam", "mu"), ("mu",), ("lam",)])
@pytest.mark.parametrize("plane_stress", [False, True])
def test_parameter_gradient_matches_finite_differences(identify, plane_stress):
    prob = make_problem(guess=(2.0, 1.1), identify=identify, plane_stress=plane_stress)
    groups = prob.residual_groups(np.random.default_rng(0))
    assert sum(g.n_q > 0 for g in groups) >= 2  # the PDE and the traction depend on q
    mlp = pg.MLP(2, (7, 5), 2, "gelu")
    theta = mlp.init(np.random.default_rng(1))
    q = prob.initial_q() * np.linspace(0.8, 1.3, prob.n_q)
    res = loss_and_grad(mlp, theta, groups, q=q)
    assert res.grad_q.shape == (prob.n_q,)
    h = 1e-6
    for a in range(prob.n_q):
        qp, qm = q.copy(), q.copy()
        qp[a] += h
        qm[a] -= h
        fd = (
            loss_and_grad(mlp, theta, groups, q=qp).loss
            - loss_and_grad(mlp, theta, groups, q=qm).loss
        ) / (2 * h)
        assert res.grad_q[a] == pytest.approx(fd, rel=1e-7, abs=1e-10 * abs(res.loss))
    # group by group, the loss and network gradient are those of the forward problem
    # with the material at q, on the same scales: groups depending on q are measured
    # in units of the reference mu, so they carry a factor (mu / mu_ref)^2
    mat = prob.material_at(q)
    fwd = make_problem(
        guess=(mat.lam, mat.mu),
        identify=(),
        plane_stress=plane_stress,
        displacement_scale=prob.scales.displacement,
        length_scale=prob.scales.length,
    )
    fgroups = fwd.residual_groups(np.random.default_rng(0))
    for g_inv, g_fwd in zip(groups, fgroups, strict=True):
        assert g_inv.name == g_fwd.name
        factor = (mat.mu / prob.material.mu) ** 2 if g_inv.n_q else 1.0
        r_inv = loss_and_grad(mlp, theta, [g_inv], q=q)
        r_fwd = loss_and_grad(mlp, theta, [g_fwd])
        assert r_inv.loss == pytest.approx(factor * r_fwd.loss, rel=1e-12)
        np.testing.assert_allclose(
            r_inv.grad, factor * r_fwd.grad, rtol=1e-9, atol=1e-13 * np.abs(r_inv.grad).max()
        )


@pytest.mark.parametrize("plane_stress", [False, True])
def test_material_round_trip(plane_stress):
    prob = make_problem(guess=(2.0, 1.1), plane_stress=plane_stress)
    m = prob.material_at(prob.initial_q())
    assert m.lam == pytest.approx(2.0, rel=1e-14)
    assert m.mu == pytest.approx(1.1, rel=1e-14)
    assert prob.material_at(None) is prob.material


def test_q_required_and_checked():
    prob = make_problem()
    groups = prob.residual_groups(np.random.default_rng(0))
    mlp = pg.MLP(2, (4,), 2)
    theta = mlp.init(np.random.default_rng(0))
    with pytest.raises(ValueError, match="trainable parameter"):
        loss_and_grad(mlp, theta, groups)
    with pytest.raises(ValueError, match="NaN"):
        loss_and_grad(mlp, theta, groups, q=np.array([np.nan, 1.0]))


def test_bad_identify_names():
    with pytest.raises(ValueError, match="can identify"):
        make_problem(identify=("E",))
    with pytest.raises(ValueError, match="twice"):
        make_problem(identify=("mu", "mu"))


def test_identifies_lame_constants():
    """Start 60% / 40% off; the trained constants land within 1% of the truth."""
    prob = make_problem(guess=(0.6 * LAM, 1.4 * MU))
    mlp = pg.MLP(2, (12, 12), 2, "gelu")
    res = pg.train(
        prob,
        mlp,
        rng=np.random.default_rng(0),
        out=None,
        config=stage_config(lbfgs_iters=1500, print_every=0),
    )
    mat = prob.material_at(res.q)
    assert mat.lam == pytest.approx(LAM, rel=1e-2)
    assert mat.mu == pytest.approx(MU, rel=1e-2)
    assert len(res.history["q"]) == len(res.history["loss"])
    sol = prob.solution(mlp, res.theta, res.q)
    assert sol.material == mat
    assert (
        sol.relative_l2_error(prob.geometry.sample_interior(500, np.random.default_rng(9))) < 1e-2
    )
