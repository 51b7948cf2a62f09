"""The physically based test set (and its validation set): simulated sheets that training never saw, path-traced by
Blender's Cycles under the calibrated light, under 1-3 point lamps near the camera and under one distant light
from a random direction, written as 8-bit sRGB PNGs with exact depth, normals and masks, and a matte ball under
every light.

    python tools/physical_set.py --bank data/shape-bank/test --out data/physical        # needs `blender` on PATH

Sheets: the chunks of `tools/simulate_sheets.py --out data/shape-bank/test` (seeds from 5000000, a 32 x 32 grid,
every scenario including two that the training bank never holds), in seed order: the first `--test` sheets are
the test split, the next `--val` the validation split. Per sheet, from its seed alone: a Kinect-like camera
(`kp.data.intrinsics`: fx = fy = 525 px at 224 pixels wide) 1.0-1.4 m away, looking at the sheet along its mean
normal (tilted by up to 25 degrees, any roll), an albedo of 0.8-0.95, and three lights:
- `calibrated`: the light the calibrated presets know (`kp.data.synthetic.FIXED_LIGHT`, a surface facing it
  receives `FIXED_POWER`, a uniform sky of `FIXED_AMBIENT`), the same for every sheet;
- `lamps`: 1-3 point lamps within 1 m of the camera, each at least 15 degrees off the camera axis as seen from the
  sheet, together giving the sheet's centre an irradiance of 0.5-1.0, a sky of 0.05-0.2;
- `distant`: one distant light within 60 degrees of the camera axis, irradiance 0.6-1.0, a sky of 0.05-0.2.
A matte ball (radius 0.1 m, 1.2 m in front of the camera, the sheet's albedo) is rendered under each light.

Depth, normals and masks come from the same triangles in the package's rasteriser (`kp.data.mesh.rasterize`), and
every image's normals are checked against normals from its depth. The split is written as
`<out>/<split>/images/<sheet>_<light>.png`, `balls/<sheet>_<light>.png`, `maps.npz` (depth relative to each
sheet's mean in float16 plus that mean in float32, normals in float16, masks) and `meta.json`. Written once: the
data is never rewritten in place.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np

LIGHTS = ("calibrated", "lamps", "distant")
BALL_RADIUS, BALL_DISTANCE = 0.1, 1.2


def load_bank(folder):
    vertices, seeds, scenarios = [], [], []
    names = None
    for path in sorted(glob.glob(os.path.join(folder, "sheets_*.npz"))):
        with np.load(path) as f:
            vertices.append(f["vertices"].astype("float64"))
            seeds.append(f["seed"])
            names = [str(s) for s in f["scenarios"]]
            scenarios += [names[i] for i in f["scenario"]]
    order = np.argsort(np.concatenate(seeds))
    return np.concatenate(vertices)[order], np.concatenate(seeds)[order], [scenarios[i] for i in order]


def _unit(v):
    return v / np.linalg.norm(v)


def lights_for(kind, centre, rng):
    from keras_patchnet.data.synthetic import FIXED_AMBIENT, FIXED_LIGHT, FIXED_POWER

    if kind == "calibrated":
        to_light = _unit(np.array(FIXED_LIGHT))
        return [{"kind": "sun", "to_light": to_light.tolist(), "irradiance": FIXED_POWER}], FIXED_AMBIENT
    ambient = float(rng.uniform(0.05, 0.2))
    if kind == "distant":
        theta, phi = np.radians(rng.uniform(0, 60)), rng.uniform(0, 2 * np.pi)
        to_light = [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), -np.cos(theta)]
        return [{"kind": "sun", "to_light": to_light, "irradiance": float(rng.uniform(0.6, 1.0))}], ambient
    count = int(rng.integers(1, 4))
    total, shares = rng.uniform(0.5, 1.0), rng.dirichlet(np.ones(count))
    lamps = []
    while len(lamps) < count:
        position = rng.uniform(-1, 1, 3) * [1.0, 1.0, 0.4]
        if np.linalg.norm(position) > 1.0:
            continue
        to_camera, to_lamp = _unit(-centre), _unit(position - centre)
        if np.degrees(np.arccos(np.clip(to_camera @ to_lamp, -1, 1))) < 15:
            continue
        share = shares[len(lamps)]
        distance = np.linalg.norm(position - centre)
        lamps.append({"kind": "point", "position": position.tolist(), "intensity": float(total * share * distance**2)})
    return lamps, ambient


def scenes(vertices, seeds, scenarios, first, count, size):
    from keras_patchnet.data import intrinsics
    from keras_patchnet.data.mesh import grid_triangles, rasterize
    from keras_patchnet.data.physical import camera_pose
    from keras_patchnet.geometry import angular_error_deg, normals_from_depth

    K = intrinsics(size, size)
    renders, truth, meta = [], [], []
    for i in range(first, first + count):
        seed = int(seeds[i])
        rng = np.random.default_rng([seed, 2026])
        for _ in range(20):  # a pose that shows at least 10% of the frame
            R, position = camera_pose(vertices[i], rng)
            cam = (vertices[i] - position) @ R.T
            maps = rasterize(cam, K, size, size)
            if maps["mask"].mean() > 0.1:
                break
        from_depth = normals_from_depth(maps["depth"], K)
        inner = maps["mask"] & (np.linalg.norm(from_depth, axis=-1) > 0)
        check = float(np.median(angular_error_deg(maps["normals"][inner], from_depth[inner])))
        albedo = float(rng.uniform(0.8, 0.95))
        centre = cam.reshape(-1, 3).mean(0)
        name = f"{i - first:03d}"
        mesh = {"vertices": cam.reshape(-1, 3).round(6).tolist(), "faces": grid_triangles(*cam.shape[:2]).tolist()}
        entry = {
            "sheet": name,
            "seed": seed,
            "scenario": scenarios[i],
            "albedo": albedo,
            "normals_vs_depth_median_deg": round(check, 3),
            "lights": {},
        }
        for kind in LIGHTS:
            lights, ambient = lights_for(kind, centre, rng)
            common = {"albedo": albedo, "ambient": ambient, "lights": lights}
            renders.append({"name": f"images/{name}_{kind}", "mesh": mesh, **common})
            ball = {"centre": [0.0, 0.0, BALL_DISTANCE], "radius": BALL_RADIUS}
            ball_name = "balls/calibrated" if kind == "calibrated" else f"balls/{name}_{kind}"
            if kind != "calibrated" or i == first:
                renders.append({"name": ball_name, "sphere": ball, **common})
            entry["lights"][kind] = {
                "image": f"images/{name}_{kind}.png",
                "ball": ball_name + ".png",
                "ball_centre": ball["centre"],
                "ball_radius": BALL_RADIUS,
                "ambient": ambient,
                "lights": lights,
            }
        truth.append(maps)
        meta.append(entry)
    spec = {
        "size": [size, size],
        "fx": float(K[0, 0]),
        "fy": float(K[1, 1]),
        "cx": float(K[0, 2]),
        "cy": float(K[1, 2]),
    }
    return spec, renders, truth, meta, K


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bank", default="data/shape-bank/test")
    p.add_argument("--out", default="data/physical")
    p.add_argument("--test", type=int, default=96)
    p.add_argument("--val", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--samples", type=int, default=128)
    p.add_argument("--blender", default="blender")
    args = p.parse_args(argv)
    vertices, seeds, scenarios = load_bank(args.bank)
    if len(seeds) < args.test + args.val:
        raise SystemExit(f"{args.bank} holds {len(seeds)} sheets; {args.test + args.val} are needed")
    for split, first, count in (("test", 0, args.test), ("validation", args.test, args.val)):
        folder = os.path.join(args.out, split)
        if os.path.exists(os.path.join(folder, "meta.json")):
            print(f"{folder} exists: data is never rewritten in place")
            continue
        work = folder + ".partial"
        os.makedirs(work, exist_ok=True)
        spec, renders, truth, meta, K = scenes(vertices, seeds, scenarios, first, count, args.size)
        spec.update(samples=args.samples, renders=renders)
        with open(os.path.join(work, "scenes.json"), "w") as f:
            json.dump(spec, f)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "physical_blender.py")
        cmd = [args.blender, "-b", "--factory-startup", "--python", script, "--", "scenes.json", "."]
        done = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        missing = [r["name"] for r in renders if not os.path.exists(os.path.join(work, r["name"] + ".png"))]
        if done.returncode != 0 or missing:
            sys.exit(f"blender failed ({len(missing)} renders missing): {done.stderr[-2000:]}")
        depth = np.stack([t["depth"] for t in truth])
        mask = np.stack([t["mask"] for t in truth])
        offset = np.array([d[m].mean() for d, m in zip(depth, mask)], "float32")
        np.savez_compressed(
            os.path.join(work, "maps.npz"),
            depth_relative=np.where(mask, depth - offset[:, None, None], 0).astype("float16"),
            depth_offset=offset,
            normals=np.stack([t["normals"] for t in truth]).astype("float16"),
            mask=mask,
        )
        info = {
            "format": "keras-patchnet-physical",
            "version": 1,
            "split": split,
            "intrinsics": np.asarray(K).tolist(),
            "size": [args.size, args.size],
            "encoding": "srgb",
            "renderer": "Blender Cycles (Debian blender 3.4.1), "
            f"{args.samples} samples a pixel, no denoiser, 8 bounces, 8-bit sRGB PNG",
            "command": "python tools/physical_set.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "sheets": meta,
        }
        with open(os.path.join(work, "meta.json"), "w") as f:
            json.dump(info, f, indent=1)
        os.remove(os.path.join(work, "scenes.json"))
        shutil.move(work, folder)
        print(f"wrote {folder}: {count} sheets x {len(LIGHTS)} lights")


if __name__ == "__main__":
    main()
