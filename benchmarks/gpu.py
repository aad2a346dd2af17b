"""GPU throughput of the loss and gradient, against PyTorch CUDA and JAX, in float64.

Run from the repository root on a machine with an NVIDIA GPU::

    python benchmarks/gpu.py                  # all figures, a few minutes
    python benchmarks/gpu.py --no-plate       # without the training run
    python benchmarks/gpu.py --json out.json
    python benchmarks/gpu.py --smoke          # no GPU: tiny run on Numba's simulator
    python benchmarks/gpu.py --compile 9.0    # no GPU: compile the kernels for sm_90

Printed in one run:

- ms per loss+gradient evaluation of the Navier-Cauchy interior residual at
  N = 1e4, 1e5, 1e6 points for 3 x 50 GELU in 2D and 3 x 64 GELU in 3D, float64,
  for pinngelu (``device="cuda"``), PyTorch CUDA (nested ``autograd.grad``, and
  ``torch.func`` ``vmap(hessian)``), and JAX (``jit(value_and_grad)``) where installed;
- the achieved FLOP/s of pinngelu, from the FLOP model of
  ``benchmarks/loss_grad.py`` (``6 C N (d W + (L - 1) W^2 + W m)``: forward product,
  transposed product and weight gradient of every layer, two flops per
  multiply-add), against the float64 peak of the device (table :data:`FP64_PEAK`
  by device name; "peak not known" otherwise);
- the targets: >= 5x PyTorch CUDA at N = 1e5, >= 20 % of the float64 peak;
- the flagship plate (``cases/plate_manufactured.py``) trained on the GPU: wall
  time until the relative L2 displacement error is below 1e-3.

Every timing is preceded by a warm-up call (compilation, buffers) and ends with a
device synchronisation (pinngelu copies the gradient to the host; the others wait
explicitly).  Without a GPU the script says so and exits with status 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "cases")]

# float64 non-tensor (FMA pipe) peak, TFLOP/s, from the vendors' data sheets, by a
# substring of ``cuda.get_current_device().name`` (first match wins).  The kernels do
# not use the FP64 tensor cores (DMMA), so the tensor-core figures (67 TFLOP/s on
# H100/H200 SXM, 19.5 on A100) are not the reference.
FP64_PEAK = (
    ("H200 NVL", 30.0),
    ("H200", 34.0),  # H200 SXM
    ("GH200", 34.0),
    ("H100 PCIe", 25.6),
    ("H100 NVL", 30.0),
    ("H100", 34.0),  # H100 SXM5 ("NVIDIA H100 80GB HBM3")
    ("A100", 9.7),
    ("A30", 5.2),
    ("V100S", 8.2),
    ("V100-SXM", 7.8),
    ("V100", 7.0),  # V100 PCIe
    ("P100", 4.7),  # P100 PCIe (SXM2: 5.3)
)

CASES = ((2, 50, 3), (3, 64, 3))  # (d, width, hidden layers)
NS = (10_000, 100_000, 1_000_000)


def fp64_peak(name: str) -> float | None:
    """Float64 FMA peak in TFLOP/s for a device name, ``None`` when not in the table."""
    for key, peak in FP64_PEAK:
        if key.lower() in name.lower():
            return peak
    return None


def gpu_available() -> tuple[bool, str]:
    """Whether a real CUDA GPU is usable, and its name or the reason why not."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False, "NUMBA_ENABLE_CUDASIM=1 (the simulator is not a GPU)"
    try:
        from numba import cuda

        if not cuda.is_available():
            return False, "numba.cuda.is_available() is False"
        name = cuda.get_current_device().name
        return True, name.decode() if isinstance(name, bytes) else str(name)
    except Exception as exc:  # no numba-cuda, no driver
        return False, f"{type(exc).__name__}: {exc}"


def time_call(fn, reps: int = 5, min_time: float = 0.3, max_reps: int = 50) -> float:
    """Median seconds of ``fn()`` after one warm-up call (``fn`` synchronises)."""
    fn()
    ts: list[float] = []
    t_end = time.perf_counter() + min_time
    while len(ts) < reps or (time.perf_counter() < t_end and len(ts) < max_reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def time_pinngelu(d: int, N: int, W: int, L: int) -> float:
    from loss_grad import setup

    from pinngelu.kernels import get_backend
    from pinngelu.loss import loss_and_grad

    mlp, theta, grp = setup(d, N, W, L)
    be = get_backend("cuda")
    return time_call(lambda: loss_and_grad(mlp, theta, [grp], be))


def time_torch_autograd(d: int, N: int, W: int, L: int) -> float | None:
    from loss_grad import time_torch

    return _guard(lambda: time_torch(d, N, W, L, "cuda", reps=3))


def time_torch_func(d: int, N: int, W: int, L: int) -> float | None:
    """``torch.func``: ``vmap`` of the per-point ``hessian``, then ``grad`` in the
    parameters (the formulation of the JAX reference)."""
    try:
        import torch
        from torch.func import grad, hessian, vmap
    except ImportError:
        return None
    from loss_grad import LAM, MU, setup

    dev = torch.device("cuda")
    mlp, theta, grp = setup(d, N, W, L)
    params = [
        (torch.tensor(Wk, device=dev), torch.tensor(bk, device=dev)) for Wk, bk in mlp.layers(theta)
    ]
    X = torch.tensor(grp.X, device=dev)
    g = torch.tensor(grp.g, device=dev)

    def net(p, x):
        a = x
        for Wk, bk in p[:-1]:
            a = torch.nn.functional.gelu(Wk @ a + bk)
        return p[-1][0] @ a + p[-1][1]

    def loss(p):
        H = vmap(hessian(lambda x: net(p, x)))(X)  # (N, m, d, d)
        lap = torch.diagonal(H, dim1=2, dim2=3).sum(-1)
        graddiv = torch.einsum("njjk->nk", H)
        r = MU * lap + (LAM + MU) * graddiv - g
        return (r * r).mean(0).sum()

    f = grad(loss)

    def step():
        out = f(params)
        torch.cuda.synchronize()
        return out

    return _guard(lambda: time_call(step, reps=3, min_time=0.0))


def time_jax(d: int, N: int, W: int, L: int) -> float | None:
    try:
        import jax
    except ImportError:
        return None
    if not any(dev.platform == "gpu" for dev in jax.devices()):
        return None
    from loss_grad import time_jax as tj

    return _guard(lambda: tj(d, N, W, L, reps=3))


def _guard(fn) -> float | None:
    """Run a reference timing; ``nan`` when it fails (out of memory, say)."""
    try:
        return fn()
    except Exception as exc:
        print(f"    (reference failed: {type(exc).__name__}: {str(exc)[:120]})")
        try:
            import torch

            torch.cuda.empty_cache()
        except Exception:
            pass
        return float("nan")


def flop_count(d: int, N: int, W: int, L: int) -> float:
    from loss_grad import flops

    return flops(d, N, W, L, d)


def plate_time_to(target: float, time_limit: float, device: str = "cuda") -> dict:
    """Train the flagship plate on ``device``; wall time until the error is below ``target``."""
    import plate_manufactured as plate
    from accuracy_vs_time import METHODS, time_to

    import pinngelu as pg

    hidden, n_int, n_bnd, stages, every = METHODS["ssbroyden2"]
    problem = plate.build_problem(n_interior=n_int, n_boundary=n_bnd)
    mlp = pg.MLP(2, hidden, 2, "gelu")
    cfg = pg.TrainConfig(stages=stages(), time_limit=time_limit, print_every=0, error_every=every)
    t0 = time.perf_counter()
    res = pg.train(
        problem,
        mlp,
        rng=np.random.default_rng(0),
        device=device,
        config=cfg,
        error_points=plate.grid(),
        out=None,
    )
    wall = time.perf_counter() - t0
    t = np.asarray(res.history["error_time"], dtype=float)
    e = np.asarray(res.history["error"], dtype=float)
    return {
        "hidden": list(hidden),
        "n_interior": n_int,
        "n_boundary": n_bnd,
        "optimizer": "ssbroyden2",
        "time_to_target_s": time_to(t, e, target),
        "target": target,
        "final_error": float(e[-1]) if e.size else float("nan"),
        "iterations": res.n_iter,
        "wall_s": wall,
    }


def smoke() -> int:
    """Tiny run of the benchmark's pinngelu path on Numba's simulator (no speed figures)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
        return subprocess.call([sys.executable, __file__, "--smoke"], env=env)
    from loss_grad import setup

    import pinngelu.kernels.cuda as kc
    from pinngelu.loss import loss_and_grad

    kc.TILE, kc.THREADS, kc.STAGE_COLS = 4, 8, 3
    worst = 0.0
    for d in (2, 3):
        mlp, theta, grp = setup(d, 13, 5, 2)
        a = loss_and_grad(mlp, theta, [grp], "cpu")
        b = loss_and_grad(mlp, theta, [grp], "cuda")
        err = max(
            abs(b.loss - a.loss) / a.loss, np.max(np.abs(b.grad - a.grad)) / np.max(np.abs(a.grad))
        )
        worst = max(worst, err)
        print(
            f"simulator smoke test, d={d}: 13 points, 2 x 5 GELU: relative difference "
            f"to the CPU backend {err:.1e}"
        )
    ok = worst <= 1e-12
    print("smoke test", "passed" if ok else "FAILED", "(the simulator measures no speed)")
    return 0 if ok else 1


def compile_only(cc: str) -> int:
    """Compile the tiled kernels of the benchmark shapes to PTX for compute capability
    ``cc`` without a GPU (numba-cuda with NVVM and NVRTC needed) and, where ``ptxas``
    is on the path or in ``$CUDA_HOME/bin``, print its register and spill counts.

    The simulator runs the kernels as Python, so it does not find what the CUDA
    compiler rejects; this does.
    """
    import re
    import shutil
    import tempfile
    import types as pytypes

    from numba import cuda
    from numba import types as nt

    import pinngelu.kernels.cuda as kc
    from pinngelu.kernels import cuda_tiled
    from pinngelu.kernels.compile import retarget

    major, minor = (int(x) for x in cc.split("."))
    if not cuda.is_available():  # type the device functions for ``cc``, not a device
        import numba.cuda.dispatcher as disp

        disp.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=(major, minor))
    pw = retarget(lambda f, inline: cuda.jit(device=True)(f))

    def arr(n, dt=nt.float64):
        return nt.Array(dt, n, "C")

    i1 = arr(1, nt.int64)
    head = (arr(1), i1, i1, nt.int64, arr(2))
    ptxas = shutil.which("ptxas") or os.path.join(
        os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "ptxas"
    )
    for d, W, L in CASES:
        shape = kc.check_shape(L, W, d, d)
        ks = cuda_tiled.kernel_set(cuda, pw, shape)
        sigs = {
            "loss_grad": head
            + (arr(4), arr(2), arr(1), nt.int64, nt.int64, nt.boolean)
            + (arr(4), arr(4), arr(5), arr(3), arr(3), arr(3), arr(3), arr(2), arr(1))
            + (arr(2), nt.boolean, arr(3), nt.boolean),
            "jets": head + (nt.int64, nt.int64, arr(4), arr(4), arr(5), arr(3), arr(3)),
        }
        for name, sig in sigs.items():
            ptx, _ = cuda.compile_ptx(getattr(ks, name).py_func, sig, cc=(major, minor))
            info = "ptxas not found"
            if os.path.exists(ptxas):
                with tempfile.TemporaryDirectory() as tmp:
                    src = os.path.join(tmp, "k.ptx")
                    with open(src, "w") as fh:
                        fh.write(ptx)
                    r = subprocess.run(
                        [ptxas, f"-arch=sm_{major}{minor}", "-v", src, "-o", src + ".o"],
                        capture_output=True,
                        text=True,
                    )
                    found = re.findall(r"Used \d+ registers.*", r.stderr)
                    spills = re.findall(r"\d+ bytes spill stores", r.stderr)
                    info = "; ".join(found[-1:] + spills[-1:]) or r.stderr.strip()[-200:]
            print(
                f"{d}D {L}x{W} {name:9s}: PTX {len(ptx) // 1024} kB for sm_{major}{minor}; {info}"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--no-plate", action="store_true", help="skip the training run")
    ap.add_argument("--plate-time", type=float, default=90.0, help="training time limit, s")
    ap.add_argument("--smoke", action="store_true", help="no GPU: tiny simulator run")
    ap.add_argument("--compile", metavar="CC", help="no GPU: compile for CC (e.g. 9.0)")
    args = ap.parse_args(argv)
    if args.smoke:
        return smoke()
    if args.compile:
        return compile_only(args.compile)
    ok, name = gpu_available()
    if not ok:
        print(f"benchmarks/gpu.py: no CUDA GPU available ({name}); nothing to time.")
        print("Run it on a machine with an NVIDIA GPU and numba-cuda, or pass --smoke")
        print("for a tiny correctness run on Numba's CUDA simulator.")
        return 0
    import warnings

    # small grids (N = 1e4: 313 blocks of 128 threads) are part of the measurement
    warnings.filterwarnings("ignore", message=".*under-utilization.*")
    peak = fp64_peak(name)
    out: dict = {"device": name, "fp64_peak_tflops": peak, "dtype": "float64", "rows": []}
    print(f"device: {name}")
    if peak is None:
        print("  unknown device: float64 peak not known (no % of peak printed)")
    else:
        print(f"  float64 FMA peak (data sheet, no tensor cores): {peak:.1f} TFLOP/s")
    t_start = time.perf_counter()
    hdr = f"{'case':>8} {'N':>9} {'pinngelu':>10} {'TFLOP/s':>8} {'%peak':>6}"
    hdr += f" {'torch ag':>10} {'torch.func':>10} {'jax':>10} {'speed-up':>8}"
    print("\nloss+gradient, Navier-Cauchy interior residual, ms per evaluation")
    print(hdr)
    for d, W, L in CASES:
        for N in NS:
            t = time_pinngelu(d, N, W, L)
            tf = flop_count(d, N, W, L) / t / 1e12
            ta = None if args.no_torch else time_torch_autograd(d, N, W, L)
            tfn = None if args.no_torch else time_torch_func(d, N, W, L)
            tj = None if args.no_jax else time_jax(d, N, W, L)
            torch_best = min((x for x in (ta, tfn) if x is not None and x == x), default=None)
            row = {
                "d": d,
                "width": W,
                "layers": L,
                "N": N,
                "pinngelu_ms": 1e3 * t,
                "tflops": tf,
                "peak_fraction": None if peak is None else tf / peak,
                "torch_autograd_ms": None if ta is None else 1e3 * ta,
                "torch_func_ms": None if tfn is None else 1e3 * tfn,
                "jax_ms": None if tj is None else 1e3 * tj,
                "speedup_vs_torch": None if torch_best is None else torch_best / t,
            }
            out["rows"].append(row)

            def ms(x):
                return f"{'-':>10}" if x is None else f"{1e3 * x:10.2f}"

            pct = "     -" if peak is None else f"{100 * tf / peak:6.1f}"
            sp = f"{'-':>8}" if torch_best is None else f"{torch_best / t:7.1f}x"
            print(
                f"{f'{d}D {L}x{W}':>8} {N:>9} {1e3 * t:10.2f} {tf:8.2f} {pct} "
                f"{ms(ta)} {ms(tfn)} {ms(tj)} {sp}",
                flush=True,
            )
    print("\ntargets (N = 1e5): >= 5x PyTorch CUDA, >= 20% of the float64 peak")
    for r in out["rows"]:
        if r["N"] != 100_000:
            continue
        sp = r["speedup_vs_torch"]
        fr = r["peak_fraction"]
        s1 = "n/a" if sp is None else f"{sp:.1f}x ({'met' if sp >= 5 else 'NOT met'})"
        s2 = "n/a" if fr is None else f"{100 * fr:.1f}% ({'met' if fr >= 0.2 else 'NOT met'})"
        print(f"  {r['d']}D {r['layers']}x{r['width']}: vs PyTorch {s1}; of peak {s2}")
    if not args.no_plate:
        budget = min(args.plate_time, max(10.0, 270.0 - (time.perf_counter() - t_start)))
        print(f"\nflagship plate on the GPU (time limit {budget:.0f} s) ...", flush=True)
        p = plate_time_to(1e-3, budget)
        out["plate"] = p
        tt = p["time_to_target_s"]
        when = "not reached" if tt != tt else f"{tt:.1f} s"
        print(
            f"  {p['optimizer']}, {len(p['hidden'])}x{p['hidden'][0]}, {p['n_interior']} + "
            f"{p['n_boundary']} points: time to error 1e-3: {when}; final error "
            f"{p['final_error']:.2e} after {p['iterations']} iterations"
        )
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
