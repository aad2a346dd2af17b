"""Tests of the elasticity building blocks: material parameters, the jet operators
(Navier, traction, symmetry, value) applied to exact jets of analytic fields, the
strain / stress / von Mises helpers and the plane-stress reduction.

The exact jets are written out by hand below (value, gradient and Hessian of each
field) and checked against central finite differences, so that the operator tests
do not depend on the network or the kernels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pinngelu.elasticity import (
    LAME_RATIO_MAX,
    LAME_RATIO_WARN,
    Dirichlet,
    Material,
    NearlyIncompressibleWarning,
    Pressure,
    Scales,
    Symmetry,
    Traction,
    check_conflicts,
    check_lame_ratio,
    navier_operator,
    strain_from_gradient,
    stress_from_strain,
    symmetry_operator,
    traction_operator,
    value_operator,
    von_mises,
)
from pinngelu.kernels import n_channels, second_pairs
from pinngelu.rigid_body import describe_free_modes, free_modes, rigid_body_modes


# ------------------------------------------------------------ analytic fields
def plate_field(X, lam_q=4.0):
    """Manufactured plate displacement with gradient and Hessian, by hand.

    ``u_x = cos(2 pi x) sin(pi y)``, ``u_y = sin(pi x) Q y^4 / 4``.
    Returns u (N, 2), G (N, 2, 2) [p, j, i] = du_j/dx_i, H (N, 2, 2, 2).
    """
    Q = lam_q
    pi = math.pi
    x, y = X[:, 0], X[:, 1]
    N = X.shape[0]
    u = np.stack([np.cos(2 * pi * x) * np.sin(pi * y), np.sin(pi * x) * Q * y**4 / 4], axis=1)
    G = np.empty((N, 2, 2))
    G[:, 0, 0] = -2 * pi * np.sin(2 * pi * x) * np.sin(pi * y)
    G[:, 0, 1] = pi * np.cos(2 * pi * x) * np.cos(pi * y)
    G[:, 1, 0] = pi * np.cos(pi * x) * Q * y**4 / 4
    G[:, 1, 1] = np.sin(pi * x) * Q * y**3
    H = np.empty((N, 2, 2, 2))
    H[:, 0, 0, 0] = -4 * pi**2 * np.cos(2 * pi * x) * np.sin(pi * y)
    H[:, 0, 0, 1] = H[:, 0, 1, 0] = -2 * pi**2 * np.sin(2 * pi * x) * np.cos(pi * y)
    H[:, 0, 1, 1] = -(pi**2) * np.cos(2 * pi * x) * np.sin(pi * y)
    H[:, 1, 0, 0] = -(pi**2) * np.sin(pi * x) * Q * y**4 / 4
    H[:, 1, 0, 1] = H[:, 1, 1, 0] = pi * np.cos(pi * x) * Q * y**3
    H[:, 1, 1, 1] = 3 * Q * y**2 * np.sin(pi * x)
    return u, G, H


class PolyField:
    """``u_k(x) = a_k . x + x^T B_k x + c_k prod(x) (3D only) + e_k x_0^3 + f_k``."""

    def __init__(self, d: int, seed: int = 0) -> None:
        r = np.random.default_rng(seed)
        self.d = d
        self.a = r.normal(size=(d, d))
        self.B = r.normal(size=(d, d, d))
        self.c = r.normal(size=d) if d == 3 else np.zeros(d)
        self.e = r.normal(size=d)
        self.f = r.normal(size=d)

    def __call__(self, X):
        d = self.d
        N = X.shape[0]
        Bs = self.B + np.swapaxes(self.B, 1, 2)
        u = (
            X @ self.a.T
            + np.einsum("pi,kij,pj->pk", X, self.B, X)
            + self.e[None] * X[:, :1] ** 3
            + self.f[None]
        )
        G = self.a[None] + np.einsum("kij,pj->pki", Bs, X)
        G[:, :, 0] += 3 * self.e[None] * X[:, :1] ** 2
        H = np.broadcast_to(Bs[None], (N, d, d, d)).copy()
        H[:, :, 0, 0] += 6 * self.e[None] * X[:, :1]
        if d == 3:
            prod = X[:, 0] * X[:, 1] * X[:, 2]
            u += self.c[None] * prod[:, None]
            dprod = np.stack([X[:, 1] * X[:, 2], X[:, 0] * X[:, 2], X[:, 0] * X[:, 1]], axis=1)
            G += self.c[None, :, None] * dprod[:, None, :]
            hp = np.zeros((N, 3, 3))
            hp[:, 0, 1] = hp[:, 1, 0] = X[:, 2]
            hp[:, 0, 2] = hp[:, 2, 0] = X[:, 1]
            hp[:, 1, 2] = hp[:, 2, 1] = X[:, 0]
            H += self.c[None, :, None, None] * hp[:, None]
        return u, G, H


def jets_from(u, G, H):
    """Assemble the channel layout ``[u, du/dx_i, d2u/dx_i dx_j (i <= j)]``."""
    N, m, d = G.shape
    J = np.empty((N, m, n_channels(d)))
    J[:, :, 0] = u
    J[:, :, 1 : 1 + d] = G
    for s, (i, j) in enumerate(second_pairs(d)):
        J[:, :, 1 + d + s] = H[:, :, i, j]
    return J


def apply(C, J):
    """``C : J`` with C of shape (N or 1, K, m, nc)."""
    return np.einsum("pkjc,pjc->pk", np.broadcast_to(C, (J.shape[0],) + C.shape[1:]), J)


def navier_reference(G, H, lam, mu):
    """``mu lap u + (lam + mu) grad div u`` from the Hessian, written independently."""
    lap = np.einsum("pkii->pk", H)
    grad_div = np.einsum("pjjk->pk", H)
    return mu * lap + (lam + mu) * grad_div


def unit_normals(rng, N, d):
    n = rng.normal(size=(N, d))
    return n / np.linalg.norm(n, axis=1, keepdims=True)


FIELDS = {
    "plate": (2, lambda X: plate_field(X)),
    "poly2": (2, PolyField(2, seed=1)),
    "poly3": (3, PolyField(3, seed=2)),
}


# ------------------------------------------------------------------ material
class TestMaterial:
    @pytest.mark.parametrize(
        "E, nu", [(210e9, 0.3), (1.0, 0.0), (70e9, 0.33), (5.0, -0.5), (1e6, 0.499)]
    )
    def test_from_E_nu_round_trip(self, E, nu):
        m = Material.from_E_nu(E, nu)
        assert m.E == pytest.approx(E, rel=1e-12)
        assert m.nu == pytest.approx(nu, rel=1e-12, abs=1e-15)
        m2 = Material.from_lame(m.lam, m.mu)
        assert (m2.lam, m2.mu) == (m.lam, m.mu)

    def test_from_lame_round_trip(self):
        m = Material.from_lame(1.0, 0.5)
        assert (m.lam, m.mu) == (1.0, 0.5)
        back = Material.from_E_nu(m.E, m.nu)
        assert back.lam == pytest.approx(1.0, rel=1e-12)
        assert back.mu == pytest.approx(0.5, rel=1e-12)

    def test_steel(self):
        m = Material.from_E_nu(210e9, 0.3)
        assert m.mu == pytest.approx(210e9 / 2.6, rel=1e-12)  # 80.77 GPa
        assert m.lam == pytest.approx(210e9 * 0.3 / (1.3 * 0.4), rel=1e-12)  # 121.15 GPa
        assert m.mu == pytest.approx(80.769e9, rel=1e-4)
        assert m.lam == pytest.approx(121.154e9, rel=1e-4)

    @pytest.mark.parametrize(
        "E, nu, match",
        [
            (210e9, -1.0, "Poisson"),
            (210e9, -1.5, "Poisson"),
            (210e9, 0.5, "Poisson"),
            (210e9, 0.7, "Poisson"),
            (0.0, 0.3, "Young"),
            (-1.0, 0.3, "Young"),
            (math.nan, 0.3, "Young"),
            (210e9, math.nan, "Poisson"),
            (math.inf, 0.3, "Young"),
        ],
    )
    def test_from_E_nu_rejects(self, E, nu, match):
        with pytest.raises(ValueError, match=match):
            Material.from_E_nu(E, nu)

    @pytest.mark.parametrize(
        "lam, mu, match",
        [
            (1.0, 0.0, "shear modulus"),
            (1.0, -1.0, "shear modulus"),
            (-0.7, 1.0, "Poisson"),  # 3 lam + 2 mu < 0: nu < -1
            (-2.0, 1.0, "Poisson"),
            (-1.0, 1.0, "Poisson"),  # lam + mu = 0: nu is infinite
            (math.nan, 1.0, "finite"),
            (1.0, math.nan, "finite"),
        ],
    )
    def test_from_lame_rejects(self, lam, mu, match):
        with pytest.raises(ValueError, match=match):
            Material.from_lame(lam, mu)

    def test_plane_stress_lambda(self):
        m = Material.from_E_nu(210e9, 0.3)
        lam_s = m.lam_2d(True)
        assert lam_s == pytest.approx(2 * m.lam * m.mu / (m.lam + 2 * m.mu), rel=1e-14)
        # textbook form E nu / (1 - nu^2)
        assert lam_s == pytest.approx(210e9 * 0.3 / (1 - 0.09), rel=1e-12)
        assert m.lam_2d(False) == m.lam


def test_scales_round_trip():
    sc = Scales(np.array([0.5, -0.25]), 0.05, 1e-6, 80e9)
    back = Scales.from_dict(sc.to_dict())
    np.testing.assert_array_equal(back.origin, sc.origin)
    assert (back.length, back.displacement, back.mu) == (sc.length, sc.displacement, sc.mu)
    assert sc.stress == pytest.approx(80e9 * 1e-6 / 0.05)
    np.testing.assert_allclose(sc.to_hat(np.array([[0.55, -0.2]])), [[1.0, 1.0]], rtol=1e-12)


# -------------------------------------------------------------- exact jets
@pytest.mark.parametrize("name", list(FIELDS))
def test_hand_jets_match_finite_differences(name):
    """The hand-written gradients / Hessians used below are right."""
    d, field = FIELDS[name]
    rng = np.random.default_rng(3)
    X = rng.uniform(0.1, 0.9, size=(7, d))
    u, G, H = field(X)
    h = 1e-5
    for i in range(d):
        e = np.zeros(d)
        e[i] = h
        up, Gp, _ = field(X + e)
        um, Gm, _ = field(X - e)
        np.testing.assert_allclose((up - um) / (2 * h), G[:, :, i], atol=1e-7 * (1 + abs(G).max()))
        np.testing.assert_allclose(
            (Gp - Gm) / (2 * h), H[:, :, :, i], atol=1e-6 * (1 + abs(H).max())
        )
    np.testing.assert_array_equal(H, np.swapaxes(H, 2, 3))


# ----------------------------------------------------------------- Navier
@pytest.mark.parametrize("name", list(FIELDS))
@pytest.mark.parametrize("lam, mu", [(1.0, 0.5), (121.15, 80.77), (-0.3, 1.0)])
def test_navier_operator_on_exact_jets(name, lam, mu):
    d, field = FIELDS[name]
    X = np.random.default_rng(4).uniform(0, 1, size=(50, d))
    u, G, H = field(X)
    C = navier_operator(d, lam, mu)
    assert C.shape == (1, d, d, n_channels(d))
    np.testing.assert_allclose(
        apply(C, jets_from(u, G, H)), navier_reference(G, H, lam, mu), rtol=1e-13, atol=1e-12
    )


def test_navier_ignores_values_and_first_derivatives():
    for d in (1, 2, 3):
        C = navier_operator(d, 2.0, 1.0)
        assert np.all(C[..., : 1 + d] == 0)


def test_manufactured_body_force_balances(plate):
    """``C:J + f = 0`` for the plate's exact solution with the case's body force."""
    X = np.random.default_rng(5).uniform(0, 1, size=(200, 2))
    u, G, H = plate_field(X, plate.Q)
    np.testing.assert_allclose(u, plate.exact(X), rtol=0, atol=1e-15)
    CJ = apply(navier_operator(2, plate.LAM, plate.MU), jets_from(u, G, H))
    f = plate.body_force(X)
    assert np.max(np.abs(CJ + f)) < 1e-12 * max(1.0, np.max(np.abs(f)))
    assert np.max(np.abs(f)) > 1.0  # a non-trivial balance


# --------------------------------------------------------------- traction
@pytest.mark.parametrize("name", list(FIELDS))
def test_traction_operator_is_sigma_n(name):
    d, field = FIELDS[name]
    rng = np.random.default_rng(6)
    X = rng.uniform(0, 1, size=(40, d))
    n = unit_normals(rng, 40, d)
    lam, mu = 1.7, 0.6
    u, G, H = field(X)
    sigma = stress_from_strain(strain_from_gradient(G), lam, mu)
    expect = np.einsum("pkl,pl->pk", sigma, n)
    C = traction_operator(n, lam, mu)
    assert C.shape == (40, d, d, n_channels(d))
    np.testing.assert_allclose(apply(C, jets_from(u, G, H)), expect, rtol=1e-13, atol=1e-13)
    # only first derivatives enter
    assert np.all(C[..., 0] == 0) and np.all(C[..., 1 + d :] == 0)


def test_strain_and_stress_helpers():
    G = np.array([[[1.0, 2.0], [4.0, 3.0]]])  # du_x/dx=1, du_x/dy=2, du_y/dx=4, du_y/dy=3
    eps = strain_from_gradient(G)
    np.testing.assert_array_equal(eps, [[[1.0, 3.0], [3.0, 3.0]]])
    sig = stress_from_strain(eps, 2.0, 0.5)
    np.testing.assert_allclose(sig, [[[2 * 4 + 1.0, 3.0], [3.0, 2 * 4 + 3.0]]])


# ---------------------------------------------------------------- symmetry
@pytest.mark.parametrize("name", list(FIELDS))
def test_symmetry_operator_rows(name):
    d, field = FIELDS[name]
    rng = np.random.default_rng(7)
    X = rng.uniform(0, 1, size=(30, d))
    n = unit_normals(rng, 30, d)
    lam, mu = 0.8, 1.3
    u, G, H = field(X)
    J = jets_from(u, G, H)
    C = symmetry_operator(n, lam, mu)
    assert C.shape == (30, d + 1, d, n_channels(d))
    R = apply(C, J)
    np.testing.assert_allclose(R[:, 0], np.einsum("pj,pj->p", u, n), rtol=1e-13, atol=1e-13)
    t = np.einsum("pkl,pl->pk", stress_from_strain(strain_from_gradient(G), lam, mu), n)
    t_tan = t - np.einsum("pk,pk->p", t, n)[:, None] * n
    np.testing.assert_allclose(R[:, 1:], t_tan, rtol=1e-12, atol=1e-12)
    # the tangential traction is orthogonal to n
    assert np.max(np.abs(np.einsum("pk,pk->p", R[:, 1:], n))) < 1e-12 * (1 + np.abs(t).max())


@pytest.mark.parametrize("d", [2, 3])
def test_symmetry_zero_for_normal_traction(d):
    """Uniform dilatation ``u = a x`` has an isotropic stress: its traction is normal on
    any plane, so the tangential rows vanish; ``u . n`` vanishes where x is tangential."""
    rng = np.random.default_rng(8)
    n = unit_normals(rng, 25, d)
    # points on the plane through the origin with normal n: x . n = 0
    X = rng.normal(size=(25, d))
    X -= np.einsum("pk,pk->p", X, n)[:, None] * n
    a = 0.37
    u = a * X
    G = np.broadcast_to(a * np.eye(d), (25, d, d)).copy()
    H = np.zeros((25, d, d, d))
    R = apply(symmetry_operator(n, 1.1, 0.9), jets_from(u, G, H))
    assert np.max(np.abs(R)) < 1e-14


def test_value_operator():
    rng = np.random.default_rng(9)
    u, G, H = PolyField(3, 3)(rng.uniform(size=(10, 3)))
    J = jets_from(u, G, H)
    np.testing.assert_array_equal(apply(value_operator(10, 3, (2, 0)), J), u[:, [2, 0]])
    np.testing.assert_array_equal(apply(value_operator(10, 3, (0, 1, 2)), J), u)


# ------------------------------------------------------------- plane stress
def test_plane_stress_uniaxial():
    """Plane stress with lam*: a uniaxial state sigma_xx = s has sigma_xx = E eps_xx and
    sigma_yy = 0 for eps_yy = -nu eps_xx."""
    m = Material.from_E_nu(200e9, 0.28)
    eps_xx = 1e-3
    eps = np.array([[[eps_xx, 0.0], [0.0, -m.nu * eps_xx]]])
    sig = stress_from_strain(eps, m.lam_2d(True), m.mu)
    assert sig[0, 0, 0] == pytest.approx(m.E * eps_xx, rel=1e-12)
    assert abs(sig[0, 1, 1]) < 1e-12 * m.E * eps_xx
    assert sig[0, 0, 1] == 0.0
    # plane strain would not be uniaxial for the same strain
    sig_pe = stress_from_strain(eps, m.lam_2d(False), m.mu)
    assert abs(sig_pe[0, 1, 1]) > 1e-3 * m.E * eps_xx


def test_plane_stress_is_3d_with_sigma_zz_zero():
    """The 2D stress with lam* equals the in-plane 3D stress with lam once eps_zz is chosen
    so that sigma_zz = 0."""
    m = Material.from_E_nu(70e9, 0.33)
    rng = np.random.default_rng(10)
    e2 = rng.normal(size=(20, 2, 2)) * 1e-3
    e2 = 0.5 * (e2 + np.swapaxes(e2, 1, 2))
    e_zz = -m.lam / (m.lam + 2 * m.mu) * (e2[:, 0, 0] + e2[:, 1, 1])
    e3 = np.zeros((20, 3, 3))
    e3[:, :2, :2] = e2
    e3[:, 2, 2] = e_zz
    s3 = stress_from_strain(e3, m.lam, m.mu)
    assert np.max(np.abs(s3[:, 2, 2])) < 1e-12 * np.max(np.abs(s3))
    s2 = stress_from_strain(e2, m.lam_2d(True), m.mu)
    np.testing.assert_allclose(s2, s3[:, :2, :2], rtol=1e-12, atol=1e-12 * np.abs(s3).max())


# --------------------------------------------------------------- von Mises
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("s", [250e6, -3.5])
def test_von_mises_uniaxial(d, s):
    sig = np.zeros((1, d, d))
    sig[0, 0, 0] = s
    assert von_mises(sig)[0] == pytest.approx(abs(s), rel=1e-14)
    sig = np.zeros((1, d, d))
    sig[0, 1, 1] = s
    assert von_mises(sig)[0] == pytest.approx(abs(s), rel=1e-14)


@pytest.mark.parametrize("d", [2, 3])
def test_von_mises_pure_shear(d):
    tau = 40e6
    sig = np.zeros((1, d, d))
    sig[0, 0, 1] = sig[0, 1, 0] = tau
    assert von_mises(sig)[0] == pytest.approx(math.sqrt(3) * tau, rel=1e-14)
    # the same state in its principal axes: sigma_1 = tau, sigma_2 = -tau
    sig = np.zeros((1, d, d))
    sig[0, 0, 0], sig[0, 1, 1] = tau, -tau
    assert von_mises(sig)[0] == pytest.approx(math.sqrt(3) * tau, rel=1e-14)


def test_von_mises_hydrostatic():
    p = 1e8
    assert von_mises(-p * np.eye(3)[None])[0] < 1e-8 * p
    # 2D with sigma_zz completing the hydrostatic state
    assert von_mises(-p * np.eye(2)[None], np.array([-p]))[0] < 1e-8 * p
    # without sigma_zz the 2D biaxial state is not hydrostatic: vm = p
    assert von_mises(-p * np.eye(2)[None])[0] == pytest.approx(p, rel=1e-14)


def test_von_mises_rotation_invariant():
    rng = np.random.default_rng(11)
    s = rng.normal(size=(5, 3, 3))
    s = s + np.swapaxes(s, 1, 2)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    s_rot = np.einsum("ik,pkl,jl->pij", Q, s, Q)
    np.testing.assert_allclose(von_mises(s_rot), von_mises(s), rtol=1e-12)


# ------------------------------------------------------- input checks
class TestRealValues:
    @pytest.mark.parametrize(
        "lam, mu, exc, match",
        [
            (1.0 + 2.0j, 1.0, TypeError, "lam: complex"),
            (1.0, np.complex128(1.0), TypeError, "mu: complex"),
            ("1.0", 1.0, TypeError, "lam: expected real numbers, got the string"),
            (1.0, True, TypeError, "mu must be a real number"),
            ([1.0, 2.0], 1.0, TypeError, "lam must be a real number, got shape"),
        ],
    )
    def test_material_rejects_non_real(self, lam, mu, exc, match):
        with pytest.raises(exc, match=match):
            Material.from_lame(lam, mu)
        with pytest.raises(exc, match=match):
            Material(lam, mu)

    @pytest.mark.parametrize(
        "E, nu, match",
        [(1.0 + 1.0j, 0.3, "Young's modulus E: complex"), (1.0, "0.3", "Poisson ratio nu")],
    )
    def test_from_E_nu_rejects_non_real(self, E, nu, match):
        with pytest.raises(TypeError, match=match):
            Material.from_E_nu(E, nu)

    @pytest.mark.parametrize(
        "make, exc, match",
        [
            (lambda: Dirichlet("left", 1j), TypeError, "Dirichlet on 'left': value: complex"),
            (lambda: Traction("top", [1.0, 2j]), TypeError, "Traction on 'top': value: complex"),
            (lambda: Traction("top", "1e6"), TypeError, "Traction on 'top': value.*string"),
            (lambda: Dirichlet("left", [[0.0, 1.0], [2.0]]), ValueError, "'left'.*regular"),
            (lambda: Dirichlet("left", [0.0, "a"]), TypeError, "'left'.*real numbers"),
            (lambda: Pressure("hole", None), TypeError, "Pressure on 'hole'.*real numbers"),
            (lambda: Dirichlet("left", weight=-1.0), ValueError, "'left': condition weights"),
            (lambda: Symmetry("left", weight=math.nan), ValueError, "condition weights"),
            (lambda: Traction("top", weight="1"), TypeError, "'top': weight.*string"),
            (lambda: Dirichlet("left", components=(0, 0)), ValueError, "repeat a component"),
            (lambda: Dirichlet("left", components=0), TypeError, "sequence of ints"),
            (lambda: Dirichlet("left", components="0"), TypeError, "sequence of ints"),
            (lambda: Traction("top", components=(0.5,)), TypeError, "components must be ints"),
            (lambda: Dirichlet(3.0), ValueError, "name or a predicate"),
        ],
    )
    def test_condition_rejects(self, make, exc, match):
        with pytest.raises(exc, match=match):
            make()

    def test_conditions_accept_arrays_and_numpy_components(self):
        bc = Dirichlet("left", np.array([0.0, 1.0]), components=np.array([0, 1]))
        assert len(bc.components) == 2
        Traction("top", lambda X: X)  # functions are checked on points, by the problem


class TestConflicts:
    @pytest.mark.parametrize(
        "conds, match",
        [
            ([Dirichlet("left"), Dirichlet("left")], "given twice"),
            ([Dirichlet("left", 0.0), Dirichlet("left", 1.0)], "both prescribe component x"),
            (
                [Dirichlet("left", 0.0, components=(1,)), Dirichlet("left", 1.0)],
                "Dirichlet and Dirichlet on 'left' both prescribe component y",
            ),
            (
                [Dirichlet("left", components=(0,)), Traction("left", components=(0,))],
                "displaced or loaded",
            ),
            ([Dirichlet("left", components=(1,)), Traction("left")], "component y"),
            ([Traction("top", 1.0), Traction("top", 1.0, components=(1,))], "component y"),
            ([Symmetry("left"), Dirichlet("left", components=(1,))], "Symmetry and Pressure"),
            (
                [Symmetry("left"), Traction("left", components=(1,))],
                "Symmetry and Traction on 'left'",
            ),
            ([Pressure("top", 1.0), Traction("top", 0.0, components=(0,))], "Pressure and"),
            ([Symmetry("left"), Symmetry("left")], "Symmetry on 'left' is given twice"),
        ],
    )
    def test_conflicts_raise(self, conds, match):
        with pytest.raises(ValueError, match=match):
            check_conflicts(conds, 2)

    @pytest.mark.parametrize(
        "conds",
        [
            [Dirichlet("top", 0.0, components=(0,)), Traction("top", 1.0, components=(1,))],
            [Dirichlet("left"), Dirichlet("right"), Symmetry("bottom"), Pressure("top", 1.0)],
            [Dirichlet("left", components=(0,)), Dirichlet("left", 1.0, components=(1,))],
            # predicates are not checked: they may select any subset of the boundary
            [Dirichlet(lambda X: X[:, 0] < 0.1), Dirichlet(lambda X: X[:, 0] < 0.2)],
        ],
    )
    def test_compatible_conditions_pass(self, conds):
        check_conflicts(conds, 2)

    def test_third_component_in_3d(self):
        with pytest.raises(ValueError, match="component z"):
            check_conflicts([Dirichlet("x_min", components=(2,)), Traction("x_min")], 3)


class TestLameRatio:
    def test_thresholds(self):
        check_lame_ratio(LAME_RATIO_WARN, 1.0, False)  # at the threshold: silent
        with pytest.warns(NearlyIncompressibleWarning, match=r"lam/mu = 50.*nu = 0.49"):
            check_lame_ratio(50.0, 1.0, False)
        with pytest.raises(ValueError, match="nearly incompressible.*exceeds 10000"):
            check_lame_ratio(1.01 * LAME_RATIO_MAX, 1.0, False)
        with pytest.warns(NearlyIncompressibleWarning, match=r"plane stress \(lam\*\)"):
            check_lame_ratio(60.0, 1.0, True)

    def test_plane_stress_is_well_conditioned(self):
        m = Material.from_E_nu(1.0, 0.4999)
        assert m.lam / m.mu > LAME_RATIO_WARN  # plane strain would warn ...
        assert m.lam_2d(True) / m.mu < 2.0  # ... lam* stays below 2 mu


class TestRigidBodyModes:
    @pytest.mark.parametrize("d", [2, 3])
    def test_modes_are_strain_free(self, d):
        """The modes are linear in x with skew-symmetric gradients: no strain."""
        rng = np.random.default_rng(0)
        X = rng.normal(size=(4, d))
        G = np.stack(
            [rigid_body_modes(X + np.eye(d)[i]) - rigid_body_modes(X) for i in range(d)],
            axis=2,
        )  # (N, d, d, m): [p, j, i] = du_j/dx_i, exact for linear modes
        np.testing.assert_allclose(G + np.swapaxes(G, 1, 2), 0.0, atol=1e-12)
        m = G.shape[-1]
        assert m == (3 if d == 2 else 6)
        assert np.linalg.matrix_rank(rigid_body_modes(X).reshape(-1, m)) == m

    @pytest.mark.parametrize(
        "rows, d, names",
        [
            (
                np.zeros((0, 3)),
                2,
                ["translation along x", "translation along y", "rotation about z"],
            ),
            (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 2, ["rotation about z"]),
            (np.array([[1.0, 0.0, -1.0], [1.0, 0.0, -0.5]]), 2, ["translation along y"]),
            # u_x fixed on the line y = 1: rotation about a point of that line stays free
            (
                np.array([[1.0, 0.0, -1.0]]),
                2,
                ["translation along y", "rotation about z around the point (0, 1)"],
            ),
            (np.eye(6)[:5], 3, ["rotation about z"]),
            (np.eye(6)[[0, 3, 4, 5]], 3, ["translation along y", "translation along z"]),
            (
                np.vstack([[1.0, 1.0, 0, 0, 0, 0], np.eye(6)[3:]]),
                3,
                ["translation perpendicular to (0.7071, 0.7071, 0)"],
            ),
        ],
    )
    def test_free_modes_named(self, rows, d, names):
        V = free_modes(rows, d)
        origin = np.zeros(d)
        assert describe_free_modes(V, d, origin, 1.0) == names

    def test_full_rank_leaves_nothing(self):
        assert free_modes(np.eye(3), 2).shape == (3, 0)
        assert describe_free_modes(free_modes(np.eye(6), 3), 3, np.zeros(3), 1.0) == []


@pytest.mark.parametrize("d", [2, 3])
def test_von_mises_is_the_norm_of_the_deviator(d):
    """sqrt(3/2 s:s) with s the deviator of the 3 x 3 tensor (sigma_zz given in 2D)."""
    rng = np.random.default_rng(3)
    sig = rng.normal(size=(20, d, d)) * 1e8
    sig = sig + np.swapaxes(sig, 1, 2)
    szz = rng.normal(size=20) * 1e8 if d == 2 else None
    full = np.zeros((20, 3, 3))
    full[:, :d, :d] = sig
    if d == 2:
        full[:, 2, 2] = szz
    dev = full - np.trace(full, axis1=1, axis2=2)[:, None, None] * np.eye(3) / 3
    ref = np.sqrt(1.5 * np.einsum("nij,nij->n", dev, dev))
    np.testing.assert_allclose(von_mises(sig, szz), ref, rtol=1e-13)
