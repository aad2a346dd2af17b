"""Measures of 3D set differences against closed forms: thin walls along every axis
(thinner than the lines of the parametrisation are apart), a box minus a spherical
shell, and the refusal of a wall too thin to be found."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pinngelu as pg
from pinngelu.geometry.partint import integrate_part

BOX_PARTS = ("x_min", "x_max", "y_min", "y_max", "z_min", "z_max")


def wall(axis: int, t: float, at: float = 0.3001) -> pg.Difference:
    """The unit cube cut down to the wall ``at <= x_axis <= at + t``."""
    lo1, hi1 = np.full(3, -1.0), np.full(3, 2.0)
    lo1[axis] = at + t
    lo2, hi2 = np.full(3, -1.0), np.full(3, 2.0)
    hi2[axis] = at
    cube = pg.Box([0, 0, 0], [1, 1, 1])
    upper = pg.Difference(cube, pg.Box(lo1, hi1), {s: "u_" + s for s in BOX_PARTS})
    return pg.Difference(upper, pg.Box(lo2, hi2), {s: "l_" + s for s in BOX_PARTS})


@pytest.mark.parametrize("axis, t", [(0, 1e-3), (1, 3e-3), (2, 1e-2), (0, 1e-2)])
def test_thin_walls_have_their_volume_and_faces(axis, t):
    geom = wall(axis, t)
    assert geom.measure == pytest.approx(t, rel=1e-10)
    for k, name in enumerate(geom.boundary_parts):
        expected = 1.0 if name.startswith(("u_", "l_")) else t  # the two big faces
        assert geom._part_measure(k) == pytest.approx(expected, rel=1e-10), name
    # the sides are exactly the four faces of the cube the wall crosses
    assert len(geom.boundary_parts) == 6


@pytest.mark.parametrize("r_in, r_out", [(0.3, 0.6), (0.2, 0.9)])
def test_box_minus_a_spherical_shell(r_in, r_out):
    """The octant of the shell lies inside the unit cube, its flat faces on the cube's:
    the volume is 1 - pi/6 (r_out^3 - r_in^3), each cut face 1 - pi/4 (r_out^2 - r_in^2)."""
    names = {s: "s_" + s for s in ("inner", "outer", "x0", "y0", "z0")}
    geom = pg.Difference(pg.Box([0, 0, 0], [1, 1, 1]), pg.SphericalShellOctant(r_in, r_out), names)
    assert geom.measure == pytest.approx(1 - math.pi / 6 * (r_out**3 - r_in**3), rel=1e-6)
    face = 1 - math.pi / 4 * (r_out**2 - r_in**2)
    meas = dict(zip(geom.boundary_parts, geom._meas, strict=True))
    for s in ("x_min", "y_min", "z_min"):
        assert meas[s] == pytest.approx(face, rel=1e-6)
    assert meas["s_outer"] == pytest.approx(math.pi / 2 * r_out**2, rel=1e-10)
    # the moments of the parts close: the identity times the volume
    o = np.full(3, 0.5)
    total = sum(integrate_part(geom, k, o)[2] for k in range(len(geom.boundary_parts)))
    np.testing.assert_allclose(total, geom.measure * np.eye(3), atol=1e-6 * geom.measure)


@pytest.mark.parametrize("axis", [0, 2])
def test_a_wall_too_thin_to_find_is_refused(axis):
    with pytest.raises(ValueError, match=r"boundary of the difference is not resolved.*thinner"):
        wall(axis, 2e-4)
