"""pinngelu: physics-informed neural networks for linear elasticity.

GELU MLPs evaluated with their analytic first and second input derivatives by
Numba kernels (CPU threads or CUDA); the strong form (residuals as linear operators
on jets) or the total potential energy as the loss; hand-written curvature optimisers
(dense self-scaled quasi-Newton, L-BFGS, Levenberg-Marquardt) and Adam run as stages
of one training loop with hooks.

>>> import pinngelu as pg
>>> geom = pg.Rectangle(0.0, 1.0, 0.0, 0.1)
>>> steel = pg.Material.from_E_nu(210e9, 0.3)
"""

import sys

from . import io, kernels, optim
from .activations import ACTIVATIONS
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
from .family import Family, FamilyFit, FamilyForm, FamilySolution, Parameter
from .formulation import Formulation
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
from .network import MLP, stats
from .optim.lm import LMConfig
from .optim.quasi_newton import QNConfig, QNUpdate
from .problem import DisplacementData, ElasticityProblem, Solution
from .rigid_body import RigidBodyWarning
from .strong import StrongForm
from .training import (
    LBFGS,
    RAD,
    Adam,
    LevenbergMarquardt,
    QuasiNewton,
    TrainConfig,
    TrainResult,
    resume,
    train,
)

__version__ = "0.1.0"


# pinngelu.stats: an alias of pinngelu.network.stats, for ``import pinngelu.stats`` too
sys.modules[f"{__name__}.stats"] = stats


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
    "Family",
    "FamilyFit",
    "FamilyForm",
    "FamilySolution",
    "EnergyQuadratureWarning",
    "Formulation",
    "Geometry",
    "LossResult",
    "Material",
    "MeshDomain",
    "NearlyIncompressibleWarning",
    "Parameter",
    "Polygon",
    "Pressure",
    "Rectangle",
    "ResidualGroup",
    "RigidBodyWarning",
    "Scales",
    "Solution",
    "SphericalShellOctant",
    "StrongForm",
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
