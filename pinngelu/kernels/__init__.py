"""Compute kernels and the one place where the backend is chosen.

:func:`get_backend` maps ``"cpu"`` or ``"cuda"`` to a :class:`Backend`; nothing
else in the package looks at the device name.  A backend offers

- ``asarray(a)``: put a float64 array where the kernels read it (host memory for
  the CPU, device memory for CUDA);
- ``loss_grad(net_arrays, X, C, g, w, grad, R=None, J=None) -> float``: the fused
  residual loss ``sum_p w_p sum_k r_k(p)^2`` with ``r = C : J - g`` and its gradient
  in the parameters, written into the host array ``grad``; residuals ``R (N, K)``
  and output jets ``J (N, m, C)`` on request (host arrays);
- ``jets(net_arrays, X, J)``: the output jets at the points (host ``J``);
- ``residual_jacobian(net_arrays, X, C, g, w, p0, p1, r, Jac, J=None)``: the
  residual rows ``sqrt(w_p) r_k(p)`` of the points ``p0 <= p < p1`` and their
  Jacobian in the parameters (host ``r`` (n K,), ``Jac`` (n K, P)).

``net_arrays`` is a :class:`NetArrays` (parameters, layer sizes and offsets and the
activation code, already on the backend).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Backend", "NetArrays", "get_backend", "n_channels", "second_pairs"]


def n_channels(d: int) -> int:
    """Jet channels per output for input dimension ``d``: ``1 + d + d (d + 1) / 2``."""
    return 1 + d + d * (d + 1) // 2


def second_pairs(d: int) -> list[tuple[int, int]]:
    """The distinct second-derivative index pairs ``(i, j), i <= j`` in channel order."""
    return [(i, j) for i in range(d) for j in range(i, d)]


@dataclass
class NetArrays:
    """Network data as the kernels take it."""

    theta: Any
    sizes: Any
    offsets: Any
    kind: int


class Backend:
    """Interface of a compute backend (see the module docstring)."""

    name: str = "abstract"

    def asarray(self, a: np.ndarray) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def to_host(self, a: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def net_arrays(self, mlp, theta: np.ndarray) -> NetArrays:
        """Upload the network's parameters and layout."""
        return NetArrays(
            self.asarray(np.ascontiguousarray(theta, dtype=np.float64)),
            self.asarray_int(mlp.sizes),
            self.asarray_int(mlp.offsets),
            int(mlp.act_code),
        )

    def asarray_int(self, a: np.ndarray) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def loss_grad(self, net: NetArrays, X, C, g, w, grad, R=None, J=None) -> float:
        raise NotImplementedError  # pragma: no cover

    def jets(self, net: NetArrays, X, J) -> None:
        raise NotImplementedError  # pragma: no cover

    def residual_jacobian(self, net: NetArrays, X, C, g, w, p0, p1, r, Jac, J=None) -> None:
        """Scaled residual rows ``sqrt(w_p) r_k(p)`` into the host array ``r`` (n K,)
        and their parameter gradients into ``Jac`` (n K, P) for the points
        ``p0 <= p < p1`` (row ``(p - p0) K + k``); output jets into ``J`` (n, m, C)
        when given."""
        raise NotImplementedError  # pragma: no cover


class CPUBackend(Backend):
    """Numba CPU threads."""

    name = "cpu"

    def __init__(self) -> None:
        from . import cpu

        self._k = cpu

    def asarray(self, a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float64)

    def asarray_int(self, a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.int64)

    def to_host(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a)

    def loss_grad(self, net, X, C, g, w, grad, R=None, J=None) -> float:
        return float(
            self._k.loss_grad(net.theta, net.sizes, net.offsets, net.kind, X, C, g, w, grad, R, J)
        )

    def jets(self, net, X, J) -> None:
        self._k.jets(net.theta, net.sizes, net.offsets, net.kind, X, J)

    def residual_jacobian(self, net, X, C, g, w, p0, p1, r, Jac, J=None) -> None:
        self._k.residual_jacobian(
            net.theta, net.sizes, net.offsets, net.kind, X, C, g, w, p0, p1, r, Jac, J
        )


_BACKENDS: dict[str, Backend] = {}


def get_backend(device: str | Backend = "cpu") -> Backend:
    """Return the backend for ``device`` (``"cpu"`` or ``"cuda"``).

    This is the only function in the package that branches on the device.

    Raises
    ------
    ValueError
        For an unknown device name.
    RuntimeError
        For ``"cuda"`` when no usable GPU or driver is present (no silent fallback).
    """
    if isinstance(device, Backend):
        return device
    if not isinstance(device, str) or device.lower() not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; choose 'cpu' or 'cuda'")
    device = device.lower()
    if device not in _BACKENDS:
        if device == "cpu":
            _BACKENDS[device] = CPUBackend()
        else:
            cuda_mod = importlib.import_module(".cuda", __name__)
            _BACKENDS[device] = cuda_mod.CUDABackend()
    return _BACKENDS[device]
