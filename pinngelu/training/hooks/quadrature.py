"""Hook: the formulation's check of its discretisation during training (the energy
formulation: the energy on a quadrature of half the cell size), through the
:class:`~pinngelu.formulation.Formulation` interface only.

Every ``form.check_every`` iterations the current iterate is checked.  Where it passes
it becomes the last checked iterate.  Where it fails (the network has begun to lower
the energy by fields between the quadrature points) training goes back to the last
checked iterate and continues on ``form.refined()`` (``form.refinements`` times; one
more failure stops the run at the last checked iterate).
"""

from __future__ import annotations

import numpy as np

from ..checkpoint import set_rng_state
from .base import Hook

__all__ = ["QuadratureCheck"]


class QuadratureCheck(Hook):
    """Watch the formulation's quadrature (see the module docstring)."""

    key = "quadrature"

    def __init__(self) -> None:
        self.refined = 0  # refinements in this run
        self.last_checked: tuple[int, np.ndarray | None] = (0, None)

    def begin(self, run) -> str | None:
        if self.last_checked[1] is None:  # the start counts as checked
            self.last_checked = (run.it, run.theta.copy())
        return None

    def after_iteration(self, run) -> str | None:
        every = run.form.check_every(run.obj.solve_output)
        if not every or run.it % every:
            return None
        theta = run.current()[0]
        check = run.form.self_check(
            run.problem, run.mlp, theta, run.obj.backend, run.obj.coefficients
        )
        if check["relative_difference"] <= check["tolerance"]:
            self.last_checked = (run.it, run.theta.copy())
            return None
        it0, good = self.last_checked
        run.theta = run.obj.params(good).copy()
        lead = f"iteration {run.it}: {run.form.check_failure(check)}"
        if self.refined >= run.form.refinements:
            run.best = (run.obj.value(run.theta), run.theta.copy())
            return f"{lead}; stopped at the last checked iterate (iteration {it0})"
        run.form = run.form.refined(run.problem)
        self.refined += 1
        set_rng_state(run.rng, run.sample_state)
        run.set_groups(run.form.residual_groups(run.problem, run.rng))
        f = run.obj.value(run.theta)
        run.best = (f, run.theta.copy())
        run.say(
            f"[{run.stages[run.si].name}] {lead}; back to iteration {it0}, continuing on "
            f"{run.form.discretisation(run.problem)}"
        )
        run.restart_stage()
        return None

    def state(self):
        arrays = {}
        if self.last_checked[1] is not None:
            arrays["last_checked_theta"] = self.last_checked[1]
        return {"refined": self.refined, "last_checked_it": self.last_checked[0]}, arrays

    def load(self, meta, arrays) -> None:
        self.refined = int(meta.get("refined", 0))
        if "last_checked_theta" in arrays:
            theta = np.array(arrays["last_checked_theta"])
            self.last_checked = (int(meta["last_checked_it"]), theta)
