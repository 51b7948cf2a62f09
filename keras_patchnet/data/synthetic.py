"""A renderer of white, textureless, deforming sheets: cloth, paper and garment-like outlines.

NumPy only, vectorised, deterministic by seed. The surface is a depth field Z over normalised image coordinates
(x̄, ȳ) = ((u - cx) / f, (v - cy) / f) seen by a pinhole camera (OpenCV frame: x right, y down, z forward), so every
pixel's ray meets it once and depth and normals are exact, not estimated. Z is a tilted plane at 1.0–1.4 m plus a
sum of deformations, each with an analytic gradient:

- folds: Gaussian ridges or valleys of limited length (cloth, garments);
- wrinkles: short sinusoids under a Gaussian envelope (cloth, garments);
- lifted corners and edges: a soft ramp that bends the sheet towards the camera beyond a line;
- bends: cylinders (a developable deformation, typical of paper).

With P = Z (x̄, ȳ, 1), the normal is n ∝ (Z_x̄, Z_ȳ, -(Z + x̄ Z_x̄ + ȳ Z_ȳ)), unit length and pointing to the camera
(n_z < 0). Shading is Lambertian with albedo 0.8–0.95, ambient 0.05–0.3, one to four point or directional lights
from one of four jittered rigs (or anywhere, `lighting="random"`; attached shadows only, no cast shadows), an
optional weak Blinn-Phong highlight, Gaussian sensor noise and 8-bit
quantisation. The silhouette is an irregular star-shaped blob or a T-shirt-like outline in the sheet's own
coordinates, sometimes cut by the image frame. Background: near-black noise, depth 0 and normals 0.

`world="wide"` widens all of this: tilts up to 70°, sheets covering 30-95% of the frame (the larger ones
cut by it), crumpled cloth (many folds and sharp creases), sheets held at two corners (a sag and vertical drape
folds), rolled and creased paper, albedos 0.5-0.95 with a slight colour, and a faint low-frequency shading noise;
points a fold turns away from the camera are left out of the silhouette. The default `world="standard"` is what the
shipped presets were trained and measured on, and renders exactly as before.
"""

from typing import NamedTuple

import numpy as np

from keras_patchnet.constants import LIGHTINGS, WORLDS
from keras_patchnet.data.lights import (  # noqa: F401 (the camera and lights, also reached here)
    FIXED_AMBIENT,
    FIXED_LIGHT,
    FIXED_POWER,
    FOCAL_AT_224,
    RIGS,
    _lights,
    intrinsics,
)
from keras_patchnet.data.lights import calibrated as calibrated_light

KINDS = ("cloth", "paper", "garment")
WIDE_KINDS = KINDS + ("crumpled", "hanging", "rolled")  # the kinds of world="wide"
WIDE_SLANT_DEG = 70.0  # the steepest tilt of a wide-world sheet
WIDE_FILL = (0.3, 0.95)  # the sheet's area as a share of the frame (larger sheets are cut by it)
DEPTH_RANGE = (1.0, 1.4)  # metres, distance of the sheet's centre


class Sample(NamedTuple):
    image: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32, metres, 0 on background
    normals: np.ndarray  # (H, W, 3) float32, unit, camera frame, towards the camera; 0 on background
    mask: np.ndarray  # (H, W) bool
    intrinsics: np.ndarray  # (3, 3) float32
    params: dict


def _gauss(x, sigma):
    return np.exp(-0.5 * (x / sigma) ** 2)


def _ridge(p, q, theta, c, a, w, length):
    """A ridge (or valley) across direction d = (cos theta, sin theta), of amplitude a and width w, centred at c,
    fading along the ridge over `length`."""
    d = np.array([np.cos(theta), np.sin(theta)])
    s = (p - c[0]) * d[0] + (q - c[1]) * d[1]
    t = -(p - c[0]) * d[1] + (q - c[1]) * d[0]
    h = a * _gauss(s, w) * _gauss(t, length)
    dh_ds, dh_dt = -h * s / w**2, -h * t / length**2
    return h, dh_ds * d[0] - dh_dt * d[1], dh_ds * d[1] + dh_dt * d[0]


def _fold(p, q, rng):
    """A soft fold: a ridge or valley 1-4 cm wide and up to 4 cm high."""
    theta, c = rng.uniform(0, np.pi), rng.uniform(-0.12, 0.12, 2)
    a, w, length = rng.choice([-1, 1]) * rng.uniform(0.008, 0.04), rng.uniform(0.01, 0.04), rng.uniform(0.08, 0.35)
    return (*_ridge(p, q, theta, c, a, w, length), ("fold", theta, a, w, length))


def _crease(p, q, rng):
    """A sharp crease (paper folded and opened, crumpled cloth): a ridge 2-6 mm wide, long."""
    theta, c = rng.uniform(0, np.pi), rng.uniform(-0.15, 0.15, 2)
    a, w, length = rng.choice([-1, 1]) * rng.uniform(0.002, 0.01), rng.uniform(0.002, 0.006), rng.uniform(0.1, 0.4)
    return (*_ridge(p, q, theta, c, a, w, length), ("crease", theta, a, w, length))


def _drape(p, q, rng):
    """A vertical drape fold of a sheet held at its top corners (ridge lines near the image's vertical)."""
    theta, c = rng.normal(0, 0.2), rng.uniform(-0.15, 0.15, 2)
    a, w, length = rng.choice([-1, 1]) * rng.uniform(0.01, 0.05), rng.uniform(0.015, 0.05), rng.uniform(0.2, 0.5)
    return (*_ridge(p, q, theta, c, a, w, length), ("drape", theta, a, w, length))


def _wrinkles(p, q, rng):
    theta, c = rng.uniform(0, np.pi), rng.uniform(-0.12, 0.12, 2)
    a, wavelength, extent, phase = (
        rng.uniform(0.0005, 0.0025),
        rng.uniform(0.03, 0.08),
        rng.uniform(0.03, 0.08),
        rng.uniform(0, 2 * np.pi),
    )
    d = np.array([np.cos(theta), np.sin(theta)])
    k = 2 * np.pi / wavelength
    s = (p - c[0]) * d[0] + (q - c[1]) * d[1]
    r2 = (p - c[0]) ** 2 + (q - c[1]) ** 2
    env = np.exp(-0.5 * r2 / extent**2)
    wave = np.sin(k * s + phase)
    h = a * env * wave
    dh_ds = a * env * k * np.cos(k * s + phase)
    denv_dp, denv_dq = -env * (p - c[0]) / extent**2, -env * (q - c[1]) / extent**2
    return h, dh_ds * d[0] + a * wave * denv_dp, dh_ds * d[1] + a * wave * denv_dq, ("wrinkles", theta, a, wavelength)


def _lift(p, q, rng):
    """Beyond the line d·s = c the sheet rises towards the camera with slope up to `slope` (a lifted edge or
    corner), through a soft ramp of width w: h = -slope * w * softplus((d·s - c) / w)."""
    theta = rng.uniform(0, 2 * np.pi)
    c, slope, w = rng.uniform(0.02, 0.12), rng.uniform(0.15, 0.8), rng.uniform(0.01, 0.05)
    d = np.array([np.cos(theta), np.sin(theta)])
    z = (p * d[0] + q * d[1] - c) / w
    h = -slope * w * np.logaddexp(0.0, z)
    dh_ds = -slope / (1.0 + np.exp(-z))
    return h, dh_ds * d[0], dh_ds * d[1], ("lift", theta, c, slope)


def _bend(p, q, rng):
    """A cylinder of curvature k around an axis in the sheet: h = k / 2 (d·s - c)^2, developable like paper."""
    theta, c, k = rng.uniform(0, np.pi), rng.uniform(-0.1, 0.1), rng.choice([-1, 1]) * rng.uniform(0.5, 5.0)
    d = np.array([np.cos(theta), np.sin(theta)])
    s = p * d[0] + q * d[1] - c
    return 0.5 * k * s**2, k * s * d[0], k * s * d[1], ("bend", theta, c, k)


def _sag(p, q, rng):
    """A sheet held at two corners sags between them: a cylinder around a near-horizontal axis."""
    theta, c, k = np.pi / 2 + rng.normal(0, 0.15), rng.uniform(-0.15, 0.0), rng.uniform(1.5, 6.0)
    d = np.array([np.cos(theta), np.sin(theta)])
    s = p * d[0] + q * d[1] - c
    return 0.5 * k * s**2, k * s * d[0], k * s * d[1], ("sag", theta, c, k)


def _roll(p, q, rng):
    """Rolled paper: a cylinder of curvature 6-14 / m (radius 7-17 cm)."""
    theta, c, k = rng.uniform(0, np.pi), rng.uniform(-0.05, 0.05), rng.choice([-1, 1]) * rng.uniform(6.0, 14.0)
    d = np.array([np.cos(theta), np.sin(theta)])
    s = p * d[0] + q * d[1] - c
    return 0.5 * k * s**2, k * s * d[0], k * s * d[1], ("roll", theta, c, k)


DEFORMATIONS = {
    "cloth": ((_fold, 2, 6), (_wrinkles, 0, 4), (_lift, 0, 2)),
    "paper": ((_bend, 1, 3), (_lift, 0, 1)),
    "garment": ((_fold, 3, 8), (_wrinkles, 1, 5), (_lift, 0, 1)),
}
WIDE_DEFORMATIONS = {
    **DEFORMATIONS,
    "paper": ((_bend, 1, 3), (_crease, 0, 3), (_lift, 0, 1)),
    "crumpled": ((_fold, 6, 14), (_wrinkles, 4, 10), (_crease, 2, 6), (_lift, 0, 2)),
    "hanging": ((_sag, 1, 1), (_drape, 3, 7), (_wrinkles, 0, 3)),
    "rolled": ((_roll, 1, 1), (_crease, 0, 2), (_lift, 0, 1)),
}


def _silhouette(p, q, kind, rng):
    """Foreground in sheet coordinates (metres): an irregular blob, or a T-shirt-like outline for garments."""
    c = rng.uniform(-0.06, 0.06, 2)
    x, y = p - c[0], q - c[1]
    if kind == "garment":
        rot = rng.uniform(-0.4, 0.4)
        x, y = x * np.cos(rot) + y * np.sin(rot), -x * np.sin(rot) + y * np.cos(rot)
        bw, bh = rng.uniform(0.09, 0.14), rng.uniform(0.12, 0.2)
        body = (np.abs(x) < bw) & (np.abs(y) < bh)
        sleeve_len, sleeve_w = rng.uniform(0.05, 0.12), rng.uniform(0.04, 0.07)
        sleeves = (np.abs(x) < bw + sleeve_len) & (y > -bh) & (y < -bh + 2 * sleeve_w)
        neck = (x**2 + (y + bh) ** 2) < rng.uniform(0.02, 0.04) ** 2
        return (body | sleeves) & ~neck
    radius = rng.uniform(0.1, 0.22)
    angle = np.arctan2(y, x)
    r = np.ones_like(angle)
    for k in range(2, 7):
        r += rng.uniform(0, 0.25 / k * 2) * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
    return np.hypot(x, y) < radius * r


def _shade(normals, points, rng, lighting="rig", wide=False):
    """Radiance (n, 3) of foreground points (n, 3) with unit normals (n, 3)."""
    rig = _lights(rng, lighting)
    fixed = calibrated_light(lighting)
    n_lights, calibrated = len(rig), fixed is not None
    albedo, ambient = rng.uniform(0.5 if wide else 0.8, 0.95), rng.uniform(0.05, 0.3)
    if wide:  # other albedos, slightly coloured
        albedo = albedo * (1.0 + rng.uniform(-0.06, 0.06, 3))
    ambient = fixed[2] if calibrated else ambient
    view = -points / np.linalg.norm(points, axis=-1, keepdims=True)
    radiance = np.full(points.shape, ambient, "float64")
    lights = []
    for direction, kind in rig:
        power = rng.uniform(0.4, 1.0) / n_lights**0.75
        tint = 1.0 + rng.uniform(-0.05, 0.05, 3)
        power, tint = (fixed[1], 1.0) if calibrated else (power, tint)
        direction[2] = min(direction[2], -0.2)  # stay on the camera's side
        if kind == "directional":
            to_light = np.broadcast_to(direction / np.linalg.norm(direction), points.shape)
            falloff = 1.0
            lights.append(("directional", direction.tolist(), power))
        else:  # point light about 0.5-1.5 m from the sheet's centre, on the camera's side
            centre = points.mean(axis=0) if len(points) else np.array([0, 0, 1.2])
            position = centre + direction / np.linalg.norm(direction) * rng.uniform(0.5, 1.5)
            to_light = position - points
            dist = np.linalg.norm(to_light, axis=-1, keepdims=True)
            to_light, falloff = to_light / dist, (np.linalg.norm(position - centre) / dist) ** 2
            lights.append(("point", position.tolist(), power))
        lambert = np.clip(np.sum(normals * to_light, axis=-1, keepdims=True), 0, None)
        radiance += power * tint * falloff * lambert
        if rng.random() < 0.4 and not calibrated:  # weak Blinn-Phong highlight
            half = to_light + view
            half /= np.linalg.norm(half, axis=-1, keepdims=True)
            spec = np.clip(np.sum(normals * half, axis=-1, keepdims=True), 0, None) ** rng.uniform(10, 40)
            radiance += rng.uniform(0.02, 0.1) * power * falloff * spec * (lambert > 0)
    albedo_mean = float(np.mean(albedo))
    return albedo * radiance, {"n_lights": n_lights, "albedo": albedo_mean, "ambient": ambient, "lights": lights}


def render(seed, height=224, width=224, kind=None, lighting="rig", world="standard", encoding=None):
    """Renders one sample; the same `seed` and size give the same sample.

    Args:
        seed: int (or a numpy Generator).
        height, width: output size in pixels (any size; the field of view follows the width).
        kind: "cloth", "paper", "garment" or None (drawn from the seed).
        lighting: "rig" (default): one of four jittered light set-ups like the dataset's Lc/Ld/Ll/Lr sequences, so
            shading is a usable cue; "random": 1-4 lights from anywhere on the camera's side (much harder: shape from
            shading under unknown lights is ambiguous per patch); "fixed": a calibrated set-up, one directional light
            from
            `FIXED_LIGHT` with power `FIXED_POWER`, ambient `FIXED_AMBIENT`, no highlight (shading maps to the
            angle to the light: the easiest case to learn; train with `intensity="none"` and no photometric jitter);
            or a calibrated light of one's own, {"direction": (x, y, z), "power": 0.8, "ambient": 0.1}, rendered as
            "fixed" is (see `data.lights.calibrated`).
        world: "standard" (default, what the shipped presets were trained and measured on) or "wide": tilts up to
            `WIDE_SLANT_DEG` (70°), sheets covering `WIDE_FILL` (30-95%) of the frame or cut by it, three more kinds
            ("crumpled": many small folds and creases; "hanging": held at two corners, sagging with drape folds;
            "rolled": paper rolled to a 7-17 cm radius) and creased paper, albedos 0.5-0.95 with a slight colour,
            and a faint low-frequency shading noise (texture-free). "physical": cloth and paper simulated by a
            physics engine, drawn from the shape bank of a source checkout with cast shadows, ambient occlusion,
            anti-aliased edges, non-black backgrounds and a camera's noise (`keras_patchnet.data.physical`).
        encoding: how the 8-bit image encodes brightness: "linear" or "srgb" (a camera's tone curve); None: the
            world's own ("linear" for "standard" and "wide", what the shipped presets were trained on; "srgb" for
            "physical").

    Returns:
        `Sample(image, depth, normals, mask, intrinsics, params)`.

    >>> s = render(0, 64, 80)
    >>> s.image.shape, s.image.dtype.name, s.depth.shape, s.normals.shape
    ((64, 80, 3), 'uint8', (64, 80), (64, 80, 3))
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if world not in WORLDS:
        raise ValueError(f"`world` must be one of {WORLDS}. Received: world={world!r}")
    if encoding not in (None, "linear", "srgb"):
        raise ValueError(f"`encoding` must be None, 'linear' or 'srgb'. Received: encoding={encoding!r}")
    if not isinstance(lighting, dict) and lighting not in LIGHTINGS:
        raise ValueError(
            f"`lighting` must be one of {LIGHTINGS} or a light of one's own (a dict, see `data.lights.calibrated`). "
            f"Received: lighting={lighting!r}"
        )
    calibrated_light(lighting)  # a malformed light of one's own is refused here
    if world == "physical":
        if kind is not None:
            raise ValueError(
                f"world='physical' draws sheets from the shape bank: `kind` must be None. Received: {kind!r}"
            )
        from keras_patchnet.data.physical import render_physical

        image, truth, K, params = render_physical(rng, height, width, lighting, encoding=encoding or "srgb")
        return Sample(image, truth["depth"], truth["normals"], truth["mask"], K.astype("float32"), params)
    wide = world == "wide"
    kinds = WIDE_KINDS if wide else KINDS
    if kind is None:
        kind = kinds[int(rng.integers(len(kinds)))]
    if kind not in kinds:
        raise ValueError(f"`kind` must be one of {kinds} (world={world!r}) or None. Received: kind={kind!r}")
    K = intrinsics(height, width)
    v, u = np.mgrid[:height, :width].astype("float32")
    xn_full, yn_full = (u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1]
    z0 = rng.uniform(*DEPTH_RANGE)
    if wide:
        slant, azimuth = np.radians(rng.uniform(0, WIDE_SLANT_DEG)), rng.uniform(0, 2 * np.pi)
        tilt = np.tan(slant) * np.array([np.cos(azimuth), np.sin(azimuth)])
        frame = (width / K[0, 0] * z0) * (height / K[1, 1] * z0)  # the frame's area (m²) at the sheet's distance
        scale = np.sqrt(rng.uniform(*WIDE_FILL) * frame / np.pi) / 0.16  # 0.16 m: a standard blob's mean radius
    else:
        tilt, scale = rng.uniform(-0.6, 0.6, 2), 1.0  # dZ/dp, dZ/dq: up to ~30 degrees
    mask = _silhouette(xn_full * z0 / scale, yn_full * z0 / scale, kind, rng)
    # Geometry and shading only on the silhouette's pixels (a third of the image on average).
    xn, yn = xn_full[mask].astype("float64"), yn_full[mask].astype("float64")
    p, q = xn * z0, yn * z0  # metric coordinates on the fronto-parallel plane at z0
    if wide and len(p):  # keep the nearest point of a steep sheet at least 0.4 m from the camera
        reach = np.max(-(p * tilt[0] + q * tilt[1]))
        tilt = tilt * min(1.0, (z0 - 0.4) / max(reach, 1e-9))
    Z, Zp, Zq = z0 + tilt[0] * p + tilt[1] * q, np.full_like(p, tilt[0]), np.full_like(p, tilt[1])
    parts = []
    for fn, lo, hi in (WIDE_DEFORMATIONS if wide else DEFORMATIONS)[kind]:
        for _ in range(int(rng.integers(lo, hi + 1))):
            h, hp, hq, info = fn(p, q, rng)
            Z, Zp, Zq = Z + h, Zp + hp, Zq + hq
            parts.append(info)
    Zx, Zy = Zp * z0, Zq * z0  # derivatives with respect to x̄, ȳ
    normals = np.stack([Zx, Zy, -(Z + xn * Zx + yn * Zy)], axis=-1)
    normals /= np.sqrt(np.sum(normals**2, axis=-1, keepdims=True))
    if wide:  # a steep sheet with a fold can turn a strip away from the camera: such points are not seen
        seen = normals[:, 2] < -0.05
        mask[mask] = seen
        xn, yn, Z, normals = xn[seen], yn[seen], Z[seen], normals[seen]
    points = Z[:, None] * np.stack([xn, yn, np.ones_like(xn)], axis=-1)
    radiance, light_params = _shade(normals, points, rng, lighting, wide)
    if wide:  # faint texture-free shading noise: a few low-frequency waves across the image, up to 4%
        field = np.zeros(len(xn))
        for _ in range(3):
            k = rng.normal(0, 1, 2) * 2 * np.pi / rng.uniform(0.3, 1.0)
            field += np.cos(k[0] * u[mask] / width + k[1] * v[mask] / height + rng.uniform(0, 2 * np.pi)) / 3
        radiance *= 1.0 + rng.uniform(0, 0.04) * field[:, None]
    noise_sigma = rng.uniform(0.004, 0.02)
    radiance += noise_sigma * rng.standard_normal(radiance.shape)
    image = rng.uniform(0.0, 0.04) + 0.01 * rng.standard_normal((height, width, 3), dtype="float32")
    image[mask] = radiance
    if encoding == "srgb":  # a camera's tone curve (the default of world="physical" only)
        image = np.clip(image, 0, 1)
        image = np.where(image <= 0.0031308, 12.92 * image, 1.055 * image ** (1 / 2.4) - 0.055)
    image = np.clip(np.round(image * 255), 0, 255).astype("uint8")
    depth = np.zeros((height, width), "float32")
    depth[mask] = Z
    normal_map = np.zeros((height, width, 3), "float32")
    normal_map[mask] = normals
    params = {
        "kind": kind,
        "world": world,
        "z0": z0,
        "tilt": tilt.tolist(),
        "slant_deg": float(np.degrees(np.arctan(np.hypot(*tilt)))),
        "deformations": parts,
        "noise_sigma": noise_sigma,
        "encoding": encoding or "linear",
        **light_params,
    }
    return Sample(image, depth, normal_map, mask, K, params)


def render_batch(seeds, height=224, width=224, kind=None, lighting="rig", world="standard", light=False, encoding=None):
    """Stacks `render` over seeds: dict of images (B,H,W,3) uint8, depth (B,H,W,1), normals (B,H,W,3), mask;
    with `light`, also each render's light code (B, 9) (`lighting.code_from_render`); `encoding` as `render`'s."""
    samples = [render(int(s), height, width, kind, lighting, world, encoding) for s in seeds]
    extra = {}
    if light:
        from keras_patchnet.lighting import code_from_render

        extra["light"] = np.stack([code_from_render(s) for s in samples]).astype("float32")
    return {
        **extra,
        "images": np.stack([s.image for s in samples]),
        "depth": np.stack([s.depth for s in samples])[..., None],
        "normals": np.stack([s.normals for s in samples]),
        "mask": np.stack([s.mask for s in samples])[..., None],
    }
