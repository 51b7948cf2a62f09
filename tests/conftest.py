import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
