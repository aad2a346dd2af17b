"""Residual groups that are linear operators on jets, and the loss over them.

Every residual of linear elasticity is a linear combination of the network's jet
entries with point-dependent coefficients, minus a target::

    r_k(p) = sum_{j, c} C[p, k, j, c] J[p, j, c] - g[p, k]

A :class:`ResidualGroup` holds the points, ``C``, ``g`` and the weights of one
group (interior equations, one boundary condition, data misfit, ...).  The loss is
``sum_groups weight / N_g * sum_p sum_k r_k(p)^2`` (or with explicit per-point
weights, ``weight * sum_p w_p sum_k r_k(p)^2``).

Inverse problems train physical parameters ``q`` (Lame constants, say) together with
the network.  A group whose coefficients depend on them affinely,
``C(q) = C + sum_a q_a C_a``, carries the ``C_a`` in ``param_coefficients``; the
gradient in ``q`` follows from the residuals and jets the kernel returns::

    dL/dq_a = 2 sum_p w_p sum_k r_k(p) (C_a : J)(p, k)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kernels import Backend, NetArrays, get_backend
from .kernels.layout import n_channels
from .network import MLP
from .network.mlp import MAX_PARAM
from .parallel import as_comm, balanced_assignment, complete_tree, segment_keys, segment_nodes

__all__ = [
    "ResidualGroup",
    "LossResult",
    "loss_and_grad",
    "pointwise_residuals",
    "jets",
    "features",
    "fit_output_layer",
    "fit_linear_layer",
    "check_points",
    "check_inputs",
    "CHUNK",
    "MIN_CHUNK",
    "SPLIT",
    "chunk_size",
    "n_chunks",
]

CHUNK = 4096
"""Most points per chunk of a residual group.  A chunk is the leaf of the reduction
tree and the unit of work a rank takes; its size depends on the group's number of
points only, so the bits do not depend on the number of ranks."""

MIN_CHUNK = 256
"""Fewest points per chunk where the backend splits groups (:attr:`Backend.split_chunks`)."""

SPLIT = 8
"""A group of up to ``SPLIT * CHUNK`` points is cut into about this many chunks (of at
least :data:`MIN_CHUNK` points), so that ranks can share it."""

_ROUND = 32
"""Chunk sizes are multiples of this many points (the CPU kernel's tile)."""

_CHANNEL_DIMS = {n_channels(d): d for d in (1, 2, 3)}
"""The spatial dimension of an operator from its number of jet channels."""


def chunk_size(n_points: int, split: bool = True) -> int:
    """Points per chunk of a group of ``n_points`` points.

    ``ceil(n_points / SPLIT)`` rounded up to a multiple of 32, within
    ``[MIN_CHUNK, CHUNK]``; :data:`CHUNK` whatever the size with ``split=False``
    (backends whose kernel calls are costly, such as a GPU's launches).
    """
    if not split:
        return CHUNK
    c = -(-max(int(n_points), 1) // SPLIT)
    c = -(-c // _ROUND) * _ROUND
    return min(CHUNK, max(MIN_CHUNK, c))


def n_chunks(n_points: int, split: bool = True) -> int:
    """Number of chunks of a group of ``n_points`` points (:func:`chunk_size`)."""
    return -(-n_points // chunk_size(n_points, split))


def check_points(X: np.ndarray, d: int, what: str = "points") -> np.ndarray:
    """Validate a point array ``(N, d)`` and return it as contiguous float64."""
    Xa = np.asarray(X)
    if Xa.ndim != 2 or Xa.shape[1] != d:
        raise ValueError(f"{what} must have shape (N, {d}), got {Xa.shape}")
    if not np.issubdtype(Xa.dtype, np.floating) and not np.issubdtype(Xa.dtype, np.integer):
        raise ValueError(f"{what} must be a real array, got dtype {Xa.dtype}")
    Xa = np.ascontiguousarray(Xa, dtype=np.float64)
    if not np.all(np.isfinite(Xa)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(Xa), axis=1))[0])
        raise ValueError(f"{what} contain NaN or inf (first at row {bad})")
    return Xa


def _is_real_numeric(a) -> bool:
    a = np.asarray(a)
    return bool(np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer))


@dataclass
class ResidualGroup:
    """One group of residuals ``r = C : J - g`` on a set of points.

    Parameters
    ----------
    name : str
        Label used in progress lines and histories.
    X : ndarray, shape (N, d)
        Points.
    C : ndarray, shape (N, K, m, nc) or (1, K, m, nc)
        Coefficients on the jet channels (broadcast when the leading size is 1).
    g : ndarray, shape (N, K)
        Targets.
    weight : float
        Group weight ``w_g``.
    point_weights : ndarray, shape (N,), optional
        Per-point weights; by default ``1 / N`` (the mean square).  Negative weights
        make the group a difference of squares (the work terms of
        :mod:`pinngelu.energy`); such a loss is no least-squares problem
        (:attr:`signed`).
    param_coefficients : ndarray, shape (n_q, N or 1, K, m, nc), optional
        Coefficients ``C_a`` of the trainable parameters ``q`` (n_q of them):
        the group's operator is ``C + sum_a q_a C_a``.
    enrichment : ndarray, shape (N, K, n_e), optional
        The residuals of ``n_e`` known fields added to the network's output with
        coefficients ``c`` (the enrichment of :mod:`pinngelu.enrichment`): the
        residual is ``C : J - g + enrichment @ c``, i.e. the targets ``g - enrichment
        @ c`` (:meth:`targets`).  The coefficients are set with
        :meth:`set_enrichment_coefficients` (zero until then); they are solved
        together with the output layer (:func:`fit_linear_layer`).
    """

    name: str
    X: np.ndarray
    C: np.ndarray
    g: np.ndarray
    weight: float = 1.0
    point_weights: np.ndarray | None = None
    param_coefficients: np.ndarray | None = None
    enrichment: np.ndarray | None = None
    _dev: dict = field(default_factory=dict, repr=False, compare=False)
    _c: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        C = np.asarray(self.C)
        d = _CHANNEL_DIMS.get(C.shape[-1], 0) if C.ndim == 4 else 0
        if X.ndim != 2 or not (1 <= X.shape[1] <= 3 or (d and d < X.shape[1] <= d + MAX_PARAM)):
            raise ValueError(
                f"group {self.name!r}: points must have shape (N, d), or (N, d + n_param) for a "
                f"family of problems, got {X.shape}"
            )
        if not d:
            d = X.shape[1]
        self.X = check_points(X, X.shape[1], f"group {self.name!r} points")
        N = self.X.shape[0]
        for what, arr in (
            ("coefficients", self.C),
            ("targets", self.g),
            ("point weights", self.point_weights),
        ):
            if arr is not None and not _is_real_numeric(arr):
                raise ValueError(f"group {self.name!r}: {what} must be a real numeric array")
        C = np.asarray(self.C, dtype=np.float64)
        if C.ndim != 4 or C.shape[0] not in (1, N) or C.shape[3] != n_channels(d):
            raise ValueError(
                f"group {self.name!r}: coefficients must have shape (N or 1, K, m, "
                f"{n_channels(d)}) for N = {N}, got {C.shape}"
            )
        g = np.asarray(self.g, dtype=np.float64)
        if g.shape != (N, C.shape[1]):
            raise ValueError(
                f"group {self.name!r}: targets must have shape ({N}, {C.shape[1]}), got {g.shape}"
            )
        if not (np.all(np.isfinite(C)) and np.all(np.isfinite(g))):
            raise ValueError(f"group {self.name!r}: coefficients or targets contain NaN or inf")
        if not np.isfinite(self.weight) or self.weight < 0:
            raise ValueError(f"group {self.name!r}: weight must be finite and >= 0")
        self.C = np.ascontiguousarray(C)
        self.g = np.ascontiguousarray(g)
        if self.point_weights is not None:
            pw = np.asarray(self.point_weights, dtype=np.float64)
            if pw.shape != (N,) or not np.all(np.isfinite(pw)):
                raise ValueError(f"group {self.name!r}: point weights must be finite, shape ({N},)")
            self.point_weights = pw
        if self.param_coefficients is not None:
            Cq = np.asarray(self.param_coefficients, dtype=np.float64)
            if Cq.ndim != 5 or Cq.shape[2:] != C.shape[1:] or Cq.shape[1] not in (1, N):
                raise ValueError(
                    f"group {self.name!r}: parameter coefficients must have shape (n_q, N or 1, "
                    f"{', '.join(map(str, C.shape[1:]))}), got {Cq.shape}"
                )
            if not np.all(np.isfinite(Cq)):
                raise ValueError(f"group {self.name!r}: parameter coefficients contain NaN or inf")
            self.param_coefficients = np.ascontiguousarray(Cq)
        if self.enrichment is not None:
            E = np.asarray(self.enrichment, dtype=np.float64)
            if E.ndim != 3 or E.shape[:2] != (N, C.shape[1]) or not np.all(np.isfinite(E)):
                raise ValueError(
                    f"group {self.name!r}: enrichment must be finite, shape ({N}, "
                    f"{C.shape[1]}, n_e), got {E.shape}"
                )
            self.enrichment = np.ascontiguousarray(E)

    @property
    def n_points(self) -> int:
        return self.X.shape[0]

    @property
    def signed(self) -> bool:
        """Whether some point weight is negative (the loss is then no sum of squares)."""
        return self.point_weights is not None and bool(np.any(self.point_weights < 0))

    @property
    def n_rows(self) -> int:
        """Residual rows per point ``K``."""
        return self.C.shape[1]

    @property
    def dim(self) -> int:
        """Spatial dimension ``d`` (the columns of the points the jets differentiate;
        any further columns are parameters of a family of problems)."""
        return _CHANNEL_DIMS[self.C.shape[3]]

    @property
    def out_dim(self) -> int:
        return self.C.shape[2]

    @property
    def n_q(self) -> int:
        """Number of trainable parameters the coefficients depend on."""
        return 0 if self.param_coefficients is None else self.param_coefficients.shape[0]

    def rows(self, p0: int, p1: int) -> ResidualGroup:
        """The group of the points ``p0 <= p < p1`` alone (same name and weight; the
        per-point arrays sliced, broadcast coefficients shared)."""
        C = self.C if self.C.shape[0] == 1 else self.C[p0:p1]
        pw = None if self.point_weights is None else self.point_weights[p0:p1]
        Cq = self.param_coefficients
        if Cq is not None and Cq.shape[1] > 1:
            Cq = Cq[:, p0:p1]
        E = None if self.enrichment is None else self.enrichment[p0:p1]
        out = ResidualGroup(self.name, self.X[p0:p1], C, self.g[p0:p1], self.weight, pw, Cq, E)
        out._c = self._c
        return out

    def with_inputs(self, values: np.ndarray) -> ResidualGroup:
        """The group with ``values (n,)`` appended to every point as further network
        inputs (the parameters of a member of a family), its coefficients per point
        and its kernel weights as point weights (group weight 1)."""
        values = np.asarray(values, dtype=np.float64)
        n = self.n_points
        return ResidualGroup(
            self.name,
            np.column_stack([self.X, np.broadcast_to(values, (n, values.shape[0]))]),
            np.broadcast_to(self.C, (n, *self.C.shape[1:])),
            self.g,
            1.0,
            point_weights=np.broadcast_to(self.kernel_weights(), (n,)).copy(),
        )

    @property
    def n_enrichment(self) -> int:
        """Number of enrichment fields ``n_e`` (0 without enrichment)."""
        return 0 if self.enrichment is None else self.enrichment.shape[2]

    def set_enrichment_coefficients(self, c: np.ndarray) -> None:
        """Use the enrichment coefficients ``c (n_e,)`` from now on."""
        c = np.asarray(c, dtype=np.float64).reshape(-1)
        if c.shape != (self.n_enrichment,) or not np.all(np.isfinite(c)):
            raise ValueError(
                f"group {self.name!r}: {self.n_enrichment} finite enrichment coefficients "
                f"expected, got shape {c.shape}"
            )
        self._c = c.copy()

    def targets(self) -> np.ndarray:
        """The targets ``g - enrichment @ c`` (N, K) the kernels see (``g`` without
        enrichment or before its coefficients are set)."""
        if self.enrichment is None or self._c is None:
            return self.g
        return self.g - self.enrichment @ self._c

    def coefficients(self, q: np.ndarray | None) -> np.ndarray:
        """The operator ``C + sum_a q_a C_a`` (N or 1, K, m, nc) at parameters ``q``."""
        if self.param_coefficients is None:
            return self.C
        Cq = self.param_coefficients
        lead = max(self.C.shape[0], Cq.shape[1])
        out = np.broadcast_to(self.C, (lead, *self.C.shape[1:])).copy()
        for a in range(Cq.shape[0]):
            out += q[a] * Cq[a]
        return out

    def kernel_weights(self) -> np.ndarray:
        """The per-point factor ``w_p`` the kernel multiplies ``r^2`` with."""
        if self.point_weights is None:
            return np.array([self.weight / max(self.n_points, 1)])
        return self.weight * self.point_weights

    def on(self, backend: Backend, q: np.ndarray | None = None) -> tuple:
        """The group's arrays on ``backend``: points, coefficients and targets are
        uploaded once and reused; the weights (which a user may change between
        evaluations) are taken afresh each time, and so are the coefficients when
        they depend on the trainable parameters ``q``."""
        key = backend.name
        if key not in self._dev:
            self._dev[key] = (
                backend.asarray(self.X),
                backend.asarray(self.C),
                backend.asarray(self.g),
            )
        X, C, g = self._dev[key]
        if self.enrichment is not None and self._c is not None:
            # the shifted targets, uploaded once per set of coefficients
            c = self._c.tobytes()
            if self._dev.get((key, "c"), (None,))[0] != c:
                self._dev[(key, "c")] = (c, backend.asarray(self.targets()))
            g = self._dev[(key, "c")][1]
        if self.param_coefficients is not None:
            C = backend.asarray(self.coefficients(q))
        return X, C, g, backend.asarray(self.kernel_weights())

    def param_gradient(
        self, R: np.ndarray, J: np.ndarray, p0: int = 0, p1: int | None = None
    ) -> np.ndarray:
        """Gradient ``(n_q,)`` in the trainable parameters of the share of the group's
        loss of the points ``p0 <= p < p1`` (default all), from their residuals
        ``R (n, K)`` and output jets ``J (n, m, nc)``."""
        p1 = self.n_points if p1 is None else p1
        Cq = self.param_coefficients
        w = self.kernel_weights()
        wR = 2.0 * (w[p0:p1, None] if w.shape[0] > 1 else w[0]) * R
        out = np.empty(Cq.shape[0])
        for a in range(Cq.shape[0]):
            if Cq.shape[1] == 1:
                CJ = np.einsum("kjc,pjc->pk", Cq[a, 0], J)
            else:
                CJ = np.einsum("pkjc,pjc->pk", Cq[a, p0:p1], J)
            out[a] = float(np.sum(wR * CJ))
        return out


@dataclass
class LossResult:
    """Loss, gradient and optional per-group details."""

    loss: float
    grad: np.ndarray
    group_losses: dict[str, float]
    residuals: dict[str, np.ndarray] | None = None
    jets: dict[str, np.ndarray] | None = None
    grad_q: np.ndarray | None = None


def _check_groups(mlp: MLP, groups: list[ResidualGroup], q: np.ndarray | None) -> None:
    if len(groups) == 0:
        raise ValueError("no residual groups given")
    n_q = max(g.n_q for g in groups)
    if n_q > 0 and (q is None or q.shape != (n_q,)):
        raise ValueError(
            f"the groups depend on {n_q} trainable parameter(s): pass q of shape ({n_q},), "
            f"got {None if q is None else q.shape}"
        )
    for grp in groups:
        if grp.n_q not in (0, n_q):
            raise ValueError(
                f"group {grp.name!r} depends on {grp.n_q} trainable parameters, others on {n_q}"
            )
    if q is not None and not np.all(np.isfinite(q)):
        raise ValueError("trainable parameters q contain NaN or inf")
    extra = f" and {mlp.n_param} parameters ({mlp.n_inputs} columns)" if mlp.n_param else ""
    for grp in groups:
        if grp.X.shape[1] != mlp.n_inputs:
            raise ValueError(
                f"group {grp.name!r} has {grp.X.shape[1]}-D points but the network "
                f"takes {mlp.in_dim}-D inputs{extra}"
            )
        if grp.out_dim != mlp.out_dim:
            raise ValueError(
                f"group {grp.name!r} acts on {grp.out_dim} outputs but the network has "
                f"{mlp.out_dim}"
            )


def check_inputs(
    mlp: MLP, theta: np.ndarray, groups: list[ResidualGroup], q: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate the parameters, the groups and the trainable physical parameters of
    an evaluation; returns ``theta`` and ``q`` (flat float64, or None)."""
    theta = mlp.check_theta(theta)
    if q is not None:
        q = np.asarray(q, dtype=np.float64).reshape(-1)
    _check_groups(mlp, groups, q)
    return theta, q


def _first_order(grp: ResidualGroup) -> bool:
    """Whether the operator of ``grp`` (and every ``param_coefficients`` term) is zero on
    all the second-derivative channels: then the kernels propagate the value and the
    first derivatives alone (``1 + d`` channels; the same bits on those channels, at
    about half the work).  Decided once per group."""
    key = ("first-order",)
    if key not in grp._dev:
        n1 = 1 + grp.dim
        Cq = grp.param_coefficients
        grp._dev[key] = not np.any(grp.C[..., n1:]) and (Cq is None or not np.any(Cq[..., n1:]))
    return grp._dev[key]


def _all_channels(J: np.ndarray, nc: int) -> np.ndarray:
    """Jets ``(N, n, 1 + d)`` of a first-order evaluation on all ``nc`` channels, the
    second derivatives (not computed) zero."""
    if J.shape[2] == nc:
        return J
    out = np.zeros((*J.shape[:2], nc))
    out[..., : J.shape[2]] = J
    return out


def loss_and_grad(
    mlp: MLP,
    theta: np.ndarray,
    groups: list[ResidualGroup],
    device: str | Backend = "cpu",
    want_residuals: bool = False,
    want_jets: bool = False,
    q: np.ndarray | None = None,
    comm=None,
) -> LossResult:
    """Total residual loss and its gradient in the parameters.

    Parameters
    ----------
    mlp : MLP
        Architecture.
    theta : ndarray, shape (n_params,)
        Parameters.
    groups : list of ResidualGroup
        Residual groups; the loss is the sum of their weighted mean squares.
    device : {"cpu", "cuda"} or Backend
    want_residuals, want_jets : bool
        Also return per-group residuals ``(N, K)`` and output jets ``(N, m, nc)``.
        A group whose coefficients are zero on every second-derivative channel (the
        energy formulation's) is evaluated on the value and first-derivative channels
        alone, with the same bits; with ``want_jets`` every group is evaluated on all
        the channels, so that the jets returned hold the second derivatives too.
    q : ndarray, shape (n_q,), optional
        Trainable physical parameters, required when a group has
        ``param_coefficients``; the gradient in them is returned as ``grad_q``.
    comm : mpi4py communicator or pinngelu.parallel communicator, optional
        Split the chunks of every group over the ranks (each rank evaluates only its
        share); every rank returns the same loss and gradient.

    Returns
    -------
    LossResult

    Notes
    -----
    Each group is cut into chunks of :func:`chunk_size` points, one kernel call each, and
    the chunk partials (loss, gradient) are summed along a fixed binary tree over the
    chunk indices (:mod:`pinngelu.parallel`); groups are then added in list order.
    The result has the same bits for any number of ranks and threads.
    """
    theta, q = check_inputs(mlp, theta, groups, q)
    comm = as_comm(comm)
    if comm.size > 1 and (want_residuals or want_jets):
        raise ValueError(
            "want_residuals / want_jets are not supported under MPI (each rank holds only "
            "its chunks); evaluate them without comm"
        )
    be = get_backend(device)
    net = be.net_arrays(mlp, theta)
    P = mlp.n_params
    nq = 0 if q is None else q.shape[0]
    nc = n_channels(mlp.in_dim)
    res = {} if want_residuals else None
    jts = {} if want_jets else None
    # a group without second derivatives runs on 1 + d channels (the jets asked for are
    # those of all the channels: the full path)
    channels = [1 + mlp.in_dim if not want_jets and _first_order(g) else nc for g in groups]
    split = be.split_chunks
    ranges_all = _rank_chunks(groups, channels, comm, split)
    ranges = ranges_all[comm.rank]
    # every rank reduces the tree nodes inside its chunk range, group by group
    mine: list[list[tuple[int, int, np.ndarray]]] = []
    for grp, nk, (lo, hi) in zip(groups, channels, ranges, strict=True):
        X, C, g, w = grp.on(be, q)
        need = grp.n_q > 0
        N = grp.n_points
        R = np.empty((N, grp.n_rows)) if (want_residuals or need) else None
        J = np.empty((N, mlp.out_dim, nk)) if (want_jets or need) else None
        nch = n_chunks(N, split)
        ck = chunk_size(N, split)
        vecs = np.zeros((hi - lo, 1 + P + nq))
        if hi > lo:
            gbuf = np.empty((hi - lo, P))
            vecs[:, 0] = be.loss_grad_chunks(net, X, C, g, w, ck, lo, hi, gbuf, R, J, nk)
            vecs[:, 1 : 1 + P] = gbuf
            if need:
                J = _all_channels(J, nc)
                for i in range(hi - lo):
                    p0, p1 = (lo + i) * ck, min(N, (lo + i + 1) * ck)
                    vecs[i, 1 + P :] = grp.param_gradient(R[p0:p1], J[p0:p1], p0, p1)
        mine.append(segment_nodes(lambda i, vecs=vecs, lo=lo: vecs[i - lo].copy(), nch, lo, hi))
        if want_residuals:
            res[grp.name] = R
        if want_jets:
            jts[grp.name] = J
    nchs = [n_chunks(g.n_points, split) for g in groups]
    parts = _gather_nodes(comm, mine, nchs, ranges_all, 1 + P + nq)
    total = 0.0
    grad = np.zeros(P)
    grad_q = None if q is None else np.zeros(nq)
    per: dict[str, float] = {}
    for gi, grp in enumerate(groups):
        nch = n_chunks(grp.n_points, split)
        if nch == 0:
            per[grp.name] = per.get(grp.name, 0.0)
            continue
        nodes = {(lo, hi): v for part in parts for lo, hi, v in part[gi]}
        v = complete_tree(nodes, nch)
        total += v[0]
        grad += v[1 : 1 + P]
        if grad_q is not None:
            grad_q += v[1 + P :]
        per[grp.name] = per.get(grp.name, 0.0) + float(v[0])
    return LossResult(float(total), grad, per, res, jts, grad_q)


def pointwise_residuals(
    mlp: MLP,
    theta: np.ndarray,
    groups: list[ResidualGroup],
    device: str | Backend = "cpu",
    q: np.ndarray | None = None,
    comm=None,
) -> list[np.ndarray]:
    """The residuals ``r_k(p) = C(q) : J(p) - g[p, k]`` of every group at every point
    (unweighted), as the loss kernel computes them.

    Parameters
    ----------
    mlp : MLP
    theta : ndarray, shape (n_params,)
    groups : list of ResidualGroup
    device : {"cpu", "cuda"} or Backend
    q : ndarray, shape (n_q,), optional
        Trainable physical parameters (groups with ``param_coefficients``).
    comm : mpi4py communicator or pinngelu.parallel communicator, optional
        Each rank evaluates its chunks of every group (those it owns in
        :func:`loss_and_grad`) and the pieces are gathered: every rank returns all the
        residuals, with the same bits for any number of ranks.

    Returns
    -------
    list of ndarray
        One ``(N_g, K_g)`` array per group, in the order of ``groups``.
    """
    theta, q = check_inputs(mlp, theta, groups, q)
    comm = as_comm(comm)
    be = get_backend(device)
    mine = []
    nc = n_channels(mlp.in_dim)
    split = be.split_chunks
    ranges = _rank_chunks(groups, [nc] * len(groups), comm, split)[comm.rank]
    for grp, (lo, hi) in zip(groups, ranges, strict=True):
        ck = chunk_size(grp.n_points, split)
        p0, p1 = lo * ck, min(grp.n_points, hi * ck)
        R = np.zeros((0, grp.n_rows))
        if p1 > p0:  # a slice starting on a chunk boundary: the chunks of the whole group
            sub = grp.rows(p0, p1)
            R = loss_and_grad(mlp, theta, [sub], be, want_residuals=True, q=q).residuals[sub.name]
        mine.append(R)
    parts = comm.allgather(mine)
    return [np.concatenate([part[i] for part in parts]) for i in range(len(groups))]


POINT_COST = 2.0
"""Work per point outside the jet channels, in channels: a chunk of ``n`` points on
``nk`` channels costs about ``n (nk + POINT_COST)`` (measured on the CPU kernel, 3 x 30
network: 2.63 us a point on 6 channels, 1.64 us on 3)."""


def _rank_chunks(groups, channels: list[int], comm, split: bool) -> list[list[tuple[int, int]]]:
    """Per rank and group, the chunks ``[lo, hi)`` the rank evaluates: the chunks of
    all groups cut into pieces of about equal cost (:data:`POINT_COST`), see
    :func:`pinngelu.parallel.balanced_assignment` (every rank computes every rank's)."""
    if comm.size == 1:
        return [[(0, n_chunks(g.n_points, split)) for g in groups]]
    costs = []
    for g, nk in zip(groups, channels, strict=True):
        ck = chunk_size(g.n_points, split)
        sizes = [min(ck, g.n_points - k * ck) for k in range(n_chunks(g.n_points, split))]
        costs.append([n * (nk + POINT_COST) for n in sizes])
    return balanced_assignment(costs, comm.size)


def _gather_nodes(comm, mine, n_chunk: list[int], ranges_all, width: int) -> list:
    """Every rank's tree nodes ``[rank][group] -> [(lo, hi, vector)]`` from this rank's
    ``mine`` ``[group] -> [(lo, hi, vector)]`` (vectors of ``width`` values): the
    vectors in one flat buffer collective, the nodes of the other ranks known from
    their chunk ranges (:func:`pinngelu.parallel.segment_keys`), so nothing is
    pickled."""
    if comm.size == 1:
        return [mine]
    vecs = [v for nodes in mine for _, _, v in nodes]
    keys = [
        [segment_keys(n, lo, hi) for n, (lo, hi) in zip(n_chunk, rr, strict=True)]
        for rr in ranges_all
    ]
    counts = [width * sum(len(k) for k in kr) for kr in keys]
    buf = comm.allgather_array(np.concatenate(vecs) if vecs else np.empty(0), counts)
    parts, off = [], 0
    for kr in keys:
        part = []
        for kg in kr:
            part.append(
                [
                    (lo, hi, buf[off + i * width : off + (i + 1) * width])
                    for i, (lo, hi) in enumerate(kg)
                ]
            )
            off += len(kg) * width
        parts.append(part)
    return parts


def output_jets(
    mlp: MLP,
    theta: np.ndarray,
    X: np.ndarray,
    device: str | Backend = "cpu",
    order: int = 2,
) -> np.ndarray:
    """The network's output jets to ``order`` in the spatial inputs.

    Parameters
    ----------
    mlp : MLP
    theta : ndarray, shape (n_params,)
    X : ndarray, shape (N, d + n_param)
        Points (the coordinates first, then any parameter inputs).
    device : {"cpu", "cuda"} or Backend
    order : {0, 1, 2}
        0: the value alone; 1: the value and the first derivatives; 2: and the
        distinct second derivatives.  Each channel has the same bits at every order.

    Returns
    -------
    J : ndarray, shape (N, m, nc)
        ``nc = 1``, ``1 + d`` or ``1 + d + d (d + 1) / 2`` channels: the value, ``d u_j /
        d x_i`` at channel ``1 + i``, the second derivatives after them in the order
        ``(0,0), (0,1), .., (1,1), ..``.
    """
    if order not in (0, 1, 2):
        raise ValueError(f"order must be 0, 1 or 2, got {order!r}")
    theta = mlp.check_theta(theta)
    d = mlp.in_dim
    X = check_points(X, mlp.n_inputs)
    be = get_backend(device)
    J = np.empty((X.shape[0], mlp.out_dim, (1, 1 + d, n_channels(d))[order]))
    if X.shape[0] > 0:
        # the value alone: jets in none of the inputs (one channel)
        net = be.net_arrays(mlp, theta, dims=0 if order == 0 else d)
        be.jets(net, be.asarray(X), J)
    return J


def jets(
    mlp: MLP,
    theta: np.ndarray,
    X: np.ndarray,
    device: str | Backend = "cpu",
    first_order: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Network output with its first and second input derivatives.

    Parameters
    ----------
    mlp : MLP
    theta : ndarray, shape (n_params,)
    X : ndarray, shape (N, d)
    device : {"cpu", "cuda"} or Backend
    first_order : bool
        Compute the value and the first derivatives alone (the same bits, about half
        the work); ``ddu`` is then zero.

    Returns
    -------
    u : ndarray, shape (N, m)
    du : ndarray, shape (N, m, d)
        ``du[p, j, i] = d u_j / d x_i``.
    ddu : ndarray, shape (N, m, d (d + 1) / 2)
        Distinct second derivatives in the order ``(0,0), (0,1), .., (1,1), ..``.

    With parameter inputs (``mlp.n_param > 0``) ``X`` has ``d + n_param`` columns, the
    coordinates first; the derivatives are in the coordinates only.
    """
    d = mlp.in_dim
    J = _all_channels(output_jets(mlp, theta, X, device, 1 if first_order else 2), n_channels(d))
    return J[:, :, 0], J[:, :, 1 : 1 + d], J[:, :, 1 + d :]


def features(
    mlp: MLP,
    theta: np.ndarray,
    X: np.ndarray,
    device: str | Backend = "cpu",
    first_order: bool = False,
) -> np.ndarray:
    """Jets of the last hidden layer: the basis the output layer combines.

    The kernels evaluate a copy of the network whose output layer is the identity,
    so the features come from the same code as the outputs.

    Parameters
    ----------
    mlp : MLP
    theta : ndarray, shape (n_params,)
    X : ndarray, shape (N, d)
    device : {"cpu", "cuda"} or Backend
    first_order : bool
        Compute the value and first-derivative channels alone (the same bits, about
        half the work); the second-derivative channels of the result are then zero.

    Returns
    -------
    ndarray, shape (N, W, nc)
        Value, first and second derivatives of the ``W`` last hidden neurons.
    """
    theta = mlp.check_theta(theta)
    d = mlp.in_dim
    X = check_points(X, mlp.n_inputs)
    L = mlp.n_layers - 1
    W = int(mlp.sizes[L])
    sizes = mlp.sizes.copy()
    sizes[-1] = W
    offsets = mlp.offsets.copy()
    offsets[-1] = offsets[L] + W * (W + 1)
    th = np.concatenate([theta[: mlp.offsets[L]], np.eye(W).ravel(), np.zeros(W)])
    be = get_backend(device)
    net = NetArrays(be.asarray(th), be.asarray_int(sizes), be.asarray_int(offsets), mlp.act_code, d)
    F = np.empty((X.shape[0], W, 1 + d if first_order else n_channels(d)))
    if X.shape[0] > 0:
        be.jets(net, be.asarray(X), F)
    return _all_channels(F, n_channels(d))


def fit_output_layer(
    mlp: MLP,
    theta: np.ndarray,
    groups: list[ResidualGroup],
    device: str | Backend = "cpu",
    q: np.ndarray | None = None,
) -> np.ndarray:
    """Parameters with the output layer that minimises the loss for the given hidden
    layers: :func:`fit_linear_layer` without the enrichment coefficients (which it
    also sets on the groups that have enrichment).

    Returns
    -------
    ndarray, shape (n_params,)
        A copy of ``theta`` with the output layer replaced.
    """
    return fit_linear_layer(mlp, theta, groups, device, q)[0]


def fit_linear_layer(
    mlp: MLP,
    theta: np.ndarray,
    groups: list[ResidualGroup],
    device: str | Backend = "cpu",
    q: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The output layer and the enrichment coefficients that minimise the loss for
    the given hidden layers.

    The network's output is linear in the output layer ``(W_out, b_out)``, the
    enrichment fields enter with linear coefficients ``c`` and every residual is
    linear in both, so with the hidden layers fixed the loss is a linear
    least-squares problem (for the energy formulation a Ritz problem) in
    ``m (W + 1) + n_e`` unknowns, solved here exactly.  The coefficients are set on
    the groups (:meth:`ResidualGroup.set_enrichment_coefficients`).

    Parameters
    ----------
    mlp : MLP
    theta : ndarray, shape (n_params,)
    groups : list of ResidualGroup
        Groups with enrichment must all have the same ``n_e``.
    device : {"cpu", "cuda"} or Backend
    q : ndarray, shape (n_q,), optional
        Trainable physical parameters (groups with ``param_coefficients``).

    Returns
    -------
    theta : ndarray, shape (n_params,)
        A copy of ``theta`` with the output layer replaced.
    c : ndarray, shape (n_e,)
        The enrichment coefficients (empty without enrichment).
    """
    theta, q = check_inputs(mlp, theta, groups, q)
    m = mlp.out_dim
    L = mlp.n_layers - 1
    W = int(mlp.sizes[L])
    n_e = max((grp.n_enrichment for grp in groups), default=0)
    if any(grp.n_enrichment not in (0, n_e) for grp in groups):
        raise ValueError("groups with enrichment must all have the same number of fields")
    signed = any(grp.signed for grp in groups)
    rows, rhs, wts = [], [], []
    for grp in groups:
        if grp.n_points == 0:
            continue
        F = features(mlp, theta, grp.X, device, _first_order(grp))  # (N, W, nc)
        C = grp.coefficients(q)  # (N or 1, K, m, nc)
        Cb = np.broadcast_to(C, (grp.n_points, *C.shape[1:]))
        A_w = np.einsum("pkjc,pic->pkji", Cb, F)  # (N, K, m, W)
        A_b = Cb[:, :, :, 0]  # (N, K, m)
        A = np.concatenate([A_w, A_b[..., None]], axis=3).reshape(grp.n_points * grp.n_rows, -1)
        if n_e:
            E = grp.enrichment if grp.n_enrichment else np.zeros((grp.n_points, grp.n_rows, n_e))
            A = np.concatenate([A, E.reshape(-1, n_e)], axis=1)
        w = np.repeat(np.broadcast_to(grp.kernel_weights(), (grp.n_points,)), grp.n_rows)
        if signed:
            rows.append(A)
            rhs.append(grp.g.reshape(-1))
            wts.append(w)
        else:
            sw = np.sqrt(w)
            rows.append(sw[:, None] * A)
            rhs.append(sw * grp.g.reshape(-1))
    A = np.concatenate(rows)
    b = np.concatenate(rhs)
    if signed:
        sol = _signed_least_squares(A, b, np.concatenate(wts))
    else:
        # scale columns to unit norm so that the rank decision is relative
        norms = np.linalg.norm(A, axis=0)
        norms[norms == 0] = 1.0
        sol, *_ = np.linalg.lstsq(A / norms, b, rcond=1e-10)
        sol = sol / norms
    c = sol[m * (W + 1) :].copy()
    sol = sol[: m * (W + 1)].reshape(m, W + 1)
    out = theta.copy()
    W_out, b_out = mlp.layer(out, L)
    W_out[...] = sol[:, :W]
    b_out[...] = sol[:, W]
    for grp in groups:
        if grp.n_enrichment:
            grp.set_enrichment_coefficients(c)
    return out, c


RITZ_RIDGE = 1e-10
"""Relative Tikhonov shift of the Ritz solve of :func:`fit_linear_layer` (energy
formulation): see :func:`_signed_least_squares`."""


def _signed_least_squares(A: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Minimiser of ``sum_i w_i (A_i x - b_i)^2`` with weights of either sign (a convex
    quadratic when the negative rows only cancel positive ones, as for the work terms
    of :mod:`pinngelu.energy`): the normal equations of the column-scaled matrix in
    its eigenbasis, each eigenvalue ``lam`` inverted as ``lam / (lam^2 + delta^2)``
    with ``delta`` :data:`RITZ_RIDGE` times the largest (the Tikhonov filter: ``1 /
    lam`` above ``delta``, going smoothly to 0 on the null space, e.g. the rigid
    motions of a body held by tractions alone).

    The features of a network are nearly dependent (the scaled Gram matrix of a
    thin beam's has eigenvalues down to 1e-16 of the largest); dropping those below
    a threshold made the reduced loss jump wherever an eigenvalue crossed it, and
    the quasi-Newton method stalled on the noise (the clamped beam: after 21
    iterations, at an energy 2e-3 above the one the filter reaches in 40).  The filter
    makes the solve a smooth function of the hidden layers."""
    M = A.T @ (w[:, None] * A)
    r = A.T @ (w * b)
    d = np.sqrt(np.abs(np.diag(M)))
    d[d == 0] = 1.0
    evals, V = np.linalg.eigh(M / np.outer(d, d))
    shift = RITZ_RIDGE * max(float(evals[-1]), 0.0)
    if shift == 0.0:  # no feature reaches the loss
        return np.zeros(A.shape[1])
    y = V.T @ (r / d)
    lam = np.maximum(evals, 0.0)
    return (V @ (y * lam / (lam * lam + shift * shift))) / d
