"""Large images: peak memory and time per megapixel of the full model at native resolution.

    KERAS_BACKEND=tensorflow python benchmarks/bench_large.py [--sizes 224 1024 2048 4096] [--preset unet]

For each size, a fresh process builds the preset's model with `working_width=None` (no resizing: the patch network
sees every pixel of the image), predicts one random image twice (the first call traces and compiles) and reports
the second call's seconds, seconds per megapixel, the number of patches and the process's peak resident memory
(`ru_maxrss`, which includes the Python interpreter, Keras and the backend: about 0.6-1 GB before any image).
"""

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def one(size, preset):
    import resource
    import time

    import numpy as np

    from keras_patchnet import models

    arch, tag = preset.split(".", 1) if "." in preset else (preset, True)
    model = models.create_model(arch, pretrained=tag, working_width=None)
    image = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype="uint8")  # as a camera gives it
    start = time.perf_counter()
    model.predict_on_batch(image)
    first = time.perf_counter() - start
    start = time.perf_counter()
    out = model.predict_on_batch(image)
    seconds = time.perf_counter() - start
    assert np.isfinite(out["depth"]).all() and np.isfinite(out["normals"]).all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    grid = model.extract.grid(size, size)
    return {
        "size": size,
        "patches": grid.num_patches,
        "first_s": round(first, 2),
        "seconds": round(seconds, 3),
        "s_per_mp": round(seconds / (size * size / 1e6), 3),
        "peak_gib": round(peak, 2),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[224, 1024, 2048, 4096])
    p.add_argument("--preset", default="unet")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process: one size
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.preset)))
        return
    import keras

    backend = keras.backend.backend()
    print(f"backend={backend} preset={args.preset} (native resolution, one image)")
    print(f"{'size':>6} {'patches':>8} {'first s':>8} {'s':>8} {'s/MP':>7} {'peak GiB':>9}")
    rows = []
    for size in args.sizes:
        run = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--preset", args.preset],
            capture_output=True,
            text=True,
            env={**os.environ, "KERAS_BACKEND": backend},
        )
        if run.returncode:
            print(f"{size:>6} failed (exit {run.returncode}): {run.stderr.strip().splitlines()[-1:]}")
            rows.append({"size": size, "failed": run.returncode})
            save(args.json, backend, args.preset, rows)
            continue
        row = json.loads(run.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{size:>6} {row['patches']:>8} {row['first_s']:>8} {row['seconds']:>8} {row['s_per_mp']:>7} "
            f"{row['peak_gib']:>9}",
            flush=True,
        )
        save(args.json, backend, args.preset, rows)


def save(path, backend, preset, rows):
    """Writes the rows so far (after every size: a run stopped by a time limit, as in gpu.sh, keeps them)."""
    if path:
        with open(path, "w") as f:
            json.dump({"backend": backend, "preset": preset, "rows": rows}, f)


if __name__ == "__main__":
    main()
