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

# Under pytest-xdist (`make test` runs two workers) each worker gets its share of the cores: without this, two
# workers of two threads each fight over two cores and torch's OpenMP threads spin (the torch suite: 6:55 against
# 3:08 with one thread a worker, both with a training job on one core).
workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if workers > 1:
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, threads)
    # and on a GPU, neither JAX nor TensorFlow takes all of its memory at start, so the workers can share it
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    if threads == "1" and "--xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()

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
    # Every test starts from the same random state, so its weights and data do not depend on which tests ran
    # before it in the same process (pytest-xdist hands tests to its workers in an order that changes run to run).
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    # Every program JAX compiles keeps its machine code in memory maps of its own until it is freed. One process
    # running half of the suite compiles enough of them (about 200 maps a test) to reach Linux's limit of 65,530
    # maps a process (vm.max_map_count), and XLA's compiler then dies in a segmentation fault, with no Python
    # error. Dropping JAX's caches after each test module frees the programs no live object holds.
    yield
    if keras.backend.backend() == "jax":
        import gc

        import jax

        gc.collect()
        jax.clear_caches()
        gc.collect()


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A preset folder of a small untrained UNet, as `train` or `save_preset` writes it."""
    from keras_patchnet import hub, models
    from tests.helpers import TINY

    keras.utils.set_random_seed(0)
    folder = str(tmp_path_factory.mktemp("tiny") / "unet.tiny")
    return hub.save_preset(models.build_from_config(TINY), folder, name="unet.tiny")
