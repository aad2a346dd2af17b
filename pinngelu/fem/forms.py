"""The weak forms of small-strain elasticity (scikit-fem forms)."""

from __future__ import annotations

import numpy as np


def elasticity_form(lam: float, mu: float):
    """Bilinear form ``a(u, v) = int sigma(u) : eps(v)`` with ``sigma = lam tr(eps) I +
    2 mu eps`` (pass the ``lam`` of the equations solved: ``lam*`` in plane stress)."""
    from skfem import BilinearForm
    from skfem.helpers import ddot, sym_grad, trace

    def form(u, v, w):
        eu, ev = sym_grad(u), sym_grad(v)
        return lam * trace(eu) * trace(ev) + 2.0 * mu * ddot(eu, ev)

    return BilinearForm(form)


def _at_points(spec_values, x: np.ndarray) -> np.ndarray:
    """Call ``spec_values(X (N, d)) -> (N, k)`` on quadrature points ``x (d, ...)`` and
    return ``(k, ...)``."""
    d = x.shape[0]
    X = x.reshape(d, -1).T
    v = spec_values(X)
    return v.T.reshape((v.shape[1],) + x.shape[1:])


def load_form(values):
    """Linear form ``int t . v`` with ``t = values(X (N, d)) -> (N, d)`` evaluated at the
    quadrature points (body forces over cells, tractions over facets)."""
    from skfem import LinearForm

    def form(v, w):
        t = _at_points(values, np.asarray(w.x))
        return np.einsum("i...,i...->...", t, v)

    return LinearForm(form)


def pressure_form(values):
    """Linear form ``int -p n . v`` with ``p = values(X) -> (N, 1)`` and the outward
    facet normal ``n``."""
    from skfem import LinearForm

    def form(v, w):
        p = _at_points(values, np.asarray(w.x))[0]
        return -p * np.einsum("i...,i...->...", np.asarray(w.n), v)

    return LinearForm(form)
