"""The interface every compute backend implements, and the network data it takes.

A backend offers

- ``asarray(a)``: put a float64 array where the kernels read it (host memory for
  the CPU, device memory for CUDA); ``asarray_int`` likewise for int64 arrays;
- ``to_host(a)``: the inverse of ``asarray``;
- ``net_arrays(mlp, theta) -> NetArrays``: upload the parameters and layout;
- ``loss_grad_chunks(net_arrays, X, C, g, w, chunk, c0, c1, grads, R=None, J=None,
  nc=None)``: the fused residual loss ``sum_p w_p sum_k r_k(p)^2`` with
  ``r = C : J - g`` of each chunk ``c0 <= c < c1`` of ``chunk`` points, and its
  gradient in the parameters, written into the host array ``grads (c1 - c0, P)``;
  residuals ``R (N, K)`` and output jets ``J (N, m, nc)`` on request (host arrays);
- ``jets(net_arrays, X, J)``: the output jets at the points (host ``J (N, m, nc)``,
  on its ``nc`` channels);
- ``residual_jacobian(net_arrays, X, C, g, w, p0, p1, r, Jac, J=None, nc=None)``:
  the residual rows ``sqrt(w_p) r_k(p)`` of the points ``p0 <= p < p1`` and their
  Jacobian in the parameters (host ``r`` (n K,), ``Jac`` (n K, P)), one reverse
  pass per row (see :mod:`pinngelu.jacobian`).

The coefficients ``C`` always have all the jet channels, ``(N or 1, K, m,
n_channels(d))``.  ``nc`` is the number of channels the jets propagate: all of them
(``n_channels(d)``, the default ``None``), or the value and the first derivatives
alone (``1 + d``) where ``C`` is zero on every second-derivative channel (the
caller's promise): the second-derivative channels and their terms are then skipped
in the forward and the reverse pass, and the other channels come out of the same
arithmetic, with the same bits.

The implementations are :class:`pinngelu.kernels.cpu.CPUBackend` and
:class:`pinngelu.kernels.cuda.CUDABackend`; :func:`pinngelu.kernels.get_backend`
chooses between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Backend", "NetArrays"]


@dataclass
class NetArrays:
    """Network data as the kernels take it.

    Attributes
    ----------
    theta : array, shape (P,)
        Flat float64 parameter vector (on the backend).
    sizes : array, shape (L + 2,)
        Layer widths ``[d, n_1, ..., n_L, m]`` as int64 (on the backend).
    offsets : array, shape (L + 2,)
        Start of each affine layer in ``theta`` as int64 (on the backend).
    kind : int
        Activation code (see :mod:`pinngelu.activations`).
    dims : int or None
        The inputs the jets differentiate: the first ``dims`` columns of the points
        (the spatial coordinates); the others (``sizes[0] - dims``, parameters of a
        family of problems) enter the value only.  ``None``: all ``sizes[0]``.
    """

    theta: Any
    sizes: Any
    offsets: Any
    kind: int
    dims: int | None = None


class Backend:
    """Interface of a compute backend (see the module docstring)."""

    name: str = "abstract"
    split_chunks: bool = False
    """Whether :func:`pinngelu.loss.loss_and_grad` cuts small groups into chunks of
    :data:`~pinngelu.loss.MIN_CHUNK` points and more (cheap kernel calls, as on CPU
    threads) rather than :data:`~pinngelu.loss.CHUNK` (see :func:`pinngelu.loss.chunk_size`)."""

    def asarray(self, a: np.ndarray) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def asarray_int(self, a: np.ndarray) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def to_host(self, a: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def net_arrays(self, mlp, theta: np.ndarray, dims: int | None = None) -> NetArrays:
        """Upload the network's parameters and layout; the jets differentiate the
        first ``dims`` inputs (default the spatial ones, ``mlp.in_dim``; 0: the value
        alone)."""
        return NetArrays(
            self.asarray(np.ascontiguousarray(theta, dtype=np.float64)),
            self.asarray_int(mlp.sizes),
            self.asarray_int(mlp.offsets),
            int(mlp.act_code),
            int(mlp.in_dim if dims is None else dims),
        )

    def loss_grad_chunks(
        self,
        net: NetArrays,
        X,
        C,
        g,
        w,
        chunk: int,
        c0: int,
        c1: int,
        grads,
        R=None,
        J=None,
        nc: int | None = None,
    ) -> np.ndarray:
        """Losses ``(c1 - c0,)`` of the chunks ``c0 <= c < c1`` of ``chunk`` points each,
        their gradients into the host array ``grads (c1 - c0, P)``; residuals and jets
        (``nc`` channels) into ``R`` / ``J`` (all points) when given.  Each chunk's
        partial depends only on its own points."""
        raise NotImplementedError  # pragma: no cover

    def jets(self, net: NetArrays, X, J) -> None:
        raise NotImplementedError  # pragma: no cover

    def residual_jacobian(
        self, net: NetArrays, X, C, g, w, p0, p1, r, Jac, J=None, nc: int | None = None
    ) -> None:
        """Scaled residual rows into ``r`` (n K,), their parameter gradients into
        ``Jac`` (n K, P) for the points ``p0 <= p < p1`` (row ``(p - p0) K + k``);
        output jets into ``J`` (n, m, nc) when given.  Host arrays."""
        raise NotImplementedError  # pragma: no cover
