"""What a formulation is: the interface the trainer sees.

A formulation turns an :class:`~pinngelu.ElasticityProblem` into the residual groups
the kernels evaluate, says what it supports, and names what it contributes to
training.  The trainer asks these questions and never which formulation it has:

- :meth:`Formulation.prepare`: the displacement conditions it builds into the network
  (a :class:`~pinngelu.hard_bc.HardDirichlet` map) and a refusal of what the problem
  holds but the formulation cannot take (ValueError naming it);
- :meth:`Formulation.residual_groups`: the loss as residual groups;
- ``least_squares``: whether the loss is a sum of squares (Levenberg-Marquardt and
  the residual Jacobian need it);
- ``collocation``: whether the groups sit on random collocation points (then
  resampling and adaptive points apply);
- ``solves_output_layer``: the default of ``TrainConfig.solve_output_layer``;
- ``starts_from_fit``: whether training starts from the fitted output layer;
- ``refinements``: how many times training may move on to :meth:`Formulation.refined`;
- :meth:`Formulation.check_every`, :meth:`Formulation.self_check`,
  :meth:`Formulation.refined`, :meth:`Formulation.final_check` (with
  :meth:`Formulation.check_failure`, :meth:`Formulation.discretisation` and
  :meth:`Formulation.describe_check` for progress lines): a check of the
  discretisation during and after training, and the finer formulation to go on with
  when it fails (the energy formulation's quadrature check; the strong form has none);
- :meth:`Formulation.settings` / :meth:`Formulation.with_settings`: what a checkpoint
  stores of it.

Two formulations exist: :class:`~pinngelu.strong.StrongForm` and
:class:`~pinngelu.energy.EnergyForm`.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np

    from .network import MLP
    from .problem import ElasticityProblem

__all__ = ["Formulation"]


class Formulation:
    """Interface of a formulation (see the module docstring)."""

    name: ClassVar[str] = "formulation"
    least_squares: ClassVar[bool] = True
    collocation: ClassVar[bool] = True
    solves_output_layer: ClassVar[bool] = False
    starts_from_fit: ClassVar[bool] = False
    refinements: ClassVar[int] = 0

    def prepare(self, problem: ElasticityProblem) -> tuple[Any, dict[int, str]]:
        """``(hard, kinds)``: the map of the conditions built into the network (or
        None) and, per index into ``problem.conditions``, how each is built in
        (``"dirichlet"`` or ``"symmetry"``).  Raises ValueError for what the
        formulation cannot take."""
        raise NotImplementedError  # pragma: no cover

    def residual_groups(self, problem: ElasticityProblem, rng: np.random.Generator) -> list:
        """The loss of ``problem`` as residual groups (scaled units)."""
        raise NotImplementedError  # pragma: no cover

    def check_every(self, solved_output_layer: bool) -> int:
        """Iterations between the checks of :meth:`self_check` during training (0:
        none)."""
        return 0

    def self_check(
        self, problem: ElasticityProblem, mlp: MLP, theta, device, coefficients=None
    ) -> dict:
        """A check of the discretisation at ``theta``: a dict with at least
        ``relative_difference`` and ``tolerance``."""
        raise NotImplementedError  # pragma: no cover

    def refined(self, problem: ElasticityProblem) -> Formulation:
        """The finer formulation to continue on after a failed :meth:`self_check`."""
        raise NotImplementedError  # pragma: no cover

    def final_check(
        self, problem: ElasticityProblem, mlp: MLP, theta, device, coefficients=None
    ) -> dict | None:
        """The check of a trained result (warning where it fails), or None."""
        return None

    def describe_check(self, check: dict) -> str:
        """One line of progress output for a result of :meth:`final_check`."""
        return f"check of the result: relative difference {check['relative_difference']:.1e}"

    def settings(self) -> dict:
        """The formulation's settings, JSON-ready (stored in checkpoints)."""
        return asdict(self)  # type: ignore[call-overload]

    def with_settings(self, settings: dict) -> Formulation:
        """This formulation with ``settings`` (from :meth:`settings`)."""
        return replace(self, **settings)  # type: ignore[type-var]

    def check_failure(self, check: dict) -> str:
        """What a failed :meth:`self_check` found, for the progress line."""
        return (
            f"the check of the {self.name} differs by {check['relative_difference']:.1e} "
            f"(tolerance {check['tolerance']:g})"
        )

    def discretisation(self, problem: ElasticityProblem) -> str:
        """The discretisation the formulation trains on, for progress lines."""
        return f"the {self.name}"
