"""Target-independent math of the jet recursion, on tiles of points.

Everything here is plain Python on scalars and arrays, with no decorator.  The
backends compile these functions for their target (:mod:`pinngelu.kernels.cpu` with
``numba.njit``, :mod:`pinngelu.kernels.cuda` with ``numba.cuda.jit(device=True)``)
by :func:`pinngelu.kernels.compile.retarget`, which rebinds the names the functions
call to their compiled versions.  Nothing in this file allocates.

Storage conventions
-------------------
A *tile* holds ``T`` points.  The jets of ``n`` neurons on a tile are a 2D array
``(n, C * T)``: row ``k`` is neuron ``k``, column ``c * T + p`` is channel ``c`` of
tile point ``p``.  Channels (defined in :mod:`pinngelu.kernels.layout`): 0 the
value, ``1 .. d`` the first derivatives, ``1 + d ..`` the distinct second
derivatives ``(i, j), i <= j`` in row-major order (2D:
``[u, u_x, u_y, u_xx, u_xy, u_yy]``).  The recursion propagates ``C`` channels: all
of them, or the first ``1 + d`` (value and first derivatives, for operators without
second derivatives), which skips the second-derivative terms; the channels kept are
computed by the same arithmetic either way.

Parameters live in one flat vector ``theta``; layer ``l`` starts at ``offsets[l]``
with ``W`` of shape ``(sizes[l+1], sizes[l])`` row-major, then the bias.
"""

# ruff: noqa: F821  (names resolved by the compiling backend)

from ..activations import GELU, _gelu, act_derivs  # noqa: F401  (rebound by the backends)
from .layout import n_channels  # noqa: F401  (compiled with the functions below)


def gemm_nn(theta, woff, n_out, n_in, A, Z, Q):
    """``Z[o, :Q] = W @ A[:n_in, :Q]`` with ``W = theta[woff:]`` of shape (n_out, n_in).

    Blocked over four output rows and four inputs so that each loaded column of
    ``A`` feeds sixteen multiply-adds.
    """
    o4 = n_out - n_out % 4
    i4 = n_in - n_in % 4
    for o in range(0, o4, 4):
        r0 = woff + o * n_in
        r1 = r0 + n_in
        r2 = r1 + n_in
        r3 = r2 + n_in
        for q in range(Q):
            Z[o, q] = 0.0
            Z[o + 1, q] = 0.0
            Z[o + 2, q] = 0.0
            Z[o + 3, q] = 0.0
        for i in range(0, i4, 4):
            w00 = theta[r0 + i]
            w01 = theta[r0 + i + 1]
            w02 = theta[r0 + i + 2]
            w03 = theta[r0 + i + 3]
            w10 = theta[r1 + i]
            w11 = theta[r1 + i + 1]
            w12 = theta[r1 + i + 2]
            w13 = theta[r1 + i + 3]
            w20 = theta[r2 + i]
            w21 = theta[r2 + i + 1]
            w22 = theta[r2 + i + 2]
            w23 = theta[r2 + i + 3]
            w30 = theta[r3 + i]
            w31 = theta[r3 + i + 1]
            w32 = theta[r3 + i + 2]
            w33 = theta[r3 + i + 3]
            for q in range(Q):
                a0 = A[i, q]
                a1 = A[i + 1, q]
                a2 = A[i + 2, q]
                a3 = A[i + 3, q]
                Z[o, q] += w00 * a0 + w01 * a1 + w02 * a2 + w03 * a3
                Z[o + 1, q] += w10 * a0 + w11 * a1 + w12 * a2 + w13 * a3
                Z[o + 2, q] += w20 * a0 + w21 * a1 + w22 * a2 + w23 * a3
                Z[o + 3, q] += w30 * a0 + w31 * a1 + w32 * a2 + w33 * a3
        for i in range(i4, n_in):
            w00 = theta[r0 + i]
            w10 = theta[r1 + i]
            w20 = theta[r2 + i]
            w30 = theta[r3 + i]
            for q in range(Q):
                a0 = A[i, q]
                Z[o, q] += w00 * a0
                Z[o + 1, q] += w10 * a0
                Z[o + 2, q] += w20 * a0
                Z[o + 3, q] += w30 * a0
    for o in range(o4, n_out):
        r0 = woff + o * n_in
        for q in range(Q):
            Z[o, q] = 0.0
        for i in range(n_in):
            w00 = theta[r0 + i]
            for q in range(Q):
                Z[o, q] += w00 * A[i, q]


def gemm_tn(theta, woff, n_out, n_in, Zb, Ab, Q):
    """``Ab[i, :Q] = (W^T @ Zb)[i, :Q]`` with ``W = theta[woff:]`` of shape (n_out, n_in).

    Blocked over four rows of ``Ab`` and four rows of ``Zb``.
    """
    i4 = n_in - n_in % 4
    o4 = n_out - n_out % 4
    for i in range(0, i4, 4):
        for q in range(Q):
            Ab[i, q] = 0.0
            Ab[i + 1, q] = 0.0
            Ab[i + 2, q] = 0.0
            Ab[i + 3, q] = 0.0
        for o in range(0, o4, 4):
            r0 = woff + o * n_in + i
            r1 = r0 + n_in
            r2 = r1 + n_in
            r3 = r2 + n_in
            w00 = theta[r0]
            w01 = theta[r1]
            w02 = theta[r2]
            w03 = theta[r3]
            w10 = theta[r0 + 1]
            w11 = theta[r1 + 1]
            w12 = theta[r2 + 1]
            w13 = theta[r3 + 1]
            w20 = theta[r0 + 2]
            w21 = theta[r1 + 2]
            w22 = theta[r2 + 2]
            w23 = theta[r3 + 2]
            w30 = theta[r0 + 3]
            w31 = theta[r1 + 3]
            w32 = theta[r2 + 3]
            w33 = theta[r3 + 3]
            for q in range(Q):
                z0 = Zb[o, q]
                z1 = Zb[o + 1, q]
                z2 = Zb[o + 2, q]
                z3 = Zb[o + 3, q]
                Ab[i, q] += w00 * z0 + w01 * z1 + w02 * z2 + w03 * z3
                Ab[i + 1, q] += w10 * z0 + w11 * z1 + w12 * z2 + w13 * z3
                Ab[i + 2, q] += w20 * z0 + w21 * z1 + w22 * z2 + w23 * z3
                Ab[i + 3, q] += w30 * z0 + w31 * z1 + w32 * z2 + w33 * z3
        for o in range(o4, n_out):
            r0 = woff + o * n_in + i
            w00 = theta[r0]
            w10 = theta[r0 + 1]
            w20 = theta[r0 + 2]
            w30 = theta[r0 + 3]
            for q in range(Q):
                z0 = Zb[o, q]
                Ab[i, q] += w00 * z0
                Ab[i + 1, q] += w10 * z0
                Ab[i + 2, q] += w20 * z0
                Ab[i + 3, q] += w30 * z0
    for i in range(i4, n_in):
        for q in range(Q):
            Ab[i, q] = 0.0
        for o in range(n_out):
            w00 = theta[woff + o * n_in + i]
            for q in range(Q):
                Ab[i, q] += w00 * Zb[o, q]


def gemm_nt_acc(Zb, A, grad, woff, n_out, n_in, Q):
    """``grad[woff + o * n_in + i] += sum_q Zb[o, q] A[i, q]`` (weight gradient).

    Blocked over four rows of ``Zb`` and four rows of ``A``: sixteen running sums,
    each loaded column pair feeding sixteen multiply-adds.
    """
    o4 = n_out - n_out % 4
    i4 = n_in - n_in % 4
    for o in range(0, o4, 4):
        r0 = woff + o * n_in
        r1 = r0 + n_in
        r2 = r1 + n_in
        r3 = r2 + n_in
        for i in range(0, i4, 4):
            s00 = 0.0
            s01 = 0.0
            s02 = 0.0
            s03 = 0.0
            s10 = 0.0
            s11 = 0.0
            s12 = 0.0
            s13 = 0.0
            s20 = 0.0
            s21 = 0.0
            s22 = 0.0
            s23 = 0.0
            s30 = 0.0
            s31 = 0.0
            s32 = 0.0
            s33 = 0.0
            for q in range(Q):
                a0 = A[i, q]
                a1 = A[i + 1, q]
                a2 = A[i + 2, q]
                a3 = A[i + 3, q]
                z0 = Zb[o, q]
                z1 = Zb[o + 1, q]
                z2 = Zb[o + 2, q]
                z3 = Zb[o + 3, q]
                s00 += z0 * a0
                s01 += z0 * a1
                s02 += z0 * a2
                s03 += z0 * a3
                s10 += z1 * a0
                s11 += z1 * a1
                s12 += z1 * a2
                s13 += z1 * a3
                s20 += z2 * a0
                s21 += z2 * a1
                s22 += z2 * a2
                s23 += z2 * a3
                s30 += z3 * a0
                s31 += z3 * a1
                s32 += z3 * a2
                s33 += z3 * a3
            grad[r0 + i] += s00
            grad[r0 + i + 1] += s01
            grad[r0 + i + 2] += s02
            grad[r0 + i + 3] += s03
            grad[r1 + i] += s10
            grad[r1 + i + 1] += s11
            grad[r1 + i + 2] += s12
            grad[r1 + i + 3] += s13
            grad[r2 + i] += s20
            grad[r2 + i + 1] += s21
            grad[r2 + i + 2] += s22
            grad[r2 + i + 3] += s23
            grad[r3 + i] += s30
            grad[r3 + i + 1] += s31
            grad[r3 + i + 2] += s32
            grad[r3 + i + 3] += s33
        for i in range(i4, n_in):
            s00 = 0.0
            s10 = 0.0
            s20 = 0.0
            s30 = 0.0
            for q in range(Q):
                a0 = A[i, q]
                s00 += Zb[o, q] * a0
                s10 += Zb[o + 1, q] * a0
                s20 += Zb[o + 2, q] * a0
                s30 += Zb[o + 3, q] * a0
            grad[r0 + i] += s00
            grad[r1 + i] += s10
            grad[r2 + i] += s20
            grad[r3 + i] += s30
    for o in range(o4, n_out):
        for i in range(n_in):
            s00 = 0.0
            for q in range(Q):
                s00 += Zb[o, q] * A[i, q]
            grad[woff + o * n_in + i] += s00


def activate(kind, Z, A, F, n, d, C, T):
    """Jets of ``a = phi(z)`` from the jets of ``z`` for ``n`` neurons of a tile.

    ``C`` is the number of channels propagated: all of them (``n_channels(d)``) or
    the value and the first derivatives alone (``1 + d``: the second-derivative terms
    are skipped, the other channels computed by the same arithmetic).
    ``F[0..2, k, p]`` receive ``phi', phi'', phi'''`` at the value channel (for the
    reverse pass).
    """
    for k in range(n):
        if kind == GELU:  # its own loop: no library call in it, so it vectorises
            for p in range(T):
                f0, f1, f2, f3 = _gelu(Z[k, p])
                A[k, p] = f0
                F[0, k, p] = f1
                F[1, k, p] = f2
                F[2, k, p] = f3
        else:
            for p in range(T):
                f0, f1, f2, f3 = act_derivs(kind, Z[k, p])
                A[k, p] = f0
                F[0, k, p] = f1
                F[1, k, p] = f2
                F[2, k, p] = f3
        for i in range(d):
            ci = (1 + i) * T
            for p in range(T):
                A[k, ci + p] = F[0, k, p] * Z[k, ci + p]
        if C > 1 + d:
            s = 1 + d
            for i in range(d):
                ci = (1 + i) * T
                for j in range(i, d):
                    cj = (1 + j) * T
                    cs = s * T
                    for p in range(T):
                        A[k, cs + p] = (
                            F[1, k, p] * Z[k, ci + p] * Z[k, cj + p] + F[0, k, p] * Z[k, cs + p]
                        )
                    s += 1


def activate_reverse(Ab, Z, F, Zb, n, d, C, T):
    """Adjoint of :func:`activate`: jets-adjoint of ``z`` from that of ``a``, on the
    ``C`` channels propagated (with ``C = 1 + d`` there are no ``ddabar`` terms).

    With ``f1, f2, f3`` the first three derivatives of phi at the value channel::

        zbar      = f1 abar + f2 sum_i dabar_i dz_i + sum_s ddabar_s (f3 dz_i dz_j + f2 ddz_s)
        dzbar_i   = f1 dabar_i + f2 sum_s ddabar_s d(dz_i dz_j)/d(dz_i)
        ddzbar_s  = f1 ddabar_s

    for the stored pairs ``s = (i, j), i <= j``.
    """
    for k in range(n):
        for p in range(T):
            Zb[k, p] = F[0, k, p] * Ab[k, p]
        for i in range(d):
            ci = (1 + i) * T
            for p in range(T):
                Zb[k, p] += F[1, k, p] * Ab[k, ci + p] * Z[k, ci + p]
                Zb[k, ci + p] = F[0, k, p] * Ab[k, ci + p]
        if C > 1 + d:
            s = 1 + d
            for i in range(d):
                ci = (1 + i) * T
                for j in range(i, d):
                    cj = (1 + j) * T
                    cs = s * T
                    for p in range(T):
                        ab = Ab[k, cs + p]
                        zi = Z[k, ci + p]
                        zj = Z[k, cj + p]
                        Zb[k, p] += ab * (F[2, k, p] * zi * zj + F[1, k, p] * Z[k, cs + p])
                        Zb[k, cs + p] = F[0, k, p] * ab
                        # d(dz_i dz_j)/d dz_i = dz_j, d/d dz_j = dz_i (together 2 dz_i if i == j)
                        Zb[k, ci + p] += F[1, k, p] * ab * zj
                        Zb[k, cj + p] += F[1, k, p] * ab * zi
                    s += 1


def input_layer(theta, o0, n0, k0, k1, d, X, start, nT, T, C, Z0):
    """Pre-activation jets of the first-layer neurons ``k0 <= k < k1`` on a tile.

    ``z = W x + b`` with ``W`` (n0, n_in) at ``theta[o0:]``, ``n_in = X.shape[1]``:
    the value channel holds ``z``, first-derivative channel ``i < d`` holds
    ``W[k, i]`` (the inputs ``d <= i < n_in`` are parameters, not differentiated),
    the second-derivative channels are zero.  Padding points (``p >= nT``) get the
    bias.
    """
    n_in = X.shape[1]
    for k in range(k0, k1):
        b = theta[o0 + n0 * n_in + k]
        for p in range(T):
            s = b
            if p < nT:
                for i in range(n_in):
                    s += theta[o0 + k * n_in + i] * X[start + p, i]
            Z0[k, p] = s
        for i in range(d):
            w = theta[o0 + k * n_in + i]
            for p in range(T):
                Z0[k, (1 + i) * T + p] = w
        for p in range((1 + d) * T, C * T):
            Z0[k, p] = 0.0


def tile_forward(theta, sizes, offsets, kind, X, start, nT, T, d, C, ZJ, AJ, F, U):
    """Forward jet recursion for the tile ``X[start:start + nT]`` (padded to ``T``), on
    the first ``C`` channels.

    ``ZJ[l], AJ[l]`` receive the pre- and post-activation jets of hidden layer ``l``,
    ``F[l]`` the activation derivatives, ``U`` the output jets ``(m, C * T)``.
    """
    L = sizes.shape[0] - 2
    n0 = sizes[1]
    Z0 = ZJ[0]
    input_layer(theta, offsets[0], n0, 0, n0, d, X, start, nT, T, C, Z0)
    activate(kind, Z0, AJ[0], F[0], n0, d, C, T)
    Q = C * T
    for l in range(1, L):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        Zl = ZJ[l]
        gemm_nn(theta, offsets[l], n_out, n_in, AJ[l - 1], Zl, Q)
        boff = offsets[l] + n_out * n_in
        for k in range(n_out):
            b = theta[boff + k]
            for p in range(T):
                Zl[k, p] += b
        activate(kind, Zl, AJ[l], F[l], n_out, d, C, T)
    n_in = sizes[L]
    m = sizes[L + 1]
    gemm_nn(theta, offsets[L], m, n_in, AJ[L - 1], U, Q)
    boff = offsets[L] + m * n_in
    for j in range(m):
        b = theta[boff + j]
        for p in range(T):
            U[j, p] += b


def tile_residual(U, Cop, g, w, start, nT, T, m, C, Ub, R, want_r):
    """Residuals ``r_k = sum_jc Cop[k, j, c] U[j, c] - g[k]`` on a tile.

    Returns the tile's share ``sum_p w_p sum_k r_k^2`` of the loss and writes its
    adjoint in the output jets into ``Ub``.  ``Cop`` and ``w`` broadcast when their
    leading dimension is 1.
    """
    K = g.shape[1]
    loss = 0.0
    for j in range(m):
        for q in range(C * T):
            Ub[j, q] = 0.0
    for p in range(nT):
        n = start + p
        cp = n if Cop.shape[0] > 1 else 0
        wp = w[n] if w.shape[0] > 1 else w[0]
        for k in range(K):
            r = -g[n, k]
            for j in range(m):
                for c in range(C):
                    r += Cop[cp, k, j, c] * U[j, c * T + p]
            if want_r:
                R[n, k] = r
            loss += wp * r * r
            rr = 2.0 * wp * r
            for j in range(m):
                for c in range(C):
                    Ub[j, c * T + p] += rr * Cop[cp, k, j, c]
    return loss


def residual_row(U, Cop, g, w, n, k, m, C, Ub):
    """Row ``k`` of the residual at point ``n`` of a one-point tile, scaled by
    ``sqrt(w_n)``, and its adjoint ``Ub = sqrt(w_n) Cop[n, k]`` in the output jets.

    Returns ``sqrt(w_n) (sum_jc Cop[n, k, j, c] U[j, c] - g[n, k])``: a row of the
    residual vector whose squared norm is the loss.  The reverse pass run from
    ``Ub`` gives that row of the residual Jacobian.
    """
    cp = n if Cop.shape[0] > 1 else 0
    sw = (w[n] if w.shape[0] > 1 else w[0]) ** 0.5
    r = -g[n, k]
    for j in range(m):
        for c in range(C):
            r += Cop[cp, k, j, c] * U[j, c]
            Ub[j, c] = sw * Cop[cp, k, j, c]
    return sw * r


def tile_backward(theta, sizes, offsets, X, start, nT, T, d, C, ZJ, AJ, F, Ub, Zb, Ab, grad):
    """Reverse pass on a tile, on the first ``C`` channels: accumulate the parameter
    gradient into ``grad``."""
    L = sizes.shape[0] - 2
    Q = C * T
    m = sizes[L + 1]
    n_in = sizes[L]
    woff = offsets[L]
    gemm_nt_acc(Ub, AJ[L - 1], grad, woff, m, n_in, Q)
    for j in range(m):
        s = 0.0
        for p in range(T):
            s += Ub[j, p]
        grad[woff + m * n_in + j] += s
    gemm_tn(theta, woff, m, n_in, Ub, Ab, Q)
    for l in range(L - 1, -1, -1):
        n_out = sizes[l + 1]
        n_in = sizes[l]
        woff = offsets[l]
        activate_reverse(Ab, ZJ[l], F[l], Zb, n_out, d, C, T)
        for k in range(n_out):
            s = 0.0
            for p in range(T):
                s += Zb[k, p]
            grad[woff + n_out * n_in + k] += s
        if l > 0:
            gemm_nt_acc(Zb, AJ[l - 1], grad, woff, n_out, n_in, Q)
            gemm_tn(theta, woff, n_out, n_in, Zb, Ab, Q)
        else:  # n_in = X.shape[1] inputs, the first d of them differentiated
            for k in range(n_out):
                for i in range(n_in):
                    s = 0.0
                    for p in range(nT):
                        s += Zb[k, p] * X[start + p, i]
                    if i < d:
                        ci = (1 + i) * T
                        for p in range(T):
                            s += Zb[k, ci + p]
                    grad[woff + k * n_in + i] += s


def copy_jets(U, J, start, nT, T, m, C):
    """Write the output jets of a tile into ``J[start:start + nT]`` of shape (N, m, C)."""
    for p in range(nT):
        for j in range(m):
            for c in range(C):
                J[start + p, j, c] = U[j, c * T + p]


POINTWISE = (
    "act_derivs",
    "n_channels",
    "gemm_nn",
    "gemm_tn",
    "gemm_nt_acc",
    "activate",
    "activate_reverse",
    "input_layer",
    "tile_forward",
    "tile_residual",
    "residual_row",
    "tile_backward",
    "copy_jets",
)
