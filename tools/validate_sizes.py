"""A model's validation ratios to the flat plane at several image sizes (the choice of a multi-scale stage).

    python tools/validate_sizes.py [WEIGHTS] [--sizes 112 224 448] [--images 32] [--lighting fixed]

WEIGHTS: a preset name, a run folder or a preset folder (default: the default UNet preset). Renders from
VAL_SEED (the validation split, never the held-out one), predicted through the whole model (its working width
included) and compared at full size: depth MAE and mean angle over the flat plane's.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("weights", nargs="?", default="unet.synthetic-calibrated")
    p.add_argument("--model", default="unet")
    p.add_argument("--sizes", nargs="+", type=int, default=[112, 224, 448])
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--lighting", default="fixed")
    args = p.parse_args(argv)

    from keras_patchnet import models
    from keras_patchnet.constants import VAL_SEED
    from keras_patchnet.data import render_batch
    from keras_patchnet.evaluation import flat_plane, predict_maps
    from keras_patchnet.metrics import evaluate_maps

    model = models.create_model(args.model, pretrained=args.weights)
    for size in args.sizes:
        data = render_batch(range(VAL_SEED, VAL_SEED + args.images), size, size, lighting=args.lighting)
        depth, normals = predict_maps(model, data["images"].astype("float32"), 16)
        m = evaluate_maps(data["depth"], depth, data["normals"], normals)["mean"]
        flat_depth, flat_normals = flat_plane(data["depth"], data["normals"])
        f = evaluate_maps(data["depth"], flat_depth, data["normals"], flat_normals)["mean"]
        print(
            f"{size}²: depth {m['depth_mae_mm'] / f['depth_mae_mm']:.3f}, angle "
            f"{m['mean_angle_deg'] / f['mean_angle_deg']:.3f} of the flat plane"
        )


if __name__ == "__main__":
    main()
