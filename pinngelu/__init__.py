"""pinngelu: physics-informed neural networks for linear elasticity.

GELU MLPs evaluated with their analytic first and second input derivatives by
Numba kernels (CPU threads or CUDA), residuals as linear operators on jets, and a
hand-written L-BFGS.
"""

from . import kernels
from .activations import ACTIVATIONS
from .loss import LossResult, ResidualGroup, jets, loss_and_grad
from .network import MLP

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "LossResult",
    "ResidualGroup",
    "jets",
    "kernels",
    "loss_and_grad",
    "__version__",
]
