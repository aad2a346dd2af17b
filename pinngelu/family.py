"""One training for a family of problems: parameters (material, loads, shape) as
network inputs.

A :class:`Family` holds named :class:`Parameter` ranges and a function
``build(**values) -> ElasticityProblem`` that makes the member problem for given
values: the material, the loads and the geometry may all depend on them (a hole
radius, a length).  The network (:meth:`Family.network`) takes the member's scaled
coordinates and the scaled parameters ``(v - centre) / half-width`` in ``[-1, 1]``;
its jets differentiate the coordinates only.

Training (:func:`pinngelu.train` on the family) minimises the mean over ``members``
parameter points, drawn from a scrambled Sobol sequence with the run's generator
(deterministic for a seed; new points at every resampling), of each member's loss
in its own scaled units (:class:`FamilyForm`): for the energy formulation, a
quasi-Monte Carlo estimate of the integral of the total potential energy over the
parameter box, each member's displacement scale chosen from its own material and
loads, so that the network learns ``u / U(p)`` of order one for every member.

:meth:`Family.solution` returns a :class:`FamilySolution`; ``at(**values)`` is the
member's :class:`~pinngelu.solution.Solution` (displacement, strain, stress,
export), evaluated in one network pass.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from .energy import (
    QUADRATURE_CHECK_EVERY,
    QUADRATURE_CHECK_EVERY_SOLVED,
    EnergyForm,
    EnergyQuadratureWarning,
    quadrature_check,
    quadrature_tolerance,
)
from .formulation import Formulation
from .loss import ResidualGroup
from .network import MLP
from .network.mlp import MAX_PARAM

__all__ = ["Parameter", "Family", "FamilyForm", "FamilySolution", "FamilyFit", "MEMBER_CACHE"]

MEMBER_CACHE = 64
"""Member problems a :class:`Family` keeps (oldest dropped first)."""


@dataclass(frozen=True)
class Parameter:
    """A named parameter of a family of problems and its range.

    Parameters
    ----------
    name : str
        A Python identifier (the keyword of ``build`` and of ``FamilySolution.at``).
    low, high : float
        The range, ``low < high`` (in the parameter's own unit: Pa for a modulus,
        N/m or Pa for a load, m for a length, rad for an angle).

    Raises
    ------
    ValueError
        For a name that is not an identifier, or a range that is not finite and
        increasing.
    """

    name: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"a parameter's name must be an identifier, got {self.name!r}")
        lo, hi = self.low, self.high
        if isinstance(lo, bool) or isinstance(hi, bool):
            raise ValueError(f"parameter {self.name!r}: the range must be numbers")
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(
                f"parameter {self.name!r}: the range must be finite with low < high, got "
                f"[{self.low}, {self.high}]"
            )
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    @property
    def centre(self) -> float:
        return 0.5 * (self.low + self.high)

    def scaled(self, v):
        """``(v - centre) / half-width``: the network's input, ``[-1, 1]`` on the range."""
        return (np.asarray(v, dtype=np.float64) - self.centre) / (0.5 * (self.high - self.low))

    def unscaled(self, s):
        """Inverse of :meth:`scaled`."""
        return self.centre + 0.5 * (self.high - self.low) * np.asarray(s, dtype=np.float64)


@dataclass(frozen=True)
class FamilyForm(Formulation):
    """The loss of a family: the mean of the members' losses over ``members``
    parameter points (scrambled Sobol, drawn with the run's generator).

    Groups of the same name are merged over the members: their points get the
    member's scaled parameters as further columns, their coefficients become per
    point and their kernel weights are divided by ``members``.  The members'
    formulation is the reference member's (the energy formulation by default),
    without singular-field enrichment, whose coefficients would depend on the
    parameters.

    The energy formulation's check of its quadrature runs on every member of the
    draw (the largest relative difference counts); where it fails the members'
    cells are halved (``h_scale``), as for one problem.

    Parameters
    ----------
    members : int
        Parameter points per draw (a power of 2 keeps the Sobol points balanced).
    h_scale : float
        Factor on the members' quadrature cell size (halved by :meth:`refined`).
    """

    members: int = 16
    h_scale: float = 1.0
    least_squares: bool = False  # the kind of loss: the members' (Family sets these)
    collocation: bool = False
    solves_output_layer: bool = True
    starts_from_fit: bool = True
    refinements: int = 0
    name: ClassVar[str] = "family"

    def __post_init__(self) -> None:
        m = self.members
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise ValueError(f"FamilyForm(members=...) must be a positive integer, got {m!r}")
        if not (0.0 < float(self.h_scale) <= 1.0):
            raise ValueError(f"FamilyForm(h_scale=...) must be in (0, 1], got {self.h_scale!r}")

    @staticmethod
    def member_form(problem) -> Formulation:
        """The formulation a member is trained with: its own, without enrichment."""
        form = problem.formulation
        if getattr(form, "enrich", False) is not False and hasattr(form, "enrich"):
            form = replace(form, enrich=False)
        return form

    def form_of(self, member) -> Formulation:
        """The member's formulation at this family's cell-size factor."""
        form = member.formulation
        if self.h_scale != 1.0 and isinstance(form, EnergyForm):
            form = replace(form, h=self.h_scale * form.cell_size(member))
        return form

    def prepare(self, problem):  # pragma: no cover - a family prepares its members
        raise NotImplementedError

    def residual_groups(self, family: Family, rng: np.random.Generator) -> list[ResidualGroup]:
        """The merged groups of ``members`` members drawn with ``rng``."""
        values = family.draw(self.members, rng)
        family.drawn = values
        merged: dict[str, list[ResidualGroup]] = {}
        for row in values:
            kw = dict(zip(family.names, row.tolist(), strict=True))
            member = family.member(**kw)
            s = family.scaled(kw)
            for grp in self.form_of(member).residual_groups(member, rng):
                if grp.enrichment is not None:  # pragma: no cover - enrichment is off
                    raise ValueError("a family's members cannot have singular-field enrichment")
                if grp.param_coefficients is not None:
                    raise ValueError("a family's members cannot identify parameters")
                merged.setdefault(grp.name, []).append(grp.with_inputs(s))
        out = []
        for name, parts in merged.items():
            out.append(
                ResidualGroup(
                    name,
                    np.concatenate([g.X for g in parts]),
                    np.concatenate([g.C for g in parts]),
                    np.concatenate([g.g for g in parts]),
                    1.0,
                    point_weights=np.concatenate([g.point_weights for g in parts]) / self.members,
                )
            )
        return out

    # ------------------------------------------------------------- the check
    def check_every(self, solved_output_layer: bool) -> int:
        return self.refinements and (
            QUADRATURE_CHECK_EVERY_SOLVED if solved_output_layer else QUADRATURE_CHECK_EVERY
        )

    def self_check(self, family: Family, mlp, theta, device, coefficients=None) -> dict:
        """The energy check of every member of the last draw; the worst counts."""
        worst: dict = {"relative_difference": 0.0}
        for row in getattr(family, "drawn", ()):
            kw = dict(zip(family.names, row.tolist(), strict=True))
            member = family.member(**kw)
            form = self.form_of(member)
            if not isinstance(form, EnergyForm):
                continue
            c = quadrature_check(member, mlp, theta, device, form, None, family.scaled(kw))
            if c["relative_difference"] >= worst["relative_difference"]:
                worst = {**c, "member": kw}
        worst["tolerance"] = quadrature_tolerance(family.dim)
        return worst

    def refined(self, family: Family) -> FamilyForm:
        return replace(self, h_scale=0.5 * self.h_scale)

    def final_check(self, family: Family, mlp, theta, device, coefficients=None) -> dict | None:
        if not self.refinements:
            return None
        out = self.self_check(family, mlp, theta, device)
        if out["relative_difference"] > out["tolerance"]:
            warnings.warn(
                f"a member's energy changes by {out['relative_difference']:.1e} (relative) "
                f"on a quadrature of half the cell size (tolerance {out['tolerance']:g}): "
                "the network has exploited the quadrature; compare members with the "
                "finite-element reference (pinngelu.fem)",
                EnergyQuadratureWarning,
                stacklevel=3,
            )
        return out

    def describe_check(self, check: dict) -> str:
        return (
            "largest relative change of a member's energy on a quadrature of half the "
            f"cell size: {check['relative_difference']:.1e}"
        )

    def check_failure(self, check: dict) -> str:
        return (
            f"a member's energy differs by {check['relative_difference']:.1e} on a "
            "quadrature of half the cell size (the network is exploiting the quadrature)"
        )

    def discretisation(self, problem) -> str:
        return f"{self.members} members a draw, quadrature cells x {self.h_scale:g}"


class Family:
    """A family of elasticity problems over a box of parameters.

    Parameters
    ----------
    build : callable
        ``build(**values) -> ElasticityProblem`` for values of every parameter (by
        name) in their ranges; the same dimension, conditions and formulation for
        every member.
    parameters : sequence of Parameter
        At least one, at most :data:`~pinngelu.network.mlp.MAX_PARAM`, distinct names.
    members : int
        Parameter points per draw of the training loss (:class:`FamilyForm`).

    Raises
    ------
    TypeError
        If ``build`` is not callable or a parameter is not a :class:`Parameter`.
    ValueError
        For no parameters, repeated names, or a ``build`` whose problem at the centre
        of the box is not an elasticity problem.
    """

    n_q = 0
    exact = None
    data: ClassVar[tuple] = ()

    def __init__(self, build: Callable[..., Any], parameters, members: int = 16) -> None:
        if not callable(build):
            raise TypeError(f"build must be callable, got {type(build).__name__}")
        params = tuple(parameters)
        if not params or len(params) > MAX_PARAM:
            raise ValueError(f"a family needs 1 to {MAX_PARAM} parameters, got {len(params)}")
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"parameters must be pinngelu.Parameter, got {type(p).__name__}")
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names must be distinct, got {names}")
        self.build = build
        self.parameters = params
        self._members: dict[tuple, Any] = {}  # the members built, by their values
        #: The parameter values ``(members, n_param)`` of the last draw of training.
        self.drawn: np.ndarray | None = None
        self.reference = self.member(**{p.name: p.centre for p in params})
        ref = FamilyForm.member_form(self.reference)
        # the loop asks the family's formulation what kind of loss it is: the members'
        self.formulation = FamilyForm(
            members,
            1.0,
            ref.least_squares,
            ref.collocation,
            ref.solves_output_layer,
            ref.starts_from_fit,
            ref.refinements,
        )

    def __repr__(self) -> str:
        ranges = ", ".join(f"{p.name} in [{p.low:g}, {p.high:g}]" for p in self.parameters)
        return f"Family({ranges}; {self.formulation.members} members a draw)"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def dim(self) -> int:
        return self.reference.dim

    def network(self, hidden=(30, 30, 30), activation: str = "gelu") -> MLP:
        """An :class:`~pinngelu.network.MLP` for this family: the coordinates and the
        parameters in, the displacement out."""
        return MLP(self.dim, hidden, self.dim, activation, n_param=len(self.parameters))

    def check_values(self, values: dict) -> dict[str, float]:
        """The values of every parameter, checked: all named, finite, in range."""
        unknown = sorted(set(values) - set(self.names))
        missing = [n for n in self.names if n not in values]
        if unknown or missing:
            raise ValueError(
                f"the family's parameters are {list(self.names)}; "
                + (f"unknown: {unknown}" if unknown else f"missing: {missing}")
            )
        out = {}
        for p in self.parameters:
            v = values[p.name]
            if isinstance(v, bool) or not np.isfinite(v):
                raise ValueError(f"parameter {p.name!r} must be a finite number, got {v!r}")
            span = 1e-12 * (p.high - p.low)
            if not (p.low - span <= float(v) <= p.high + span):
                raise ValueError(
                    f"parameter {p.name}={v} is outside its range [{p.low:g}, {p.high:g}] "
                    "(the family was trained there only)"
                )
            out[p.name] = float(v)
        return out

    def member(self, **values: float):
        """The member problem at ``values`` (every parameter, by name); the last
        :data:`MEMBER_CACHE` members are kept (their quadratures are reused)."""
        values = self.check_values(values)
        key = tuple(values[n] for n in self.names)
        if key in self._members:
            return self._members[key]
        problem = self.build(**values)
        if not callable(getattr(problem, "residual_groups", None)):
            raise ValueError(
                f"build(**values) must return an ElasticityProblem, got {type(problem).__name__}"
            )
        if hasattr(self, "reference") and problem.dim != self.reference.dim:
            raise ValueError("every member of a family must have the same dimension")
        problem.formulation = FamilyForm.member_form(problem)  # no enrichment
        if len(self._members) >= MEMBER_CACHE:
            self._members.pop(next(iter(self._members)))
        self._members[key] = problem
        return problem

    def scaled(self, values: dict) -> np.ndarray:
        """The network's parameter inputs ``(n_param,)`` for ``values``."""
        return np.array([float(p.scaled(values[p.name])) for p in self.parameters])

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` parameter points ``(n, n_param)`` in the box: a scrambled Sobol
        sequence seeded from ``rng``."""
        from scipy.stats import qmc

        seed = int(rng.integers(0, 2**63 - 1))
        u = qmc.Sobol(len(self.parameters), scramble=True, seed=seed).random(n)
        return np.column_stack(
            [p.unscaled(2.0 * u[:, i] - 1.0) for i, p in enumerate(self.parameters)]
        )

    def random_values(self, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
        """``n`` parameter points drawn uniformly (for checks away from training)."""
        lo = np.array([p.low for p in self.parameters])
        hi = np.array([p.high for p in self.parameters])
        pts = lo + (hi - lo) * rng.random((n, len(self.parameters)))
        return [dict(zip(self.names, row.tolist(), strict=True)) for row in pts]

    def residual_groups(self, rng: np.random.Generator) -> list[ResidualGroup]:
        return self.formulation.residual_groups(self, rng)

    def solution(self, mlp: MLP, result, device="cpu") -> FamilySolution:
        """The trained family (``result``: a :class:`~pinngelu.TrainResult` or the
        network parameters)."""
        theta = getattr(result, "theta", result)
        if mlp.n_param != len(self.parameters) or mlp.in_dim != self.dim:
            raise ValueError(
                f"the network takes {mlp.in_dim}-D points and {mlp.n_param} parameters; the "
                f"family is {self.dim}-D with {len(self.parameters)} (use family.network())"
            )
        return FamilySolution(self, mlp, np.asarray(theta, dtype=np.float64), device)


class FamilySolution:
    """A trained family: :meth:`at` gives the solution of one member."""

    def __init__(self, family: Family, mlp: MLP, theta: np.ndarray, device="cpu") -> None:
        self.family = family
        self.mlp = mlp
        self.theta = mlp.check_theta(theta)
        self.device = device

    def at(self, **values: float):
        """The :class:`~pinngelu.solution.Solution` of the member at ``values``."""
        values = self.family.check_values(values)
        member = self.family.member(**values)
        sol = member.solution(self.mlp, self.theta, device=self.device)
        sol.parameters = self.family.scaled(values)
        return sol

    # --------------------------------------------------------------- I/O
    def save(self, path) -> None:
        """Save the trained family (``.npz``, atomic): the network, its parameters and
        the family's parameter ranges."""
        import json

        from .io.files import write_npz

        meta = {
            "mlp": self.mlp.to_dict(),
            "family": [[p.name, p.low, p.high] for p in self.family.parameters],
        }
        write_npz(path, meta=np.array(json.dumps(meta)), theta=self.theta)

    @classmethod
    def load(cls, path, family: Family, device="cpu") -> FamilySolution:
        """Load a family saved by :meth:`save`; ``family`` must have the same
        parameters (names and ranges).

        Raises
        ------
        ValueError
            If the file is not a saved family or its parameters differ.
        """
        import json
        import zipfile
        from pathlib import Path

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no family file at {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                theta = np.array(z["theta"])
            mlp = MLP.from_dict(meta["mlp"])
            saved = [tuple(r) for r in meta["family"]]
        except (KeyError, TypeError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path} is not a saved pinngelu family: {exc!r}") from exc
        given = [(p.name, p.low, p.high) for p in family.parameters]
        if [(n, float(lo), float(hi)) for n, lo, hi in saved] != given:
            raise ValueError(
                f"{path} was trained on the parameters {saved}, the family given has {given}"
            )
        return family.solution(mlp, theta, device)

    def identify(
        self,
        X: np.ndarray,
        u: np.ndarray,
        unknown,
        known: dict | None = None,
        start: dict | None = None,
    ) -> FamilyFit:
        """The parameters whose member best explains measured displacements.

        Least squares over the ``unknown`` parameters within their ranges (a
        trust-region method with bounds, each evaluation one member evaluation at the
        measurement points), the others fixed at ``known``.

        Parameters
        ----------
        X : ndarray, shape (N, d)
            Measurement points (m).
        u : ndarray, shape (N, d)
            Measured displacements (m).
        unknown : sequence of str
            The parameters to identify.
        known : dict, optional
            The values of the other parameters.
        start : dict, optional
            Starting values (default: the centres of the ranges).

        Returns
        -------
        FamilyFit

        Raises
        ------
        ValueError
            For mismatched shapes, non-finite data, an unknown parameter name or a
            parameter that is neither identified nor given.
        """
        return _identify(self, X, u, unknown, known, start)


@dataclass(frozen=True)
class FamilyFit:
    """The result of :meth:`FamilySolution.identify`.

    Attributes
    ----------
    values : dict
        Every parameter's value (the identified ones and the known ones).
    rms : float
        Root-mean-square misfit of the displacements (m) at the best values.
    evaluations : int
        Member evaluations spent.
    seconds : float
        Wall time of the identification (s).
    """

    values: dict
    rms: float
    evaluations: int
    seconds: float


def _identify(fs: FamilySolution, X, u, unknown, known, start) -> FamilyFit:
    import time

    from scipy.optimize import least_squares

    t0 = time.perf_counter()
    fam = fs.family
    X = np.asarray(X, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != fam.dim or u.shape != X.shape:
        raise ValueError(
            f"identify needs points X (N, {fam.dim}) and displacements u of the same shape, "
            f"got {X.shape} and {u.shape}"
        )
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(u))):
        raise ValueError("identify: the points and displacements must be finite")
    unknown = tuple(unknown)
    known = dict(known or {})
    bad = [n for n in unknown if n not in fam.names]
    if bad or not unknown:
        raise ValueError(f"identify: unknown must name parameters of {list(fam.names)}, got {bad}")
    missing = [n for n in fam.names if n not in unknown and n not in known]
    if missing:
        raise ValueError(f"identify: give the values of the parameters not identified: {missing}")
    params = {p.name: p for p in fam.parameters}
    start = dict(start or {})
    s0 = np.array([float(params[n].scaled(start.get(n, params[n].centre))) for n in unknown])
    scale = float(np.sqrt(np.mean(u**2))) or 1.0
    count = [0]

    def values_at(s):
        vals = dict(known)
        for n, si in zip(unknown, s, strict=True):
            vals[n] = float(params[n].unscaled(np.clip(si, -1.0, 1.0)))
        return vals

    def residual(s):
        count[0] += 1
        return ((fs.at(**values_at(s)).displacement(X, check_inside=False) - u) / scale).ravel()

    fit = least_squares(residual, s0, bounds=(-1.0, 1.0), diff_step=1e-7, xtol=1e-10)
    rms = float(np.sqrt(np.mean(fit.fun**2))) * scale
    return FamilyFit(values_at(fit.x), rms, count[0], time.perf_counter() - t0)
