"""The renderer's camera and lights, shared by the procedural world (`data.synthetic`), the physical world
(`data.physical`), the matte ball (`data.ball`) and light codes (`keras_patchnet.lighting`)."""

import numpy as np

FOCAL_AT_224 = 525.0  # Kinect-like focal length in pixels, for a 224-pixel-wide crop at native resolution


def intrinsics(height, width):
    """Kinect-like pinhole intrinsics scaled so that any image size sees the same field of view."""
    f = FOCAL_AT_224 * width / 224.0
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]], "float32")


# Lighting rigs after the dataset's four set-ups (sequence prefixes Lc, Ld, Ll, Lr): directions towards the lights
# (camera frame) and kinds; each render jitters them. One to four lights each.
RIGS = {
    "c": [((0.0, -0.2, -1.0), "directional")],
    "l": [((-1.0, -0.3, -0.8), "directional"), ((-0.6, 0.4, -1.0), "point")],
    "r": [((1.0, -0.3, -0.8), "directional"), ((0.6, 0.4, -1.0), "point"), ((0.0, -1.0, -0.7), "point")],
    "d": [
        ((0.0, 1.0, -0.8), "directional"),
        ((-0.7, 0.6, -1.0), "point"),
        ((0.7, 0.6, -1.0), "point"),
        ((0.0, -0.5, -1.0), "directional"),
    ],
}

# lighting="fixed", a calibrated set-up: one directional light from the upper right of the camera, with fixed power
# and ambient light and no highlight, so that shading tells the angle to the light up to albedo (0.8-0.95) and noise.
FIXED_LIGHT, FIXED_POWER, FIXED_AMBIENT = (0.3, -0.4, -1.0), 0.8, 0.1


def calibrated(lighting):
    """(direction, power, ambient) of a calibrated lighting: "fixed" (the shipped presets' light) or a light of
    one's own, {"direction": (x, y, z) towards the light, camera frame, "power": 0.8, "ambient": 0.1} (power and
    ambient optional, defaulting to the calibrated light's); None for "rig" and "random". A ValueError naming
    `lighting` for a malformed dict."""
    if isinstance(lighting, dict):
        unknown = set(lighting) - {"direction", "power", "ambient"}
        try:
            direction = np.asarray(lighting["direction"], "float64").reshape(3)
            power = float(lighting.get("power", FIXED_POWER))
            ambient = float(lighting.get("ambient", FIXED_AMBIENT))
            ok = not unknown and direction[2] < 0 and power > 0 and ambient >= 0 and np.isfinite(direction).all()
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                "A light of one's own must be {'direction': (x, y, z) with z < 0 (towards the light, camera frame), "
                f"'power': > 0, 'ambient': >= 0}}. Received: lighting={lighting!r}"
            )
        return direction, power, ambient
    if isinstance(lighting, str) and lighting == "fixed":
        return np.array(FIXED_LIGHT, "float64"), FIXED_POWER, FIXED_AMBIENT
    return None


def _lights(rng, lighting):
    """[(direction, kind)] for one render: a jittered rig, or 1-4 lights from anywhere on the camera's side."""
    fixed = calibrated(lighting)
    if fixed is not None:
        return [(fixed[0].copy(), "directional")]
    if lighting == "rig":
        rig = RIGS[sorted(RIGS)[int(rng.integers(len(RIGS)))]]
        return [(np.asarray(d) + rng.normal(0, 0.15, 3), kind) for d, kind in rig]
    return [
        (
            np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), -rng.uniform(0.3, 1.2)]),
            "directional" if rng.random() < 0.5 else "point",
        )
        for _ in range(int(rng.integers(1, 5)))
    ]
