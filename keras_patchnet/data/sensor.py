"""Depth as a structured-light sensor (a Kinect-like camera) reads it: noise growing with z², millimetre steps and
holes, for data that looks like a capture rig's, e.g. `write_synthetic(..., sensor="kinect")`.

The model of the error follows Khoshelham and Elberink, "Accuracy and Resolution of Kinect Depth Data for Indoor
Mapping Applications", Sensors 2012: the random error of depth grows with the square of the distance,
sigma(z) = 1.425e-3 * z² (metres; 1.4 mm at 1 m, 2.8 mm at 1.4 m). Holes (0 = no reading) where such sensors leave
them: at grazing angles (the projected pattern is not seen), in a band along the silhouette (the projector's
shadow at depth edges) and in a few blobs (specular or dark spots).
"""

import numpy as np

KINECT_SIGMA = 1.425e-3  # metres of random error per square metre of distance


def sensor_depth(depth, normals, rng, sigma=KINECT_SIGMA, step=1e-3, grazing_deg=78.0, edge_band=1, blobs=(0, 4)):
    """Depth (H, W) as a Kinect-like sensor would read the surface; 0 = no reading.

    Args:
        depth: (H, W) metres, 0 on background.
        normals: (H, W, 3) unit normals (camera frame, towards the camera), 0 on background.
        rng: a NumPy Generator or a seed.
        sigma: random error per m² of distance (default `KINECT_SIGMA`); 0 turns noise off.
        step: depth quantisation in metres (1 mm, as the sensor writes it); 0 turns it off.
        grazing_deg: no reading where the angle between the normal and the line of sight exceeds it.
        edge_band: pixels lost along the silhouette's edge.
        blobs: (low, high) number of elliptic holes inside the sheet, drawn uniformly.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    depth = np.asarray(depth, "float64")
    mask = depth > 0
    height, width = depth.shape
    out = depth + sigma * depth**2 * rng.standard_normal(depth.shape)
    if step:
        out = np.round(out / step) * step
    keep = mask.copy()
    v, u = np.mgrid[:height, :width].astype("float64")
    ray = np.stack([u - (width - 1) / 2, v - (height - 1) / 2, np.full(u.shape, 525.0 * width / 224.0)], -1)
    ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
    cos = -np.sum(np.asarray(normals, "float64") * ray, axis=-1)
    keep &= cos > np.cos(np.radians(grazing_deg))
    for _ in range(int(edge_band)):  # erode the silhouette by one pixel
        inner = keep.copy()
        inner[1:] &= mask[:-1]
        inner[:-1] &= mask[1:]
        inner[:, 1:] &= mask[:, :-1]
        inner[:, :-1] &= mask[:, 1:]
        keep &= inner
    ys, xs = np.nonzero(mask)
    for _ in range(int(rng.integers(blobs[0], blobs[1] + 1)) if len(ys) else 0):
        k = int(rng.integers(len(ys)))
        a, b = rng.uniform(0.01, 0.04, 2) * width
        theta = rng.uniform(0, np.pi)
        dx, dy = u - xs[k], v - ys[k]
        along, across = dx * np.cos(theta) + dy * np.sin(theta), -dx * np.sin(theta) + dy * np.cos(theta)
        keep &= (along / a) ** 2 + (across / b) ** 2 > 1
    return np.where(keep, out, 0.0).astype("float32")
