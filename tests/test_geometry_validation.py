"""Degenerate, non-finite and complex inputs to the analytic shapes raise a clear error that
names the shape or the argument."""

from __future__ import annotations

import numpy as np
import pytest

from pinngelu.geometry import (
    AnnularSector,
    Annulus,
    Box,
    Difference,
    Disk,
    Polygon,
    Rectangle,
    SphericalShellOctant,
)

NAN, INF = float("nan"), float("inf")

BAD_SHAPES = [
    # (constructor, exception, message phrase)
    (
        lambda: Rectangle(0, 1e-300, 0, 1),
        ValueError,
        r"degenerate Rectangle: x_max - x_min = 1e-300",
    ),
    (lambda: Rectangle(0, 1, 0, 1e-300), ValueError, r"degenerate Rectangle: y_max - y_min"),
    (lambda: Rectangle(0, 0, 0, 1), ValueError, r"Rectangle: need lo < hi.*x_max - x_min = 0"),
    (lambda: Rectangle(0, -1, 0, 1), ValueError, r"Rectangle: need lo < hi"),
    (lambda: Rectangle(0, NAN, 0, 1), ValueError, "x_max must be finite"),
    (lambda: Rectangle(0, 1, -INF, 1), ValueError, "y_min must be finite"),
    (lambda: Rectangle(0, 1e-200, 0, 1e-200), ValueError, r"Rectangle: its area 0.0 is not"),
    (lambda: Rectangle(-1e300, 1e300, -1e300, 1e300), ValueError, r"its area inf is not"),
    (lambda: Rectangle(1e6, 1e6 + 1e-7, 0, 1), ValueError, "too small relative to the size"),
    (lambda: Rectangle(0, 1j, 0, 1), TypeError, "x_max must be a real number.*complex"),
    (lambda: Rectangle(0, "1", 0, 1), TypeError, "x_max must be a real number.*str"),
    (lambda: Box([0, 0, 0], [1, 1e-300, 1]), ValueError, r"degenerate Box: hi\[1\] - lo\[1\]"),
    (lambda: Box([0, 0, 0], [1, 0, 1]), ValueError, "Box: need lo < hi"),
    (lambda: Box([0, 0, NAN], [1, 1, 1]), ValueError, "lo must be finite"),
    (lambda: Box([0, 0, 0], [1, 1 + 1j, 1]), TypeError, "hi must be real"),
    (lambda: Disk((0, 0), 1e-300), ValueError, r"degenerate Disk: its area"),
    (lambda: Disk((1e6, 0), 1e-7), ValueError, r"degenerate Disk: radius = 1e-07"),
    (lambda: Disk((0, 0), 0.0), ValueError, "radius must be positive"),
    (lambda: Disk((0, 0), NAN), ValueError, "radius must be finite"),
    (lambda: Disk((0, 0), INF), ValueError, "radius must be finite"),
    (lambda: Disk((0, 0), 1 + 1j), TypeError, "radius must be a real number.*complex"),
    (lambda: Disk((0, 1j), 1.0), TypeError, "center must be real"),
    (lambda: Disk((0, NAN), 1.0), ValueError, "center must be finite"),
    (
        lambda: Annulus((0, 0), 1.0, 1.0 + 1e-13),
        ValueError,
        "degenerate Annulus: r_outer - r_inner",
    ),
    (lambda: Annulus((0, 0), -1.0, 1.0), ValueError, "r_inner must be positive"),
    (lambda: Annulus((0, 0), 1.0, 2j), TypeError, "r_outer must be a real number"),
    (
        lambda: AnnularSector((0, 0), 1.0, 2.0, 0.0, 1e-14),
        ValueError,
        "degenerate AnnularSector: theta_end - theta_start",
    ),
    (
        lambda: AnnularSector((0, 0), 1.0, 1.0 + 1e-14, 0.0, 1.0),
        ValueError,
        "degenerate AnnularSector: r_outer - r_inner",
    ),
    (lambda: AnnularSector((0, 0), 1.0, 2.0, 0.0, NAN), ValueError, "theta_end must be finite"),
    (
        lambda: SphericalShellOctant(1.0, 1.0 + 1e-14),
        ValueError,
        "degenerate SphericalShellOctant: r_outer - r_inner",
    ),
    (lambda: SphericalShellOctant(1e-200, 2e-200), ValueError, "SphericalShellOctant: its volume"),
    (lambda: SphericalShellOctant(1.0, INF), ValueError, "r_outer must be finite"),
    (
        lambda: Polygon([[0, 0], [1, 0], [2, 0], [3, 0]]),
        ValueError,
        r"zero area \(all 4 vertices are collinear",
    ),
    (lambda: Polygon([[0, 0], [0, 0], [0, 0]]), ValueError, "vertices span no extent"),
    (lambda: Polygon([[0, 0], [1, 0], [1, 0], [0, 1]]), ValueError, "vertices 1 and 2 coincide"),
    (lambda: Polygon([[0, 0], [1, 0], [0, 1], [0, 0]]), ValueError, "vertices 3 and 0 coincide"),
    (lambda: Polygon([[0, 0], [1, 0], [0.5, 1e-13]]), ValueError, "degenerate polygon: zero area"),
    (lambda: Polygon([[0, 0], [1, 0], [0, 1 + 1j]]), TypeError, "vertices must be real"),
    (lambda: Polygon([[0, 0], [1, 0], [0, NAN]]), ValueError, "vertices must be finite"),
    (lambda: Polygon([["a", 0], [1, 0], [0, 1]]), ValueError, "vertices must be an array of real"),
]


@pytest.mark.parametrize(("make", "exc", "phrase"), BAD_SHAPES)
def test_bad_shape_raises(make, exc, phrase):
    with pytest.raises(exc, match=phrase):
        make()


def test_thin_but_resolvable_shapes_are_accepted():
    assert Rectangle(0.0, 1e-9, 0.0, 1.0).measure == pytest.approx(1e-9)
    assert Disk((0.0, 0.0), 1e-100).measure == pytest.approx(np.pi * 1e-200)
    assert Annulus((0.0, 0.0), 1.0, 1.0 + 1e-9).measure > 0


@pytest.mark.parametrize(
    "geom",
    [
        Disk((0, 0), 1.0),
        Polygon([[0, 0], [1, 0], [0, 1]]),
        Difference(Rectangle(0, 1, 0, 1), Disk((0, 0), 0.5), {"boundary": "hole"}),
    ],
    ids=["disk", "polygon", "difference"],
)
def test_contains_rejects_complex_and_strings(geom):
    with pytest.raises(TypeError, match="X must be real, got complex"):
        geom.contains(np.array([[0.1, 0.1 + 0j]]))
    with pytest.raises(TypeError, match="tol must be a real number"):
        geom.contains(np.zeros((1, 2)), tol=1j)
    with pytest.raises(ValueError, match="X must be an array of real numbers"):
        geom.contains([["a", "b"]])
