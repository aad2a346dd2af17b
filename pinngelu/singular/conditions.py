"""The kind of the condition (free, clamped, other) at boundary points."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..elasticity import Dirichlet, Symmetry, prescribed_components
from ..geometry.boundary_sample import _eval_predicate
from .point import _CLAMPED, _FREE, _OTHER

if TYPE_CHECKING:
    from ..problem import ElasticityProblem


class _Conditions:
    """The kind of the condition (free, clamped, other) at boundary points."""

    def __init__(self, problem: ElasticityProblem) -> None:
        d = problem.dim
        names = problem.geometry.boundary_parts
        self.full = (1 << d) - 1
        self.disp = np.zeros(len(names), dtype=np.int64)
        self.sym = np.zeros(len(names), dtype=bool)
        self.predicates: list[tuple[Callable, int, bool]] = []
        for bc in problem.conditions:
            if isinstance(bc, Dirichlet):
                bits = sum(1 << int(c) for c in prescribed_components(bc, d))
                sym = False
            elif isinstance(bc, Symmetry):
                bits, sym = 0, True
            else:  # tractions and pressures do not change the exponents
                continue
            if isinstance(bc.part, str):
                k = names.index(bc.part)
                self.disp[k] |= bits
                self.sym[k] |= sym
            else:
                self.predicates.append((bc.part, bits, sym))

    def codes(self, part: np.ndarray, X: np.ndarray | None) -> np.ndarray:
        """Codes ``(n,)`` (free, clamped, other) at points ``X (n, d)`` of parts
        ``part (n,)`` (-1: unknown part, other); ``X`` may be None without
        predicates."""
        part = np.asarray(part, dtype=np.int64)
        known = part >= 0
        idx = np.where(known, part, 0)
        disp = np.where(known, self.disp[idx], 0)
        sym = np.where(known, self.sym[idx], False)
        if self.predicates and part.size:
            for pred, bits, s in self.predicates:
                m = _eval_predicate(pred, X)
                disp = np.where(m, disp | bits, disp)
                sym = sym | (m & s)
        code = np.where(disp == self.full, _CLAMPED, np.where(disp == 0, _FREE, _OTHER))
        return np.where(sym | ~known, _OTHER, code).astype(np.int64)
