"""A model's validation ratios to the flat plane at several image sizes (the choice of a multi-scale stage, and of
how images are brought to a preset's working width).

    python tools/validate_sizes.py [WEIGHTS] [--sizes 112 224 448 480x640] [--images 32] [--lighting fixed]
        [--interpolations bilinear nearest]

WEIGHTS: a preset name, a run folder or a preset folder (default: the default UNet preset). Renders from
VAL_SEED (the validation split, never the held-out one), predicted through the whole model (its working width
included, with each `working_interpolation` asked for; the preset's own when none is) and compared at full size:
depth MAE and mean angle over the flat plane's.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def size_arg(text):
    """ "448" -> (448, 448); "480x640" -> (480, 640)."""
    h, _, w = text.partition("x")
    return int(h), int(w or h)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("weights", nargs="?", default="unet.synthetic-calibrated")
    p.add_argument("--model", default=None, help="the architecture (default: the one the name starts with, else unet)")
    p.add_argument("--sizes", nargs="+", type=size_arg, default=[(112, 112), (224, 224), (448, 448)])
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--lighting", default="fixed")
    p.add_argument("--interpolations", nargs="+", choices=["bilinear", "nearest"], default=[None])
    args = p.parse_args(argv)

    from keras_patchnet import models
    from keras_patchnet.constants import VAL_SEED
    from keras_patchnet.data import render_batch
    from keras_patchnet.evaluation import flat_plane, predict_maps
    from keras_patchnet.metrics import evaluate_maps

    base = os.path.basename(os.path.normpath(args.weights))
    arch = args.model or next((m for m in models.list_models() if base.startswith(m)), "unet")
    for size in args.sizes:
        data = render_batch(range(VAL_SEED, VAL_SEED + args.images), *size, lighting=args.lighting)
        flat_depth, flat_normals = flat_plane(data["depth"], data["normals"])
        f = evaluate_maps(data["depth"], flat_depth, data["normals"], flat_normals)["mean"]
        for interpolation in args.interpolations:
            kwargs = {} if interpolation is None else {"working_interpolation": interpolation}
            model = models.create_model(arch, pretrained=args.weights, **kwargs)
            depth, normals = predict_maps(model, data["images"].astype("float32"), 16)
            m = evaluate_maps(data["depth"], depth, data["normals"], normals)["mean"]
            print(
                f"{size[0]}x{size[1]} {args.lighting} {model.working_interpolation}: depth "
                f"{m['depth_mae_mm'] / f['depth_mae_mm']:.3f}, angle {m['mean_angle_deg'] / f['mean_angle_deg']:.3f}"
                " of the flat plane",
                flush=True,
            )


if __name__ == "__main__":
    main()
