"""Hard Dirichlet conditions: ``u_k = G_k + phi_k N_k`` folded into the operators.

``phi_k`` is the R-equivalence of the approximate distance functions of the parts
where component ``k`` is prescribed (:mod:`pinngelu.geometry.distance`), ``G_k`` a
smooth extension of the prescribed constants (the constant itself when every part
of the component has the same value; otherwise the transfinite interpolation
``G = sum_i v_i prod_{j != i} phi_j / sum_l prod_{j != l} phi_j``).  Components with
no hard condition keep ``phi = 1``, ``G = 0``.

The jets of ``u`` are linear in those of the network output ``N`` (product rule)::

    J_u[k] = J_G[k] + M[k] J_N[k]

so a residual ``C : J_u - g`` is ``(C M) : J_N - (g - C : J_G)``: :meth:`fold`
returns the new coefficients and targets, and the kernels are unchanged.  All
arrays are in the scaled units of :class:`pinngelu.Scales` (``x_hat``, ``u / U``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .elasticity import (
    BoundaryCondition,
    Dirichlet,
    Scales,
    Symmetry,
    _describe,
    _eval_spec,
    prescribed_components,
)
from .geometry import Geometry
from .geometry.distance import DistanceFunction, Jet, NoDistanceFunction, co_products, r_join
from .kernels.layout import n_channels, second_pairs

__all__ = ["HardDirichlet", "build_hard_dirichlet", "product_operator"]


def product_operator(phi: Jet) -> np.ndarray:
    """The matrix ``M (N, nc, nc)`` with ``jets(phi N) = M jets(N)`` (product rule).

    ``(phi N)_i = phi_i N + phi N_i`` and
    ``(phi N)_ij = phi_ij N + phi_i N_j + phi_j N_i + phi N_ij``.
    """
    N, d = phi.g.shape
    nc = n_channels(d)
    M = np.zeros((N, nc, nc))
    for c in range(nc):
        M[:, c, c] = phi.v
    for i in range(d):
        M[:, 1 + i, 0] = phi.g[:, i]
    for s, (i, j) in enumerate(second_pairs(d)):
        c = 1 + d + s
        M[:, c, 0] = phi.h[:, i, j]
        M[:, c, 1 + i] += phi.g[:, j]
        M[:, c, 1 + j] += phi.g[:, i]
    return M


def _channels(jet: Jet) -> np.ndarray:
    """A jet as channels ``(N, nc)`` (value, gradient, second derivatives i <= j)."""
    d = jet.g.shape[1]
    pairs = second_pairs(d)
    return np.column_stack([jet.v, jet.g] + [jet.h[:, i, j][:, None] for i, j in pairs])


class HardDirichlet:
    """Per-component distance functions and prescribed constants.

    Parameters
    ----------
    dim : int
        Dimension ``d`` (the network has ``d`` outputs).
    parts : list of list of (DistanceFunction, float)
        Per component, the distance functions of its hard parts with their
        prescribed displacements (m); an empty list leaves the component free.
    """

    def __init__(self, dim: int, parts: list[list[tuple[DistanceFunction, float]]]) -> None:
        if len(parts) != dim:
            raise ValueError(f"need one list of parts per component ({dim}), got {len(parts)}")
        self.dim = dim
        self.parts = [list(p) for p in parts]

    @property
    def components(self) -> tuple[int, ...]:
        """The components with hard conditions."""
        return tuple(k for k, p in enumerate(self.parts) if p)

    def _phi_and_G(self, X: np.ndarray, k: int, sc: Scales) -> tuple[Jet, Jet]:
        """``phi_k`` and ``G_k / U`` at points ``X (N, d)`` (m), derivatives in ``x_hat``."""
        L, U = sc.length, sc.displacement
        N, d = X.shape
        jets = [df.jets(X) for df, _ in self.parts[k]]
        vals = [v for _, v in self.parts[k]]
        # to x_hat: phi_hat = phi / L, gradient unchanged, Hessian times L
        hat = [Jet(j.v / L, j.g, j.h * L) for j in jets]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # one part: its jets, sanitized by DistanceFunction.jets, times finite scales
            phi = hat[0] if len(hat) == 1 else r_join(hat).sanitized()
        if all(v == vals[0] for v in vals):
            G = Jet.constant(vals[0] / U, N, d)
        else:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                G = _transfinite(hat, [v / U for v in vals])
                # on a part (where its ADF vanishes) G is that part's value
                bad = ~np.isfinite(G.v)
                G = G.sanitized()
            for j, v in zip(hat, vals, strict=True):
                on = bad & (j.v == 0.0)
                G.v[on] = v / U
        return phi, G

    def maps(self, X: np.ndarray, sc: Scales) -> tuple[np.ndarray, np.ndarray]:
        """``M (N, d, nc, nc)`` and ``J_G (N, d, nc)`` at points ``X (N, d)`` (m):
        ``J_u = J_G + M J_N`` per component, in scaled units."""
        N, d = X.shape
        nc = n_channels(d)
        M = np.broadcast_to(np.eye(nc), (N, d, nc, nc)).copy()
        JG = np.zeros((N, d, nc))
        for k in self.components:
            phi, G = self._phi_and_G(X, k, sc)
            M[:, k] = product_operator(phi)
            JG[:, k] = _channels(G)
        return M, JG

    def fold(
        self,
        X: np.ndarray,
        C: np.ndarray,
        g: np.ndarray,
        Cq: np.ndarray | None,
        sc: Scales,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Coefficients and targets on the network's jets at points ``X (N, d)`` (m).

        Parameters
        ----------
        C : ndarray (N or 1, K, d, nc)
        g : ndarray (N, K)
        Cq : ndarray (n_q, N or 1, K, d, nc) or None

        Returns
        -------
        C_eff (N, K, d, nc), g_eff (N, K), Cq_eff (n_q, N, K, d, nc) or None

        Raises
        ------
        ValueError
            When the targets would depend on identified material parameters (a
            nonconstant ``G`` under an operator with parameter coefficients).
        """
        M, JG = self.maps(X, sc)
        N = X.shape[0]
        Cb = np.broadcast_to(C, (N, *C.shape[1:]))
        C_eff = np.einsum("prkc,pkce->prke", Cb, M)
        g_eff = g - np.einsum("prkc,pkc->pr", Cb, JG)
        if Cq is not None:
            Cqb = np.broadcast_to(Cq, (Cq.shape[0], N, *Cq.shape[2:]))
            if np.any(np.einsum("aprkc,pkc->apr", Cqb, JG) != 0.0):
                raise ValueError(
                    "hard Dirichlet conditions with different values on one component make "
                    "the targets depend on the identified material parameters; use "
                    "hard_dirichlet=False for this inverse problem"
                )
            Cq = np.einsum("aprkc,pkce->aprke", Cqb, M)
        return C_eff, g_eff, Cq

    def displacement_jets(self, X: np.ndarray, JN: np.ndarray, sc: Scales) -> np.ndarray:
        """Jets ``(N, d, m)`` of ``u / U`` in ``x_hat`` from the network's jets ``JN
        (N, d, m)`` at points ``X (N, d)`` (m): ``m = nc`` channels, ``m = 1 + d`` (value
        and gradient: the first-order channels depend on those alone) or ``m = 1`` (the
        value)."""
        J = np.array(JN, dtype=np.float64)
        m = JN.shape[2]
        done: dict[tuple, tuple[Jet, Jet]] = {}  # components with the same parts share them
        for k in self.components:
            key = tuple((id(df), v) for df, v in self.parts[k])
            if key not in done:
                done[key] = self._phi_and_G(X, k, sc)
            phi, G = done[key]
            N = JN[:, k]
            if m <= 1 + X.shape[1]:  # product rule to first order, written out
                J[:, k, 0] = G.v + phi.v * N[:, 0]
                if m > 1:
                    J[:, k, 1:] = G.g + phi.g * N[:, :1] + phi.v[:, None] * N[:, 1:]
            else:
                J[:, k] = _channels(G) + np.einsum("pce,pe->pc", product_operator(phi), N)
        return J


def _transfinite(hat: list[Jet], vals: list[float]) -> Jet:
    """``sum_i v_i prod_{j != i} phi_j / sum_l prod_{j != l} phi_j``."""
    num = None
    for k, v in enumerate(vals):
        term = None
        for i, j in enumerate(hat):
            if i != k:
                term = j if term is None else term * j
        term = term * v
        num = term if num is None else num + term
    return num / co_products(hat)


#: Tolerance on the normals of a Symmetry part for it to count as axis-aligned.
AXIS_TOL = 1e-9


def build_hard_dirichlet(
    geometry: Geometry, conditions: Sequence[BoundaryCondition], d: int
) -> tuple[HardDirichlet | None, dict[int, str]]:
    """The hard map of a problem's conditions and which conditions it takes over.

    A :class:`~pinngelu.Dirichlet` condition is hard when its part is named, has a
    distance function (:meth:`pinngelu.Geometry.part_distance`) and its value is a
    constant; a :class:`~pinngelu.Symmetry` condition when, besides, every normal of
    its part is a coordinate axis ``+-e_k`` (then ``u_k = 0`` there, and the
    tangential tractions stay in the loss).  Every other condition stays soft, and a
    :class:`UserWarning` names them with the reason.

    Returns
    -------
    hard : HardDirichlet or None
        None when no condition can be hard.
    taken : dict of int to str
        Index of each hard condition in ``conditions`` to ``"dirichlet"`` or
        ``"symmetry"``.
    """
    parts: list[list[tuple[DistanceFunction, float]]] = [[] for _ in range(d)]
    taken: dict[int, str] = {}
    soft: list[str] = []
    rng = np.random.default_rng(0)
    for i, bc in enumerate(conditions):
        if not isinstance(bc, (Dirichlet, Symmetry)):
            continue
        what = f"{type(bc).__name__} on {_describe(bc.part)!r}"
        if not isinstance(bc.part, str):
            soft.append(f"{what} (a predicate selects its part)")
            continue
        if isinstance(bc, Dirichlet) and callable(bc.value):
            soft.append(f"{what} (a callable value has no known extension G)")
            continue
        try:
            adf = geometry.part_distance(bc.part)
        except NoDistanceFunction as exc:
            soft.append(f"{what} ({exc})")
            continue
        if isinstance(bc, Symmetry):
            normals = geometry.sample_boundary(64, rng, parts=bc.part).normals
            axes = [k for k in range(d) if np.all(np.abs(normals[:, k]) > 1.0 - AXIS_TOL)]
            if not axes:
                soft.append(f"{what} (its normal is not a coordinate axis)")
                continue
            parts[axes[0]].append((adf, 0.0))
            taken[i] = "symmetry"
            continue
        if bc.weight != 1.0:
            raise ValueError(
                f"{what}: weight={bc.weight:g} cannot apply, the condition is built into the "
                "network and holds exactly; remove the weight, or keep the condition soft "
                "(the strong form without hard_dirichlet)"
            )
        comps = prescribed_components(bc, d)
        vals = _eval_spec(bc.value, np.zeros((1, d)), len(comps), what)[0]
        for c, v in zip(comps, vals, strict=True):
            parts[c].append((adf, float(v)))
        taken[i] = "dirichlet"
    if soft:
        warnings.warn(
            "hard_dirichlet: these conditions stay soft (residuals in the loss): "
            + "; ".join(soft),
            UserWarning,
            stacklevel=3,
        )
    if not taken:
        return None, {}
    return HardDirichlet(d, parts), taken
