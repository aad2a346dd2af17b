"""Checks of settings, written once: an integer count, a positive number, a flag.

Each raises an error that names the setting, the value and what is expected; the
training configuration, the stages and adaptive collocation use them (the problem's
physical inputs have their own in :mod:`pinngelu.elasticity`; the command line parses
its options with argparse types in :mod:`pinngelu.app.runner`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["count", "positive", "flag", "real_at_least"]


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def count(name: str, v, minimum: int = 0) -> int:
    """``v`` as an int: an integer (not a bool; ``100.0`` passes as 100) ``>= minimum``.

    Raises
    ------
    ValueError
        Naming ``name`` and the value otherwise.
    """
    ok = isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    if not ok and isinstance(v, (float, np.floating)) and math.isfinite(v) and v == int(v):
        ok = True
    if not ok or v < minimum:
        what = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {v!r}")
    return int(v)


def positive(name: str, v, unit: str = "") -> float:
    """``v`` as a float: a finite real number ``> 0`` (``unit`` is named in the error,
    e.g. ``" seconds"``).

    Raises
    ------
    ValueError
        Naming ``name`` and the value otherwise (booleans and strings included).
    """
    if not _is_number(v) or not math.isfinite(v) or not v > 0:
        raise ValueError(f"{name} must be a finite number > 0{unit}, got {v!r}")
    return float(v)


def real_at_least(name: str, v, minimum: float, strict: bool = False) -> float:
    """``v`` as a float: finite, ``>= minimum`` (``> minimum`` with ``strict``).

    Raises
    ------
    ValueError
        Naming ``name`` and the value otherwise.
    """
    if not _is_number(v) or not math.isfinite(v) or v < minimum or (strict and v == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ValueError(f"{name} must be a finite number {bound}, got {v!r}")
    return float(v)


def flag(name: str, v, allow_none: bool = False) -> bool | None:
    """``v`` as a bool (``True``/``False``, or None where allowed).

    Raises
    ------
    TypeError
        Naming ``name`` and the value otherwise.
    """
    if v is None and allow_none:
        return None
    if not isinstance(v, (bool, np.bool_)):
        extra = ", False or None" if allow_none else " or False"
        raise TypeError(f"{name} must be True{extra}, got {v!r}")
    return bool(v)
