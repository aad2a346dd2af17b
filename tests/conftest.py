"""Test setup: run the CUDA tests on Numba's simulator when no GPU driver is present,
and choose the profile of the property-based tests.

The simulator switch must happen before anything imports numba, which reads
``NUMBA_ENABLE_CUDASIM`` once at import.  An explicit setting in the environment
is left alone; with a loadable CUDA driver the tests run on the GPU unchanged.

The hypothesis profiles (``tests/test_property.py``): ``ci``, the default, runs few
examples, derandomized and without deadlines, so that the property tests take
seconds; ``thorough`` runs many, from fresh random seeds.  The environment variable
``PINNGELU_HYPOTHESIS_PROFILE`` chooses one (``PINNGELU_HYPOTHESIS_PROFILE=thorough
python -m pytest tests/test_property.py``).
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

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the property tests skip themselves without hypothesis
    settings = None

if settings is not None:
    _slow_ok = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
    settings.register_profile(
        "ci",
        max_examples=50,
        derandomize=True,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=_slow_ok,
    )
    settings.register_profile(
        "thorough",
        max_examples=400,
        deadline=None,
        print_blob=True,
        suppress_health_check=_slow_ok,
    )
    settings.load_profile(os.environ.get("PINNGELU_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def plate():
    """The flagship case module (``cases/plate_manufactured.py``)."""
    return importlib.import_module("pinngelu.cases.plate_manufactured")
