import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The JAX run's own speed: JAX compiles every new shape, and XLA's CPU code generation without LLVM optimisation
# compiles about 2x faster (four slow JAX tests on one core: 136 s at level 0, 178 s at XLA's default). JAX only
# for now: two CI runs of the TensorFlow suite on this machine took 11:00 with it and 12:24 without, which says it
# does not hurt there but was not measured on a quiet machine. Set before the backend starts; benchmarks and users
# keep XLA's default.
is_jax = os.environ.get("KERAS_BACKEND") == "jax"
if is_jax and "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()

import keras  # noqa: E402
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--gpu", action="store_true", help="fail unless the Keras backend sees a GPU")


def pytest_report_header(config):
    return f"keras {keras.__version__}, KERAS_BACKEND={keras.backend.backend()}"


def pytest_configure(config):
    if config.getoption("--gpu"):
        from tests.helpers import backend_has_gpu

        if not backend_has_gpu():
            raise pytest.UsageError(f"--gpu given but backend {keras.backend.backend()} sees no GPU")


@pytest.fixture(autouse=True)
def _reset_state():
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
