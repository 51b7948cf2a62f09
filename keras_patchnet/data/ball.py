"""A matte ball drawn by the package's renderer under its lights: the calibration target of
`keras_patchnet.lighting` (photograph a matte white ball in the set-up once; the code of its shading is the light).

    >>> s = render_ball(0, 64, lighting="fixed")
    >>> s.image.shape, bool(s.mask.any())
    ((64, 64, 3), True)
"""

import numpy as np

from keras_patchnet.data.synthetic import Sample, _shade, intrinsics


def render_ball(seed, size=224, lighting="fixed", radius=0.1, distance=1.2, encoding="linear", noise=0.0, lights=None):
    """A ball of `radius` metres, `distance` metres in front of the Kinect-like camera, shaded as `render` shades a
    sheet with the same `seed`'s draw of lights (`lighting="fixed" | "rig" | "random"`; albedo 0.8-0.95, point
    lamps 0.5-1.5 m from it), on a black background, 8-bit, `encoding` "linear" or "srgb", Gaussian `noise` (0-1
    scale). Exact normals and mask; the light in `params`. `lights`: {"lights": [...], "ambient": a} of another
    render's `params` (e.g. a sheet's): the ball photographed under those very lights (point lamps where they were,
    Lambertian, albedo 0.9, no highlight), as a user photographs a ball in the set-up of the scene."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    K = intrinsics(size, size)
    v, u = np.mgrid[:size, :size].astype("float64")
    ray = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
    centre = np.array([0.0, 0.0, distance])
    along = ray @ centre
    gap = along**2 - (distance**2 - radius**2)
    mask = gap > 0
    t = along - np.sqrt(np.clip(gap, 0, None))
    points = ray * t[..., None]
    normals = np.where(mask[..., None], (points - centre) / radius, 0.0)
    if lights is None:
        radiance, light = _shade(normals[mask], points[mask], rng, lighting)
    else:
        radiance, light = _under(normals[mask], points[mask], lights), dict(lights)
    image = np.zeros((size, size, 3))
    image[mask] = radiance
    if noise:
        image += noise * rng.standard_normal(image.shape)
    image = np.clip(image, 0, 1)
    if encoding == "srgb":
        image = np.where(image <= 0.0031308, 12.92 * image, 1.055 * image ** (1 / 2.4) - 0.055)
    image = np.round(image * 255).astype("uint8")
    depth = np.where(mask, points[..., 2], 0.0).astype("float32")
    params = {"kind": "ball", "radius": radius, "centre": centre.tolist(), "encoding": encoding, **light}
    return Sample(image, depth, normals.astype("float32"), mask, K, params)


def _under(normals, points, given, albedo=0.9):
    """Lambertian radiance (n, 3) of points under given {"lights", "ambient"} (the renderer's own light list)."""
    radiance = np.full(len(points), float(given["ambient"]))
    for kind, where, power in given["lights"]:
        where = np.asarray(where, "float64")
        if kind == "directional":
            to_light, falloff = np.broadcast_to(where / np.linalg.norm(where), points.shape), 1.0
        else:
            to_light = where - points
            dist = np.linalg.norm(to_light, axis=-1, keepdims=True)
            to_light, falloff = to_light / dist, (np.linalg.norm(where - points.mean(0)) / dist[:, 0]) ** 2
        radiance += power * falloff * np.clip(np.sum(normals * to_light, axis=-1), 0, None)
    return np.repeat((albedo * radiance)[:, None], 3, axis=1)
