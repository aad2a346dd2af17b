"""Random and quasi-random points in the unit cube, and the split of a count into parts."""

from __future__ import annotations

import math

import numpy as np

from ._checks import FloatArray, IntArray


def _new_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**63 - 1))


def _sobol_engine(dim: int, seed: int):
    """Scrambled Sobol' engine (scipy.stats is imported here: it is slow to import)."""
    from scipy.stats import qmc

    try:
        return qmc.Sobol(dim, scramble=True, rng=seed)
    except TypeError:
        return qmc.Sobol(dim, scramble=True, seed=seed)


def _sobol_prefix(dim: int, n: int, seed: int) -> FloatArray:
    """First ``n`` points (n, dim) of the scrambled Sobol' sequence with the given seed."""
    if n == 0:
        return np.empty((0, dim))
    m = max(0, math.ceil(math.log2(n)))
    return np.asarray(_sobol_engine(dim, seed).random_base2(m)[:n], dtype=np.float64)


def _unit_points(
    dim: int, n: int, method: str, rng: np.random.Generator | None, seed: int | None
) -> FloatArray:
    """``n`` points in ``[0, 1)^dim``: i.i.d. uniform (from ``rng``) or Sobol' (from ``seed``)."""
    if method == "uniform":
        assert rng is not None
        return rng.random((n, dim))
    if seed is None:
        assert rng is not None
        seed = _new_seed(rng)
    return _sobol_prefix(dim, n, seed)


def _allocate(n: int, weights: FloatArray) -> IntArray:
    """Split ``n`` into integer counts proportional to ``weights`` (largest remainder)."""
    w = np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    if n == 0 or total <= 0.0:
        return np.zeros(len(w), dtype=np.int64)
    exact = n * w / total
    counts = np.floor(exact).astype(np.int64)
    rem = n - int(counts.sum())
    if rem > 0:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:rem]] += 1
    return counts
