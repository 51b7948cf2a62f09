"""how much does one image say about the shape when the light is unknown? The convex / concave twin.

    python research/ambiguity.py [--images 64] [--size 112] [--json docs/lighting-study/ambiguity.json]

For a Lambertian sheet, reflecting its depth about its mean plane (Z -> 2 mean(Z) - Z on the same camera rays: every
fold turns inside out and the tilt reverses) and the lights about the camera axis ((lx, ly, lz) -> (-lx, -ly, lz))
leaves the image unchanged up to perspective and the falloff of point lights: n.l is invariant when both normals
and lights turn 180 degrees about the optical axis. The renderer draws fold signs and tilts symmetrically, and
`lighting="random"` draws lx and ly symmetrically, so under random light a render and its twin are (nearly) equally
likely explanations of the same image, and for any prediction f the mean of its errors against the two is at least
half their distance: depth MAE >= the flat plane's (the twins differ by 2 x the plane's error), mean angle >= the
plane's (a normal and its twin are 2 theta apart, theta its angle to the camera axis). Under `lighting="rig"` the
twin's lights are not a rig's (e.g. rig "c" at (0, -0.2, -1) has its twin at (0, +0.2, -1), 2.7 jitter sigmas
away, and the twin of rig "l"'s two lights points right-down where the only two-light rig points left), so the
light prior breaks the tie; under the calibrated light it breaks it completely.

For held-out renders (TEST_SEED) of each lighting mode this script re-shades each render and its twin with the
renderer's Lambertian model (its lights, ambient and albedo from `Sample.params`; tint, highlights and noise left
out) and prints, per mode: the mean |image - twin image| on the 0-255 scale, the model's own residual against the
render, the render's noise, and the twins' depth and normal distance next to the flat plane's error.
"""

import argparse
import json
import os
import sys

import numpy as np


def twin_images(sample, about="camera"):
    """(model image, twin's model image, twin depth, twin normals) over the sample's foreground pixels, each (n,) or
    (n, 3): Lambertian shading (0-255 scale, grey) of the render and of its convex / concave twin under the
    mirrored lights. Uses the render's own geometry: Z and the normals give dZ/dx̄ and dZ/dȳ exactly."""
    K, p = sample.intrinsics, sample.params
    v, u = np.nonzero(sample.mask)
    xn, yn = (u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1]
    Z = sample.depth[v, u].astype("float64")
    n = sample.normals[v, u].astype("float64")
    # n = s (Zx, Zy, -(Z + xn Zx + yn Zy)) with s > 0  =>  s = -(nz + xn nx + yn ny) / Z
    s = -(n[:, 2] + xn * n[:, 0] + yn * n[:, 1]) / Z
    Zx, Zy = n[:, 0] / s, n[:, 1] / s
    if about == "camera":  # reflect about the fronto-parallel plane through the mean depth, lights about the axis
        Z2, Zx2, Zy2 = 2 * Z.mean() - Z, -Zx, -Zy
        R = np.diag([-1.0, -1.0, 1.0])
    else:  # about the sheet's best-fit plane Z = a + b xn + c yn: folds turn over, the tilt stays
        A = np.stack([np.ones_like(xn), xn, yn], -1)
        a, b, c = np.linalg.lstsq(A, Z, rcond=None)[0]
        Z2, Zx2, Zy2 = 2 * (a + b * xn + c * yn) - Z, 2 * b - Zx, 2 * c - Zy
        m = np.array([b, c, -a])  # the plane's normal at the image centre (xn = yn = 0)
        m /= np.linalg.norm(m)
        R = 2 * np.outer(m, m) - np.eye(3)  # 180 degrees about it
    n2 = np.stack([Zx2, Zy2, -(Z2 + xn * Zx2 + yn * Zy2)], -1)
    n2 /= np.linalg.norm(n2, axis=-1, keepdims=True)
    rays = np.stack([xn, yn, np.ones_like(xn)], -1)

    def shade(normals, points, flip):
        centre = points.mean(axis=0)
        out = np.full(len(points), p["ambient"])
        for kind, where, power in p["lights"]:
            where = np.asarray(where, "float64")
            if kind == "directional":
                d = R @ where if flip else where
                to_light, falloff = np.broadcast_to(d / np.linalg.norm(d), points.shape), 1.0
            else:  # the twin's point light sits mirrored about the camera axis through the sheet's centre
                source = centre0 + (R @ (where - centre0) if flip else where - centre0)
                to_light = source - points
                dist = np.linalg.norm(to_light, axis=-1, keepdims=True)
                to_light, falloff = to_light / dist, (np.linalg.norm(source - centre) / dist[:, 0]) ** 2
            out += power * falloff * np.clip(np.sum(normals * to_light, -1), 0, None)
        return 255.0 * p["albedo"] * out

    points, points2 = Z[:, None] * rays, Z2[:, None] * rays
    centre0 = points.mean(axis=0)
    return shade(n, points, False), shade(n2, points2, True), Z2, n2


def angle_deg(a, b):
    return np.degrees(np.arccos(np.clip(np.sum(a * b, -1), -1.0, 1.0)))


def measure(samples, about="camera"):
    """Means over samples of the twin figures (see the module docstring)."""
    rows = []
    for s in samples:
        if s.mask.sum() < 16:
            continue
        image, twin, Z2, n2 = twin_images(s, about)
        v, u = np.nonzero(s.mask)
        Z, n = s.depth[v, u].astype("float64"), s.normals[v, u].astype("float64")
        grey = s.image[v, u].astype("float64").mean(-1)
        axis = np.array([0.0, 0.0, -1.0])
        rows.append(
            {
                "twin_image_diff": np.abs(image - twin).mean(),
                "model_residual": np.abs(grey - image).mean(),
                "noise": 255 * s.params["noise_sigma"],
                "twin_depth_mm": 1000 * np.abs((Z2 - Z) - (Z2 - Z).mean()).mean(),
                "plane_depth_mm": 1000 * np.abs(Z - Z.mean()).mean(),
                "twin_angle_deg": angle_deg(n, n2).mean(),
                "plane_angle_deg": angle_deg(n, axis).mean(),
            }
        )
    return {k: round(float(np.mean([r[k] for r in rows])), 2) for k in rows[0]} | {"images": len(rows)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--json", help="also write the table to this file")
    args = p.parse_args(argv)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from keras_patchnet.constants import TEST_SEED
    from keras_patchnet.data import render

    result = {"size": args.size}
    for lighting in ("fixed", "rig", "random"):
        samples = [render(TEST_SEED + i, args.size, args.size, lighting=lighting) for i in range(args.images)]
        for about in ("camera", "plane"):
            result[f"{lighting}, twin about the {about}"] = row = measure(samples, about)
            print(lighting, about, json.dumps(row))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
