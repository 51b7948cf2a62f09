"""Cost of stitching depth + normals and refining both, per image, on the active Keras backend.

    KERAS_BACKEND=tensorflow python benchmarks/bench_stitch.py [--sizes 224 512 1024 2048] [--batch 32]

Runs the two stitches and the two refinements as one Keras functional model through `predict_on_batch`, compiled
with XLA (`jit_compile=True`, what Keras' "auto" picks on TensorFlow and JAX) and without it (TF graph / torch
eager), and prints milliseconds per image, best of `--repeats` after a warm-up; the repeats go round-robin over
every size and mode, so a slow spell of a shared machine slows them alike. Inputs come from host memory each
call, as in `predict`. Nanoseconds per image pixel and per patch pixel: with P = 128 and a 64-pixel overlap the
patches cover each pixel 3.06 times at 512² but 3.88 times at 4096² (7 vs 63 patches a side), so the cost per image
pixel rises 1.27x with the size even where the cost per patch pixel (the work handed in) stays flat.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_patchnet.layers import BilateralRefine, PatchStitch  # noqa: E402


def build(size, patch_size=128, min_overlap=64):
    grid = PatchStitch(patch_size, min_overlap).grid(size, size)
    depth = keras.Input((patch_size, patch_size, 1), name="depth_patches")
    normals = keras.Input((patch_size, patch_size, 3), name="normal_patches")
    fg = keras.Input((size, size, 1), name="foreground")
    d = PatchStitch(patch_size, min_overlap, mode="depth")(depth, output_size=(size, size), foreground=fg)
    n = PatchStitch(patch_size, min_overlap, mode="normals")(normals, output_size=(size, size))
    d = BilateralRefine(3, 1.0, 0.01)(d, foreground=fg)
    n = BilateralRefine(3, 1.0, 0.3, renormalize=True)(n, foreground=fg)
    return keras.Model([depth, normals, fg], [d, n]), grid.num_patches


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 512, 1024, 2048])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the rows to this JSON file (benchmarks/readme_tables.py)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"backend={keras.backend.backend()}")
    xla = keras.backend.backend() in ("tensorflow", "jax")
    cases = []  # (size, batch, patches, jit, compiled model, inputs)
    for size in args.sizes:
        batch = max(1, min(args.batch, args.batch * 224 * 224 // (size * size)))
        inputs = None
        for jit in (True, False) if xla else (False,):  # torch.compile costs ~1 min per model here: not measured
            model, n = build(size)
            model.compile(jit_compile=jit)
            if inputs is None:
                inputs = [
                    rng.normal(size=(batch * n, 128, 128, 1)).astype("float32"),
                    rng.normal(size=(batch * n, 128, 128, 3)).astype("float32"),
                    (rng.random((batch, size, size, 1)) > 0.2).astype("float32"),
                ]
            model.predict_on_batch(inputs)  # compile, warm up
            cases.append((size, batch, n, jit, model, inputs))
    # Round-robin over the cases, best of `repeats` each: a slow spell of a shared machine hits every size alike.
    best = [float("inf")] * len(cases)
    for _ in range(args.repeats):
        for k, (_, batch, _, _, model, inputs) in enumerate(cases):
            start = time.perf_counter()
            model.predict_on_batch(inputs)
            best[k] = min(best[k], (time.perf_counter() - start) / batch)
    header = f"{'size':>6} {'batch':>5} {'patches':>7} {'XLA ms/img':>11} {'no-XLA ms/img':>14} {'best ns/pixel':>14}"
    print(header + f" {'ns/patch px':>12}")
    rows = []
    for size in args.sizes:
        times = {jit: t for (s, _, _, jit, _, _), t in zip(cases, best) if s == size}
        batch, n = next((b, n) for s, b, n, *_ in cases if s == size)
        xla_s, plain_s = times.get(True, float("nan")), times[False]
        fastest = np.nanmin([xla_s, plain_s])
        per_patch_pixel = fastest / (n * 128 * 128) * 1e9
        print(
            f"{size:>6} {batch:>5} {n:>7} {xla_s * 1e3:>11.2f} {plain_s * 1e3:>14.2f} {fastest / size**2 * 1e9:>14.1f}"
            f" {per_patch_pixel:>12.1f}"
        )
        rows.append(
            {
                "size": size,
                "batch": batch,
                "patches": n,
                "xla_ms": xla_s * 1e3,
                "plain_ms": plain_s * 1e3,
                "ns_per_pixel": fastest / size**2 * 1e9,
                "ns_per_patch_pixel": per_patch_pixel,
            }
        )
    if len(rows) > 1:
        ratio = rows[-1]["ns_per_pixel"] / rows[0]["ns_per_pixel"]
        print(f"cost per image pixel, {rows[-1]['size']}² / {rows[0]['size']}²: {ratio:.2f}x")
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump({"backend": keras.backend.backend(), "rows": rows}, f)


if __name__ == "__main__":
    main()
