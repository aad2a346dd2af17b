"""Sampling of thin and low-fill domains: bounded rejection, the box-cover fallback, and a
clear error (naming the domain and its fill fraction) instead of a hang."""

from __future__ import annotations

import numpy as np
import pytest

from pinngelu.geometry import Box, Difference, Polygon, Rectangle
from pinngelu.geometry.sampling import FILL_MIN, rejection_sample

METHODS = ("uniform", "sobol")


def sliver(width: float = 1e-6) -> Polygon:
    """A triangle of unit length along the diagonal, ``width`` wide at its far end."""
    return Polygon([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0 + width]])


def thin_difference() -> Difference:
    """The unit square minus all but a strip of width 5e-4 at x = 1 (0.05% of the area)."""
    cut = Rectangle(-1.0, 1.0 - 5e-4, -1.0, 2.0)
    return Difference(
        Rectangle(0.0, 1.0, 0.0, 1.0), cut, {s: "cut_" + s for s in cut.boundary_parts}
    )


@pytest.mark.parametrize("method", METHODS)
def test_sliver_polygon_samples_inside_and_deterministic(method):
    geom = sliver()
    assert geom.measure / np.prod(np.subtract(*geom.bbox[::-1])) < FILL_MIN
    X = geom.sample_interior(700, np.random.default_rng(3), method=method)
    assert X.shape == (700, 2)
    assert np.all(geom.contains(X, tol=0.0))
    Y = geom.sample_interior(700, np.random.default_rng(3), method=method)
    np.testing.assert_array_equal(X, Y)
    # uniform along the sliver: the density grows linearly with x (the width does)
    counts = np.histogram(X[:, 0], bins=2, range=(0.0, 1.0))[0]
    assert counts[1] > 2 * counts[0]


@pytest.mark.parametrize("method", METHODS)
def test_thin_difference_interior_and_boundary(method):
    geom = thin_difference()
    assert geom.measure == pytest.approx(5e-4, rel=1e-8)
    X = geom.sample_interior(600, np.random.default_rng(5), method=method)
    assert X.shape == (600, 2)
    assert np.all(geom.contains(X, tol=0.0))
    assert X[:, 0].min() >= 1.0 - 5e-4 - 1e-15
    np.testing.assert_array_equal(
        X, geom.sample_interior(600, np.random.default_rng(5), method=method)
    )
    # the thin remains of the bottom and top edges are sampled on their kept stretch only
    bs = geom.sample_boundary(400, np.random.default_rng(6), parts=["bottom", "top"], method=method)
    assert bs.counts()["bottom"] == 200 and bs.counts()["top"] == 200
    assert bs.points[:, 0].min() >= 1.0 - 5e-4 - 1e-12
    assert bs.points[:, 0].max() <= 1.0
    np.testing.assert_allclose(np.abs(bs.normals[:, 1]), 1.0)


def test_thin_3d_difference_interior():
    geom = Difference(
        Box([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]),
        Box([-1.0, -1.0, -1.0], [1.0 - 1e-3, 2.0, 2.0]),
        {s: "c_" + s for s in Box([0, 0, 0], [1, 1, 1]).boundary_parts},
    )
    X = geom.sample_interior(300, np.random.default_rng(0))
    assert X.shape == (300, 3)
    assert np.all(geom.contains(X, tol=0.0))


def test_too_thin_polygon_raises_with_fill_fraction():
    geom = sliver(1e-10)
    with pytest.raises(
        ValueError, match=r"cannot sample Polygon.*fill fraction [0-9.e-]+ is below"
    ):
        geom.sample_interior(10, np.random.default_rng(0))


class _Liar(Rectangle):
    """A rectangle whose membership test rejects everything (a broken subclass)."""

    _interior_exact = False

    def _phi(self, X):
        return np.ones(X.shape[0])


@pytest.mark.parametrize("method", METHODS)
def test_rejection_that_never_accepts_fails_fast(method):
    geom = _Liar(0.0, 1.0, 0.0, 1.0)
    with pytest.raises(
        ValueError, match=r"rejection sampling of Rectangle.*measured fill fraction 0"
    ):
        geom.sample_interior(50, np.random.default_rng(0), method=method)


def test_rejection_sample_bounds_the_work():
    calls = []

    def cands(u):
        calls.append(u.shape[0])
        return (u,)

    with pytest.raises(ValueError, match="0 of .* accepted"):
        rejection_sample(
            10,
            2,
            cands,
            lambda X: np.zeros(X.shape[0], bool),
            0.5,
            "uniform",
            np.random.default_rng(0),
            None,
            "dom",
        )
    assert len(calls) <= 64 and sum(calls) <= 1 << 22
    with pytest.raises(
        ValueError, match="cannot sample dom by rejection: its fill fraction 1e-09 is below"
    ):
        rejection_sample(10, 2, cands, lambda X: None, 1e-9, "uniform", None, None, "dom")
