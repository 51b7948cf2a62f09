"""`world="physical"`: simulated sheets from the shape bank drawn as a camera sees them.

The shapes are cloth and paper simulated by a physics engine (`tools/simulate_sheets.py`; the bank lives in a
source checkout's `data/shape-bank/train`, vertex grids in float16). Each render draws one sheet (mirrored and
turned at random), seen by the Kinect-like camera 1.0-1.4 m away along the sheet's mean normal (tilted by up to 25
degrees, any roll), and forms its image the way light and a camera do:
- Lambertian shading (albedo 0.8-0.95) under the renderer's lights (`lighting="fixed" | "rig" | "random"`, as
  `render`), with cast shadows from shadow maps (soft edges) and an ambient sky darkened where the sheet hides it
  from itself (ambient occlusion over 24 directions, per vertex, computed once per sheet);
- a background that is black, a flat grey or a smooth gradient;
- anti-aliased silhouettes (2 x 2 samples a pixel), then a camera: shot noise growing with brightness, read noise,
  the sRGB tone curve and 8-bit quantisation (`encoding="srgb"`, the default; `"linear"` skips the curve).
Depth, normals and the mask are exact (`kp.data.mesh.rasterize` at the pixel centres).
"""

import functools
import glob
import os

import numpy as np

from keras_patchnet.data.mesh import grid_triangles, rasterize, vertex_normals

BANK = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "shape-bank")
AO_DIRECTIONS = 24


class ShapeBank:
    """The simulated sheets of a bank folder (`sheets_*.npz` chunks): `len(bank)`, `bank.vertices[i]` (G, G, 3)
    float32 metres, `bank.scenarios[i]`, and per-vertex ambient occlusion `bank.occlusion(i)` (cached)."""

    def __init__(self, folder):
        paths = sorted(glob.glob(os.path.join(folder, "sheets_*.npz")))
        if not paths:
            raise FileNotFoundError(
                f"No shape bank in {folder} (sheets_*.npz, made by tools/simulate_sheets.py): the bank is part of "
                f"a source checkout, not of the installed package"
            )
        vertices, scenarios, occlusion = [], [], {}
        for path in paths:
            with np.load(path) as f:
                first = sum(len(v) for v in vertices)
                vertices.append(f["vertices"].astype("float32"))
                names = [str(s) for s in f["scenarios"]]
                scenarios += [names[i] for i in f["scenario"]]
            stored = path.replace("sheets_", "occlusion_")  # precomputed by tools/bank_occlusion.py
            if os.path.exists(stored):
                with np.load(stored) as f:
                    occlusion.update({first + k: a.astype("float32") for k, a in enumerate(f["sky"])})
        self.folder, self.vertices, self.scenarios = folder, np.concatenate(vertices), scenarios
        self._occlusion = occlusion

    def __len__(self):
        return len(self.vertices)

    def occlusion(self, i):
        """(G, G, 2) share of the sky each vertex sees on its two sides (along its normal, and against it)."""
        if i not in self._occlusion:
            self._occlusion[i] = sky_visibility(self.vertices[i].astype("float64"))
        return self._occlusion[i]


@functools.lru_cache(maxsize=2)
def default_bank(split="train"):
    return ShapeBank(os.path.join(BANK, split))


def _directions(count):
    """`count` unit vectors spread over the sphere (a Fibonacci lattice)."""
    k = np.arange(count) + 0.5
    z = 1 - 2 * k / count
    phi = np.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], -1)


def _frame(forward):
    """A rotation whose third row is `forward` (unit)."""
    helper = np.array([1.0, 0, 0]) if abs(forward[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(helper, forward)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(forward, x), forward])


def _depth_from(points, grid, direction, size=96, bias=None):
    """Whether each of `points` (N, 3) is seen from far away along `direction` (towards the viewer), past the sheet
    `grid`: an orthographic depth map (a pinhole 100 m away, a long focal length) of the sheet, compared with each
    point's depth, with percentage-closer filtering over 3 x 3 map pixels (soft edges). Returns (N,) in [0, 1]."""
    R = _frame(-direction)
    centre = grid.reshape(-1, 3).mean(0)
    eye = centre + direction * 100.0
    cam = (grid - eye) @ R.T
    extent = np.abs(cam[..., :2]).max() * 1.1 + 1e-6
    f = (size / 2) * 100.0 / extent
    K = np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1]])
    zmap = rasterize(cam, K, size, size)["depth"]
    if bias is None:  # two map pixels of depth at a 60-degree slope: no self-shadowing stripes ("acne")
        bias = 3.5 * extent / size
    p = (points - eye) @ R.T
    u = f * p[:, 0] / p[:, 2] + (size - 1) / 2
    v = f * p[:, 1] / p[:, 2] + (size - 1) / 2
    lit = np.zeros(len(points))
    for du in (-1, 0, 1):
        for dv in (-1, 0, 1):
            iu = np.clip(np.round(u).astype(int) + du, 0, size - 1)
            iv = np.clip(np.round(v).astype(int) + dv, 0, size - 1)
            z = zmap[iv, iu]
            lit += (z == 0) | (p[:, 2] <= z + bias)
    return lit / 9.0


def sky_visibility(grid, count=AO_DIRECTIONS):
    """(G, G, 2) cosine-weighted share of the sky each vertex sees on the side its normal points to and on the
    other: 1 on an open flat sheet, less in folds and under overhangs."""
    points = grid.reshape(-1, 3)
    normals = vertex_normals(grid).reshape(-1, 3)
    seen = np.zeros((len(points), 2))
    weight = np.zeros((len(points), 2))
    for d in _directions(count):
        visible = _depth_from(points + normals * 1e-3 * np.sign(normals @ d)[:, None], grid, d)
        cos = normals @ d
        for side, c in ((0, cos), (1, -cos)):
            w = np.clip(c, 0, None)
            seen[:, side] += w * visible
            weight[:, side] += w
    return (seen / np.maximum(weight, 1e-9)).reshape(*grid.shape[:2], 2).astype("float32")


def camera_pose(grid, rng, max_tilt_deg=25.0, distance=(1.0, 1.4)):
    """(R, position): a world -> camera rotation (rows: the camera's x, y, z axes) and the camera's centre, looking
    at the sheet along its mean normal, tilted by up to `max_tilt_deg`, any roll, at a distance in `distance`."""
    points = grid.reshape(-1, 3)
    centre = points.mean(0)
    normal = np.linalg.svd(points - centre, full_matrices=False)[2][2]  # the sheet's least-spread direction
    if abs(normal[2]) > 0.3:
        normal = normal if normal[2] > 0 else -normal  # a lying or draped sheet: seen from above
    elif rng.random() < 0.5:
        normal = -normal
    tilt = np.radians(rng.uniform(0, max_tilt_deg))
    side = np.cross(normal, rng.normal(size=3))
    side /= np.linalg.norm(side)
    view = np.cos(tilt) * normal + np.sin(tilt) * side
    view /= np.linalg.norm(view)
    position = centre + view * rng.uniform(*distance)
    z = -view
    x = np.cross(z, rng.normal(size=3))
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z]), position


def _background(rng, height, width):
    kind = rng.random()
    if kind < 0.3:
        return np.full((height, width, 1), rng.uniform(0, 0.02))
    level = rng.uniform(0.02, 0.35)
    if kind < 0.6:
        return np.full((height, width, 1), level)
    v, u = np.mgrid[:height, :width] / max(height, width)
    g = rng.normal(0, 1, 2)
    wave = np.cos(2 * np.pi * (rng.normal(0, 1.5, 2) @ np.stack([u, v]).reshape(2, -1))).reshape(height, width)
    field = level * (1 + 0.5 * np.tanh(g[0] * (u - 0.5) + g[1] * (v - 0.5)) + 0.2 * wave)
    return np.clip(field, 0, 1)[..., None]


def pixel_filter(image, sigma):
    """A separable Gaussian blur of `sigma` pixels (3 taps an axis, edges repeated): what a lens, a sensor's pixel
    area and a path tracer's pixel filter do to an edge."""
    k = np.exp(-0.5 * (np.arange(-1, 2) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
    rows = k[0] * padded[:-2] + k[1] * padded[1:-1] + k[2] * padded[2:]
    return k[0] * rows[:, :-2] + k[1] * rows[:, 1:-1] + k[2] * rows[:, 2:]


def camera_image(radiance, rng, encoding="srgb"):
    """Linear radiance (H, W, 3), about 0-1 -> an 8-bit image: shot noise (variance growing with the signal), read
    noise, the sRGB curve (or none for `encoding="linear"`), rounding."""
    gain = rng.uniform(0.002, 0.01)  # shot noise: variance = gain * signal
    read = rng.uniform(0.002, 0.008)
    noisy = radiance + np.sqrt(gain * np.clip(radiance, 0, None)) * rng.standard_normal(radiance.shape)
    noisy = np.clip(noisy + read * rng.standard_normal(radiance.shape), 0, 1)
    if encoding == "srgb":
        noisy = np.where(noisy <= 0.0031308, 12.92 * noisy, 1.055 * noisy ** (1 / 2.4) - 0.055)
    return np.round(noisy * 255).astype("uint8")


def render_physical(rng, height, width, lighting="fixed", bank=None, encoding="srgb"):
    """One render of a bank sheet: (image uint8, depth, normals, mask, intrinsics, params), as `render` returns."""
    from keras_patchnet.data.lights import _lights, intrinsics
    from keras_patchnet.data.lights import calibrated as calibrated_light

    bank = default_bank() if bank is None else bank
    index = int(rng.integers(len(bank)))
    grid = bank.vertices[index].astype("float64")
    sky = bank.occlusion(index)
    if rng.random() < 0.5:  # mirrored: as likely as the simulated one
        grid, sky = grid[:, ::-1] * [-1, 1, 1], sky[:, ::-1, ::-1]
    K = intrinsics(height, width)
    for _ in range(20):
        R, position = camera_pose(grid, rng)
        cam = (grid - position) @ R.T
        truth = rasterize(cam, K, height, width)
        if truth["mask"].mean() > 0.05:
            break
    m = truth["mask"]
    corners = _triangles(grid.shape[:2])[truth["triangle"][m]]  # (n, 3) vertex indices
    bary = truth["barycentric"][m]
    normals = truth["normals"][m].astype("float64")
    v_normals = vertex_normals(cam).reshape(-1, 3)
    seen = np.einsum("nk,nkc->nc", bary, v_normals[corners])
    front = (seen * normals).sum(-1) > 0  # which side of the sheet the camera sees
    share = np.einsum("nk,nks->ns", bary, sky.reshape(-1, 2)[corners])
    ambient_share = np.where(front, share[:, 0], share[:, 1])
    v, u = np.nonzero(m)
    depth = truth["depth"][m].astype("float64")
    points = np.stack([(u - K[0, 2]) / K[0, 0] * depth, (v - K[1, 2]) / K[1, 1] * depth, depth], -1)
    fixed = calibrated_light(lighting)
    calibrated = fixed is not None
    albedo = rng.uniform(0.8, 0.95)
    ambient = fixed[2] if calibrated else rng.uniform(0.05, 0.3)
    radiance = ambient * ambient_share
    rig = _lights(rng, lighting)
    lights = []
    for direction, kind in rig:
        power = fixed[1] if calibrated else rng.uniform(0.4, 1.0) / len(rig) ** 0.75
        direction = np.asarray(direction, "float64")
        direction[2] = min(direction[2], -0.2)  # on the camera's side
        direction /= np.linalg.norm(direction)
        if kind == "directional":
            to_light, falloff = np.broadcast_to(direction, points.shape), 1.0
            shadow = _depth_from(points + normals * 3e-3, cam, direction)
            lights.append(("directional", direction.tolist(), power))
        else:
            centre = points.mean(0)
            lamp = centre + direction * rng.uniform(0.5, 1.5)
            to_light = lamp - points
            dist = np.linalg.norm(to_light, axis=-1, keepdims=True)
            to_light, falloff = to_light / dist, (np.linalg.norm(lamp - centre) / dist[:, 0]) ** 2
            shadow = _depth_from(points + normals * 3e-3, cam, _unit(lamp - centre))  # as if from afar
            lights.append(("point", lamp.tolist(), power))
        radiance = radiance + power * falloff * shadow * np.clip((normals * to_light).sum(-1), 0, None)
    image = np.repeat(_background(rng, height, width), 3, axis=-1)
    image[m] = (albedo * radiance)[:, None]
    image = pixel_filter(image, rng.uniform(0.35, 0.6))  # the optics' and sensor's blur: anti-aliased edges
    params = {
        "world": "physical",
        "sheet": index,
        "scenario": bank.scenarios[index],
        "albedo": float(albedo),
        "ambient": float(ambient),
        "lights": lights,
        "n_lights": len(rig),
        "encoding": encoding,
    }
    return camera_image(image, rng, encoding), truth, K, params


@functools.lru_cache(maxsize=8)
def _triangles(shape):
    return grid_triangles(*shape)


def _unit(v):
    return v / np.linalg.norm(v)
