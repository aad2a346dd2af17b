"""CPU backend: the pointwise math compiled with ``numba.njit``, run in parallel
over tiles of points with ``prange``.

Reproducibility: the points are split into a fixed number of blocks (independent
of the number of threads), each block accumulates its own gradient, and the blocks
are summed in a fixed order, so a run gives the same bits whatever the thread count.
The threads take runs of consecutive blocks of equal numbers of tiles (blocks of
the last, smaller chunk of a group hold fewer tiles than the others).

Channels: the kernels propagate ``nc`` jet channels (an argument, see
:func:`channels`), all ``n_channels(d)`` of them or the value and the first
derivatives alone (``1 + d``, for coefficients without second derivatives, such as
the strain energy's): then the second-derivative channels and their activation terms
are skipped in the forward pass and their adjoints in the reverse pass; the other
channels come from the same arithmetic, so they have the same bits either way.  The
residuals still sum over all the coefficients' channels (those not propagated are
zero in the output jets): with re-association allowed, LLVM may vectorise that sum
according to its length (summed on 4 channels instead of 10, 3D residuals moved in
their last bit).

Speed switches (explicit, module level): :data:`FASTMATH` (the LLVM flags: only
re-association and contraction, which let the reductions vectorise; no
finite-math assumptions, so NaN checks stay meaningful), :data:`TILE` (points per
tile) and :data:`MAX_BLOCKS`.

Importing this module compiles nothing; the first call of a kernel loads it from
Numba's on-disk cache or, on the first run of an installation, compiles it (about
20 s), which is announced on standard error (:func:`announce_compile`).
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from . import layout
from .backend import Backend
from .compile import announce_compile, invalidate_stale_cache, retarget

__all__ = [
    "CPUBackend",
    "FASTMATH",
    "TILE",
    "MAX_BLOCKS",
    "SUM_SLICE",
    "channels",
    "loss_grad_chunks",
    "jets",
    "residual_jacobian",
]

FASTMATH = {"contract", "reassoc"}
TILE = 32
MAX_BLOCKS = 64
SUM_SLICE = 256
"""Parameters per work item of the final, ordered sum of the blocks' gradients."""

invalidate_stale_cache(__file__)
# error_model="numpy": a float division is not checked for a zero divisor (no
# exception path inside the loops over points, which then vectorise)
_pw = retarget(
    lambda f, inline: njit(
        f,
        cache=True,
        fastmath=FASTMATH,
        error_model="numpy",
        inline="always" if inline else "never",
    )
)
n_channels = _pw.n_channels
tile_forward = _pw.tile_forward
tile_residual = _pw.tile_residual
tile_backward = _pw.tile_backward
copy_jets = _pw.copy_jets
residual_row = _pw.residual_row


@njit(cache=True)
def _work_items(N, T, chunk, c0, nblk, nw):
    """The work items of :func:`_loss_grad_chunks` and their split over ``nw`` workers.

    Item ``it`` is block ``b`` of chunk ``i = ich[it]`` (``boff[i] <= it < boff[i+1]``):
    the tiles ``t0[it] <= t < t1[it]`` of that chunk, a partition that depends on the
    chunk's size only.  Worker ``k`` takes the consecutive items
    ``wstart[k] <= it < wstart[k+1]``, those whose middle tile lies in the ``k``-th
    ``1 / nw`` of all the tiles (so the workers get equal shares of tiles, not of
    items: the last chunk is usually smaller and its blocks hold fewer tiles).
    """
    nch = nblk.shape[0]
    boff = np.zeros(nch + 1, dtype=np.int64)
    for i in range(nch):
        boff[i + 1] = boff[i] + nblk[i]
    nitems = boff[nch]
    ich = np.empty(nitems, dtype=np.int64)
    t0 = np.empty(nitems, dtype=np.int64)
    t1 = np.empty(nitems, dtype=np.int64)
    for i in range(nch):
        p0 = (c0 + i) * chunk
        ntiles = (min(N, p0 + chunk) - p0 + T - 1) // T
        for b in range(nblk[i]):
            it = boff[i] + b
            ich[it] = i
            t0[it] = (b * ntiles) // nblk[i]
            t1[it] = ((b + 1) * ntiles) // nblk[i]
    total = 0
    for it in range(nitems):
        total += t1[it] - t0[it]
    wstart = np.full(nw + 1, nitems, dtype=np.int64)
    wstart[0] = 0
    k = 1
    run = 0
    for it in range(nitems):
        # an item goes to the worker whose share holds the item's middle tile
        while k < nw and (2 * run + t1[it] - t0[it]) * nw >= 2 * k * total:
            wstart[k] = it
            k += 1
        run += t1[it] - t0[it]
    return boff, ich, t0, t1, wstart


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def _loss_grad_chunks(
    theta, sizes, offsets, kind, X, d, Cop, g, w, T, C, chunk, c0,
    boff, ich, it0, it1, wstart, gout, lout, R, want_r, J, want_j,
):  # fmt: skip
    """Chunks ``c0 + i`` (``i < gout.shape[0]``) in one parallel region, the jets on
    ``C`` channels.  Work item ``it`` (block ``it - boff[i]`` of chunk ``i = ich[it]``,
    the chunk's tiles ``it0[it] <= t < it1[it]``) accumulates its own gradient row; the
    workers take the runs of items of :func:`_work_items`; then each chunk's blocks
    are summed in order into ``lout[i]`` and ``gout[i]``.  No result depends on the
    number of workers.

    The residuals are summed over all the ``NC`` channels of ``Cop``, those not
    propagated (``C <= c < NC``) zero in the output jets ``U``: the same sum, with the
    same association (LLVM vectorises it by its length), as on all the channels.
    The jets differentiate the first ``d`` columns of ``X``."""
    N = X.shape[0]
    L = sizes.shape[0] - 2
    m = sizes[L + 1]
    P = theta.shape[0]
    nch = gout.shape[0]
    NC = Cop.shape[3]
    wmax = 1
    for l in range(1, L + 1):
        wmax = max(wmax, sizes[l])
    nitems = boff[nch]
    gblk = np.empty((nitems, P))
    lblk = np.empty(nitems)
    for wk in prange(wstart.shape[0] - 1):
        ZJ = np.empty((L, wmax, C * T))
        AJ = np.empty((L, wmax, C * T))
        F = np.empty((L, 3, wmax, T))
        U = np.zeros((m, NC * T))
        Ub = np.empty((m, NC * T))
        Zb = np.empty((wmax, C * T))
        Ab = np.empty((wmax, C * T))
        for it in range(wstart[wk], wstart[wk + 1]):
            p0 = (c0 + ich[it]) * chunk
            p1 = min(N, p0 + chunk)
            gb = gblk[it]
            gb[:] = 0.0
            acc = 0.0
            for t in range(it0[it], it1[it]):
                start = p0 + t * T
                nT = min(T, p1 - start)
                tile_forward(theta, sizes, offsets, kind, X, start, nT, T, d, C, ZJ, AJ, F, U)
                acc += tile_residual(U, Cop, g, w, start, nT, T, m, NC, Ub, R, want_r)
                if want_j:
                    copy_jets(U, J, start, nT, T, m, C)
                tile_backward(
                    theta, sizes, offsets, X, start, nT, T, d, C, ZJ, AJ, F, Ub, Zb, Ab, gb
                )
            lblk[it] = acc
    for i in range(nch):
        s = 0.0
        for b in range(boff[i], boff[i + 1]):
            s += lblk[b]
        lout[i] = s
    # each chunk's gradient entry summed over its blocks in order, in parallel over
    # slices of the parameters
    for ks in prange((P + SUM_SLICE - 1) // SUM_SLICE):
        for i in range(nch):
            gi = gout[i]
            for k in range(ks * SUM_SLICE, min(P, (ks + 1) * SUM_SLICE)):
                s = 0.0
                for b in range(boff[i], boff[i + 1]):
                    s += gblk[b, k]
                gi[k] = s


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def _jets(theta, sizes, offsets, kind, X, d, T, C, J):
    N = X.shape[0]
    L = sizes.shape[0] - 2
    m = sizes[L + 1]
    wmax = 1
    for l in range(1, L + 1):
        wmax = max(wmax, sizes[l])
    ntiles = (N + T - 1) // T
    nblk = min(ntiles, 4 * MAX_BLOCKS)
    for b in prange(nblk):
        t0 = (b * ntiles) // nblk
        t1 = ((b + 1) * ntiles) // nblk
        ZJ = np.empty((L, wmax, C * T))
        AJ = np.empty((L, wmax, C * T))
        F = np.empty((L, 3, wmax, T))
        U = np.empty((m, C * T))
        for t in range(t0, t1):
            start = t * T
            nT = min(T, N - start)
            tile_forward(theta, sizes, offsets, kind, X, start, nT, T, d, C, ZJ, AJ, F, U)
            copy_jets(U, J, start, nT, T, m, C)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def _residual_jacobian(theta, sizes, offsets, kind, X, d, Cop, g, w, C, p0, p1, r, Jac, J, want_j):
    L = sizes.shape[0] - 2
    m = sizes[L + 1]
    K = g.shape[1]
    NC = Cop.shape[3]
    wmax = 1
    for l in range(1, L + 1):
        wmax = max(wmax, sizes[l])
    n = p1 - p0
    nblk = min(n, 4 * MAX_BLOCKS)
    for b in prange(nblk):
        q0 = p0 + (b * n) // nblk
        q1 = p0 + ((b + 1) * n) // nblk
        ZJ = np.empty((L, wmax, C))
        AJ = np.empty((L, wmax, C))
        F = np.empty((L, 3, wmax, 1))
        U = np.zeros((m, NC))
        Ub = np.empty((m, NC))
        Zb = np.empty((wmax, C))
        Ab = np.empty((wmax, C))
        for pt in range(q0, q1):
            tile_forward(theta, sizes, offsets, kind, X, pt, 1, 1, d, C, ZJ, AJ, F, U)
            if want_j:
                copy_jets(U, J, pt - p0, 1, 1, m, C)
            for k in range(K):
                row = (pt - p0) * K + k
                r[row] = residual_row(U, Cop, g, w, pt, k, m, NC, Ub)
                jr = Jac[row]
                jr[:] = 0.0
                tile_backward(theta, sizes, offsets, X, pt, 1, 1, d, C, ZJ, AJ, F, Ub, Zb, Ab, jr)


def channels(d: int, nc: int | None) -> int:
    """The number of jet channels the kernels propagate for input dimension ``d``:
    ``n_channels(d)`` (all, the default for ``None``) or ``1 + d`` (the value and the
    first derivatives alone, for coefficients that are zero on every second-derivative
    channel: the caller's promise, not checked here)."""
    full = layout.n_channels(d)
    if nc is None:
        return full
    if nc not in (full, 1 + d):
        raise ValueError(
            f"{nc} jet channels for {d}-D inputs: the kernels propagate {full} (all) "
            f"or {1 + d} (value and first derivatives)"
        )
    return int(nc)


def loss_grad_chunks(
    theta, sizes, offsets, kind, X, Cop, g, w, chunk, c0, c1, grads, R=None, J=None, nc=None,
    dims=None,
) -> np.ndarray:  # fmt: skip
    """Losses ``(c1 - c0,)`` and gradients ``grads (c1 - c0, P)`` of the chunks
    ``c0 <= c < c1`` of ``chunk`` points (see :meth:`Backend.loss_grad_chunks`), in one
    parallel region; each chunk is split into blocks by its own size only.  The jets
    differentiate the first ``dims`` columns of ``X`` (default all) and propagate
    ``nc`` channels (:func:`channels`); ``J`` (N, m, nc)."""
    N = X.shape[0]
    K = g.shape[1]
    m = int(sizes[-1])
    d = X.shape[1] if dims is None else int(dims)
    C = channels(d, nc)
    n = c1 - c0
    nblk = np.empty(n, dtype=np.int64)
    for i in range(n):
        npts = min(N, (c0 + i + 1) * chunk) - (c0 + i) * chunk
        nblk[i] = min(max(1, -(-npts // TILE)), MAX_BLOCKS)
    want_r = R is not None
    want_j = J is not None
    if R is None:
        R = np.empty((0, K))
    if J is None:
        J = np.empty((0, m, C))
    lout = np.empty(n)
    if n > 0:
        boff, ich, t0, t1, wstart = _work_items(N, TILE, chunk, c0, nblk, get_num_threads())
        _loss_grad_chunks(
            theta, sizes, offsets, kind, X, d, Cop, g, w, TILE, C, chunk, c0, boff, ich, t0,
            t1, wstart, grads[:n], lout, R, want_r, J, want_j,
        )  # fmt: skip
    return lout


def jets(theta, sizes, offsets, kind, X, J, dims=None) -> None:
    """Output jets ``J`` (N, m, nc) of the network at the points ``X`` (N, n_in), in
    the first ``dims`` inputs (default all), on the ``nc`` channels of ``J``
    (:func:`channels`)."""
    d = X.shape[1] if dims is None else int(dims)
    C = channels(d, J.shape[2])
    _jets(theta, sizes, offsets, kind, X, d, TILE, C, J)


def residual_jacobian(
    theta, sizes, offsets, kind, X, Cop, g, w, p0, p1, r, Jac, J=None, nc=None, dims=None
) -> None:
    """Scaled residuals and their Jacobian at the points ``p0 <= p < p1``.

    Row ``(p - p0) K + k`` of ``r`` (n K,) and of ``Jac`` (n K, P) receive
    ``sqrt(w_p) r_k(p)`` and its gradient in the parameters; ``J`` (n, m, nc), when
    given, the output jets on ``nc`` channels (:func:`channels`).  One reverse pass
    per row from a one-point tile, rows written independently (no reduction: the same
    bits for any thread count).  The jets differentiate the first ``dims`` columns of
    ``X`` (default all).
    """
    m = int(sizes[-1])
    d = X.shape[1] if dims is None else int(dims)
    C = channels(d, nc)
    want_j = J is not None
    if J is None:
        J = np.empty((0, m, C))
    if p1 > p0:
        _residual_jacobian(
            theta, sizes, offsets, kind, X, d, Cop, g, w, C, p0, p1, r, Jac, J, want_j
        )


announce_compile([_loss_grad_chunks])  # the kernel every loss evaluation runs


class CPUBackend(Backend):
    """Numba CPU threads (the kernels of this module); arrays stay on the host."""

    name = "cpu"
    split_chunks = True

    def asarray(self, a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float64)

    def asarray_int(self, a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.int64)

    def to_host(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a)

    def loss_grad_chunks(self, net, X, C, g, w, chunk, c0, c1, grads, R=None, J=None, nc=None):
        return loss_grad_chunks(
            net.theta, net.sizes, net.offsets, net.kind, X, C, g, w, chunk, c0, c1, grads, R, J,
            nc, net.dims,
        )  # fmt: skip

    def jets(self, net, X, J) -> None:
        jets(net.theta, net.sizes, net.offsets, net.kind, X, J, net.dims)

    def residual_jacobian(self, net, X, C, g, w, p0, p1, r, Jac, J=None, nc=None) -> None:
        residual_jacobian(
            net.theta, net.sizes, net.offsets, net.kind, X, C, g, w, p0, p1, r, Jac, J, nc,
            net.dims,
        )  # fmt: skip
