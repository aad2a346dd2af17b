"""Pieces every optimiser shares: types, objective evaluation, step records and checks.

* :data:`FloatArray`, :data:`Objective`: the array type and the ``fun(x) -> (f, g)``
  objective of the gradient methods;
* :func:`evaluate`, :func:`all_finite`, :func:`inf_norm`, :func:`start_point`: one
  evaluation of the objective, its finiteness, ``||v||_inf`` and the checked copy of a
  starting point;
* :class:`StepInfo` and :func:`step_info`: the diagnostics of one iteration, the same
  record for L-BFGS, dense quasi-Newton, Levenberg-Marquardt and Adam;
* :func:`validate`, :func:`check_count`, :func:`check_real`, :func:`check_flag`,
  :func:`check_wolfe`: the checks of the settings, with errors naming the setting and
  the value (:class:`ValueError` for numbers, booleans included; :class:`TypeError` for
  flags).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DescentState",
    "FloatArray",
    "Objective",
    "TINY",
    "StepInfo",
    "all_finite",
    "check_count",
    "check_flag",
    "check_real",
    "check_wolfe",
    "evaluate",
    "inf_norm",
    "start_point",
    "step_info",
    "validate",
]

FloatArray = NDArray[np.float64]
"""A float64 NumPy array."""

Objective = Callable[[FloatArray], tuple[float, ArrayLike]]
"""``fun(x) -> (f, g)`` with ``x`` and ``g`` of shape (n,) and ``f`` a float."""

TINY = float(np.finfo(np.float64).tiny)
"""Smallest positive normal float64 (floor of the relative tests)."""


# --------------------------------------------------------------------------- evaluation


def inf_norm(v: FloatArray) -> float:
    """``||v||_inf`` of a vector of shape (n,); 0 for ``n = 0``."""
    return float(np.max(np.abs(v))) if v.shape[0] else 0.0


def evaluate(fun: Objective, x: FloatArray, n: int) -> tuple[float, FloatArray]:
    """``fun(x)`` as a float and a fresh gradient array of shape (n,).

    Raises
    ------
    ValueError
        If the gradient does not have ``n`` entries.
    """
    f, g = fun(x)
    g = np.array(g, dtype=np.float64, copy=True).reshape(-1)
    if g.shape != (n,):
        raise ValueError(f"gradient has {g.shape[0]} entries, expected {n}")
    return float(f), g


def all_finite(f: float, g: FloatArray) -> bool:
    """Whether the value ``f`` and every entry of ``g`` are finite."""
    return math.isfinite(f) and bool(np.all(np.isfinite(g)))


def start_point(x0: ArrayLike) -> FloatArray:
    """A float64 copy of the starting point, shape (n,).

    Raises
    ------
    ValueError
        If ``x0`` is not 1-D.
    """
    x = np.array(x0, dtype=np.float64, copy=True)
    if x.ndim != 1:
        raise ValueError(f"x0 must be 1-D, got shape {x.shape}")
    return x


# --------------------------------------------------------------------------- states


class DescentState:
    """What the states of the descent methods share (L-BFGS, dense quasi-Newton,
    Levenberg-Marquardt): the current point ``x`` is the best seen, so ``best_x``,
    ``best_f`` and ``best_g`` are ``x``, ``f`` and ``g`` (a subclass whose gradient is
    stored otherwise overrides ``best_g``); ``to_dict`` / ``from_dict`` round-trip a
    dataclass state through a flat dict of arrays and scalars (for ``np.savez``),
    each field cast back by its annotation."""

    x: FloatArray
    f: float
    g: FloatArray

    @property
    def n(self) -> int:
        """Number of variables."""
        return int(self.x.shape[0])

    @property
    def best_x(self) -> FloatArray:
        """Best point seen, shape (n,) (identical to ``x``)."""
        return self.x

    @property
    def best_f(self) -> float:
        """Objective value at :attr:`best_x`."""
        return self.f

    @property
    def best_g(self) -> FloatArray:
        """Gradient at :attr:`best_x`, shape (n,)."""
        return self.g

    def to_dict(self) -> dict[str, Any]:
        """Flat dict of arrays and scalars (for ``np.savez``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Any):
        """Inverse of :meth:`to_dict` (accepts an ``np.load`` mapping): ``float``, ``int``
        and ``str`` fields as those, the others as float64 arrays."""
        cast = {"float": float, "int": int, "str": str}
        kw: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data and f.default is not MISSING:
                continue  # a field added later (an older file): its default
            v = np.asarray(data[f.name])
            kind = cast.get(str(f.type))
            kw[f.name] = np.array(v, dtype=np.float64) if kind is None else kind(v)
        return cls(**kw)


# --------------------------------------------------------------------------- step records


@dataclass
class StepInfo:
    """Diagnostics of one iteration of any optimiser of :mod:`pinngelu.optim`.

    Attributes
    ----------
    n_iter : int
        Iteration number after the step.
    f, f_prev : float
        Objective value after and before the step (for Adam, at the new and the old
        iterate).
    gnorm : float
        ``||g||_inf`` after the step (Levenberg-Marquardt: ``||J^T r||_inf``, half the
        gradient).
    step : float
        Accepted line-search step length (Adam: the learning rate used; 0 when the step
        failed or has no step length).
    step_norm : float
        ``||x_new - x||_inf`` (0 when the iterate did not move).
    n_evals : int
        Evaluations spent in this step (Levenberg-Marquardt: trial values plus the
        normal equations at the new point).
    accepted : bool
        Whether the iterate moved.
    ls_success : bool
        Whether the (last) line search met the strong Wolfe conditions.
    reset : bool
        Whether the curvature memory was cleared during this step.
    pair_skipped : bool
        Whether the new pair failed the curvature test (no update was made).
    message : str
        Line-search message or reason for failure.
    rejects : int
        Rejected damped trial steps (Levenberg-Marquardt).
    """

    n_iter: int
    f: float
    f_prev: float
    gnorm: float
    step: float
    step_norm: float
    n_evals: int
    accepted: bool
    ls_success: bool = False
    reset: bool = False
    pair_skipped: bool = False
    message: str = ""
    rejects: int = 0


class _Iterate(Protocol):
    x: FloatArray
    f: float
    n_iter: int


def step_info(
    before: _Iterate,
    after: _Iterate,
    *,
    n_evals: int,
    accepted: bool,
    message: str,
    gnorm: float | None = None,
    step: float = 0.0,
    ls_success: bool = False,
    reset: bool = False,
    pair_skipped: bool = False,
    rejects: int = 0,
) -> StepInfo:
    """The :class:`StepInfo` of the step from the state ``before`` to the state ``after``.

    Parameters
    ----------
    before, after : state
        Any optimiser state with ``x`` (shape (n,)), ``f`` and ``n_iter``.
    n_evals : int
        Evaluations spent in the step.
    accepted : bool
        Whether the iterate moved.
    message : str
    gnorm : float, optional
        ``||g||_inf`` after the step; by default computed from ``after.g`` (shape (n,)).
    step, ls_success, reset, pair_skipped, rejects
        As in :class:`StepInfo`.

    Returns
    -------
    StepInfo
        ``n_iter`` and ``f`` of ``after``, ``f_prev`` of ``before``; ``step_norm`` is
        ``||after.x - before.x||_inf`` for an accepted step and 0 otherwise.
    """
    return StepInfo(
        n_iter=after.n_iter,
        f=after.f,
        f_prev=before.f,
        gnorm=inf_norm(after.g) if gnorm is None else gnorm,  # type: ignore[attr-defined]
        step=float(step),
        step_norm=inf_norm(after.x - before.x) if accepted else 0.0,
        n_evals=n_evals,
        accepted=accepted,
        ls_success=ls_success,
        reset=reset,
        pair_skipped=pair_skipped,
        message=message,
        rejects=rejects,
    )


# --------------------------------------------------------------------------- checks


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def check_count(name: str, v: Any, minimum: int = 1) -> int:
    """``v`` as an ``int``: an integer ``>= minimum`` (not a bool; ``100.0`` passes).

    Raises
    ------
    ValueError
        Naming ``name`` and the value otherwise.
    """
    ok = _is_number(v) and math.isfinite(v) and v == int(v)
    if not ok or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def check_real(
    name: str,
    v: Any,
    minimum: float = 0.0,
    *,
    strict: bool = False,
    below: float | None = None,
) -> float:
    """``v`` as a ``float``: a finite real number ``>= minimum`` (``> minimum`` with
    ``strict``) and, when ``below`` is given, ``< below``; bools are refused.

    Raises
    ------
    ValueError
        Naming ``name`` and the value otherwise.
    """
    ok = _is_number(v) and math.isfinite(v) and (v > minimum if strict else v >= minimum)
    if ok and below is not None:
        ok = v < below
    if not ok:
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        if below is not None:
            bound += f" and < {below:g}"
        raise ValueError(f"{name} must be a finite number {bound}, got {v!r}")
    return float(v)


def check_flag(name: str, v: Any) -> bool:
    """``v`` as a ``bool`` (``True`` or ``False``, NumPy's included).

    Raises
    ------
    TypeError
        Naming ``name`` and the value otherwise.
    """
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {v!r}")
    return bool(v)


def check_wolfe(owner: str, c1: Any, c2: Any) -> tuple[float, float]:
    """The strong-Wolfe constants as floats, checked: ``0 < c1 < c2 < 1``.

    Raises
    ------
    ValueError
        Naming ``owner.c1`` / ``owner.c2`` and the values otherwise.
    """
    c1 = check_real(f"{owner}.c1", c1, strict=True, below=1.0)
    c2 = check_real(f"{owner}.c2", c2, strict=True, below=1.0)
    if not c1 < c2:
        raise ValueError(f"{owner}: need 0 < c1 < c2 < 1, got c1={c1!r}, c2={c2!r}")
    return c1, c2


def validate(
    config: Any,
    *,
    counts: tuple[str, ...] = (),
    positive: tuple[str, ...] = (),
    nonnegative: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
) -> None:
    """Check the named fields of a (frozen) settings dataclass and store them normalised.

    Parameters
    ----------
    config : dataclass instance
        Its fields are replaced in place by the checked values (``int``, ``float`` or
        ``bool``); errors name ``<class>.<field>``.
    counts : tuple of str
        Integers ``>= 1`` (:func:`check_count`).
    positive : tuple of str
        Finite numbers ``> 0`` (:func:`check_real` with ``strict``).
    nonnegative : tuple of str
        Finite numbers ``>= 0``.
    flags : tuple of str
        Booleans (:func:`check_flag`).
    """
    owner = type(config).__name__

    def put(name: str, value: Any) -> None:
        object.__setattr__(config, name, value)

    for name in counts:
        put(name, check_count(f"{owner}.{name}", getattr(config, name)))
    for name in positive:
        put(name, check_real(f"{owner}.{name}", getattr(config, name), strict=True))
    for name in nonnegative:
        put(name, check_real(f"{owner}.{name}", getattr(config, name)))
    for name in flags:
        put(name, check_flag(f"{owner}.{name}", getattr(config, name)))
