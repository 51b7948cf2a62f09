"""Batches for `fit`: whole images (end-to-end training through the stitcher) or patches (the report's way)."""

import keras
import numpy as np

from keras_patchnet.constants import INTENSITIES, LIGHTINGS, WORLDS
from keras_patchnet.data.augment import augment as augment_sample
from keras_patchnet.data.synthetic import render
from keras_patchnet.lighting import code_from_render
from keras_patchnet.ops.grid import patch_grid
from keras_patchnet.ops.resize import resize_matrix

MODES = ("images", "patches")


class SyntheticSource:
    """Rendered samples on the fly: sample i of epoch e comes from seed (seed, e, i) when `resample` is True.

    Args:
        num_samples: samples per epoch.
        height, width: image size.
        seed: base seed; a held-out split uses a different one (see `keras_patchnet.data.TEST_SEED`).
        kind: surface kind or None (mixed).
        resample: draw new samples each epoch (the renderer is cheap), else the same ones every epoch.
        lighting: "rig", "random" or "fixed" (see `render`), or a mixture: several of them as a tuple or a
            comma-separated string ("fixed,rig,random"); sample i is lit by entry i modulo their number, so
            "fixed,fixed,rig,random" gives half the samples the calibrated light and a quarter each the others.
        world: "standard", "wide" or "physical" (see `render`), or a mixture as for `lighting` ("standard,physical"):
            sample i is of world entry (i // number of lightings) modulo their number, so that every lighting meets
            every world.
        scales: None (default): every image rendered at (height, width). A pair (low, high) with 1 <= low <= high:
            multi-scale samples, as a preset with a `working_width` sees larger photos: a quarter of the samples are
            rendered at (height, width), the others at that size times a factor drawn log-uniformly from
            [low, high] and shrunk back with the model's own antialiased resize (`ops.resize.resize_matrix`), so
            the image is float32; depth, normals and mask are the same scene rendered at (height, width).
        light: also give each sample its light's code (`"light"`, `lighting.code_from_render`), for a
            light-conditioned model (`PatchNet(light="sh9")`).
        encoding: how the images encode brightness, "linear" or "srgb" (what the model reads: its
            `input_encoding`); None (default): each world's own (see `render`).
    """

    def __init__(
        self,
        num_samples,
        height=224,
        width=224,
        seed=0,
        kind=None,
        resample=True,
        lighting="rig",
        world="standard",
        scales=None,
        light=False,
        encoding=None,
    ):
        self.light, self.encoding = bool(light), encoding
        self.num_samples, self.height, self.width = int(num_samples), int(height), int(width)
        self.lighting, self.lightings = lighting, parse_lightings(lighting)
        self.world, self.worlds = world, parse_worlds(world)
        self.seed, self.kind, self.resample, self.epoch = int(seed), kind, bool(resample), 0
        if scales is not None:
            ok = isinstance(scales, (tuple, list)) and len(scales) == 2
            if not ok or not 1 <= float(scales[0]) <= float(scales[1]):
                raise ValueError(
                    f"`scales` must be None or a pair (low, high) with 1 <= low <= high. Received: {scales!r}"
                )
            scales = (float(scales[0]), float(scales[1]))
        self.scales = scales

    def __len__(self):
        return self.num_samples

    def load(self, index):
        epoch = self.epoch if self.resample else 0
        key = [self.seed, epoch, int(index)]
        lighting = self.lightings[int(index) % len(self.lightings)]
        world = self.worlds[int(index) // len(self.lightings) % len(self.worlds)]
        s = render(np.random.default_rng(key), self.height, self.width, self.kind, lighting, world, self.encoding)
        sample = {"image": s.image, "depth": s.depth, "normals": s.normals, "mask": s.mask}
        if self.light:
            sample["light"] = code_from_render(s)
        if self.scales is not None:
            factor = _draw_scale(np.random.default_rng(key + [1]), *self.scales)
            if factor != 1.0:
                size = (round(self.height * factor), round(self.width * factor))
                large = render(np.random.default_rng(key), *size, self.kind, lighting, world, self.encoding).image
                sample["image"] = shrink(large, (self.height, self.width))
        return sample

    def on_epoch_end(self):
        self.epoch += 1


def light_channels_np(code):
    """NumPy twin of `ops.light.light_channels` for one code (9,) -> (9,) float32."""
    from keras_patchnet.ops import light

    code = np.asarray(code, "float64")
    peak = max(float((code @ light._HEMISPHERE.astype("float64")).max()), 1e-6)
    return (code @ light._REFERENCE.astype("float64") / peak).astype("float32")


def parse_lightings(lighting):
    """A lighting or a mixture of them ("fixed,rig,random" or a tuple) -> a non-empty tuple of `LIGHTINGS` names;
    a ValueError naming `lighting` otherwise."""
    return _mixture(lighting, "lighting", LIGHTINGS, "fixed,rig,random")


def parse_worlds(world):
    """A world or a mixture of them ("standard,physical" or a tuple) -> a non-empty tuple of `WORLDS` names; a
    ValueError naming `world` otherwise."""
    return _mixture(world, "world", WORLDS, "standard,physical")


def _mixture(value, name, known, example):
    names = value.split(",") if isinstance(value, str) else value
    try:
        names = tuple(str(n).strip() for n in names)
    except TypeError:
        names = ()
    if not names or any(n not in known for n in names):
        raise ValueError(
            f"`{name}` must be one of {known} or a comma-separated mixture of them, e.g. '{example}'. "
            f"Received: {name}={value!r}"
        )
    return names


def _draw_scale(rng, low, high):
    """1 for a quarter of the samples, else a factor log-uniform in [low, high]."""
    if rng.random() < 0.25:
        return 1.0
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def shrink(image, size):
    """NumPy twin of `ops.resize.resize` for one (H, W, C) image: float32 (h, w, C), antialiased."""
    rows, cols = resize_matrix(size[0], image.shape[0]), resize_matrix(size[1], image.shape[1])
    return np.einsum("hH,HWc,wW->hwc", rows, image.astype("float32"), cols, optimize=True)


def relative_depth(depth, mask):
    """Depth minus its foreground mean, 0 on background."""
    return np.where(mask, depth - depth[mask].mean() if mask.any() else 0.0, 0.0).astype("float32")


def cut_patches(array, grid):
    """NumPy twin of `ops.extract_patches` for one (H, W, C) array: (N, P, P, C), zero-padded if smaller."""
    P = grid.patch_size
    pad = [(0, grid.padded_height - grid.height), (0, grid.padded_width - grid.width), (0, 0)]
    array = np.pad(array, pad)
    return np.stack([array[y : y + P, x : x + P] for y in grid.origins_y for x in grid.origins_x])


class PatchNetDataset(keras.utils.PyDataset):
    """A `keras.utils.PyDataset` of (x, y) batches with y = {"depth": ..., "normals": ...}.

    x holds float32 RGB in [0, 255] (the models normalise intensities themselves). Depth targets are in metres,
    relative to the image's foreground mean when `relative_depth` (0 on background, where normals are 0 too: the
    losses find the foreground from the targets).

    Args:
        source: a `TexlessDataset`, a `SyntheticSource`, or anything with `len()` and `load(i)` -> dict.
        batch_size: images per batch (in "patches" mode, the patches of that many images).
        mode: "images" -> x (B, H, W, 3); "patches" -> x (B * N, P, P, 3), N patches per image on the grid of
            `patch_size`, `min_overlap`, `rule`. With `drop_empty_patches`, patches without foreground are left out,
            so the number of patches varies from batch to batch.
        augment: horizontal flips (normals' x negated) and photometric jitter of the image only (turn it off for a
            calibrated light: jitter breaks the brightness-to-angle relation, a flip moves the light).
        intensity: "patch" (default): images as they are; "image": each image scaled to a maximum of 255 before
            it is cut, as `PatchNet(intensity="image")` does (use the model's setting).
        input_encoding: how the source's pixels encode brightness, "linear" (default) or "srgb" (use the model's
            setting). In "patches" mode sRGB patches are decoded to linear here, since the patch network reads
            linear brightness; in "images" mode images are passed as they are, and `PatchNet` decodes them.
        flip: with `augment`, whether to flip (default True; turn it off for a fixed, calibrated light, which a
            mirror image would move to the other side).
        shuffle: reshuffle sample order every epoch (seeded by `seed` and the epoch).
        light: None (default), "sh9" or "sh9-film", for a light-conditioned model (use the model's setting): every
            sample must carry its light code ("light", e.g. `SyntheticSource(light=True)`); "images" mode gives
            x = {"images", "light"}, "patches" mode appends the code's 9 constant channels to every patch, as
            `PatchNet` does.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of PyDataset.
    """

    def __init__(
        self,
        source,
        batch_size=8,
        mode="images",
        patch_size=128,
        min_overlap=None,
        rule="even",
        relative_depth=True,
        augment=False,
        flip=True,
        intensity="patch",
        input_encoding="linear",
        shuffle=True,
        drop_empty_patches=False,
        seed=0,
        light=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if light not in (None, "sh9", "sh9-film"):
            raise ValueError(f"`light` must be None, 'sh9' or 'sh9-film'. Received: light={light!r}")
        self.light = light
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive int. Received: batch_size={batch_size!r}")
        if len(source) < 1:
            raise ValueError("`source` has no samples")
        self.source, self.batch_size, self.mode = source, batch_size, mode
        self.patch_size, self.min_overlap, self.rule = patch_size, min_overlap, rule
        if intensity not in INTENSITIES:
            raise ValueError(f"`intensity` must be one of {INTENSITIES}. Received: intensity={intensity!r}")
        self.relative_depth, self.augment, self.flip, self.shuffle = relative_depth, augment, flip, shuffle
        if input_encoding not in ("linear", "srgb"):
            raise ValueError(
                f"`input_encoding` must be 'linear' or 'srgb'. Received: input_encoding={input_encoding!r}"
            )
        self.intensity, self.input_encoding = intensity, input_encoding
        self.drop_empty_patches, self.seed, self.epoch = drop_empty_patches, seed, 0
        self._order = self._make_order()

    def _make_order(self):
        n = len(self.source)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)

    def __len__(self):
        return -(-len(self.source) // self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        if hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()
        self._order = self._make_order()

    def _sample(self, index):
        sample = self.source.load(int(index))
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, int(index), 7])
            sample = augment_sample(sample, rng, flip=self.flip)
        known = sample.get("valid", sample["mask"])  # a sensor's holes are neither surface nor background
        depth = relative_depth(sample["depth"], known) if self.relative_depth else np.where(known, sample["depth"], 0)
        normals = np.where(known[..., None], sample["normals"], 0).astype("float32")
        image = sample["image"].astype("float32")
        light = None
        if self.light:
            if sample.get("light") is None:
                raise ValueError(f"sample {int(index)} has no light code ('light'), which light={self.light!r} needs")
            light = np.asarray(sample["light"], "float32")
        if self.input_encoding == "srgb":
            if self.mode == "images":  # PatchNet decodes, then scales: nothing to do here
                return image, depth[..., None], normals, light
            c = image / 255.0
            image = 255.0 * np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype("float32")
        if self.intensity == "image":
            image *= 255.0 / max(float(image.max()), 1e-6)
        if self.mode == "images":
            return image, depth[..., None], normals, light
        if self.light:  # the code's constant channels after the image's, as PatchNet appends them
            channels = np.broadcast_to(light_channels_np(light), (*image.shape[:2], 9))
            image = np.concatenate([image, channels], axis=-1)
        return image, depth[..., None], normals, None

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(f"Batch {index} out of range for {len(self)} batches")
        ids = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images, depth, normals, lights = zip(*(self._sample(i) for i in ids))
        shapes = {im.shape for im in images}
        if self.mode == "images":
            if len(shapes) > 1:
                raise ValueError(f"Images of one batch must share a size in mode='images'. Received sizes {shapes}")
            x = np.stack(images)
            x = {"images": x, "light": np.stack(lights)} if self.light else x
            return x, {"depth": np.stack(depth), "normals": np.stack(normals)}
        xs, ds, ns = [], [], []
        for im, d, n in zip(images, depth, normals):
            grid = patch_grid(im.shape[0], im.shape[1], self.patch_size, self.min_overlap, self.rule)
            x, dp, npatch = cut_patches(im, grid), cut_patches(d, grid), cut_patches(n, grid)
            if self.drop_empty_patches:
                keep = np.any(npatch != 0, axis=(1, 2, 3))
                x, dp, npatch = x[keep], dp[keep], npatch[keep]
            xs.append(x)
            ds.append(dp)
            ns.append(npatch)
        return np.concatenate(xs), {"depth": np.concatenate(ds), "normals": np.concatenate(ns)}


class RandomPatches(keras.utils.PyDataset):
    """Batches of patches cut at random places from a few prepared frames, for fine-tuning on a small set-up.

    A few frames cut on a fixed grid give the same few patches every epoch; random places give a new crop each
    time, which shifts and never mirrors the scene, so a set-up's light keeps its geometry.

    Args:
        frames: [(image (h, w, 3) float32 as the patch network reads it, depth (h, w, 1) relative, 0 where
            unknown, normals (h, w, 3), 0 where unknown)].
        patch_size: side of the patches (a frame smaller than it is zero-padded).
        batch_size: patches per batch.
        steps: batches per epoch.
        min_known: the least share of a patch with known depth (up to 20 draws, then the best of them).
        seed: the draws of batch i of epoch e come from (seed, e, i).
    """

    def __init__(self, frames, patch_size, batch_size=16, steps=16, min_known=0.1, seed=0, **kwargs):
        super().__init__(**kwargs)
        if not frames:
            raise ValueError("`frames` is empty: fine-tuning needs at least one frame")
        self.patch_size, self.batch_size, self.steps = int(patch_size), int(batch_size), int(steps)
        self.min_known, self.seed, self.epoch = float(min_known), seed, 0
        P = self.patch_size
        self.frames = []
        for image, depth, normals in frames:
            pad = [(0, max(0, P - image.shape[0])), (0, max(0, P - image.shape[1])), (0, 0)]
            self.frames.append(tuple(np.pad(np.asarray(a, "float32"), pad) for a in (image, depth, normals)))

    def __len__(self):
        return self.steps

    def on_epoch_end(self):
        self.epoch += 1

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        P = self.patch_size
        xs, ds, ns = [], [], []
        for _ in range(self.batch_size):
            image, depth, normals = self.frames[int(rng.integers(len(self.frames)))]
            best, best_share = None, -1.0
            for _ in range(20):
                y = int(rng.integers(image.shape[0] - P + 1))
                x = int(rng.integers(image.shape[1] - P + 1))
                share = float(np.mean(normals[y : y + P, x : x + P, 2] != 0))
                if share > best_share:
                    best, best_share = (y, x), share
                if share >= self.min_known:
                    break
            y, x = best
            xs.append(image[y : y + P, x : x + P])
            ds.append(depth[y : y + P, x : x + P])
            ns.append(normals[y : y + P, x : x + P])
        return np.stack(xs), {"depth": np.stack(ds), "normals": np.stack(ns)}
