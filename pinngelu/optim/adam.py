"""Adam with explicit, serialisable state, and simple learning-rate schedules.

Kingma & Ba, "Adam: A method for stochastic optimization", ICLR 2015 (Algorithm 1).
:func:`adam_update` returns the update to *add* to the parameters, as in optax::

    step, state = adam_update(state, g, lr=1e-3)
    x = x + step
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["AdamState", "adam_init", "adam_update", "constant_schedule", "exponential_decay"]

FloatArray = NDArray[np.float64]
Schedule = Callable[[int], float]


@dataclass
class AdamState:
    """State of Adam.

    Attributes
    ----------
    m : ndarray, shape (n,)
        Exponential moving average of the gradient (first moment).
    v : ndarray, shape (n,)
        Exponential moving average of the squared gradient (second moment).
    t : int
        Number of updates performed.
    """

    m: FloatArray
    v: FloatArray
    t: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain-data copy (numpy arrays and an ``int``), suitable for ``np.savez``."""
        return {"m": self.m.copy(), "v": self.v.copy(), "t": int(self.t)}

    @classmethod
    def from_dict(cls, data: Any) -> AdamState:
        """Rebuild a state from :meth:`to_dict` output (or an ``np.load`` result of it)."""
        m = np.array(data["m"], dtype=np.float64, copy=True)
        v = np.array(data["v"], dtype=np.float64, copy=True)
        if m.shape != v.shape:
            raise ValueError("m and v must have the same shape")
        return cls(m=m, v=v, t=int(np.asarray(data["t"]).item()))


def adam_init(x: ArrayLike) -> AdamState:
    """Zero moments for parameters shaped like ``x``.

    Parameters
    ----------
    x : array_like, shape (n,)
        Parameters (only the shape is used).

    Returns
    -------
    AdamState
    """
    shape = np.shape(x)
    return AdamState(m=np.zeros(shape), v=np.zeros(shape), t=0)


def adam_update(
    state: AdamState,
    g: ArrayLike,
    lr: float | Schedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[FloatArray, AdamState]:
    """One Adam update.

    Parameters
    ----------
    state : AdamState
        Current state; not modified.
    g : array_like, shape (n,)
        Gradient at the current parameters.
    lr : float or callable
        Learning rate, or a schedule ``lr(t) -> float`` evaluated at the number of updates
        already performed (``t = 0`` for the first update).
    b1, b2 : float
        Decay rates of the first and second moment averages.
    eps : float
        Added to the square root of the bias-corrected second moment.

    Returns
    -------
    step : ndarray, shape (n,)
        ``-lr * m_hat / (sqrt(v_hat) + eps)``, to be added to the parameters.
    new_state : AdamState
    """
    g = np.asarray(g, dtype=np.float64)
    if g.shape != state.m.shape:
        raise ValueError(f"gradient shape {g.shape} does not match state shape {state.m.shape}")
    rate = float(lr(state.t)) if callable(lr) else float(lr)
    t = state.t + 1
    m = b1 * state.m + (1.0 - b1) * g
    v = b2 * state.v + (1.0 - b2) * (g * g)
    m_hat = m / (1.0 - b1**t)
    v_hat = v / (1.0 - b2**t)
    step = -rate * m_hat / (np.sqrt(v_hat) + eps)
    return step, AdamState(m=m, v=v, t=t)


def constant_schedule(lr: float) -> Schedule:
    """Schedule returning ``lr`` at every step.

    Parameters
    ----------
    lr : float

    Returns
    -------
    callable
        ``schedule(t) -> lr``.
    """
    value = float(lr)
    return lambda t: value


def exponential_decay(
    lr0: float, decay_rate: float, decay_steps: int, staircase: bool = False
) -> Schedule:
    """Exponentially decaying schedule ``lr0 * decay_rate ** (t / decay_steps)``.

    Parameters
    ----------
    lr0 : float
        Learning rate at ``t = 0``.
    decay_rate : float
        Factor applied every ``decay_steps`` steps.
    decay_steps : int
        Number of steps over which the rate is multiplied by ``decay_rate``.
    staircase : bool, optional
        Use ``t // decay_steps`` (piecewise constant) instead of ``t / decay_steps``.

    Returns
    -------
    callable
        ``schedule(t) -> float``.
    """
    if decay_steps <= 0:
        raise ValueError("decay_steps must be positive")
    lr0, decay_rate = float(lr0), float(decay_rate)

    def schedule(t: int) -> float:
        p = (t // decay_steps) if staircase else (t / decay_steps)
        return lr0 * decay_rate**p

    return schedule
