"""Data-parallel training with `keras.distribution` on the JAX backend: each device takes a slice of the batch.

    KERAS_BACKEND=jax python examples/distributed.py --devices 8            # e.g. 8 GPUs
    # try it on one CPU, as the tests do, with two virtual devices:
    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 python examples/distributed.py --devices 2

The step is one program over a batch sharded along its first axis, so the loss (BatchNorm statistics included) is
the one of a single device on the same batch, up to float32 summation order; the printed losses say so. (With Adam
the later steps drift apart by up to ~1%: Adam divides by the root of tiny squared gradients, which magnifies
rounding differences in near-zero gradients; with SGD the losses agree to ~1e-5.)
"""

import argparse
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_patchnet as kp  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=None, help="how many devices (default: all)")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=8, help="global batch of patches (a multiple of --devices)")
    p.add_argument("--patch-size", type=int, default=32)
    p.add_argument("--width", type=int, default=4)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd"))
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args(argv)
    if keras.backend.backend() != "jax":
        raise SystemExit("keras.distribution's DataParallel runs on the JAX backend: set KERAS_BACKEND=jax")

    devices = keras.distribution.list_devices()
    devices = devices[: args.devices or len(devices)]
    if args.batch_size % len(devices):
        raise SystemExit(f"--batch-size {args.batch_size} must be a multiple of the {len(devices)} devices")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))

    keras.utils.set_random_seed(0)
    model = kp.models.unet(patch_size=args.patch_size, width=args.width)
    net = model.patch_model
    optimizer = keras.optimizers.Adam(args.lr) if args.optimizer == "adam" else keras.optimizers.SGD(args.lr)
    net.compile(optimizer=optimizer, loss=kp.losses.patchnet_losses())
    source = kp.data.SyntheticSource(args.batch_size, 48, 48, seed=0, resample=False)
    data = kp.data.PatchNetDataset(
        source, batch_size=args.batch_size, mode="patches", patch_size=args.patch_size, shuffle=False
    )
    x, y = data[0]
    x, y = x[: args.batch_size], {k: v[: args.batch_size] for k, v in y.items()}
    losses = [float(np.asarray(net.train_on_batch(x, y, return_dict=True)["loss"])) for _ in range(args.steps)]
    print(json.dumps({"devices": [str(d) for d in devices], "losses": losses}))
    return losses


if __name__ == "__main__":
    main()
