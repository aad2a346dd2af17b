"""The finite-element solution: displacement, gradient, stress and von Mises stress at
arbitrary points and on the mesh nodes."""

from __future__ import annotations

import numpy as np

from ..elasticity import (
    Material,
    real_array,
    strain_from_gradient,
    stress_from_strain,
    von_mises,
)


class FEMSolution:
    """A finite-element displacement field with its derived fields (user units).

    Attributes
    ----------
    basis : skfem.CellBasis
        The vector Lagrange basis (``basis.mesh`` the mesh).
    u : ndarray (n_dofs,)
        The solution vector.
    material : Material
    plane_stress : bool
    parts : dict
        Boundary part name -> facet indices.
    geometry : Geometry or None
        The geometry the mesh was made of (set by :func:`~pinngelu.fem.solve`): the
        domain :func:`~pinngelu.fem.compare` checks a compared field against.
    """

    def __init__(
        self,
        basis,
        u: np.ndarray,
        material: Material,
        plane_stress: bool = False,
        parts: dict | None = None,
        geometry=None,
    ) -> None:
        self.basis = basis
        self.u = np.asarray(u, dtype=float)
        self.material = material
        self.plane_stress = bool(plane_stress)
        self.parts = parts or {}
        self.geometry = geometry

    @property
    def mesh(self):
        return self.basis.mesh

    @property
    def dim(self) -> int:
        return self.mesh.dim()

    @property
    def lam_eff(self) -> float:
        return self.material.lam_2d(self.plane_stress) if self.dim == 2 else self.material.lam

    @property
    def n_dofs(self) -> int:
        return int(self.basis.N)

    # ----------------------------------------------------------- evaluation
    def _eval(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Displacement ``(N, d)`` and gradient ``(N, d, d)`` (``[p, j, i] = du_j/dx_i``)."""
        d = self.dim
        X = real_array(X, "evaluation points")
        if X.ndim != 2 or X.shape[1] != d:
            raise ValueError(f"evaluation points must have shape (N, {d}), got {X.shape}")
        N = X.shape[0]
        if N == 0:
            return np.zeros((0, d)), np.zeros((0, d, d))
        b = self.basis
        x = np.ascontiguousarray(X.T)
        cells, ref = self._locate(X)
        pts = self._reference_coordinates(x, cells, ref)
        val = np.zeros((d, N))
        grad = np.zeros((d, d, N))
        coef = self.u[b.element_dofs[:, cells]]  # (Nbfun, N)
        for k in range(b.Nbfun):
            phi = b.elem.gbasis(b.mapping, pts, k, tind=cells)[0]
            val += coef[k] * np.asarray(phi)[..., 0]
            grad += coef[k] * np.asarray(phi.grad)[..., 0]
        return val.T, np.moveaxis(grad, -1, 0)

    def _locate(self, X: np.ndarray, k: int = 12) -> np.ndarray:
        """The cell of each point: among the ``k`` cells of nearest centroid, the one whose
        straight-sided simplex has the largest smallest barycentric coordinate (points
        between a curved boundary and its chord go to the boundary cell)."""
        from scipy.spatial import cKDTree

        m = self.mesh
        V = np.moveaxis(m.p[:, m.t], 0, -1)  # (d + 1, nel, d)
        if not hasattr(self, "_tree"):
            self._tree = cKDTree(V.mean(axis=0))
            T = np.moveaxis(V[1:] - V[0][None], 0, -1)  # (nel, d, d): columns v_i - v_0
            self._Tinv = np.linalg.inv(T)
        k = min(k, m.t.shape[1])
        _, cand = self._tree.query(X, k=k)
        cand = cand.reshape(X.shape[0], k)
        lam = np.einsum("nkij,nkj->nki", self._Tinv[cand], X[:, None, :] - V[0][cand])
        bary = np.concatenate([1.0 - lam.sum(axis=2, keepdims=True), lam], axis=2)
        best = np.argmax(bary.min(axis=2), axis=1)
        worst = bary.min(axis=2)[np.arange(X.shape[0]), best]
        if np.any(worst < -0.5):
            i = int(np.argmin(worst))
            raise ValueError(
                f"{int((worst < -0.5).sum())} evaluation point(s) lie outside the "
                f"finite-element mesh (first: {X[i].tolist()})"
            )
        rows = np.arange(X.shape[0])
        return cand[rows, best], lam[rows, best].T

    def _reference_coordinates(self, x: np.ndarray, cells: np.ndarray, ref: np.ndarray):
        """Reference coordinates ``(d, N, 1)`` of points ``x (d, N)`` in ``cells``:
        Newton's method on the cell maps, from the straight-sided coordinates ``ref``
        (no clipping to the reference cell, so points between a curved boundary and
        the chord of their cell converge too)."""
        mapping = self.basis.mapping
        X = ref[:, :, None].copy()
        if not hasattr(mapping, "invDF") or type(mapping).__name__ == "MappingAffine":
            return mapping.invF(x[:, :, None], tind=cells)
        for _ in range(30):
            F = mapping.F(X, cells)
            dX = np.einsum("ijkl,jkl->ikl", mapping.invDF(X, cells), x[:, :, None] - F)
            X = X + dX
            if np.max(np.abs(dX)) < 1e-13:
                break
        return X

    def displacement(self, X: np.ndarray) -> np.ndarray:
        """Displacement ``(N, d)`` (m) at points ``X (N, d)`` (m) inside the mesh."""
        return self._eval(X)[0]

    def displacement_gradient(self, X: np.ndarray) -> np.ndarray:
        """``grad u (N, d, d)`` with ``[p, j, i] = du_j / dx_i``."""
        return self._eval(X)[1]

    def stress(self, X: np.ndarray) -> np.ndarray:
        """Cauchy stress ``(N, d, d)`` (Pa) (in-plane components in 2D)."""
        eps = strain_from_gradient(self._eval(X)[1])
        return stress_from_strain(eps, self.lam_eff, self.material.mu)

    def fields(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """``displacement``, ``strain``, ``stress`` and ``von_mises`` at ``X`` (the
        names and conventions of :meth:`pinngelu.Solution.fields`)."""
        u, du = self._eval(X)
        return self.fields_from(u, du)

    def fields_from(self, u: np.ndarray, du: np.ndarray) -> dict[str, np.ndarray]:
        """The fields from displacement ``(N, d)`` and gradient ``(N, d, d)``."""
        eps = strain_from_gradient(du)
        sig = stress_from_strain(eps, self.lam_eff, self.material.mu)
        szz = None
        if self.dim == 2 and not self.plane_stress:
            szz = self.material.lam * (eps[:, 0, 0] + eps[:, 1, 1])
        return {"displacement": u, "strain": eps, "stress": sig, "von_mises": von_mises(sig, szz)}

    def von_mises(self, X: np.ndarray) -> np.ndarray:
        """Von Mises stress ``(N,)`` (Pa) (with ``sigma_zz`` of plane strain in 2D)."""
        return self.fields(X)["von_mises"]

    def nodal_fields(self) -> dict[str, np.ndarray]:
        """The fields at the mesh vertices ``mesh.p.T`` (stresses from the cell of
        lowest index holding each vertex: P2 gradients jump across cells)."""
        return self.fields(self.mesh.p.T)

    def quadrature(self):
        """Quadrature points ``(M, d)``, weights ``(M,)`` (m^d) and the fields there:
        ``(X, w, u (M, d), grad u (M, d, d))``."""
        b = self.basis
        d = self.dim
        x = np.asarray(b.global_coordinates())  # (d, nel, nq)
        w = np.asarray(b.dx)  # (nel, nq)
        z = b.interpolate(self.u)
        val = np.asarray(z)
        grad = np.asarray(z.grad)
        X = x.reshape(d, -1).T
        U = val.reshape(d, -1).T
        G = np.moveaxis(grad.reshape(d, d, -1), -1, 0)
        return X, w.reshape(-1), U, G
