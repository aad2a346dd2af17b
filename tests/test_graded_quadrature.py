"""Volume quadrature graded toward singular points: the ungraded output unchanged,
measures kept, singular energy densities of a re-entrant corner (2D) and of a point on
the boundary of a box (3D) against independent references, curved cells."""

import itertools
import math

import numpy as np
import pytest
from scipy import integrate

import pinngelu as pg
from pinngelu.geometry.graded import Grading, product_rule
from pinngelu.geometry.project import project_to_boundary
from pinngelu.geometry.quadrature import (
    closed_rule,
    refine_simplices,
    refinement_levels,
    volume_quadrature,
)

L_SHAPE = [[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]]
CORNER = np.array([1.0, 1.0])
LAM = 0.5444837  # the first exponent of a 270 degree corner
ALPHA = 2.0 * LAM - 2.0  # of the strain-energy density r^ALPHA


# ------------------------------------------------- the ungraded quadrature, as it was
_PAIRS = {d: np.array(list(itertools.combinations(range(d + 1), 2))) for d in (2, 3)}


def _old_unique_edges(cells):
    E = np.sort(cells[:, _PAIRS[cells.shape[1] - 1]], axis=2).reshape(-1, 2)
    ue, inv = np.unique(E, axis=0, return_inverse=True)
    return ue, inv.reshape(-1)


def _old_edge_midpoints(geometry, P, cells, h):
    d = P.shape[1]
    ue, inv = _old_unique_edges(cells)
    mid = P[ue].mean(axis=1)
    if not getattr(geometry, "straight_cells", False):
        if d == 2:
            on_bnd = np.bincount(inv, minlength=ue.shape[0]) == 1
        else:
            F = np.sort(
                np.stack([cells[:, list(c)] for c in itertools.combinations(range(4), 3)], 1),
                axis=2,
            ).reshape(-1, 3)
            uf, cnt = np.unique(F, axis=0, return_counts=True)
            bf = uf[cnt == 1]
            be = np.sort(np.concatenate([bf[:, [0, 1]], bf[:, [0, 2]], bf[:, [1, 2]]]), axis=1)
            key = ue[:, 0] * P.shape[0] + ue[:, 1]
            on_bnd = np.isin(key, be[:, 0] * P.shape[0] + be[:, 1])
        idx = np.flatnonzero(on_bnd)
        mid[idx] = project_to_boundary(geometry, mid[idx], h)
    return mid[inv].reshape(cells.shape[0], _PAIRS[d].shape[0], d)


def _old_quadratic_map(V, mid, lam):
    pairs = _PAIRS[V.shape[2]]
    x = np.einsum("i,mid->md", lam * (2.0 * lam - 1.0), V)
    x += np.einsum("e,med->md", 4.0 * lam[pairs[:, 0]] * lam[pairs[:, 1]], mid)
    dl = (4.0 * lam - 1.0)[None, :, None] * V
    for e, (i, j) in enumerate(pairs):
        dl[:, i] += 4.0 * lam[j] * mid[:, e]
        dl[:, j] += 4.0 * lam[i] * mid[:, e]
    return x, np.linalg.det((dl[:, 1:] - dl[:, :1]).transpose(0, 2, 1))


def _old_bary(d, S):
    lam = np.zeros(d + 1)
    lam[list(S)] = 1.0 / len(S)
    return lam


def _old_volume_quadrature(geometry, h):
    """``volume_quadrature(geometry, h)`` before grading existed."""
    P, cells = geometry.mesh(float(h))
    d = geometry.dim
    if getattr(geometry, "straight_cells", False):
        for _ in range(refinement_levels(geometry, float(h))):
            P, cells = refine_simplices(P, cells)
    V = P[cells]
    mid = _old_edge_midpoints(geometry, P, cells, float(h))
    straight = 0.5 * (V[:, _PAIRS[d][:, 0]] + V[:, _PAIRS[d][:, 1]])
    orient = np.sign(np.linalg.det(V[:, 1:] - V[:, :1]))
    rules = [(k, wk, list(itertools.combinations(range(d + 1), k))) for k, wk in closed_rule(d)]
    folded = np.zeros(cells.shape[0], dtype=bool)
    for _, _, subsets in rules:
        for S in subsets:
            folded |= _old_quadratic_map(V, mid, _old_bary(d, S))[1] * orient <= 0.0
    mid[folded] = straight[folded]
    Xs, ws = [], []
    for k, wk, subsets in rules:
        faces = np.sort(np.stack([cells[:, list(c)] for c in subsets], 1), axis=2)
        xs, dets = zip(*(_old_quadratic_map(V, mid, _old_bary(d, S)) for S in subsets), strict=True)
        x = np.stack(xs, 1).reshape(-1, d)
        wc = (np.abs(np.stack(dets, 1)) * (wk / math.factorial(d))).reshape(-1)
        uniq, first, inv = np.unique(
            faces.reshape(-1, k), axis=0, return_index=True, return_inverse=True
        )
        w = np.zeros(uniq.shape[0])
        np.add.at(w, inv.reshape(-1), wc)
        Xs.append(x[first])
        ws.append(w)
    return np.ascontiguousarray(np.concatenate(Xs)), np.concatenate(ws)


def _plate():
    return pg.Rectangle(0.0, 1.0, 0.0, 1.0) - pg.Disk([0.5, 0.5], 0.25)


UNGRADED_CASES = [
    (pg.Polygon(L_SHAPE), 0.1),
    (pg.Polygon([[0, 0], [3, 0], [3, 1], [2, 1.5], [0.5, 1.2]]), 0.17),
    (_plate(), 0.1),
    (pg.Box([0, 0, 0], [1.0, 0.5, 0.3]), 0.1),
    (pg.SphericalShellOctant(0.5, 1.0), 0.25),
    (
        pg.MeshDomain(
            np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]]),
            np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]]),
        ),
        0.3,
    ),
]


@pytest.mark.parametrize("geom,h", UNGRADED_CASES)
def test_ungraded_output_is_unchanged(geom, h):
    X0, w0 = _old_volume_quadrature(geom, h)
    for X, w in (volume_quadrature(geom, h), volume_quadrature(geom, h, None)):
        assert np.array_equal(X, X0) and np.array_equal(w, w0)


# ------------------------------------------------------------------ measure, rules
@pytest.mark.parametrize("order", [3, 4, 6])
@pytest.mark.parametrize("d", [2, 3])
def test_product_rule_is_closed_positive_and_exact(d, order):
    lam, w = product_rule(d, order)
    assert lam.shape == (order**d, d + 1) and np.all(w > 0) and np.all(lam >= 0)
    np.testing.assert_allclose(lam.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert np.all(lam[:, 0] < 0.99)  # no point on the collapsed vertex
    assert all(np.any(lam[:, j] == 0.0) for j in range(d + 1))  # points on every face
    deg = 2 * order - 3
    errs = {}
    for e in itertools.product(range(deg + 2), repeat=d):
        exact = math.prod(math.factorial(k) for k in e) / math.factorial(sum(e) + d)
        got = np.sum(w * np.prod(lam[:, 1:] ** np.array(e), axis=1)) / math.factorial(d)
        errs.setdefault(sum(e), []).append(abs(got - exact) / exact)
    assert max(max(errs[k]) for k in range(deg + 1)) < 1e-12
    assert max(errs[deg + 1]) > 1e-9  # of degree 2 order - 3 exactly


@pytest.mark.parametrize(
    "geom,h,points,measure",
    [
        (pg.Polygon(L_SHAPE), 0.1, [[1, 1]], 3.0),
        (pg.Polygon(L_SHAPE), 0.13, [[1, 1], [0, 0], [2, 0.5], [0.7, 0.3]], 3.0),
        (pg.Box([0, 0, 0], [1.0, 0.5, 0.3]), 0.1, [[0.5, 0, 0], [1.0, 0.5, 0.3]], 0.15),
    ],
)
def test_graded_weights_keep_the_measure(geom, h, points, measure):
    X, w = volume_quadrature(geom, h, Grading(points, levels=8))
    assert w.sum() == pytest.approx(measure, rel=1e-12)
    assert np.all(w > 0) and np.all(geom.contains(X, tol=1e-12))
    assert len(np.unique(X, axis=0)) == len(X)
    # and cubics stay exact
    xp = X[:, 0] ** 2 * X[:, 1]
    assert np.sum(w * xp) == pytest.approx(_xxy(geom), rel=1e-12)


def _xxy(geom):
    """Integral of x^2 y over the L shape or the box."""
    if geom.dim == 2:
        return 4.0 * 4.0 / 3.0 - (8.0 - 1.0) / 3.0 * (4.0 - 1.0) / 2.0
    return (1.0 / 3.0) * (0.5**2 / 2.0) * 0.3


def test_grading_cost_grows_linearly_with_levels():
    """Once the radius factor has shrunk to 1, every level adds the same number of
    points: the cells about a point, not about the whole domain."""
    geom = pg.Polygon(L_SHAPE)
    n = [len(volume_quadrature(geom, 0.1, Grading([1, 1], levels=k))[1]) for k in (12, 16, 20)]
    assert n[2] - n[1] == n[1] - n[0] < 4 * 400
    grading = [Grading([1, 1], levels=k, reach=0) for k in (12, 16, 20)]
    n = [len(volume_quadrature(geom, 0.1, g)[1]) for g in grading]
    assert n[2] - n[1] == n[1] - n[0] < 4 * 100
    box = pg.Box([0, 0, 0], [1, 1, 1])
    n = [len(volume_quadrature(box, 0.25, Grading([0.5, 0, 0], levels=k))[1]) for k in (4, 7, 10)]
    assert abs((n[2] - n[1]) - (n[1] - n[0])) < 0.02 * (n[1] - n[0]) < 3 * 900


def test_grading_arguments_are_checked():
    geom = pg.Polygon(L_SHAPE)
    with pytest.raises(ValueError, match="dimension 3 for a domain of dimension 2"):
        volume_quadrature(geom, 0.1, [[1.0, 1.0, 0.0]])
    for bad in (
        {"points": [[np.nan, 1.0]]},
        {"points": np.empty((0, 2))},
        {"points": [[1, 1]], "levels": -1},
        {"points": [[1, 1]], "levels": 2.0},
        {"points": [[1, 1]], "radius_factor": 0.5},
        {"points": [[1, 1]], "reach": -1.0},
        {"points": [[1, 1]], "order": 2},
    ):
        with pytest.raises(ValueError, match="Grading"):
            Grading(**bad)
    assert Grading([1, 1]) == Grading(np.array([[1.0, 1.0]]))
    assert hash(Grading([1, 1])) == hash(Grading([[1.0, 1.0]]))
    assert Grading([1, 1]) != Grading([1, 1], levels=3)
    X, w = volume_quadrature(geom, 0.2, [[1.0, 1.0]])  # an array: the defaults
    X1, w1 = volume_quadrature(geom, 0.2, Grading([[1.0, 1.0]]))
    assert np.array_equal(X, X1) and np.array_equal(w, w1)


# ----------------------------------------------------- 2D: a re-entrant corner
def _l_shape_energy_exact():
    """Integral of r^ALPHA over the L shape: three unit squares with a vertex on the
    corner, each two triangles, int_0^(pi/4) int_0^(1/cos t) r^(ALPHA+1) dr dt."""
    inner = integrate.quad(
        lambda t: math.cos(t) ** -(ALPHA + 2.0), 0.0, math.pi / 4, epsabs=0, epsrel=1e-13
    )[0]
    return 3.0 * 2.0 * inner / (ALPHA + 2.0)


def _l_shape_polar(g):
    """Integral of r^ALPHA g(theta, x, y) over the L shape, in polar coordinates about
    the corner: angles pi/2 to 2 pi in six pieces of pi/4, each reaching one side, and
    r^(ALPHA + 1) as the algebraic weight of QUADPACK's QAWS."""

    def r_max(t):
        c, s = math.cos(t), math.sin(t)
        return min(
            (-1.0 / c if c < -1e-15 else math.inf, 1.0 / c if c > 1e-15 else math.inf)
            + (-1.0 / s if s < -1e-15 else math.inf, 1.0 / s if s > 1e-15 else math.inf)
        )

    def ray(t):
        c, s = math.cos(t), math.sin(t)
        return integrate.quad(
            lambda r: g(t, 1.0 + r * c, 1.0 + r * s),
            0.0,
            r_max(t),
            weight="alg",
            wvar=(ALPHA + 1.0, 0.0),
            epsabs=0.0,
            epsrel=1e-13,
        )[0]

    pieces = [math.pi / 2 + k * math.pi / 4 for k in range(7)]
    return sum(
        integrate.quad(ray, a, b, epsabs=0.0, epsrel=1e-12)[0]
        for a, b in zip(pieces[:-1], pieces[1:], strict=True)
    )


def _corner_distance(X):
    return np.linalg.norm(X - CORNER, axis=1)


def test_corner_energy_density_to_1e8_with_the_default_grading():
    geom = pg.Polygon(L_SHAPE)
    exact = _l_shape_energy_exact()
    assert _l_shape_polar(lambda t, x, y: 1.0) == pytest.approx(exact, rel=1e-11)
    for h in (0.05, 0.1):
        X, w = volume_quadrature(geom, h, Grading([[1.0, 1.0]]))
        r = _corner_distance(X)
        assert r.min() > 0.0 and np.all(w > 0) and np.all(geom.contains(X, tol=1e-12))
        err = abs(np.sum(w * r**ALPHA) - exact) / exact
        assert err < 1e-8
    # cells of one size: a point on the corner (infinite), and without it 1e-2 off
    X0, w0 = volume_quadrature(geom, h)
    r0 = _corner_distance(X0)
    assert np.sum(r0 == 0.0) == 1
    err0 = abs(np.sum(w0[r0 > 0] * r0[r0 > 0] ** ALPHA) - exact) / exact
    assert err0 > 1e-4 and err0 > 1e5 * err
    # the closed rule alone (reach 0) is 3e-6 off: the product rule near the corner counts
    X1, w1 = volume_quadrature(geom, h, Grading([[1.0, 1.0]], reach=0))
    err1 = abs(np.sum(w1 * _corner_distance(X1) ** ALPHA) - exact) / exact
    assert 100 * err < err1 < 1e-4 and len(w1) < len(w) / 3


def test_corner_energy_density_with_angular_variation():
    geom, h = pg.Polygon(L_SHAPE), 0.1

    def g(t, x, y):
        return (1.0 + np.cos(t)) * np.exp(0.3 * x - 0.2 * y) * (1.0 + x * y)

    exact = _l_shape_polar(g)
    X, w = volume_quadrature(geom, h, Grading([[1.0, 1.0]]))
    d = X - CORNER
    r = np.hypot(d[:, 0], d[:, 1])
    t = np.mod(np.arctan2(d[:, 1], d[:, 0]), 2.0 * math.pi)
    err = abs(np.sum(w * r**ALPHA * g(t, X[:, 0], X[:, 1])) - exact) / exact
    assert err < 1e-8
    X0, w0 = volume_quadrature(geom, h)
    d0 = X0 - CORNER
    r0 = np.hypot(d0[:, 0], d0[:, 1])
    t0 = np.mod(np.arctan2(d0[:, 1], d0[:, 0]), 2.0 * math.pi)
    k = r0 > 0
    err0 = abs(np.sum(w0[k] * r0[k] ** ALPHA * g(t0[k], X0[k, 0], X0[k, 1])) - exact) / exact
    assert err0 > 1e-4


# ------------------------------------------------------- 3D: a point on an edge
def _box_corner_integral(a, b, c, beta):
    """Integral of r^beta over [0, a] x [0, b] x [0, c], r the distance to the origin:
    three pyramids from the origin to the far faces, x = s (a, u, v) on the first."""

    def pyramid(a, b, c):
        f = integrate.dblquad(
            lambda v, u: (a * a + u * u + v * v) ** (beta / 2.0),
            0,
            b,
            0,
            c,
            epsabs=0.0,
            epsrel=1e-13,
        )[0]
        return a * f / (beta + 3.0)

    return pyramid(a, b, c) + pyramid(b, c, a) + pyramid(c, a, b)


def test_3d_singular_density_about_an_edge_midpoint():
    geom, h, beta = pg.Box([0, 0, 0], [1, 1, 1]), 0.2, -0.6
    p = np.array([0.5, 0.0, 0.0])
    exact = 2.0 * _box_corner_integral(0.5, 1.0, 1.0, beta)
    X, w = volume_quadrature(geom, h, Grading([p]))
    r = np.linalg.norm(X - p, axis=1)
    assert r.min() > 0.0 and np.all(w > 0) and np.all(geom.contains(X, tol=1e-12))
    assert w.sum() == pytest.approx(1.0, rel=1e-12)
    err = abs(np.sum(w * r**beta) - exact) / exact
    assert err < 1e-6
    X0, w0 = volume_quadrature(geom, h)
    r0 = np.linalg.norm(X0 - p, axis=1)
    assert r0.min() > 0.0
    err0 = abs(np.sum(w0 * r0**beta) - exact) / exact
    assert err0 > 1e-5 and err0 > 50 * err


# ----------------------------------------------------------------- curved cells
def test_curved_cells_keep_their_area_and_points_stay_inside():
    geom, h = _plate(), 0.025
    area = 1.0 - math.pi * 0.25**2
    _, w0 = volume_quadrature(geom, h)
    on_circle = [0.5 + 0.25 * math.cos(2.0), 0.5 + 0.25 * math.sin(2.0)]
    for points in ([[0.0, 0.0]], [[0.0, 0.0], on_circle]):
        X, w = volume_quadrature(geom, h, Grading(points, levels=12))
        assert len(w) > len(w0) + 12 * 50 * len(points)
        assert np.all(w > 0) and np.all(geom.contains(X, tol=1e-12))
        assert w.sum() == pytest.approx(w0.sum(), rel=1e-13)  # subdivision keeps it exactly
        assert abs(w.sum() - area) / area < 1e-7  # the quadratic cells' accuracy
    # the points of sub-cells on the hole lie on the circle, not on the quadratic edges
    rc = np.linalg.norm(X - 0.5, axis=1)
    near = np.linalg.norm(X - on_circle, axis=1) < 0.01
    assert np.sum(near & (np.abs(rc - 0.25) < 1e-12)) > 4 * 12
