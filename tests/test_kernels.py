"""Tests of the jet and loss kernels against an independent NumPy implementation.

The reference below propagates, for every neuron and point, the value, the full
gradient ``(n, d)`` and the full Hessian ``(n, d, d)`` through the network with
activation derivatives written out here (no package kernel is reused), and builds
the loss ``sum_g w_g / N_g sum_p sum_k r_k(p)^2`` from those jets.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy.special import erfc, expit

import pinngelu.kernels.cpu as cpu_kernels
from pinngelu import MLP, ResidualGroup, jets, loss_and_grad
from pinngelu.activations import evaluate
from pinngelu.kernels import get_backend, n_channels, second_pairs

ALL_ACTS = ["gelu", "gelu_tanh", "tanh", "sin", "softplus", "relu", "linear"]
SMOOTH_ACTS = ["gelu", "gelu_tanh", "tanh", "sin", "softplus"]

_K = math.sqrt(2.0 / math.pi)
_A = 0.044715


# --------------------------------------------------------------------- reference
def phi012(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Activation value, first and second derivative, written independently."""
    if name == "gelu":
        cdf = 0.5 * erfc(-z / math.sqrt(2.0))
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        return z * cdf, cdf + z * pdf, pdf * (2.0 - z * z)
    if name == "gelu_tanh":
        u1 = _K * (1.0 + 3.0 * _A * z * z)
        u2 = 6.0 * _K * _A * z
        t = np.tanh(_K * (z + _A * z**3))
        s = 1.0 - t * t
        return (
            0.5 * z * (1.0 + t),
            0.5 * (1.0 + t) + 0.5 * z * s * u1,
            s * u1 + 0.5 * z * s * (u2 - 2.0 * t * u1 * u1),
        )
    if name == "tanh":
        t = np.tanh(z)
        return t, 1.0 - t * t, -2.0 * t * (1.0 - t * t)
    if name == "sin":
        return np.sin(z), np.cos(z), -np.sin(z)
    if name == "softplus":
        s = expit(z)
        return np.logaddexp(0.0, z), s, s * (1.0 - s)
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(float), np.zeros_like(z)
    if name == "linear":
        return z.copy(), np.ones_like(z), np.zeros_like(z)
    raise AssertionError(name)


def ref_jets(mlp: MLP, theta: np.ndarray, X: np.ndarray):
    """Value (N, m), gradient (N, m, d) and full Hessian (N, m, d, d) by NumPy."""
    N, d = X.shape
    a = X
    da = np.broadcast_to(np.eye(d), (N, d, d))
    dda = np.zeros((N, d, d, d))
    for k in range(mlp.n_layers):
        W, b = mlp.layer(theta, k)
        z = a @ W.T + b
        dz = np.einsum("oi,pid->pod", W, da)
        ddz = np.einsum("oi,pide->pode", W, dda)
        if k == mlp.n_layers - 1:
            return z, dz, ddz
        f0, f1, f2 = phi012(mlp.activation, z)
        a = f0
        da = f1[..., None] * dz
        dda = f2[..., None, None] * dz[..., :, None] * dz[..., None, :]
        dda = dda + f1[..., None, None] * ddz
    raise AssertionError("unreachable")


def pack(u, du, H) -> np.ndarray:
    """Channels ``[u, du_0..du_{d-1}, H_00, H_01, .., H_11, ..]`` (N, m, nc)."""
    d = du.shape[-1]
    dd = np.stack([H[..., i, j] for i in range(d) for j in range(i, d)], axis=-1)
    return np.concatenate([u[..., None], du, dd], axis=-1)


def ref_group(mlp, theta, grp: ResidualGroup) -> tuple[float, np.ndarray, np.ndarray]:
    """Loss share, residuals (N, K) and jets (N, m, nc) of one group by NumPy."""
    J = pack(*ref_jets(mlp, theta, grp.X))
    C = np.broadcast_to(grp.C, (grp.n_points,) + grp.C.shape[1:])
    R = np.einsum("pkjc,pjc->pk", C, J) - grp.g
    if grp.point_weights is None:
        loss = grp.weight / max(grp.n_points, 1) * np.sum(R * R)
    else:
        loss = grp.weight * np.sum(grp.point_weights * np.sum(R * R, axis=1))
    return float(loss), R, J


def random_net(rng, d, hidden, m, act):
    """A network with random weights and nonzero biases."""
    mlp = MLP(d, hidden, m, act)
    theta = mlp.init(rng, "glorot") + 0.3 * rng.normal(size=mlp.n_params)
    return mlp, theta


def random_group(rng, name, N, d, m, K, broadcast=False, weight=1.0, point_weights=False):
    X = rng.uniform(-1.5, 1.5, size=(N, d))
    C = rng.normal(size=(1 if broadcast else N, K, m, n_channels(d)))
    g = rng.normal(size=(N, K))
    pw = rng.uniform(0.1, 2.0, size=N) if point_weights else None
    return ResidualGroup(name, X, C, g, weight=weight, point_weights=pw)


def assert_close_scaled(actual, desired, rtol, what=""):
    """``max |actual - desired| <= rtol * max |desired|`` (with a tiny floor)."""
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    assert actual.shape == desired.shape, (what, actual.shape, desired.shape)
    scale = max(float(np.max(np.abs(desired), initial=0.0)), 1e-300)
    err = float(np.max(np.abs(actual - desired), initial=0.0))
    assert err <= rtol * scale, f"{what}: max error {err:.3e} vs scale {scale:.3e}"


# ------------------------------------------------------------ 1. jets vs NumPy
def test_channel_conventions():
    assert [n_channels(d) for d in (1, 2, 3)] == [3, 6, 10]
    assert second_pairs(1) == [(0, 0)]
    assert second_pairs(2) == [(0, 0), (0, 1), (1, 1)]
    assert second_pairs(3) == [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]


ARCHS = [(3, [7, 5, 9], 3), (2, [50, 50], 2), (1, [3], 1), (2, [4, 1, 6], 3)]


@pytest.mark.parametrize("act", ALL_ACTS)
@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: f"d{a[0]}-{a[1]}-m{a[2]}")
def test_jets_match_numpy_reference(act, arch):
    d, hidden, m = arch
    rng = np.random.default_rng([ALL_ACTS.index(act), d, len(hidden)])
    mlp, theta = random_net(rng, d, hidden, m, act)
    X = rng.uniform(-2.0, 2.0, size=(37, d))
    u, du, ddu = jets(mlp, theta, X)
    ur, dur, H = ref_jets(mlp, theta, X)
    assert u.shape == (37, m) and du.shape == (37, m, d) and ddu.shape == (37, m, d * (d + 1) // 2)
    assert_close_scaled(u, ur, 1e-12, "value")
    assert_close_scaled(du, dur, 1e-12, "gradient")
    # symmetric storage order (i, j), i <= j, row-major
    for s, (i, j) in enumerate(second_pairs(d)):
        assert_close_scaled(ddu[..., s], H[..., i, j], 1e-12, f"second derivative {(i, j)}")
    # the reference Hessian is symmetric, so the stored pair (i, j) is also H[j, i]
    np.testing.assert_allclose(H, np.swapaxes(H, -1, -2), rtol=1e-13, atol=1e-14)


def test_second_derivative_storage_order_d3():
    """A single neuron u = c phi(w . x + b) has Hessian c phi'' w w^T with distinct
    off-diagonal entries, so a permuted storage order would be caught."""
    mlp = MLP(3, [1], 1, "tanh")
    theta = np.zeros(mlp.n_params)
    w = np.array([0.5, -1.25, 2.0])
    W0, b0 = mlp.layer(theta, 0)
    W1, b1 = mlp.layer(theta, 1)
    W0[0] = w
    b0[0] = 0.1
    W1[0, 0] = 1.5
    b1[0] = -0.2
    X = np.array([[0.3, -0.1, 0.2], [-0.4, 0.05, 0.1]])
    z = X @ w + 0.1
    f0, f1, f2, _ = evaluate("tanh", z)
    u, du, ddu = jets(mlp, theta, X)
    np.testing.assert_allclose(u[:, 0], 1.5 * f0 - 0.2, rtol=1e-14)
    np.testing.assert_allclose(du[:, 0], 1.5 * f1[:, None] * w, rtol=1e-14)
    expect = [1.5 * f2 * w[i] * w[j] for i, j in [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]]
    np.testing.assert_allclose(ddu[:, 0], np.stack(expect, axis=1), rtol=1e-13)


# ------------------------------------------------------ 2. jets vs differences
@pytest.mark.parametrize("act", SMOOTH_ACTS)
@pytest.mark.parametrize("arch", [(2, [6, 5], 2), (3, [4, 7], 3), (1, [5], 1)])
def test_jets_match_finite_differences(act, arch):
    d, hidden, m = arch
    rng = np.random.default_rng(7 + d)
    mlp, theta = random_net(rng, d, hidden, m, act)
    X = rng.uniform(-1.0, 1.0, size=(9, d))
    u, du, ddu = jets(mlp, theta, X)
    h = 2e-5
    du_fd = np.empty_like(du)
    H_fd = np.empty(du.shape + (d,))
    for i in range(d):
        e = np.zeros(d)
        e[i] = h
        up, dup, _ = jets(mlp, theta, X + e)
        um, dum, _ = jets(mlp, theta, X - e)
        du_fd[..., i] = (up - um) / (2 * h)
        H_fd[..., i, :] = (dup - dum) / (2 * h)  # H_fd[.., i, j] = d/dx_i du/dx_j
    assert_close_scaled(du, du_fd, 1e-7, "first derivatives")
    for s, (i, j) in enumerate(second_pairs(d)):
        assert_close_scaled(ddu[..., s], H_fd[..., i, j], 1e-7, f"H[{i},{j}]")
        assert_close_scaled(ddu[..., s], H_fd[..., j, i], 1e-7, f"H[{j},{i}]")


# -------------------------------------------------- 3. parameter gradient
def _two_groups(rng, d, m):
    return [
        random_group(rng, "interior", 23, d, m, K=3, weight=0.7),
        random_group(
            rng, "boundary", 19, d, m, K=2, broadcast=True, weight=1.9, point_weights=True
        ),
    ]


@pytest.mark.parametrize("act", SMOOTH_ACTS)
@pytest.mark.parametrize("arch", [(2, [5, 3], 3), (3, [4, 3], 2)], ids=["d2", "d3"])
def test_loss_gradient_matches_finite_differences(act, arch):
    d, hidden, m = arch
    rng = np.random.default_rng(100 + d)
    mlp, theta = random_net(rng, d, hidden, m, act)
    groups = _two_groups(rng, d, m)
    res = loss_and_grad(mlp, theta, groups, want_residuals=True, want_jets=True)

    # loss value, residuals and jets against the NumPy reference
    total = 0.0
    for grp in groups:
        loss_g, R, J = ref_group(mlp, theta, grp)
        total += loss_g
        assert res.group_losses[grp.name] == pytest.approx(loss_g, rel=1e-12)
        assert_close_scaled(res.residuals[grp.name], R, 1e-12, f"residuals {grp.name}")
        assert_close_scaled(res.jets[grp.name], J, 1e-12, f"jets {grp.name}")
    assert res.loss == pytest.approx(total, rel=1e-12)
    assert res.loss == pytest.approx(sum(res.group_losses.values()), rel=1e-14)

    # gradient against central differences of the kernel's loss
    assert res.grad.shape == (mlp.n_params,)
    h = 1e-5
    fd = np.empty(mlp.n_params)
    for i in range(mlp.n_params):
        tp = theta.copy()
        tm = theta.copy()
        tp[i] += h
        tm[i] -= h
        fd[i] = (loss_and_grad(mlp, tp, groups).loss - loss_and_grad(mlp, tm, groups).loss) / (
            2 * h
        )
    rel = np.linalg.norm(res.grad - fd) / np.linalg.norm(fd)
    assert rel < 1e-6, rel
    assert_close_scaled(res.grad, fd, 1e-6, "gradient entries")


def test_gradient_is_sum_of_group_gradients():
    rng = np.random.default_rng(5)
    mlp, theta = random_net(rng, 2, [6, 4], 2, "gelu")
    groups = _two_groups(rng, 2, 2)
    both = loss_and_grad(mlp, theta, groups)
    parts = [loss_and_grad(mlp, theta, [g]) for g in groups]
    assert both.loss == pytest.approx(parts[0].loss + parts[1].loss, rel=1e-14)
    np.testing.assert_allclose(both.grad, parts[0].grad + parts[1].grad, rtol=1e-13, atol=1e-15)


def test_point_weights_and_default_weights_agree():
    """Default weighting is weight / N; explicit point weights 1 / N give the same."""
    rng = np.random.default_rng(6)
    mlp, theta = random_net(rng, 3, [5], 2, "softplus")
    a = random_group(rng, "a", 21, 3, 2, K=2, weight=1.3)
    b = ResidualGroup("a", a.X, a.C, a.g, weight=1.3, point_weights=np.full(21, 1 / 21))
    ra = loss_and_grad(mlp, theta, [a])
    rb = loss_and_grad(mlp, theta, [b])
    assert ra.loss == pytest.approx(rb.loss, rel=1e-13)
    np.testing.assert_allclose(ra.grad, rb.grad, rtol=1e-12, atol=1e-15)


def test_broadcast_C_equals_repeated_C():
    rng = np.random.default_rng(8)
    mlp, theta = random_net(rng, 2, [5, 5], 3, "gelu_tanh")
    a = random_group(rng, "a", 30, 2, 3, K=4, broadcast=True, point_weights=True)
    b = ResidualGroup("a", a.X, np.repeat(a.C, 30, axis=0), a.g, point_weights=a.point_weights)
    ra = loss_and_grad(mlp, theta, [a])
    rb = loss_and_grad(mlp, theta, [b])
    assert ra.loss == pytest.approx(rb.loss, rel=1e-13)
    np.testing.assert_allclose(ra.grad, rb.grad, rtol=1e-12, atol=1e-15)


def test_zero_weight_group_contributes_nothing():
    rng = np.random.default_rng(9)
    mlp, theta = random_net(rng, 2, [4], 1, "gelu")
    a = random_group(rng, "a", 10, 2, 1, K=1)
    z = random_group(rng, "z", 10, 2, 1, K=1, weight=0.0)
    ra = loss_and_grad(mlp, theta, [a])
    rz = loss_and_grad(mlp, theta, [a, z])
    assert rz.group_losses["z"] == 0.0
    assert rz.loss == ra.loss
    np.testing.assert_array_equal(rz.grad, ra.grad)


# ------------------------------------------------------- 4. exact identities
def test_linear_network_exact():
    rng = np.random.default_rng(10)
    mlp, theta = random_net(rng, 3, [4, 6, 5], 2, "linear")
    X = rng.normal(size=(21, 3))
    u, du, ddu = jets(mlp, theta, X)
    assert np.all(ddu == 0.0)
    M = np.eye(3)
    c = np.zeros(3)
    for W, b in mlp.layers(theta):
        M = W @ M
        c = W @ c + b
    np.testing.assert_allclose(du, np.broadcast_to(M, (21, 2, 3)), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(u, X @ M.T + c, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("act", ALL_ACTS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_identity_weights_one_hidden_layer(act, d):
    """W1 = I, W2 = I, b = 0: u_j = phi(x_j), du_j = phi'(x_j) e_j and the only
    nonzero second derivative of u_j is the (j, j) channel, equal to phi''(x_j)."""
    mlp = MLP(d, [d], d, act)
    theta = np.zeros(mlp.n_params)
    mlp.layer(theta, 0)[0][...] = np.eye(d)
    mlp.layer(theta, 1)[0][...] = np.eye(d)
    X = np.random.default_rng(d).uniform(-2.0, 2.0, size=(19, d))
    f = evaluate(act, X)  # (4, N, d)
    u, du, ddu = jets(mlp, theta, X)
    J = np.concatenate([u[..., None], du, ddu], axis=-1)
    expect = np.zeros_like(J)
    pairs = second_pairs(d)
    for j in range(d):
        expect[:, j, 0] = f[0, :, j]
        expect[:, j, 1 + j] = f[1, :, j]
        expect[:, j, 1 + d + pairs.index((j, j))] = f[2, :, j]
    np.testing.assert_allclose(J, expect, rtol=1e-13, atol=1e-15)
    assert np.all(J[expect == 0.0] == 0.0)


def test_relu_network_zero_second_derivatives():
    rng = np.random.default_rng(11)
    mlp, theta = random_net(rng, 2, [8, 8], 2, "relu")
    X = rng.normal(size=(33, 2))
    u, du, ddu = jets(mlp, theta, X)
    assert np.all(ddu == 0.0)
    # first derivative: product of weights masked by the active units
    ur, dur, _ = ref_jets(mlp, theta, X)
    assert_close_scaled(u, ur, 1e-13, "relu value")
    assert_close_scaled(du, dur, 1e-13, "relu gradient")


def test_loss_of_exact_fit_is_zero():
    """Targets equal to C : J (from the reference jets) give zero loss and gradient."""
    rng = np.random.default_rng(12)
    mlp, theta = random_net(rng, 2, [5, 5], 2, "linear")
    X = rng.normal(size=(20, 2))
    C = rng.normal(size=(20, 3, 2, 6))
    J = pack(*ref_jets(mlp, theta, X))
    g = np.einsum("pkjc,pjc->pk", C, J)
    res = loss_and_grad(mlp, theta, [ResidualGroup("fit", X, C, g)], want_residuals=True)
    assert res.loss < 1e-25
    assert np.max(np.abs(res.residuals["fit"])) < 1e-13
    assert np.max(np.abs(res.grad)) < 1e-12


# ------------------------------------------------------ 5. reproducibility
def test_bit_identical_repeats_and_thread_counts():
    rng = np.random.default_rng(13)
    mlp, theta = random_net(rng, 2, [9, 7], 2, "gelu")
    groups = [
        random_group(rng, "a", 1001, 2, 2, K=3, weight=0.5),
        random_group(rng, "b", 333, 2, 2, K=2, broadcast=True, point_weights=True),
    ]
    r1 = loss_and_grad(mlp, theta, groups)
    r2 = loss_and_grad(mlp, theta, groups)
    assert r1.loss == r2.loss
    np.testing.assert_array_equal(r1.grad, r2.grad)
    X = groups[0].X
    J1 = jets(mlp, theta, X)
    n_default = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        r3 = loss_and_grad(mlp, theta, groups)
        J3 = jets(mlp, theta, X)
    finally:
        numba.set_num_threads(n_default)
    assert numba.get_num_threads() == n_default
    assert r3.loss == r1.loss
    np.testing.assert_array_equal(r3.grad, r1.grad)
    for a, b in zip(J1, J3, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("N", [1, 15, 16, 17, 1001])
def test_point_counts_not_multiple_of_tile(N):
    rng = np.random.default_rng(N)
    mlp, theta = random_net(rng, 3, [6, 5], 2, "gelu")
    grp = random_group(rng, "g", N, 3, 2, K=2, point_weights=N > 1)
    res = loss_and_grad(mlp, theta, [grp], want_residuals=True, want_jets=True)
    loss, R, J = ref_group(mlp, theta, grp)
    assert res.loss == pytest.approx(loss, rel=1e-12)
    assert_close_scaled(res.residuals["g"], R, 1e-12, "residuals")
    assert_close_scaled(res.jets["g"], J, 1e-12, "jets")
    u, du, ddu = jets(mlp, theta, grp.X)
    np.testing.assert_array_equal(np.concatenate([u[..., None], du, ddu], axis=-1), res.jets["g"])


@pytest.mark.parametrize("tile,blocks", [(1, 64), (5, 3), (7, 1), (64, 2)])
def test_tile_and_block_sizes_do_not_change_results(monkeypatch, tile, blocks):
    rng = np.random.default_rng(14)
    mlp, theta = random_net(rng, 2, [6, 5], 2, "tanh")
    grp = random_group(rng, "g", 101, 2, 2, K=2, point_weights=True)
    ref = loss_and_grad(mlp, theta, [grp], want_jets=True)
    monkeypatch.setattr(cpu_kernels, "TILE", tile)
    monkeypatch.setattr(cpu_kernels, "MAX_BLOCKS", blocks)
    res = loss_and_grad(mlp, theta, [grp], want_jets=True)
    assert res.loss == pytest.approx(ref.loss, rel=1e-13)
    np.testing.assert_allclose(res.grad, ref.grad, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.jets["g"], ref.jets["g"], rtol=1e-13, atol=1e-14)
    u, _, _ = jets(mlp, theta, grp.X)
    np.testing.assert_allclose(u, ref.jets["g"][..., 0], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("C_rows", [0, 1])
def test_empty_group_gives_zero_loss_and_gradient(C_rows):
    """Behaviour chosen by the package: an N = 0 group contributes loss 0 and a
    zero gradient (no error), with empty residual and jet arrays."""
    rng = np.random.default_rng(15)
    mlp, theta = random_net(rng, 2, [4], 2, "gelu")
    empty = ResidualGroup("empty", np.zeros((0, 2)), np.ones((C_rows, 3, 2, 6)), np.zeros((0, 3)))
    res = loss_and_grad(mlp, theta, [empty], want_residuals=True, want_jets=True)
    assert res.loss == 0.0
    assert res.group_losses == {"empty": 0.0}
    np.testing.assert_array_equal(res.grad, np.zeros(mlp.n_params))
    assert res.residuals["empty"].shape == (0, 3)
    assert res.jets["empty"].shape == (0, 2, 6)
    other = random_group(rng, "other", 5, 2, 2, K=1)
    both = loss_and_grad(mlp, theta, [empty, other])
    alone = loss_and_grad(mlp, theta, [other])
    assert both.loss == alone.loss
    np.testing.assert_array_equal(both.grad, alone.grad)
    u, du, ddu = jets(mlp, theta, np.zeros((0, 2)))
    assert u.shape == (0, 2) and du.shape == (0, 2, 2) and ddu.shape == (0, 2, 3)


def test_result_does_not_alias_inputs():
    rng = np.random.default_rng(16)
    mlp, theta = random_net(rng, 1, [3], 1, "sin")
    grp = random_group(rng, "g", 8, 1, 1, K=1)
    theta0 = theta.copy()
    X0 = grp.X.copy()
    r1 = loss_and_grad(mlp, theta, [grp])
    r1.grad[:] = 123.0
    r2 = loss_and_grad(mlp, theta, [grp])
    assert not np.any(r2.grad == 123.0)
    np.testing.assert_array_equal(theta, theta0)
    np.testing.assert_array_equal(grp.X, X0)


# ------------------------------------------- 5b. the first-order (1 + d channels) path
def first_order_group(rng, name, N, d, m, K, broadcast=False, point_weights=False):
    """A group whose coefficients are zero on every second-derivative channel."""
    grp = random_group(rng, name, N, d, m, K, broadcast=broadcast, point_weights=point_weights)
    C = grp.C.copy()
    C[..., 1 + d :] = 0.0
    return ResidualGroup(name, grp.X, C, grp.g, grp.weight, grp.point_weights)


def _kernel_call(mlp, theta, grp, nc, chunk=40):
    """Loss partials, gradients, residuals and jets of one backend call on ``nc``
    channels (several chunks of ``chunk`` points)."""
    be = get_backend("cpu")
    N, K, m = grp.n_points, grp.n_rows, mlp.out_dim
    nch = -(-N // chunk)
    grads = np.empty((nch, mlp.n_params))
    R = np.empty((N, K))
    J = np.empty((N, m, nc))
    X, C, g, w = grp.on(be)
    lv = be.loss_grad_chunks(be.net_arrays(mlp, theta), X, C, g, w, chunk, 0, nch, grads, R, J, nc)
    return lv, grads, R, J


@pytest.mark.parametrize("act", ["gelu", "tanh"])
@pytest.mark.parametrize("weighted", [False, True], ids=["mean", "weights"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_first_order_path_has_the_bits_of_the_full_path(act, weighted, d):
    """On 1 + d channels the loss partials, gradients, residuals and the value and
    first-derivative jets are those of all the channels, bit for bit."""
    rng = np.random.default_rng([d, weighted, len(act)])
    mlp, theta = random_net(rng, d, [9, 6, 5], d, act)
    grp = first_order_group(
        rng, "g", 203, d, d, K=4, broadcast=not weighted, point_weights=weighted
    )
    full = _kernel_call(mlp, theta, grp, n_channels(d))
    first = _kernel_call(mlp, theta, grp, 1 + d)
    for a, b in zip(full[:3], first[:3], strict=True):
        np.testing.assert_array_equal(b, a)
    np.testing.assert_array_equal(first[3], full[3][..., : 1 + d])
    assert np.any(full[3][..., 1 + d :] != 0)  # the full path did compute them
    # loss_and_grad takes the first-order path by itself (with want_jets, the full path)
    auto = loss_and_grad(mlp, theta, [grp], want_residuals=True)
    ref = loss_and_grad(mlp, theta, [grp], want_residuals=True, want_jets=True)
    assert auto.loss == ref.loss == pytest.approx(float(np.sum(full[0])), rel=1e-14)
    np.testing.assert_array_equal(auto.grad, ref.grad)
    np.testing.assert_array_equal(auto.residuals["g"], ref.residuals["g"])
    assert ref.jets["g"].shape == (203, d, n_channels(d))
    np.testing.assert_array_equal(ref.jets["g"], full[3])


def test_first_order_energy_groups_have_the_bits_of_the_full_path():
    """The strain-energy operator and a work group (negative weights) in 3D, and the
    thread count: no bit depends on it."""
    from pinngelu.energy import strain_energy_operator

    rng = np.random.default_rng(31)
    mlp, theta = random_net(rng, 3, [8, 7], 3, "gelu")
    S = strain_energy_operator(3, 1.2, 0.7)
    X = rng.uniform(-1.0, 1.0, size=(157, 3))
    w = rng.uniform(0.0, 1.0, size=157)
    energy = ResidualGroup("energy", X, S, np.zeros((157, 7)), point_weights=w)
    Cv = np.zeros((1, 3, 3, n_channels(3)))
    Cv[0, [0, 1, 2], [0, 1, 2], 0] = 1.0
    t = rng.normal(size=(157, 3))
    work = ResidualGroup("work", np.concatenate([X, X]), Cv, np.concatenate([t, -t]),
                         point_weights=np.concatenate([0.25 * w, -0.25 * w]))  # fmt: skip
    groups = [energy, work]
    ref = loss_and_grad(mlp, theta, groups, want_jets=True)  # all channels
    n_default = numba.get_num_threads()
    try:
        for n in sorted({1, n_default}):
            numba.set_num_threads(n)
            res = loss_and_grad(mlp, theta, groups)
            assert res.loss == ref.loss
            assert res.group_losses == ref.group_losses
            np.testing.assert_array_equal(res.grad, ref.grad)
    finally:
        numba.set_num_threads(n_default)


def test_first_order_gradient_matches_finite_differences():
    rng = np.random.default_rng(32)
    mlp, theta = random_net(rng, 2, [5, 4], 2, "tanh")
    groups = [
        first_order_group(rng, "a", 23, 2, 2, K=3),
        first_order_group(rng, "b", 17, 2, 2, K=2, broadcast=True, point_weights=True),
    ]
    res = loss_and_grad(mlp, theta, groups)
    total = sum(ref_group(mlp, theta, grp)[0] for grp in groups)
    assert res.loss == pytest.approx(total, rel=1e-12)
    h = 1e-5
    fd = np.empty(mlp.n_params)
    for i in range(mlp.n_params):
        e = np.zeros(mlp.n_params)
        e[i] = h
        fd[i] = (
            loss_and_grad(mlp, theta + e, groups).loss - loss_and_grad(mlp, theta - e, groups).loss
        ) / (2 * h)
    assert_close_scaled(res.grad, fd, 1e-6, "first-order gradient")


@pytest.mark.parametrize("d", [2, 3])
def test_first_order_jets_and_features(d):
    """Jets on 1 + d channels are the first channels of all of them; the features
    on the first-order path likewise, their second derivatives zero."""
    from pinngelu.loss import features

    rng = np.random.default_rng(33 + d)
    mlp, theta = random_net(rng, d, [7, 6], 2, "gelu")
    X = rng.uniform(-1.0, 1.0, size=(45, d))
    be = get_backend("cpu")
    net = be.net_arrays(mlp, theta)
    J1 = np.empty((45, 2, 1 + d))
    be.jets(net, X, J1)
    u, du, _ = jets(mlp, theta, X)
    np.testing.assert_array_equal(J1[..., 0], u)
    np.testing.assert_array_equal(J1[..., 1:], du)
    F = features(mlp, theta, X)
    F1 = features(mlp, theta, X, first_order=True)
    assert F1.shape == F.shape == (45, 6, n_channels(d))
    np.testing.assert_array_equal(F1[..., : 1 + d], F[..., : 1 + d])
    assert np.all(F1[..., 1 + d :] == 0.0)
    with pytest.raises(ValueError, match="jet channels"):
        be.jets(net, X, np.empty((45, 2, 2 + d)))


@pytest.mark.parametrize("d,n_param", [(2, 0), (3, 0), (2, 3)])
def test_output_jets_of_every_order_share_their_bits(d, n_param):
    """``output_jets`` to order 0 (one channel: jets in none of the inputs), 1 and 2:
    each channel has the bits it has at the highest order, and the value matches a
    plain NumPy forward pass of the network."""
    from pinngelu.loss import output_jets

    rng = np.random.default_rng(5 + d + n_param)
    mlp = MLP(d, (9, 7), 2, n_param=n_param)
    theta = mlp.init(rng)
    X = rng.uniform(-1.0, 1.0, size=(77, d + n_param))
    J0, J1, J2 = (output_jets(mlp, theta, X, "cpu", k) for k in (0, 1, 2))
    assert J0.shape == (77, 2, 1) and J1.shape == (77, 2, 1 + d)
    assert J2.shape == (77, 2, n_channels(d))
    np.testing.assert_array_equal(J0[..., 0], J2[..., 0])
    np.testing.assert_array_equal(J1, J2[..., : 1 + d])
    np.testing.assert_allclose(J0[..., 0], ref_jets(mlp, theta, X)[0], rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError, match="order"):
        output_jets(mlp, theta, X, "cpu", 3)


def test_first_order_trainable_parameters_and_solved_layer():
    """Groups with param_coefficients on first derivatives: the same loss, gradient
    and grad_q as the full path; fit_output_layer the same bits."""
    from pinngelu.loss import fit_output_layer

    rng = np.random.default_rng(34)
    mlp, theta = random_net(rng, 2, [6, 5], 2, "gelu")
    grp = first_order_group(rng, "g", 61, 2, 2, K=3, point_weights=True)
    Cq = rng.normal(size=(2, 61, 3, 2, n_channels(2)))
    Cq[..., 3:] = 0.0
    pg = ResidualGroup("g", grp.X, grp.C, grp.g, 1.0, grp.point_weights, Cq)
    q = np.array([0.3, -0.8])
    res = loss_and_grad(mlp, theta, [pg], q=q)
    ref = loss_and_grad(mlp, theta, [pg], q=q, want_jets=True)
    assert res.loss == ref.loss
    np.testing.assert_array_equal(res.grad, ref.grad)
    np.testing.assert_array_equal(res.grad_q, ref.grad_q)
    # a second-derivative parameter term takes the full path
    Cq2 = Cq.copy()
    Cq2[0, :, 0, 0, 5] = 1.0
    full = ResidualGroup("g", grp.X, grp.C, grp.g, 1.0, grp.point_weights, Cq2)
    res2 = loss_and_grad(mlp, theta, [full], q=q, want_residuals=True)
    loss2 = float(np.sum(full.point_weights * np.sum(res2.residuals["g"] ** 2, axis=1)))
    assert res2.loss == pytest.approx(loss2, rel=1e-13)
    R_ref = np.einsum("pkjc,pjc->pk", full.coefficients(q), pack(*ref_jets(mlp, theta, grp.X)))
    assert_close_scaled(res2.residuals["g"], R_ref - grp.g, 1e-12, "second-order q term")
    # the solved output layer from first-order features equals the one from all of them
    a = fit_output_layer(mlp, theta, [grp])
    b = ResidualGroup("g", grp.X, grp.C, grp.g, 1.0, grp.point_weights)
    b._dev[("first-order",)] = False  # force the features on all the channels
    np.testing.assert_array_equal(a, fit_output_layer(mlp, theta, [b]))


def test_work_items_balance_tiles_over_workers():
    """The workers get runs of consecutive blocks of equal shares of tiles (the last
    chunk's blocks are smaller); every block is taken exactly once."""
    from pinngelu.kernels.cpu import _work_items

    N, T, chunk = 10_000, 32, 4096
    nblk = np.array([64, 64, 57])
    boff, ich, t0, t1, wstart = _work_items(N, T, chunk, 0, nblk, 2)
    assert list(boff) == [0, 64, 128, 185]
    assert list(np.bincount(ich)) == [64, 64, 57]
    tiles = t1 - t0
    assert tiles.sum() == 128 + 128 + 57
    assert wstart[0] == 0 and wstart[-1] == 185 and np.all(np.diff(wstart) >= 0)
    shares = [tiles[wstart[k] : wstart[k + 1]].sum() for k in range(2)]
    assert sorted(shares) == [156, 157]  # a static split of the items: 186 and 127
    for nw in (1, 3, 7, 300):
        _, _, _, _, ws = _work_items(N, T, chunk, 0, nblk, nw)
        assert ws[0] == 0 and ws[-1] == 185 and np.all(np.diff(ws) >= 0)
        shares = [tiles[ws[k] : ws[k + 1]].sum() for k in range(nw)]
        assert max(shares) <= -(-313 // nw) + 2


# ---------------------------------------------------------- 6. bad input
@pytest.fixture
def net2():
    rng = np.random.default_rng(17)
    mlp, theta = random_net(rng, 2, [4, 3], 2, "gelu")
    X = rng.normal(size=(6, 2))
    C = rng.normal(size=(6, 3, 2, 6))
    g = rng.normal(size=(6, 3))
    return mlp, theta, X, C, g


def test_bad_shapes(net2):
    mlp, theta, X, C, g = net2
    with pytest.raises(ValueError, match=r"points must have shape \(N, d\)"):
        ResidualGroup("a", np.zeros((6, 2 + 17)), C, g)  # more than 16 parameter columns
    # columns after the operator's d = 2 are parameters of a family of problems
    assert ResidualGroup("a", np.zeros((6, 4)), C, g).dim == 2
    with pytest.raises(ValueError, match=r"points must have shape"):
        ResidualGroup("a", X[:, 0], C, g)
    with pytest.raises(ValueError, match=r"coefficients must have shape .*6\)"):
        ResidualGroup("a", X, C[..., :5], g)
    with pytest.raises(ValueError, match=r"coefficients must have shape"):
        ResidualGroup("a", X, C[:, 0], g)
    with pytest.raises(ValueError, match=r"coefficients must have shape"):
        ResidualGroup("a", X, C[:4], g)
    with pytest.raises(ValueError, match=r"targets must have shape \(6, 3\)"):
        ResidualGroup("a", X, C, g[:, :2])
    with pytest.raises(ValueError, match=r"targets must have shape"):
        ResidualGroup("a", X, C, g[:, 0])
    with pytest.raises(ValueError, match=r"point weights"):
        ResidualGroup("a", X, C, g, point_weights=np.ones(5))
    with pytest.raises(ValueError, match=r"point weights"):
        ResidualGroup("a", X, C, g, point_weights=np.full(6, np.nan))
    # negative point weights are allowed (work terms of the energy formulation)
    assert ResidualGroup("a", X, C, g, point_weights=-np.ones(6)).signed
    assert not ResidualGroup("a", X, C, g, point_weights=np.ones(6)).signed
    with pytest.raises(ValueError, match=r"weight must be finite"):
        ResidualGroup("a", X, C, g, weight=-1.0)
    with pytest.raises(ValueError, match=r"points must have shape \(N, 2\)"):
        jets(mlp, theta, np.zeros((3, 4)))


def test_group_network_mismatch(net2):
    mlp, theta, X, C, g = net2
    mlp3 = MLP(3, [4], 2)
    with pytest.raises(ValueError, match=r"2-D points but the network takes 3-D"):
        loss_and_grad(
            mlp3, mlp3.init(np.random.default_rng(0), "glorot"), [ResidualGroup("a", X, C, g)]
        )
    mlp_m3 = MLP(2, [4], 3)
    with pytest.raises(ValueError, match=r"acts on 2 outputs but the network has 3"):
        loss_and_grad(
            mlp_m3, mlp_m3.init(np.random.default_rng(0), "glorot"), [ResidualGroup("a", X, C, g)]
        )
    with pytest.raises(ValueError, match=r"no residual groups"):
        loss_and_grad(mlp, theta, [])
    with pytest.raises(ValueError, match=r"unknown device"):
        loss_and_grad(mlp, theta, [ResidualGroup("a", X, C, g)], device="tpu")


def test_bad_dtypes(net2):
    mlp, theta, X, C, g = net2
    grp = ResidualGroup("a", X, C, g)
    with pytest.raises(ValueError, match=r"real array.*complex"):
        ResidualGroup("a", X.astype(complex), C, g)
    with pytest.raises(ValueError, match=r"real array.*bool"):
        ResidualGroup("a", X > 0, C, g)
    with pytest.raises(ValueError, match=r"real array.*complex"):
        jets(mlp, theta, X + 0j)
    for bad in (theta.astype(np.int64), theta.astype(np.float32), theta.astype(complex)):
        with pytest.raises(ValueError, match=r"must be float64"):
            loss_and_grad(mlp, bad, [grp])
        with pytest.raises(ValueError, match=r"must be float64"):
            jets(mlp, bad, X)


def test_integer_points_are_accepted_as_float(net2):
    """Documented behaviour of ``check_points``: integer points are converted."""
    mlp, theta, _, C, g = net2
    Xi = np.arange(12).reshape(6, 2) - 5
    a = loss_and_grad(mlp, theta, [ResidualGroup("a", Xi, C, g)])
    b = loss_and_grad(mlp, theta, [ResidualGroup("a", Xi.astype(float), C, g)])
    assert a.loss == b.loss
    np.testing.assert_array_equal(a.grad, b.grad)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize("which", ["C", "g", "point_weights"])
def test_complex_coefficients_rejected(net2, which):
    _, _, X, C, g = net2
    kw = {"C": C, "g": g, "point_weights": np.ones(6)}
    kw[which] = kw[which] + 1j
    with pytest.raises(ValueError, match=r"real|complex"):
        ResidualGroup("a", X, **kw)


def test_nan_inputs(net2):
    mlp, theta, X, C, g = net2
    Xn = X.copy()
    Xn[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first at row 4\)"):
        ResidualGroup("a", Xn, C, g)
    with pytest.raises(ValueError, match=r"NaN or inf"):
        jets(mlp, theta, Xn)
    Cn = C.copy()
    Cn[2, 1, 0, 3] = np.nan
    with pytest.raises(ValueError, match=r"coefficients or targets contain NaN"):
        ResidualGroup("a", X, Cn, g)
    with pytest.raises(ValueError, match=r"coefficients or targets contain NaN"):
        ResidualGroup("a", X, C, np.where(g > 0, np.inf, g))
    with pytest.raises(ValueError, match=r"point weights"):
        ResidualGroup("a", X, C, g, point_weights=np.full(6, np.nan))
    tn = theta.copy()
    tn[3] = np.nan
    grp = ResidualGroup("a", X, C, g)
    with pytest.raises(ValueError, match=r"parameter vector contains NaN"):
        loss_and_grad(mlp, tn, [grp])
    with pytest.raises(ValueError, match=r"parameter vector contains NaN"):
        jets(mlp, tn, X)


def test_wrong_theta_length(net2):
    mlp, theta, X, C, g = net2
    grp = ResidualGroup("a", X, C, g)
    with pytest.raises(ValueError, match=rf"must have shape \({mlp.n_params},\)"):
        loss_and_grad(mlp, theta[:-1], [grp])
    with pytest.raises(ValueError, match=r"must have shape"):
        loss_and_grad(mlp, np.append(theta, 0.0), [grp])
    with pytest.raises(ValueError, match=r"must have shape"):
        jets(mlp, theta[None, :], X)


def test_bad_architecture():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'"):
        MLP(2, [4], 1, "swish")
    with pytest.raises(ValueError, match=r"at least one hidden layer"):
        MLP(2, [], 1)
    with pytest.raises(ValueError, match=r"hidden layer 1 has width 0"):
        MLP(2, [4, 0], 1)
    with pytest.raises(ValueError, match=r"hidden layer 0 has width -3"):
        MLP(2, [-3], 1)
    with pytest.raises(ValueError, match=r"width 2.5"):
        MLP(2, [2.5], 1)
    with pytest.raises(ValueError, match=r"input dimension"):
        MLP(4, [3], 1)
    with pytest.raises(ValueError, match=r"output dimension"):
        MLP(2, [3], 0)


def test_changing_group_weight_takes_effect():
    rng = np.random.default_rng(18)
    mlp, theta = random_net(rng, 2, [4], 1, "gelu")
    grp = random_group(rng, "g", 10, 2, 1, K=1, weight=1.0)
    l1 = loss_and_grad(mlp, theta, [grp]).loss
    grp.weight = 2.0
    assert loss_and_grad(mlp, theta, [grp]).loss == pytest.approx(2.0 * l1, rel=1e-14)


def test_cache_invalidation_keeps_the_other_cache_root(tmp_path, monkeypatch):
    """With NUMBA_CACHE_DIR set, a fresh (empty) cache there must not make the
    invalidation delete the caches beside the sources, and vice versa."""
    from pathlib import Path

    from numba.core import config

    from pinngelu.kernels import cpu
    from pinngelu.kernels.compile import _cache_dirs, invalidate_stale_cache

    cpu_file = Path(cpu.__file__).resolve()
    invalidate_stale_cache(str(cpu_file))  # the root beside the sources is current
    here = _cache_dirs(cpu_file)[0]
    probes = [here / "cpu._probe-0.py311.nbi", here / "pointwise._probe-0.py311.nbi"]
    for p in probes:
        p.write_bytes(b"x")
    try:
        monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
        invalidate_stale_cache(str(cpu_file))
        assert all(p.exists() for p in probes)
        mirror = _cache_dirs(cpu_file)[1]
        assert str(mirror).startswith(str(tmp_path))
        assert (mirror / "cpu.pointwise-sha256").read_text()
        # a stale stamp in the mirror clears the mirror, not the sources' root
        stale = mirror / "cpu._old-0.py311.nbi"
        stale.write_bytes(b"x")
        (mirror / "cpu.pointwise-sha256").write_text("stale")
        invalidate_stale_cache(str(cpu_file))
        assert not stale.exists()
        assert all(p.exists() for p in probes)
    finally:
        for p in probes:
            p.unlink(missing_ok=True)


# ------------------------------------------------------------- layout and backends
def test_jet_layout_is_defined_once():
    """The compiled kernels' channel count is the layout module's function."""
    from pinngelu.kernels import layout, pointwise

    assert pointwise.n_channels is layout.n_channels
    assert cpu_kernels._pw.n_channels.py_func.__code__ is layout.n_channels.__code__
    assert [cpu_kernels.n_channels(d) for d in (1, 2, 3)] == [3, 6, 10]
    assert layout.second_index(2) == {(0, 0): 3, (0, 1): 4, (1, 1): 5}
    assert list(layout.second_index(3).values()) == list(range(4, 10))


def test_layout_and_backend_interface_import_no_numba():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import pinngelu.kernels.backend, pinngelu.kernels.layout\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_cpu_backend_lives_in_cpu_module():
    from pinngelu.kernels import Backend, get_backend

    be = get_backend("cpu")
    assert type(be) is cpu_kernels.CPUBackend and isinstance(be, Backend)
    assert get_backend("CPU") is be and get_backend(be) is be
    with pytest.raises(ValueError, match=r"unknown device 'tpu'"):
        get_backend("tpu")


# ------------------------------------------------------------- first-compile notice
class _FakeIndex:
    def __init__(self, index):
        self.index = index

    def _load_index(self):
        if isinstance(self.index, Exception):
            raise self.index
        return self.index


class _FakeDispatcher:
    def __init__(self, index):
        self._cache = type("Cache", (), {})()
        self._cache._cache_file = _FakeIndex(index)


def test_compile_notice_only_when_a_kernel_is_not_cached():
    import io

    from pinngelu.kernels.compile import COMPILE_NOTICE, announce_compile, cached_versions

    cached, missing = _FakeDispatcher({"sig": "f.1.nbc"}), _FakeDispatcher({})
    assert cached_versions(cached) == 1 and cached_versions(missing) == 0
    assert cached_versions(_FakeDispatcher(OSError("x"))) is None
    assert cached_versions(object()) is None
    buf = io.StringIO()
    assert not announce_compile([cached], stream=buf) and buf.getvalue() == ""
    # unknown cache state: stay silent rather than announce wrongly
    assert not announce_compile([cached, object()], stream=buf) and buf.getvalue() == ""
    assert announce_compile([cached, missing], stream=buf)
    assert buf.getvalue() == COMPILE_NOTICE + "\n"
    assert "compiling the CPU kernels" in COMPILE_NOTICE


def test_compiled_kernels_are_found_in_the_cache():
    rng = np.random.default_rng(3)
    mlp, theta = random_net(rng, 2, [3], 1, "gelu")
    grp = random_group(rng, "g", 5, 2, 1, K=1)
    loss_and_grad(mlp, theta, [grp])
    from pinngelu.kernels.compile import cached_versions

    assert cached_versions(cpu_kernels._loss_grad_chunks) >= 1


@pytest.mark.slow
def test_first_run_announces_compilation_once(tmp_path):
    """A fresh Numba cache: the first process says it compiles, the second does not."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from pinngelu.kernels.compile import COMPILE_NOTICE

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    code = (
        "import numpy as np, pinngelu as pg\n"
        "mlp = pg.MLP(2, [3], 1)\n"
        "X = np.zeros((4, 2)); C = np.zeros((1, 1, 1, 6)); C[..., 0] = 1\n"
        "grp = pg.ResidualGroup('g', X, C, np.zeros((4, 1)))\n"
        "print(pg.loss_and_grad(mlp, mlp.init(np.random.default_rng(0)), [grp]).loss)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stderr.count(COMPILE_NOTICE) == 1
    assert COMPILE_NOTICE not in runs[1].stderr
