"""What the commands share: the one-line error, the parser, model loading, reading images, masks and cameras,
and writing files so that none is ever left half-written."""

import argparse
import os
import sys

from keras_patchnet.constants import ARCHITECTURES, parse_weights

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
BACKENDS = ("tensorflow", "torch", "jax")  # keras_patchnet.models.list_models(), without importing Keras here


class CLIError(Exception):
    """An error reported as one line."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and a pointer to --help), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_model_options(p, pretrained_default="true"):
    p.add_argument("--model", default="unet", choices=ARCHITECTURES, help="architecture (default unet)")
    p.add_argument(
        "--weights",
        default=pretrained_default,
        help='"true" (the default preset), a preset name or tag, a folder or .weights.h5 file, or "none"',
    )


def quiet_tensorflow():
    """Silences TensorFlow's C++ log lines (oneDNN and CPU-feature notes, CUDA probing on a machine without a GPU)
    unless the user has set `TF_CPP_MIN_LOG_LEVEL` themselves. The level alone does not hide the lines TensorFlow
    prints while it is imported (before its logging starts), so the import itself runs with the process's
    standard error closed: Python errors still reach the user, raised after it is restored."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "CUDA_VISIBLE_DEVICES" not in os.environ and not _has_nvidia_device():
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # no cuInit probe (and its error line) where there is no GPU
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


class _QuietImport:
    """A meta-path finder that runs the first `import tensorflow` with file descriptor 2 on /dev/null."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def quiet_exec(module):
            sys.stderr.flush()
            saved = os.dup(2)
            try:
                with open(os.devnull, "w") as null:
                    os.dup2(null.fileno(), 2)
                    exec_module(module)
            finally:
                os.dup2(saved, 2)
                os.close(saved)

        spec.loader.exec_module = quiet_exec
        return spec


def _has_nvidia_device():
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia")


FASTEST_FIRST = ("tensorflow", "torch", "jax")  # the training step on a CPU, docs/speed.md


def default_backend():
    """The first of `FASTEST_FIRST` that is installed, or None."""
    import importlib.util

    return next((name for name in FASTEST_FIRST if importlib.util.find_spec(name) is not None), None)


def select_backend(argv):
    """Sets KERAS_BACKEND from --backend before Keras is imported."""
    backend = None
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            backend = argv[i + 1]
        elif arg.startswith("--backend="):
            backend = arg.split("=", 1)[1]
    if backend is None and "finetune" in argv and not os.environ.get("KERAS_BACKEND") and "keras" not in sys.modules:
        backend = default_backend()  # training: the fastest installed backend
    if backend is None:
        return
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise CLIError(
                f"--backend {backend}: Keras is already running on {keras.backend.backend()} in this process"
            )
    os.environ["KERAS_BACKEND"] = backend


def load_model(args):
    from keras_patchnet import hub, models

    pretrained = parse_weights(args.weights)
    try:
        return models.create_model(args.model, pretrained=pretrained)
    except (hub.WeightsError, ValueError) as e:  # unknown preset, missing, corrupt or mismatching files
        raise CLIError(str(e)) from None


def image_paths(paths):
    found = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_EXTENSIONS))
            if not names:
                raise CLIError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in folder {path}")
            found += [os.path.join(path, n) for n in names]
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise CLIError(f"No such file or folder: {path}")
    return found


def read_rgb(path, native=False):
    from keras_patchnet.data import DataError, read_image

    try:
        return read_image(path, native=native)
    except DataError as e:
        raise CLIError(str(e)) from None


def check_writable_folder(folder, option="--out"):
    """Creates `folder` if needed and proves it writable, before any model is loaded."""
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f".keras-patchnet-write-test-{os.getpid()}"), "wb") as f:
            f.write(b"x")
        os.remove(f.name)
    except OSError as e:
        raise CLIError(f"{option} {folder}: cannot write there ({e.strerror or e}); choose another folder") from None
