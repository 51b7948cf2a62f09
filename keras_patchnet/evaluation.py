"""Whole-image evaluation after stitching, and the flat-plane baseline every trained model must beat."""

import os

import numpy as np

from keras_patchnet._atomic import atomic_files
from keras_patchnet.data import TEST_SEED, render_batch
from keras_patchnet.metrics import evaluate_maps


def flat_plane(depth_true, normals_true):
    """The trivial prediction: relative depth 0 and every normal facing the camera, (0, 0, -1)."""
    normals = np.zeros(normals_true.shape, "float32")
    normals[..., 2] = -1.0
    return np.zeros(depth_true.shape, "float32"), normals


def predict_maps(model, images, batch_size=8, light=None):
    """(depth, normals) of `model` over `images` in batches; `light`: (B, 9) codes for a light-conditioned model."""
    depth, normals = [], []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size]
        out = model.predict_on_batch(x if light is None else {"images": x, "light": light[i : i + batch_size]})
        depth.append(np.asarray(out["depth"]))
        normals.append(np.asarray(out["normals"]))
    return np.concatenate(depth), np.concatenate(normals)


def summarise(result):
    return {k: {"mean": result["mean"][k], "std": result["std"][k]} for k in result["mean"]}


def evaluate_synthetic(model, num_images=64, size=224, seed=TEST_SEED, batch_size=8, lighting="rig", world="standard"):
    """Metrics of `model` and of the flat plane on `num_images` held-out renders (seeds seed..seed+num_images-1),
    written in the encoding the model reads (its `input_encoding`); a light-conditioned model is given each render's
    true light code."""
    lit, encoding = bool(getattr(model, "light", None)), getattr(model, "input_encoding", None)
    seeds = range(seed, seed + num_images)
    data = render_batch(seeds, size, size, lighting=lighting, world=world, light=lit, encoding=encoding)
    depth, normals = predict_maps(model, data["images"].astype("float32"), batch_size, data.get("light"))
    flat_depth, flat_normals = flat_plane(data["depth"], data["normals"])
    return {
        "num_images": num_images,
        "image_size": size,
        "seed": seed,
        "lighting": lighting,
        "model": summarise(evaluate_maps(data["depth"], depth, data["normals"], normals)),
        "flat_plane": summarise(evaluate_maps(data["depth"], flat_depth, data["normals"], flat_normals)),
    }


def evaluate_dataset(model, dataset, verbose=0, figures_dir=None, max_figures=8, use_mask=False, light=None):
    """Metrics of `model` and of the flat plane on every sample of `dataset` (a `TexlessDataset` or anything with
    `len()` and `load(i)`), one image at a time, so sizes may differ.

    Args:
        verbose: 1 shows a progress bar.
        figures_dir: if given, writes the report's Figure-5-style error heat maps of the first `max_figures` samples
            there (needs matplotlib).
        use_mask: give the model each sample's silhouette ("mask") as its foreground, as `predict --mask` does
            (default: the image alone).
        light: for a light-conditioned model, the light code (9,) of every frame (default: each sample's own
            "light").

    Returns: {"num_images", "model": {metric: {"mean", "std"}}, "flat_plane": {...}, "per_image": [row dicts]}.
    """
    from keras_patchnet.progress import progress_bar

    records = getattr(dataset, "records", None)
    progress = progress_bar(len(dataset), "image") if verbose else None
    rows = []
    model_per_image, flat_per_image = [], []
    for i in range(len(dataset)):
        s = dataset.load(i)
        x = s["image"][None].astype("float32")
        if use_mask or getattr(model, "light", None):
            x = {"images": x, **({"mask": s["mask"][None, ..., None].astype("float32")} if use_mask else {})}
        if getattr(model, "light", None):
            code = s.get("light") if light is None else light
            if code is None:
                raise ValueError(f"{dataset!r} frame {i}: a light-conditioned model needs its light code (`light`)")
            x["light"] = np.asarray(code, "float32").reshape(1, -1)
        out = model.predict_on_batch(x)
        d, n = np.asarray(out["depth"])[0], np.asarray(out["normals"])[0]
        dt, nt = s["depth"][..., None], s["normals"]
        m = evaluate_maps(dt[None], d[None], nt[None], n[None])["mean"]
        fd, fn = flat_plane(dt, nt)
        f = evaluate_maps(dt[None], fd[None], nt[None], fn[None])["mean"]
        model_per_image.append(m)
        flat_per_image.append(f)
        name = os.path.relpath(records[i].image, dataset.root) if records is not None else str(i)
        rows.append(
            {
                "image": name,
                **{k: round(v, 4) for k, v in m.items()},
                **{f"flat_{k}": round(f[k], 4) for k in ("depth_mae_mm", "mean_angle_deg")},
            }
        )
        if figures_dir is not None and i < max_figures:
            import matplotlib.pyplot as plt

            from keras_patchnet import viz

            os.makedirs(figures_dir, exist_ok=True)
            with atomic_files() as temp:
                path = temp(os.path.join(figures_dir, f"errors_{i:04d}.png"))
                plt.close(viz.error_figure(s["image"], dt, d, nt, n, mask=s.get("mask"), path=path, title=name))
        if progress is not None:
            progress.update(i + 1)

    def stats(per_image):
        keys = per_image[0].keys()
        return {
            k: {
                "mean": float(np.nanmean([p[k] for p in per_image])),
                "std": float(np.nanstd([p[k] for p in per_image])),
            }
            for k in keys
        }

    return {
        "num_images": len(rows),
        "model": stats(model_per_image),
        "flat_plane": stats(flat_per_image),
        "per_image": rows,
    }
