"""Quickstart: the pretrained UNet PatchNet on the sample render -> depth, normals and a point cloud.

python examples/quickstart.py [IMAGE] [--weights true|PRESET|FOLDER] [--out out/quickstart]
"""

import argparse
import os

import numpy as np

import keras_patchnet as kp
from keras_patchnet.cli import SAMPLE


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("image", nargs="?", default=SAMPLE)
    p.add_argument("--weights", default="true")
    p.add_argument("--out", default="out/quickstart")
    args = p.parse_args(argv)

    model = kp.models.unet(pretrained=True if args.weights == "true" else args.weights)
    image = kp.data.read_image(args.image)  # (H, W, 3) uint8, any size
    mask = image.max(axis=-1) > 24  # the surface, on a dark background
    out = model.predict_on_batch({"images": image[None].astype("float32"), "mask": mask[None, ..., None]})
    depth = np.asarray(out["depth"])[0, ..., 0]  # relative depth in metres
    normals = np.asarray(out["normals"])[0]  # unit normals, camera frame, towards the camera

    K = kp.data.intrinsics(*image.shape[:2])  # or your camera's 3x3 matrix
    absolute = np.where(mask, depth - depth[mask].mean() + 1.2, 0.0)  # place the surface 1.2 m away
    cloud = kp.geometry.point_cloud(absolute, K, mask, normals=normals, colors=image)
    os.makedirs(args.out, exist_ok=True)
    kp.geometry.write_ply(os.path.join(args.out, "surface.ply"), cloud["points"], cloud["normals"], cloud["colors"])
    kp.viz.save_png(os.path.join(args.out, "normals.png"), kp.viz.normals_to_rgb(normals, mask))
    np.save(os.path.join(args.out, "depth.npy"), depth)
    print(f"{len(cloud['points'])} points, depth range {np.ptp(depth[mask]) * 1000:.1f} mm -> {args.out}")
    return depth, normals


if __name__ == "__main__":
    main()
