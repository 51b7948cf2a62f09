"""Learnability study for unknown lights (issue #13): short runs of patch-network variants on the same data, each
with its validation learning curve as a ratio to the flat plane (after stitching, on VAL_SEED renders).

    python tools/lighting_study.py --variant curriculum --minutes 25 --out runs/study

Variants (all UNet, P=64, width 8, 112² renders, patches of a 1-px-overlap grid, Adam + cosine decay):
    curriculum      start from unet.synthetic-calibrated's weights, intensity="image", lighting="rig"
    scratch         the same from random weights
    patch-intensity from the calibrated weights, intensity="patch" (each patch divided by its own maximum)
Each epoch appends a row to <out>/<variant>/curve.csv: epoch, seconds, training loss, validation depth MAE (mm),
mean angle (deg), the flat plane's, and their ratios. Choices are read on this validation split only.
"""

import argparse
import csv
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VARIANTS = {
    "curriculum": dict(init="calibrated", intensity="image"),
    "scratch": dict(init=None, intensity="image"),
    "patch-intensity": dict(init="calibrated", intensity="patch"),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    p.add_argument("--minutes", type=float, default=25)
    p.add_argument("--out", default="runs/study")
    p.add_argument("--lighting", default="rig")
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--val-images", type=int, default=32)
    args = p.parse_args(argv)

    import keras
    import numpy as np

    from keras_patchnet import losses, models
    from keras_patchnet.data import PatchNetDataset, SyntheticSource, render_batch
    from keras_patchnet.evaluation import flat_plane, predict_maps
    from keras_patchnet.metrics import evaluate_maps
    from keras_patchnet.training import VAL_SEED

    spec = VARIANTS[args.variant]
    out = os.path.join(args.out, args.variant)
    os.makedirs(out, exist_ok=True)
    keras.utils.set_random_seed(0)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    init = os.path.join(here, "weights", "unet.synthetic-calibrated", "model.weights.h5") if spec["init"] else False
    model = models.create_model("unet", pretrained=init, patch_size=64, width=8, intensity=spec["intensity"])
    grid = dict(mode="patches", patch_size=64, min_overlap=1, intensity=spec["intensity"])
    source = SyntheticSource(args.steps * args.batch_size, args.size, args.size, seed=0, lighting=args.lighting)
    data = PatchNetDataset(source, batch_size=args.batch_size, augment=True, seed=0, **grid)
    val = render_batch(range(VAL_SEED, VAL_SEED + args.val_images), args.size, args.size, lighting=args.lighting)
    images = val["images"].astype("float32")
    flat = evaluate_maps(val["depth"], *flat_plane(val["depth"], val["normals"])[:1], val["normals"],
                         flat_plane(val["depth"], val["normals"])[1])["mean"]
    epochs = 10_000
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, epochs * len(data), alpha=0.05)
    net = model.patch_model
    net.compile(optimizer=keras.optimizers.Adam(schedule, global_clipnorm=5.0), loss=losses.patchnet_losses())
    start, path = time.time(), os.path.join(out, "curve.csv")

    class Curve(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            depth, normals = predict_maps(model, images, 16)
            m = evaluate_maps(val["depth"], depth, val["normals"], normals)["mean"]
            row = dict(epoch=epoch + 1, seconds=round(time.time() - start), loss=round(logs["loss"], 4),
                       depth_mm=round(m["depth_mae_mm"], 2), angle_deg=round(m["mean_angle_deg"], 2),
                       flat_depth_mm=round(flat["depth_mae_mm"], 2), flat_angle_deg=round(flat["mean_angle_deg"], 2),
                       depth_ratio=round(m["depth_mae_mm"] / flat["depth_mae_mm"], 3),
                       angle_ratio=round(m["mean_angle_deg"] / flat["mean_angle_deg"], 3))
            new = not os.path.exists(path)
            with open(path, "a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(row))
                if new:
                    w.writeheader()
                w.writerow(row)
            print(row, flush=True)
            model.save_weights(os.path.join(out, "model.weights.h5"))
            if time.time() - start > args.minutes * 60:
                self.model.stop_training = True

    if os.path.exists(path):
        os.remove(path)
    Curve().on_epoch_end(-1, {"loss": float("nan")})
    net.fit(data, epochs=epochs, callbacks=[Curve()], verbose=0)


if __name__ == "__main__":
    sys.exit(main())
