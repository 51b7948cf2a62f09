"""Picks a preset's stitching grid (`min_overlap`) on the validation renders, never on the held-out split.

    python tools/choose_grid.py runs/unet-stage5 --size 112 --lighting fixed --overlaps 1 16 32 48

Loads the run (or preset) folder once per overlap and prints depth MAE and mean angle after stitching and
refinement on `--images` validation renders (seeds from `keras_patchnet.training.VAL_SEED`, which training never
draws from and which is not the held-out `TEST_SEED` split), lowest depth MAE first.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    from keras_patchnet import models
    from keras_patchnet.evaluation import evaluate_synthetic
    from keras_patchnet.training import VAL_SEED

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", help="a run or preset folder (config.json + model.weights.h5)")
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--lighting", default="fixed")
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--overlaps", type=int, nargs="+", required=True)
    args = p.parse_args(argv)

    with open(os.path.join(args.run, "config.json")) as f:
        arch = json.load(f)["arch"]
    rows = []
    for overlap in args.overlaps:
        model = models.create_model(arch, pretrained=args.run, min_overlap=overlap)
        r = evaluate_synthetic(model, args.images, args.size, seed=VAL_SEED, lighting=args.lighting)
        rows.append(
            (
                r["model"]["depth_mae_mm"]["mean"],
                r["model"]["mean_angle_deg"]["mean"],
                overlap,
                r["flat_plane"]["depth_mae_mm"]["mean"],
                r["flat_plane"]["mean_angle_deg"]["mean"],
            )
        )
    print(
        f"validation split: {args.images} renders from VAL_SEED={VAL_SEED}, {args.size}x{args.size}, "
        f"lighting={args.lighting!r}"
    )
    print("min_overlap | depth MAE (mm) | mean angle (deg) | flat plane")
    for mae, angle, overlap, flat_mae, flat_angle in sorted(rows):
        print(f"{overlap:11d} | {mae:14.2f} | {angle:16.2f} | {flat_mae:.2f} / {flat_angle:.2f}")


if __name__ == "__main__":
    main()
