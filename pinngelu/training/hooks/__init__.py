"""The hooks of the training loop, one small module each (see :mod:`.base` for the
points at which the loop calls them):

============================  ==========================================================
:mod:`.base`                  the ``Hook`` interface
:mod:`.points`                ``Resample``: new collocation points every n iterations
:mod:`.adapt`                 ``Adapt``: residual-based adaptive collocation (RAD)
:mod:`.quadrature`            ``QuadratureCheck``: the formulation's check and refinement
:mod:`.checkpointing`         ``Checkpoint``: the run's state to a file
:mod:`.callback`              ``UserCallback``: the user's ``callback(run) -> bool``
:mod:`.budget`                ``Budget``: time limit and evaluation budget (agreed by ranks)
:mod:`.errors`                ``ErrorTracker``: the error against an exact solution
:mod:`.progress`              ``Progress``: progress lines
============================  ==========================================================
"""

from .adapt import Adapt as Adapt
from .base import Hook as Hook
from .budget import Budget as Budget
from .callback import UserCallback as UserCallback
from .checkpointing import Checkpoint as Checkpoint
from .errors import ErrorTracker as ErrorTracker
from .points import Resample as Resample
from .progress import Progress as Progress
from .quadrature import QuadratureCheck as QuadratureCheck

__all__ = [
    "Adapt",
    "Budget",
    "Checkpoint",
    "ErrorTracker",
    "Hook",
    "Progress",
    "QuadratureCheck",
    "Resample",
    "UserCallback",
]
