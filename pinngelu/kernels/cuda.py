"""CUDA backend, the host side of the tiled kernels of :mod:`pinngelu.kernels.cuda_tiled`:
limits and shape checks, the launch partition, device buffers and the launches.

The kernels run one thread block per tile of points, with the pointwise math of
:mod:`pinngelu.kernels.pointwise` compiled with ``numba.cuda.jit(device=True)``.

Design (the "fully fused MLP" layout, in float64)
-------------------------------------------------
- **Tiles and blocks.**  A tile holds :data:`TILE` points (32) and all their jet
  channels: the jets of ``n`` neurons are an ``(n, C T)`` array, column
  ``c T + p`` channel ``c`` of tile point ``p``, exactly as on the CPU.  A block of
  :data:`THREADS` threads (128) owns one tile at a time and runs the whole
  evaluation on it: the first layer, each hidden layer's product and activation
  jets, the output layer, the residuals and the loss share, then the reverse
  pass and the gradient.  Phases are separated by ``cuda.syncthreads()``.
- **Layer products.**  Each product ``Z = W A`` is a block-level matrix product:
  the weight matrix is staged in shared memory, :data:`STAGE_COLS` input columns
  at a time (all of ``W`` for widths up to 32), and every thread computes a
  register tile of four output rows of one column (the four partial sums share
  each loaded ``A`` entry; the threads of a warp take consecutive columns, so
  their loads and stores of the tile are coalesced, and they read the same staged
  weights, a shared-memory broadcast).  The transposed product ``W^T Zb`` of the
  reverse pass stages ``STAGE_COLS`` rows at a time in the same buffer.
- **Activations.**  The tile's pre- and post-activation jets of every hidden layer
  (needed by the reverse pass) are kept in a per-block scratch area of device
  memory, ``(L, W, C T)`` each; with float64 jets they do not fit in the 48 KiB of
  shared memory a block may use (3 x 64 in 3D: 1 MB per tile).  The scratch is
  written and read by the block that owns it only, column-contiguous (coalesced),
  and read back by the reverse pass of the same tile.
- **Pointwise math in one source.**  The activation jets and their adjoint, the
  first layer, the residuals and the jet copy are the functions of
  :mod:`pointwise`, called per (neuron, point) on strided views of the tile.  Only
  the loop order of the three layer products is written here (in
  :mod:`cuda_tiled`), because on the GPU the threads of a block split the outputs.
- **Channels.**  A kernel set is built for the number of jet channels it
  propagates (``Shape.C``): all of them, or the value and the first derivatives
  alone (``1 + d``) for operators without second derivatives (the energy
  formulation's), which leaves the second-derivative columns out of every product,
  activation and adjoint.
- **Gradient partials and reductions.**  The weight gradient ``Zb A^T`` of a
  tile is a block-level product too: ``STAGE_COLS / 2`` of the tile's columns of
  ``Zb`` and ``A`` at a time are staged in shared memory (read coalesced), each
  thread sums a 4 x 4 register tile of entries over them and adds it to row ``b``
  of a ``(n_blocks, P)`` partial-gradient buffer that no other block touches.
  The loss shares of the tile's points go through shared memory and are summed
  by thread 0 in point order.  A second kernel sums each
  parameter's column of the partials in block order.  No atomics: two calls give
  the same bits.
- **Partition.**  The points are cut into tiles; the tiles into chunks of
  :data:`CHUNK_TILES`, one launch each (short kernels, any ``N``); the tiles of a
  chunk into ``min(n_tiles, MAX_BLOCKS)`` contiguous runs, one per block.  All of
  it depends on ``N`` only, never on the device (its number of multiprocessors),
  so the bits do not change from one GPU model to another for the same compiled
  code.  Device memory: the partials ``n_blocks x P`` and the scratch
  ``n_blocks x (2 L W C T + ...)`` doubles, independent of ``N``.
- **Data movement.**  Points, coefficients and targets arrive as device arrays
  (:meth:`pinngelu.loss.ResidualGroup.on` uploads them once); the parameters are
  uploaded per call by :meth:`Backend.net_arrays`.  Only the loss, the gradient
  ``(P,)`` and, on request, the residuals and jets come back.  Buffers are kept
  between calls (one set per shape).
- **Residual Jacobian.**  :func:`cuda_tiled.jacobian_kernel`, one point per
  thread: each residual row has its own ``P`` gradient entries, so there is no
  reduction to share and the kernel is bound by writing the ``(n K, P)`` rows.

Limits
------
At most :data:`MAX_HIDDEN` hidden layers of at most :data:`MAX_WIDTH` neurons: the
weight stage (``W x STAGE_COLS`` doubles, 32 KiB at width 128) and the tile's
loss shares must fit in the 48 KiB of static shared memory of a block, and the
per-block scratch grows as ``L W``.  :meth:`CUDABackend.check_shape` raises
``ValueError`` naming the limit before anything is launched, and ``MemoryError``
when the scratch does not fit in the free device memory.  float64 throughout.

Without a CUDA GPU and driver (and without Numba's simulator,
``NUMBA_ENABLE_CUDASIM=1``), constructing the backend raises ``RuntimeError``;
nothing falls back to the CPU silently.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass

import numpy as np

from . import cuda_tiled
from .backend import Backend, NetArrays
from .cuda_tiled import Shape
from .layout import n_channels

__all__ = [
    "CUDABackend",
    "TILE",
    "THREADS",
    "MAX_BLOCKS",
    "CHUNK_TILES",
    "STAGE_COLS",
    "MAX_WIDTH",
    "MAX_HIDDEN",
    "SHARED_BYTES",
]

TILE = 32
"""Points per tile (one tile per block at a time)."""
THREADS = 128
"""Threads per block of the loss/gradient and jets kernels."""
MAX_BLOCKS = 1024
"""Most blocks per launch (and partial-gradient rows)."""
CHUNK_TILES = 8 * 1024
"""Tiles per launch; larger ``N`` are done in several launches."""
STAGE_COLS = 32
"""Columns (rows for the transposed product) of a weight matrix per shared stage."""
MAX_WIDTH = 128
"""Widest hidden layer the kernels are built for."""
MAX_HIDDEN = 6
"""Most hidden layers the kernels are built for."""
SHARED_BYTES = 48 * 1024
"""Static shared memory a block may use (the CUDA limit without opt-in)."""
JAC_THREADS_PER_BLOCK = 64
JAC_MAX_THREADS = 4096

_NO_CUDA = (
    "the 'cuda' device needs an NVIDIA GPU with a working CUDA driver and the "
    "numba-cuda package; no CUDA GPU/driver was found ({why}). Use device='cpu' "
    "instead (or set NUMBA_ENABLE_CUDASIM=1 to run on Numba's slow CUDA simulator)."
)

# ``numba.cuda``, bound by :func:`_cuda` (a module global, not a closure variable,
# because the simulator swaps the module in the kernels' globals)
cuda = None
_state: dict = {}  # "pw": the compiled pointwise namespace


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
        _state["pw"] = retarget(lambda f, inline: cuda.jit(device=True)(f))
    return _state["pw"]


def _layout(sizes, dims: int | None = None) -> tuple[int, int, int, int]:
    """``(L, wmax, d, m)`` from the layer sizes (host array); ``d`` the differentiated
    inputs (``dims``, default all ``sizes[0]``)."""
    s = np.asarray(sizes)
    L = int(s.shape[0]) - 2
    d = int(s[0]) if dims is None else int(dims)
    return L, int(max(1, *s[1 : L + 1])), d, int(s[-1])


def tile_shape(L: int, W: int, d: int, m: int, C: int | None = None) -> Shape:
    """The compile-time sizes of the kernels for a network, with the current switches,
    on ``C`` jet channels (default all)."""
    C = n_channels(d) if C is None else int(C)
    return Shape(L, W, d, m, TILE, THREADS, min(STAGE_COLS, W), C)


def check_shape(L: int, W: int, d: int, m: int, C: int | None = None) -> Shape:
    """Check that the kernels can be built for a network; return their :class:`Shape`.

    Parameters
    ----------
    L, W, d, m : int
        Hidden layers, widest hidden layer, differentiated inputs (0: the value
        alone, on one channel) and outputs.
    C : int, optional
        Jet channels propagated: all (``n_channels(d)``, the default) or the value
        and the first derivatives alone (``1 + d``).

    Raises
    ------
    ValueError
        Naming the limit: more than :data:`MAX_HIDDEN` hidden layers, a layer wider
        than :data:`MAX_WIDTH`, or a shared-memory stage over :data:`SHARED_BYTES`.
    """
    if L < 1:
        raise ValueError("the CUDA backend needs at least one hidden layer")
    if d not in (0, 1, 2, 3):  # 0: jets in no input, the value alone
        raise ValueError(f"the CUDA backend supports 1 to 3 inputs, not {d}")
    if C is not None and C not in (n_channels(d), 1 + d):
        raise ValueError(
            f"{C} jet channels for {d}-D inputs: the kernels propagate {n_channels(d)} "
            f"(all) or {1 + d} (value and first derivatives)"
        )
    if W > MAX_WIDTH:
        raise ValueError(
            f"hidden layer of {W} neurons: the CUDA kernels support widths up to "
            f"{MAX_WIDTH} (a block stages {STAGE_COLS} columns of a weight matrix in "
            f"shared memory, at most {SHARED_BYTES // 1024} KiB per block, and keeps its "
            "tile's jets in a per-block scratch that grows with the width); use "
            "device='cpu' for wider networks"
        )
    if L > MAX_HIDDEN:
        raise ValueError(
            f"{L} hidden layers: the CUDA kernels support up to {MAX_HIDDEN} (the "
            "per-block scratch holds the jets of every hidden layer of a tile); use "
            "device='cpu' for deeper networks"
        )
    shape = tile_shape(L, W, d, m, C)
    if shape.shared_bytes > SHARED_BYTES:
        raise ValueError(
            f"the CUDA kernels for this network need {shape.shared_bytes} bytes of shared "
            f"memory per block (weight stage {shape.WP} x {shape.KB} doubles and "
            f"{shape.T} loss shares); the limit is {SHARED_BYTES} bytes per block: "
            "lower kernels.cuda.STAGE_COLS or TILE"
        )
    if shape.NT < 1 or shape.T < 1:
        raise ValueError("kernels.cuda.THREADS and TILE must be positive")
    return shape


def scratch_doubles(shape: Shape, P: int) -> int:
    """Doubles of device scratch per block: the tile's jets of every hidden layer
    (pre- and post-activation), the activation derivatives, the output jets and
    their adjoints, two adjoint work arrays, and the block's partial gradient."""
    L, W, m, Q, T = shape.L, shape.W, shape.m, shape.Q, shape.T
    return 2 * L * W * Q + 3 * L * W * T + 2 * m * Q + 2 * W * Q + P + 1


def partition(N: int) -> list[tuple[int, int, int]]:
    """The launches for ``N`` points: ``(first tile, end tile, blocks)`` per chunk.

    Depends on ``N`` and the module switches only (never on the device).
    """
    nt = -(-N // TILE)
    out = []
    for t0 in range(0, nt, CHUNK_TILES):
        t1 = min(nt, t0 + CHUNK_TILES)
        out.append((t0, t1, min(t1 - t0, MAX_BLOCKS)))
    return out


@dataclass
class _NetArraysCUDA(NetArrays):
    """:class:`NetArrays` with the host-side layout ``(L, wmax, d, m)``."""

    layout: tuple = ()


class CUDABackend(Backend):
    """Numba CUDA kernels, one thread block per tile of points (see the module docstring).

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

    def net_arrays(self, mlp, theta: np.ndarray, dims: int | None = None) -> _NetArraysCUDA:
        net = super().net_arrays(mlp, theta, dims)
        # the kernel shapes come from the host copy of the sizes (no download)
        return _NetArraysCUDA(
            net.theta, net.sizes, net.offsets, net.kind, net.dims, _layout(mlp.sizes, net.dims)
        )

    def _shape_of(self, net) -> tuple[int, int, int, int]:
        if isinstance(net, _NetArraysCUDA):
            return net.layout
        return _layout(self.to_host(net.sizes), net.dims)

    def _scratch(self, shape: Shape, P: int, nb: int):
        """Per-block work arrays for ``nb`` blocks (kept between calls)."""
        key = (shape, P, nb)
        if key not in self._bufs:
            if len(self._bufs) >= 4:
                self._bufs.clear()
            need = 8 * nb * scratch_doubles(shape, P)
            free = _free_memory(self._cuda)
            if free is not None and need > free:
                raise MemoryError(
                    f"the CUDA kernels need {need / 2**20:.0f} MiB of device scratch "
                    f"({nb} blocks x {8 * scratch_doubles(shape, P) / 2**20:.2f} MiB) and "
                    f"{free / 2**20:.0f} MiB are free: lower kernels.cuda.MAX_BLOCKS"
                )
            c = self._cuda
            L, W, m, Q, T = shape.L, shape.W, shape.m, shape.Q, shape.T
            f8 = np.float64
            self._bufs[key] = types.SimpleNamespace(
                Z=c.device_array((nb, L, W, Q), f8),
                A=c.device_array((nb, L, W, Q), f8),
                F=c.device_array((nb, L, 3, W, T), f8),
                U=c.device_array((nb, m, Q), f8),
                Ub=c.device_array((nb, m, Q), f8),
                Zb=c.device_array((nb, W, Q), f8),
                Ab=c.device_array((nb, W, Q), f8),
                g=c.device_array((nb, P), f8),
                l=c.device_array(nb, f8),
                grad=c.device_array(P, f8),
                loss=c.device_array(1, f8),
            )
        return self._bufs[key]

    def check_shape(self, mlp) -> Shape:
        """:func:`check_shape` for an :class:`~pinngelu.network.MLP`."""
        return check_shape(*_layout(mlp.sizes, mlp.in_dim))

    # ----------------------------------------------------------------- kernels
    def loss_grad_chunks(self, net, X, C, g, w, chunk, c0, c1, grads, R=None, J=None, nc=None):
        """Losses ``(c1 - c0,)`` and gradients ``grads (c1 - c0, P)`` of the chunks
        ``c0 <= c < c1`` of ``chunk`` points (see :meth:`Backend.loss_grad_chunks`):
        the launches of :meth:`_loss_grad` on each chunk's points alone, the jets on
        ``nc`` channels (default all)."""
        N = X.shape[0]
        out = np.empty(c1 - c0)
        for i, c in enumerate(range(c0, c1)):
            p0, p1 = c * chunk, min(N, (c + 1) * chunk)
            Cs = C[p0:p1] if C.shape[0] > 1 else C
            ws = w[p0:p1] if w.shape[0] > 1 else w
            Ri = None if R is None else R[p0:p1]
            Ji = None if J is None else J[p0:p1]
            out[i] = self._loss_grad(net, X[p0:p1], Cs, g[p0:p1], ws, grads[i], Ri, Ji, nc)
        return out

    def _loss_grad(self, net, X, C, g, w, grad, R=None, J=None, nc=None) -> float:
        """Loss and gradient (into the host ``grad``) of all the points ``X``: the
        chunks of :func:`partition` launched in turn, then the ordered reduction."""
        c = self._cuda
        shape = check_shape(*self._shape_of(net), nc)
        N = int(X.shape[0])
        K = int(g.shape[1])
        P = int(net.theta.shape[0])
        if N == 0:
            grad[:] = 0.0
            return 0.0
        parts = partition(N)
        nb0 = parts[0][2]
        s = self._scratch(shape, P, nb0)
        ks = cuda_tiled.kernel_set(c, self._pw, shape)
        want_r = R is not None
        want_j = J is not None
        dR = c.device_array((N, K) if want_r else (0, K), dtype=np.float64)
        dJ = c.device_array(
            (N, shape.m, shape.C) if want_j else (0, shape.m, shape.C), dtype=np.float64
        )
        for k, (t0, t1, nb) in enumerate(parts):
            ks.loss_grad[nb, shape.NT](
                net.theta,
                net.sizes,
                net.offsets,
                net.kind,
                X,
                C,
                g,
                w,
                t0,
                t1,
                k == 0,
                s.Z,
                s.A,
                s.F,
                s.U,
                s.Ub,
                s.Zb,
                s.Ab,
                s.g,
                s.l,
                dR,
                want_r,
                dJ,
                want_j,
            )
        cuda_tiled.reduce_kernel(c)[math.ceil((P + 1) / 128), 128](s.g, s.l, nb0, s.grad, s.loss)
        s.grad.copy_to_host(grad)
        if want_r:
            dR.copy_to_host(R)
        if want_j:
            dJ.copy_to_host(J)
        return float(s.loss.copy_to_host()[0])

    def jets(self, net, X, J) -> None:
        """Output jets into the host ``J`` (N, m, nc), on its ``nc`` channels."""
        c = self._cuda
        shape = check_shape(*self._shape_of(net), J.shape[2])
        N = int(X.shape[0])
        if N == 0:
            return
        P = int(net.theta.shape[0])
        parts = partition(N)
        s = self._scratch(shape, P, parts[0][2])
        ks = cuda_tiled.kernel_set(c, self._pw, shape)
        dJ = c.device_array((N, shape.m, shape.C), dtype=np.float64)
        for t0, t1, nb in parts:
            ks.jets[nb, shape.NT](
                net.theta, net.sizes, net.offsets, net.kind, X, t0, t1, s.Z, s.A, s.F, s.U, dJ
            )
        dJ.copy_to_host(J)

    def residual_jacobian(self, net, X, C, g, w, p0, p1, r, Jac, J=None, nc=None) -> None:
        L, wmax, d, m = self._shape_of(net)
        nc = check_shape(L, wmax, d, m, nc).C
        n = int(p1) - int(p0)
        if n <= 0:
            return
        K = int(g.shape[1])
        P = int(net.theta.shape[0])
        c = self._cuda
        kern = cuda_tiled.jacobian_kernel(c, self._pw, L, wmax, d, m, nc)
        nthr = min(n, JAC_MAX_THREADS)
        nblk = max(1, math.ceil(nthr / JAC_THREADS_PER_BLOCK))
        dr = c.device_array(n * K, dtype=np.float64)
        dJac = c.device_array((n * K, P), dtype=np.float64)
        want_j = J is not None
        dJ = c.device_array((n, m, nc) if want_j else (0, m, nc), dtype=np.float64)
        kern[nblk, JAC_THREADS_PER_BLOCK](
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


def _free_memory(c) -> int | None:
    """Free device memory in bytes, or ``None`` where it cannot be told (simulator)."""
    try:
        return int(c.current_context().get_memory_info()[0])
    except Exception:
        return None
