"""Tiled CUDA kernels: one thread block per tile of points, built per network shape.

The layout, the phases and the reductions are described in :mod:`pinngelu.kernels.cuda`
and in ``docs/architecture.md`` (CUDA sections).  This module holds the kernel
factory :func:`kernel_set` and the deterministic reduction kernel; the host side
(buffers, launches, checks) is :class:`pinngelu.kernels.cuda.CUDABackend`.

Every kernel is compiled for one ``Shape``: the numbers that size the shared-memory
stage and the per-block scratch must be compile-time constants in ``numba.cuda``.
The pointwise math (the activation jets and their adjoint, the first layer, the
residuals and the jet copy) is that of :mod:`pinngelu.kernels.pointwise`, compiled
for the device by :func:`pinngelu.kernels.compile.retarget` and called on strided
views of the tile (one neuron and one point at a time: ``Z[k:k+1, p::T]``), so
there is no CUDA copy of it.  Only the loop order of the three layer products is
GPU-specific: the threads of a block split the outputs of a product among them
(a register tile of four rows of one column per thread), where the CPU loops over
all outputs in one thread.
"""

from __future__ import annotations

import types
from typing import NamedTuple

from .layout import n_channels

__all__ = ["Shape", "kernel_set", "reduce_kernel", "jacobian_kernel", "ROWS"]

ROWS = 4
"""Output rows per thread in the layer products (the register tile is ROWS x 1)."""

# ``numba.cuda``, bound by the factories: a module global, not a closure variable,
# because Numba's simulator swaps the module in the kernels' globals
cuda = None
_cache: dict = {}


def _bind(mod) -> None:
    global cuda
    cuda = mod


class Shape(NamedTuple):
    """Compile-time sizes of one kernel set.

    ``L`` hidden layers of at most ``W`` neurons, ``d`` inputs, ``m`` outputs,
    ``T`` points per tile, ``NT`` threads per block, ``KB`` columns (products) or
    rows (transposed products) of a weight matrix per shared-memory stage, ``C`` jet
    channels propagated: all (:func:`~pinngelu.kernels.layout.n_channels` of ``d``)
    or the value and the first derivatives alone (``1 + d``).
    """

    L: int
    W: int
    d: int
    m: int
    T: int
    NT: int
    KB: int
    C: int

    @property
    def Q(self) -> int:
        """Columns of a tile's jets: ``C T``."""
        return self.C * self.T

    @property
    def WP(self) -> int:
        """Rows of the weight stage: ``W`` rounded up to whole register tiles."""
        return ROWS * (-(-self.W // ROWS))

    @property
    def QC(self) -> int:
        """Tile columns of ``Zb`` and ``A`` per stage of the weight gradient."""
        return max(1, self.KB // 2)

    @property
    def stage_doubles(self) -> int:
        """Doubles of the shared stage: ``WP`` rows (or columns) of ``KB`` weights, or
        ``QC`` columns of both ``Zb`` and ``A`` for the weight gradient."""
        return self.WP * max(self.KB, 2 * self.QC)

    @property
    def shared_bytes(self) -> int:
        """Static shared memory per block: the weight stage and the tile's losses."""
        return 8 * (self.stage_doubles + self.T)


def kernel_set(cuda_mod, pw, shape: Shape) -> types.SimpleNamespace:
    """The loss/gradient and jets kernels for ``shape`` (compiled once, cached).

    Parameters
    ----------
    cuda_mod : module
        ``numba.cuda`` (real or simulated).
    pw : SimpleNamespace
        The pointwise functions compiled as device functions.
    shape : Shape
        Compile-time sizes.
    """
    if shape in _cache:
        return _cache[shape]
    _bind(cuda_mod)
    from numba import float64

    input_layer = pw.input_layer
    activate = pw.activate
    activate_reverse = pw.activate_reverse
    tile_residual = pw.tile_residual
    copy_jets = pw.copy_jets
    NL, NW, d, NM, T, NT, KB, NC = shape
    Q = shape.Q
    WP = shape.WP
    SH = shape.stage_doubles
    QC = shape.QC
    SA = WP * QC  # start of the A columns in the weight-gradient stage
    R4 = ROWS

    @cuda.jit(device=True)
    def product(theta, woff, n_out, n_in, A, Z, sW, tid):
        """``Z = W A`` (+ the bias on the value columns), ``W`` (n_out, n_in) at
        ``theta[woff:]`` staged ``KB`` input columns at a time in ``sW``."""
        boff = woff + n_out * n_in
        units = ((n_out + R4 - 1) // R4) * Q
        for i0 in range(0, n_in, KB):
            kb = n_in - i0 if n_in - i0 < KB else KB
            cuda.syncthreads()
            for e in range(tid, n_out * kb, NT):
                o = e // kb
                ii = e - o * kb
                sW[o * KB + ii] = theta[woff + o * n_in + i0 + ii]
            cuda.syncthreads()
            for u in range(tid, units, NT):
                ob = u // Q
                q = u - ob * Q
                o = R4 * ob
                s0 = 0.0
                s1 = 0.0
                s2 = 0.0
                s3 = 0.0
                for ii in range(kb):
                    a = A[i0 + ii, q]
                    s0 += sW[o * KB + ii] * a
                    s1 += sW[(o + 1) * KB + ii] * a
                    s2 += sW[(o + 2) * KB + ii] * a
                    s3 += sW[(o + 3) * KB + ii] * a
                if i0 > 0:
                    s0 += Z[o, q]
                    if o + 1 < n_out:
                        s1 += Z[o + 1, q]
                    if o + 2 < n_out:
                        s2 += Z[o + 2, q]
                    if o + 3 < n_out:
                        s3 += Z[o + 3, q]
                elif q < T:
                    s0 += theta[boff + o]
                    if o + 1 < n_out:
                        s1 += theta[boff + o + 1]
                    if o + 2 < n_out:
                        s2 += theta[boff + o + 2]
                    if o + 3 < n_out:
                        s3 += theta[boff + o + 3]
                Z[o, q] = s0
                if o + 1 < n_out:
                    Z[o + 1, q] = s1
                if o + 2 < n_out:
                    Z[o + 2, q] = s2
                if o + 3 < n_out:
                    Z[o + 3, q] = s3
        cuda.syncthreads()

    @cuda.jit(device=True)
    def product_t(theta, woff, n_out, n_in, Zb, Ab, sW, tid):
        """``Ab = W^T Zb``, ``W`` staged ``KB`` rows at a time in ``sW``."""
        units = ((n_in + R4 - 1) // R4) * Q
        for o0 in range(0, n_out, KB):
            kb = n_out - o0 if n_out - o0 < KB else KB
            cuda.syncthreads()
            for e in range(tid, kb * n_in, NT):
                oo = e // n_in
                i = e - oo * n_in
                sW[oo * WP + i] = theta[woff + (o0 + oo) * n_in + i]
            cuda.syncthreads()
            for u in range(tid, units, NT):
                ib = u // Q
                q = u - ib * Q
                i = R4 * ib
                s0 = 0.0
                s1 = 0.0
                s2 = 0.0
                s3 = 0.0
                for oo in range(kb):
                    z = Zb[o0 + oo, q]
                    r = oo * WP + i
                    s0 += sW[r] * z
                    s1 += sW[r + 1] * z
                    s2 += sW[r + 2] * z
                    s3 += sW[r + 3] * z
                if o0 > 0:
                    s0 += Ab[i, q]
                    if i + 1 < n_in:
                        s1 += Ab[i + 1, q]
                    if i + 2 < n_in:
                        s2 += Ab[i + 2, q]
                    if i + 3 < n_in:
                        s3 += Ab[i + 3, q]
                Ab[i, q] = s0
                if i + 1 < n_in:
                    Ab[i + 1, q] = s1
                if i + 2 < n_in:
                    Ab[i + 2, q] = s2
                if i + 3 < n_in:
                    Ab[i + 3, q] = s3
        cuda.syncthreads()

    @cuda.jit(device=True)
    def weight_grad(Zb, A, gb, woff, n_out, n_in, sW, tid):
        """``gb[woff + o n_in + i] += sum_q Zb[o, q] A[i, q]`` and the bias gradient
        ``gb[woff + n_out n_in + o] += sum_p Zb[o, p]``.

        ``QC`` columns of ``Zb`` and ``A`` at a time are staged in ``sW`` (column-major,
        read coalesced); each thread sums a register tile of 4 x 4 entries over them
        and adds it to the block's partial row, once per stage.
        """
        nib = (n_in + R4 - 1) // R4
        units = ((n_out + R4 - 1) // R4) * nib
        acc = cuda.local.array(16, float64)
        for q0 in range(0, Q, QC):
            qc = Q - q0 if Q - q0 < QC else QC
            cuda.syncthreads()
            for e in range(tid, n_out * qc, NT):
                o = e // qc
                qq = e - o * qc
                sW[qq * WP + o] = Zb[o, q0 + qq]
            for e in range(tid, n_in * qc, NT):
                i = e // qc
                qq = e - i * qc
                sW[SA + qq * WP + i] = A[i, q0 + qq]
            cuda.syncthreads()
            for u in range(tid, units, NT):
                ob = u // nib
                o = R4 * ob
                i = R4 * (u - ob * nib)
                for r in range(16):
                    acc[r] = 0.0
                for qq in range(qc):
                    rz = qq * WP + o
                    ra = SA + qq * WP + i
                    for r in range(4):
                        z = sW[rz + r]
                        for c in range(4):
                            acc[4 * r + c] += z * sW[ra + c]
                for r in range(4):
                    if o + r < n_out:
                        row = woff + (o + r) * n_in + i
                        for c in range(4):
                            if i + c < n_in:
                                gb[row + c] += acc[4 * r + c]
        boff = woff + n_out * n_in
        for o in range(tid, n_out, NT):
            s = 0.0
            for p in range(T):
                s += Zb[o, p]
            gb[boff + o] += s

    @cuda.jit(device=True)
    def activate_block(kind, Z, A, F, n, tid):
        for u in range(tid, n * T, NT):
            k = u // T
            p = u - k * T
            activate(
                kind,
                Z[k : k + 1, p::T],
                A[k : k + 1, p::T],
                F[:, k : k + 1, p : p + 1],
                1,
                d,
                NC,
                1,
            )
        cuda.syncthreads()

    @cuda.jit(device=True)
    def forward(theta, sizes, offsets, kind, X, start, nT, ZJ, AJ, F, U, sW, tid):
        n0 = sizes[1]
        for k in range(tid, n0, NT):
            input_layer(theta, offsets[0], n0, k, k + 1, d, X, start, nT, T, NC, ZJ[0])
        cuda.syncthreads()
        activate_block(kind, ZJ[0], AJ[0], F[0], n0, tid)
        for l in range(1, NL):
            n_out = sizes[l + 1]
            product(theta, offsets[l], n_out, sizes[l], AJ[l - 1], ZJ[l], sW, tid)
            activate_block(kind, ZJ[l], AJ[l], F[l], n_out, tid)
        product(theta, offsets[NL], NM, sizes[NL], AJ[NL - 1], U, sW, tid)

    @cuda.jit(device=True)
    def backward(theta, sizes, offsets, X, start, nT, ZJ, AJ, F, Ub, Zb, Ab, gb, sW, tid):
        weight_grad(Ub, AJ[NL - 1], gb, offsets[NL], NM, sizes[NL], sW, tid)
        product_t(theta, offsets[NL], NM, sizes[NL], Ub, Ab, sW, tid)
        for l in range(NL - 1, -1, -1):
            n_out = sizes[l + 1]
            for u in range(tid, n_out * T, NT):
                k = u // T
                p = u - k * T
                activate_reverse(
                    Ab[k : k + 1, p::T],
                    ZJ[l][k : k + 1, p::T],
                    F[l][:, k : k + 1, p : p + 1],
                    Zb[k : k + 1, p::T],
                    1,
                    d,
                    NC,
                    1,
                )
            cuda.syncthreads()
            if l > 0:
                weight_grad(Zb, AJ[l - 1], gb, offsets[l], n_out, sizes[l], sW, tid)
                product_t(theta, offsets[l], n_out, sizes[l], Zb, Ab, sW, tid)
            else:
                woff = offsets[0]
                n_in = X.shape[1]  # the first d inputs differentiated, the rest parameters
                for e in range(tid, n_out * n_in, NT):
                    k = e // n_in
                    i = e - k * n_in
                    s = 0.0
                    for p in range(nT):
                        s += Zb[k, p] * X[start + p, i]
                    if i < d:
                        ci = (1 + i) * T
                        for p in range(T):
                            s += Zb[k, ci + p]
                    gb[woff + e] += s
                boff = woff + n_out * n_in
                for k in range(tid, n_out, NT):
                    s = 0.0
                    for p in range(T):
                        s += Zb[k, p]
                    gb[boff + k] += s
                cuda.syncthreads()

    @cuda.jit
    def loss_grad_kernel(
        theta,
        sizes,
        offsets,
        kind,
        X,
        Cop,
        g,
        w,
        t0,
        t1,
        first,
        ZS,
        AS,
        FS,
        US,
        UBS,
        ZBS,
        ABS,
        gblk,
        lblk,
        R,
        want_r,
        J,
        want_j,
    ):
        b = cuda.blockIdx.x
        nb = cuda.gridDim.x
        tid = cuda.threadIdx.x
        sW = cuda.shared.array(SH, float64)
        sl = cuda.shared.array(T, float64)
        N = X.shape[0]
        gb = gblk[b]
        if first:
            for i in range(tid, gb.shape[0], NT):
                gb[i] = 0.0
            cuda.syncthreads()
        ZJ = ZS[b]
        AJ = AS[b]
        F = FS[b]
        U = US[b]
        Ub = UBS[b]
        Zb = ZBS[b]
        Ab = ABS[b]
        nt = t1 - t0
        acc = 0.0
        for t in range(t0 + (b * nt) // nb, t0 + ((b + 1) * nt) // nb):
            start = t * T
            nT = N - start if N - start < T else T
            forward(theta, sizes, offsets, kind, X, start, nT, ZJ, AJ, F, U, sW, tid)
            for p in range(tid, T, NT):
                if p < nT:
                    sl[p] = tile_residual(
                        U[:, p::T], Cop, g, w, start + p, 1, 1, NM, NC, Ub[:, p::T], R, want_r
                    )
                    if want_j:
                        copy_jets(U[:, p::T], J, start + p, 1, 1, NM, NC)
                else:
                    sl[p] = 0.0
                    for j in range(NM):
                        for c in range(NC):
                            Ub[j, c * T + p] = 0.0
            cuda.syncthreads()
            if tid == 0:
                for p in range(T):
                    acc += sl[p]
            backward(theta, sizes, offsets, X, start, nT, ZJ, AJ, F, Ub, Zb, Ab, gb, sW, tid)
        if tid == 0:
            if first:
                lblk[b] = acc
            else:
                lblk[b] += acc

    @cuda.jit
    def jets_kernel(theta, sizes, offsets, kind, X, t0, t1, ZS, AS, FS, US, J):
        b = cuda.blockIdx.x
        nb = cuda.gridDim.x
        tid = cuda.threadIdx.x
        sW = cuda.shared.array(SH, float64)
        N = X.shape[0]
        ZJ = ZS[b]
        AJ = AS[b]
        F = FS[b]
        U = US[b]
        nt = t1 - t0
        for t in range(t0 + (b * nt) // nb, t0 + ((b + 1) * nt) // nb):
            start = t * T
            nT = N - start if N - start < T else T
            forward(theta, sizes, offsets, kind, X, start, nT, ZJ, AJ, F, U, sW, tid)
            for p in range(tid, nT, NT):
                copy_jets(U[:, p::T], J, start + p, 1, 1, NM, NC)
            cuda.syncthreads()

    ks = types.SimpleNamespace(loss_grad=loss_grad_kernel, jets=jets_kernel)
    _cache[shape] = ks
    return ks


def reduce_kernel(cuda_mod):
    """Sum the first ``nb`` partial rows of ``gblk`` (n_blocks, P) into ``grad`` and
    of ``lblk`` into ``loss[0]``, each in increasing block order (deterministic)."""
    if "reduce" not in _cache:
        _bind(cuda_mod)

        @cuda.jit
        def reduce(gblk, lblk, nb, grad, loss):
            i = cuda.grid(1)
            P = grad.shape[0]
            if i < P:
                s = 0.0
                for b in range(nb):
                    s += gblk[b, i]
                grad[i] = s
            elif i == P:
                s = 0.0
                for b in range(nb):
                    s += lblk[b]
                loss[0] = s

        _cache["reduce"] = reduce
    return _cache["reduce"]


def jacobian_kernel(cuda_mod, pw, L: int, W: int, d: int, m: int, C: int | None = None):
    """The residual-Jacobian kernel for ``(L, W, d, m)`` on ``C`` jet channels (default
    all): one point per thread.

    Each thread runs the forward pass of its point and, for each of the ``K``
    residual rows, one reverse pass into its own row of ``Jac`` (no reduction, so
    no shared accumulator).  The rows are ``P`` doubles each and are written once:
    the kernel is bound by writing ``Jac``, which a tile layout would not change.
    """
    NC = n_channels(d) if C is None else C
    key = ("jac", L, W, d, m, NC)
    if key in _cache:
        return _cache[key]
    _bind(cuda_mod)
    from numba import float64

    tile_forward = pw.tile_forward
    tile_backward = pw.tile_backward
    copy_jets = pw.copy_jets
    residual_row = pw.residual_row
    NL, NW, NM = L, W, m

    @cuda.jit
    def jacobian(theta, sizes, offsets, kind, X, Cop, g, w, p0, p1, r, Jac, J, want_j):
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

    _cache[key] = jacobian
    return jacobian
