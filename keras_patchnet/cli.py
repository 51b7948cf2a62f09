"""`keras-patchnet`: predict, evaluate, train, push, bench. Run `keras-patchnet COMMAND --help` for options.

    keras-patchnet predict --sample --out out/predict          # the shipped sample render, pretrained UNet
    keras-patchnet predict photos/ --mask mask.png --out out   # files or folders of images
    keras-patchnet evaluate DATASET_DIR --out out/eval         # metrics table, per-image CSV, error heat maps
    keras-patchnet train --out runs/unet --epochs 20           # synthetic data (or --data DATASET_DIR), resumable
    keras-patchnet push runs/unet user/my-patchnet             # model card + upload_folder
    keras-patchnet bench --model unet --size 224

`--backend tensorflow|torch|jax` (before or after the command) picks the Keras backend. Errors print one line and
exit with status 1; bad options exit with status 2.
"""

import argparse
import csv
import json
import os
import sys

from keras_patchnet.constants import ARCHITECTURES, SAMPLE, parse_weights, weights_label

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
# The sample: keras_patchnet.data.render(2026, 112, 112, kind="cloth", lighting="fixed").image, saved as PNG
# (the size and light of the shipped UNet's training renders).
MODELS = ARCHITECTURES
BACKENDS = ("tensorflow", "torch", "jax")  # keras_patchnet.models.list_models(), without importing Keras here


class CLIError(Exception):
    """An error reported as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and a pointer to --help), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_model_options(p, pretrained_default="true"):
    p.add_argument("--model", default="unet", choices=MODELS, help="architecture (default unet)")
    p.add_argument(
        "--weights",
        default=pretrained_default,
        help='"true" (the default preset), a preset name or tag, a folder or .weights.h5 file, or "none"',
    )


def build_parser():
    parser = _Parser(prog="keras-patchnet", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, help="Keras backend")
    common = _Parser(add_help=False)  # --backend is also accepted after the command
    common.add_argument("--backend", choices=BACKENDS, default=argparse.SUPPRESS, help="Keras backend")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("predict", parents=[common], help="depth, normals, point cloud and a figure for each image")
    p.add_argument("paths", nargs="*", help="image files or folders")
    p.add_argument("--sample", action="store_true", help="also predict on the sample render shipped with the package")
    p.add_argument("--out", default="out/predict", help="output folder (default out/predict)")
    p.add_argument("--mask", help="foreground mask image (white = surface), same size as the image(s)")
    p.add_argument(
        "--threshold",
        type=int,
        default=24,
        help="without --mask, pixels whose brightest channel is above this (0-255) are foreground, "
        "for images on a dark background; 0 = every pixel (default 24)",
    )
    p.add_argument(
        "--intrinsics",
        help='"fx,fy,cx,cy" or a file with a 3x3 matrix (default: the renderer\'s '
        "Kinect-like camera scaled to the image width)",
    )
    p.add_argument(
        "--distance",
        type=float,
        default=1.2,
        help="camera distance of the surface's mean depth in metres, for the point cloud (default 1.2)",
    )
    p.add_argument("--no-figure", action="store_true", help="skip the matplotlib figure")
    _add_model_options(p)

    p = sub.add_parser("evaluate", parents=[common], help="metrics on a dataset folder (the real dataset's layout)")
    p.add_argument("dataset", help="dataset folder: <object>/{images,depth_maps,normals}/<sequence>/...")
    p.add_argument(
        "--split",
        choices=("all", "test"),
        default="all",
        help='"test": only the held-out sequences of the default sequence split (default all)',
    )
    p.add_argument("--out", default="out/evaluate")
    p.add_argument("--figures", type=int, default=8, help="error heat-map figures to write (default 8)")
    _add_model_options(p)

    p = sub.add_parser("train", parents=[common], help="train on synthetic renders or a dataset folder (resumable)")
    add_training_arguments(p, skip=("model", "pretrained", "verbose"))
    _add_model_options(p, pretrained_default="none")

    p = sub.add_parser(
        "push", parents=[common], help="publish a trained folder to the Hugging Face Hub with a model card"
    )
    p.add_argument("folder", help="a folder with config.json and model.weights.h5 (from `train` or save_preset)")
    p.add_argument("repo_id", help="user/name on the Hub")
    p.add_argument("--name", help="preset name for the card (default <arch>.custom)")
    p.add_argument("--endpoint", help="Hub URL (default: HF_ENDPOINT or huggingface.co)")
    p.add_argument("--token", help="Hub token (default: the logged-in one)")
    p.add_argument("--private", action="store_true")

    p = sub.add_parser("bench", parents=[common], help="inference speed on random images")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    _add_model_options(p, pretrained_default="none")
    return parser


def _select_backend(argv):
    """Sets KERAS_BACKEND from --backend before Keras is imported."""
    backend = None
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            backend = argv[i + 1]
        elif arg.startswith("--backend="):
            backend = arg.split("=", 1)[1]
    if backend is None:
        return
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise CLIError(
                f"--backend {backend}: Keras is already running on {keras.backend.backend()} in this process"
            )
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def add_training_arguments(parser, skip=("verbose",)):
    """Adds a --option for every entry of `keras_patchnet.training.DEFAULTS` (but `skip`) to an argparse parser."""
    from keras_patchnet.training import DEFAULTS

    kinds = {"lr": float, "time_budget": float, "pretrained": str}
    for key, default in DEFAULTS.items():
        if key not in skip:
            kind = kinds.get(key, int if isinstance(default, int) else str)
            parser.add_argument("--" + key.replace("_", "-"), type=kind, default=default, help=f"default {default}")
    return parser


def _load_model(args):
    from keras_patchnet import hub, models

    pretrained = parse_weights(args.weights)
    try:
        return models.create_model(args.model, pretrained=pretrained)
    except (hub.WeightsError, ValueError) as e:  # unknown preset, missing or mismatching files
        raise CLIError(str(e)) from None


def _image_paths(paths):
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


class _PlainProgress:
    """One plain line per step, for output that is not a terminal (Keras' Progbar writes escape codes there)."""

    def __init__(self, total, unit_name):
        self.total, self.unit_name = total, unit_name

    def update(self, current):
        print(f"{self.unit_name} {current}/{self.total}", flush=True)


def progress_bar(total, unit_name):
    """Keras' progress bar on a terminal, plain lines when output goes to a file or a pipe."""
    if sys.stdout.isatty():
        import keras

        return keras.utils.Progbar(total, unit_name=unit_name)
    return _PlainProgress(total, unit_name)


def _read_rgb(path, native=False):
    from keras_patchnet.data import DataError, read_image

    try:
        return read_image(path, native=native)
    except DataError as e:
        raise CLIError(str(e)) from None


def _intrinsics(spec, height, width):
    import numpy as np

    from keras_patchnet.data import intrinsics

    if spec is None:
        return intrinsics(height, width)
    if os.path.isfile(spec):
        try:
            K = np.loadtxt(spec, ndmin=2)
        except ValueError as e:
            raise CLIError(f"--intrinsics {spec}: not a 3x3 matrix of numbers ({e})") from None
        if K.shape != (3, 3):
            raise CLIError(f"--intrinsics {spec}: expected a 3x3 matrix, found shape {K.shape}")
        return K
    try:
        fx, fy, cx, cy = (float(v) for v in spec.split(","))
    except ValueError:
        raise CLIError(f'--intrinsics must be "fx,fy,cx,cy" or a file with a 3x3 matrix. Received: {spec!r}') from None
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])


def _foreground(args, image, path):
    if args.mask:
        mask = _read_rgb(args.mask, native=True).max(axis=-1) > 0  # any non-zero pixel: 0/1 and 0/255 masks alike
        if mask.shape != image.shape[:2]:
            raise CLIError(
                f"--mask {args.mask} is {mask.shape[1]}x{mask.shape[0]} but image {path} is "
                f"{image.shape[1]}x{image.shape[0]} (width x height)"
            )
    elif path == SAMPLE:  # the shipped render knows its surface
        from keras_patchnet.data import load_sample

        mask = load_sample()[1]
    else:
        mask = image.max(axis=-1) > args.threshold
    if not mask.any() and args.mask:
        raise CLIError(f"--mask {args.mask} is empty (every pixel is 0) for image {path}")
    if not mask.any():
        raise CLIError(
            f"{path}: empty foreground (no pixel brighter than --threshold {args.threshold} of 255); "
            f"pass --mask or a lower --threshold"
        )
    return mask


def predict(args):
    from keras_patchnet.io import save_prediction

    paths = _image_paths(args.paths) + ([SAMPLE] if args.sample else [])
    if not paths:
        raise CLIError("Nothing to predict: give image files or folders, or --sample")
    from keras_patchnet.data import to_uint8

    raw = [(p, _read_rgb(p, native=True)) for p in paths]  # uint8 or uint16: the model reads either (contract)
    images = [(p, to_uint8(image)) for p, image in raw]  # 8-bit views for the threshold, colours and figure
    masks = [_foreground(args, image, p) for p, image in images]
    cameras = [_intrinsics(args.intrinsics, *image.shape[:2]) for _, image in images]
    model = _load_model(args)
    os.makedirs(args.out, exist_ok=True)
    progress = progress_bar(len(images), "image")
    written = []
    for i, ((path, image), (_, native), mask, K) in enumerate(zip(images, raw, masks, cameras)):
        out = model.predict_on_batch({"images": native[None], "mask": mask[None, ..., None].astype("float32")})
        truth = None
        if path == SAMPLE and not args.no_figure:  # a render: show the truth and the errors next to the prediction
            from keras_patchnet.data import load_sample

            truth = load_sample(with_truth=True)[2]
        stem = os.path.join(args.out, os.path.splitext(os.path.basename(path))[0])
        title = f"{os.path.basename(path)} - {args.model} ({weights_label(args.weights)})"
        files = save_prediction(
            stem,
            image,
            out["depth"][0],
            out["normals"][0],
            mask,
            K,
            args.distance,
            figure=not args.no_figure,
            truth=truth,
            title=title,
        )
        written.append((path, files))
        progress.update(i + 1)
    for path, files in written:
        print(f"{path} -> " + ", ".join(files))
    print(f"Wrote {sum(len(f) for _, f in written)} files to {os.path.abspath(args.out)}")
    return 0


def evaluate(args):
    from keras_patchnet.data import DataError, TexlessDataset
    from keras_patchnet.evaluation import evaluate_dataset

    try:
        dataset = TexlessDataset(args.dataset)
        if args.split == "test":
            dataset = dataset.split(by="sequence")[1]
    except (FileNotFoundError, DataError, ValueError) as e:
        raise CLIError(str(e)) from None
    model = _load_model(args)
    os.makedirs(args.out, exist_ok=True)
    try:
        result = evaluate_dataset(
            model, dataset, verbose=1, figures_dir=os.path.join(args.out, "figures"), max_figures=args.figures
        )
    except DataError as e:
        raise CLIError(str(e)) from None
    rows = result.pop("per_image")
    with open(os.path.join(args.out, "per_image.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(
        f"\n{result['num_images']} images of {args.dataset} ({args.split}), {args.model} "
        f"({weights_label(args.weights)})\n"
    )
    print("| metric | model | flat plane |\n|---|---|---|")
    for key, value in result["model"].items():
        flat = result["flat_plane"][key]
        print(f"| {key} | {value['mean']:.3f} ± {value['std']:.3f} | {flat['mean']:.3f} ± {flat['std']:.3f} |")
    print(f"\nWrote metrics.json, per_image.csv and figures/ to {os.path.abspath(args.out)}")
    return 0


def train(args):
    from keras_patchnet.data import DataError
    from keras_patchnet.training import DEFAULTS
    from keras_patchnet.training import train as run

    options = {k: getattr(args, k) for k in DEFAULTS if hasattr(args, k)}
    options["pretrained"] = parse_weights(args.weights)
    if options["data"] != "synthetic" and not os.path.isdir(options["data"]):
        raise CLIError(f'--data must be "synthetic" or a dataset folder. No such folder: {options["data"]}')
    try:
        result = run(**options, verbose=1)
    except DataError as e:
        raise CLIError(str(e)) from None
    print(json.dumps({k: result[k] for k in ("model", "flat_plane")}, indent=2))
    print(f"Wrote model.weights.h5, config.json, metrics.json and log.csv to {os.path.abspath(args.out)}")
    return 0


def push(args):
    from keras_patchnet import hub, models

    config_path = os.path.join(args.folder, hub.CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise CLIError(f"{args.folder} has no {hub.CONFIG_FILE} (train writes one; so does hub.save_preset)")
    with open(config_path) as f:
        arch = json.load(f).get("arch")
    if arch not in MODELS:
        raise CLIError(f"{config_path}: unknown architecture {arch!r}, expected one of {MODELS}")
    try:
        model = models.create_model(arch, pretrained=args.folder)
    except (hub.WeightsError, ValueError) as e:
        raise CLIError(str(e)) from None
    metadata = {}
    for name in ("metadata.json", "metrics.json"):
        path = os.path.join(args.folder, name)
        if os.path.isfile(path):
            with open(path) as f:
                loaded = json.load(f)
            metadata.update(
                loaded
                if name == "metadata.json"
                else {
                    "metrics": {k: loaded[k] for k in ("model", "flat_plane") if k in loaded},
                    "training": {"stages": [{"script": hub.TRAINING_SCRIPT, "args": loaded.get("recipe", {})}]},
                }
            )
    for key in ("name", "arch", "trainable_params"):  # the model's own, written anew
        metadata.pop(key, None)
    info = hub.push_to_hub(
        model,
        args.repo_id,
        name=args.name,
        metadata=metadata,
        token=args.token,
        endpoint=args.endpoint,
        private=args.private,
    )
    print(f"Pushed {args.folder} to {args.repo_id} at revision {info.oid}")
    return 0


def bench(args):
    import time

    import keras
    import numpy as np

    model = _load_model(args)
    images = np.random.default_rng(0).uniform(0, 255, (args.batch_size, args.size, args.size, 3)).astype("float32")
    model.predict_on_batch(images)  # trace / compile
    progress = progress_bar(args.repeats, "batch")
    times = []
    for i in range(args.repeats):
        start = time.perf_counter()
        model.predict_on_batch(images)
        times.append(time.perf_counter() - start)
        progress.update(i + 1)
    best = min(times)
    print(
        f"{args.model} on {keras.backend.backend()}: {args.batch_size} images of {args.size}x{args.size} in "
        f"{best * 1000:.1f} ms (best of {args.repeats}) = {args.batch_size / best:.2f} images/s"
    )
    return 0


COMMANDS = {"predict": predict, "evaluate": evaluate, "train": train, "push": push, "bench": bench}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        _select_backend(argv)
        args = build_parser().parse_args(argv)
        if args.version:
            from keras_patchnet import __version__

            print(__version__)
            return 0
        if args.command is None:
            build_parser().print_help()
            return 2
        return COMMANDS[args.command](args)
    except CLIError as e:
        print(f"keras-patchnet: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keras-patchnet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
