"""The container of boundary points, normals and part labels: :class:`BoundarySample`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import BoolArray, FloatArray, IntArray, Predicate


@dataclass(frozen=True, eq=False)
class BoundarySample:
    """Points on a boundary with outward unit normals and part labels.

    Attributes
    ----------
    points : ndarray, shape (n, d)
        Boundary points (domain length units).
    normals : ndarray, shape (n, d)
        Outward unit normals at ``points`` (dimensionless).
    part : ndarray of int, shape (n,)
        Index of the boundary part of each point into ``names``.
    names : tuple of str
        Names of all boundary parts of the geometry the sample was drawn from.
    """

    points: FloatArray
    normals: FloatArray
    part: IntArray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        nrm = np.asarray(self.normals, dtype=np.float64)
        prt = np.asarray(self.part, dtype=np.int64)
        if pts.ndim != 2:
            raise ValueError(f"points must have shape (n, d), got {pts.shape}")
        if nrm.shape != pts.shape:
            raise ValueError(f"normals must have shape {pts.shape}, got {nrm.shape}")
        if prt.shape != (pts.shape[0],):
            raise ValueError(f"part must have shape ({pts.shape[0]},), got {prt.shape}")
        names = tuple(str(s) for s in self.names)
        if prt.size and (prt.min() < 0 or prt.max() >= len(names)):
            raise ValueError("part indices must index into names")
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "normals", nrm)
        object.__setattr__(self, "part", prt)
        object.__setattr__(self, "names", names)

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def dim(self) -> int:
        """Spatial dimension ``d``."""
        return int(self.points.shape[1])

    def counts(self) -> dict[str, int]:
        """Number of points on each part.

        Returns
        -------
        dict
            Maps every name in ``names`` to its number of points.
        """
        c = np.bincount(self.part, minlength=len(self.names))
        return {name: int(c[i]) for i, name in enumerate(self.names)}

    def mask(self, name_or_pred: str | Sequence[str] | Predicate) -> BoolArray:
        """Boolean mask (n,) of the points on the given part(s) or accepted by a predicate.

        Parameters
        ----------
        name_or_pred : str, sequence of str or callable
            Part name(s) from ``names``, or ``pred(X (n, d)) -> bool (n,)``.

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        if callable(name_or_pred):
            return _eval_predicate(name_or_pred, self.points)
        wanted = [name_or_pred] if isinstance(name_or_pred, str) else list(name_or_pred)
        idx = []
        for name in wanted:
            if name not in self.names:
                raise ValueError(
                    f"unknown boundary part {name!r}; valid parts: {', '.join(self.names)}"
                )
            idx.append(self.names.index(name))
        return np.isin(self.part, np.asarray(idx, dtype=np.int64))

    def select(self, name_or_pred: str | Sequence[str] | Predicate) -> BoundarySample:
        """Sub-sample on the given part(s) or where a predicate holds.

        Parameters
        ----------
        name_or_pred : str, sequence of str or callable
            Part name(s) from ``names``, or ``pred(X (n, d)) -> bool (n,)``.

        Returns
        -------
        BoundarySample
            The selected points, with the same ``names`` (part indices unchanged).
        """
        m = self.mask(name_or_pred)
        return BoundarySample(self.points[m], self.normals[m], self.part[m], self.names)


def _eval_predicate(pred: Predicate, X: FloatArray) -> BoolArray:
    out = np.asarray(pred(X))
    if out.shape != (X.shape[0],):
        raise ValueError(
            f"boundary predicate must return a boolean array of shape ({X.shape[0]},), "
            f"got shape {out.shape}"
        )
    return out.astype(bool)
