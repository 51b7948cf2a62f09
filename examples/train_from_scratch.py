"""The recipe behind the shipped weights: train a PatchNet on the synthetic renderer, resumably.

    python examples/train_from_scratch.py --model unet --out runs/unet --epochs 20 --steps 100

Patches of 128 pixels from 224 x 224 renders (2 x 2 patches per image, overlap 32), new renders every epoch, flips
and light jitter, Adam with a cosine learning-rate decay, the report's loss (masked shift-invariant L1 on depth +
10 * angle / pi + unit-length term on normals, mean over patches). `keras.callbacks.BackupAndRestore` saves the
state after every epoch, so rerunning the same command resumes where a stop left off. At the end the full-image
model is evaluated after stitching on the fixed held-out split (renderer seed TEST_SEED), next to the flat-plane
baseline, and `model.weights.h5`, `config.json` and `metrics.json` are written to --out.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_patchnet import losses, models  # noqa: E402
from keras_patchnet.data import TEST_SEED, TRAIN_SEED, PatchNetDataset, SyntheticSource  # noqa: E402
from keras_patchnet.evaluation import evaluate_synthetic  # noqa: E402


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the end of the first epoch that ends past `seconds` (resumable runs pick up from there)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.start = seconds, time.time()

    def on_epoch_end(self, epoch, logs=None):
        if time.time() - self.start > self.seconds:
            self.model.stop_training = True


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="unet", choices=models.list_models())
    p.add_argument("--out", default="runs/unet")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps", type=int, default=100, help="batches per epoch")
    p.add_argument("--batch-size", type=int, default=8, help="images per batch (4 patches each)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--patch-size", type=int, default=128)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--min-overlap", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--test-images", type=int, default=64)
    p.add_argument("--seed", type=int, default=TRAIN_SEED)
    p.add_argument("--time-budget", type=float, default=None, help="minutes; stop after the epoch that exceeds it")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    model = models.create_model(args.model, patch_size=args.patch_size, width=args.width, min_overlap=args.min_overlap)
    source = SyntheticSource(args.steps * args.batch_size, args.image_size, args.image_size, seed=args.seed)
    data = PatchNetDataset(
        source, batch_size=args.batch_size, mode="patches", patch_size=args.patch_size,
        min_overlap=args.min_overlap, augment=True, seed=args.seed,
    )
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, args.epochs * args.steps, alpha=0.05)
    net = model.patch_model
    net.compile(optimizer=keras.optimizers.Adam(schedule, global_clipnorm=5.0), loss=losses.patchnet_losses())
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(args.out, "backup")),
        keras.callbacks.CSVLogger(os.path.join(args.out, "log.csv"), append=True),
    ]
    start = time.time()
    if args.time_budget:
        callbacks.append(TimeBudget(args.time_budget * 60))
    net.fit(data, epochs=args.epochs, callbacks=callbacks, verbose=2)
    train_seconds = time.time() - start
    model.save_weights(os.path.join(args.out, "model.weights.h5"))
    config = {"model": args.model, "patch_size": args.patch_size, "width": args.width, "min_overlap": args.min_overlap}
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    result = evaluate_synthetic(model, args.test_images, args.image_size, seed=TEST_SEED)
    result["train_seconds_this_run"] = train_seconds
    result["recipe"] = vars(args)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: result[k] for k in ("model", "flat_plane")}, indent=2))


if __name__ == "__main__":
    main()
