"""How a preset holds up off its training condition: the generalisation benchmark.

    python benchmarks/bench_generalisation.py [--presets unet.synthetic-calibrated ...] [--images 32] [--write]

For every preset, on held-out renders (seeds from TEST_SEED + 10_000, never used in training or model selection):
depth MAE and mean angle as ratios to the flat plane's (below 1 beats the plane) and the share of images on which
the model's depth MAE beats the plane's, for lighting {fixed, rig, random} x image size {112², 224², 448², 480x640}
x exposure {x0.5, x0.7, x1, x1.4} (the uint8 render scaled and clipped, as a camera would). Prediction uses the
true foreground as the mask. `--write` stores each preset's result in its metadata.json and remakes its model card
and the README's table from it (tools/sync_presets.py). The figures are the preset's honest description.
"""

import argparse
import datetime
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIGHTINGS = ("fixed", "rig", "random")
SIZES = ((112, 112), (224, 224), (448, 448), (480, 640))
EXPOSURES = (0.5, 0.7, 1.0, 1.4)
SEED = 1_000_000_007 + 10_000  # TEST_SEED + 10_000: held out, apart from the cards' own split


def measure(model, lighting, size, exposures, images, batch=8):
    import numpy as np

    from keras_patchnet.data import render_batch
    from keras_patchnet.evaluation import flat_plane
    from keras_patchnet.metrics import evaluate_maps

    encoding = getattr(model, "input_encoding", None)  # renders written as the model reads them
    data = render_batch(range(SEED, SEED + images), *size, lighting=lighting, encoding=encoding)
    flat_depth, flat_normals = flat_plane(data["depth"], data["normals"])
    flat = evaluate_maps(data["depth"], flat_depth, data["normals"], flat_normals)["per_image"]
    cells = {}
    for e in exposures:
        x = np.clip(np.round(data["images"].astype("float32") * e), 0, 255).astype("uint8")
        depth, normals = [], []
        for i in range(0, images, batch):
            out = model.predict_on_batch(
                {"images": x[i : i + batch], "mask": data["mask"][i : i + batch].astype("float32")}
            )
            depth.append(out["depth"])
            normals.append(out["normals"])
        m = evaluate_maps(data["depth"], np.concatenate(depth), data["normals"], np.concatenate(normals))["per_image"]
        cells[e] = {
            "depth_ratio": float(m["depth_mae_mm"].mean() / flat["depth_mae_mm"].mean()),
            "angle_ratio": float(m["mean_angle_deg"].mean() / flat["mean_angle_deg"].mean()),
            "beats_plane": float(np.mean(m["depth_mae_mm"] < flat["depth_mae_mm"])),
            "depth_mm": float(m["depth_mae_mm"].mean()),
            "flat_depth_mm": float(flat["depth_mae_mm"].mean()),
        }
    return cells


def write(name, result):
    """Stores the result in the preset's metadata.json (where the preset is installed or checked out) and remakes
    its card and the README's tables from it (tools/sync_presets.py)."""
    sys.path.insert(0, ROOT)
    from tools.sync_presets import record

    rows = [{**row, "cells": [{k: round(v, 4) for k, v in c.items()} for c in row["cells"]]} for row in result["rows"]]
    if record(name, "generalisation", {k: v for k, v in {**result, "rows": rows}.items() if k != "preset"}) is None:
        print(f"{name}: no local folder to write into (only a preset installed or in weights/ is written)")


def main(argv=None):
    from keras_patchnet import hub, models, presets

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    unlit = [n for n in presets.list_pretrained() if not presets.PRESETS[n]["config"].get("light")]
    p.add_argument("--presets", nargs="+", default=unlit, help="default: those that take no light (bench_lit.py)")
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--lightings", nargs="+", default=list(LIGHTINGS))
    p.add_argument("--sizes", nargs="+", default=[f"{h}x{w}" for h, w in SIZES])
    p.add_argument("--exposures", nargs="+", type=float, default=list(EXPOSURES))
    p.add_argument("--out", default=os.path.join(ROOT, "out", "generalisation"))
    p.add_argument("--write", action="store_true", help="write the tables into the README and the model cards")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
    for name in args.presets:
        arch, tag = name.split(".", 1)
        model = models.create_model(arch, pretrained=tag)
        result = {
            "preset": name,
            "images": args.images,
            "exposures": args.exposures,
            "rows": [],
            "date": datetime.date.today().isoformat(),
        }
        for lighting in args.lightings:
            for size in sizes:
                cells = measure(model, lighting, size, args.exposures, args.images)
                label = f"{size[0]}²" if size[0] == size[1] else f"{size[0]}x{size[1]}"
                result["rows"].append(
                    {"lighting": lighting, "size": label, "cells": [cells[e] for e in args.exposures]}
                )
                print(
                    name,
                    lighting,
                    label,
                    " ".join(f"{c['depth_ratio']:.2f}/{c['angle_ratio']:.2f}" for c in result["rows"][-1]["cells"]),
                    flush=True,
                )
        with open(os.path.join(args.out, f"{name}.json"), "w") as f:
            json.dump(result, f, indent=1)
        print(hub.generalisation_markdown(result))
        if args.write:
            write(name, result)


if __name__ == "__main__":
    main()
