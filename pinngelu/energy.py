"""The energy formulation: minimum total potential energy (the deep energy / Deep Ritz
method) as a loss of residual groups.

The displacement minimises the total potential energy

    Pi(u) = integral_Omega W(eps(u)) dV - integral_Omega f . u dV - integral_Gamma_t t . u dS

over the displacements that satisfy the Dirichlet conditions, which are therefore built
into the network (:mod:`pinngelu.hard_bc`); tractions and symmetry conditions are
natural.  Only first derivatives of the network enter, tractions enter as work, and
stress singularities (re-entrant corners, clamp corners, load jumps) are integrable.

Both parts are written with the kernels' residual groups ``sum_p w_p |C : J - g|^2``:

- the strain energy density is half a sum of squares of linear forms of the
  displacement gradient (:func:`strain_energy_operator`), so the strain energy is a
  group with ``g = 0`` and the quadrature weights as point weights;
- a work term ``-t . u`` is the difference of squares
  ``(|u - t|^2 - |u + t|^2) / 4``: a group holding every quadrature point twice,
  with targets ``+t`` and ``-t`` and point weights ``+w / 4`` and ``-w / 4``.

The loss is then exactly ``Pi`` in scaled units (``Pi / (mu U^2 L^(d-2))``, with the
problem's scales), negative at the minimum; it is not a least-squares problem, so it
is trained with the quasi-Newton or L-BFGS stages, not Levenberg-Marquardt.
Quadrature: :mod:`pinngelu.geometry.quadrature` (cells of :meth:`Geometry.mesh` of size
``h``, Gauss points on the exact boundary parts).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from . import memory
from .elasticity import (
    Dirichlet,
    Pressure,
    Symmetry,
    Traction,
    real_scalar,
    traction_operator,
    value_operator,
)
from .enrichment import Enrichment, build_enrichment
from .formulation import Formulation
from .geometry.graded import Grading
from .geometry.quadrature import (
    POINTS_PER_CELL,
    mesh_size,
    part_points,
    part_quadrature,
    size_for_cells,
    volume_cells,
    volume_quadrature,
    volume_quadrature_bytes,
)
from .hard_bc import build_hard_dirichlet
from .kernels.layout import n_channels
from .loss import ResidualGroup, loss_and_grad
from .strong import StrongForm, collocation_bytes, group_bytes

if TYPE_CHECKING:
    from .network import MLP
    from .problem import ElasticityProblem

__all__ = [
    "EnergyForm",
    "EnergyQuadratureWarning",
    "QUADRATURE_TOLERANCE",
    "QUADRATURE_TOLERANCE_3D",
    "quadrature_tolerance",
    "QUADRATURE_CHECK_EVERY",
    "QUADRATURE_CHECK_EVERY_SOLVED",
    "QUADRATURE_REFINEMENTS",
    "GRADING_LEVELS",
    "SLENDER_LIMIT",
    "energy_bytes",
    "strain_energy_operator",
    "energy_groups",
    "quadrature_check",
    "check_energy_quadrature",
]

QUADRATURE_TOLERANCE = 1e-4
"""Relative difference of the energy on the training quadrature and on one of half the
cell size above which :func:`check_energy_quadrature` warns and training refines its
quadrature (well-resolved fields stay orders of magnitude below it, exploited
quadratures far above: figures in docs/benchmarks.md).  The excess of the true energy
over the minimum is the squared energy norm of the error, so a difference ``delta``
lets stress errors of about ``sqrt(delta)`` of the stress through: 1e-4 for a von
Mises error of 1e-2 (1e-3, the earlier value, measured 1.0e-2 to 1.6e-2 on the
T-bracket after 1200 iterations on two seeds, 1e-4 9.2e-3 and 9.4e-3).  In 3D
:data:`QUADRATURE_TOLERANCE_3D` (:func:`quadrature_tolerance`)."""

QUADRATURE_TOLERANCE_3D = 1e-3
"""The tolerance of :data:`QUADRATURE_TOLERANCE` in 3D, where a refinement multiplies
the cost of an iteration by 8 and the singular edges are neither enriched nor graded
toward: at 1e-4 the block with a bore refined at iteration 50 (error 5.1e-2) and
ended at 2.1e-2 after 240 iterations in 280 s, at 1e-3 at 9.4e-3 after 504."""


def quadrature_tolerance(dim: int) -> float:
    """The quadrature check's tolerance in dimension ``dim`` (:data:`QUADRATURE_TOLERANCE`
    in 2D, :data:`QUADRATURE_TOLERANCE_3D` in 3D)."""
    return QUADRATURE_TOLERANCE_3D if dim == 3 else QUADRATURE_TOLERANCE


QUADRATURE_CHECK_EVERY = 250
"""Iterations between the quadrature checks during training (every
:data:`QUADRATURE_CHECK_EVERY_SOLVED` with the output layer solved, which moves
further per iteration): where the energy on a quadrature of half the cell size
departs from the training one by more than :data:`QUADRATURE_TOLERANCE`, training
goes back to the last checked iterate and continues on the finer quadrature (at most
:data:`QUADRATURE_REFINEMENTS` times; one more departure stops the run there)."""

QUADRATURE_CHECK_EVERY_SOLVED = 50
"""The check interval with ``TrainConfig(solve_output_layer=True)``."""

QUADRATURE_REFINEMENTS = 2
"""How many times training halves the quadrature's cell size on a failed check."""

GRADING_LEVELS = 8
"""Levels of the quadrature's grading toward singular points (radius factor 2, no
product rule near them): the energy density ``r^(2 lam - 2)`` of a 270-degree corner
over an L of size 2 at ``h = 0.1`` is integrated to 2.5e-6 relative with 3687 points
(without grading 1.3e-2 with 2229; the default :class:`~pinngelu.geometry.graded.
Grading`, 4.7e-10 with 25753, costs seven times more per evaluation)."""


SLENDER_LIMIT = 16.0
"""How many times the ``2 n_interior`` volume points asked for the default cell size
may give, where a quarter of the smallest extent (the thin-part rule of
:meth:`EnergyForm.cell_size`) sets it: past it the part is too slender for a default
(a rectangle of aspect 1000 would take 130000 points for the 4000 of
``n_interior=2000``, aspect 1e6 a hundred million), and :meth:`EnergyForm.prepare`
refuses it, naming ``EnergyForm(h=...)`` and ``StrongForm()``."""


class EnergyQuadratureWarning(UserWarning):
    """The trained field's energy depends on the quadrature: the network has found
    fields the quadrature does not see, and the result is not to be trusted."""


@dataclass(frozen=True)
class EnergyForm(Formulation):
    """Train on the total potential energy instead of the strong-form residuals.

    Parameters
    ----------
    h : float, optional
        Cell size of the quadrature (m).  Default: the size that gives about
        ``2 n_interior`` volume quadrature points, and at most a quarter of the
        smallest extent of the bounding box (so that thin parts get several cells
        through their thickness).
    strong_weight : float, optional
        Weight of the strong-form groups (the Navier residual at ``n_interior``
        collocation points and the traction residuals at ``n_boundary`` boundary
        points, as in ``hard_dirichlet=True``) added to the energy; default 0.
        The exact solution minimises both, so the weight changes the conditioning,
        not the answer.  The strong residuals forbid what the energy's fixed
        quadrature cannot see (bumps between quadrature points); 0.1 is enough for
        that, at about three times the cost per iteration and a slower descent
        (figures in docs/benchmarks.md).  Training ends with
        :func:`quadrature_check`, which warns when the quadrature was exploited.
    traction_weight : float, optional
        Weight of the traction residuals ``|sigma(u) n - t|^2`` (in the problem's
        scaled units) integrated over every traction, pressure and traction-free part
        with the boundary quadrature and added to the energy; default 0 (off).  The
        energy asks the tractions only weakly (as work), so its stresses converge
        slowest on the boundary; the residuals hold them there (first derivatives
        only, so they combine with the singular fields).  The exact solution makes
        them vanish: the weight changes the path and where the error goes, not the
        limit.  Measured (docs/benchmarks.md): a weight of 1 brings the shear on the
        loaded end of the README's beam from 47% to 4% off, but takes the plate with
        a hole from 2.4e-5 to 9e-4 (stress concentration 3.17 instead of 3.000), so
        it is not the default.
    enrich : bool, optional
        Add the singular fields of the problem's singular points (re-entrant
        corners, ends of displacement conditions: :attr:`ElasticityProblem.
        singular_points`) to the solved linear layer (:mod:`pinngelu.enrichment`):
        their coefficients, the generalised stress intensity factors, are solved
        with the output layer at every evaluation.  Default (None): on where it
        applies (2D, ``strong_weight = 0``); False turns it off; True with
        ``strong_weight > 0`` is refused (the strong-form residuals would need the
        fields' second derivatives).
    grade : bool
        Grade the volume quadrature geometrically toward the singular points (2D;
        :class:`~pinngelu.geometry.graded.Grading` with :data:`GRADING_LEVELS`
        levels), where the energy density is unbounded; default True.

    Notes
    -----
    Every :class:`~pinngelu.Dirichlet` and :class:`~pinngelu.Symmetry` condition must be
    buildable into the network (named parts with distance functions, constant values;
    see ``hard_dirichlet``); displacement data and identified parameters are not
    supported.  The cells are quadratic: their boundary edges follow curved parts
    (an ``O(h^3)`` error of the domain); a :class:`~pinngelu.MeshDomain` is
    integrated on its own (straight) cells, uniformly refined to ``h``, with its
    conditions built in on planar parts.
    """

    h: float | None = None
    strong_weight: float = 0.0
    traction_weight: float = 0.0
    enrich: bool | None = None
    grade: bool = True

    name: ClassVar[str] = "energy formulation"
    least_squares: ClassVar[bool] = False  # the loss is the total potential energy
    collocation: ClassVar[bool] = False  # a fixed quadrature
    solves_output_layer: ClassVar[bool] = True
    starts_from_fit: ClassVar[bool] = True  # the Ritz solution in the initial features
    refinements: ClassVar[int] = QUADRATURE_REFINEMENTS

    def __post_init__(self) -> None:
        w = real_scalar(self.strong_weight, "EnergyForm strong_weight")
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"EnergyForm strong_weight must be finite and >= 0, got {w}")
        tw = real_scalar(self.traction_weight, "EnergyForm traction_weight")
        if not (math.isfinite(tw) and tw >= 0):
            raise ValueError(f"EnergyForm traction_weight must be finite and >= 0, got {tw}")
        if self.enrich is not None and not isinstance(self.enrich, (bool, np.bool_)):
            raise TypeError(f"EnergyForm enrich must be True, False or None, got {self.enrich!r}")
        if self.enrich and w > 0:
            raise ValueError(
                "EnergyForm(enrich=True) does not combine with strong_weight > 0: the "
                "strong-form residuals would need the singular fields' second derivatives"
            )
        if self.h is not None:
            h = real_scalar(self.h, "EnergyForm h (m)")
            if not (math.isfinite(h) and h > 0):
                raise ValueError(f"EnergyForm h must be a positive cell size (m), got {h}")

    def cell_size(self, problem: ElasticityProblem) -> float:
        """The quadrature cell size (m) for ``problem``."""
        if self.h is not None:
            return float(self.h)
        d = problem.dim
        cells = 2.0 * problem.n_interior / POINTS_PER_CELL[d]
        h = size_for_cells(d, problem.geometry.measure, cells)
        lo, hi = (np.asarray(v, float) for v in problem.geometry.bbox)
        return float(min(h, 0.25 * np.min(hi - lo)))

    def grading(self, problem: ElasticityProblem) -> Grading | None:
        """The grading of the volume quadrature toward ``problem``'s singular points
        (2D), or None."""
        if not self.grade or problem.dim != 2:
            return None
        pts = [p.position for p in problem.singular_points if p.edge is None]
        if not pts:
            return None
        return Grading(np.array(pts), levels=GRADING_LEVELS, radius_factor=2.0, reach=0.0)

    def enrichment(self, problem: ElasticityProblem) -> Enrichment | None:
        """The enrichment fields for ``problem`` (:func:`pinngelu.enrichment.
        build_enrichment`; None when off or where there is no singular point)."""
        if self.enrich is False or (self.enrich is None and self.strong_weight > 0):
            return None
        return problem.cached(("enrichment",), lambda: build_enrichment(problem))

    # ------------------------------------------------ the Formulation interface
    def prepare(self, problem: ElasticityProblem) -> tuple:
        if self.h is not None:
            lo, hi = (np.asarray(v, float) for v in problem.geometry.bbox)
            most = 0.25 * float(np.min(hi - lo))
            if self.h > most:
                raise ValueError(
                    f"EnergyForm h={self.h:g} m is larger than a quarter of the part's "
                    f"smallest extent ({most:.3g} m): so few cells leave the energy "
                    "unresolved and the quadrature check cannot tell; give h <= "
                    f"{most:.3g} m or leave h=None"
                )
        else:
            self._check_slender(problem)
        hard, kinds = build_hard_for_energy(problem)
        check_energy_problem(problem, kinds)
        self.check_memory(problem, folded=hard is not None)
        return hard, kinds

    def _check_slender(self, problem: ElasticityProblem) -> None:
        """Refuse a default cell size set by the thin-part rule that multiplies the
        volume points by more than :data:`SLENDER_LIMIT`."""
        d = problem.dim
        geom = problem.geometry
        h = self.cell_size(problem)
        h_n = size_for_cells(d, geom.measure, 2.0 * problem.n_interior / POINTS_PER_CELL[d])
        factor = (h_n / h) ** d
        if factor <= SLENDER_LIMIT:
            return
        lo, hi = (np.asarray(v, float) for v in geom.bbox)
        points = POINTS_PER_CELL[d] * volume_cells(geom, h)
        raise ValueError(
            f"the part is too slender for the energy formulation's default cell size: "
            f"a quarter of its smallest extent ({0.25 * float(np.min(hi - lo)):.3g} m) "
            f"gives about {points:.3g} volume quadrature points, {factor:.3g} times the "
            f"{2 * problem.n_interior} of n_interior={problem.n_interior} (at most "
            f"{SLENDER_LIMIT:g} times); give the cell size with EnergyForm(h=...) (a "
            "larger h, fewer cells through the thickness), or train the strong form "
            "(formulation=pinngelu.StrongForm())"
        )

    def check_memory(self, problem: ElasticityProblem, folded: bool | None = None) -> None:
        """Refuse (:class:`pinngelu.memory.MemoryLimitError`) a quadrature whose
        building and groups (:func:`energy_bytes`) would exceed the memory limit;
        nothing is allocated.

        ``folded``: whether the hard map folds the groups' operators (default: whether
        ``problem`` has one); given, the problem is being built, and the estimate leaves
        out the grading and the singular fields (which need its singular points)."""
        est = energy_bytes(problem, self, folded=folded, exact=folded is None)
        h = self.cell_size(problem)
        memory.check(
            est["points peak"],
            f"the energy formulation's quadrature of cell size h={h:.3g} m (about "
            f"{est['n_points']:.3g} volume points) and its residual groups",
            "the cell size with EnergyForm(h=...) (larger)"
            + (" or n_interior (fewer points)" if self.h is None else "")
            + ", or the formulation (formulation=pinngelu.StrongForm())",
        )

    def memory_bytes(self, problem: ElasticityProblem) -> dict[str, float]:
        """Estimated memory (bytes) of the residual groups (:func:`energy_bytes`),
        with ``quadrature check``: what the check on a quadrature of half the cell
        size (:func:`quadrature_check`) adds while it runs (the groups on both
        quadratures, the finer one built)."""
        out = energy_bytes(problem, self)
        if self.check_every(True) or self.check_every(False):
            bare = replace(self, strong_weight=0.0, traction_weight=0.0)
            h = self.cell_size(problem)
            fine = energy_bytes(problem, bare, 0.5 * min(h, mesh_size(problem.geometry)))
            coarse = energy_bytes(problem, bare, h)
            quad = 8.0 * (problem.dim + 1) * coarse["n_points"]  # kept by the problem
            out["quadrature check"] = fine["points peak"] + coarse["points"] - quad
            out["n_check"] = fine["n_group"]
        return out

    def residual_groups(
        self, problem: ElasticityProblem, rng: np.random.Generator
    ) -> list[ResidualGroup]:
        """The energy groups (the same for every ``rng``) followed by the strong-form
        groups weighted by ``strong_weight`` when it is positive."""
        groups = energy_groups(problem, self)
        if self.strong_weight > 0:
            for grp in StrongForm().residual_groups(problem, rng):
                grp.weight *= self.strong_weight
                groups.append(grp)
        return groups

    def check_every(self, solved_output_layer: bool) -> int:
        if solved_output_layer:
            return QUADRATURE_CHECK_EVERY_SOLVED
        return QUADRATURE_CHECK_EVERY

    def self_check(
        self, problem: ElasticityProblem, mlp: MLP, theta, device, coefficients=None
    ) -> dict:
        out = quadrature_check(problem, mlp, theta, device, form=self, coefficients=coefficients)
        out["tolerance"] = quadrature_tolerance(problem.dim)
        return out

    def refined(self, problem: ElasticityProblem) -> EnergyForm:
        return replace(self, h=0.5 * self.cell_size(problem))

    def final_check(
        self, problem: ElasticityProblem, mlp: MLP, theta, device, coefficients=None
    ) -> dict:
        return check_energy_quadrature(problem, mlp, theta, device, self, coefficients)

    def check_failure(self, check: dict) -> str:
        return (
            f"the energy differs by {check['relative_difference']:.1e} on a quadrature of "
            "half the cell size (the network is exploiting the quadrature)"
        )

    def discretisation(self, problem: ElasticityProblem) -> str:
        return f"a quadrature of cell size {self.cell_size(problem):.3g} m"

    def describe_check(self, check: dict) -> str:
        return (
            f"energy on the training quadrature {check['energy']:.6e}, on one of half "
            f"the cell size {check['energy_fine']:.6e} "
            f"(relative difference {check['relative_difference']:.1e})"
        )


def strain_energy_operator(d: int, lam: float, mu: float = 1.0) -> np.ndarray:
    """Coefficients ``S (1, K, d, nc)`` on the displacement's jets with
    ``W = sum_k (S_k : J)^2 / 2`` the strain energy density.

    ``2 W = K_b (tr eps)^2 + 2 mu dev(eps) : dev(eps)`` with the bulk modulus
    ``K_b = lam + 2 mu / d``; the deviatoric part is a sum of squares of differences of
    the normal strains and of the shear strains, so that every coefficient is real
    whenever ``K_b > 0`` and ``mu > 0`` (auxetic materials included).

    Parameters
    ----------
    d : int
        Dimension (2 or 3).
    lam, mu : float
        Lame constants of the equations (``lam*`` in plane stress), any consistent unit.

    Returns
    -------
    ndarray, shape (1, 4, 2, 6) in 2D or (1, 7, 3, 10) in 3D
    """
    if d not in (2, 3):
        raise ValueError(f"strain energy operators exist for d = 2 and 3, got {d}")
    bulk = lam + 2.0 * mu / d
    if not (bulk > 0 and mu > 0):
        raise ValueError(f"the strain energy needs lam + 2 mu / d > 0 and mu > 0, got {lam}, {mu}")
    rows = []

    def row(entries):
        r = np.zeros((d, n_channels(d)))
        for (comp, deriv), c in entries.items():
            r[comp, 1 + deriv] += c
        rows.append(r)

    row({(i, i): math.sqrt(bulk) for i in range(d)})  # trace
    pairs = [(0, 1)] if d == 2 else [(0, 1), (1, 2), (2, 0)]
    dev = math.sqrt(mu) if d == 2 else math.sqrt(2.0 * mu / 3.0)
    for i, j in pairs:  # normal-strain differences
        row({(i, i): dev, (j, j): -dev})
    for i in range(d):  # engineering shear strains 2 eps_ij
        for j in range(i + 1, d):
            row({(i, j): math.sqrt(mu), (j, i): math.sqrt(mu)})
    return np.stack(rows)[None]


def check_energy_problem(problem: ElasticityProblem, hard_kinds: dict[int, str]) -> None:
    """Raise ValueError when ``problem`` cannot be trained on its energy
    (``hard_kinds``: how each condition is built into the network, by index)."""
    lo, hi = (np.asarray(v, float) for v in problem.geometry.bbox)
    size = float(np.max(hi - lo))  # one parameter interval across the whole part
    if problem.n_q:
        raise ValueError("the energy formulation does not support identified parameters")
    if problem.data:
        raise ValueError("the energy formulation does not support displacement data")
    for k, bc in enumerate(problem.conditions):
        if isinstance(bc, (Dirichlet, Symmetry)) and k not in hard_kinds:
            raise ValueError(
                f"the energy formulation builds displacement conditions into the network, "
                f"but {type(bc).__name__} on {bc.part!r} cannot be (it needs a named part "
                "with a distance function and a constant value)"
            )
        if isinstance(bc, Symmetry) and hard_kinds[k] != "symmetry":
            raise ValueError(f"Symmetry on {bc.part!r} cannot be built into the network")
        if isinstance(bc, (Traction, Pressure)) and not isinstance(bc.part, str):
            raise ValueError(
                "the energy formulation integrates tractions over named boundary parts; a "
                "predicate selects the part of a traction condition"
            )
        if isinstance(bc, (Traction, Pressure)):
            try:
                # a few intervals only: the test is whether the part has a parametrisation
                part_quadrature(problem.geometry, bc.part, size)
            except ValueError as exc:
                raise ValueError(f"energy formulation: {exc}") from None


def build_hard_for_energy(problem: ElasticityProblem) -> tuple:
    """The hard map of ``problem``'s displacement conditions
    (:func:`pinngelu.hard_bc.build_hard_dirichlet`) without the warning about the soft
    ones: :func:`check_energy_problem` refuses those with its own message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_hard_dirichlet(problem.geometry, problem.conditions, problem.dim)


def _work_group(name, X, C, t, w, problem, enr) -> ResidualGroup:
    """``-sum_p w_p t_p . u(X_p)`` as a difference of squares."""
    X2 = np.concatenate([X, X])
    g2 = np.concatenate([t, -t])
    w2 = np.concatenate([0.25 * w, -0.25 * w])
    return _group(name, X2, C, g2, w2, problem, enr)


def _group(name, X, C, g, w, problem, enr: Enrichment | None) -> ResidualGroup:
    sc = problem.scales
    E = None if enr is None else enr.residuals(X, C, sc.length)
    if problem.hard is not None:
        C, g, _ = problem.hard.fold(X, C, g, None, sc)
    return ResidualGroup(name, sc.to_hat(X), C, g, 1.0, point_weights=w, enrichment=E)


def energy_groups(problem: ElasticityProblem, form: EnergyForm) -> list[ResidualGroup]:
    """The residual groups whose loss is the total potential energy of ``problem``
    in scaled units: ``"energy"`` (the strain energy), ``"work:body"`` (the body
    force, when there is one) and ``"work:<part>"`` per traction or pressure condition
    with a nonzero load; then, with a positive ``form.traction_weight``,
    ``"traction:<part>"`` per traction, pressure or traction-free part: the traction
    residuals at the boundary quadrature points, weighted by the quadrature weights
    times the traction weight (these make the loss exceed ``Pi`` by their sum of
    squares).

    Parameters
    ----------
    problem : ElasticityProblem
    form : EnergyForm

    Returns
    -------
    list of ResidualGroup
    """
    d = problem.dim
    sc = problem.scales
    L, mu = sc.length, problem.material.mu
    h = form.cell_size(problem)
    geom = problem.geometry
    grading = form.grading(problem)
    enr = form.enrichment(problem)
    form.check_memory(problem)
    Xv, wv = problem.cached(
        ("energy-quadrature", h, grading is not None),
        lambda: volume_quadrature(geom, h, grading),
    )
    wv_hat = wv / L**d
    S = strain_energy_operator(d, problem.lam_eff / mu)
    zeros = np.zeros((Xv.shape[0], S.shape[1]))
    groups = [_group("energy", Xv, S, zeros, 0.5 * wv_hat, problem, enr)]
    if problem.body_force is not None:
        f = problem.evaluate("energy body force", problem.body_force, Xv, d, "body force")
        f_hat = f * L**2 / (mu * sc.displacement)
        C = value_operator(Xv.shape[0], d, tuple(range(d)))
        groups.append(_work_group("work:body", Xv, C, f_hat, wv_hat, problem, enr))
    tw = float(form.traction_weight)
    residuals = []
    for k, bc in enumerate(problem.conditions):
        if not isinstance(bc, (Traction, Pressure)):
            continue
        Xb, Nb, wb = problem.cached(
            ("energy-part", bc.part, h),
            lambda bc=bc: part_quadrature(geom, bc.part, h),
        )
        name = f"work:{bc.part}" if isinstance(bc.part, str) else f"work#{k}"
        comps, t = problem.traction_values(bc, Xb, Nb, name)
        wb_hat = wb / L ** (d - 1)
        if tw > 0:
            T = traction_operator(Nb, problem.lam_eff / mu, 1.0)[:, list(comps)]
            rname = f"traction{name[4:]}"
            if any(g.name == rname for g in residuals):
                rname = f"{rname}#{k}"
            residuals.append(_group(rname, Xb, T, t / sc.stress, tw * wb_hat, problem, enr))
        if not np.any(t):
            continue  # traction-free: no work
        if any(g.name == name for g in groups):
            name = f"{name}#{k}"
        C = value_operator(Xb.shape[0], d, comps)
        groups.append(_work_group(name, Xb, C, t / sc.stress, wb_hat, problem, enr))
    return groups + residuals


def energy_bytes(
    problem: ElasticityProblem,
    form: EnergyForm,
    h: float | None = None,
    *,
    folded: bool | None = None,
    exact: bool = True,
) -> dict[str, float]:
    """Estimated memory (bytes) of :func:`energy_groups` ``(problem, form)`` at cell
    size ``h``, from the number of cells alone (nothing is built).

    The volume points are ``POINTS_PER_CELL[d]`` per cell
    (:func:`~pinngelu.geometry.quadrature.volume_cells`); building them peaks at
    :func:`~pinngelu.geometry.quadrature.volume_quadrature_bytes`, and they are kept
    (``8 (d + 1)`` bytes a point: coordinates and weights).  Then the groups are built
    one after another (:func:`pinngelu.strong.group_bytes`, with two more floats a
    point for the weights): the strain energy at the volume points (``K = 2 d - 1``
    rows: 3 in 2D, 7 in 3D, with the singular fields' ``n_e`` columns of residuals and
    the fields' jets while they are made), the work of the body force at each volume
    point twice, each loaded part's quadrature at each of its points twice, the
    traction residuals, and the strong-form groups when ``strong_weight > 0``
    (:func:`pinngelu.strong.collocation_bytes`).  Measured against the rise of the
    peak resident memory: see ``tests/test_memory.py``.

    Parameters
    ----------
    problem : ElasticityProblem
    form : EnergyForm
    h : float, optional
        Cell size (m); default ``form.cell_size(problem)``.
    folded : bool, optional
        Whether the hard map folds the operators (default: whether the problem has
        one).
    exact : bool
        Count the grading and the singular fields (this finds the problem's singular
        points); False leaves them out (while the problem is being built).

    Returns
    -------
    dict
        ``n_points`` (volume points), ``quadrature peak`` (building the volume
        quadrature), ``points`` (bytes held by the quadrature and the groups),
        ``points peak`` (the peak while all are built), ``n_group`` (points of the
        largest group), ``rows`` (residual rows of all the groups), ``k_group`` (rows
        a point of the strain energy: ``2 d - 1``) and ``n_e`` (the singular fields).
    """
    d = problem.dim
    h = form.cell_size(problem) if h is None else float(h)
    geom = problem.geometry
    folded = problem.hard is not None if folded is None else bool(folded)
    grading = form.grading(problem) if exact else None
    enr = form.enrichment(problem) if exact else None
    n_e = 0 if enr is None else len(enr)
    nv = POINTS_PER_CELL[d] * volume_cells(geom, h)
    key = ("energy-quadrature", h, grading is not None)
    built = key in getattr(problem, "_cache", {})  # problem.cached keeps it
    quad = 0.0 if built else volume_quadrature_bytes(geom, h, grading)
    held = 8.0 * (d + 1) * nv
    peak = quad
    rows = 2 * d - 1
    n_rows = rows * nv
    n_group = nv
    g_h, g_x = group_bytes(d, rows, nv, folded=folded, n_e=n_e)
    g_x += 16.0 * n_e * d * (d + 1) * nv  # the singular fields' jets
    parts = [(g_h + 8.0 * nv, g_x + 8.0 * nv)]  # and the point weights
    if problem.body_force is not None:
        b_h, b_x = group_bytes(d, d, 2 * nv, folded=folded, n_e=n_e)
        parts.append((b_h + 16.0 * (d + 1) * nv, b_x))
        n_rows += 2 * d * nv
        n_group = 2 * nv
    tw = float(form.traction_weight)
    for bc in problem.conditions:
        if not isinstance(bc, (Traction, Pressure)) or not isinstance(bc.part, str):
            continue
        nb = part_points(geom, bc.part, h)
        held += 8.0 * (2 * d + 1) * nb
        w_h, w_x = group_bytes(d, d, 2 * nb, folded=folded, n_e=n_e)
        parts.append((w_h + 16.0 * (d + 1) * nb, w_x))
        n_rows += 2 * d * nb
        n_group = max(n_group, 2 * nb)
        if tw > 0:
            parts.append(group_bytes(d, d, nb, per_point=True, folded=folded, n_e=n_e))
            n_rows += d * nb
    for g_held, extra in parts:
        peak = max(peak, held + g_held + extra)
        held += g_held
    if form.strong_weight > 0 and exact:  # the strong-form groups need the hard map
        s_held, s_peak = collocation_bytes(problem)
        peak = max(peak, held + s_peak)
        held += s_held
        n_group = max(n_group, problem.n_interior)
        n_rows += d * (problem.n_interior + problem.n_boundary)
    return {
        "n_points": nv,
        "quadrature peak": quad,
        "points": held,
        "points peak": peak,
        "n_group": n_group,
        "rows": n_rows,
        "k_group": float(rows),
        "n_e": float(n_e),
    }


def quadrature_check(
    problem: ElasticityProblem,
    mlp,
    theta: np.ndarray,
    device="cpu",
    form: EnergyForm | None = None,
    coefficients: np.ndarray | None = None,
    parameters: np.ndarray | None = None,
) -> dict:
    """The total potential energy of trained parameters on the training quadrature and
    on one of half the cell size.

    A network trained on a fixed quadrature can lower the discrete energy by fields
    that the quadrature does not see (bumps between the volume points under the
    loaded boundary points); the true energy then lies above the discrete one and the
    two quadratures disagree.  A well-resolved solution has both within the
    quadrature error (about ``1e-4`` relative, more with stress singularities).

    Parameters
    ----------
    problem : ElasticityProblem
    mlp : MLP
    theta : ndarray, shape (n_params,)
    device : str or Backend
    form : EnergyForm, optional
        The formulation whose quadrature is checked (default: the problem's).
    coefficients : ndarray, shape (n_e,), optional
        The enrichment coefficients of the trained field (:mod:`pinngelu.enrichment`),
        where the formulation has enrichment (default: zero).
    parameters : ndarray, shape (n_param,), optional
        For a member of a family (:mod:`pinngelu.family`): its scaled parameters,
        the network's further inputs at every point.

    Returns
    -------
    dict
        ``energy`` and ``energy_fine`` (J, per unit thickness in 2D) and
        ``relative_difference`` ``|energy - energy_fine| / |energy_fine|``.
    """
    form = problem.formulation if form is None else form
    if not isinstance(form, EnergyForm):
        raise ValueError("quadrature_check needs an energy formulation")
    h = form.cell_size(problem)
    unit = (
        problem.material.mu
        * problem.scales.displacement**2
        * problem.scales.length ** (problem.dim - 2)
    )
    out = {}
    # a mesh domain's quadrature refines its cells: halve their size, not only h
    fine = 0.5 * min(h, mesh_size(problem.geometry))
    for key, form_h in (("energy", h), ("energy_fine", fine)):
        groups = energy_groups(
            problem, replace(form, h=form_h, strong_weight=0.0, traction_weight=0.0)
        )
        for grp in groups:
            if grp.n_enrichment and coefficients is not None and len(coefficients):
                grp.set_enrichment_coefficients(coefficients)
        if parameters is not None:
            groups = [g.with_inputs(parameters) for g in groups]
        out[key] = loss_and_grad(mlp, theta, groups, device).loss * unit
    out["relative_difference"] = abs(out["energy"] - out["energy_fine"]) / max(
        abs(out["energy_fine"]), 1e-300
    )
    return out


def check_energy_quadrature(
    problem: ElasticityProblem,
    mlp,
    theta: np.ndarray,
    device="cpu",
    form: EnergyForm | None = None,
    coefficients: np.ndarray | None = None,
):
    """:func:`quadrature_check`, with an :class:`EnergyQuadratureWarning` naming the
    remedies when the relative difference exceeds :func:`quadrature_tolerance`."""
    out = quadrature_check(problem, mlp, theta, device, form, coefficients)
    tol = quadrature_tolerance(problem.dim)
    if out["relative_difference"] > tol:
        warnings.warn(
            f"the trained field's energy changes by {out['relative_difference']:.1e} "
            f"(relative) on a quadrature of half the cell size (tolerance "
            f"{tol:g}): the network has exploited the quadrature and "
            "the result is not to be trusted; train again with "
            "EnergyForm(strong_weight=0.1) or a smaller cell size h, and compare with "
            "the finite-element reference (pinngelu.fem)",
            EnergyQuadratureWarning,
            stacklevel=3,
        )
    return out
