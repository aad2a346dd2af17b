"""A trained displacement field and its derived fields in the user's units:
:class:`Solution` (built by :meth:`pinngelu.ElasticityProblem.solution`)."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .elasticity import (
    Material,
    Scales,
    _eval_spec,
    real_array,
    strain_from_gradient,
    stress_from_strain,
    von_mises,
)
from .geometry import Geometry
from .hard_bc import HardDirichlet
from .kernels import Backend
from .loss import check_points, output_jets
from .network import MLP, save_npz_atomic
from .parallel import as_comm, chunk_range

__all__ = ["Solution"]


class Solution:
    """A trained displacement field with its derived fields, in the user's units.

    Parameters
    ----------
    mlp : MLP
    theta : ndarray (n_params,)
    scales : Scales
    material : Material
    plane_stress : bool
    exact : callable, optional
    geometry : Geometry, optional
    device : {"cpu", "cuda"} or Backend
    hard : HardDirichlet, optional
        The hard conditions of the problem: the displacement is ``G + phi N``
        with ``N`` the network.
    enrichment : Enrichment, optional
        Singular fields added to the displacement (:mod:`pinngelu.enrichment`) with
        ``amplitudes``.
    amplitudes : ndarray, shape (n_e,), optional
        Their amplitudes (m).
    """

    def __init__(
        self,
        mlp: MLP,
        theta: np.ndarray,
        scales: Scales,
        material: Material,
        plane_stress: bool = False,
        exact: Callable | None = None,
        geometry: Geometry | None = None,
        device: str | Backend = "cpu",
        hard: HardDirichlet | None = None,
        enrichment=None,
        amplitudes: np.ndarray | None = None,
    ) -> None:
        self.mlp = mlp
        self.hard = hard
        self.enrichment = enrichment
        n_e = 0 if enrichment is None else enrichment.n
        a = np.zeros(0) if amplitudes is None else np.asarray(amplitudes, dtype=np.float64)
        if a.shape != (n_e,) or not np.all(np.isfinite(a)):
            raise ValueError(
                f"the enrichment has {n_e} fields: give as many finite amplitudes, got "
                f"shape {a.shape}"
            )
        self.amplitudes = a
        self.theta = mlp.check_theta(np.array(theta, dtype=np.float64))
        self.scales = scales
        self.material = material
        self.plane_stress = plane_stress
        self.exact = exact
        self.geometry = geometry
        self.device = device
        #: The scaled parameter inputs ``(n_param,)`` of a member of a family
        #: (:meth:`pinngelu.family.FamilySolution.at`), appended to every point.
        self.parameters: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return self.mlp.in_dim

    @property
    def lam_eff(self) -> float:
        return self.material.lam_2d(self.plane_stress) if self.dim == 2 else self.material.lam

    def _jets(self, X: np.ndarray, check_inside: bool, order: int = 1):
        """``(u, du)`` in physical units (``du`` None at ``order`` 0: the network's
        value alone, one jet channel)."""
        d = self.dim
        X = check_points(real_array(X, "evaluation points"), d, "evaluation points")
        if check_inside and self.geometry is not None:
            lo, hi = self.geometry.bbox
            tol = 1e-6 * float(np.max(np.asarray(hi) - np.asarray(lo)))
            inside = self.geometry.contains(X, tol=tol)
            if not np.all(inside):
                i = int(np.flatnonzero(~inside)[0])
                raise ValueError(
                    f"{int((~inside).sum())} evaluation point(s) lie outside the domain "
                    f"(first: row {i}, {X[i].tolist()}); pass check_inside=False to extrapolate"
                )
        Xn = self.scales.to_hat(X)
        if self.mlp.n_param:
            if self.parameters is None or self.parameters.shape != (self.mlp.n_param,):
                raise ValueError(
                    f"the network takes {self.mlp.n_param} parameter inputs: evaluate a "
                    "member of its family (FamilySolution.at(...))"
                )
            Xn = np.column_stack(
                [Xn, np.broadcast_to(self.parameters, (len(Xn), self.mlp.n_param))]
            )
        J = output_jets(self.mlp, self.theta, Xn, self.device, order)
        if self.hard is not None:
            J = self.hard.displacement_jets(X, J, self.scales)
        U, L = self.scales.displacement, self.scales.length
        u = U * J[:, :, 0]
        du = (U / L) * J[:, :, 1:] if order else None
        if self.enrichment is not None:
            ue, due = self.enrichment.displacement(X, self.amplitudes)
            u = u + ue
            du = du + due if order else None
        return u, du

    def displacement(self, X: np.ndarray, check_inside: bool = True) -> np.ndarray:
        """Displacement ``(N, d)`` (m) at points ``X (N, d)`` (m)."""
        return self._jets(X, check_inside, order=0)[0]

    def displacement_gradient(self, X: np.ndarray, check_inside: bool = True) -> np.ndarray:
        """``grad u (N, d, d)`` with ``[p, j, i] = du_j / dx_i``."""
        return self._jets(X, check_inside)[1]

    def strain(self, X: np.ndarray, check_inside: bool = True) -> np.ndarray:
        """Small strain ``(N, d, d)``."""
        return strain_from_gradient(self.displacement_gradient(X, check_inside))

    def stress(self, X: np.ndarray, check_inside: bool = True) -> np.ndarray:
        """Cauchy stress ``(N, d, d)`` (Pa) (in-plane components in 2D)."""
        return stress_from_strain(self.strain(X, check_inside), self.lam_eff, self.material.mu)

    def fields(self, X: np.ndarray, check_inside: bool = True) -> dict[str, np.ndarray]:
        """All fields at ``X``: displacement, strain, stress, von_mises, and where an
        exact solution is known, displacement_exact and displacement_error."""
        u, du = self._jets(X, check_inside)
        eps = strain_from_gradient(du)
        sig = stress_from_strain(eps, self.lam_eff, self.material.mu)
        szz = None
        if self.dim == 2 and not self.plane_stress:
            szz = self.material.lam * (eps[:, 0, 0] + eps[:, 1, 1])
        out = {
            "displacement": u,
            "strain": eps,
            "stress": sig,
            "von_mises": von_mises(sig, szz),
        }
        if self.exact is not None:
            ue = np.asarray(self.exact(np.asarray(X, dtype=float)), dtype=float)
            out["displacement_exact"] = ue
            out["displacement_error"] = u - ue
        return out

    def relative_l2_error(self, X: np.ndarray, comm=None) -> float:
        """``||u - u_exact|| / ||u_exact||`` over the points ``X (N, d)`` (m).

        ``comm`` (an mpi4py or :mod:`pinngelu.parallel` communicator): every rank
        evaluates the network on its share of the points (whole tiles of the kernel,
        so each point's value has the bits it has on one rank) and the values are
        gathered; every rank returns the same number.

        Raises
        ------
        ValueError
            Without an exact solution, with no points (``N = 0``), or where the
            exact displacement is zero at every point (the ratio is undefined).
        """
        if self.exact is None:
            raise ValueError("no exact solution is known for this problem")
        comm = as_comm(comm)
        if comm.size == 1:
            u = self.displacement(X)
        else:
            from .kernels.cpu import TILE  # compiled code, loaded on first use

            n = np.asarray(X).shape[0]
            t0, t1 = chunk_range(-(-n // TILE), comm.rank, comm.size)
            part = self.displacement(np.asarray(X)[t0 * TILE : min(n, t1 * TILE)])
            u = np.concatenate(comm.allgather(part))
        if u.shape[0] == 0:
            raise ValueError("relative_l2_error needs at least one point, got 0")
        X = np.asarray(X, dtype=float)
        ue = _eval_spec(self.exact, X, self.dim, "exact solution")
        norm = np.linalg.norm(ue)
        if norm == 0:
            raise ValueError(
                "relative_l2_error: the exact displacement is zero at every point, "
                "so the relative error is undefined"
            )
        return float(np.linalg.norm(u - ue) / norm)

    # --------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike) -> None:
        """Save the model with what is needed to evaluate it (``.npz``, atomic)."""
        meta = {
            "mlp": self.mlp.to_dict(),
            "scales": self.scales.to_dict(),
            "material": {"lam": self.material.lam, "mu": self.material.mu},
            "plane_stress": self.plane_stress,
            "hard_dirichlet": self.hard is not None,
        }
        if self.enrichment is not None:
            meta["enrichment"] = self.enrichment.report(self.amplitudes, self.material.mu)
        if self.parameters is not None:  # a member of a family: its scaled parameters
            meta["parameters"] = [float(v) for v in self.parameters]
        save_npz_atomic(
            path, meta=np.array(json.dumps(meta)), theta=self.theta, amplitudes=self.amplitudes
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        geometry: Geometry | None = None,
        exact: Callable | None = None,
        device: str | Backend = "cpu",
        hard: HardDirichlet | None = None,
        enrichment=None,
    ) -> Solution:
        """Load a model saved by :meth:`save` (its fields evaluated on ``device``).

        A model trained with hard Dirichlet conditions needs them back:
        ``hard=problem.hard`` of the same problem; one with singular fields its
        enrichment: ``enrichment=problem.enrichment()``.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no model file at {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                theta = np.array(z["theta"])
                amplitudes = np.array(z["amplitudes"]) if "amplitudes" in z else np.zeros(0)
            mlp = MLP.from_dict(meta["mlp"])
            scales = Scales.from_dict(meta["scales"])
            material = Material(meta["material"]["lam"], meta["material"]["mu"])
            plane_stress = bool(meta["plane_stress"])
            was_hard = bool(meta.get("hard_dirichlet", False))
            params = meta.get("parameters")
            params = None if params is None else np.array(params, dtype=np.float64)
        except (KeyError, TypeError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path} is not a pinngelu model file: {exc!r}") from exc
        if was_hard != (hard is not None):
            raise ValueError(
                f"{path} was trained with hard_dirichlet={was_hard}: pass "
                + ("hard=problem.hard of its problem" if was_hard else "no hard map")
            )
        n_e = 0 if enrichment is None else enrichment.n
        if amplitudes.size != n_e:
            raise ValueError(
                f"{path} holds {amplitudes.size} singular-field amplitudes, the enrichment "
                f"given has {n_e} fields: pass enrichment=problem.enrichment() of its problem"
            )
        sol = cls(
            mlp,
            theta,
            scales,
            material,
            plane_stress,
            exact=exact,
            geometry=geometry,
            device=device,
            hard=hard,
            enrichment=enrichment,
            amplitudes=amplitudes,
        )
        sol.parameters = params
        return sol
