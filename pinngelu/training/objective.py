"""The objective a stage minimises: ``x -> (loss, grad)`` over the current residual
groups, with variable projection of the output layer where it is asked for."""

from __future__ import annotations

import math

import numpy as np

from ..jacobian import normal_equations
from ..kernels import get_backend
from ..loss import ResidualGroup, fit_linear_layer, loss_and_grad
from ..network import MLP
from ..parallel import as_comm

__all__ = ["Objective"]


class Objective:
    """``x -> (loss, grad)`` over residual groups on a backend, remembering the
    per-group losses of the last evaluation.

    ``x = [theta, q]``: the network parameters, then the trainable physical
    parameters of an inverse problem (none for a forward problem).

    With ``solve_output`` (variable projection) the output layer of ``x`` is not
    used: :meth:`params` replaces it by the minimiser of the loss over that layer
    (:func:`~pinngelu.loss.fit_output_layer`, a linear least-squares or Ritz
    problem), and the value and gradient are those of the reduced loss
    ``min_W L(theta_hidden, W)``.  Its gradient in the hidden layers is the partial
    gradient at the minimiser (the minimiser is stationary in ``W``); its
    output-layer entries are zero.

    Groups with enrichment (:mod:`pinngelu.enrichment`) have their coefficients
    solved with the output layer (:func:`~pinngelu.loss.fit_linear_layer`); without
    ``solve_output`` they keep the last solved ones (:attr:`coefficients`).
    """

    def __init__(
        self,
        mlp: MLP,
        groups: list[ResidualGroup],
        device,
        n_q: int = 0,
        comm=None,
        solve_output: bool = False,
    ) -> None:
        self.mlp = mlp
        self.comm = as_comm(comm)
        self.backend = get_backend(device)
        self.n_q = n_q
        self.n_eval = 0
        self.last_groups: dict[str, float] = {}
        self.solve_output = solve_output
        self._projected: tuple = (None, None, None, None)
        #: The enrichment coefficients ``(n_e,)`` in use (empty without enrichment).
        self.coefficients = np.zeros(0)
        self.groups = groups

    @property
    def groups(self) -> list[ResidualGroup]:
        """The residual groups evaluated."""
        return self._groups

    @groups.setter
    def groups(self, groups: list[ResidualGroup]) -> None:
        self._groups = groups
        self.apply_coefficients(self.coefficients)

    def apply_coefficients(self, c: np.ndarray) -> None:
        """Use the enrichment coefficients ``c`` on the groups that have enrichment
        (ignored while the number of fields differs, e.g. before the first solve)."""
        self.coefficients = np.asarray(c, dtype=np.float64).copy()
        for grp in self._groups:
            if grp.n_enrichment and grp.n_enrichment == self.coefficients.size:
                grp.set_enrichment_coefficients(self.coefficients)

    def params(self, x: np.ndarray) -> np.ndarray:
        """The parameters ``x`` stands for: ``x`` itself, or with ``solve_output`` its
        hidden layers and the output layer that minimises the loss over them."""
        if not self.solve_output or not np.all(np.isfinite(x)):
            return x
        groups, x0, full, c = self._projected
        if groups is self.groups and np.array_equal(x0, x):
            self.apply_coefficients(c)
            return full
        P = self.mlp.n_params
        q = x[P:] if self.n_q else None
        theta, c = fit_linear_layer(self.mlp, x[:P], self.groups, self.backend, q)
        self.apply_coefficients(c)
        full = np.concatenate([theta, x[P:]])
        self._projected = (self.groups, x.copy(), full, c)
        return full

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_eval += 1
        if not np.all(np.isfinite(x)):
            return math.nan, np.full_like(x, math.nan)
        P = self.mlp.n_params
        x = self.params(x)
        q = x[P:] if self.n_q else None
        res = loss_and_grad(self.mlp, x[:P], self.groups, self.backend, q=q, comm=self.comm)
        self.last_groups = res.group_losses
        grad = res.grad
        if self.solve_output:
            grad = grad.copy()
            grad[self.mlp.offsets[self.mlp.n_layers - 1] :] = 0.0
        if self.n_q:
            return res.loss, np.concatenate([grad, res.grad_q])
        return res.loss, grad

    def value(self, x: np.ndarray) -> float:
        """The loss alone (one evaluation)."""
        return self(x)[0]

    def normal(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``(loss, J^T J, J^T r)`` of the residual vector at ``x`` (one evaluation)."""
        self.n_eval += 1
        P = self.mlp.n_params
        q = x[P:] if self.n_q else None
        ne = normal_equations(self.mlp, x[:P], self.groups, self.backend, q=q)
        self.last_groups = ne.group_losses
        return ne.loss, ne.JtJ, ne.Jtr
