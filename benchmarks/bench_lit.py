"""A light-conditioned preset (`PatchNet(light="sh9")`) on held-out renders, told the light three ways.

    python benchmarks/bench_lit.py --weights RUN_OR_PRESET [--images 64] [--size 224] [--json out.json] [--write]

For each lighting (fixed, rig, random) and `--images` held-out renders (seeds from TEST_SEED + 20_000, never used
in training or for a choice): depth MAE and mean angle as ratios to the flat plane's (below 1 beats the plane),
with the light given as
- "true": the code of the render's own lights (`lighting.code_from_render`);
- "ball": the code calibrated from a matte ball photographed under the same lights (`data.ball.render_ball(...,
  lights=)`, the ball at the sheet's distance on the camera axis, then `lighting.code_from_ball`), as a user does;
- "wrong": the true code of another image of the same lighting (what a mistaken light.json costs);
and, for the true code, per angle of the dominant light from the camera axis (a light straight from the camera
cannot tell a fold from its inside-out twin). A benchmark: its figures describe a preset, never choose one.
`--write` (a shipped preset only) puts the table into its metadata.json, card and README (tools/sync_presets.py).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
SEED = 1_000_000_007 + 20_000  # TEST_SEED + 20_000
ANGLES = (0, 15, 30, 45, 90)  # bins of the dominant light's angle from the camera axis, degrees


def codes(samples, encoding="linear"):
    """(true, ball) codes (N, 9) of rendered samples; the ball photographed in `encoding`, as the sheets were."""
    from keras_patchnet import lighting
    from keras_patchnet.data.ball import render_ball

    true, ball = [], []
    for k, s in enumerate(samples):
        true.append(lighting.code_from_render(s))
        distance = float(s.depth[s.mask].mean()) if s.mask.any() else 1.2
        lights = {key: s.params[key] for key in ("lights", "ambient")}
        photo = render_ball(k, 160, distance=distance, lights=lights, encoding=encoding)
        ball.append(lighting.code_from_ball(photo.image, photo.mask, encoding=encoding))
    return np.stack(true).astype("float32"), np.stack(ball).astype("float32")


def ratios(model, data, light, batch=8):
    """Per-image (model depth MAE, model angle, plane depth MAE, plane angle) with `light` codes."""
    from keras_patchnet.evaluation import flat_plane, predict_maps
    from keras_patchnet.metrics import evaluate_maps

    depth, normals = predict_maps(model, data["images"].astype("float32"), batch, light)
    m = evaluate_maps(data["depth"], depth, data["normals"], normals)["per_image"]
    fd, fn = flat_plane(data["depth"], data["normals"])
    f = evaluate_maps(data["depth"], fd, data["normals"], fn)["per_image"]
    return m["depth_mae_mm"], m["mean_angle_deg"], f["depth_mae_mm"], f["mean_angle_deg"]


def summary(rows, keep=None):
    md, ma, fd, fa = (np.asarray(r) if keep is None else np.asarray(r)[keep] for r in rows)
    if not len(md):
        return None
    return {
        "images": int(len(md)),
        "depth_ratio": round(float(md.mean() / fd.mean()), 3),
        "angle_ratio": round(float(ma.mean() / fa.mean()), 3),
        "beats_plane": round(float(np.mean(md < fd)), 3),
    }


def measure(model, lighting, images, size):
    from keras_patchnet import lighting as L
    from keras_patchnet.data import render

    encoding = getattr(model, "input_encoding", "linear")  # renders written as the model reads them
    samples = [render(SEED + i, size, size, lighting=lighting, encoding=encoding) for i in range(images)]
    data = {
        "images": np.stack([s.image for s in samples]),
        "depth": np.stack([s.depth for s in samples])[..., None],
        "normals": np.stack([s.normals for s in samples]),
    }
    true, ball = codes(samples, encoding)
    result = {"ball_code_difference": round(float(np.mean([L.difference(t, b) for t, b in zip(true, ball)])), 4)}
    rows = {}
    for name, light in (("true", true), ("ball", ball), ("wrong", np.roll(true, 1, axis=0))):
        rows[name] = ratios(model, data, light)
        result[name] = summary(rows[name])
    axis = np.array([0.0, 0.0, -1.0])
    angle = np.degrees(np.arccos(np.clip([L.direction(c) @ axis for c in true], -1, 1)))
    result["true_by_angle"] = {
        f"{lo}-{hi}": summary(rows["true"], (angle >= lo) & (angle < hi)) for lo, hi in zip(ANGLES, ANGLES[1:])
    }
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", required=True, help="a light-conditioned preset or run folder")
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--lightings", nargs="+", default=["fixed", "rig", "random"])
    p.add_argument("--json", default=None)
    p.add_argument("--write", action="store_true", help="write the table into the preset's metadata and card")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from keras_patchnet import models
    from keras_patchnet.constants import parse_weights

    model = models.unet(pretrained=parse_weights(args.weights))
    if not model.light:
        raise SystemExit(f"--weights {args.weights} takes no light: this benchmark is for light-conditioned presets")
    result = {"weights": args.weights, "images": args.images, "size": args.size, "seed": SEED, "lightings": {}}
    result["date"] = time.strftime("%Y-%m-%d")
    result["command"] = (
        f"python benchmarks/bench_lit.py --weights {args.weights} --images {args.images} --size {args.size}"
    )
    print("| lighting | true code | ball code | wrong code | ball vs true light |\n|---|---|---|---|---|")
    for lighting in args.lightings:
        r = result["lightings"][lighting] = measure(model, lighting, args.images, args.size)
        cell = lambda k: f"{r[k]['depth_ratio']:.3f} / {r[k]['angle_ratio']:.3f}"  # noqa: E731
        print(f"| {lighting} | {cell('true')} | {cell('ball')} | {cell('wrong')} | {r['ball_code_difference']} |")
    for lighting, r in result["lightings"].items():
        bins = ", ".join(
            f"{k} deg: {v['depth_ratio']:.2f} / {v['angle_ratio']:.2f} ({v['images']})"
            for k, v in r["true_by_angle"].items()
            if v
        )
        print(f"{lighting}, true code, by the light's angle from the camera axis: {bins}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if args.write:
        write(args.weights, result)
    return result


def write(weights, result):
    """The result into shipped preset `weights`' metadata.json, then its card and the README."""
    from keras_patchnet import hub
    from keras_patchnet.constants import parse_weights
    from tools.sync_presets import record

    for written in record(hub.resolve_preset("unet", parse_weights(weights)), "lit", result) or []:
        print("wrote", written)


if __name__ == "__main__":
    main()
