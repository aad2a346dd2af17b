"""Shared array types and argument checks of the geometry package.

Every check raises ``ValueError`` (``TypeError`` for complex numbers) naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
Predicate = Callable[[FloatArray], Any]
PartSpec = str | Sequence[str] | Predicate | None

_METHODS = ("uniform", "sobol")


def _check_n(n: int, what: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise ValueError(f"{what} must be an integer, got {n!r}")
    n = int(n)
    if n < 0:
        raise ValueError(f"{what} must be >= 0, got {n}")
    return n


def _check_method(method: str) -> str:
    if method not in _METHODS:
        raise ValueError(f"unknown sampling method {method!r}; valid methods: {_METHODS}")
    return method


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )
    return rng


def _as_points(X: ArrayLike, dim: int, name: str = "X") -> FloatArray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {arr.shape}")
    return arr


def _as_vector(v: ArrayLike, dim: int, name: str) -> FloatArray:
    arr = np.asarray(v, dtype=np.float64).reshape(-1)
    if arr.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},), got {np.shape(v)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}")
    return arr


def _as_float(x: float, name: str) -> float:
    val = float(x)
    if not math.isfinite(val):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return val


def _positive(x: float, name: str) -> float:
    val = _as_float(x, name)
    if val <= 0.0:
        raise ValueError(f"{name} must be positive, got {x!r}")
    return val
