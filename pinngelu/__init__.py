"""pinngelu: physics-informed neural networks for linear elasticity.

GELU MLPs evaluated with their analytic first and second input derivatives by
Numba kernels (CPU threads or CUDA), residuals as linear operators on jets, and a
hand-written L-BFGS.

>>> import pinngelu as pg
>>> geom = pg.Rectangle(0.0, 1.0, 0.0, 0.1)
>>> steel = pg.Material.from_E_nu(210e9, 0.3)
"""

from . import kernels, optim
from .activations import ACTIVATIONS
from .adaptive import RAD as RAD
from .elasticity import (
    Dirichlet,
    Material,
    NearlyIncompressibleWarning,
    Pressure,
    Scales,
    Symmetry,
    Traction,
)
from .energy import EnergyForm, EnergyQuadratureWarning
from .geometry import (
    AnnularSector,
    Annulus,
    BoundarySample,
    Box,
    Difference,
    Disk,
    Geometry,
    MeshDomain,
    Polygon,
    Rectangle,
    SphericalShellOctant,
)
from .loss import LossResult, ResidualGroup, jets, loss_and_grad
from .network import MLP
from .optim.lm import LMConfig
from .optim.quasi_newton import QNConfig, QNUpdate
from .problem import DisplacementData, ElasticityProblem, Solution
from .rigid_body import RigidBodyWarning
from .stages import LBFGS, Adam, LevenbergMarquardt, QuasiNewton
from .training import TrainConfig, TrainResult, resume, train

__version__ = "0.1.0"


def __getattr__(name: str):
    # pinngelu.io and pinngelu.stats pull in meshio and scipy.optimize, which are slow
    # to import: load them on first use
    if name in ("io", "stats"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "Adam",
    "LBFGS",
    "LMConfig",
    "LevenbergMarquardt",
    "MLP",
    "QNConfig",
    "QNUpdate",
    "QuasiNewton",
    "RAD",
    "Annulus",
    "AnnularSector",
    "BoundarySample",
    "Box",
    "Difference",
    "Dirichlet",
    "DisplacementData",
    "Disk",
    "ElasticityProblem",
    "EnergyForm",
    "EnergyQuadratureWarning",
    "Geometry",
    "LossResult",
    "Material",
    "MeshDomain",
    "NearlyIncompressibleWarning",
    "Polygon",
    "Pressure",
    "Rectangle",
    "ResidualGroup",
    "RigidBodyWarning",
    "Scales",
    "Solution",
    "SphericalShellOctant",
    "Symmetry",
    "TrainConfig",
    "TrainResult",
    "Traction",
    "io",
    "jets",
    "kernels",
    "loss_and_grad",
    "optim",
    "resume",
    "stats",
    "train",
    "__version__",
]
