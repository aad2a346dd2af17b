"""Multilayer perceptron with all parameters in one flat float64 vector.

Layout of the parameter vector ``theta``: for each layer in order (hidden layers,
then the linear output layer) the weight matrix ``W`` of shape ``(n_out, n_in)`` in
row-major order, followed by the bias ``b`` of shape ``(n_out,)``.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..activations import activation_code, activation_name
from .stats import variance_preserving_gain

__all__ = ["MLP", "MAX_PARAM", "gelu_fixed_point_gain", "glorot_normal", "save_npz_atomic"]

MAX_PARAM = 16
"""Most parameter inputs of a network (:attr:`MLP.n_param`)."""


def _dimension(v: object, arg: str, what: str) -> int:
    """``v`` as an int in 1..3, or a TypeError/ValueError naming ``arg``."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"{arg} ({what} dimension) must be an integer, got {type(v).__name__} {v!r}"
        )
    if not (math.isfinite(v) and int(v) == v):
        raise ValueError(f"{arg} ({what} dimension) must be an integer, got {v!r}")
    if not 1 <= int(v) <= 3:
        raise ValueError(f"{arg} ({what} dimension) must be 1, 2 or 3, got {int(v)}")
    return int(v)


def _widths(hidden: object) -> tuple[int, ...]:
    """The hidden-layer widths as a tuple of positive ints, or a TypeError/ValueError."""
    if isinstance(hidden, (int, float, np.integer, np.floating)) and not isinstance(hidden, bool):
        raise TypeError(
            f"hidden must be a sequence of hidden-layer widths, got the number {hidden!r}; "
            f"for one hidden layer of width {hidden} write [{hidden}]"
        )
    if isinstance(hidden, (str, bytes, dict)) or not isinstance(hidden, Iterable):
        raise TypeError(
            "hidden must be a sequence of hidden-layer widths such as [50, 50], "
            f"got {type(hidden).__name__} {hidden!r}"
        )
    widths = list(hidden)
    if len(widths) == 0:
        raise ValueError("hidden is empty: the network needs at least one hidden layer")
    out = []
    for i, w in enumerate(widths):
        if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)):
            raise TypeError(
                f"hidden layer {i} has width {w!r} of type {type(w).__name__}; "
                "widths must be positive integers"
            )
        if not (math.isfinite(w) and int(w) == w and int(w) >= 1):
            raise ValueError(f"hidden layer {i} has width {w}; widths must be positive integers")
        out.append(int(w))
    return tuple(out)


@dataclass(frozen=True)
class MLP:
    """Architecture of a fully connected network ``R^d -> R^m`` (or
    ``R^(d + n_param) -> R^m`` for a family of problems).

    Parameters
    ----------
    in_dim : int
        Spatial input dimension ``d`` (1 to 3): the inputs the jets differentiate.
    hidden : sequence of int
        Widths of the hidden layers, e.g. ``[50, 50, 50]`` (at least one; every
        width a positive integer; ``20.0`` counts as ``20``).
    out_dim : int
        Output dimension ``m`` (1 to 3).
    activation : str
        Activation of the hidden layers (see :mod:`pinngelu.activations`).
    n_param : int
        Further inputs after the coordinates (0 to :data:`MAX_PARAM`): the parameters
        of a family of problems (material, load, shape), taken by the network as
        inputs but not differentiated (the kernels' jets stay those of ``d``
        inputs; the first layer has ``d + n_param`` input columns).

    Raises
    ------
    TypeError
        For a width or dimension that is not a number (a string, ``None``, a
        bool), or ``hidden`` given as a single number (``MLP(2, 20, 2)``; write
        ``MLP(2, [20], 2)``).
    ValueError
        For a dimension outside 1..3, a fractional, non-finite, zero or negative
        width, no hidden layer, an unknown activation name, or ``n_param`` outside
        ``0 .. MAX_PARAM``.
    """

    in_dim: int
    hidden: tuple[int, ...]
    out_dim: int
    activation: str = "gelu"
    n_param: int = 0
    sizes: np.ndarray = field(init=False, repr=False, compare=False)
    offsets: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        in_dim = _dimension(self.in_dim, "in_dim", "input")
        hidden = _widths(self.hidden)
        out_dim = _dimension(self.out_dim, "out_dim", "output")
        code = activation_code(self.activation)
        object.__setattr__(self, "in_dim", in_dim)
        object.__setattr__(self, "out_dim", out_dim)
        object.__setattr__(self, "hidden", hidden)
        object.__setattr__(self, "activation", activation_name(code))
        n_param = self.n_param
        if isinstance(n_param, bool) or not isinstance(n_param, (int, np.integer)):
            raise TypeError(f"n_param must be an integer, got {n_param!r}")
        if not 0 <= int(n_param) <= MAX_PARAM:
            raise ValueError(f"n_param must be between 0 and {MAX_PARAM}, got {n_param}")
        object.__setattr__(self, "n_param", int(n_param))
        sizes = np.array([self.n_inputs, *hidden, self.out_dim], dtype=np.int64)
        offs = [0]
        for i in range(len(sizes) - 1):
            offs.append(offs[-1] + int(sizes[i + 1]) * (int(sizes[i]) + 1))
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "offsets", np.array(offs, dtype=np.int64))

    @property
    def n_inputs(self) -> int:
        """Columns of the points the network takes: ``in_dim + n_param``."""
        return self.in_dim + self.n_param

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
                W[...] = rng.normal(0.0, math.sqrt(gain / n_in), size=W.shape)
            else:
                W[...] = glorot_normal(rng, n_out, n_in)
        return theta

    # ------------------------------------------------------------- save/load
    def to_dict(self) -> dict:
        """Architecture as a JSON-serialisable dictionary."""
        out = {
            "in_dim": int(self.in_dim),
            "hidden": [int(h) for h in self.hidden],
            "out_dim": int(self.out_dim),
            "activation": self.activation,
        }
        if self.n_param:
            out["n_param"] = int(self.n_param)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> MLP:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            If ``d`` is not a dict with the keys ``in_dim``, ``hidden``, ``out_dim``
            and ``activation``; TypeError/ValueError of the constructor for bad values.
        """
        keys = ("in_dim", "hidden", "out_dim", "activation")
        if not isinstance(d, dict) or any(k not in d for k in keys):
            raise ValueError(f"an MLP architecture needs a dict with the keys {keys}, got {d!r}")
        return cls(
            d["in_dim"], tuple(d["hidden"]), d["out_dim"], d["activation"], d.get("n_param", 0)
        )

    def save(self, path: str | os.PathLike, theta: np.ndarray, **extra: np.ndarray) -> None:
        """Save architecture and parameters to an ``.npz`` file, atomically."""
        theta = self.check_theta(theta)
        save_npz_atomic(path, arch=np.array(json.dumps(self.to_dict())), theta=theta, **extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[MLP, np.ndarray]:
        """Load ``(mlp, theta)`` saved by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        ValueError
            Naming the file, if it is not an ``.npz`` archive (truncated, empty, a
            plain ``.npy`` array, another format), lacks the ``arch`` or ``theta``
            entries, or holds a damaged architecture or parameter vector.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no model file at {path}")
        z = _open_npz(path, "model file")
        with z:
            missing = [k for k in ("arch", "theta") if k not in z.files]
            if missing:
                raise ValueError(
                    f"model file {path} lacks the entries {missing} (it holds {z.files}); "
                    "it was not written by MLP.save"
                )
            try:
                arch = json.loads(str(z["arch"]))
                theta = np.array(z["theta"], dtype=np.float64)
            except _READ_ERRORS as exc:
                raise ValueError(
                    f"model file {path} is damaged: {type(exc).__name__}: {exc}"
                ) from exc
        try:
            mlp = cls.from_dict(arch)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"model file {path} has a bad architecture entry: {exc}") from exc
        try:
            return mlp, mlp.check_theta(theta)
        except ValueError as exc:
            raise ValueError(f"model file {path}: {exc}") from exc


# what reading a damaged or foreign .npz can raise
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    OSError,
    TypeError,
    ValueError,
)


def _open_npz(path: Path, what: str) -> np.lib.npyio.NpzFile:
    """``np.load(path)`` as an ``.npz`` archive, or a ValueError naming ``what`` and ``path``."""
    if path.is_dir():
        raise ValueError(f"{what} {path} is a directory, not an .npz file")
    try:
        z = np.load(path, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise ValueError(
            f"{what} {path} is not a readable .npz archive (truncated, empty or another "
            f"format): {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{what} {path} holds a single .npy array, not an .npz archive")
    return z


def save_npz_atomic(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` file completely or not at all (:func:`pinngelu.io.write_npz`)."""
    from ..io.files import write_npz

    write_npz(path, **arrays)


def glorot_normal(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    """Glorot-normal matrix of shape ``(n_out, n_in)``."""
    return rng.normal(0.0, math.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


def gelu_fixed_point_gain(q: float = 1.0) -> float:
    """Weight-variance gain ``c`` (``Var W = c / n_in``) that keeps the GELU
    pre-activation variance at the fixed point ``q``.

    See :func:`pinngelu.network.stats.variance_preserving_gain` for the general version.
    """
    return variance_preserving_gain("gelu", q)
