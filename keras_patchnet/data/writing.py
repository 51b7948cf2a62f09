"""A synthetic dataset written in the layout `data.texless` reads (rendered by `data.synthetic`)."""

import os

import numpy as np


def write_synthetic(
    root,
    sequences,
    frames=4,
    size=224,
    seed=0,
    lighting="rig",
    world="standard",
    normals=True,
    sensor=None,
    encoding=None,
):
    """Renders a synthetic dataset in the layout above and returns its root.

    Args:
        sequences: {object: [sequence names]}; each sequence shares a surface kind (paper for "paper", garment for
            shirt-like names, else cloth; world="physical" draws simulated sheets instead) and gets `frames` frames
            with consecutive numbers.
        size: int or (height, width).
        lighting: the renderer's lighting ("rig", "random" or "fixed", the calibrated light the shipped
            `*.synthetic-calibrated` presets know, or a calibrated light of one's own as a dict; see `render`).
        world: the renderer's world ("standard", "wide" or "physical": 8-bit sRGB images of simulated cloth).
        normals: write the `normals` folder (False: depth only, as a depth sensor gives).
        sensor: None (exact depth) or "kinect": depth as a structured-light sensor reads it, with noise growing
            with z², millimetre steps and holes (`data.sensor.sensor_depth`); the normals written stay exact.
        encoding: how the 8-bit images encode brightness, "linear" or "srgb"; None: the world's own (see `render`).
    """
    from PIL import Image

    from keras_patchnet.data.sensor import sensor_depth
    from keras_patchnet.data.synthetic import intrinsics, render

    if sensor not in (None, "kinect"):
        raise ValueError(f"`sensor` must be None or 'kinect'. Received: sensor={sensor!r}")
    if encoding not in (None, "linear", "srgb"):
        raise ValueError(f"`encoding` must be None, 'linear' or 'srgb'. Received: encoding={encoding!r}")
    height, width = (size, size) if np.isscalar(size) else size
    os.makedirs(root, exist_ok=True)
    np.savetxt(os.path.join(root, "camera_intrinsics.txt"), intrinsics(height, width))
    kinds = ("images", "depth_maps", "normals") if normals else ("images", "depth_maps")
    k = 0
    for obj, seqs in sequences.items():
        kind = "paper" if obj == "paper" else "garment" if obj in ("tshirt", "sweater", "hoody") else "cloth"
        kind = None if world == "physical" else kind
        for seq in seqs:
            folders = {d: os.path.join(root, obj, d, seq) for d in kinds}
            for folder in folders.values():
                os.makedirs(folder, exist_ok=True)
            for frame in range(frames):
                s = render(seed * 1_000_003 + k, height, width, kind, lighting, world, encoding)
                depth = s.depth if sensor is None else sensor_depth(s.depth, s.normals, [seed, k, 5])
                k += 1
                Image.fromarray(s.image).save(os.path.join(folders["images"], f"rgb_{frame:04d}.tiff"))
                np.savez_compressed(os.path.join(folders["depth_maps"], f"depth_{frame:04d}.npz"), depth=depth)
                if normals:
                    path = os.path.join(folders["normals"], f"normals_{frame:04d}.npz")
                    np.savez_compressed(path, normals=s.normals)
    return root
