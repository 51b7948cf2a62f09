"""Data throughput: renderer images/s (one core) and PatchNetDataset batches/s, so training is never data-bound.

python benchmarks/bench_data.py [--size 224] [--n 200] [--world standard|wide|physical]

world="physical" draws simulated sheets from the shape bank (a source checkout's data/shape-bank/train; the
per-vertex occlusion precomputed by tools/bank_occlusion.py, as it is for the committed bank).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_patchnet.data import PatchNetDataset, SyntheticSource, render  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--world", default="standard", choices=("standard", "wide", "physical"))
    parser.add_argument("--lighting", default="rig", choices=("rig", "random", "fixed"))
    parser.add_argument("--json", help="also write the figures to this JSON file (benchmarks/readme_tables.py)")
    args = parser.parse_args()
    result = {"size": args.size, "world": args.world}
    if args.world == "physical":
        render(0, 8, 8, lighting=args.lighting, world="physical")  # load the bank once, outside the timing
    start = time.perf_counter()
    for i in range(args.n):
        render(i, args.size, args.size, lighting=args.lighting, world=args.world)
    rate = args.n / (time.perf_counter() - start)
    print(f"renderer: {rate:.1f} images/s at {args.size}x{args.size}, world={args.world!r} (one process)")
    result["render_img_s"] = rate
    for mode in ("images", "patches"):
        source = SyntheticSource(8 * 10, args.size, args.size, lighting=args.lighting, world=args.world)
        ds = PatchNetDataset(source, batch_size=8, mode=mode, augment=True)
        start = time.perf_counter()
        for i in range(len(ds)):
            x, _ = ds[i]
        rate = len(ds) / (time.perf_counter() - start)
        print(f"PatchNetDataset mode={mode}: {rate:.1f} batches/s of 8 images (x {x.shape}), augment on")
        result[f"{mode}_batch_s"] = rate
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
