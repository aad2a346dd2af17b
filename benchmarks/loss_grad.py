"""Time one loss-and-gradient evaluation of a Navier-Cauchy PINN loss.

The work: the 2D Navier-Cauchy interior operator (6 jet channels, 2 outputs) on
N collocation points, an MLP with 4 hidden layers of 50 GELU units, float64.
Prints ms per evaluation for pinngelu and, where installed, for the same loss in
PyTorch (nested ``autograd.grad`` with ``create_graph``) and JAX
(``jit(value_and_grad)`` of a Hessian-based residual), measured in the same run,
with the ratios; and the GFLOP/s achieved against numpy's float64 matmul rate on a
``(C N, W) x (W, W)`` product, also measured in this run.

Flop count of one evaluation (forward plus reverse):
``6 C N (d W + (L - 1) W^2 + W m)``.

The energy case: the strain-energy operator of the energy formulation (first
derivatives only) on N points in 2D and 3D, the same network, evaluated on all the
jet channels (6 in 2D, 10 in 3D) and on the value and first derivatives alone (3
and 4, the path :func:`pinngelu.loss.loss_and_grad` takes for such a group), side
by side, with their ratio (targets: 1.8x in 2D, 2.2x in 3D).

Usage::

    python benchmarks/loss_grad.py                 # headline figures
    python benchmarks/loss_grad.py --energy-only   # the energy case alone
    python benchmarks/loss_grad.py --scaling       # also N, width and 3D scaling
    python benchmarks/loss_grad.py --device cuda   # GPU (N from 1e4 to 1e6)
    python benchmarks/loss_grad.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from pinngelu.elasticity import navier_operator
from pinngelu.energy import strain_energy_operator
from pinngelu.kernels import get_backend, n_channels
from pinngelu.loss import ResidualGroup, chunk_size, loss_and_grad, n_chunks
from pinngelu.network import MLP

LAM, MU = 1.0, 0.5


def flops(d: int, N: int, W: int, L: int, m: int) -> float:
    return 6.0 * n_channels(d) * N * (d * W + (L - 1) * W * W + W * m)


def timeit(fn, reps: int, min_time: float = 0.5) -> float:
    """Median seconds of ``fn()`` over at least ``reps`` calls (after one warm-up)."""
    fn()
    ts = []
    t_end = time.perf_counter() + min_time
    while len(ts) < reps or time.perf_counter() < t_end:
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
        if len(ts) > 200:
            break
    return float(np.median(ts))


def matmul_rate(rows: int, W: int) -> float:
    rng = np.random.default_rng(0)
    A = rng.random((rows, W))
    B = rng.random((W, W))
    t = timeit(lambda: A @ B, 10)
    return 2.0 * rows * W * W / t / 1e9


def setup(d: int, N: int, W: int, L: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    mlp = MLP(d, (W,) * L, d, "gelu")
    theta = mlp.init(rng, "glorot")
    X = rng.random((N, d))
    g = rng.normal(size=(N, d))
    grp = ResidualGroup("pde", X, navier_operator(d, LAM, MU), g)
    return mlp, theta, grp


_STARTUP = """
import numpy as np
import pinngelu as pg
from pinngelu.elasticity import navier_operator
from pinngelu.loss import ResidualGroup, loss_and_grad
mlp = pg.MLP(2, (50, 50, 50, 50), 2)
X = np.random.default_rng(0).random((64, 2))
grp = ResidualGroup("pde", X, navier_operator(2, 1.0, 0.5), np.zeros((64, 2)))
loss_and_grad(mlp, mlp.init(np.random.default_rng(0)), [grp], "{device}")
"""


def startup_times(device: str = "cpu") -> tuple[float, float]:
    """Wall time of a fresh Python process that imports pinngelu and evaluates one
    loss and gradient: with an empty kernel cache (JIT compile), then again with
    the cache the first process wrote."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        for _ in range(2):
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", _STARTUP.format(device=device)], env=env, check=True
            )
            times.append(time.perf_counter() - t)
    return times[0], times[1]


def time_pinngelu(d, N, W, L, device="cpu", reps=10) -> float:
    mlp, theta, grp = setup(d, N, W, L)
    be = get_backend(device)
    return timeit(lambda: loss_and_grad(mlp, theta, [grp], be), reps)


ENERGY_TARGETS = {2: 1.8, 3: 2.2}
"""Speed-up of the first-order path over all the channels the energy case asks for."""


def time_energy(d, N, W, L, device="cpu", reps=10) -> dict:
    """ms per loss-and-gradient evaluation of the strain energy on ``N`` points
    (quadrature weights, as the energy formulation's group): the kernels on all the
    jet channels and on ``1 + d``, timed alternately in the same run, and
    :func:`loss_and_grad` (which takes the first-order path by itself)."""
    rng = np.random.default_rng(1)
    mlp = MLP(d, (W,) * L, d, "gelu")
    theta = mlp.init(rng, "glorot")
    S = strain_energy_operator(d, LAM, MU)
    X = rng.random((N, d))
    grp = ResidualGroup("energy", X, S, np.zeros((N, S.shape[1])), point_weights=rng.random(N) / N)
    be = get_backend(device)
    Xd, Cd, gd, wd = grp.on(be)
    nch, ck = n_chunks(N, be.split_chunks), chunk_size(N, be.split_chunks)
    grads = np.empty((nch, mlp.n_params))

    def kernels(nc):
        net = be.net_arrays(mlp, theta)
        return be.loss_grad_chunks(net, Xd, Cd, gd, wd, ck, 0, nch, grads, None, None, nc)

    full = n_channels(d)
    ts = {full: [], 1 + d: []}
    for _ in range(3):  # alternate, so that both see the same machine load
        for nc in ts:
            ts[nc].append(timeit(lambda nc=nc: kernels(nc), reps))
    t_full, t_first = min(ts[full]), min(ts[1 + d])
    t_auto = timeit(lambda: loss_and_grad(mlp, theta, [grp], be), reps)
    return {
        "d": d,
        "N": N,
        "channels": [full, 1 + d],
        "full_ms": 1e3 * t_full,
        "first_order_ms": 1e3 * t_first,
        "ratio": t_full / t_first,
        "target": ENERGY_TARGETS[d],
        "loss_and_grad_ms": 1e3 * t_auto,
    }


def print_energy(rows: list[dict], N: int, W: int, L: int, device: str) -> None:
    print(
        f"\n  energy formulation (strain energy, first derivatives only), N={N}, "
        f"{L}x{W} GELU, {device}: ms per evaluation"
    )
    head = f"  {'d':>2} {'all channels':>14} {'1 + d channels':>15} {'ratio':>6}"
    print(f"{head}  target          loss_and_grad")
    for r in rows:
        c_all, c_1 = r["channels"]
        met = "met" if r["ratio"] >= r["target"] else "NOT met"
        print(
            f"  {r['d']:>2} {r['full_ms']:9.1f} ({c_all:>2}) {r['first_order_ms']:10.1f} ({c_1:>2})"
            f" {r['ratio']:5.2f}x  {r['target']:.1f}x {met:7s} {r['loss_and_grad_ms']:6.1f}"
        )


def time_torch(d, N, W, L, device="cpu", reps=3) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    dev = torch.device(device)
    mlp, theta, grp = setup(d, N, W, L)
    params = []
    for Wk, bk in mlp.layers(theta):
        params.append(torch.tensor(Wk, dtype=torch.float64, device=dev, requires_grad=True))
        params.append(torch.tensor(bk, dtype=torch.float64, device=dev, requires_grad=True))
    X = torch.tensor(grp.X, dtype=torch.float64, device=dev)
    g = torch.tensor(grp.g, dtype=torch.float64, device=dev)

    def net(x):
        a = x
        for k in range(0, len(params) - 2, 2):
            a = torch.nn.functional.gelu(a @ params[k].T + params[k + 1])
        return a @ params[-2].T + params[-1]

    def step():
        x = X.clone().requires_grad_(True)
        u = net(x)
        H = []  # H[j][i] = d grad u_j / d x_i  (N, d)
        for j in range(d):
            (gu,) = torch.autograd.grad(u[:, j].sum(), x, create_graph=True)
            row = []
            for i in range(d):
                (hh,) = torch.autograd.grad(gu[:, i].sum(), x, create_graph=True)
                row.append(hh)
            H.append(row)
        res = []
        for k in range(d):
            lap = sum(H[k][i][:, i] for i in range(d))
            graddiv = sum(H[j][j][:, k] for j in range(d))
            res.append(MU * lap + (LAM + MU) * graddiv - g[:, k])
        loss = sum((r * r).mean() for r in res)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return loss, grads

    return timeit(step, reps, min_time=0.0)


def time_jax(d, N, W, L, reps=3) -> float | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    mlp, theta, grp = setup(d, N, W, L)
    params = [(jnp.asarray(Wk), jnp.asarray(bk)) for Wk, bk in mlp.layers(theta)]
    X = jnp.asarray(grp.X)
    g = jnp.asarray(grp.g)

    def net(p, x):
        a = x
        for Wk, bk in p[:-1]:
            a = jax.nn.gelu(Wk @ a + bk, approximate=False)
        return p[-1][0] @ a + p[-1][1]

    def loss(p):
        H = jax.vmap(jax.hessian(lambda x: net(p, x)))(X)  # (N, m, d, d)
        lap = jnp.trace(H, axis1=2, axis2=3)
        graddiv = jnp.einsum("njjk->nk", H)
        r = MU * lap + (LAM + MU) * graddiv - g
        return jnp.sum(jnp.mean(r * r, axis=0))

    f = jax.jit(jax.value_and_grad(loss))

    def step():
        v, gr = f(params)
        jax.block_until_ready(gr)

    return timeit(step, reps, min_time=0.0)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    ap.add_argument("--scaling", action="store_true", help="also time N, width and 3D scaling")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--energy-only", action="store_true", help="time the energy case alone")
    args = ap.parse_args(argv)

    d, N, W, L, m = 2, 10_000, 50, 4, 2
    if args.energy_only:
        out = {"device": args.device, "cpu_count": os.cpu_count()}
        out["energy"] = [time_energy(dd, N, W, L, args.device) for dd in (2, 3)]
        print_energy(out["energy"], N, W, L, args.device)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(out, fh, indent=2)
        return out
    C = n_channels(d)
    out: dict = {
        "device": args.device,
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "work": {"d": d, "N": N, "width": W, "layers": L, "channels": C, "dtype": "float64"},
    }
    out["startup_compile_s"], out["startup_cached_s"] = startup_times(args.device)
    t0 = time.perf_counter()
    time_pinngelu(d, 64, W, L, args.device, reps=1)
    out["first_call_s"] = time.perf_counter() - t0
    t = time_pinngelu(d, N, W, L, args.device)
    out["pinngelu_ms"] = 1e3 * t
    out["gflops"] = flops(d, N, W, L, m) / t / 1e9
    out["matmul_gflops"] = matmul_rate(C * N, W) if args.device == "cpu" else None
    tt = None if args.no_torch else time_torch(d, N, W, L, args.device)
    out["torch_ms"] = None if tt is None else 1e3 * tt
    tj = None if (args.no_jax or args.device != "cpu") else time_jax(d, N, W, L)
    out["jax_ms"] = None if tj is None else 1e3 * tj

    print(f"pinngelu loss+gradient, 2D Navier-Cauchy, N={N}, 4x{W} GELU, float64, {args.device}")
    print(
        f"  fresh process to first loss+gradient: {out['startup_compile_s']:.1f} s with an "
        f"empty kernel cache (JIT compile), {out['startup_cached_s']:.2f} s with the cache"
    )
    print(f"  pinngelu : {out['pinngelu_ms']:8.1f} ms/eval   {out['gflops']:6.1f} GFLOP/s")
    if out["matmul_gflops"]:
        frac = out["gflops"] / out["matmul_gflops"]
        out["matmul_fraction"] = frac
        print(
            f"  numpy matmul rate ({C * N}x{W} @ {W}x{W}): {out['matmul_gflops']:.1f} GFLOP/s"
            f"  -> pinngelu at {100 * frac:.0f}%"
        )
    for key, label in (("torch_ms", "PyTorch autograd"), ("jax_ms", "JAX jit")):
        if out[key] is not None:
            ratio = out[key] / out["pinngelu_ms"]
            out[key.replace("_ms", "_ratio")] = ratio
            print(f"  {label:17s}: {out[key]:8.1f} ms/eval   pinngelu {ratio:.1f}x faster")
        else:
            print(f"  {label:17s}: not installed")
    out["energy"] = [time_energy(dd, N, W, L, args.device) for dd in (2, 3)]
    print_energy(out["energy"], N, W, L, args.device)

    if args.scaling:
        rows = []
        Ns = [1_000, 10_000, 100_000] if args.device == "cpu" else [10_000, 100_000, 1_000_000]
        widths = [20, 50, 128]
        print("\n  scaling (ms per evaluation, GFLOP/s)")
        print(f"  {'d':>2} {'N':>8} {'width':>6} {'ms':>9} {'GFLOP/s':>8}")
        for dd in (2, 3):
            for n in Ns:
                for w in widths:
                    if args.device == "cpu" and n * w > 100_000 * 50 and n > 10_000:
                        continue
                    tt = time_pinngelu(dd, n, w, L, args.device, reps=3)
                    gf = flops(dd, n, w, L, dd) / tt / 1e9
                    rows.append({"d": dd, "N": n, "width": w, "ms": 1e3 * tt, "gflops": gf})
                    print(f"  {dd:>2} {n:>8} {w:>6} {1e3 * tt:9.1f} {gf:8.1f}")
        out["scaling"] = rows

    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
