"""Whole-image inference in bounded memory: `PatchNet.predict` for images of more patches than `patch_batch_size`.

The graph path (`model(images)`) holds every patch, every prediction and the stitch's intermediates at once: a
4096² image at P = 64 is 16,129 patches, 1 GB of predictions and several GB in all. Here, per image, the patch
network runs over `patch_batch_size` patches at a time (cut on the host, the last chunk padded so one compiled
function serves every chunk), and each chunk is folded into running sums straight away: the normals' sum, the
depth's sum and its count of finite values. Only the depth patches are kept (a quarter of the predictions, 264 MB
at 4096²), because the offsets need them once more. The offsets are then solved as in `ops.patches.depth_offsets`
(the same right-hand side and the same `solver` choice, sparse on large grids), the maps finished by the model's own
refinement and resize. The result equals the graph path's to float32 accuracy (tests/test_streaming.py).
"""

import keras
import numpy as np

from keras_patchnet.models._torch_layout import fast_inference
from keras_patchnet.ops import patches as patch_ops

# Patch pixels per call of the patch network while streaming, by backend (else `model.inference_chunk()`): on JAX's
# CPU build the UNet preset streams a 2048² image 1.2-1.4x faster in calls of 16 patches of 64² than of 256
# (activations that stay in cache; measured 2026-12-06, one core: 15.2-17.3 s against 21.1-23.2).
STREAM_CHUNK_PIXELS = {"jax": 16 * 64 * 64}


def stream_step(model):
    """Patches per call of the patch network on a streamed chunk: `model.inference_chunk()` (`patch_batch_size`,
    fewer on torch), and at most `STREAM_CHUNK_PIXELS` pixels of patches where the backend has an entry."""
    step = model.inference_chunk()
    pixels = STREAM_CHUNK_PIXELS.get(keras.backend.backend())
    if pixels is not None:
        small = max(1, pixels // (model.patch_size * model.patch_size))
        step = small if step is None else min(step, small)
    return step


def _network(model, cut):
    """The patch network on one chunk, in `stream_step(model)` pieces."""
    step = stream_step(model)
    if step >= len(cut):
        return model.patch_model.predict_on_batch(cut)
    parts = [model.patch_model.predict_on_batch(cut[i : i + step]) for i in range(0, len(cut), step)]
    return {key: np.concatenate([keras.ops.convert_to_numpy(p[key]) for p in parts]) for key in parts[0]}


def _origins(grid):
    return [(y, x) for y in grid.origins_y for x in grid.origins_x]


def _fold(acc, patches, origins, P):
    """acc[y:y+P, x:x+P] += patch for every (patch, origin)."""
    for patch, (y, x) in zip(patches, origins):
        acc[y : y + P, x : x + P] += patch


def _normalize(x, epsilon=1e-6):
    return x / np.sqrt(np.sum(np.square(x), axis=-1, keepdims=True) + epsilon)


def stream_maps(model, image, foreground):
    """(depth (1, h, w, 1), normals (1, h, w, 3)) stitched, not refined, for one prepared image (1, h, w, 3; 12
    with a light's channels) on the working scale and its foreground (1, h, w, 1) or None; host NumPy float32."""
    h, w = image.shape[1:3]
    grid = model.extract.grid(h, w)
    P, chunk = grid.patch_size, model.patch_batch_size
    channels = image.shape[-1]  # 3, or 3 + the light's channels of a light-conditioned model
    padded = np.zeros((grid.padded_height, grid.padded_width, channels), "float32")
    padded[:h, :w] = image[0]
    origins = _origins(grid)
    depth_patches = np.empty((len(origins), P, P), "float32")
    normal_sum = np.zeros((grid.padded_height, grid.padded_width, 3), "float32")
    for start in range(0, len(origins), chunk):
        part = origins[start : start + chunk]
        cut = np.zeros((chunk, P, P, channels), "float32")  # always `chunk` patches: one compiled function
        for k, (y, x) in enumerate(part):
            cut[k] = padded[y : y + P, x : x + P]
        with fast_inference(model.patch_model):
            out = _network(model, cut)
        depth = np.asarray(keras.ops.convert_to_numpy(out["depth"]))[: len(part), ..., 0]
        normals = np.asarray(keras.ops.convert_to_numpy(out["normals"]))[: len(part)]
        depth_patches[start : start + len(part)] = depth
        normals = _normalize(np.where(np.isfinite(normals), normals, 0.0).astype("float32"))
        _fold(normal_sum, normals, part, P)
    del padded
    coverage = patch_ops.coverage(grid)
    for y in range(0, h, 256):  # in place, a band of rows at a time: no full-size temporaries
        band = normal_sum[y : y + 256]
        band /= coverage[y : y + 256]
        band /= np.sqrt(np.sum(np.square(band), axis=-1, keepdims=True) + 1e-6)
    normals = normal_sum[None, :h, :w]

    valid = np.isfinite(depth_patches)
    depth_patches[~valid] = 0.0
    summed = np.zeros((grid.padded_height, grid.padded_width), "float32")
    invalid = np.zeros_like(summed)
    count = np.zeros_like(summed)
    _fold(summed, depth_patches, origins, P)
    _fold(invalid, ~valid, origins, P)
    _fold(count, valid, origins, P)
    if foreground is None and (grid.padded_height, grid.padded_width) == (h, w):
        weights = None
        md, mc = summed, coverage[..., 0]
    else:
        weights = np.zeros_like(summed)
        weights[:h, :w] = 1.0 if foreground is None else foreground[0, ..., 0]
        weights *= invalid == 0  # pixels where a covering patch is missing leave the solve (as in the graph path)
        md, mc = weights * summed, weights * coverage[..., 0]
    b = np.array(
        [
            md[y : y + P, x : x + P].sum() - (mc[y : y + P, x : x + P] * d).sum()
            for d, (y, x) in zip(depth_patches, origins)
        ],
        "float32",
    )
    weight_tensor = None if weights is None else keras.ops.convert_to_tensor(weights[None, ..., None])
    offsets = patch_ops.solve_offsets(
        weight_tensor,
        keras.ops.convert_to_tensor(b.reshape(1, -1, 1)),
        grid,
        "float32",
        model.stitch_depth.ridge,
        model.stitch_depth.solver,
    )
    offsets = np.asarray(keras.ops.convert_to_numpy(offsets)).reshape(-1)
    for patch_valid, offset, (y, x) in zip(valid, offsets, origins):  # summed += fold(valid * offset)
        summed[y : y + P, x : x + P] += patch_valid * offset
    summed /= np.maximum(count, 1.0)
    return summed[None, :h, :w, None], normals


def predict_large(model, images, foreground=None, light=None):
    """`PatchNet`'s maps for host images (B, H, W, 3) one image at a time through `stream_maps`: the same input
    contract, refinement and output size as `model(images)`. Returns NumPy {"depth", "normals"}."""
    depth, normals = [], []
    for i in range(images.shape[0]):
        mask = None if foreground is None else foreground[i : i + 1]
        size = tuple(images.shape[1:3])
        code = None if light is None else keras.ops.convert_to_tensor(np.asarray(light, "float32")[i : i + 1])
        image, mask, _ = model._prepare(keras.ops.convert_to_tensor(images[i : i + 1]), mask, size, code)
        image_np = np.asarray(keras.ops.convert_to_numpy(image))
        mask = None if mask is None else np.asarray(keras.ops.convert_to_numpy(mask))
        del image
        d, n = stream_maps(model, image_np, mask)
        if model.refine:  # band by band (same values as the layers' calls)
            d = model.refine_depth.filter_rows(d, foreground=mask)
            n = model.refine_normals.filter_rows(n, foreground=mask)
        if d.shape[1:3] != size:
            out = model._resize_back(keras.ops.convert_to_tensor(d), keras.ops.convert_to_tensor(n), size)
            d, n = (np.asarray(keras.ops.convert_to_numpy(out[k])) for k in ("depth", "normals"))
        depth.append(d)
        normals.append(n)
    if len(depth) == 1:
        return {"depth": depth[0], "normals": normals[0]}
    return {"depth": np.concatenate(depth), "normals": np.concatenate(normals)}
