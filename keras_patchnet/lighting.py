"""Light as data: a code for distant light on a matte (Lambertian) surface, and its calibration from one photo of
a matte ball.

The code is the 9 coefficients of order-2 real spherical harmonics (Ramamoorthi & Hanrahan 2001: they hold about
98% of the Lambertian irradiance under any distant light) of the shading a matte surface shows as a function of its
unit normal n, in the OpenCV camera frame (x right, y down, z forward; normals point to the camera, n_z < 0), on
linear brightness (an image's encoding undone first). Basis order: Y00, Y1-1 (y), Y10 (z), Y11 (x), Y2-2 (xy),
Y2-1 (yz), Y20 (3z² - 1), Y21 (xz), Y22 (x² - y²), with the usual constants. The code is scaled so that its
shading averages 1 over the camera-facing normals (n_z < 0), so exposure and albedo do not change it (a fit over
the normals a camera can see fixes the code on that half sphere; its constant term alone would not be a stable
scale); `shade(normals, code)` is the shading up to one scale.

    >>> import numpy as np
    >>> code = code_from_lights([("directional", [0.3, -0.4, -1.0], 0.8)], ambient=0.1)
    >>> mean = shade(hemisphere(), code).mean()
    >>> round(float(mean), 3), direction(code).round(2).tolist(), round(ambient_share(code), 2)
    (1.0, [0.27, -0.35, -0.9], 0.1)

`light.json` (`save_light` / `load_light`): {"format": "keras-patchnet-light", "version": 1, "sh9": [9 numbers],
"direction": [x, y, z] (towards the dominant light), "ambient_share": a (the share of the brightness of a surface
facing the dominant light that does not depend on its normal)}.
"""

import json

import numpy as np

C0, C1, C2, C20, C22 = 0.282095, 0.488603, 1.092548, 0.315392, 0.546274
FORMAT = "keras-patchnet-light"
# `light_fit(...)["residual"]` above which `keras-patchnet predict --warn-light` warns that an image is not lit as the
# preset assumes: the 95th percentile over validation images where the default preset beats the flat plane
# (research/light_fit.py, 2026-12-07). Off by default: on the test images its ROC AUC at telling worse-than-plane
# maps from better ones was 0.58, below the 0.75 a default-on warning needs (docs/lighting-study.md).
LIGHT_FIT_WARNING = 0.099


class LightError(ValueError):
    """A photo or file from which no light code can be made; the message says why, in one line."""


def basis(normals):
    """(..., 3) unit normals -> (..., 9) order-2 real spherical harmonics."""
    n = np.asarray(normals, "float64")
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    return np.stack(
        [
            np.full_like(x, C0),
            C1 * y,
            C1 * z,
            C1 * x,
            C2 * x * y,
            C2 * y * z,
            C20 * (3 * z**2 - 1),
            C2 * x * z,
            C22 * (x**2 - y**2),
        ],
        -1,
    )


def _normalised(coefficients):
    c = np.asarray(coefficients, "float64")
    mean = _HEMISPHERE_MEAN @ c if np.isfinite(c).all() else np.nan
    if not mean > 0:
        raise LightError("the fitted light leaves the camera-facing normals dark: the surface is not lit")
    return c / mean


def shade(normals, code):
    """Shading of `normals` (..., 3) under `code` (9,): relative brightness (1 on average over camera-facing
    normals)."""
    return basis(normals) @ np.asarray(code, "float64")


def code_from_normals(brightness, normals, mask=None, saturated=0.99, dark=1e-3):
    """The code that best explains linear `brightness` (H, W) or (H, W, 3) (0-1, or any scale) of a matte surface
    with known unit `normals` (H, W, 3), over `mask` (default: where the normals are non-zero), leaving out
    saturated (>= `saturated` of the maximum code value 1, on a 0-1 scale) and black (< `dark`) pixels. A least-
    squares fit of the 9 coefficients, divided by the constant term."""
    b = np.asarray(brightness, "float64")
    b = b.mean(-1) if b.ndim == 3 else b
    n = np.asarray(normals, "float64")
    keep = np.linalg.norm(n, axis=-1) > 0.5 if mask is None else np.asarray(mask, bool).copy()
    keep &= np.isfinite(b) & (b < saturated) & (b > dark)
    if keep.sum() < 30:
        raise LightError(f"only {int(keep.sum())} usable pixels (unsaturated, not black) to fit a light on; need 30")
    A = basis(n[keep] / np.linalg.norm(n[keep], axis=-1, keepdims=True))
    coefficients, *_ = np.linalg.lstsq(A, b[keep], rcond=None)
    return _normalised(coefficients)


def hemisphere(count=4000):
    """Unit normals spread over the half sphere that faces the camera (n_z < 0)."""
    k = np.arange(count) + 0.5
    z = -k / count
    phi = np.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], -1)


def irradiance(normals, lights, ambient, centre=None):
    """Lambertian shading of `normals` under the renderer's lights: `ambient` plus, for each ("directional", towards
    the light, power) or ("point", position, power), power * max(0, n . l); a point lamp is seen from `centre`
    (default 1.2 m in front of the camera) as a light in its direction."""
    n = np.asarray(normals, "float64")
    total = np.full(n.shape[:-1], float(ambient))
    centre = np.array([0.0, 0.0, 1.2]) if centre is None else np.asarray(centre, "float64")
    for kind, where, power in lights:
        to = np.asarray(where, "float64") - (centre if kind == "point" else 0.0)
        total += power * np.clip(n @ (to / np.linalg.norm(to)), 0, None)
    return total


def code_from_lights(lights, ambient, centre=None, rim=0.9):
    """The code of the renderer's own light parameters (as in a render's `params["lights"]` and
    `params["ambient"]`): the shading of camera-facing normals fitted by the 9 coefficients, each normal weighted
    as a ball's photo weights it (by its projected area, |n_z|, the rim left out), so that the code of a ball's
    photo and the code of its lights agree."""
    n = hemisphere(20000)
    keep = np.hypot(n[:, 0], n[:, 1]) < rim
    n = n[keep]
    w = np.sqrt(np.abs(n[:, 2]))[:, None]
    coefficients, *_ = np.linalg.lstsq(basis(n) * w, irradiance(n, lights, ambient, centre) * w[:, 0], rcond=None)
    return _normalised(coefficients)


def code_from_render(sample):
    """The code of a render's own light (`keras_patchnet.data.render`: its `params["lights"]` and
    `params["ambient"]`), point lamps seen from the sheet's centre (the mean of its points, from depth)."""
    params, depth, mask = sample.params, np.asarray(sample.depth, "float64"), np.asarray(sample.mask, bool)
    centre = None
    if mask.any():
        K = np.asarray(sample.intrinsics, "float64")
        v, u = np.nonzero(mask)
        z = depth[v, u]
        centre = np.array([((u - K[0, 2]) * z / K[0, 0]).mean(), ((v - K[1, 2]) * z / K[1, 1]).mean(), z.mean()])
    return code_from_lights(params["lights"], params["ambient"], centre)


def mirror_code(code):
    """The code of the same light seen in the image mirrored left-right (x -> -x): the terms odd in x change sign."""
    return np.asarray(code, "float64") * np.array([1, 1, 1, -1, -1, 1, 1, -1, 1])


def calibrated_code():
    """The code of the calibrated light the shipped presets were trained under (`lighting="fixed"`)."""
    from keras_patchnet.data.lights import FIXED_AMBIENT, FIXED_LIGHT, FIXED_POWER

    return code_from_lights([("directional", FIXED_LIGHT, FIXED_POWER)], FIXED_AMBIENT)


def difference(a, b):
    """How far apart two lights are: the mean |shading of a - shading of b| over camera-facing normals (b scaled to
    a), as a share of a's brightest shading; 0 for the same light at any exposure."""
    n = hemisphere(3000)
    sa, sb = shade(n, a), shade(n, b)
    sb = sb * (sa @ sb) / max(sb @ sb, 1e-12)
    return float(np.abs(sa - sb).mean() / max(sa.max(), 1e-12))


def light_fit(image, normals, mask=None, code=None, encoding="linear"):
    """How well an image fits the light a model assumes, given the normals it predicted: the shading of `normals`
    under `code` (default: the calibrated light, `calibrated_code()`), scaled by least squares to the image's linear
    brightness over `mask` (default: where the normals are non-zero), against that brightness.

    Returns {"residual": RMS of (brightness - scaled shading) over the mean brightness (0: the image is exactly
    what the normals give under the light), "light_difference": `difference(code, the code fitted to the image and
    the normals)` (0: the image's light is the assumed light, as far as the normals tell)}; NaN for both when the
    foreground has fewer than 30 pixels. `image`: (H, W, 3) or (H, W), 0-255; `encoding`: "linear" or "srgb"."""
    x = np.asarray(image, "float64")
    x = x.mean(-1) if x.ndim == 3 else x
    x = x / 255.0
    if encoding == "srgb":
        x = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    elif encoding != "linear":
        raise ValueError(f"`encoding` must be 'linear' or 'srgb'. Received: encoding={encoding!r}")
    n = np.asarray(normals, "float64")
    if n.ndim != 3 or n.shape[-1] != 3 or n.shape[:2] != x.shape:
        raise ValueError(
            f"`normals` must be (H, W, 3) with the image's height and width {x.shape}. Received: shape {n.shape}"
        )
    length = np.linalg.norm(n, axis=-1)
    keep = length > 0.5 if mask is None else np.asarray(mask, bool) & (length > 0.5)
    keep &= (x > 1e-3) & (x < 0.99)
    if keep.sum() < 30:
        return {"residual": float("nan"), "light_difference": float("nan")}
    code = calibrated_code() if code is None else np.asarray(code, "float64")
    unit = n[keep] / length[keep, None]
    shading, brightness = shade(unit, code), x[keep]
    scale = (shading @ brightness) / max(shading @ shading, 1e-12)
    residual = np.sqrt(np.mean((brightness - scale * shading) ** 2)) / max(brightness.mean(), 1e-12)
    try:
        fitted = code_from_normals(x, n, keep)
        light_difference = difference(code, fitted)
    except LightError:
        light_difference = float("nan")
    return {"residual": float(residual), "light_difference": float(light_difference)}


def direction(code):
    """The dominant light's direction (unit, towards the light): the camera-facing normal the code shades
    brightest."""
    n = hemisphere(8000)
    return n[np.argmax(shade(n, code))]


def ambient_share(code):
    """The ambient part a / (a + P) of the shading a + P max(0, n . l) (l = `direction(code)`) that fits the code
    best over the camera-facing normals a ball shows (weighted as in `code_from_lights`): 0 for a single light and
    no fill, near 1 for light from everywhere."""
    n = hemisphere(4000)
    n = n[np.hypot(n[:, 0], n[:, 1]) < 0.9]
    w = np.sqrt(np.abs(n[:, 2]))
    A = np.stack([np.ones(len(n)), np.clip(n @ direction(code), 0, None)], -1) * w[:, None]
    (a, p), *_ = np.linalg.lstsq(A, shade(n, code) * w, rcond=None)
    return float(np.clip(a / max(a + p, 1e-9), 0, 1))


def ball_normals(mask, intrinsics=None):
    """Normals of a ball seen in `mask` (H, W) bool, (H, W, 3) inside it and 0 outside, and its circle (cx, cy,
    r) in pixels (from the mask's centroid and area). With the camera's `intrinsics` (default: the package's
    Kinect-like camera scaled to the width) each pixel's ray meets the sphere that the circle subtends."""
    from keras_patchnet.data.lights import intrinsics as default_intrinsics

    h, w = mask.shape
    K = default_intrinsics(h, w) if intrinsics is None else np.asarray(intrinsics, "float64")
    v, u = np.nonzero(mask)
    cx, cy, r = u.mean(), v.mean(), np.sqrt(len(u) / np.pi)
    centre = np.array([(cx - K[0, 2]) / K[0, 0], (cy - K[1, 2]) / K[1, 1], 1.0])
    centre /= np.linalg.norm(centre)
    alpha = np.arctan(r / K[0, 0])  # the angular radius; the sphere's radius is 1, its distance 1 / sin(alpha)
    centre = centre / np.sin(alpha)
    vv, uu = np.mgrid[:h, :w]
    ray = np.stack([(uu - K[0, 2]) / K[0, 0], (vv - K[1, 2]) / K[1, 1], np.ones((h, w))], -1)
    ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
    along = ray @ centre
    gap = along**2 - (centre @ centre - 1.0)
    inside = gap > 0
    t = along - np.sqrt(np.clip(gap, 0, None))
    normals = np.where(inside[..., None], ray * t[..., None] - centre, 0.0)
    return normals, (cx, cy, r)


def find_ball(brightness):
    """The mask of a ball on a plainer background (the median of the image's border). The pixels that differ from
    the background by more than 4% of the way to the ball's brightest (99.5th percentile), brighter (its lit side)
    or darker (a shadowed side below a grey background), isolated pixels dropped and their convex hull filled, give
    its region; a circle fitted to the region's edge where it stands out from the background (the silhouette, not
    the terminator, where the shading fades into the background's level) gives the ball."""
    b = np.asarray(brightness, "float64")
    border = np.concatenate([b[0], b[-1], b[:, 0], b[:, -1]])
    background, peak = np.median(border), np.percentile(b, 99.5)
    differs = np.abs(b - background) > 0.04 * (peak - background)
    differs &= _neighbours(differs, SQUARE) >= 5  # the pixel and at least 4 of its 8 neighbours
    region = _hull_filled(differs)
    edge = region & (_neighbours(region, CROSS) < 5) & (np.abs(b - background) > 0.12 * (peak - background))
    v, u = np.nonzero(edge)
    keep = np.ones(len(u), bool)
    for _ in range(3):  # least-squares circle (u - cx)^2 + (v - cy)^2 = r^2, then again without the outliers
        if keep.sum() < 12:
            return region
        a = np.stack([2 * u[keep], 2 * v[keep], np.ones(keep.sum())], -1)
        (cx, cy, c), *_ = np.linalg.lstsq(a, u[keep] ** 2.0 + v[keep] ** 2.0, rcond=None)
        r = np.sqrt(max(c + cx**2 + cy**2, 0.0))
        keep = np.abs(np.hypot(u - cx, v - cy) - r) < 2.0
    if not 2 < r < max(b.shape):
        return region
    vv, uu = np.mgrid[: b.shape[0], : b.shape[1]]
    disc = (uu - cx) ** 2 + (vv - cy) ** 2 <= (r + 0.5) ** 2  # edge pixels' centres lie half a pixel inside
    return region if (region & disc).sum() > 0.97 * (region | disc).sum() else disc  # a whole disc: as it is


SQUARE = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]  # a pixel and its 8 neighbours
CROSS = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]  # a pixel and its 4 neighbours


def _neighbours(mask, shifts):
    """How many of the pixels at `shifts` (dy, dx) from each pixel of `mask` (H, W) are set (outside: unset)."""
    padded, (h, w) = np.pad(mask, 1), mask.shape
    return sum(padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w].astype(int) for dy, dx in shifts)


def _hull_filled(mask):
    """The convex hull of the True pixels of `mask` (H, W), filled (pixel centres inside or on it)."""
    rows = np.nonzero(mask.any(1))[0]
    if len(rows) == 0:
        return mask
    first, last = mask[rows].argmax(1), mask.shape[1] - 1 - mask[rows, ::-1].argmax(1)
    # each row's outermost pixels hold the hull's corners: 2 H points, not every pixel of a large photo's ball
    points = sorted(set(zip(first.tolist(), rows.tolist())) | set(zip(last.tolist(), rows.tolist())))
    if len(points) < 3:
        return mask
    cross = lambda o, a, b: (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])  # noqa: E731
    hull = []
    for sweep in (points, points[::-1]):  # Andrew's monotone chain: lower, then upper hull
        half = []
        for p in sweep:
            while len(half) >= 2 and cross(half[-2], half[-1], p) <= 0:
                half.pop()
            half.append(p)
        hull += half[:-1]
    if len(hull) < 3:
        return mask
    top, bottom, left, right = rows[0], rows[-1] + 1, first.min(), last.max() + 1  # only the bounding box is tested
    vv, uu = np.mgrid[top:bottom, left:right]
    inside = np.ones(vv.shape, bool)
    for (x0, y0), (x1, y1) in zip(hull, hull[1:] + hull[:1]):  # counter-clockwise: inside is to the left
        inside &= (x1 - x0) * (vv - y0) - (y1 - y0) * (uu - x0) >= 0
    filled = mask.copy()
    filled[top:bottom, left:right] |= inside
    return filled


def code_from_ball(image, mask=None, encoding="srgb", rim=0.9, intrinsics=None):
    """The light code from one photo of a matte ball: `image` (H, W, 3) or (H, W), 8-bit (uint8) or float on the
    0-255 scale, encoded as `encoding` ("srgb" for a camera's photo, "linear"); the ball's pixels in `mask`
    (H, W) or found as the bright round blob. Pixels outside `rim` of the radius, saturated or black are left out.
    Raises `LightError` (one line) when there is no ball or it is mostly in shadow."""
    from keras_patchnet.ops.encoding import srgb_to_linear

    x = np.asarray(image, "float64")
    if x.ndim == 3:
        x = x.mean(-1)
    if x.ndim != 2 or x.size == 0:
        raise LightError(f"expected an image (H, W, 3) or (H, W). Received shape {np.shape(image)}")
    linear = np.asarray(srgb_to_linear(x.astype("float32"))) / 255.0 if encoding == "srgb" else x / 255.0
    given = mask is not None
    ball = np.asarray(mask, bool) if given else find_ball(linear)
    if ball.shape != linear.shape:
        raise LightError(f"the mask is {ball.shape[::-1]} but the image is {linear.shape[::-1]} (width x height)")
    if ball.sum() < 50 or ball.mean() > 0.9:
        raise LightError("no ball found: expected a matte ball filling 1-90% of the photo (pass --mask)")
    normals, _ = ball_normals(ball, intrinsics)
    disc = np.linalg.norm(normals, axis=-1) > 0
    overlap = (ball & disc).sum() / max((ball | disc).sum(), 1)
    if overlap < 0.85:
        why = "a ball mostly in shadow (only a crescent is lit)" if not given else "a mask that is not a round ball"
        raise LightError(f"no ball found: the bright region is not a disc ({overlap:.0%} overlap), {why}")
    lit = linear[disc] > 0.1 * np.percentile(linear[disc], 99)
    if lit.mean() < 0.4:
        raise LightError(
            f"the ball is mostly in shadow ({1 - lit.mean():.0%} of it dark): light it from the camera's side"
        )
    inner = disc & (np.linalg.norm(normals[..., :2], axis=-1) < rim)
    return code_from_normals(linear, normals, inner)


def save_light(path, code):
    """Writes `light.json` for `code` (9,)."""
    from keras_patchnet._atomic import write_text

    code = _normalised(code)
    record = {
        "format": FORMAT,
        "version": 1,
        "sh9": [round(float(c), 6) for c in code],
        "direction": [round(float(v), 4) for v in direction(code)],
        "ambient_share": round(ambient_share(code), 4),
    }
    write_text(path, json.dumps(record, indent=2) + "\n")
    return record


def load_light(path):
    """The code (9,) from a `light.json`; `LightError` naming the file when it is not one."""
    try:
        with open(path) as f:
            record = json.load(f)
        if record.get("format") != FORMAT or len(record["sh9"]) != 9:
            raise ValueError("not a keras-patchnet light file")
        return _normalised(record["sh9"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LightError(f"{path}: cannot read a light code ({e})") from None


_HEMISPHERE_MEAN = basis(hemisphere()).mean(0)  # a code's mean shading over camera-facing normals is this @ code
