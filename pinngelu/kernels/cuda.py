"""CUDA backend: the pointwise math of :mod:`pinngelu.kernels.pointwise` compiled
with ``numba.cuda.jit(device=True)`` and run one point per GPU thread.

Design
------
- **One source.**  The jet recursion, the residuals and the reverse pass are the
  functions of :mod:`pinngelu.kernels.pointwise`, compiled for the device by
  :func:`pinngelu.kernels.compile.retarget`; there is no CUDA copy of the math.
  The CPU backend runs the same code on tiles of ``cpu.TILE`` (32) points; here
  a tile is one point (``T = 1``).
- **Threads.**  A fixed number of threads, ``n_threads = min(N, MAX_THREADS)``
  rounded up to whole blocks of :data:`THREADS_PER_BLOCK`, walks the points in a
  grid-stride loop (thread ``t`` takes points ``t, t + n_threads, ...``).  Each
  thread keeps the jets of all layers of its current point in ``cuda.local.array``
  work arrays, whose shapes must be compile-time constants: the kernels are built
  by a factory for the layer count, the widest hidden layer, the input dimension
  and the output count ``(L, wmax, d, m)``, and the compiled kernels are cached in
  a dictionary.
- **Deterministic reductions.**  Thread ``t`` accumulates its loss share into
  ``lbuf[t]`` and its gradient into the column ``gbuf[:, t]`` of a device buffer
  of shape ``(P, n_threads)`` (one column per thread: in the column layout the
  threads of a warp touch adjacent addresses, so the scattered ``+=`` of the
  reverse pass are coalesced).  A second kernel sums every parameter's row of
  ``gbuf`` and the loss buffer in a fixed order.  No atomics are used, so two
  calls give the same bits; which points a thread takes depends only on ``N``.
- **Data movement.**  Points, coefficients and targets arrive as device arrays
  (:meth:`pinngelu.loss.ResidualGroup.on` uploads them once); the parameters
  (small) are uploaded per call by :meth:`Backend.net_arrays`.  Only the loss
  (one number), the gradient ``(P,)`` and, on request, the residuals ``R`` and
  jets ``J`` are copied back to the host.  The gradient buffers are kept between
  calls (one per shape).
- float64 throughout.

Limits (a first, correctness-first version)
-------------------------------------------
- The per-thread gradient columns take ``n_threads * P * 8`` bytes of device
  memory (``MAX_THREADS = 4096`` threads and ``P = 8000`` parameters: 262 MB), and
  summing them costs one pass over that buffer per evaluation.
- The per-thread work arrays, about ``(2 L + 2) wmax C + 3 L wmax + 2 m C``
  doubles with ``C = 1 + d + d (d + 1) / 2`` channels, live in local memory
  (4 x 50 GELU in 2D: about 29 kB per thread); there is no use of shared memory
  or tensor cores, and a thread handles one point at a time, so the weights are
  re-read from global memory (cache) for every point.
- Without a CUDA GPU and driver (and without Numba's simulator,
  ``NUMBA_ENABLE_CUDASIM=1``), constructing the backend raises ``RuntimeError``;
  nothing falls back to the CPU silently.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass

import numpy as np

from .backend import Backend, NetArrays
from .layout import n_channels

__all__ = ["CUDABackend", "THREADS_PER_BLOCK", "MAX_THREADS"]

THREADS_PER_BLOCK = 64
MAX_THREADS = 4096

_NO_CUDA = (
    "the 'cuda' device needs an NVIDIA GPU with a working CUDA driver and the "
    "numba-cuda package; no CUDA GPU/driver was found ({why}). Use device='cpu' "
    "instead (or set NUMBA_ENABLE_CUDASIM=1 to run on Numba's slow CUDA simulator)."
)

# ``numba.cuda``, bound by :func:`_cuda` (a module global, not a closure variable,
# because the kernels use it and the simulator swaps the module in their globals)
cuda = None
_state: dict = {}  # "pw": the compiled pointwise namespace
_kernels: dict = {}


def _cuda():
    """Import ``numba.cuda`` and check that a device is usable; RuntimeError if not."""
    global cuda
    if cuda is not None:
        return cuda
    try:
        from numba import cuda as mod
    except Exception as exc:  # ImportError, or a broken installation
        raise RuntimeError(_NO_CUDA.format(why=f"cannot import numba.cuda: {exc}")) from exc
    try:
        ok = bool(mod.is_available())
    except Exception as exc:
        raise RuntimeError(_NO_CUDA.format(why=f"{type(exc).__name__}: {exc}")) from exc
    if not ok:
        raise RuntimeError(_NO_CUDA.format(why="numba.cuda.is_available() is False"))
    cuda = mod
    return cuda


def _pointwise() -> types.SimpleNamespace:
    """The pointwise functions compiled as CUDA device functions (built once)."""
    if "pw" not in _state:
        from .compile import retarget

        _cuda()
        _state["pw"] = retarget(lambda f: cuda.jit(device=True)(f))
    return _state["pw"]


def _kernel_set(L: int, wmax: int, d: int, m: int) -> types.SimpleNamespace:
    """The loss/gradient, jets and reduction kernels for one network shape (cached).

    ``L`` hidden layers of at most ``wmax`` neurons, ``d`` inputs, ``m`` outputs:
    these fix the shapes of the per-thread work arrays.
    """
    key = (L, wmax, d, m)
    if key in _kernels:
        return _kernels[key]
    _cuda()
    pw = _pointwise()
    from numba import float64

    tile_forward = pw.tile_forward
    tile_residual = pw.tile_residual
    tile_backward = pw.tile_backward
    copy_jets = pw.copy_jets
    residual_row = pw.residual_row
    NL = L
    NW = wmax
    NM = m
    NC = n_channels(d)

    @cuda.jit
    def loss_grad_kernel(
        theta, sizes, offsets, kind, X, Cop, g, w, gbuf, lbuf, R, want_r, J, want_j
    ):
        t = cuda.grid(1)
        nthr = lbuf.shape[0]
        if t >= nthr:
            return
        ZJ = cuda.local.array((NL, NW, NC), float64)
        AJ = cuda.local.array((NL, NW, NC), float64)
        F = cuda.local.array((NL, 3, NW, 1), float64)
        U = cuda.local.array((NM, NC), float64)
        Ub = cuda.local.array((NM, NC), float64)
        Zb = cuda.local.array((NW, NC), float64)
        Ab = cuda.local.array((NW, NC), float64)
        gb = gbuf[:, t]
        for i in range(gb.shape[0]):
            gb[i] = 0.0
        N = X.shape[0]
        acc = 0.0
        for start in range(t, N, nthr):
            tile_forward(theta, sizes, offsets, kind, X, start, 1, 1, d, NC, ZJ, AJ, F, U)
            acc += tile_residual(U, Cop, g, w, start, 1, 1, NM, NC, Ub, R, want_r)
            if want_j:
                copy_jets(U, J, start, 1, 1, NM, NC)
            tile_backward(theta, sizes, offsets, X, start, 1, 1, d, NC, ZJ, AJ, F, Ub, Zb, Ab, gb)
        lbuf[t] = acc

    @cuda.jit
    def jets_kernel(theta, sizes, offsets, kind, X, J):
        t = cuda.grid(1)
        nthr = cuda.gridsize(1)
        ZJ = cuda.local.array((NL, NW, NC), float64)
        AJ = cuda.local.array((NL, NW, NC), float64)
        F = cuda.local.array((NL, 3, NW, 1), float64)
        U = cuda.local.array((NM, NC), float64)
        N = X.shape[0]
        for start in range(t, N, nthr):
            tile_forward(theta, sizes, offsets, kind, X, start, 1, 1, d, NC, ZJ, AJ, F, U)
            copy_jets(U, J, start, 1, 1, NM, NC)

    @cuda.jit
    def jacobian_kernel(theta, sizes, offsets, kind, X, Cop, g, w, p0, p1, r, Jac, J, want_j):
        t = cuda.grid(1)
        nthr = cuda.gridsize(1)
        ZJ = cuda.local.array((NL, NW, NC), float64)
        AJ = cuda.local.array((NL, NW, NC), float64)
        F = cuda.local.array((NL, 3, NW, 1), float64)
        U = cuda.local.array((NM, NC), float64)
        Ub = cuda.local.array((NM, NC), float64)
        Zb = cuda.local.array((NW, NC), float64)
        Ab = cuda.local.array((NW, NC), float64)
        K = g.shape[1]
        for pt in range(p0 + t, p1, nthr):
            tile_forward(theta, sizes, offsets, kind, X, pt, 1, 1, d, NC, ZJ, AJ, F, U)
            if want_j:
                copy_jets(U, J, pt - p0, 1, 1, NM, NC)
            for k in range(K):
                row = (pt - p0) * K + k
                r[row] = residual_row(U, Cop, g, w, pt, k, NM, NC, Ub)
                jr = Jac[row]
                for i in range(jr.shape[0]):
                    jr[i] = 0.0
                tile_backward(theta, sizes, offsets, X, pt, 1, 1, d, NC, ZJ, AJ, F, Ub, Zb, Ab, jr)

    ks = types.SimpleNamespace(
        loss_grad=loss_grad_kernel, jets=jets_kernel, jacobian=jacobian_kernel
    )
    _kernels[key] = ks
    return ks


def _reduce_kernel():
    """Sum ``gbuf`` (P, n_threads) over threads into ``grad`` and ``lbuf`` into
    ``loss[0]``, each in increasing thread order (deterministic)."""
    if "reduce" not in _kernels:
        _cuda()

        @cuda.jit
        def reduce_kernel(gbuf, lbuf, grad, loss):
            i = cuda.grid(1)
            P = grad.shape[0]
            n = lbuf.shape[0]
            if i < P:
                s = 0.0
                for t in range(n):
                    s += gbuf[i, t]
                grad[i] = s
            elif i == P:
                s = 0.0
                for t in range(n):
                    s += lbuf[t]
                loss[0] = s

        _kernels["reduce"] = reduce_kernel
    return _kernels["reduce"]


def _blocks(n: int) -> int:
    return max(1, math.ceil(n / THREADS_PER_BLOCK))


def _layout(sizes) -> tuple[int, int, int, int]:
    """``(L, wmax, d, m)`` from the layer sizes (host array)."""
    s = np.asarray(sizes)
    L = int(s.shape[0]) - 2
    return L, int(max(1, *s[1 : L + 1])), int(s[0]), int(s[-1])


@dataclass
class _NetArraysCUDA(NetArrays):
    """:class:`NetArrays` with the host-side layout ``(L, wmax, d, m)``."""

    layout: tuple = ()


class CUDABackend(Backend):
    """Numba CUDA kernels, one point per thread (see the module docstring).

    Raises
    ------
    RuntimeError
        On construction, when no CUDA GPU/driver is usable.
    """

    name = "cuda"

    def __init__(self) -> None:
        self._cuda = _cuda()
        self._pw = _pointwise()
        self._bufs: dict = {}

    # ------------------------------------------------------------------ arrays
    def asarray(self, a: np.ndarray):
        return self._cuda.to_device(np.ascontiguousarray(a, dtype=np.float64))

    def asarray_int(self, a: np.ndarray):
        return self._cuda.to_device(np.ascontiguousarray(a, dtype=np.int64))

    def to_host(self, a) -> np.ndarray:
        if isinstance(a, np.ndarray):
            return a
        return a.copy_to_host()

    def net_arrays(self, mlp, theta: np.ndarray) -> _NetArraysCUDA:
        net = super().net_arrays(mlp, theta)
        # the kernel shapes come from the host copy of the sizes (no download)
        return _NetArraysCUDA(net.theta, net.sizes, net.offsets, net.kind, _layout(mlp.sizes))

    def _shape_of(self, net) -> tuple[int, int, int, int]:
        if isinstance(net, _NetArraysCUDA):
            return net.layout
        return _layout(self.to_host(net.sizes))

    def _buffers(self, P: int, nthr: int):
        key = (P, nthr)
        if key not in self._bufs:
            if len(self._bufs) >= 4:
                self._bufs.clear()
            cuda = self._cuda
            self._bufs[key] = (
                cuda.device_array((P, nthr), dtype=np.float64),
                cuda.device_array(nthr, dtype=np.float64),
                cuda.device_array(P, dtype=np.float64),
                cuda.device_array(1, dtype=np.float64),
            )
        return self._bufs[key]

    # ----------------------------------------------------------------- kernels
    def loss_grad(self, net, X, C, g, w, grad, R=None, J=None) -> float:
        cuda = self._cuda
        L, wmax, d, m = self._shape_of(net)
        N = int(X.shape[0])
        K = int(g.shape[1])
        nc = n_channels(d)
        P = int(net.theta.shape[0])
        if N == 0:
            grad[:] = 0.0
            return 0.0
        ks = _kernel_set(L, wmax, d, m)
        nthr = _blocks(min(N, MAX_THREADS)) * THREADS_PER_BLOCK
        gbuf, lbuf, dgrad, dloss = self._buffers(P, nthr)
        want_r = R is not None
        want_j = J is not None
        dR = cuda.device_array((N, K) if want_r else (0, K), dtype=np.float64)
        dJ = cuda.device_array((N, m, nc) if want_j else (0, m, nc), dtype=np.float64)
        ks.loss_grad[nthr // THREADS_PER_BLOCK, THREADS_PER_BLOCK](
            net.theta,
            net.sizes,
            net.offsets,
            net.kind,
            X,
            C,
            g,
            w,
            gbuf,
            lbuf,
            dR,
            want_r,
            dJ,
            want_j,
        )
        _reduce_kernel()[_blocks(P + 1), THREADS_PER_BLOCK](gbuf, lbuf, dgrad, dloss)
        dgrad.copy_to_host(grad)
        if want_r:
            dR.copy_to_host(R)
        if want_j:
            dJ.copy_to_host(J)
        return float(dloss.copy_to_host()[0])

    def jets(self, net, X, J) -> None:
        L, wmax, d, m = self._shape_of(net)
        N = int(X.shape[0])
        if N == 0:
            return
        nc = n_channels(d)
        ks = _kernel_set(L, wmax, d, m)
        nthr = _blocks(min(N, MAX_THREADS)) * THREADS_PER_BLOCK
        dJ = self._cuda.device_array((N, m, nc), dtype=np.float64)
        ks.jets[nthr // THREADS_PER_BLOCK, THREADS_PER_BLOCK](
            net.theta, net.sizes, net.offsets, net.kind, X, dJ
        )
        dJ.copy_to_host(J)

    def residual_jacobian(self, net, X, C, g, w, p0, p1, r, Jac, J=None) -> None:
        L, wmax, d, m = self._shape_of(net)
        n = int(p1) - int(p0)
        if n <= 0:
            return
        K = int(g.shape[1])
        nc = 1 + d + d * (d + 1) // 2
        P = int(net.theta.shape[0])
        cuda = self._cuda
        ks = _kernel_set(L, wmax, d, m)
        nthr = _blocks(min(n, MAX_THREADS)) * THREADS_PER_BLOCK
        dr = cuda.device_array(n * K, dtype=np.float64)
        dJac = cuda.device_array((n * K, P), dtype=np.float64)
        want_j = J is not None
        dJ = cuda.device_array((n, m, nc) if want_j else (0, m, nc), dtype=np.float64)
        ks.jacobian[nthr // THREADS_PER_BLOCK, THREADS_PER_BLOCK](
            net.theta,
            net.sizes,
            net.offsets,
            net.kind,
            X,
            C,
            g,
            w,
            int(p0),
            int(p1),
            dr,
            dJac,
            dJ,
            want_j,
        )
        dr.copy_to_host(r)
        dJac.copy_to_host(Jac)
        if want_j:
            dJ.copy_to_host(J)
