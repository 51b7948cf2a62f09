"""Cost of stitching depth + normals and refining both, per image, on the active Keras backend.

    KERAS_BACKEND=tensorflow python benchmarks/bench_stitch.py [--sizes 224 512 1024 2048] [--batch 32] [--host-inputs]
    KERAS_BACKEND=tensorflow python benchmarks/bench_stitch.py --parts [--sizes 512 4096]

Runs the two stitches and the two refinements as one Keras functional model through `predict_on_batch`, compiled
with XLA (`jit_compile=True`, what Keras' "auto" picks on TensorFlow and JAX) and without it (TF graph / torch
eager), and prints milliseconds per image, best of `--repeats` after a warm-up. The patches and the foreground are
backend tensors made once, as inside `PatchNet`, where the patches come from the patch network; `--host-inputs`
passes NumPy arrays instead, so every call also copies them in (at 4096² that copy of 0.8 GB is about half the
time on TensorFlow's CPU build). Nanoseconds per image pixel and per patch pixel: with P = 128 and a 64-pixel
overlap the patches cover each pixel 3.06 times at 512² but 3.88 times at 4096² (7 vs 63 patches a side), so the
cost per image pixel rises 1.27x with the size even where the cost per patch pixel (the work handed in) stays flat.

`--parts` times the four parts apart instead, each as its own compiled function (XLA on TensorFlow and JAX, eager
on torch), in nanoseconds per image pixel: where the growth with the size comes from.

`--trials K` measures every size in K fresh processes, the sizes taking turns (512², 4096², 512², ...), and prints
each size's median and range over the trials and the ratio of the medians. On a 2-core machine one run's ratio of
4096² to 512² moved from 1.04x to 1.42x with the same code (docs/speed-history.md): the 512² figure, a batch of
six whose maps partly fit the caches, is bimodal from one process to the next, so read the ratio over trials.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def parts(size, patch_size=128, min_overlap=64):
    """The four parts as functions of (depth patches, normal patches, foreground, depth map, normal map)."""
    stitch_d = PatchStitch(patch_size, min_overlap, mode="depth")
    stitch_n = PatchStitch(patch_size, min_overlap, mode="normals")
    refine_d = BilateralRefine(3, 1.0, 0.01)
    refine_n = BilateralRefine(3, 1.0, 0.3, renormalize=True)
    return {
        "normal stitch": lambda d, n, fg, dm, nm: stitch_n(n, output_size=(size, size)),
        "depth stitch": lambda d, n, fg, dm, nm: stitch_d(d, output_size=(size, size), foreground=fg),
        "depth refine": lambda d, n, fg, dm, nm: refine_d(dm, foreground=fg),
        "normal refine": lambda d, n, fg, dm, nm: refine_n(nm, foreground=fg),
    }


def compiled(fn):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def finished(out):
    """Waits for `out` (JAX dispatches asynchronously; TensorFlow and torch on CPU return when done)."""
    if keras.backend.backend() == "jax":
        out.block_until_ready()
    return out


def time_parts(args, rng):
    print(f"backend={keras.backend.backend()} ns per image pixel, part by part (best of {args.repeats})")
    rows = []
    for size in args.sizes:
        batch = max(1, min(args.batch, args.batch * 224 * 224 // (size * size)))
        n = PatchStitch(128, 64).grid(size, size).num_patches
        shapes = [
            (batch * n, 128, 128, 1),
            (batch * n, 128, 128, 3),
            None,
            (batch, size, size, 1),
            (batch, size, size, 3),
        ]
        inputs = [rng.normal(size=s).astype("float32") if s else None for s in shapes]
        inputs[2] = (rng.random((batch, size, size, 1)) > 0.2).astype("float32")
        inputs = [keras.ops.convert_to_tensor(x) for x in inputs]
        row = {"size": size, "batch": batch, "patches": n}
        for name, fn in parts(size).items():
            fn = compiled(fn)
            seconds = timeit(lambda: finished(fn(*inputs)), args.repeats)
            row[name] = seconds / batch / size**2 * 1e9
        row["total"] = sum(row[name] for name in parts(size))
        print(
            f"{size:>6}² batch {batch:>3}: "
            + ", ".join(f"{k} {v:.1f}" for k, v in row.items() if k not in ("size", "batch", "patches"))
        )
        rows.append(row)
    return rows


def timeit(fn, repeats):
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def trial_summary(figures):
    """{size: [ns a pixel, one per trial]} -> (lines to print, ratio of the last size's median to the first's)."""
    sizes = list(figures)
    medians = {size: statistics.median(values) for size, values in figures.items()}
    lines = [
        f"{size:>6}²: median {medians[size]:.1f} ns an image pixel, "
        f"range {min(v):.1f}-{max(v):.1f} over {len(v)} trials"
        for size, v in figures.items()
    ]
    ratio = medians[sizes[-1]] / medians[sizes[0]]
    per_trial = [b / a for a, b in zip(figures[sizes[0]], figures[sizes[-1]])]
    lines.append(
        f"cost per image pixel, {sizes[-1]}² / {sizes[0]}², ratio of the medians: {ratio:.2f}x "
        f"(trial by trial: {', '.join(f'{r:.2f}' for r in per_trial)})"
    )
    return lines, ratio


def run_trials(args):
    """Every size in `args.trials` fresh processes, the sizes taking turns; prints the summary."""
    figures = {size: [] for size in args.sizes}
    with tempfile.TemporaryDirectory() as folder:
        for trial in range(args.trials):
            for size in args.sizes:
                out = os.path.join(folder, f"{trial}_{size}.json")
                command = [sys.executable, os.path.abspath(__file__), "--sizes", str(size)]
                command += ["--batch", str(args.batch), "--repeats", str(args.repeats), "--json", out]
                command += ["--host-inputs"] if args.host_inputs else []
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
                with open(out) as f:
                    figures[size].append(json.load(f)["rows"][0]["ns_per_pixel"])
                print(f"trial {trial + 1} {size:>6}²: {figures[size][-1]:.1f} ns an image pixel", flush=True)
    lines, _ = trial_summary(figures)
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 512, 1024, 2048])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--host-inputs", action="store_true", help="pass NumPy inputs, copied in every call")
    parser.add_argument("--parts", action="store_true", help="time the two stitches and two refinements apart")
    parser.add_argument("--json", help="also write the rows to this JSON file (benchmarks/readme_tables.py)")
    parser.add_argument("--trials", type=int, default=0, help="measure every size in this many fresh processes")
    args = parser.parse_args()
    if args.trials:
        run_trials(args)
        return
    rows = []
    rng = np.random.default_rng(0)
    if args.parts:
        time_parts(args, rng)
        return
    print(f"backend={keras.backend.backend()} inputs={'host' if args.host_inputs else 'resident'}")
    xla = keras.backend.backend() in ("tensorflow", "jax")
    header = f"{'size':>6} {'batch':>5} {'patches':>7} {'XLA ms/img':>11} {'no-XLA ms/img':>14} {'best ns/pixel':>14}"
    print(header + f" {'ns/patch px':>12}")
    for size in args.sizes:
        batch = max(1, min(args.batch, args.batch * 224 * 224 // (size * size)))
        model, n = build(size)
        inputs = [
            rng.normal(size=(batch * n, 128, 128, 1)).astype("float32"),
            rng.normal(size=(batch * n, 128, 128, 3)).astype("float32"),
            (rng.random((batch, size, size, 1)) > 0.2).astype("float32"),
        ]
        if not args.host_inputs:
            inputs = [keras.ops.convert_to_tensor(x) for x in inputs]
        times = []
        for jit in (True, False):
            if jit and not xla:
                times.append(float("nan"))  # torch.compile costs ~1 min per model here; not measured
                continue
            model.compile(jit_compile=jit)
            times.append(timeit(lambda: model.predict_on_batch(inputs), args.repeats) / batch)
        best = np.nanmin(times)
        per_patch_pixel = best / (n * 128 * 128) * 1e9
        print(
            f"{size:>6} {batch:>5} {n:>7} {times[0] * 1e3:>11.2f} {times[1] * 1e3:>14.2f} {best / size**2 * 1e9:>14.1f}"
            f" {per_patch_pixel:>12.1f}"
        )
        rows.append(
            {
                "size": size,
                "batch": batch,
                "patches": n,
                "xla_ms": times[0] * 1e3,
                "plain_ms": times[1] * 1e3,
                "ns_per_pixel": best / size**2 * 1e9,
                "ns_per_patch_pixel": per_patch_pixel,
            }
        )
        if args.json:  # after every size: a run stopped by a time limit (benchmarks/gpu.sh) keeps what it measured
            with open(args.json, "w") as f:
                json.dump({"backend": keras.backend.backend(), "host_inputs": args.host_inputs, "rows": rows}, f)
    if len(rows) > 1:
        ratio = rows[-1]["ns_per_pixel"] / rows[0]["ns_per_pixel"]
        print(f"cost per image pixel, {rows[-1]['size']}² / {rows[0]['size']}²: {ratio:.2f}x")


if __name__ == "__main__":
    main()
