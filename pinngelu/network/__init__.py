"""The network: a multilayer perceptron and the statistics of its initialisation.

==========  ========================================================================
``stats``   Gaussian statistics of the activations: moments, variance map and its
            slope, variance-preserving gain, Lipschitz constants
``mlp``     :class:`MLP`: the architecture, the layout of the flat parameter vector,
            initialisation (variance-preserving GELU gain from ``stats``), ``.npz``
            save / load
==========  ========================================================================

``mlp`` builds on ``stats``; both build on :mod:`pinngelu.activations`, which the
compute kernels (:mod:`pinngelu.kernels`) compile as well.  ``pinngelu.stats`` is an
alias of :mod:`pinngelu.network.stats`.
"""

from . import stats
from .mlp import MLP, gelu_fixed_point_gain, glorot_normal, save_npz_atomic

__all__ = ["MLP", "gelu_fixed_point_gain", "glorot_normal", "save_npz_atomic", "stats"]
