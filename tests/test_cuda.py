"""CUDA backend against the CPU backend.

Without a GPU these run on Numba's CUDA simulator (``tests/conftest.py`` sets
``NUMBA_ENABLE_CUDASIM=1`` when no driver can be loaded), so the sizes are tiny:
the ``small_tiles`` fixture sets tiles of 4 points, blocks of 8 threads and shared
stages of 6 weight columns (3 tile columns in the weight gradient), so that partly
filled tiles, several stages per product and several register tiles per thread
occur with networks of a few neurons.
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
from stagecfg import stage_config

import pinngelu
from pinngelu import MLP, ResidualGroup, jets, loss_and_grad
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


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch):
    """Tiny tiles and blocks (module switches of ``pinngelu.kernels.cuda``)."""
    kc = importlib.import_module("pinngelu.kernels.cuda")
    monkeypatch.setattr(kc, "TILE", 4)
    monkeypatch.setattr(kc, "THREADS", 8)
    monkeypatch.setattr(kc, "STAGE_COLS", 6)
    return kc


def assert_close(b, a, rtol=RTOL):
    """``max |b - a| <= rtol * max |a|`` (relative to the array's scale)."""
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape
    scale = max(float(np.max(np.abs(a))), 1e-300) if a.size else 1.0
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= rtol * scale, f"max abs difference {err:.3e} vs scale {scale:.3e}"


def make_problem(d, act, broadcast, weighted, seed=0, N=(9, 5), hidden=(5, 3), m=2, n_param=0):
    rng = np.random.default_rng(seed)
    mlp = MLP(d, hidden, m, act, n_param=n_param)
    theta = mlp.init(rng, "glorot") + 0.1 * rng.normal(size=mlp.n_params)
    nc = n_channels(d)
    groups = []
    for gi, n in enumerate(N):
        X = rng.uniform(-1.0, 1.0, size=(n, d + n_param))
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


@pytest.mark.parametrize("d,act", [(1, "gelu"), (2, "gelu"), (3, "gelu"), (2, "tanh")])
def test_jets_match_cpu(d, act, cuda_backend):
    mlp, theta, groups = make_problem(d, act, True, False, seed=d)
    X = np.concatenate([g.X for g in groups])
    for a, b in zip(jets(mlp, theta, X, "cpu"), jets(mlp, theta, X, "cuda"), strict=True):
        assert_close(b, a)


@pytest.mark.parametrize("d,p", [(2, 1), (3, 2)])
def test_parameter_inputs_match_cpu(d, p, cuda_backend):
    """A network with parameter inputs (not differentiated): jets, loss, gradient and
    residual Jacobian as on the CPU."""
    from pinngelu.jacobian import residuals_and_jacobian

    mlp, theta, groups = make_problem(d, "gelu", False, True, seed=11 * d + p, n_param=p)
    X = np.concatenate([g.X for g in groups])
    for a, b in zip(jets(mlp, theta, X, "cpu"), jets(mlp, theta, X, "cuda"), strict=True):
        assert_close(b, a)
    a = loss_and_grad(mlp, theta, groups, "cpu")
    b = loss_and_grad(mlp, theta, groups, "cuda")
    assert abs(b.loss - a.loss) <= RTOL * abs(a.loss)
    assert_close(b.grad, a.grad)
    for x, y in zip(
        residuals_and_jacobian(mlp, theta, groups, "cpu"),
        residuals_and_jacobian(mlp, theta, groups, "cuda"),
        strict=True,
    ):
        assert_close(y, x)


@pytest.mark.parametrize("n_param", [0, 2])
def test_output_jets_of_low_order_match_cpu(n_param, cuda_backend):
    """The value alone (one channel) and the first order, as on the CPU."""
    from pinngelu.loss import output_jets

    mlp, theta, groups = make_problem(2, "gelu", False, True, seed=7 + n_param, n_param=n_param)
    X = np.concatenate([g.X for g in groups])
    for order in (0, 1):
        a = output_jets(mlp, theta, X, "cpu", order)
        b = output_jets(mlp, theta, X, "cuda", order)
        assert b.shape == a.shape
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


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("broadcast,weighted", [(True, False), (False, True)])
def test_loss_grad_match_cpu(d, broadcast, weighted, cuda_backend):
    """Two groups of 9 and 5 points (partly filled tiles of 4), odd widths 5 and 3."""
    act = "gelu" if broadcast else "tanh"
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


@pytest.mark.parametrize("d", [2, 3])
def test_first_order_energy_group_matches_cpu(d, cuda_backend):
    """The strain-energy operator (first derivatives only) runs on 1 + d channels:
    the CPU's loss, gradient and residuals to 1e-12, and the bits of the CUDA kernels
    on all the channels (loss, gradient, residuals, value and first-derivative jets)."""
    from pinngelu.energy import strain_energy_operator

    rng = np.random.default_rng(40 + d)
    mlp = MLP(d, (5, 3), d, "gelu")
    theta = mlp.init(rng, "glorot") + 0.1 * rng.normal(size=mlp.n_params)
    N = 11
    S = strain_energy_operator(d, 1.2, 0.7)
    K = S.shape[1]
    X = rng.uniform(-1.0, 1.0, size=(N, d))
    w = rng.uniform(0.1, 2.0, size=N)
    grp = ResidualGroup("energy", X, S, rng.normal(size=(N, K)), point_weights=w)
    a = loss_and_grad(mlp, theta, [grp], "cpu", want_residuals=True)
    b = loss_and_grad(mlp, theta, [grp], "cuda", want_residuals=True)
    assert abs(b.loss - a.loss) <= RTOL * abs(a.loss)
    assert_close(b.grad, a.grad)
    assert_close(b.residuals["energy"], a.residuals["energy"])
    be = cuda_backend
    net = be.net_arrays(mlp, theta)
    Xd, Cd, gd, wd = grp.on(be)
    out = {}
    for nc in (n_channels(d), 1 + d):
        G = np.empty((1, mlp.n_params))
        R = np.empty((N, K))
        J = np.empty((N, d, nc))
        lv = be.loss_grad_chunks(net, Xd, Cd, gd, wd, 64, 0, 1, G, R, J, nc)
        out[nc] = (lv, G, R, J[..., : 1 + d])
    for x, y in zip(out[1 + d], out[n_channels(d)], strict=True):
        np.testing.assert_array_equal(x, y)
    assert_close(out[1 + d][1][0], a.grad)


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


def test_chunks_blocks_and_determinism(monkeypatch, small_tiles, cuda_backend):
    """Several launches (chunks) and blocks that take several tiles; the same bits
    with another number of threads per block (8 and 5)."""
    kc = small_tiles
    monkeypatch.setattr(kc, "MAX_BLOCKS", 2)
    monkeypatch.setattr(kc, "CHUNK_TILES", 3)
    monkeypatch.setattr(kc, "STAGE_COLS", 3)  # two weight stages per layer of 6 or 5
    mlp, theta, groups = make_problem(2, "gelu", False, True, seed=7, N=(23, 3), hidden=(6, 5))
    assert kc.partition(23) == [(0, 3, 2), (3, 6, 2)]
    a = loss_and_grad(mlp, theta, groups, "cpu", want_residuals=True, want_jets=True)
    b1 = loss_and_grad(mlp, theta, groups, "cuda", want_residuals=True, want_jets=True)
    monkeypatch.setattr(kc, "THREADS", 5)
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


def test_partition_depends_on_n_only(monkeypatch, small_tiles):
    kc = small_tiles
    monkeypatch.setattr(kc, "MAX_BLOCKS", 3)
    monkeypatch.setattr(kc, "CHUNK_TILES", 5)
    assert kc.partition(1) == [(0, 1, 1)]
    assert kc.partition(8) == [(0, 2, 2)]
    # 41 points: 11 tiles of 4, in chunks of 5 tiles, at most 3 blocks each
    assert kc.partition(41) == [(0, 5, 3), (5, 10, 3), (10, 11, 1)]
    monkeypatch.setattr(kc, "TILE", 32)
    monkeypatch.setattr(kc, "CHUNK_TILES", 8 * 1024)
    monkeypatch.setattr(kc, "MAX_BLOCKS", 1024)
    parts = kc.partition(10**7)
    assert parts[0] == (0, 8192, 1024) and parts[-1][1] == -(-(10**7) // 32)
    assert sum(t1 - t0 for t0, t1, _ in parts) == 312500


def test_scratch_is_independent_of_n(small_tiles):
    kc = small_tiles
    shape = kc.check_shape(3, 64, 3, 3)
    per_block = kc.scratch_doubles(shape, 9000)
    # partials (P) and the tile's jets; nothing grows with the number of points
    assert per_block == 2 * 3 * 64 * 40 + 3 * 3 * 64 * 4 + 2 * 3 * 40 + 2 * 64 * 40 + 9000 + 1


@pytest.mark.parametrize(
    "hidden,match",
    [((129,), "widths up to 128"), ((8,) * 7, "up to 6")],
)
def test_limits_raise_before_launch(hidden, match, cuda_backend):
    from pinngelu.kernels import cuda_tiled

    mlp = MLP(2, hidden, 2, "gelu")
    theta = np.zeros(mlp.n_params)
    X = np.zeros((3, 2))
    n_built = len(cuda_tiled._cache)
    with pytest.raises(ValueError, match=match):
        jets(mlp, theta, X, "cuda")
    grp = ResidualGroup("g", X, np.ones((1, 1, 2, n_channels(2))), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=match):
        loss_and_grad(mlp, theta, [grp], "cuda")
    assert len(cuda_tiled._cache) == n_built  # nothing was compiled or launched


def test_shared_memory_limit_named(monkeypatch, small_tiles):
    kc = small_tiles
    monkeypatch.setattr(kc, "STAGE_COLS", 64)
    with pytest.raises(ValueError, match="shared memory per block"):
        kc.check_shape(2, 128, 3, 3)
    monkeypatch.setattr(kc, "STAGE_COLS", 32)
    assert kc.check_shape(6, 128, 3, 3).shared_bytes <= kc.SHARED_BYTES


def test_empty_group(cuda_backend):
    be = cuda_backend
    mlp, theta, _ = make_problem(2, "gelu", True, False)
    net = be.net_arrays(mlp, theta)
    grads = np.full((1, mlp.n_params), np.nan)
    X = be.asarray(np.empty((0, 2)))
    C = be.asarray(np.ones((1, 1, 2, n_channels(2))))
    g = be.asarray(np.empty((0, 1)))
    w = be.asarray(np.ones(1))
    # one chunk of no points
    np.testing.assert_array_equal(be.loss_grad_chunks(net, X, C, g, w, 64, 0, 1, grads), [0.0])
    np.testing.assert_array_equal(grads, 0.0)
    u, du, ddu = jets(mlp, theta, np.empty((0, 2)), "cuda")
    assert u.shape == (0, 2)


@pytest.mark.slow
def test_training_steps_match_cpu(monkeypatch, small_tiles, cuda_backend):
    """Two L-BFGS iterations on the plate (about 40 s on the simulator)."""
    monkeypatch.setattr(small_tiles, "TILE", 16)
    monkeypatch.setattr(small_tiles, "STAGE_COLS", 32)
    case = importlib.import_module("pinngelu.cases.plate_manufactured")
    mlp = MLP(2, (4,), 2, "gelu")
    theta0 = mlp.init(np.random.default_rng(1), "glorot")
    cfg = stage_config(adam_iters=0, lbfgs_iters=2, print_every=0)
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


def test_scratch_memory_checked_before_launch(monkeypatch, small_tiles, cuda_backend):
    kc = small_tiles
    monkeypatch.setattr(kc, "_free_memory", lambda c: 1000)
    mlp, theta, groups = make_problem(2, "gelu", True, False, seed=4, hidden=(7, 5))
    X = groups[0].X
    with pytest.raises(MemoryError, match="MAX_BLOCKS"):
        jets(mlp, theta, X, "cuda")


def test_default_tiles_match_cpu(monkeypatch, small_tiles, cuda_backend):
    """The production switches (32-point tiles, 128 threads, 32-column stages): a
    full and a partly filled tile, a layer of 34 (two weight stages)."""
    kc = small_tiles
    monkeypatch.setattr(kc, "TILE", 32)
    monkeypatch.setattr(kc, "THREADS", 128)
    monkeypatch.setattr(kc, "STAGE_COLS", 32)
    mlp, theta, groups = make_problem(3, "gelu", False, True, seed=5, N=(41,), hidden=(34, 9))
    a = loss_and_grad(mlp, theta, groups, "cpu", want_residuals=True, want_jets=True)
    b = loss_and_grad(mlp, theta, groups, "cuda", want_residuals=True, want_jets=True)
    assert abs(b.loss - a.loss) <= RTOL * a.loss
    assert_close(b.grad, a.grad)
    assert_close(b.jets["g0"], a.jets["g0"])
    assert_close(b.residuals["g0"], a.residuals["g0"])
