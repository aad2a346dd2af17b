"""Williams' corner singularities (pinngelu.williams): exponents against published values
and independent root finding, the mode fields against the Navier equations and their
boundary conditions, and the exponent of a graded finite-element solution."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from pinngelu import williams as wl

DEG = np.pi / 180.0
PLANE = [(0.3, False), (0.25, True)]  # (nu, plane_stress)


def lame_eff(nu: float, plane_stress: bool, mu: float = 1.0) -> float:
    """The in-plane Lame constant of ``nu`` (independent of kappa's formula)."""
    return mu * (2 * nu / (1 - nu) if plane_stress else 2 * nu / (1 - 2 * nu))


def polar_points(rng, angle: float, n: int, lo: float = 0.05) -> np.ndarray:
    r = rng.uniform(0.2, 2.0, n)
    t = rng.uniform(lo * angle, (1 - lo) * angle, n)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def ray(angle: float, r: np.ndarray) -> np.ndarray:
    return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)


# ----------------------------------------------------------------- Kolosov, inputs
def test_kolosov_constant():
    assert wl.kolosov(0.3, False) == pytest.approx(1.8, abs=1e-15)
    assert wl.kolosov(0.3, True) == pytest.approx(2.7 / 1.3, abs=1e-15)
    for nu, ps in PLANE + [(-0.5, True), (0.45, False)]:
        lam = lame_eff(nu, ps)
        assert wl.kolosov(nu, ps) == pytest.approx((lam + 3) / (lam + 1), rel=1e-14)


@pytest.mark.parametrize(
    "call",
    [
        lambda: wl.kolosov(0.5, False),
        lambda: wl.kolosov(-1.0, True),
        lambda: wl.exponents(0.0),
        lambda: wl.exponents(7.0),
        lambda: wl.exponents(np.pi, ("free", "hinged")),
        lambda: wl.exponents(np.pi, below=0.0),
        lambda: wl.characteristic(0.5, np.pi, ("free", "free"), 1.0),
    ],
)
def test_bad_inputs_are_refused(call):
    with pytest.raises(ValueError):
        call()


# ------------------------------------------------------------------- exponents
def test_characteristic_is_the_closed_form():
    """det M(lam) of the 4 x 4 system equals the closed forms, at complex lam."""
    rng = np.random.default_rng(0)
    lam = rng.uniform(0, 2, 20) + 1j * rng.uniform(-1, 1, 20)
    for angle in (60 * DEG, 200 * DEG, 2 * np.pi):
        for kappa in (1.8, 2.4):
            s, s1 = np.sin(lam * angle), np.sin(angle)
            closed = {
                ("free", "free"): 4 * (s**2 - lam**2 * s1**2),
                ("clamped", "clamped"): 4 * (kappa**2 * s**2 - lam**2 * s1**2),
                ("clamped", "free"): 4 * lam**2 * s1**2
                - kappa**2
                - 1
                - 2 * kappa * np.cos(2 * lam * angle),
            }
            closed[("free", "clamped")] = closed[("clamped", "free")]
            for sides, ref in closed.items():
                got = wl.characteristic(lam, angle, sides, kappa)
                scale = (1 + np.abs(lam)) ** 2 * (kappa + np.abs(s)) ** 2
                assert np.max(np.abs(got - ref) / scale) < 1e-13, sides


def test_published_free_free_270():
    """The L-shaped corner (Williams 1952; e.g. Szabo and Babuska): 0.5444837, 0.9085292,
    independent of nu."""
    for nu, ps in PLANE:
        lam = wl.exponents(1.5 * np.pi, nu=nu, plane_stress=ps)
        assert lam.shape == (2,)
        assert np.all(lam.imag == 0)
        np.testing.assert_allclose(lam.real, [0.5444837, 0.9085292], atol=1e-6)
        # the roots of the two branches sin(lam w) = -+ lam sin(w), to rounding
        w = 1.5 * np.pi
        np.testing.assert_allclose(np.sin(lam.real[0] * w), -lam.real[0] * np.sin(w), atol=1e-14)
        np.testing.assert_allclose(np.sin(lam.real[1] * w), lam.real[1] * np.sin(w), atol=1e-14)


def test_crack_rigid_line_and_half_planes():
    for nu, ps in PLANE:
        kappa = wl.kolosov(nu, ps)
        # crack: modes I and II, nothing else below 1
        np.testing.assert_allclose(
            wl.exponents(2 * np.pi, nu=nu, plane_stress=ps), [0.5, 0.5], atol=1e-12
        )
        # rigid line (both faces clamped): kappa sin(2 pi lam) = 0, lam = 1/2 twice
        np.testing.assert_allclose(
            wl.exponents(2 * np.pi, ("clamped", "clamped"), nu, ps), [0.5, 0.5], atol=1e-12
        )
        # free half-plane: no singularity
        assert wl.exponents(np.pi, nu=nu, plane_stress=ps).size == 0
        # clamped-free half-plane: the oscillatory singularity of a bonded edge
        for sides in (("clamped", "free"), ("free", "clamped")):
            lam = wl.exponents(np.pi, sides, nu, ps)
            assert lam.shape == (1,)
            assert abs(lam[0] - (0.5 + 1j * np.log(kappa) / (2 * np.pi))) < 1e-8
    # and above 1, the crack's higher half-integer exponents, each twice; 1 left out
    np.testing.assert_allclose(
        wl.exponents(2 * np.pi, below=2.6).real,
        [0.5, 0.5, 1.5, 1.5, 2.0, 2.0, 2.5, 2.5],
        atol=1e-10,
    )
    # convex free and clamped wedges: none
    assert wl.exponents(120 * DEG).size == 0
    assert wl.exponents(150 * DEG, ("clamped", "clamped")).size == 0


def _mp_roots(angle: float, kappa: float, below: float) -> list[complex]:
    """The zeros of the clamped-free closed form in 0 < Re < below, 0 <= Im < 2, by
    mpmath.findroot from a grid of starting points."""
    mpmath.mp.dps = 30
    w, k = mpmath.mpf(angle), mpmath.mpf(kappa)

    def f(lam):
        return k**2 + 1 + 2 * k * mpmath.cos(2 * lam * w) - 4 * lam**2 * mpmath.sin(w) ** 2

    out: list[complex] = []
    for x in np.arange(0.05, below, 0.1):
        for y in np.arange(0.0, 2.0, 0.25):
            try:
                z = complex(mpmath.findroot(f, mpmath.mpc(x, y)))
            except (ValueError, ZeroDivisionError):
                continue
            z = complex(z.real, abs(z.imag))
            if 1e-6 < z.real < below and z.imag < 2.0 and abs(z - 1) > 1e-8:
                if not any(abs(z - q) < 1e-10 for q in out):
                    out.append(z)
    return sorted(out, key=lambda z: (z.real, z.imag))


@pytest.mark.parametrize("deg", [90, 135, 270])
def test_clamped_free_against_mpmath(deg):
    angle = deg * DEG
    for nu, ps in PLANE:
        kappa = wl.kolosov(nu, ps)
        ref = np.array(_mp_roots(angle, kappa, 1.0))
        for sides in (("clamped", "free"), ("free", "clamped")):
            got = wl.exponents(angle, sides, nu, ps)
            assert got.shape == ref.shape
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    if deg == 90:  # a singular corner although convex
        assert 0.5 < ref[0].real < 1 and ref[0].imag == 0


def test_exponents_are_zeros_of_the_determinant_at_many_angles():
    for sides in (("free", "free"), ("clamped", "clamped"), ("clamped", "free")):
        for angle in np.linspace(100 * DEG, 2 * np.pi, 9):
            kappa = wl.kolosov(0.3, False)
            lam = wl.exponents(angle, sides, below=2.0)
            assert np.all(np.diff(lam.real) >= 0)
            assert np.all(lam.imag >= 0) and np.all((lam.real > 0) & (lam.real < 2))
            for z in lam:
                # relative to the derivative: the distance to the nearest zero
                h = 1e-6
                d = wl.characteristic(z + h, angle, sides, kappa) - wl.characteristic(
                    z - h, angle, sides, kappa
                )
                f = wl.characteristic(z, angle, sides, kappa)
                assert abs(f) <= 1e-10 * abs(d / (2 * h)) + 1e-12


# ----------------------------------------------------------------------- modes
CONFIGS = [
    (200 * DEG, ("free", "free"), 1.0),
    (270 * DEG, ("free", "free"), 2.0),  # with a complex pair at 1.63 + 0.23 i
    (300 * DEG, ("free", "free"), 1.0),
    (360 * DEG, ("free", "free"), 1.0),
    (270 * DEG, ("clamped", "clamped"), 1.0),
    (360 * DEG, ("clamped", "clamped"), 1.0),
    (90 * DEG, ("clamped", "free"), 1.0),
    (180 * DEG, ("clamped", "free"), 1.0),
    (270 * DEG, ("clamped", "free"), 1.0),
    (360 * DEG, ("clamped", "free"), 1.0),
    (135 * DEG, ("free", "clamped"), 1.0),
    (300 * DEG, ("free", "clamped"), 1.0),
]


def _side_checks(mode, angle: float, sides, mu: float, lam_eff: float) -> tuple[float, float]:
    """Largest relative boundary residual on sides a and b: |traction| on a free side
    over the largest |sigma| at the same radius, |u| / r^lam on a clamped one."""
    r = np.linspace(0.1, 2.0, 13)
    smax = np.max(
        [
            np.linalg.norm(mode.stress(ray(t, r), mu, lam_eff), axis=(1, 2))
            for t in np.linspace(0.0, angle, 17)
        ],
        axis=0,
    )
    out = []
    for theta, side, normal in (
        (0.0, sides[0], np.array([0.0, -1.0])),
        (angle, sides[1], np.array([-np.sin(angle), np.cos(angle)])),
    ):
        X = ray(theta, r)
        if side == "free":
            s = mode.stress(X, mu, lam_eff)
            t = np.einsum("pij,j->pi", s, normal)
            out.append(np.max(np.linalg.norm(t, axis=1) / smax))
        else:
            u, _ = mode.displacement(X)
            out.append(np.max(np.linalg.norm(u, axis=1) / r**mode.exponent.real))
    return tuple(out)


@pytest.mark.parametrize("angle, sides, below", CONFIGS)
def test_modes_solve_navier_and_their_boundary_conditions(angle, sides, below):
    rng = np.random.default_rng(1)
    for nu, ps in PLANE:
        mu = 3.0
        lam_eff = lame_eff(nu, ps, mu)
        ms = wl.modes(angle, sides, nu, ps, below)
        lams = wl.exponents(angle, sides, nu, ps, below)
        assert len(ms) == sum(1 if z.imag == 0 else 2 for z in lams)
        assert len(ms) > 0
        X = polar_points(rng, angle, 20)
        r = np.linalg.norm(X, axis=1)
        fields = []
        for m in ms:
            assert m.kappa == wl.kolosov(nu, ps) and m.sides == tuple(sides)
            # div sigma = 0 by central differences of the stress
            h = 1e-4 * r
            div = np.zeros((X.shape[0], 2))
            for j in range(2):
                e = np.zeros(2)
                e[j] = 1.0
                sp = m.stress(X + h[:, None] * e, mu, lam_eff)
                sm = m.stress(X - h[:, None] * e, mu, lam_eff)
                div += (sp[:, :, j] - sm[:, :, j]) / (2 * h[:, None])
            s = m.stress(X, mu, lam_eff)
            rel = np.linalg.norm(div, axis=1) * r / np.linalg.norm(s, axis=(1, 2))
            assert np.max(rel) < 1e-6, (m.exponent, m.part, np.max(rel))
            ea, eb = _side_checks(m, angle, sides, mu, lam_eff)
            assert max(ea, eb) < 1e-12, (m.exponent, m.part, ea, eb)
            fields.append(m.displacement(X)[0].ravel())
        # the modes are independent (two at a double root or a complex exponent)
        F = np.array(fields)
        sv = np.linalg.svd(F / np.linalg.norm(F, axis=1, keepdims=True), compute_uv=False)
        assert sv[-1] > 1e-3


@pytest.mark.parametrize("angle, sides, below", CONFIGS[::2])
def test_gradient_scaling_normalisation_and_sign(angle, sides, below):
    rng = np.random.default_rng(2)
    X = polar_points(rng, angle, 15)
    for m in wl.modes(angle, sides, below=below):
        u, du = m.displacement(X)
        # du against central differences of u
        h = 1e-6
        for j in range(2):
            e = np.zeros(2)
            e[j] = h
            fd = (m.displacement(X + e)[0] - m.displacement(X - e)[0]) / (2 * h)
            scale = np.linalg.norm(du, axis=(1, 2))[:, None]
            assert np.max(np.abs(fd - du[:, :, j]) / scale) < 1e-7
        # u(s X) = s^lam u(X) for a real exponent
        if m.exponent.imag == 0:
            lam = m.exponent.real
            for s in (0.01, 3.0):
                us, dus = m.displacement(s * X)
                np.testing.assert_allclose(us, s**lam * u, rtol=1e-12, atol=1e-14 * s**lam)
                np.testing.assert_allclose(
                    dus, s ** (lam - 1) * du, rtol=1e-11, atol=1e-13 * s ** (lam - 1)
                )
        # max over theta of |u(1, theta)| is 1
        t = np.linspace(0.0, angle, 20001)
        n = np.linalg.norm(m.displacement(np.stack([np.cos(t), np.sin(t)], axis=1))[0], axis=1)
        assert 1 - 1e-7 < n.max() <= 1 + 1e-12
        # the sign: the polar component of larger magnitude at the bisector is positive
        b = 0.5 * angle
        ub = m.displacement(ray(b, np.array([1.0])))[0][0]
        pol = np.array([ub @ [np.cos(b), np.sin(b)], ub @ [-np.sin(b), np.cos(b)]])
        assert pol[np.argmax(np.abs(pol))] > 0


def test_complex_exponent_gives_orthogonal_real_and_imaginary_parts():
    ms = wl.modes(np.pi, ("clamped", "free"))
    assert [m.part for m in ms] == ["real", "imag"]
    assert ms[0].exponent == ms[1].exponent and ms[0].exponent.imag > 0
    t = np.linspace(0.0, np.pi, 4001)
    X = np.stack([np.cos(t), np.sin(t)], axis=1)
    a, b = (m.displacement(X)[0] for m in ms)
    # orthogonal on r = 1 (trapezoid rule), both of unit maximum
    w = np.full(t.size, t[1])
    w[[0, -1]] *= 0.5
    assert abs(np.sum(w * np.sum(a * b, axis=1))) < 1e-6 * np.sum(w * np.sum(a * a, axis=1))
    # both parts of one complex field r^lam G(theta): the coefficients differ by a real
    # factor, and u_real + i u_imag / factor scales like r^lam along a ray
    ca, cb = ms[0].coefficients, ms[1].coefficients
    factor = cb[np.argmax(np.abs(ca))] / ca[np.argmax(np.abs(ca))]
    np.testing.assert_allclose(cb, factor * ca, rtol=1e-12)
    assert abs(factor.imag) < 1e-12 * abs(factor)
    lam, r = ms[0].exponent, 0.3
    for theta in (0.4, 2.0):
        z1, zr = (
            ms[0].displacement(X)[0] + 1j * ms[1].displacement(X)[0] / factor.real
            for X in (ray(theta, np.array([1.0])), ray(theta, np.array([r])))
        )
        np.testing.assert_allclose(zr, r**lam * z1, rtol=1e-12)


def test_crack_modes_are_the_classical_k_fields():
    """Mode I and mode II of the crack are the K_I and K_II fields of fracture mechanics
    (crack faces on theta = 0 and 2 pi here, on theta = +-pi in the usual frame)."""
    for nu, ps in PLANE:
        kappa = wl.kolosov(nu, ps)
        m1, m2 = wl.modes(2 * np.pi, nu=nu, plane_stress=ps)
        rng = np.random.default_rng(3)
        X = polar_points(rng, 2 * np.pi, 30, lo=0.0)
        r = np.linalg.norm(X, axis=1)
        t = np.arctan2(-X[:, 1], -X[:, 0])  # the usual frame: rotated by pi
        c, s = np.cos(t / 2), np.sin(t / 2)
        k1 = np.sqrt(r)[:, None] * np.stack(
            [c * (kappa - 1 + 2 * s**2), s * (kappa + 1 - 2 * c**2)], axis=1
        )
        k2 = np.sqrt(r)[:, None] * np.stack(
            [s * (kappa + 1 + 2 * c**2), -c * (kappa - 1 - 2 * s**2)], axis=1
        )
        # rotating the frame by pi flips the vectors; with the sign convention (the larger
        # polar component at the bisector positive) mode I is +K_I, mode II is -K_II
        for m, k, sign in ((m1, -k1, 1), (m2, -k2, -1)):
            u = m.displacement(X)[0]
            a = np.sum(u * k) / np.sum(k * k)
            assert sign * a > 0
            np.testing.assert_allclose(u, a * k, rtol=0, atol=1e-12)


def test_apex_and_inconsistent_material():
    m = wl.modes(1.5 * np.pi)[0]
    u, du = m.displacement(np.array([[0.0, 0.0], [1e-300, 0.0], [1e-3, 1e-3]]))
    assert np.all(np.isfinite(u)) and np.all(np.isfinite(du))
    assert np.all(u[0] == 0) and np.all(du[0] == 0)
    assert np.all(np.isfinite(m.stress(np.zeros((1, 2)), 1.0, lame_eff(0.3, False))))
    with pytest.raises(ValueError, match="kappa"):
        m.stress(np.ones((1, 2)), 1.0, lame_eff(0.3, True))  # the mode is plane strain


# ------------------------------------------------------------ finite elements
def test_graded_p2_solution_has_the_williams_exponent():
    """A symmetric L-shaped plate (plane strain): the strain energy near the
    re-entrant corner, weighted by the bump (1 - (|x| / r)^2)^2, grows like r^(2 lam_1).

    The problem is symmetric about the corner's bisector, so the antisymmetric mode
    (0.9085) is absent; the slope fitted over r in [2e-3, 2e-2] on a mesh graded eight
    times around the corner is 0.5461 (the next terms of the expansion raise it towards
    larger r; halving the mesh size changes it by < 1e-4)."""
    pytest.importorskip("skfem")
    import pinngelu as pg
    from pinngelu import fem
    from pinngelu.fem.report import graded_mesh

    V = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]
    parts = ["load_b", "free", "free", "load_a", "clamp", "clamp"]
    prob = pg.ElasticityProblem(
        pg.Polygon(V, parts),
        pg.Material.from_E_nu(1.0, 0.3),
        [
            pg.Dirichlet("clamp", 0.0),
            pg.Traction("load_b", [0.0, -1.0]),
            pg.Traction("load_a", [1.0, 0.0]),
        ],
        plane_stress=False,
    )
    mesh = graded_mesh(prob, 0.1, np.array([[0.0, 0.0]]), 0.5, 8)
    sol = fem.solve(prob, mesh=mesh)
    X, w, U, G = sol.quadrature()
    s = sol.fields_from(U, G)["stress"]
    W = 0.5 * np.einsum("pij,pij->p", s, 0.5 * (G + np.swapaxes(G, 1, 2)))
    d = np.linalg.norm(X, axis=1)
    radii = np.geomspace(2e-3, 2e-2, 8)
    E = [np.sum(w * W * np.clip(1 - (d / r) ** 2, 0, None) ** 2) for r in radii]
    slope = np.polyfit(np.log(radii), np.log(E), 1)[0] / 2
    lam = wl.exponents(1.5 * np.pi, nu=0.3)
    assert abs(slope - lam[0].real) < 5e-3, slope
    assert abs(slope - lam[1].real) > 0.3
