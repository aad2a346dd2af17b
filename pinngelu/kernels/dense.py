"""Dense symmetric-matrix kernels for the quasi-Newton optimisers.

The inverse-Hessian approximation of a dense quasi-Newton method is an ``(n, n)``
array of ``8 n^2`` bytes that every iteration multiplies once and updates once: both
passes are memory-bound.  These kernels do each in one pass, in place, parallel over
rows; every entry is computed by one fixed sequence of operations, so the result does
not depend on the number of threads (unlike a threaded BLAS ``gemv``).
"""

from __future__ import annotations

from numba import njit, prange

__all__ = ["symv", "sym_update"]

FASTMATH = {"contract", "reassoc"}
"""LLVM flags, as for the CPU network kernels: fused multiply-adds and vectorised sums."""


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def symv(H, x, out):
    """``out = H @ x`` for a square ``H`` (n, n) and ``x`` (n,); row sums in order."""
    n = x.shape[0]
    for i in prange(n):
        s = 0.0
        for j in range(n):
            s += H[i, j] * x[j]
        out[i] = s


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def sym_update(H, scale, s, u, m_ss, m_su, m_uu):
    """In place: ``H = scale H + [s u] M [s u]^T`` with ``M = [[m_ss, m_su], [m_su, m_uu]]``.

    That is ``scale H + m_ss s s^T + m_su (s u^T + u s^T) + m_uu u u^T``: every
    symmetric rank-two update of the Broyden family, in one pass over ``H``.
    """
    n = s.shape[0]
    for i in prange(n):
        a = m_ss * s[i] + m_su * u[i]
        b = m_su * s[i] + m_uu * u[i]
        for j in range(n):
            H[i, j] = scale * H[i, j] + a * s[j] + b * u[j]
