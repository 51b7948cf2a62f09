"""Which gap between the package's renders and path-traced cloth costs a preset most? One preset, five image sets
of the calibrated light, each step changing one thing:

1. own world: procedural sheets, the package's renderer, linear 8-bit pixels (what the default trained on);
2. physical world, linear: simulated sheets of the shape bank, the same renderer with cast shadows, sky occlusion
   and noise, linear 8-bit pixels;
3. physical world, sRGB: the same images through the camera's tone curve, read as sRGB (`input_encoding="srgb"`);
4. path-traced, read as sRGB: the validation set of `data/physical` (Cycles, other sheets of the same simulator);
5. path-traced, read as linear: the same PNGs read as they are, as the default reads any image.

    python research/physical_gaps.py [--weights true] [--images 32] [--json out.json]

Ratios to the flat plane (depth MAE, mean angle; below 1 beats the plane), at 224² with the true mask. Validation
renders and the validation split only: never the test set.
"""

import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
SEED = 1_000_000_007 + 30_000  # held-out renderer seeds of their own


def ratios(model, images, depth, normals, mask):
    from keras_patchnet.evaluation import flat_plane
    from keras_patchnet.metrics import evaluate_maps

    got_d, got_n = [], []
    for i in range(0, len(images), 8):
        out = model.predict_on_batch({"images": images[i : i + 8], "mask": mask[i : i + 8].astype("float32")})
        got_d.append(np.asarray(out["depth"]))
        got_n.append(np.asarray(out["normals"]))
    m = evaluate_maps(depth, np.concatenate(got_d), normals, np.concatenate(got_n))["per_image"]
    fd, fn = flat_plane(depth, normals)
    f = evaluate_maps(depth, fd, normals, fn)["per_image"]
    return {
        "depth_ratio": round(float(m["depth_mae_mm"].mean() / f["depth_mae_mm"].mean()), 3),
        "angle_ratio": round(float(m["mean_angle_deg"].mean() / f["mean_angle_deg"].mean()), 3),
        "images": len(images),
    }


def rendered(world, encoding, images):
    from keras_patchnet.data import render

    samples = [render(SEED + i, 224, 224, None, "fixed", world, encoding) for i in range(images)]
    return (
        np.stack([s.image for s in samples]),
        np.stack([s.depth for s in samples])[..., None],
        np.stack([s.normals for s in samples]),
        np.stack([s.mask for s in samples])[..., None],
    )


def path_traced(images):
    from bench_physical import load_split

    from keras_patchnet.data import read_image

    items, maps, _ = load_split("validation")
    chosen = [(path, i) for path, light, _, i in items if light == "calibrated"][:images]
    idx = [i for _, i in chosen]
    return (
        np.stack([read_image(path) for path, _ in chosen]),
        maps["depth"][idx][..., None],
        maps["normals"][idx],
        maps["mask"][idx][..., None],
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default="true")
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from keras_patchnet import models
    from keras_patchnet.constants import parse_weights

    weights = parse_weights(args.weights)
    linear = models.unet(pretrained=weights, input_encoding="linear")
    srgb = models.unet(pretrained=weights, input_encoding="srgb")
    steps = [
        ("own world, linear", linear, rendered("standard", "linear", args.images)),
        ("physical world, linear", linear, rendered("physical", "linear", args.images)),
        ("physical world, sRGB read as sRGB", srgb, rendered("physical", "srgb", args.images)),
    ]
    traced = path_traced(args.images)
    steps += [("path-traced, read as sRGB", srgb, traced), ("path-traced, read as linear", linear, traced)]
    result = {"weights": args.weights, "rows": []}
    print("| images | depth / angle ratio to the plane |\n|---|---|")
    for name, model, data in steps:
        r = ratios(model, *data)
        result["rows"].append({"set": name, **r})
        print(f"| {name} ({r['images']}) | {r['depth_ratio']:.3f} / {r['angle_ratio']:.3f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
