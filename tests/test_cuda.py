"""CUDA backend against the CPU backend.

Without a GPU these run on Numba's CUDA simulator (``tests/conftest.py`` sets
``NUMBA_ENABLE_CUDASIM=1`` when no driver can be loaded), so the sizes are tiny.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pinngelu
from pinngelu import MLP, ResidualGroup, TrainConfig, jets, loss_and_grad
from pinngelu.kernels import NetArrays, get_backend, n_channels

pytestmark = pytest.mark.cuda

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-12


def _has_driver() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def cuda_backend():
    return get_backend("cuda")


def assert_close(b, a, rtol=RTOL):
    """``max |b - a| <= rtol * max |a|`` (relative to the array's scale)."""
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape
    scale = max(float(np.max(np.abs(a))), 1e-300) if a.size else 1.0
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= rtol * scale, f"max abs difference {err:.3e} vs scale {scale:.3e}"


def make_problem(d, act, broadcast, weighted, seed=0, N=(9, 5), hidden=(5, 3), m=2):
    rng = np.random.default_rng(seed)
    mlp = MLP(d, hidden, m, act)
    theta = mlp.init(rng, "glorot") + 0.1 * rng.normal(size=mlp.n_params)
    nc = n_channels(d)
    groups = []
    for gi, n in enumerate(N):
        X = rng.uniform(-1.0, 1.0, size=(n, d))
        K = 3 - gi
        C = rng.normal(size=(1 if broadcast else n, K, m, nc))
        g = rng.normal(size=(n, K))
        pw = rng.uniform(0.1, 2.0, size=n) if weighted else None
        groups.append(ResidualGroup(f"g{gi}", X, C, g, weight=0.5 + gi, point_weights=pw))
    return mlp, theta, groups


def test_backend_basics(cuda_backend):
    be = cuda_backend
    assert be.name == "cuda"
    assert get_backend("CUDA") is be
    a = np.arange(6.0).reshape(2, 3)
    da = be.asarray(a)
    assert not isinstance(da, np.ndarray)
    np.testing.assert_array_equal(be.to_host(da), a)
    ia = be.to_host(be.asarray_int(np.array([1, 2, 3], dtype=np.int32)))
    assert ia.dtype == np.int64
    np.testing.assert_array_equal(ia, [1, 2, 3])


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("act", ["gelu", "tanh"])
def test_jets_match_cpu(d, act, cuda_backend):
    mlp, theta, groups = make_problem(d, act, True, False, seed=d)
    X = np.concatenate([g.X for g in groups])
    for a, b in zip(jets(mlp, theta, X, "cpu"), jets(mlp, theta, X, "cuda"), strict=True):
        assert_close(b, a)


def test_jets_plain_net_arrays(cuda_backend):
    """The kernels also take a plain ``NetArrays`` (layout read from the device)."""
    be = cuda_backend
    mlp, theta, groups = make_problem(2, "sin", True, False, seed=3)
    X = groups[0].X
    J = np.empty((X.shape[0], mlp.out_dim, n_channels(2)))
    net = NetArrays(
        be.asarray(theta), be.asarray_int(mlp.sizes), be.asarray_int(mlp.offsets), int(mlp.act_code)
    )
    be.jets(net, be.asarray(X), J)
    u, du, ddu = jets(mlp, theta, X, "cpu")
    assert_close(J[:, :, 0], u)
    assert_close(J[:, :, 1:3], du)
    assert_close(J[:, :, 3:], ddu)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("act", ["gelu", "tanh"])
@pytest.mark.parametrize("broadcast,weighted", [(True, False), (False, True)])
def test_loss_grad_match_cpu(d, act, broadcast, weighted, cuda_backend):
    mlp, theta, groups = make_problem(d, act, broadcast, weighted, seed=10 * d + broadcast)
    a = loss_and_grad(mlp, theta, groups, "cpu", want_residuals=True, want_jets=True)
    b = loss_and_grad(mlp, theta, groups, "cuda", want_residuals=True, want_jets=True)
    assert abs(b.loss - a.loss) <= RTOL * abs(a.loss)
    assert_close(b.grad, a.grad)
    for name in a.group_losses:
        assert abs(b.group_losses[name] - a.group_losses[name]) <= RTOL * a.group_losses[name]
        assert_close(b.residuals[name], a.residuals[name])
        assert_close(b.jets[name], a.jets[name])
    # without the optional outputs the loss and gradient are unchanged (same bits)
    c = loss_and_grad(mlp, theta, groups, "cuda")
    assert c.loss == b.loss
    np.testing.assert_array_equal(c.grad, b.grad)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("broadcast,weighted", [(True, False), (False, True)])
def test_residual_jacobian_matches_cpu(d, broadcast, weighted, cuda_backend):
    from pinngelu.jacobian import normal_equations, residuals_and_jacobian

    mlp, theta, groups = make_problem(d, "gelu", broadcast, weighted, seed=7 * d, hidden=(5, 3))
    r_cpu, J_cpu = residuals_and_jacobian(mlp, theta, groups, "cpu")
    r_gpu, J_gpu = residuals_and_jacobian(mlp, theta, groups, "cuda")
    assert_close(r_gpu, r_cpu)
    assert_close(J_gpu, J_cpu)
    a = normal_equations(mlp, theta, groups, "cpu", block_rows=4)
    b = normal_equations(mlp, theta, groups, "cuda", block_rows=4)
    assert_close(b.JtJ, a.JtJ)
    assert_close(b.Jtr, a.Jtr)


def test_grid_stride_and_determinism(monkeypatch, cuda_backend):
    """Fewer threads than points (each thread takes several), and bitwise repeatability."""
    cuda_mod = sys.modules["pinngelu.kernels.cuda"]
    monkeypatch.setattr(cuda_mod, "THREADS_PER_BLOCK", 4)
    monkeypatch.setattr(cuda_mod, "MAX_THREADS", 6)
    mlp, theta, groups = make_problem(2, "gelu", False, True, seed=7, N=(23, 11))
    a = loss_and_grad(mlp, theta, groups, "cpu", want_residuals=True, want_jets=True)
    b1 = loss_and_grad(mlp, theta, groups, "cuda", want_residuals=True, want_jets=True)
    b2 = loss_and_grad(mlp, theta, groups, "cuda", want_residuals=True, want_jets=True)
    assert abs(b1.loss - a.loss) <= RTOL * a.loss
    assert_close(b1.grad, a.grad)
    for name in a.residuals:
        assert_close(b1.residuals[name], a.residuals[name])
        assert_close(b1.jets[name], a.jets[name])
        np.testing.assert_array_equal(b1.residuals[name], b2.residuals[name])
        np.testing.assert_array_equal(b1.jets[name], b2.jets[name])
    assert b1.loss == b2.loss
    np.testing.assert_array_equal(b1.grad, b2.grad)
    X = groups[0].X
    for x, y in zip(jets(mlp, theta, X, "cpu"), jets(mlp, theta, X, "cuda"), strict=True):
        assert_close(y, x)


def test_empty_group(cuda_backend):
    be = cuda_backend
    mlp, theta, _ = make_problem(2, "gelu", True, False)
    net = be.net_arrays(mlp, theta)
    grad = np.full(mlp.n_params, np.nan)
    X = be.asarray(np.empty((0, 2)))
    C = be.asarray(np.ones((1, 1, 2, n_channels(2))))
    g = be.asarray(np.empty((0, 1)))
    w = be.asarray(np.ones(1))
    assert be.loss_grad(net, X, C, g, w, grad) == 0.0
    np.testing.assert_array_equal(grad, 0.0)
    u, du, ddu = jets(mlp, theta, np.empty((0, 2)), "cuda")
    assert u.shape == (0, 2)


def test_training_steps_match_cpu(cuda_backend):
    case = importlib.import_module("pinngelu.cases.plate_manufactured")
    mlp = MLP(2, (4,), 2, "gelu")
    theta0 = mlp.init(np.random.default_rng(1), "glorot")
    cfg = TrainConfig(adam_iters=0, lbfgs_iters=2, print_every=0)
    res = {}
    for dev in ("cpu", "cuda"):
        problem = case.build_problem(n_interior=16, n_boundary=16)
        res[dev] = pinngelu.train(
            problem,
            mlp,
            rng=np.random.default_rng(0),
            device=dev,
            config=cfg,
            theta0=theta0,
            out=None,
        )
    a, b = res["cpu"], res["cuda"]
    assert a.n_iter == b.n_iter and a.n_eval == b.n_eval
    assert not np.array_equal(a.theta, theta0)
    assert_close(b.theta, a.theta, rtol=1e-10)
    assert abs(b.loss - a.loss) <= 1e-10 * a.loss


@pytest.mark.skipif(_has_driver(), reason="a CUDA driver is present")
def test_no_gpu_raises_with_hint():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    code = (
        "from pinngelu.kernels import get_backend\n"
        "try:\n"
        "    get_backend('cuda')\n"
        "except RuntimeError as e:\n"
        "    print('RuntimeError:', e)\n"
        "else:\n"
        "    print('no error')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("RuntimeError:"), out.stdout + out.stderr
    assert "cpu" in out.stdout
