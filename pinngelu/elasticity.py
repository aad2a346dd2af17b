"""Small-strain linear elasticity: material, boundary conditions, and the residual
groups of the displacement (Navier-Cauchy) formulation as linear operators on jets.

Physics (``lam``, ``mu`` the Lame parameters)::

    mu lap(u) + (lam + mu) grad(div u) + f = 0          in the domain
    eps = (grad u + grad u^T) / 2,  sigma = lam tr(eps) I + 2 mu eps

2D problems are plane strain by default; plane stress replaces ``lam`` by
``lam* = 2 lam mu / (lam + 2 mu)`` in the 2D equations.

Non-dimensional variables: the network sees ``x_hat = (x - x0) / L`` and returns
``u_hat = u / U``; residuals are scaled so that the operator coefficients are O(1)
(stresses by ``mu U / L``).  ``L`` is the domain's size, ``U`` is chosen from the
loads (see :meth:`Scales.from_problem`); results are reported in the user's units.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .kernels.layout import n_channels, second_index

__all__ = [
    "LAME_RATIO_MAX",
    "LAME_RATIO_WARN",
    "NearlyIncompressibleWarning",
    "Material",
    "Dirichlet",
    "Traction",
    "Pressure",
    "Symmetry",
    "navier_operator",
    "traction_operator",
    "strain_from_gradient",
    "stress_from_strain",
    "von_mises",
]


# ---------------------------------------------------------------- material
@dataclass(frozen=True)
class Material:
    """Isotropic linear-elastic material.

    Build with :meth:`from_E_nu` (Young's modulus in Pa, Poisson ratio) or
    :meth:`from_lame` (Lame parameters in Pa).

    Parameters
    ----------
    lam, mu : float
        Lame parameters (Pa).  ``mu > 0`` and ``3 lam + 2 mu > 0`` (Poisson ratio
        in (-1, 0.5)).
    """

    lam: float
    mu: float

    def __post_init__(self) -> None:
        lam, mu = real_scalar(self.lam, "Material: lam"), real_scalar(self.mu, "Material: mu")
        if not (math.isfinite(lam) and math.isfinite(mu)):
            raise ValueError(f"Lame parameters must be finite, got lam={lam}, mu={mu}")
        if mu <= 0:
            raise ValueError(f"shear modulus mu must be > 0, got {mu}")
        if 3 * lam + 2 * mu <= 0:
            nu = lam / (2 * (lam + mu)) if lam + mu != 0 else math.inf
            raise ValueError(
                f"lam={lam}, mu={mu} give Poisson ratio {nu:.4g} outside "
                "(-1, 0.5): the material is unstable"
            )

    @classmethod
    def from_E_nu(cls, E: float, nu: float) -> Material:
        """Material from Young's modulus ``E`` (Pa, > 0) and Poisson ratio ``nu``
        (in (-1, 0.5))."""
        E, nu = real_scalar(E, "Young's modulus E"), real_scalar(nu, "Poisson ratio nu")
        if not math.isfinite(E) or E <= 0:
            raise ValueError(f"Young's modulus E must be > 0, got {E}")
        if not math.isfinite(nu) or not (-1.0 < nu < 0.5):
            raise ValueError(f"Poisson ratio nu must lie in (-1, 0.5), got {nu}")
        return cls(E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu)))

    @classmethod
    def from_lame(cls, lam: float, mu: float) -> Material:
        """Material from the Lame parameters (Pa)."""
        return cls(real_scalar(lam, "Material: lam"), real_scalar(mu, "Material: mu"))

    @property
    def E(self) -> float:
        """Young's modulus (Pa)."""
        return self.mu * (3 * self.lam + 2 * self.mu) / (self.lam + self.mu)

    @property
    def nu(self) -> float:
        """Poisson ratio."""
        return self.lam / (2 * (self.lam + self.mu))

    def lam_2d(self, plane_stress: bool) -> float:
        """The ``lam`` of the 2D equations (``lam*`` for plane stress)."""
        if plane_stress:
            return 2 * self.lam * self.mu / (self.lam + 2 * self.mu)
        return self.lam


# ------------------------------------------------------ boundary conditions
ValueSpec = float | Sequence[float] | np.ndarray | Callable[[np.ndarray], np.ndarray]

#: ``lam / mu`` of the equations solved (``lam*`` in plane stress) above which
#: :class:`pinngelu.ElasticityProblem` warns (``nu = 0.49`` in plane strain and 3D).
LAME_RATIO_WARN = 49.0
#: ``lam / mu`` above which :class:`pinngelu.ElasticityProblem` refuses the problem
#: (``nu ~ 0.49995`` in plane strain and 3D).
LAME_RATIO_MAX = 1.0e4


class NearlyIncompressibleWarning(UserWarning):
    """The material is nearly incompressible (``lam / mu > LAME_RATIO_WARN`` in the
    equations solved): the scaled operator is ill-conditioned and training is slow
    and inaccurate (volumetric locking of the displacement formulation)."""


def real_array(value, what: str) -> np.ndarray:
    """``value`` as a float64 array, or a clear error naming ``what``.

    Raises
    ------
    TypeError
        On strings, booleans, complex numbers or other non-numeric values.
    ValueError
        On ragged nested sequences.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what}: expected real numbers, got the string {value!r}")
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what}: values must form a regular array, got {value!r}") from exc
    if np.iscomplexobj(a):
        raise TypeError(f"{what}: complex values are not supported, got {value!r}")
    if a.dtype.kind not in "iuf":
        kind = "ragged or non-numeric" if a.dtype.kind == "O" else f"dtype {a.dtype}"
        raise TypeError(f"{what}: expected real numbers, got {kind} values {value!r}")
    return a.astype(np.float64)


def real_scalar(value, what: str) -> float:
    """``value`` as a float, or a TypeError naming ``what`` (strings, booleans,
    complex numbers and arrays are refused; NaN and inf pass, for the caller)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be a real number, got {value!r}")
    a = real_array(value, what)
    if a.ndim != 0:
        raise TypeError(f"{what} must be a real number, got shape {a.shape}")
    return float(a)


def _eval_spec(spec, X: np.ndarray, ncomp: int, what: str) -> np.ndarray:
    """Evaluate a constant / vector / callable specification to shape (N, ncomp)."""
    N = X.shape[0]
    if callable(spec):
        v = real_array(spec(X), f"{what}: the function")
        if v.shape == (N,) and ncomp == 1:
            v = v[:, None]
        if v.shape != (N, ncomp):
            raise ValueError(
                f"{what}: the function returned shape {v.shape}, expected ({N}, {ncomp})"
            )
    else:
        v = real_array(spec, what)
        if v.ndim == 0:
            v = np.full((N, ncomp), float(v))
        elif v.shape == (ncomp,):
            v = np.broadcast_to(v, (N, ncomp)).copy()
        else:
            raise ValueError(f"{what}: expected a scalar or {ncomp} values, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{what}: values contain NaN or inf")
    return v


def _describe(part) -> str:
    return part if isinstance(part, str) else getattr(part, "__name__", "predicate")


def _check_condition(bc) -> None:
    """Checks of one condition that need no geometry (run at construction)."""
    what = f"{type(bc).__name__} on {_describe(bc.part)!r}"
    if not isinstance(bc.part, str) and not callable(bc.part):
        raise ValueError(f"boundary part must be a name or a predicate, got {bc.part!r}")
    w = real_scalar(bc.weight, f"{what}: weight")
    if not (math.isfinite(w) and w >= 0):
        raise ValueError(f"{what}: condition weights must be >= 0 and finite, got {w}")
    comps = getattr(bc, "components", None)
    if comps is not None:
        if isinstance(comps, (str, bytes)) or not isinstance(comps, (Sequence, np.ndarray)):
            raise TypeError(f"{what}: components must be a sequence of ints, got {comps!r}")
        for c in comps:
            if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
                raise TypeError(f"{what}: components must be ints, got {comps!r}")
        if len(set(int(c) for c in comps)) != len(comps):
            raise ValueError(f"{what}: components {tuple(comps)} repeat a component")
    if hasattr(bc, "value") and not callable(bc.value):
        real_array(bc.value, f"{what}: value")


@dataclass(frozen=True)
class Dirichlet:
    """Prescribed displacement on a boundary part.

    Parameters
    ----------
    part : str or callable
        Boundary part name (or predicate on points).
    value : float, sequence or callable
        Displacement (m): a scalar (all constrained components), one value per
        constrained component, or ``f(X (N, d)) -> (N, ncomp)``.
    components : sequence of int, optional
        Constrained components (default: all), each at most once.
    weight : float
        Weight of the condition's residual group in the loss (default 1, >= 0).

    Raises
    ------
    TypeError
        On a string, boolean or complex ``value``, ``weight`` or component.
    ValueError
        On a ragged ``value``, a negative weight or a repeated component.
    """

    part: str | Callable
    value: ValueSpec = 0.0
    components: tuple[int, ...] | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        _check_condition(self)


@dataclass(frozen=True)
class Traction:
    """Prescribed traction ``sigma . n = t`` (Pa) on a boundary part.

    ``value`` is a scalar, a vector ``(ncomp,)`` or ``f(X) -> (N, ncomp)``;
    ``components`` restricts the condition to some components (default: all, each
    at most once); ``weight`` is the weight of its residual group in the loss
    (default 1, >= 0).  Parts (or components) no condition mentions are
    traction-free by default (see :class:`pinngelu.ElasticityProblem`).  The checks
    are those of :class:`Dirichlet`.
    """

    part: str | Callable
    value: ValueSpec = 0.0
    components: tuple[int, ...] | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        _check_condition(self)


@dataclass(frozen=True)
class Pressure:
    """Normal pressure ``p`` (Pa): traction ``t = -p n`` (positive pushes inward).

    ``value`` is a scalar or ``f(X) -> (N,)``; ``weight`` as for :class:`Traction`.
    A pressure prescribes every traction component on its part.
    """

    part: str | Callable
    value: float | Callable[[np.ndarray], np.ndarray] = 0.0
    weight: float = 1.0

    def __post_init__(self) -> None:
        _check_condition(self)


@dataclass(frozen=True)
class Symmetry:
    """Symmetry plane / roller: ``u . n = 0`` and zero tangential traction.

    ``weight`` as for :class:`Traction`.  A symmetry condition prescribes one
    quantity in every direction (the normal displacement, the tangential
    tractions), so no other condition may share its part.
    """

    part: str | Callable
    weight: float = 1.0

    def __post_init__(self) -> None:
        _check_condition(self)


BoundaryCondition = Dirichlet | Traction | Pressure | Symmetry

_AXES = "xyz"


def prescribed_components(bc: BoundaryCondition, d: int) -> tuple[int, ...]:
    """The components a condition prescribes on each point of its part: at every
    point each component is either displaced or loaded, once.  Pressure and
    Symmetry prescribe all ``d`` (a symmetry: the normal displacement and the
    ``d - 1`` tangential tractions)."""
    comps = getattr(bc, "components", None)
    return tuple(range(d)) if comps is None else tuple(int(c) for c in comps)


def check_conflicts(conditions: Sequence[BoundaryCondition], d: int) -> None:
    """Raise ValueError when two conditions prescribe the same component on the same
    named boundary part (two displacements, a displacement and a traction, a
    duplicated condition, a Pressure or Symmetry beside another condition).

    Conditions on predicates are not checked: a predicate may select any subset of
    the boundary.
    """
    owner: dict[tuple[str, int], BoundaryCondition] = {}
    for bc in conditions:
        if not isinstance(bc.part, str):
            continue
        for c in prescribed_components(bc, d):
            other = owner.get((bc.part, c))
            if other is None:
                owner[(bc.part, c)] = bc
                continue
            a, b = type(other).__name__, type(bc).__name__
            if other is bc or (a == b and _same_condition(other, bc)):
                raise ValueError(f"{a} on {bc.part!r} is given twice (duplicated condition)")
            hint = ""
            if isinstance(other, (Symmetry, Pressure)) or isinstance(bc, (Symmetry, Pressure)):
                hint = (
                    " (Symmetry and Pressure prescribe every component of their part; "
                    "no other condition may share it)"
                )
            elif a != b:
                hint = " (a component is either displaced or loaded, not both)"
            raise ValueError(
                f"{a} and {b} on {bc.part!r} both prescribe component {_AXES[c]}; "
                f"give each component of a part at most one condition{hint}"
            )


def _same_condition(a, b) -> bool:
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if x is y:
            continue
        if callable(x) or callable(y):
            return False
        try:
            if not np.array_equal(np.asarray(x, dtype=object), np.asarray(y, dtype=object)):
                return False
        except (TypeError, ValueError):
            return False
    return True


def check_lame_ratio(lam: float, mu: float, plane_stress: bool) -> None:
    """Refuse (ValueError) or warn (:class:`NearlyIncompressibleWarning`) when the
    ``lam / mu`` of the equations solved exceeds :data:`LAME_RATIO_MAX` or
    :data:`LAME_RATIO_WARN`."""
    ratio = lam / mu
    nu = lam / (2 * (lam + mu))
    where = "plane stress (lam*)" if plane_stress else "the equations"
    if ratio > LAME_RATIO_MAX:
        raise ValueError(
            f"material nearly incompressible: lam/mu = {ratio:.4g} in {where} "
            f"(nu = {nu:.6g}) exceeds {LAME_RATIO_MAX:g}; the scaled operator is too "
            "ill-conditioned for the displacement formulation (use plane stress if the "
            "body is a thin plate, or a smaller Poisson ratio)"
        )
    if ratio > LAME_RATIO_WARN:
        warnings.warn(
            f"material nearly incompressible: lam/mu = {ratio:.4g} in {where} "
            f"(nu = {nu:.6g}) exceeds {LAME_RATIO_WARN:g}; the scaled operator is "
            "ill-conditioned and the displacement formulation locks: expect slow "
            "training and inaccurate stresses",
            NearlyIncompressibleWarning,
            stacklevel=3,
        )


# ------------------------------------------------------- jet operators
def navier_operator(d: int, lam: float, mu: float) -> np.ndarray:
    """Coefficients ``(1, d, d, nc)`` of ``mu lap u + (lam + mu) grad div u``.

    Row ``k`` is the ``k``-th component of the equation, acting on output ``j``,
    channel ``c``.
    """
    C = np.zeros((1, d, d, n_channels(d)))
    idx = second_index(d)
    for k in range(d):
        for i in range(d):
            C[0, k, k, idx[(i, i)]] += mu
        for j in range(d):
            C[0, k, j, idx[tuple(sorted((k, j)))]] += lam + mu
    return C


def traction_operator(normals: np.ndarray, lam: float, mu: float) -> np.ndarray:
    """Coefficients ``(N, d, d, nc)`` of the traction ``sigma(u) . n`` at points with
    unit normals ``n (N, d)``.

    ``(sigma n)_k = lam n_k sum_j u_j,j + mu sum_l n_l (u_k,l + u_l,k)``.
    """
    N, d = normals.shape
    C = np.zeros((N, d, d, n_channels(d)))
    for k in range(d):
        for j in range(d):
            C[:, k, j, 1 + j] += lam * normals[:, k]
        for l in range(d):
            C[:, k, k, 1 + l] += mu * normals[:, l]
            C[:, k, l, 1 + k] += mu * normals[:, l]
    return C


def value_operator(N: int, d: int, components: Sequence[int]) -> np.ndarray:
    """Coefficients ``(1, K, d, nc)`` picking the value of the given components."""
    C = np.zeros((1, len(components), d, n_channels(d)))
    for k, j in enumerate(components):
        C[0, k, j, 0] = 1.0
    return C


def symmetry_operator(normals: np.ndarray, lam: float, mu: float) -> np.ndarray:
    """Coefficients ``(N, d + 1, d, nc)``: row 0 is ``u . n``, rows ``1..d`` the
    tangential traction ``(I - n n^T) sigma n``."""
    N, d = normals.shape
    T = traction_operator(normals, lam, mu)
    P = np.eye(d)[None] - normals[:, :, None] * normals[:, None, :]
    C = np.zeros((N, d + 1, d, n_channels(d)))
    for j in range(d):
        C[:, 0, j, 0] = normals[:, j]
    C[:, 1:] = np.einsum("nkl,nljc->nkjc", P, T)
    return C


# ------------------------------------------------------------- fields
def strain_from_gradient(grad_u: np.ndarray) -> np.ndarray:
    """Small strain ``(N, d, d)`` from the displacement gradient ``grad_u[p, j, i] =
    du_j/dx_i`` of shape ``(N, d, d)``."""
    return 0.5 * (grad_u + np.swapaxes(grad_u, 1, 2))


def stress_from_strain(eps: np.ndarray, lam: float, mu: float) -> np.ndarray:
    """Stress ``(N, d, d)`` (Pa) from strain ``(N, d, d)``: ``lam tr(eps) I + 2 mu eps``.

    For 2D pass the ``lam`` of the 2D equations (``lam*`` for plane stress).
    """
    d = eps.shape[1]
    sig = (2 * mu) * eps
    diag = np.arange(d)
    sig[:, diag, diag] += lam * np.trace(eps, axis1=1, axis2=2)[:, None]
    return sig


def von_mises(sigma: np.ndarray, sigma_zz: np.ndarray | None = None) -> np.ndarray:
    """Von Mises stress ``(N,)`` from stress ``(N, d, d)``; in 2D ``sigma_zz``
    (plane strain: ``lam (eps_xx + eps_yy)``, plane stress: 0) completes the tensor."""
    d = sigma.shape[1]
    sxx, syy = sigma[:, 0, 0], sigma[:, 1, 1]
    if d == 3:
        szz = sigma[:, 2, 2]
        shear = sigma[:, 0, 1] ** 2 + sigma[:, 1, 2] ** 2 + sigma[:, 0, 2] ** 2
    else:
        szz = 0.0 if sigma_zz is None else sigma_zz
        shear = sigma[:, 0, 1] ** 2
    # sqrt(3/2 dev:dev) written out
    normal = (sxx - syy) ** 2 + (syy - szz) ** 2 + (szz - sxx) ** 2
    return np.sqrt(0.5 * normal + 3.0 * shear)


@dataclass
class Scales:
    """Characteristic scales of the non-dimensional problem.

    Attributes
    ----------
    origin : ndarray (d,)
        ``x0`` (m).
    length : float
        ``L`` (m).
    displacement : float
        ``U`` (m).
    stress : float
        ``mu U / L`` (Pa), the unit of the scaled stresses and tractions.
    """

    origin: np.ndarray
    length: float
    displacement: float
    mu: float
    extra: dict = field(default_factory=dict)

    @property
    def stress(self) -> float:
        return self.mu * self.displacement / self.length

    def to_hat(self, X: np.ndarray) -> np.ndarray:
        return (X - self.origin) / self.length

    def to_dict(self) -> dict:
        return {
            "origin": [float(v) for v in self.origin],
            "length": self.length,
            "displacement": self.displacement,
            "mu": self.mu,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Scales:
        return cls(np.asarray(d["origin"], dtype=float), d["length"], d["displacement"], d["mu"])
