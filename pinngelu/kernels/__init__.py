"""Compute kernels and the one place where the backend is chosen.

:func:`get_backend` maps ``"cpu"`` or ``"cuda"`` to a :class:`Backend`; nothing
else in the package looks at the device name.  The implementations are imported on
first use (importing this package compiles nothing).  Modules, in layers (each
imports only modules listed before it, and :mod:`pinngelu.activations`):

==============  ====================================================================
``layout``      the jet-channel layout, defined once (no Numba)
``backend``     the :class:`Backend` interface and :class:`NetArrays` (no Numba)
``pointwise``   the target-independent math on tiles of points (plain Python)
``compile``     :func:`~pinngelu.kernels.compile.retarget` (the pointwise math for one
                target), the on-disk cache check and the first-compile notice
``cpu``         :class:`~pinngelu.kernels.cpu.CPUBackend` and its ``numba.njit`` kernels
``cuda_tiled``  the CUDA kernels, built per network shape
``cuda``        :class:`~pinngelu.kernels.cuda.CUDABackend`: the host side of
                ``cuda_tiled`` (checks, buffers, launches)
``dense``       dense symmetric-matrix kernels of the quasi-Newton optimisers
==============  ====================================================================
"""

from __future__ import annotations

import importlib

from .backend import Backend, NetArrays
from .layout import n_channels, second_pairs

__all__ = ["Backend", "NetArrays", "get_backend", "n_channels", "second_pairs"]

_BACKENDS: dict[str, Backend] = {}
_CLASSES = {"cpu": (".cpu", "CPUBackend"), "cuda": (".cuda", "CUDABackend")}


def get_backend(device: str | Backend = "cpu") -> Backend:
    """Return the backend for ``device`` (``"cpu"`` or ``"cuda"``).

    This is the only function in the package that branches on the device.

    Parameters
    ----------
    device : {"cpu", "cuda"} or Backend
        Device name (case-insensitive), or a backend, which is returned as is.

    Returns
    -------
    Backend
        One instance per device name and process.

    Raises
    ------
    ValueError
        For an unknown device name.
    RuntimeError
        For ``"cuda"`` when no usable GPU or driver is present (no silent fallback).
    """
    if isinstance(device, Backend):
        return device
    if not isinstance(device, str) or device.lower() not in _CLASSES:
        raise ValueError(f"unknown device {device!r}; choose 'cpu' or 'cuda'")
    device = device.lower()
    if device not in _BACKENDS:
        module, cls = _CLASSES[device]
        _BACKENDS[device] = getattr(importlib.import_module(module, __name__), cls)()
    return _BACKENDS[device]
