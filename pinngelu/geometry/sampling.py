"""Random and quasi-random points, and bounded rejection sampling.

* points in the unit cube: i.i.d. uniform or a prefix of a scrambled Sobol' sequence;
* the largest-remainder split of a count into parts;
* :func:`rejection_sample`: exactly ``n`` accepted candidates in bounded batches, with an
  iteration cap and a clear ``ValueError`` (naming the domain and its fill fraction) instead
  of an endless loop;
* :func:`box_cover`: a cover of a thin or low-fill domain by small boxes, so that rejection
  from the cover accepts a good fraction of the candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

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


# ---------------------------------------------------------------------------------------------
# bounded rejection sampling
# ---------------------------------------------------------------------------------------------

#: below this fill fraction (domain measure / candidate measure) interior points are drawn
#: from a cover of the domain by small boxes instead of the candidate region
FILL_MIN = 1e-2
#: the box cover is refined until its fill fraction reaches this ...
FILL_TARGET = 5e-2
#: ... or it holds about this many boxes
COVER_MAX_BOXES = 1 << 19
#: rejection sampling is refused (ValueError) below this fill fraction
FILL_FAIL = 1e-4
#: one rejection-sampling call draws at most max(MAX_ROWS, 8 n / fill) candidates, in at
#: most MAX_ROUNDS rounds
MAX_ROWS = 1 << 22
MAX_ROUNDS = 64

Candidates = Callable[[FloatArray], tuple[FloatArray, ...]]
Accept = Callable[..., "NDArray[np.bool_] | None"]


def rejection_sample(
    n: int,
    dim: int,
    candidates: Candidates,
    accept: Accept,
    frac: float,
    method: str,
    rng: np.random.Generator | None,
    seed: int | None,
    what: str,
) -> tuple[FloatArray, ...]:
    """Exactly ``n`` accepted candidates, drawn in bounded batches.

    Parameters
    ----------
    n : int
        Number of points wanted, ``n >= 1``.
    dim : int
        Dimension of the unit cube the candidates are parametrised by.
    candidates : callable
        ``candidates(u (m, dim)) -> (X (m, ...), ...)``: candidate points (and e.g. normals).
    accept : callable
        ``accept(X, ...) -> bool (m,)`` or ``None`` (all accepted).
    frac : float
        Expected acceptance rate (measure of the target / measure of the candidates).
    method : {"uniform", "sobol"}
        i.i.d. points from ``rng`` (the batches continue one stream), or a prefix of the
        scrambled Sobol' sequence with ``seed`` (doubled until long enough).
    rng, seed
        Source of randomness (``seed`` drawn from ``rng`` when None, for Sobol').
    what : str
        Name of the domain in error messages.

    Returns
    -------
    tuple of ndarray
        The first ``n`` accepted rows of each array returned by ``candidates``.

    Raises
    ------
    ValueError
        When ``frac`` is below :data:`FILL_FAIL`, or when more than
        ``max(MAX_ROWS, 8 n / frac)`` candidates or :data:`MAX_ROUNDS` rounds would be
        needed; the message names the domain and the measured fill fraction.
    """
    if not frac >= FILL_FAIL:
        raise ValueError(
            f"cannot sample {what} by rejection: its fill fraction {frac:.3g} is below "
            f"{FILL_FAIL:g}"
        )

    limit = max(MAX_ROWS, int(math.ceil(8.0 * n / frac)))

    def keep(arrays: tuple[FloatArray, ...]) -> tuple[FloatArray, ...]:
        acc = accept(*arrays)
        return arrays if acc is None else tuple(a[acc] for a in arrays)

    def fail(have: int, drawn: int) -> ValueError:
        return ValueError(
            f"rejection sampling of {what} failed: {have} of {drawn} candidate points "
            f"accepted (measured fill fraction {have / max(drawn, 1):.3g}, expected "
            f"{frac:.3g}), {n} needed"
        )

    if method == "uniform":
        assert rng is not None
        chunks: list[tuple[FloatArray, ...]] = []
        have = drawn = 0
        for _ in range(MAX_ROUNDS):
            batch = int(math.ceil((n - have) / frac * 1.2)) + 16
            if drawn + batch > limit:
                batch = limit - drawn
                if batch <= 0:
                    break
            arrays = keep(candidates(rng.random((batch, dim))))
            chunks.append(arrays)
            have += arrays[0].shape[0]
            drawn += batch
            if have >= n:
                return tuple(
                    np.concatenate([c[i] for c in chunks], axis=0)[:n] for i in range(len(arrays))
                )
        raise fail(have, drawn)
    if seed is None:
        assert rng is not None
        seed = _new_seed(rng)
    total = int(math.ceil(n / frac * 1.1)) + 16
    have = 0
    for _ in range(40):
        if total > limit:
            break
        arrays = keep(candidates(_sobol_prefix(dim, total, seed)))
        have = arrays[0].shape[0]
        if have >= n:
            return tuple(a[:n] for a in arrays)
        total *= 2
    raise fail(have, total // 2)


# ---------------------------------------------------------------------------------------------
# box cover of low-fill domains
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxCover:
    """Equal axis-aligned boxes whose union contains a domain.

    Attributes
    ----------
    lo : ndarray, shape (K, d)
        Lower corners of the boxes (length units).
    size : ndarray, shape (d,)
        Edge lengths of every box.
    """

    lo: FloatArray
    size: FloatArray

    @property
    def measure(self) -> float:
        """Total area / volume of the boxes."""
        return float(self.lo.shape[0] * np.prod(self.size))

    def map(self, u: FloatArray) -> FloatArray:
        """Measure-preserving map of ``u`` (m, d) in the unit cube onto the boxes.

        The first coordinate picks the box and, rescaled, is the first coordinate in it.
        """
        K = self.lo.shape[0]
        t = u[:, 0] * K
        j = np.minimum(np.floor(t).astype(np.int64), K - 1)
        v = u.copy()
        v[:, 0] = np.clip(t - j, 0.0, 1.0)
        return self.lo[j] + v * self.size


def box_cover(
    phi: Callable[[FloatArray], FloatArray],
    lo: FloatArray,
    hi: FloatArray,
    measure: float,
) -> BoxCover:
    """Cover a domain by equal boxes, refined where the domain is thin.

    The bounding box ``[lo, hi]`` is halved along every axis repeatedly; a box is kept when
    the domain may reach it, i.e. when ``phi`` (a signed distance, negative inside, that
    does not overestimate the distance outside) at its centre is at most 1.5 times its
    half-diagonal. Refinement stops once the fill fraction ``measure / cover measure`` reaches
    :data:`FILL_TARGET` or the cover would exceed about :data:`COVER_MAX_BOXES` boxes.

    Parameters
    ----------
    phi : callable
        ``phi(X (m, d)) -> (m,)``, the domain's signed distance (length units).
    lo, hi : ndarray, shape (d,)
        Bounding box of the domain (length units).
    measure : float
        Area / volume of the domain.

    Returns
    -------
    BoxCover
    """
    d = lo.shape[0]
    size = hi - lo
    corners = lo[None, :].copy()
    offsets = np.array(np.meshgrid(*([[0.0, 1.0]] * d), indexing="ij")).reshape(d, -1).T
    while True:
        cover = BoxCover(corners, size)
        if measure >= FILL_TARGET * cover.measure:
            return cover
        if corners.shape[0] * 2**d > COVER_MAX_BOXES:
            return cover
        size = 0.5 * size
        kids = (corners[:, None, :] + offsets[None, :, :] * size).reshape(-1, d)
        reach = 1.5 * 0.5 * float(np.linalg.norm(size))
        kept = kids[phi(kids + 0.5 * size) <= reach]
        if kept.shape[0] == 0:  # cannot happen for a non-empty domain: keep the coarser cover
            return cover
        corners = kept
