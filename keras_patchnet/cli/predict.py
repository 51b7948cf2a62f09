"""`keras-patchnet predict`: depth, normals, a point cloud and a figure for each image.

Everything that can be checked is checked before the model is loaded (the images and masks read, the camera, the
output folder writable); each image's files are written whole or not at all; an image that fails is reported and
the others go on; the run ends with status 1 and the list of failures if any image failed. `predict.json` beside
the outputs says which model, preset, package version and input encoding made them.
"""

import datetime
import json
import os
import warnings

from keras_patchnet._atomic import write_text
from keras_patchnet.cli._common import CLIError, add_model_options, check_writable_folder, image_paths, load_model
from keras_patchnet.constants import SAMPLE, weights_label
from keras_patchnet.lighting import LIGHT_FIT_WARNING


def add_parser(sub, parents):
    p = sub.add_parser("predict", parents=parents, help="depth, normals, point cloud and a figure for each image")
    p.add_argument("paths", nargs="*", help="image files or folders")
    p.add_argument("--sample", action="store_true", help="also predict on the sample render shipped with the package")
    p.add_argument("--out", default="out/predict", help="output folder (default out/predict)")
    p.add_argument(
        "--mask",
        help="foreground mask image, same size as the image(s): white (non-zero) = surface; a cut-out's alpha "
        "when its colour is blank; a JPEG mask is thresholded at half range",
    )
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
    p.add_argument(
        "--outputs",
        default="depth,normals,ply,figure",
        help="what to write, comma-separated: depth (.npy float32 + .png), normals (.npy float16 + .png), ply "
        "(point cloud), figure (needs matplotlib). Default: all four",
    )
    p.add_argument(
        "--all-points",
        action="store_true",
        help="keep every surface pixel in the point cloud (default: thinned to at most 2 million points)",
    )
    p.add_argument("--no-figure", action="store_true", help="the same as leaving figure out of --outputs")
    p.add_argument(
        "--light",
        help="your set-up's light.json (keras-patchnet calibrate): the light each image's fit is checked against "
        "(default: the light the preset assumes, the calibrated light for the calibrated presets)",
    )
    p.add_argument(
        "--warn-light",
        action="store_true",
        help=f"warn, one line per image, when an image's light-fit residual is above {LIGHT_FIT_WARNING} (off by "
        "default: the check tells worse-than-plane maps from better ones only weakly, ROC AUC 0.58)",
    )
    add_model_options(p)


def _outputs(args):
    from importlib.util import find_spec

    from keras_patchnet.io import parse_outputs

    try:
        outputs = parse_outputs(args.outputs)
    except ValueError as e:
        raise CLIError(f"--outputs: {e}") from None
    if args.no_figure:
        outputs = tuple(o for o in outputs if o != "figure")
    if "figure" in outputs and find_spec("matplotlib") is None:
        print('keras-patchnet: note: figures skipped (matplotlib is not installed): pip install "keras-patchnet[viz]"')
        outputs = tuple(o for o in outputs if o != "figure")
    if not outputs:
        raise CLIError("--outputs: nothing left to write (figure needs matplotlib, which is not installed)")
    return outputs


def _camera(args):
    """(intrinsics spec as a 3x3 matrix or None for the default camera, distance), checked."""
    import math

    import numpy as np

    if not (math.isfinite(args.distance) and args.distance > 0):
        raise CLIError(f"--distance must be a finite number of metres > 0. Received: {args.distance}")
    spec = args.intrinsics
    if spec is None:
        return None
    if os.path.isfile(spec):
        try:
            K = np.loadtxt(spec, ndmin=2)
        except ValueError as e:
            raise CLIError(f"--intrinsics {spec}: not a 3x3 matrix of numbers ({e})") from None
        if K.shape != (3, 3):
            raise CLIError(f"--intrinsics {spec}: expected a 3x3 matrix, found shape {K.shape}")
    else:
        try:
            fx, fy, cx, cy = (float(v) for v in spec.split(","))
        except ValueError:
            raise CLIError(
                f'--intrinsics must be "fx,fy,cx,cy" or a file with a 3x3 matrix. Received: {spec!r}'
            ) from None
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    from keras_patchnet.geometry import check_intrinsics

    try:
        return check_intrinsics(K)
    except ValueError as e:
        raise CLIError(f"--intrinsics {spec}: {str(e).replace('`intrinsics` ', '')}") from None


def _read(path, native=False, reader="read_image"):
    from keras_patchnet import data

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = getattr(data, reader)(path, native=native) if reader == "read_image" else data.read_mask(path)
        except data.DataError as e:
            raise CLIError(str(e)) from None
    for w in _for_users(caught):
        print(f"keras-patchnet: warning: {w.message}")
    return result


def _for_users(caught):
    """The caught warnings meant for a user: libraries' deprecation notices (e.g. NumPy 2's about `__array__`, from
    inside Keras' torch backend) are for developers and stay hidden, as Python hides them by default."""
    return [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]


def _foreground(args, image, path, mask_file):
    if mask_file is not None:
        if mask_file.shape != image.shape[:2]:
            raise CLIError(
                f"--mask {args.mask} is {mask_file.shape[1]}x{mask_file.shape[0]} but image {path} is "
                f"{image.shape[1]}x{image.shape[0]} (width x height, both as displayed, EXIF orientation applied)"
            )
        if not mask_file.any():
            raise CLIError(f"--mask {args.mask} is empty (no surface pixel) for image {path}")
        return mask_file
    if path == SAMPLE:  # the shipped render knows its surface
        from keras_patchnet.data import load_sample

        return load_sample()[1]
    mask = image.max(axis=-1) > args.threshold
    if not mask.any():
        raise CLIError(
            f"{path}: empty foreground (no pixel brighter than --threshold {args.threshold} of 255); "
            f"pass --mask or a lower --threshold"
        )
    return mask


def unique_stems(paths):
    """Output stems (file names without extension) that never collide: a repeated stem gets -2, -3, ..."""
    stems, seen = [], set()
    for path in paths:
        base = os.path.splitext(os.path.basename(path))[0]
        stem, k = base, 2
        while stem.lower() in seen:  # case-insensitive file systems too
            stem, k = f"{base}-{k}", k + 1
        seen.add(stem.lower())
        stems.append(stem)
    return stems


def _size(paths):
    total = sum(os.path.getsize(p) for p in paths if os.path.exists(p))
    return f"{total / 1e6:.1f} MB" if total >= 1e5 else f"{total / 1e3:.0f} kB"


def run(args):
    paths = image_paths(args.paths) + ([SAMPLE] if args.sample else [])
    if not paths:
        raise CLIError("Nothing to predict: give image files or folders, or --sample")
    from keras_patchnet import __version__
    from keras_patchnet.data import intrinsics, to_uint8
    from keras_patchnet.io import save_prediction
    from keras_patchnet.progress import progress_bar

    outputs = _outputs(args)
    K_given = _camera(args)
    light = _light(args)
    mask_file = _read(args.mask, reader="read_mask") if args.mask else None
    raw = [(p, _read(p, native=True)) for p in paths]  # uint8 or uint16: the model reads either (contract)
    images = [(p, to_uint8(image)) for p, image in raw]  # 8-bit views for the threshold, colours and figure
    masks = [_foreground(args, image, p, mask_file) for p, image in images]
    check_writable_folder(args.out)
    if light is not None and args.weights == "true":  # with a light, the default is a light-conditioned preset
        args.weights = _lit_preset(args.model) or args.weights
    model = load_model(args)
    if model.light and light is None:
        raise CLIError(f"--weights {args.weights} is light-conditioned: give your set-up's --light light.json")
    light = light if light is not None else _assumed_light(args)
    if model.light:
        import numpy as np

        light_batch = np.asarray(light, "float32")[None]
    progress = progress_bar(len(images), "image")
    unfit = []
    written, failed, record = [], [], []
    for i, ((path, image), (_, native), mask, stem) in enumerate(zip(images, raw, masks, unique_stems(paths))):
        K = intrinsics(*image.shape[:2]) if K_given is None else K_given
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                x = {"images": native[None], "mask": mask[None, ..., None].astype("float32")}
                if model.light:
                    x["light"] = light_batch
                out = model.predict_on_batch(x)
            for w in _for_users(caught):
                print(f"keras-patchnet: warning: {path}: {w.message}")
            truth = None
            if path == SAMPLE and "figure" in outputs:  # a render: the truth and errors beside the prediction
                from keras_patchnet.data import load_sample

                truth = load_sample(with_truth=True)[2]
            files = save_prediction(
                os.path.join(args.out, stem),
                image,
                out["depth"][0],
                out["normals"][0],
                mask,
                K,
                args.distance,
                truth=truth,
                title=f"{os.path.basename(path)} - {args.model} ({weights_label(args.weights)})",
                outputs=outputs,
                max_points=None if args.all_points else 2_000_000,
            )
        except (OSError, ValueError) as e:  # a full disk, a file system that refuses, a map that cannot be saved
            failed.append((path, f"{type(e).__name__}: {e}"))
            continue
        finally:
            progress.update(i + 1)
        written.append((path, files))
        entry = {"input": os.path.abspath(path), "outputs": [os.path.basename(f) for f in files]}
        if light is not None:
            entry["light_fit"] = fit = _light_fit(image, out, mask, light, model)
            if args.warn_light and (fit["residual"] or 0.0) > LIGHT_FIT_WARNING:
                unfit.append((path, fit["residual"]))
        record.append(entry)
    for path, files in written:
        print(f"{path} -> " + ", ".join(os.path.basename(f) for f in files))
    for path, residual in unfit:
        print(
            f"keras-patchnet: warning: {path} is not lit as the preset expects (light-fit residual {residual:.2f} > "
            f"{LIGHT_FIT_WARNING}): its maps may be no better than a flat plane; see docs/guide/input-contract.md"
        )
    if record:
        provenance = {
            "keras_patchnet": __version__,
            "model": args.model,
            "weights": _weights_name(args),
            "config": _model_facts(model),
            "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "images": record,
        }
        try:
            write_text(os.path.join(args.out, "predict.json"), json.dumps(provenance, indent=2) + "\n")
        except OSError as e:
            failed.append(("predict.json", f"{type(e).__name__}: {e}"))
    files = [f for _, fs in written for f in fs]
    print(f"Wrote {len(files)} files ({_size(files)}) for {len(written)} image(s) to {os.path.abspath(args.out)}")
    if failed:
        for path, reason in failed:
            print(f"keras-patchnet: failed: {path}: {reason}")
        raise CLIError(f"{len(failed)} of {len(paths)} image(s) failed (listed above); the others were written")
    return 0


def _light(args):
    """The code of --light, checked before anything is loaded, or None."""
    if args.light is None:
        return None
    from keras_patchnet import lighting

    try:
        return lighting.load_light(args.light)
    except lighting.LightError as e:
        raise CLIError(f"--light {e}") from None


def _lit_preset(model):
    """The first light-conditioned preset of the architecture `model`, or None."""
    from keras_patchnet import presets

    names = [n for n in presets.list_pretrained() if n.split(".")[0] == model]
    return next((n for n in names if presets.PRESETS[n]["config"].get("light")), None)


def _assumed_light(args):
    """The light a preset was trained under, when it knows one: the calibrated light of `*-calibrated` presets."""
    from keras_patchnet import lighting

    name = _weights_name(args)
    return lighting.calibrated_code() if name.endswith("calibrated") else None


def _light_fit(image, out, mask, light, model):
    import numpy as np

    from keras_patchnet import lighting

    normals = np.asarray(out["normals"][0], "float32")
    fit = lighting.light_fit(image, normals, mask, light, getattr(model, "input_encoding", "linear"))
    return {k: round(v, 4) if np.isfinite(v) else None for k, v in fit.items()}  # None: too few foreground pixels


def _weights_name(args):
    """The preset name behind --weights (true or a tag resolved), or what was given."""
    from keras_patchnet.constants import parse_weights
    from keras_patchnet.hub import resolve_preset

    value = parse_weights(args.weights)
    try:
        return (
            resolve_preset(args.model, value)
            if value is True or (isinstance(value, str) and not os.path.exists(value))
            else str(weights_label(args.weights))
        )
    except ValueError:
        return str(weights_label(args.weights))


def _model_facts(model):
    """What decides how a model reads its input, for predict.json."""
    return {
        "intensity": getattr(model, "intensity", None),
        "input_encoding": getattr(model, "input_encoding", "linear"),
        "working_width": getattr(model, "working_width", None),
        "patch_size": getattr(model, "patch_size", None),
    }
