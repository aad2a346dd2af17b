"""Test setup: run the CUDA tests on Numba's simulator when no GPU driver is present.

This must happen before anything imports numba, which reads
``NUMBA_ENABLE_CUDASIM`` once at import.  An explicit setting in the environment
is left alone; with a loadable CUDA driver the tests run on the GPU unchanged.
"""

import ctypes
import os

if "NUMBA_ENABLE_CUDASIM" not in os.environ:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"


import importlib  # noqa: E402  (after the simulator switch above)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def plate():
    """The flagship case module (``cases/plate_manufactured.py``)."""
    return importlib.import_module("pinngelu.cases.plate_manufactured")
