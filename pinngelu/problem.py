"""An elasticity problem: geometry, material, loads and boundary conditions, turned
into residual groups for the kernels; and the trained :class:`Solution`.

Example
-------
>>> import numpy as np, pinngelu as pg
>>> geom = pg.Rectangle(0.0, 1.0, 0.0, 0.2)
>>> prob = pg.ElasticityProblem(
...     geom, pg.Material.from_E_nu(210e9, 0.3),
...     [pg.Dirichlet("left", 0.0), pg.Traction("right", [0.0, -1e6])],
...     plane_stress=True)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import strong
from .elasticity import (
    BoundaryCondition,
    Dirichlet,
    Material,
    Pressure,
    Scales,
    Symmetry,
    Traction,
    _describe,
    _eval_spec,
    check_conflicts,
    check_lame_ratio,
    prescribed_components,
    real_array,
    real_scalar,
)
from .energy import EnergyForm
from .formulation import Formulation
from .geometry import Geometry
from .hard_bc import HardDirichlet
from .kernels import Backend
from .loss import ResidualGroup, check_points
from .memory import MemoryLimitError
from .network import MLP
from .rigid_body import RigidBodyWarning, describe_free_modes, free_modes, rigid_body_modes
from .solution import Solution
from .strong import StrongForm

__all__ = ["ElasticityProblem", "DisplacementData", "Solution"]


@dataclass(frozen=True)
class DisplacementData:
    """Measured displacements (m) at points inside the domain (for inverse problems
    or data assimilation): residual ``u(X) - u_measured``."""

    X: np.ndarray
    u: np.ndarray
    weight: float = 1.0
    name: str = "data"


#: Boundary points per displacement condition in the rigid-body test.
RIGID_BODY_POINTS = 32

#: The range of the displacement, strain and stress scales (``U`` in m, ``U / L``,
#: ``mu U / L`` in Pa) a problem accepts: the square root of the float64 range, so
#: that the fields, multiples of them, and their squares (the von Mises stress, the
#: strain energy) stay finite and normal.
SCALE_RANGE = (1e-150, 1e150)

#: Decades of the energy unit ``mu U^2 L^(d-2)`` (J) the energy formulation accepts
#: either side of 1: the float64 range less headroom for the calibration of ``U``.
ENERGY_DECADES = 290


class ElasticityProblem:
    """Linear elasticity on a geometry, with loads and boundary conditions.

    Parameters
    ----------
    geometry : Geometry
        The domain (lengths in m).
    material : Material
        Isotropic material (Pa).
    conditions : sequence of Dirichlet, Traction, Pressure or Symmetry
        Boundary conditions on named boundary parts.
    body_force : array_like (d,) or callable, optional
        Body force per unit volume ``f`` (N/m^3): a constant vector or
        ``f(X (N, d)) -> (N, d)``.
    plane_stress : bool
        2D only: plane stress (default plane strain).
    n_interior, n_boundary : int
        Collocation points in the domain and on the constrained boundary (split
        between the conditions in proportion to their parts' measures).
    sampling : {"sobol", "uniform"}
        Point sampling method.
    data : sequence of DisplacementData, optional
        Measured displacements.
    exact : callable, optional
        Exact displacement ``u(X (N, d)) -> (N, d)`` (m), for error reports.
    interior_weight : float
        Weight of the interior residual group.
    displacement_scale, length_scale : float, optional
        Override the characteristic scales (m) chosen automatically.
    traction_free_default : bool
        Boundary parts, or components on them, that no condition mentions are
        traction-free (zero traction in those components), as in a finite-element
        model.  Parts selected by predicates are not tracked.  Set False to leave
        them unconstrained.
    hard_dirichlet : bool
        Build Dirichlet conditions (and Symmetry conditions on parts whose normal is
        a coordinate axis) into the network as ``u = G + phi N`` (see
        :mod:`pinngelu.hard_bc`): they hold exactly and leave the loss.  Conditions
        on parts without a distance function (predicates, mesh domains, ...) or with
        callable values stay soft, with a warning naming them.
    identify : sequence of {"lam", "mu"}
        Material parameters to identify (inverse problem): they are trained together
        with the network, starting from the values of ``material``, which is then the
        initial guess.  Needs displacement ``data`` or enough loads to fix them.  In
        plane stress, ``"lam"`` stands for the ``lam*`` of the 2D equations.
    formulation : Formulation, optional
        How the problem becomes a loss (:mod:`pinngelu.formulation`): the strong-form
        residuals at collocation points (:class:`~pinngelu.StrongForm`) or the total
        potential energy (:class:`~pinngelu.EnergyForm`, :mod:`pinngelu.energy`), whose
        displacement conditions are built into the network, as with
        ``hard_dirichlet``, and must all be buildable.  Default (None): the energy
        formulation where it applies (every displacement condition can be built into
        the network, no displacement data, nothing identified, ``hard_dirichlet``
        not asked for: the measured better path, docs/benchmarks.md), the strong form
        otherwise; :attr:`formulation_reason` and the first progress line of
        training say which and why.

    Raises
    ------
    ValueError
        On a condition on a boundary part that does not exist, a body force of the
        wrong shape, a component out of range, data outside the domain, two
        conditions prescribing the same component of one named part, a nearly
        incompressible material (``lam / mu`` of the equations above
        :data:`pinngelu.elasticity.LAME_RATIO_MAX`), ...
    TypeError
        On string, boolean or complex values, weights or scales.

    Warns
    -----
    RigidBodyWarning
        When the displacement constraints (Dirichlet components, Symmetry
        conditions, displacement data) leave a rigid-body motion free; the message
        names the free motions.
    NearlyIncompressibleWarning
        When ``lam / mu`` of the equations exceeds
        :data:`pinngelu.elasticity.LAME_RATIO_WARN` (``nu > 0.49`` in plane strain
        and 3D).
    """

    def __init__(
        self,
        geometry: Geometry,
        material: Material,
        conditions: Sequence[BoundaryCondition],
        body_force=None,
        *,
        plane_stress: bool = False,
        n_interior: int = 2000,
        n_boundary: int = 800,
        sampling: str = "sobol",
        data: Sequence[DisplacementData] = (),
        exact: Callable[[np.ndarray], np.ndarray] | None = None,
        interior_weight: float = 1.0,
        displacement_scale: float | None = None,
        length_scale: float | None = None,
        identify: Sequence[str] = (),
        traction_free_default: bool = True,
        hard_dirichlet: bool = False,
        formulation: Formulation | None = None,
    ) -> None:
        if not isinstance(geometry, Geometry):
            raise ValueError("geometry must be a pinngelu Geometry")
        if not isinstance(material, Material):
            raise ValueError("material must be a pinngelu Material (Material.from_E_nu(E, nu))")
        self.geometry = geometry
        self.material = material
        self.dim = d = geometry.dim
        if plane_stress and d != 2:
            raise ValueError("plane_stress applies to 2D problems only")
        self.plane_stress = bool(plane_stress)
        self.conditions = list(conditions)
        self.body_force = body_force
        self.exact = exact
        self.data = list(data)
        if sampling not in ("sobol", "uniform"):
            raise ValueError(f"sampling must be 'sobol' or 'uniform', got {sampling!r}")
        self.sampling = sampling
        for name, n in (("n_interior", n_interior), ("n_boundary", n_boundary)):
            if int(n) != n or n < 1:
                raise ValueError(f"{name} must be a positive integer, got {n}")
        self.n_interior = int(n_interior)
        self.n_boundary = int(n_boundary)
        self.interior_weight = real_scalar(interior_weight, "interior_weight")
        if not (math.isfinite(self.interior_weight) and self.interior_weight >= 0):
            raise ValueError(f"interior_weight must be >= 0 and finite, got {interior_weight}")
        if displacement_scale is not None:
            displacement_scale = real_scalar(displacement_scale, "displacement_scale")
        if length_scale is not None:
            length_scale = real_scalar(length_scale, "length_scale")
        if isinstance(identify, str):
            identify = (identify,)
        self.identify = tuple(identify)
        for name in self.identify:
            if name not in ("lam", "mu"):
                raise ValueError(f"can identify 'lam' and 'mu', not {name!r}")
        if len(set(self.identify)) != len(self.identify):
            raise ValueError(f"identify lists a parameter twice: {self.identify}")
        self._cache: dict[str, tuple] = {}
        self._validate()
        check_conflicts(self.conditions, d)
        if not math.isfinite(self.lam_eff):
            raise ValueError(
                f"plane stress: lam* = 2 lam mu / (lam + 2 mu) of {self.material!r} "
                "overflows float64; give the material in other units (e.g. GPa or MPa)"
            )
        check_lame_ratio(self.lam_eff, self.material.mu, self.plane_stress)
        if traction_free_default:
            self.conditions += self._free_conditions()
        self.scales = self._choose_scales(displacement_scale, length_scale)
        self.displacement_scale_adjustable = displacement_scale is None
        self._automatic_displacement = self.scales.displacement
        self._check_rigid_body()
        if not isinstance(hard_dirichlet, (bool, np.bool_)):
            raise TypeError(f"hard_dirichlet must be True or False, got {hard_dirichlet!r}")
        self.hard_dirichlet = bool(hard_dirichlet)
        #: The map of the displacement conditions built into the network (or None), and
        #: per index into ``conditions`` how each is built in ("dirichlet"/"symmetry").
        self.hard: HardDirichlet | None
        self.hard_conditions: dict[int, str]
        #: Why the problem has its formulation (given, or the default's choice).
        self.formulation_reason: str
        if formulation is None:
            formulation, prepared, self.formulation_reason = self._default_formulation()
        elif not isinstance(formulation, Formulation):
            raise TypeError(
                f"formulation must be None, a pinngelu.StrongForm or a pinngelu.EnergyForm, "
                f"got {type(formulation).__name__}"
            )
        else:
            prepared = self._prepare(formulation)
            self.formulation_reason = "given"
        self.formulation = formulation
        self.hard, self.hard_conditions = prepared

    def _default_formulation(self) -> tuple[Formulation, tuple, str]:
        """The formulation of ``formulation=None``: ``(formulation, prepared, reason)``
        (see the class docstring)."""
        strong = "the strong form"
        if self.identify:
            why = f"it identifies {', '.join(self.identify)}"
        elif self.data:
            why = "it fits displacement data"
        elif self.hard_dirichlet:
            why = "hard_dirichlet=True is a strong-form setting"
        elif self.dim not in (2, 3):
            why = f"the energy formulation is written for 2D and 3D, not {self.dim}D"
        else:
            form = EnergyForm()
            try:
                prepared = self._prepare(form)
            except MemoryLimitError:
                # the machine's memory must not choose the formulation: refused, the
                # message names the cell size, n_interior and StrongForm()
                raise
            except ValueError as exc:
                why = f"the energy formulation does not apply: {exc}"
            else:
                return (
                    form,
                    prepared,
                    "chosen by default: every displacement condition is built into the "
                    "network, so the minimum of the total potential energy applies",
                )
        form = StrongForm()
        return form, self._prepare(form), f"chosen by default, {strong}: {why}"

    def _prepare(self, form: Formulation) -> tuple:
        """``form.prepare(self)``, then the checks of the conditions' weights and of the
        energy's floating-point range that depend on the formulation."""
        prepared = form.prepare(self)
        self._check_condition_weights(form, prepared[1])
        if isinstance(form, EnergyForm):
            self._check_energy_range()
        return prepared

    def _check_condition_weights(self, form: Formulation, kinds: dict[int, str]) -> None:
        """Refuse a condition weight that cannot apply (ValueError naming the condition,
        the weight and the fix): ``weight=0`` on a Symmetry condition built into the
        network (``u . n = 0`` holds whatever the weight), and any weight other than 1
        on a Symmetry, Traction or Pressure condition of the energy formulation without
        strong-form residuals, which has no residual of them to weight (a weight on a
        Dirichlet condition built into the network is refused by
        :func:`pinngelu.hard_bc.build_hard_dirichlet`)."""
        energy_only = isinstance(form, EnergyForm) and form.strong_weight == 0
        for k, bc in enumerate(self.conditions):
            what = f"{type(bc).__name__} on {_describe(bc.part)!r}"
            if kinds.get(k) == "symmetry" and bc.weight == 0:
                raise ValueError(
                    f"{what}: weight=0 cannot switch the condition off, u . n = 0 is built "
                    "into the network and holds exactly; remove the condition, or keep a "
                    "positive weight (it weights the tangential tractions)"
                )
            if energy_only and bc.weight != 1.0 and not isinstance(bc, Dirichlet):
                how = (
                    "u . n = 0 is built into the network and the zero tangential traction "
                    "is natural to the energy"
                    if isinstance(bc, Symmetry)
                    else "the load enters the energy as its work"
                )
                raise ValueError(
                    f"{what}: weight={bc.weight:g} cannot apply, the energy formulation "
                    f"has no residual of this condition to weight ({how}); remove the "
                    "weight, or train on the strong form (formulation=pinngelu.StrongForm()) "
                    "or with EnergyForm(strong_weight=...) where the weights apply"
                )

    def _check_energy_range(self) -> None:
        """Refuse loads and a material whose energy unit ``mu U^2 L^(d-2)`` (J, the
        energy formulation's) or its factors leave the floating-point range with
        :data:`ENERGY_DECADES` decades to spare (the calibration of ``U`` moves it)."""
        sc = self.scales
        U, L, mu = sc.displacement, sc.length, self.material.mu
        lu = 2.0 * math.log10(U)
        logs = (lu, math.log10(mu) + lu, math.log10(mu) + lu + (self.dim - 2) * math.log10(L))
        if max(logs) > ENERGY_DECADES or logs[-1] < -ENERGY_DECADES:
            raise ValueError(
                f"the loads and the material give a displacement scale of {U:.3g} m and an "
                f"energy unit mu U^2 L^(d-2) of 1e{logs[-1]:.0f} J, beyond the range in "
                f"which the energy formulation computes (1e-{ENERGY_DECADES} .. "
                f"1e{ENERGY_DECADES} J); express the loads and the material in other units "
                "(e.g. MPa and mm), give displacement_scale, or train on the strong form "
                "(formulation=pinngelu.StrongForm())"
            )

    def __repr__(self) -> str:
        plane = ""
        if self.dim == 2:
            plane = " plane stress" if self.plane_stress else " plane strain"
        return (
            f"ElasticityProblem({self.dim}D{plane}, {type(self.geometry).__name__}, "
            f"{len(self.conditions)} conditions, {self.formulation.name}: "
            f"{self.formulation_reason})"
        )

    # ---------------------------------------------------------- validation
    @property
    def lam_eff(self) -> float:
        """``lam`` of the equations solved (``lam*`` in plane stress)."""
        return self.material.lam_2d(self.plane_stress) if self.dim == 2 else self.material.lam

    def scale_displacement(self, factor: float) -> None:
        """Multiply the displacement scale ``U`` by ``factor`` (> 0).

        :func:`pinngelu.train` calls this once, before training, to make the
        network's output O(1) (see ``TrainConfig.calibrate_scale``).  Residual
        groups built before the call are in the old units.
        """
        factor = float(factor)
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"displacement scale factor must be > 0, got {factor}")
        self.scales.displacement *= factor

    def reset_displacement_scale(self) -> None:
        """Return to the displacement scale chosen from the loads at construction
        (undoing any calibration), so that a new training run starts alike."""
        self.scales.displacement = self._automatic_displacement

    # ------------------------------------------------- trainable parameters
    @property
    def n_q(self) -> int:
        """Number of trainable physical parameters (0 for a forward problem)."""
        return len(self.identify)

    def initial_q(self) -> np.ndarray:
        """Starting values ``(n_q,)`` of the trainable parameters, in units of the
        reference shear modulus (the ``mu`` of ``material``)."""
        ref = {"lam": self.lam_eff / self.material.mu, "mu": 1.0}
        return np.array([ref[name] for name in self.identify])

    def _lame_scaled(self, q: np.ndarray | None) -> tuple[float, float]:
        """``(lam_eff, mu)`` of the equations in units of the reference ``mu``."""
        vals = {"lam": self.lam_eff / self.material.mu, "mu": 1.0}
        if q is not None:
            for name, v in zip(self.identify, q, strict=True):
                vals[name] = float(v)
        return vals["lam"], vals["mu"]

    def material_at(self, q: np.ndarray | None) -> Material:
        """The material for trainable parameters ``q`` (the given one when ``q`` is
        None or the problem identifies nothing).

        Raises
        ------
        ValueError
            If ``q`` describes no admissible material.
        """
        if q is None or self.n_q == 0:
            return self.material
        lam_eff, mu = (v * self.material.mu for v in self._lame_scaled(q))
        lam = lam_eff
        if self.dim == 2 and self.plane_stress:
            # lam* = 2 lam mu / (lam + 2 mu)  <=>  lam = 2 mu lam* / (2 mu - lam*)
            if 2 * mu - lam_eff == 0:
                raise ValueError(f"lam*={lam_eff}, mu={mu} give no plane-stress material")
            lam = 2 * mu * lam_eff / (2 * mu - lam_eff)
        return Material(lam, mu)

    def _validate(self) -> None:
        d = self.dim
        parts = self.geometry.boundary_parts
        rng = np.random.default_rng(0)
        if len(self.conditions) == 0:
            raise ValueError("no boundary conditions given")
        for bc in self.conditions:
            if not isinstance(bc, (Dirichlet, Traction, Pressure, Symmetry)):
                raise ValueError(f"unknown boundary condition {bc!r}")
            if isinstance(bc.part, str) and bc.part not in parts:
                raise ValueError(
                    f"{type(bc).__name__} on boundary part {bc.part!r}, which does not exist; "
                    f"the geometry has parts: {', '.join(parts)}"
                )
            comps = getattr(bc, "components", None)
            if comps is not None:
                if len(comps) == 0 or any(not 0 <= c < d for c in comps):
                    raise ValueError(
                        f"{type(bc).__name__} on {_describe(bc.part)!r}: components must be "
                        f"in 0..{d - 1}, got {tuple(comps)}"
                    )
            # evaluate the prescribed values once on a few boundary points
            if isinstance(bc, (Dirichlet, Traction)):
                smp = self._sample_part(bc, 4, rng)
                ncomp = d if bc.components is None else len(bc.components)
                _eval_spec(
                    bc.value, smp.points, ncomp, f"{type(bc).__name__} on {_describe(bc.part)!r}"
                )
            if isinstance(bc, Pressure):
                smp = self._sample_part(bc, 4, rng)
                _eval_spec(bc.value, smp.points, 1, f"Pressure on {_describe(bc.part)!r}")
        if self.body_force is not None:
            Xs = self.geometry.sample_interior(4, rng)
            _eval_spec(self.body_force, Xs, d, "body force")
        if self.exact is not None:
            Xs = self.geometry.sample_interior(4, rng)
            _eval_spec(self.exact, Xs, d, "exact solution")
        for dat in self.data:
            X = check_points(
                real_array(dat.X, f"data {dat.name!r} points"), d, f"data {dat.name!r} points"
            )
            w = real_scalar(dat.weight, f"data {dat.name!r}: weight")
            if not (math.isfinite(w) and w >= 0):
                raise ValueError(f"data {dat.name!r}: weight must be >= 0 and finite, got {w}")
            u = real_array(dat.u, f"data {dat.name!r} displacements")
            if u.shape != (X.shape[0], d):
                raise ValueError(
                    f"data {dat.name!r}: displacements must have shape ({X.shape[0]}, {d}), "
                    f"got {u.shape}"
                )
            if not np.all(np.isfinite(u)):
                raise ValueError(f"data {dat.name!r}: displacements contain NaN or inf")
            self.check_inside(X, f"data {dat.name!r} points")

    def _free_conditions(self) -> list[Traction]:
        """Zero tractions on the named parts and components no condition mentions."""
        d = self.dim
        covered: dict[str, set[int]] = {name: set() for name in self.geometry.boundary_parts}
        for bc in self.conditions:
            if isinstance(bc.part, str):
                covered[bc.part].update(prescribed_components(bc, d))
        out = []
        for name, comps in covered.items():
            missing = tuple(c for c in range(d) if c not in comps)
            if missing:
                out.append(Traction(name, 0.0, components=None if len(missing) == d else missing))
        return out

    def _sample_part(self, bc: BoundaryCondition, n: int, rng: np.random.Generator):
        """``n`` points of the part of ``bc`` (:meth:`Geometry.sample_boundary`); the
        refusal of a predicate that selects too few points names the condition."""
        try:
            return self.geometry.sample_boundary(n, rng, parts=bc.part)
        except ValueError as exc:
            if isinstance(bc.part, str):
                raise
            raise ValueError(f"{type(bc).__name__} on {_describe(bc.part)!r}: {exc}") from None

    def _check_rigid_body(self) -> None:
        """Warn (:class:`RigidBodyWarning`) when the displacement constraints leave a
        rigid-body motion free (see :mod:`pinngelu.rigid_body`).

        Each Dirichlet and Symmetry condition of nonzero weight is sampled at
        ``RIGID_BODY_POINTS`` fixed points; displacement data count with their first
        256 points.
        """
        d = self.dim
        m = 3 if d == 2 else 6
        lo, hi = (np.asarray(v, dtype=float) for v in self.geometry.bbox)
        origin, half = 0.5 * (lo + hi), 0.5 * float(np.max(hi - lo))
        rng = np.random.default_rng(0)
        rows = [np.zeros((0, m))]
        for bc in self.conditions:
            if not isinstance(bc, (Dirichlet, Symmetry)) or bc.weight == 0:
                continue
            smp = self._sample_part(bc, RIGID_BODY_POINTS, rng)
            M = rigid_body_modes((smp.points - origin) / half)
            if isinstance(bc, Dirichlet):
                rows.append(M[:, list(prescribed_components(bc, d))].reshape(-1, m))
            else:
                rows.append(np.einsum("nj,njm->nm", smp.normals, M))
        for dat in self.data:
            if dat.weight != 0:
                X = np.asarray(dat.X, dtype=np.float64)[:256]
                rows.append(rigid_body_modes((X - origin) / half).reshape(-1, m))
        V = free_modes(np.concatenate(rows), d)
        if V.shape[1]:
            names = describe_free_modes(V, d, origin, half)
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            warnings.warn(
                f"the conditions leave {listed} free: no Dirichlet or Symmetry condition "
                "and no displacement data fix this rigid-body motion, so the displacement "
                "is determined only up to it (the stresses are not affected); constrain it "
                "with Dirichlet components or Symmetry conditions",
                RigidBodyWarning,
                stacklevel=3,
            )

    def traction_values(
        self, bc: Traction | Pressure, X: np.ndarray, N: np.ndarray, name: str
    ) -> tuple[tuple[int, ...], np.ndarray]:
        """The prescribed components of a traction or pressure condition and their
        tractions (Pa) at points ``X (n, d)`` (m) with outward normals ``N (n, d)``:
        ``(comps, t (n, len(comps)))``; a pressure ``p`` is the traction ``-p n``."""
        d = self.dim
        if isinstance(bc, Pressure):
            return tuple(range(d)), -self.evaluate(name, bc.value, X, 1, name) * N
        comps = tuple(range(d)) if bc.components is None else tuple(bc.components)
        return comps, self.evaluate(name, bc.value, X, len(comps), name)

    def evaluate(self, key: str, spec, X: np.ndarray, ncomp: int, what: str) -> np.ndarray:
        """The values ``(n, ncomp)`` of a user specification ``spec`` (a constant, a
        vector or a function of the points) at points ``X (n, d)``; ``what`` names it
        in errors.  A function is evaluated once per point set and ``key``: a second
        call with the same function and points (the same resample, rebuilt after the
        displacement scale is calibrated) reuses the values.  The result is shared:
        do not modify it in place."""
        if not callable(spec):
            return _eval_spec(spec, X, ncomp, what)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is spec and np.array_equal(hit[1], X):
            return hit[2]
        v = _eval_spec(spec, X, ncomp, what)
        self._cache[key] = (spec, X.copy(), v)
        return v

    def cached(self, key: tuple, make):
        """``make()``, computed once per problem and ``key`` (quadratures and other
        point sets that depend on the problem only)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def check_inside(self, X: np.ndarray, what: str = "points") -> None:
        """Raise ValueError if any point lies outside the domain."""
        lo, hi = self.geometry.bbox
        tol = 1e-9 * float(np.max(hi - lo))
        inside = self.geometry.contains(X, tol=tol)
        if not np.all(inside):
            i = int(np.flatnonzero(~inside)[0])
            raise ValueError(
                f"{what}: {int((~inside).sum())} point(s) lie outside the domain "
                f"(first: row {i}, {X[i].tolist()})"
            )

    def _choose_scales(self, U: float | None, L: float | None) -> Scales:
        lo, hi = (np.asarray(v, dtype=float) for v in self.geometry.bbox)
        origin = 0.5 * (lo + hi)
        if L is None:
            L = 0.5 * float(np.max(hi - lo))
        if not (L > 0 and math.isfinite(L)):
            raise ValueError(f"length scale must be > 0, got {L}")
        mu = self.material.mu
        tiny = float(np.finfo(np.float64).tiny)
        if mu < tiny:
            raise ValueError(
                f"the shear modulus mu = {mu:g} Pa is below the smallest normal float64 "
                f"({tiny:.3g}): its digits and the scaled equations are lost; give the "
                "material in other units (e.g. MPa and mm for a soft solid)"
            )
        if U is None:
            rng = np.random.default_rng(0)
            cands = [0.0]
            for bc in self.conditions:
                if isinstance(bc, (Dirichlet, Traction, Pressure)):
                    smp = self._sample_part(bc, 64, rng)
                    nc = (
                        1
                        if isinstance(bc, Pressure)
                        else (self.dim if bc.components is None else len(bc.components))
                    )
                    what = f"{type(bc).__name__} on {_describe(bc.part)!r}"
                    v = np.max(np.abs(_eval_spec(bc.value, smp.points, nc, what)))
                    with np.errstate(over="ignore"):  # an inf scale is refused below
                        cands.append(v if isinstance(bc, Dirichlet) else v * L / mu)
            if self.body_force is not None:
                Xs = self.geometry.sample_interior(256, rng)
                f = np.max(np.abs(_eval_spec(self.body_force, Xs, self.dim, "body force")))
                cands.append(f * L * L / mu)
            for dat in self.data:
                cands.append(float(np.max(np.abs(dat.u))))
            U = max(cands)
            if U == 0.0:
                U = 1e-3 * L
        if not (U > 0 and math.isfinite(U)):
            raise ValueError(
                f"the loads and the material give a displacement scale of {U} m (loads x "
                f"length / shear modulus, mu = {mu:g} Pa): check the material's and the "
                "loads' units, or give displacement_scale"
            )
        scales = Scales(origin, float(L), float(U), mu)
        lo, hi = SCALE_RANGE
        for what, v in (
            (f"displacement scale U = {U:g} m", U),
            (f"strain scale U / L = {U / L:g}", U / L),
            (f"stress scale mu U / L = {scales.stress:g} Pa", scales.stress),
        ):
            if not lo < v < hi:
                raise ValueError(
                    f"the {what} (mu = {mu:g} Pa, U = {U:g} m, L = {L:g} m) leaves the range "
                    f"in which the loads and the fields are computed ({lo:g} .. {hi:g}): "
                    "check the material's and the loads' units, or give displacement_scale"
                )
        return scales

    # ------------------------------------------------------ residual groups
    def residual_groups(self, rng: np.random.Generator) -> list[ResidualGroup]:
        """Sample collocation points and build the residual groups (scaled units).

        Parameters
        ----------
        rng : numpy.random.Generator

        Returns
        -------
        list of ResidualGroup
            Those of the problem's formulation (:meth:`Formulation.residual_groups`).
        """
        return self.formulation.residual_groups(self, rng)

    def point_conditions(self) -> list[int]:
        """Indices into ``conditions`` of the conditions sampled at boundary collocation
        points (see :func:`pinngelu.strong.point_conditions`)."""
        return strong.point_conditions(self)

    def boundary_counts(self) -> list[int]:
        """Collocation points of each condition of :meth:`point_conditions` (see
        :func:`pinngelu.strong.boundary_counts`)."""
        return strong.boundary_counts(self)

    def sample_points(
        self,
        rng: np.random.Generator,
        n_interior: int | None = None,
        boundary_counts: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Draw collocation points with the problem's sampler (see
        :func:`pinngelu.strong.sample_points`)."""
        return strong.sample_points(self, rng, n_interior, boundary_counts)

    def groups_at(
        self, X_interior: np.ndarray, boundary: list[tuple[np.ndarray, np.ndarray]]
    ) -> list[ResidualGroup]:
        """The strong-form residual groups at given points (see
        :func:`pinngelu.strong.groups_at`)."""
        return strong.groups_at(self, X_interior, boundary)

    @property
    def singular_points(self) -> list:
        """The points where the stress is unbounded (:func:`pinngelu.singular.
        singular_points`): re-entrant corners and edges, ends of displacement
        conditions; each with its wedge angle, side conditions and leading
        exponents.  Empty for a part without any."""
        from .singular import singular_points

        return list(self.cached(("singular-points",), lambda: singular_points(self)))

    def stress_intensities(self, result) -> list[dict]:
        """The singular fields' amplitudes and generalised stress intensity factors
        of a training result (:meth:`pinngelu.enrichment.Enrichment.report`): one dict
        per field with the point, exponent, cutoff radius (m), amplitude ``a`` (m)
        and ``K`` (Pa m^(1 - Re lam)).  Empty without enrichment.

        Parameters
        ----------
        result : TrainResult or ndarray, shape (n_e,)
            The result of :func:`pinngelu.train`, or its ``enrichment``.
        """
        c = getattr(result, "enrichment", result)
        enr = self.enrichment()
        if enr is None:
            return []
        c = np.asarray(c, dtype=np.float64)
        if c.shape != (enr.n,):
            raise ValueError(f"{enr.n} enrichment coefficients expected, got shape {c.shape}")
        return enr.report(self.scales.displacement * c, self.material.mu)

    def enrichment(self, formulation: Formulation | None = None):
        """The singular fields the formulation adds to the network
        (:mod:`pinngelu.enrichment`), or None."""
        form = self.formulation if formulation is None else formulation
        get = getattr(form, "enrichment", None)
        return None if get is None else get(self)

    def solution(
        self,
        mlp: MLP,
        theta,
        q: np.ndarray | None = None,
        device: str | Backend = "cpu",
        enrichment: np.ndarray | None = None,
    ) -> Solution:
        """Wrap trained parameters as a :class:`Solution`.

        Parameters
        ----------
        mlp : MLP
        theta : ndarray, shape (n_params,), or TrainResult
            Network parameters, or the result of :func:`pinngelu.train` (its
            parameters, identified material and enrichment coefficients).
        q : ndarray, shape (n_q,), optional
            Identified material parameters (inverse problems): the solution's stresses
            then use the identified material.
        device : {"cpu", "cuda"} or Backend
            Where the solution's fields are evaluated.
        enrichment : ndarray, shape (n_e,), optional
            The enrichment coefficients of training (``TrainResult.enrichment``),
            required when the formulation adds singular fields.

        Raises
        ------
        ValueError
            When the formulation adds singular fields and their coefficients are
            not given.
        """
        if hasattr(theta, "theta") and hasattr(theta, "enrichment"):  # a TrainResult
            res = theta
            theta = res.theta
            q = res.q if q is None and res.q.size else q
            enrichment = res.enrichment if enrichment is None else enrichment
        enr = self.enrichment()
        amplitudes = None
        if enr is not None:
            if enrichment is None or np.size(enrichment) != enr.n:
                raise ValueError(
                    f"the {self.formulation.name} adds {enr.n} singular fields: pass the "
                    "training result (problem.solution(mlp, result)) or its coefficients "
                    "(enrichment=result.enrichment)"
                )
            amplitudes = self.scales.displacement * np.asarray(enrichment, dtype=np.float64)
        return Solution(
            mlp,
            theta,
            self.scales,
            self.material_at(q),
            self.plane_stress,
            exact=self.exact,
            geometry=self.geometry,
            device=device,
            hard=self.hard,
            enrichment=enr,
            amplitudes=amplitudes,
        )
