"""Throughput of the three PatchNet models on the active Keras backend, and how close they run to the CPU's peak.

    KERAS_BACKEND=tensorflow python benchmarks/bench_models.py [--batch 32] [--train-batch 32]

Prints per model: whole-image inference (images/s at 224², batch 32 and batch 1, 9 patches per image, through
`predict_on_batch`), training on patches (patches/s, `train_on_batch`, batch of --train-batch patches), the
forward FLOPs per 224² image (2 * multiply-adds of every convolution and dense layer, counted from the layer
shapes), and the share of this machine's measured fp32 matmul FLOP/s (2048² `keras.ops.matmul`) that the
patch network's forward pass reaches.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_patchnet import losses, models  # noqa: E402


def conv_flops(model):
    """Forward FLOPs per sample of the conv / dense layers of a functional model, from their output shapes."""
    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += 2 * h * w * kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            total += 2 * cin * cout
    return total


def best_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_flops(n=2048, repeats=5):
    a = keras.ops.convert_to_tensor(np.random.rand(n, n).astype("float32"))
    t = best_time(lambda: keras.ops.convert_to_numpy(keras.ops.matmul(a, a)), repeats)
    return 2 * n**3 / t


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=models.list_models())
    parser.add_argument("--json", help="also write the rows to this JSON file (benchmarks/readme_tables.py)")
    args = parser.parse_args()
    rows = []
    xla = keras.backend.backend() != "torch"
    peak = matmul_flops()
    print(f"backend={keras.backend.backend()} jit_compile={xla} fp32 matmul: {peak / 1e9:.1f} GFLOP/s")
    print(
        f"{'model':>10} {'infer img/s':>12} {'batch 1':>8} {'train patch/s':>14} {'GFLOP/img':>10} "
        f"{'patch fwd % of matmul':>22} {'train % of matmul':>18}"
    )
    rng = np.random.default_rng(0)
    images = (rng.random((args.batch, 224, 224, 3)) * 255).astype("float32")
    for name in args.models:
        model = models.create_model(name)
        net = model.patch_model
        n = model.extract.grid(224, 224).num_patches
        flops_img = conv_flops(net) * n
        model.compile(jit_compile=xla)
        infer = args.batch / best_time(lambda: model.predict_on_batch(images), args.repeats)
        infer1 = 1 / best_time(lambda: model.predict_on_batch(images[:1]), args.repeats)
        patches = (rng.random((args.batch * n, 128, 128, 3)) * 255).astype("float32")
        net.compile(jit_compile=xla)
        fwd = best_time(lambda: net.predict_on_batch(patches), args.repeats)
        share = conv_flops(net) * len(patches) / fwd / peak
        net.compile(optimizer="adam", loss=losses.patchnet_losses(), jit_compile=xla)
        x = patches[: args.train_batch]
        y = {
            "depth": rng.normal(size=(len(x), 128, 128, 1)).astype("float32"),
            "normals": rng.normal(size=(len(x), 128, 128, 3)).astype("float32"),
        }
        train = len(x) / best_time(lambda: net.train_on_batch(x, y), args.repeats)
        train_share = 3 * conv_flops(net) * train / peak  # forward + backward ~ 3 x forward
        print(
            f"{name:>10} {infer:>12.1f} {infer1:>8.1f} {train:>14.1f} {flops_img / 1e9:>10.2f} {100 * share:>21.0f}% "
            f"{100 * train_share:>17.0f}%"
        )
        rows.append(
            {
                "model": name,
                "infer_img_s": infer,
                "infer1_img_s": infer1,
                "train_patch_s": train,
                "gflop_img": flops_img / 1e9,
                "share": share,
                "train_share": train_share,
                "batch": args.batch,
            }
        )
        if args.json:  # after every model: a run stopped by a time limit (benchmarks/gpu.sh) keeps what it measured
            with open(args.json, "w") as f:
                json.dump({"backend": keras.backend.backend(), "matmul_gflops": peak / 1e9, "rows": rows}, f)


if __name__ == "__main__":
    main()
