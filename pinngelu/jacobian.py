"""The residual vector and its Jacobian in the parameters: the least-squares view of
the loss that Gauss-Newton and Levenberg-Marquardt work with.

The loss of a list of :class:`~pinngelu.loss.ResidualGroup` is a weighted sum of
squares; with the square roots of the weights folded into the rows it is exactly

    L(theta, q) = |r(theta, q)|^2,   r = [sqrt(w_p) (C(q) : U(x_p; theta) - g)_k]

stacked group by group (list order), point by point, component by component.  The
kernels return ``r`` and ``dr/dtheta`` row by row (one reverse pass per row); the
columns of the trainable physical parameters ``q`` of an inverse problem follow from
the output jets, since ``C`` is affine in ``q``:
``dr/dq_a = sqrt(w_p) (C_a : U)_k``.  Consequently ``2 J^T r`` is the gradient of the
loss, which the tests check against :func:`pinngelu.loss.loss_and_grad`.

For many rows, :func:`normal_equations` accumulates ``J^T J`` and ``J^T r`` block by
block of rows in a fixed order, without storing ``J``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dsyrk

from .kernels import Backend, get_backend, n_channels
from .loss import ResidualGroup, check_inputs
from .network import MLP

__all__ = ["n_residuals", "residuals_and_jacobian", "normal_equations", "NormalEquations"]

BLOCK_ROWS = 2048
"""Rows per block in :func:`normal_equations` (memory ``8 BLOCK_ROWS (P + n_q)`` bytes)."""


def n_residuals(groups: list[ResidualGroup]) -> int:
    """Length of the residual vector: the sum over groups of points x components."""
    return sum(grp.n_points * grp.n_rows for grp in groups)


def _blocks(groups: list[ResidualGroup], block_rows: int):
    """``(group, p0, p1)`` chunks of at most ``block_rows`` rows, in row order."""
    for grp in groups:
        per = max(1, block_rows // max(grp.n_rows, 1))
        for p0 in range(0, grp.n_points, per):
            yield grp, p0, min(grp.n_points, p0 + per)


def _fill(be: Backend, net, grp: ResidualGroup, q, p0: int, p1: int, r, Jac, P: int) -> None:
    """Rows of the points ``p0 <= p < p1`` of one group into ``r`` and ``Jac``
    (columns ``P:`` for ``q``)."""
    if grp.signed:
        raise ValueError(
            f"group {grp.name!r} has negative point weights: its loss is no sum of squares, "
            "so it has no residual Jacobian (use QuasiNewton or LBFGS)"
        )
    X, C, g, w = grp.on(be, q)
    need_q = grp.n_q > 0
    nc = n_channels(grp.X.shape[1])
    J = np.empty((p1 - p0, grp.out_dim, nc)) if need_q else None
    Jt = Jac if Jac.shape[1] == P else np.empty((Jac.shape[0], P))
    be.residual_jacobian(net, X, C, g, w, p0, p1, r, Jt, J)
    if Jt is not Jac:
        Jac[:, :P] = Jt
    if Jac.shape[1] > P:
        Jac[:, P:] = 0.0
    if need_q:
        Cq = grp.param_coefficients
        wk = grp.kernel_weights()
        sw = np.sqrt(wk[p0:p1] if wk.shape[0] > 1 else np.full(p1 - p0, wk[0]))
        for a in range(Cq.shape[0]):
            Ca = Cq[a, p0:p1] if Cq.shape[1] > 1 else Cq[a, :1]
            CJ = np.einsum("pkjc,pjc->pk", np.broadcast_to(Ca, (p1 - p0, *Ca.shape[1:])), J)
            Jac[:, P + a] = (sw[:, None] * CJ).reshape(-1)


def residuals_and_jacobian(
    mlp: MLP,
    theta: np.ndarray,
    groups: list[ResidualGroup],
    device: str | Backend = "cpu",
    q: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The scaled residual vector and its dense Jacobian.

    Parameters
    ----------
    mlp : MLP
    theta : ndarray, shape (P,)
    groups : list of ResidualGroup
    device : {"cpu", "cuda"} or Backend
    q : ndarray, shape (n_q,), optional
        Trainable physical parameters (groups with ``param_coefficients``).

    Returns
    -------
    r : ndarray, shape (n_res,)
        ``sqrt(w_p) r_k(p)`` for every group, point and component (see the module
        docstring); ``r @ r`` is the loss.
    jac : ndarray, shape (n_res, P + n_q)
        ``dr / d[theta, q]``; ``2 jac.T @ r`` is the gradient of the loss.
    """
    theta, q = check_inputs(mlp, theta, groups, q)
    be = get_backend(device)
    net = be.net_arrays(mlp, theta)
    P = mlp.n_params
    nq = 0 if q is None else q.shape[0]
    n = n_residuals(groups)
    r = np.empty(n)
    jac = np.empty((n, P + nq))
    row = 0
    for grp in groups:
        k = grp.n_points * grp.n_rows
        _fill(be, net, grp, q, 0, grp.n_points, r[row : row + k], jac[row : row + k], P)
        row += k
    return r, jac


@dataclass
class NormalEquations:
    """``J^T J``, ``J^T r`` and the loss ``r^T r`` at one point.

    Attributes
    ----------
    loss : float
    JtJ : ndarray, shape (n, n)
    Jtr : ndarray, shape (n,)
        Half the gradient of the loss.
    n_res : int
        Number of residual rows.
    group_losses : dict of str to float
        Each group's share of the loss.
    """

    loss: float
    JtJ: np.ndarray
    Jtr: np.ndarray
    n_res: int
    group_losses: dict


def normal_equations(
    mlp: MLP,
    theta: np.ndarray,
    groups: list[ResidualGroup],
    device: str | Backend = "cpu",
    q: np.ndarray | None = None,
    block_rows: int = BLOCK_ROWS,
) -> NormalEquations:
    """``J^T J`` and ``J^T r`` accumulated over blocks of rows, without storing ``J``.

    The blocks are taken and summed in row order, so the result does not depend on
    the number of threads.  Memory: ``8 (n^2 + block_rows n)`` bytes with
    ``n = P + n_q``.

    Parameters
    ----------
    mlp, theta, groups, device, q
        As for :func:`residuals_and_jacobian`.
    block_rows : int
        Rows per block.

    Returns
    -------
    NormalEquations
    """
    if int(block_rows) != block_rows or block_rows < 1:
        raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
    theta, q = check_inputs(mlp, theta, groups, q)
    be = get_backend(device)
    net = be.net_arrays(mlp, theta)
    P = mlp.n_params
    n = P + (0 if q is None else q.shape[0])
    JtJ = np.zeros((n, n), order="F")  # the upper triangle is accumulated
    Jtr = np.zeros(n)
    loss = 0.0
    per: dict[str, float] = {}
    rows = max(int(block_rows), max(grp.n_rows for grp in groups))
    rbuf = np.empty(rows)
    jbuf = np.empty((rows, n))
    for grp, p0, p1 in _blocks(groups, int(block_rows)):
        k = (p1 - p0) * grp.n_rows
        r, jb = rbuf[:k], jbuf[:k]
        _fill(be, net, grp, q, p0, p1, r, jb, P)
        # JtJ += jb^T jb on the upper triangle (jb^T is an F-ordered (n, k) array)
        JtJ = dsyrk(1.0, jb.T, beta=1.0, c=JtJ, trans=0, lower=0, overwrite_c=1)
        Jtr += jb.T @ r
        part = float(r @ r)
        loss += part
        per[grp.name] = per.get(grp.name, 0.0) + part
    iu = np.tril_indices(n, -1)
    JtJ[iu] = JtJ.T[iu]
    return NormalEquations(loss, np.ascontiguousarray(JtJ), Jtr, n_residuals(groups), per)
