"""Dense symmetric-matrix kernels for the quasi-Newton optimisers.

The inverse-Hessian approximation of a dense quasi-Newton method is an ``(n, n)``
array of ``8 n^2`` bytes that every iteration multiplies once and updates once: both
passes are memory-bound.  These kernels do each in one pass, in place, parallel over
rows; every entry is computed by one fixed sequence of operations, so the result does
not depend on the number of threads (unlike a threaded BLAS ``gemv``), nor on how the
rows are split over MPI ranks (each rank may hold a block of rows).
"""

from __future__ import annotations

from numba import njit, prange

__all__ = ["symv", "sym_update"]

FASTMATH = {"contract", "reassoc"}
"""LLVM flags, as for the CPU network kernels: fused multiply-adds and vectorised sums."""


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def symv(H, x, out):
    """``out = H @ x`` for rows ``H`` (k, n) of a square matrix and ``x`` (n,), ``out``
    (k,); row sums in order (a row's sum does not depend on the rows beside it)."""
    n = x.shape[0]
    for i in prange(H.shape[0]):
        s = 0.0
        for j in range(n):
            s += H[i, j] * x[j]
        out[i] = s


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def sym_update(H, scale, s, u, m_ss, m_su, m_uu, r0=0):
    """In place: ``H = scale H + [s u] M [s u]^T`` with ``M = [[m_ss, m_su], [m_su, m_uu]]``.

    That is ``scale H + m_ss s s^T + m_su (s u^T + u s^T) + m_uu u u^T``: every
    symmetric rank-two update of the Broyden family, in one pass over ``H``.  ``H``
    (k, n) holds the rows ``r0 <= i < r0 + k`` of the matrix (all of it by default);
    each entry is computed as in the whole matrix.
    """
    n = s.shape[0]
    for i in prange(H.shape[0]):
        a = m_ss * s[r0 + i] + m_su * u[r0 + i]
        b = m_su * s[r0 + i] + m_uu * u[r0 + i]
        for j in range(n):
            H[i, j] = scale * H[i, j] + a * s[j] + b * u[j]
