"""Multilayer perceptron with all parameters in one flat float64 vector.

Layout of the parameter vector ``theta``: for each layer in order (hidden layers,
then the linear output layer) the weight matrix ``W`` of shape ``(n_out, n_in)`` in
row-major order, followed by the bias ``b`` of shape ``(n_out,)``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .activations import activation_code, activation_name

__all__ = ["MLP", "glorot_normal", "gelu_fixed_point_gain"]


def _check_sizes(in_dim: int, hidden: list[int], out_dim: int) -> None:
    for name, v in (("input", in_dim), ("output", out_dim)):
        if isinstance(v, bool) or int(v) != v:
            raise ValueError(f"{name} dimension must be an integer, got {v!r}")
    if not (1 <= int(in_dim) <= 3):
        raise ValueError(f"input dimension must be 1, 2 or 3, got {in_dim}")
    if not (1 <= int(out_dim) <= 3):
        raise ValueError(f"output dimension must be 1, 2 or 3, got {out_dim}")
    if len(hidden) == 0:
        raise ValueError("the network needs at least one hidden layer")
    for i, w in enumerate(hidden):
        if int(w) != w or int(w) < 1:
            raise ValueError(f"hidden layer {i} has width {w}; widths must be positive integers")


@dataclass(frozen=True)
class MLP:
    """Architecture of a fully connected network ``R^d -> R^m``.

    Parameters
    ----------
    in_dim : int
        Input dimension ``d`` (1 to 3).
    hidden : list of int
        Widths of the hidden layers.
    out_dim : int
        Output dimension ``m`` (1 to 3).
    activation : str
        Activation of the hidden layers (see :mod:`pinngelu.activations`).
    """

    in_dim: int
    hidden: tuple[int, ...]
    out_dim: int
    activation: str = "gelu"
    sizes: np.ndarray = field(init=False, repr=False, compare=False)
    offsets: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hidden = tuple(int(h) if int(h) == h else h for h in self.hidden)
        _check_sizes(self.in_dim, list(hidden), self.out_dim)
        code = activation_code(self.activation)
        object.__setattr__(self, "hidden", hidden)
        object.__setattr__(self, "activation", activation_name(code))
        sizes = np.array([self.in_dim, *hidden, self.out_dim], dtype=np.int64)
        offs = [0]
        for i in range(len(sizes) - 1):
            offs.append(offs[-1] + int(sizes[i + 1]) * (int(sizes[i]) + 1))
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "offsets", np.array(offs, dtype=np.int64))

    @property
    def act_code(self) -> int:
        """Integer code of the hidden-layer activation."""
        return activation_code(self.activation)

    @property
    def n_params(self) -> int:
        """Total number of parameters."""
        return int(self.offsets[-1])

    @property
    def n_layers(self) -> int:
        """Number of affine layers (hidden layers plus the output layer)."""
        return len(self.sizes) - 1

    def layer(self, theta: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Views ``(W, b)`` of layer ``k`` into ``theta`` (writes go through)."""
        n_in, n_out = int(self.sizes[k]), int(self.sizes[k + 1])
        o = int(self.offsets[k])
        W = theta[o : o + n_out * n_in].reshape(n_out, n_in)
        b = theta[o + n_out * n_in : o + n_out * (n_in + 1)]
        return W, b

    def layers(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views ``(W, b)`` of every layer."""
        return [self.layer(theta, k) for k in range(self.n_layers)]

    def check_theta(self, theta: np.ndarray) -> np.ndarray:
        """Validate a parameter vector and return it as contiguous float64."""
        theta = np.asarray(theta)
        if theta.ndim != 1 or theta.shape[0] != self.n_params:
            raise ValueError(
                f"parameter vector must have shape ({self.n_params},), got {theta.shape}"
            )
        if theta.dtype != np.float64:
            raise ValueError(f"parameter vector must be float64, got {theta.dtype}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("parameter vector contains NaN or inf")
        return np.ascontiguousarray(theta)

    # ------------------------------------------------------------------ init
    def init(self, rng: np.random.Generator, scheme: str = "gelu") -> np.ndarray:
        """Random parameters.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        scheme : {"gelu", "glorot"}
            ``"glorot"``: Glorot-normal weights, zero biases.  ``"gelu"``: the
            variance-preserving initialisation of :func:`gelu_fixed_point_gain`
            (for non-GELU activations it falls back to Glorot).

        Returns
        -------
        numpy.ndarray, shape (n_params,)
        """
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy.random.Generator")
        theta = np.zeros(self.n_params)
        gain = 1.0
        if scheme == "gelu" and self.activation == "gelu":
            gain = gelu_fixed_point_gain()
        elif scheme not in ("gelu", "glorot"):
            raise ValueError(f"unknown init scheme {scheme!r}; choose 'gelu' or 'glorot'")
        for k, (W, _) in enumerate(self.layers(theta)):
            n_out, n_in = W.shape
            if scheme == "gelu" and self.activation == "gelu" and k > 0:
                std = math.sqrt(gain / n_in)
            else:
                std = math.sqrt(2.0 / (n_in + n_out))
            W[...] = rng.normal(0.0, std, size=W.shape)
        return theta

    # ------------------------------------------------------------- save/load
    def to_dict(self) -> dict:
        """Architecture as a JSON-serialisable dictionary."""
        return {
            "in_dim": int(self.in_dim),
            "hidden": [int(h) for h in self.hidden],
            "out_dim": int(self.out_dim),
            "activation": self.activation,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MLP:
        """Inverse of :meth:`to_dict`."""
        return cls(int(d["in_dim"]), tuple(d["hidden"]), int(d["out_dim"]), d["activation"])

    def save(self, path: str | os.PathLike, theta: np.ndarray, **extra: np.ndarray) -> None:
        """Save architecture and parameters to an ``.npz`` file, atomically."""
        theta = self.check_theta(theta)
        save_npz_atomic(path, arch=np.array(json.dumps(self.to_dict())), theta=theta, **extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[MLP, np.ndarray]:
        """Load ``(mlp, theta)`` saved by :meth:`save`."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no model file at {path}")
        with np.load(path, allow_pickle=False) as z:
            mlp = cls.from_dict(json.loads(str(z["arch"])))
            theta = np.array(z["theta"], dtype=np.float64)
        return mlp, mlp.check_theta(theta)


def save_npz_atomic(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` file completely or not at all (:func:`pinngelu.io.write_npz`)."""
    from .io import write_npz

    write_npz(path, **arrays)


def glorot_normal(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    """Glorot-normal matrix of shape ``(n_out, n_in)``."""
    return rng.normal(0.0, math.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


def gelu_fixed_point_gain(q: float = 1.0) -> float:
    """Weight-variance gain ``c`` (``Var W = c / n_in``) that keeps the GELU
    pre-activation variance at the fixed point ``q``.

    See :func:`pinngelu.stats.variance_preserving_gain` for the general version.
    """
    from .stats import variance_preserving_gain

    return variance_preserving_gain("gelu", q)
