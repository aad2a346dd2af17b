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


#: smallest resolvable relative extent: a side, radius or ring width at most this fraction of
#: the domain's size (or of its distance from the origin) is degenerate
REL_EXTENT = 1e-12


def _as_real_array(v: ArrayLike, name: str) -> FloatArray:
    """``v`` as a ``float64`` array; complex values raise ``TypeError``, others ``ValueError``."""
    if isinstance(v, str | bytes):
        raise TypeError(f"{name} must be an array of real numbers, got a string {v!r}")
    arr = np.asarray(v)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex values")
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers ({exc})") from None


def _as_points(X: ArrayLike, dim: int, name: str = "X") -> FloatArray:
    arr = _as_real_array(X, name)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {arr.shape}")
    return arr


def _as_vector(v: ArrayLike, dim: int, name: str) -> FloatArray:
    arr = _as_real_array(v, name).reshape(-1)
    if arr.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},), got {np.shape(v)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}")
    return arr


def _as_float(x: float, name: str) -> float:
    if isinstance(x, complex | np.complexfloating):
        raise TypeError(f"{name} must be a real number, got the complex value {x!r}")
    if isinstance(x, str | bytes) or isinstance(x, np.ndarray) and x.ndim > 0:
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}")
    try:
        val = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}") from None
    if not math.isfinite(val):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return val


def _positive(x: float, name: str) -> float:
    val = _as_float(x, name)
    if val <= 0.0:
        raise ValueError(f"{name} must be positive, got {x!r}")
    return val


def _check_resolved(what: str, name: str, value: float, scale: float) -> None:
    """Raise unless the extent ``value`` is more than ``REL_EXTENT * scale``."""
    if not value > REL_EXTENT * scale:
        raise ValueError(
            f"degenerate {what}: {name} = {value:.6g} is too small relative to the size / "
            f"position of the shape ({scale:.6g}; it must exceed {REL_EXTENT:g} of it)"
        )


def _check_measure(what: str, value: float, kind: str) -> float:
    """Raise unless an area / volume is a positive, finite, normal float."""
    if not (math.isfinite(value) and value >= np.finfo(np.float64).tiny):
        raise ValueError(
            f"degenerate {what}: its {kind} {value!r} is not a positive finite number "
            "(the extents are too small or too large for float64)"
        )
    return value
