"""A preset on the physically based test set (`data/physical/test`, made by `tools/physical_set.py`: simulated cloth
path-traced by Cycles, 8-bit sRGB PNGs), next to the flat plane, per light and per scenario, as a user would run
it: the PNG files as they are, with the true mask.

    python benchmarks/bench_physical.py [--weights true] [--split test] [--input-encoding srgb] [--limit N]
        [--json out.json]

Figures: depth MAE (mm, after aligning foreground means) and mean angle (degrees), each as the ratio of the
model's mean to the flat plane's mean over the images of a row (below 1 beats the plane), and the share of images
whose depth MAE beats the plane's. `--input-encoding srgb` loads the preset with `input_encoding="srgb"`, so that
it undoes the PNGs' tone curve (the calibrated presets were trained on linear renders and read linear values by
default). It is a test set: never trained on, never used to choose anything (choices are
read on `--split validation`).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DATA = os.path.join(ROOT, "data", "physical")


def load_split(split="test", root=DATA, limit=None):
    """[(image path, light, scenario, sheet index)], maps {depth (N, H, W) metres, normals, mask}, meta (its sheets'
    "lights" name each light's ball photo, "balls/...png")."""
    folder = os.path.join(root, split)
    with open(os.path.join(folder, "meta.json")) as f:
        meta = json.load(f)
    with np.load(os.path.join(folder, "maps.npz")) as f:
        mask = f["mask"]
        depth = np.where(mask, f["depth_relative"].astype("float32") + f["depth_offset"][:, None, None], 0)
        maps = {"depth": depth, "normals": f["normals"].astype("float32"), "mask": mask}
    items = [
        (os.path.join(folder, entry["image"]), light, sheet["scenario"], i)
        for i, sheet in enumerate(meta["sheets"])
        for light, entry in sheet["lights"].items()
    ]
    return (items[:limit] if limit else items), maps, meta


def evaluate(model, split="test", root=DATA, limit=None):
    """Per-image rows {light, scenario, sheet, depth_mm, angle_deg, flat_depth_mm, flat_angle_deg}."""
    from keras_patchnet.data import read_image
    from keras_patchnet.evaluation import flat_plane
    from keras_patchnet.metrics import evaluate_maps

    items, maps, meta = load_split(split, root, limit)
    rows = []
    for path, light, scenario, i in items:
        x = read_image(path)
        m = maps["mask"][i]
        inputs = {"images": x[None], "mask": m[None, ..., None].astype("float32")}
        if getattr(model, "light", None):  # told the light as a user is: calibrated from the light's ball photo
            inputs["light"] = ball_code(os.path.join(root, split, meta["sheets"][i]["lights"][light]["ball"]))[None]
        out = model.predict_on_batch(inputs)
        dt, nt = maps["depth"][i][None, ..., None], maps["normals"][i][None]
        got = evaluate_maps(dt, np.asarray(out["depth"]), nt, np.asarray(out["normals"]))["mean"]
        fd, fn = flat_plane(dt[0], nt[0])
        flat = evaluate_maps(dt, fd[None], nt, fn[None])["mean"]
        rows.append(
            {
                "light": light,
                "scenario": scenario,
                "sheet": i,
                "depth_mm": got["depth_mae_mm"],
                "angle_deg": got["mean_angle_deg"],
                "flat_depth_mm": flat["depth_mae_mm"],
                "flat_angle_deg": flat["mean_angle_deg"],
            }
        )
    return rows


def ball_code(path):
    """The light code calibrated from a ball photo of the set (8-bit sRGB PNG), as `keras-patchnet calibrate` does."""
    from keras_patchnet.data import read_image
    from keras_patchnet.lighting import code_from_ball

    return code_from_ball(read_image(path), encoding="srgb").astype("float32")


def summary(rows):
    """{"depth_ratio", "angle_ratio", "beats_plane", "images"} of a set of rows."""
    d = np.mean([r["depth_mm"] for r in rows]) / np.mean([r["flat_depth_mm"] for r in rows])
    a = np.mean([r["angle_deg"] for r in rows]) / np.mean([r["flat_angle_deg"] for r in rows])
    beats = np.mean([r["depth_mm"] < r["flat_depth_mm"] for r in rows])
    return {"depth_ratio": float(d), "angle_ratio": float(a), "beats_plane": float(beats), "images": len(rows)}


def table(rows, title):
    lines = [
        title,
        "",
        "| rows | images | depth / angle ratio to the plane | beats the plane (depth) |",
        "|---|---|---|---|",
    ]
    groups = [("all", rows)]
    groups += [(f"light: {k}", [r for r in rows if r["light"] == k]) for k in sorted({r["light"] for r in rows})]
    groups += [
        (f"scenario: {k}", [r for r in rows if r["scenario"] == k]) for k in sorted({r["scenario"] for r in rows})
    ]
    for name, group in groups:
        s = summary(group)
        lines.append(
            f"| {name} | {s['images']} | {s['depth_ratio']:.2f} / {s['angle_ratio']:.2f} | {s['beats_plane']:.0%} |"
        )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="unet")
    p.add_argument("--weights", default="true")
    p.add_argument("--split", default="test", choices=("test", "validation"))
    p.add_argument("--limit", type=int, help="the first N images only (a smoke test)")
    p.add_argument("--input-encoding", choices=("srgb", "linear"), help="override the preset's input encoding")
    p.add_argument("--json", help="write the per-image rows and the summary here")
    p.add_argument(
        "--write",
        action="store_true",
        help="measure the preset as it reads its input and as sRGB, and write the table into its metadata, card and "
        "the README (tools/sync_presets.py)",
    )
    args = p.parse_args(argv)
    if args.write:
        return write(args)

    from keras_patchnet import models
    from keras_patchnet.constants import parse_weights

    extra = {"input_encoding": args.input_encoding} if args.input_encoding else {}
    model = models.create_model(args.model, pretrained=parse_weights(args.weights), **extra)
    start = time.time()
    rows = evaluate(model, args.split, limit=args.limit)
    option = f" --input-encoding {args.input_encoding}" if args.input_encoding else ""
    title = (
        f"_{args.model} ({args.weights}, input_encoding={model.input_encoding!r}) on the physically based "
        f"{args.split} set, the PNGs as stored; `python benchmarks/bench_physical.py{option}` on "
        f"{time.strftime('%Y-%m-%d')}._"
    )
    print(table(rows, title))
    print(f"\n{len(rows)} images in {time.time() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary(rows), "rows": rows, "args": vars(args)}, f, indent=1)
    return rows


def grouped(rows):
    """[(group name, rows)]: all, then per light, then per scenario."""
    groups = [("all", rows)]
    groups += [(f"light: {k}", [r for r in rows if r["light"] == k]) for k in sorted({r["light"] for r in rows})]
    groups += [
        (f"scenario: {k}", [r for r in rows if r["scenario"] == k]) for k in sorted({r["scenario"] for r in rows})
    ]
    return groups


def write(args):
    """Both readings of the preset's input on the test split, into its metadata.json, then the cards and README."""
    from keras_patchnet import hub, models, presets
    from keras_patchnet.constants import parse_weights

    name = hub.resolve_preset(args.model, parse_weights(args.weights))
    own = presets.PRESETS[name]["config"].get("input_encoding", "linear")
    columns = {}
    for encoding in dict.fromkeys([own, "srgb"]):
        model = models.create_model(args.model, pretrained=name, input_encoding=encoding)
        columns[encoding] = grouped(evaluate(model, "test", limit=args.limit))
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "command": f"python benchmarks/bench_physical.py --weights {name} --write",
        "columns": list(columns),
        "rows": [
            {
                "group": group,
                "images": len(members),
                "cells": {e: summary(dict(columns[e])[group]) for e in columns},
            }
            for group, members in columns[own]
        ],
    }
    from tools.sync_presets import record

    for written in record(name, "physical", result) or []:
        print("wrote", written)
    print(hub.physical_markdown(result))
    return result


if __name__ == "__main__":
    main()
