"""Renders that look like a set-up of one's own: its light and its camera's encoding, fitted from its frames.

`fit_setup(dataset)` reads the frames' brightness against their normals and fits the set-up's light (the 9
coefficients of `keras_patchnet.lighting`) under each encoding a camera may have written (linear, sRGB), keeping the
one in which brightness is the more linear in the cosine to the light, as Lambertian shading is;
`lookalike_renders(setup, count, height, width)` draws the package's own sheets under that light, in that encoding
and at the frames' brightness. Fine-tuning mixes them with the frames (`finetune(..., renders=N)`): the frames
tell the set-up, the renders add shapes. Plain NumPy.
"""

import warnings

import numpy as np

from keras_patchnet import lighting

POOR_FIT = 0.5  # share of the brightness's variance unexplained above which the fit is reported as poor


def _to_linear(x, encoding):
    x = np.asarray(x, "float64") / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) if encoding == "srgb" else x


def _encode(linear, encoding):
    x = np.clip(linear, 0.0, 1.0)
    if encoding == "srgb":
        x = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return np.round(x * 255.0).astype("uint8")


def fit_setup(dataset, max_frames=64):
    """The set-up of `dataset`'s frames (anything with `len` and `load(i)` giving "image" 0-255, "normals", "mask"
    and optionally "valid", as `TexlessDataset` does): {"code": (9,), "encoding": "linear" | "srgb", "light": the
    renderer's light dict (direction, power, ambient), "level": the median linear brightness of the foreground,
    "residuals": {encoding: the share of the brightness's variance that ambient + power * cosine to the light
    leaves unexplained}}; a warning when even the better encoding leaves more than half of it unexplained. A
    `lighting.LightError` when the frames hold fewer than 30 usable pixels."""
    grey, normals = [], []
    for i in range(min(len(dataset), max_frames)):
        s = dataset.load(i)
        n = np.asarray(s["normals"], "float64")
        known = np.asarray(s.get("valid", s["mask"]), bool) & (np.linalg.norm(n, axis=-1) > 0.5)
        grey.append(np.asarray(s["image"], "float64").mean(-1)[known])
        normals.append(n[known] / np.linalg.norm(n[known], axis=-1, keepdims=True))
    grey, normals = np.concatenate(grey), np.concatenate(normals)
    fits = {}
    for encoding in ("linear", "srgb"):
        b = _to_linear(grey, encoding)
        keep = (b > 1e-3) & (b < 0.99)
        if keep.sum() < 30:
            raise lighting.LightError(f"only {int(keep.sum())} usable pixels in the frames to fit a light on; need 30")
        b, n = b[keep], normals[keep]
        code = lighting.code_from_normals(b, n, np.ones(len(b), bool))
        # In the right encoding brightness is linear in the cosine to the light (ambient + power * cosine): the
        # share of its variance that line leaves unexplained decides (the 9 coefficients bend to fit either).
        cosine = np.clip(n @ lighting.direction(code), 0.0, None)
        A = np.stack([np.ones_like(cosine), cosine], -1)
        line, *_ = np.linalg.lstsq(A, b, rcond=None)
        fits[encoding] = (float((A @ line - b).var() / max(b.var(), 1e-12)), code, float(np.median(b)))
    encoding = min(fits, key=lambda e: fits[e][0])
    code = fits[encoding][1]
    if fits[encoding][0] > POOR_FIT:
        warnings.warn(
            f"One light explains the frames' brightness poorly ({fits[encoding][0]:.0%} of its variance left "
            "unexplained: noisy normals, shadows or texture): renders under the fitted light may not look like the "
            "set-up",
            stacklevel=2,
        )
    share = lighting.ambient_share(code)
    light = {
        "direction": tuple(float(v) for v in lighting.direction(code)),
        "power": 0.9 * max(1.0 - share, 0.05),
        "ambient": 0.9 * share,
    }
    return {
        "code": code,
        "encoding": encoding,
        "light": light,
        "level": fits[encoding][2],
        "residuals": {e: round(fits[e][0], 4) for e in fits},
    }


def lookalike_renders(setup, count, height, width, seed=0, world="standard"):
    """`count` renders (dicts of "image" uint8, "depth", "normals", "mask", as `TexlessDataset.load` gives) of the
    package's sheets (`world`, as `keras_patchnet.data.render`) under `setup`'s light (from `fit_setup`), exposed
    alike so that their foregrounds' median linear brightness is the set-up's, then written in its encoding."""
    from keras_patchnet.data.synthetic import render

    drawn = [
        render(seed + k, height, width, lighting=setup["light"], world=world, encoding="linear") for k in range(count)
    ]
    foreground = np.concatenate([_to_linear(s.image, "linear").mean(-1)[s.mask] for s in drawn] + [np.ones(1)])
    scale = setup["level"] / max(np.median(foreground[foreground > 1e-3]), 1e-6)  # one exposure for all of them
    return [
        {
            "image": _encode(_to_linear(s.image, "linear") * scale, setup["encoding"]),
            "depth": s.depth,
            "normals": s.normals,
            "mask": s.mask,
        }
        for s in drawn
    ]


class Frames(list):
    """A list of frame dicts that reads like a dataset (`len`, `load(i)`)."""

    def load(self, i):
        return self[i]
