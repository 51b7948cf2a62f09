"""Learnability study for unknown lights: short runs of patch-network variants on the same data, each
with its validation learning curve as a ratio to the flat plane (after stitching, on VAL_SEED renders).

    python research/lighting_study.py --variant curriculum --minutes 25 --out runs/study

Variants (all UNet, P=64, width 8, 112² renders, patches of a 1-px-overlap grid, Adam + cosine decay):
    curriculum      start from unet.synthetic-calibrated's weights, intensity="image", lighting="rig"
    scratch         the same from random weights
    patch-intensity from the calibrated weights, intensity="patch" (each patch divided by its own maximum)
    context         from scratch, a UNet whose input has 7 channels: the patch (per-image intensity), the whole
                    image shrunk to P x P, and the patch's footprint on it, so the network can see where the light
                    comes from (curves of this variant: stitched without the bilateral refinement)
    oracle-light    a diagnosis, not a model to ship: from scratch, the patch plus 9 constant channels holding the
                    brightness the render's own lights, ambient and albedo give at 9 reference normals (in the
                    image's per-image scale): is shape from shading under rig light learnable here when the light is
                    known? (no augmentation; curves without refinement)
    oracle-rig      the same with less: 4 constant channels, one-hot, saying which of the renderer's four rigs lit
                    the image (not its jitter, powers, ambient or albedo): is the rig enough? (lighting="rig" only)
    estimated-light the oracle-light network (<out>/oracle-light/model.weights.h5) fine-tuned with the 9 channels
                    estimated from the whole image by research/light_estimator.py (--estimator) instead of the truth
    estimated-rig   an oracle-rig network (--init) fine-tuned with the rig classifier's probabilities (times 255) of
                    the four rigs, from the whole image (research/rig_classifier.py, --classifier), instead of the truth
Options for a continuation: --init WEIGHTS starts from saved weights of the variant's network, --decay
makes the learning rate fall from --lr to 0 along a cosine over --minutes of wall time (the other runs keep it near
--lr), and --end-to-end (oracle variants) trains on whole images through the stitch (PatchExtract -> network ->
PatchStitch, the loss on the stitched 112² maps, as the curves measure them) instead of on independent patches.
Each epoch appends a row to <out>/<variant>/curve.csv: epoch, seconds, training loss, validation depth MAE (mm),
mean angle (deg), the flat plane's, and their ratios. Choices are read on this validation split only.

    python research/lighting_study.py --plot docs/lighting-study  # each <variant>.csv there -> docs/lighting-study.png
"""

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

VARIANTS = {
    "curriculum": dict(init="calibrated", intensity="image"),
    "scratch": dict(init=None, intensity="image"),
    "patch-intensity": dict(init="calibrated", intensity="patch"),
    "context": dict(init=None, intensity="image", context=True),
    "oracle-light": dict(init=None, intensity="image", oracle="light"),
    "oracle-rig": dict(init=None, intensity="image", oracle="rig"),
    "estimated-light": dict(init="oracle-light", intensity="image", oracle="estimated"),
    "estimated-rig": dict(init=None, intensity="image", oracle="estimated-rig"),
}
ESTIMATOR = {}  # "net": the light estimator (estimated-light) or the rig classifier (estimated-rig) on the image

# oracle-light: the straight-on normal and 8 normals 45 degrees from it (towards the camera: n_z < 0)
REFERENCE_NORMALS = [(0.0, 0.0, -1.0)] + [
    (0.7071 * float(c), 0.7071 * float(s), -0.7071)
    for c, s in (
        (1, 0),
        (0.7071, 0.7071),
        (0, 1),
        (-0.7071, 0.7071),
        (-1, 0),
        (-0.7071, -0.7071),
        (0, -1),
        (0.7071, -0.7071),
    )
]


def oracle_brightness(sample):
    """(9,) brightness on the 0-255 scale of the render's albedo under its lights and ambient at REFERENCE_NORMALS
    (point lights as seen from the sheet's centre, tint and highlights left out)."""
    import numpy as np

    p = sample.params
    normals = np.asarray(REFERENCE_NORMALS)
    v, u = np.nonzero(sample.mask)
    K = sample.intrinsics
    z = sample.depth[v, u]
    centre = np.mean(np.stack([(u + 0.5 - K[0, 2]) / K[0, 0] * z, (v + 0.5 - K[1, 2]) / K[1, 1] * z, z], -1), 0)
    radiance = np.full(len(normals), p["ambient"])
    for kind, where, power in p["lights"]:
        to_light = np.asarray(where) if kind == "directional" else np.asarray(where) - centre
        to_light = to_light / np.linalg.norm(to_light)
        radiance += power * np.clip(normals @ to_light, 0, None)
    return 255.0 * p["albedo"] * radiance


THUMB = 64


def thumbnail(image, size=THUMB):
    """(H, W, 3) uint8 -> (size, size, 3) float32 on the 0-255 scale of the image scaled to a maximum of 255 (not
    resized when the image is size x size already)."""
    import numpy as np

    from keras_patchnet.data.dataset import shrink

    scale = 255.0 / max(float(image.max()), 1e-6)
    x = image.astype("float32") * scale
    return np.clip(x if x.shape[:2] == (size, size) else shrink(x, (size, size)), 0, 255)


def oracle_rig(sample):
    """(4,) one-hot on the 0-255 scale: which rig lit a `lighting="rig"` render (the rigs have 1-4 lights)."""
    import numpy as np

    return 255.0 * np.eye(4)[sample.params["n_lights"] - 1]


def oracle_constants(sample, kind):
    """The oracle's constant channels of a sample ("light": oracle_brightness; "rig": oracle_rig; "estimated": the
    light estimator's guess of oracle_brightness from the image alone) and whether they follow the image's
    per-image scale."""
    if kind in ("estimated", "estimated-rig"):
        guess = np.asarray(ESTIMATOR["net"].predict_on_batch(thumbnail(sample.image)[None]))[0]
        return (guess * float(sample.image.max()), True) if kind == "estimated" else (255.0 * guess, False)
    return (oracle_brightness(sample), True) if kind == "light" else (oracle_rig(sample), False)


def oracle_image(image, brightness, scaled=True):
    """(H, W, 3) uint8 image and its (K,) oracle values -> (H, W, 3 + K) float32: the image scaled to a maximum of
    255 and the oracle values as constant channels (in the same scale when `scaled`)."""
    import numpy as np

    scale = 255.0 / max(float(image.max()), 1e-6)
    const = np.float32(brightness * (scale if scaled else 1.0))
    const = np.broadcast_to(const, image.shape[:2] + (len(brightness),))
    return np.concatenate([image.astype("float32") * scale, const], -1)


def oracle_inputs(image, brightness, grid, scaled=True):
    """`oracle_image` cut into the patches of `grid`: (N, P, P, 3 + K)."""
    from keras_patchnet.data import cut_patches

    return cut_patches(oracle_image(image, brightness, scaled), grid)


def oracle_data(steps, batch_size, size, lighting, grid, kind="light", workers=1, processes=False):
    """A PyDataset of fresh renders each epoch: (the image scaled to a maximum of 255 with the oracle values as
    constant channels, {"depth": centred, 0 off the sheet, "normals"}), cut into the patches of `grid`, or as whole
    (B, H, W, C) maps when `grid` is None (the --end-to-end runs: the same renders)."""
    import keras
    import numpy as np

    from keras_patchnet.data import cut_patches, render

    class Data(keras.utils.PyDataset):
        epoch = 0

        def __init__(self):
            super().__init__(workers=workers, use_multiprocessing=processes)

        def __len__(self):
            return steps

        def __getitem__(self, i):
            xs, depths, normals = [], [], []
            for k in range(batch_size):
                s = render(1_000_000 + (self.epoch * steps + i) * batch_size + k, size, size, lighting=lighting)
                values, scaled = oracle_constants(s, kind)
                depth = np.where(s.mask, s.depth - s.depth[s.mask].mean(), 0)[..., None]
                maps = [oracle_image(s.image, values, scaled), depth, s.normals]
                if grid is not None:
                    maps = [cut_patches(m, grid) for m in maps]
                for out, m in zip((xs, depths, normals), maps):
                    out.append(np.asarray(m, "float32"))
            join = np.stack if grid is None else np.concatenate
            return join(xs), {"depth": join(depths), "normals": join(normals)}

        def on_epoch_end(self):
            self.epoch += 1

    return Data()


def end_to_end(net, size, patch_size=64, min_overlap=1):
    """(B, H, W, C) images -> the patch network `net` on their patches -> stitched {"depth", "normals"} maps (no
    foreground, no refinement: the stitch `predict_oracle` measures), a model to `fit` on whole images."""
    import keras

    from keras_patchnet.layers import PatchExtract, PatchStitch

    inputs = keras.Input((size, size, net.input_shape[-1]))
    out = net(PatchExtract(patch_size, min_overlap)(inputs))
    depth = PatchStitch(patch_size, min_overlap, mode="depth", name="depth")(out["depth"], output_size=(size, size))
    normals = PatchStitch(patch_size, min_overlap, mode="normals", name="normals")(
        out["normals"], output_size=(size, size)
    )
    return keras.Model(inputs, {"depth": depth, "normals": normals})


def cosine_to_zero(lr, seconds, start):
    """A callback setting the optimizer's learning rate to lr * (1 + cos(pi t / seconds)) / 2 before every batch,
    t the wall time since `start` (0 once t passes `seconds`)."""
    import math

    import keras

    class Cosine(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            t = min((time.time() - start) / seconds, 1.0) if seconds > 0 else 1.0
            self.model.optimizer.learning_rate.assign(lr * 0.5 * (1.0 + math.cos(math.pi * t)))

    return Cosine()


def predict_oracle(net, samples, grid, batch=8, brightness=None, kind="light"):
    """Stitched maps (no refinement) of the oracle-light network on rendered samples, with their true light or with
    `brightness` ((B, 9) values on the 0-255 scale of each raw image, e.g. an estimate)."""
    import numpy as np

    from keras_patchnet.layers import PatchStitch

    depth_stitch = PatchStitch(grid.patch_size, 1, mode="depth")
    normal_stitch = PatchStitch(grid.patch_size, 1, mode="normals")
    size = (grid.height, grid.width)
    depth, normals = [], []
    for i in range(0, len(samples), batch):
        part = samples[i : i + batch]
        scaled = kind == "light"
        light = [oracle_constants(s, kind)[0] for s in part] if brightness is None else brightness[i : i + batch]
        x = np.concatenate([oracle_inputs(s.image, b, grid, scaled) for s, b in zip(part, light)])
        out = net.predict_on_batch(x)
        depth.append(np.asarray(depth_stitch(out["depth"], output_size=size)))
        normals.append(np.asarray(normal_stitch(out["normals"], output_size=size)))
    return np.concatenate(depth), np.concatenate(normals)


def context_inputs(images, grid):
    """(B, H, W, 3) float images on the 0-255 scale (each scaled to a maximum of 255) -> (B * N, P, P, 7): the
    patch, the whole image resized to P x P (bilinear), and the patch's footprint (1 inside) on that thumbnail."""
    import numpy as np
    from PIL import Image

    from keras_patchnet.data import cut_patches

    P = grid.patch_size
    out = []
    for im in images:
        patches = cut_patches(im, grid)
        thumb = np.stack([np.asarray(Image.fromarray(im[..., c]).resize((P, P), Image.BILINEAR)) for c in range(3)], -1)
        sy, sx = P / grid.height, P / grid.width
        for k, (y, x) in enumerate((y, x) for y in grid.origins_y for x in grid.origins_x):
            foot = np.zeros((P, P, 1), "float32")
            foot[int(y * sy) : int(np.ceil((y + P) * sy)), int(x * sx) : int(np.ceil((x + P) * sx))] = 255.0
            out.append(np.concatenate([patches[k], thumb, foot], -1))
    return np.stack(out).astype("float32")


def context_network(patch_size=64, width=8, channels=7):
    import keras
    from keras import layers

    from keras_patchnet.models import blocks

    inputs = keras.Input((patch_size, patch_size, channels), name="patches")
    x = layers.Rescaling(1 / 255.0)(inputs)
    code, skips = blocks.encoder(x, width)
    side, channels = patch_size // 32, 8 * width
    x = layers.Flatten()(code)
    x = layers.Dense(side * side * channels, activation="relu")(x)
    x = layers.Reshape((side, side, channels))(x)
    x = layers.UpSampling2D(2)(x)
    depth = blocks.decoder(x, width, 1, "depth_decoder", skips=skips, transpose=True)
    normals = blocks.decoder(x, width, 3, "normals_decoder", skips=skips, transpose=True)
    return keras.Model(inputs, blocks.outputs(depth, normals))


class ContextData:
    """Patch batches with context channels from a `PatchNetDataset` in "images" mode (a keras PyDataset)."""

    def __init__(self, images, grid, workers=1, processes=False):
        import keras

        class Data(keras.utils.PyDataset):
            def __init__(self):
                super().__init__(workers=workers, use_multiprocessing=processes)

            def __len__(self):
                return len(images)

            def __getitem__(self, i):
                x, y = images[i]
                from keras_patchnet.data import cut_patches

                cut = lambda a: np.concatenate([cut_patches(v, grid) for v in a])  # noqa: E731
                return context_inputs(x, grid), {"depth": cut(y["depth"]), "normals": cut(y["normals"])}

            def on_epoch_end(self):
                images.on_epoch_end()

        import numpy as np

        self.data = Data()


def predict_context(net, images, grid, batch=8):
    """Stitched maps (no refinement) of the context network on (B, H, W, 3) images."""
    import numpy as np

    from keras_patchnet.layers import PatchStitch

    depth_stitch = PatchStitch(grid.patch_size, 1, mode="depth")
    normal_stitch = PatchStitch(grid.patch_size, 1, mode="normals")
    depth, normals = [], []
    for i in range(0, len(images), batch):
        x = images[i : i + batch] * (255.0 / np.maximum(images[i : i + batch].max(axis=(1, 2, 3), keepdims=True), 1e-6))
        out = net.predict_on_batch(context_inputs(x, grid))
        size = (grid.height, grid.width)
        depth.append(np.asarray(depth_stitch(out["depth"], output_size=size)))
        normals.append(np.asarray(normal_stitch(out["normals"], output_size=size)))
    return np.concatenate(depth), np.concatenate(normals)


def plot(folder, path=None):
    """Draws the depth and angle ratio of every <variant>.csv in `folder` against minutes; writes `folder`.png."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = path or folder.rstrip("/") + ".png"
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    names = sorted(n for n in os.listdir(folder) if n.endswith(".csv"))
    colors = plt.get_cmap("tab20")
    for i, name in enumerate(names):
        rows = list(csv.DictReader(open(os.path.join(folder, name))))
        minutes = [float(r["seconds"]) / 60 for r in rows]
        for ax, key in zip(axes, ("depth_ratio", "angle_ratio")):
            ax.plot(minutes, [float(r[key]) for r in rows], label=name[:-4], color=colors(i % 20), lw=1.2)
    for ax, title in zip(axes, ("depth MAE / flat plane", "mean angle / flat plane")):
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set(title=title, xlabel="minutes of one CPU core", ylim=(0.6, 1.4))  # spikes above: off the chart
    axes[0].set_ylabel("validation ratio (rig light, 112², 32 renders)")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)  # continuations start at minute 0
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--plot"]:
        print(plot(*argv[1:]))
        return
    p.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    p.add_argument("--minutes", type=float, default=25)
    p.add_argument("--out", default="runs/study")
    p.add_argument("--lighting", default="rig")
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--val-images", type=int, default=32)
    p.add_argument("--width", type=int, default=8, help="the UNet's base width (8 unless a run says otherwise)")
    p.add_argument("--workers", type=int, default=1, help="threads (or processes) that render the training batches")
    p.add_argument("--processes", action="store_true", help="render in worker processes, not threads")
    p.add_argument("--estimator", default="runs/study/light-estimator-2/estimator.weights.h5")
    p.add_argument("--classifier", default="runs/study/rig-classifier/classifier.weights.h5")
    p.add_argument("--name", help="the run's folder under --out (default: the variant's name)")
    p.add_argument("--init", help="weights (.weights.h5) of the same network to start from")
    p.add_argument("--decay", action="store_true", help="learning rate from --lr to 0 along a cosine over --minutes")
    p.add_argument("--end-to-end", action="store_true", help="oracle variants: fit whole images through the stitch")
    args = p.parse_args(argv)

    import keras

    from keras_patchnet import losses, models
    from keras_patchnet.data import PatchNetDataset, SyntheticSource, render_batch
    from keras_patchnet.evaluation import predict_maps
    from keras_patchnet.training import VAL_SEED, build_for_fit, validation_curve

    spec = VARIANTS[args.variant]
    if args.end_to_end and not spec.get("oracle"):
        raise ValueError(f"--end-to-end is for the oracle variants. Received: --variant {args.variant}")
    out = os.path.join(args.out, args.name or args.variant)
    os.makedirs(out, exist_ok=True)
    keras.utils.set_random_seed(0)
    from keras_patchnet import hub

    calibrated = hub.local_preset_folder("unet.synthetic-calibrated")
    init = os.path.join(calibrated, "model.weights.h5") if spec["init"] else False
    source = SyntheticSource(args.steps * args.batch_size, args.size, args.size, seed=0, lighting=args.lighting)
    if spec.get("oracle"):
        from keras_patchnet.data import render
        from keras_patchnet.ops.grid import patch_grid

        pgrid = patch_grid(args.size, args.size, 64, 1)
        kind = spec["oracle"]
        rigs = kind in ("rig", "estimated-rig")
        if rigs and args.lighting != "rig":
            raise ValueError(f"The {args.variant} variant needs --lighting rig. Received: --lighting {args.lighting}")
        net = context_network(64, args.width, channels=3 + (4 if rigs else len(REFERENCE_NORMALS)))
        if kind == "estimated-rig":
            from networks import classifier

            ESTIMATOR["net"] = classifier()
            ESTIMATOR["net"].load_weights(args.classifier)
        if kind == "estimated":
            import json

            from networks import estimator

            saved = os.path.join(os.path.dirname(args.estimator), "result.json")
            batch_norm = os.path.exists(saved) and json.load(open(saved)).get("batch_norm", False)
            ESTIMATOR["net"] = estimator(len(REFERENCE_NORMALS), batch_norm=batch_norm)
            ESTIMATOR["net"].load_weights(args.estimator)
            net.load_weights(os.path.join(args.out, spec["init"], "model.weights.h5"))
        cut = None if args.end_to_end else pgrid
        data = oracle_data(
            args.steps, args.batch_size, args.size, args.lighting, cut, kind, args.workers, args.processes
        )
        samples = [
            render(s, args.size, args.size, lighting=args.lighting) for s in range(VAL_SEED, VAL_SEED + args.val_images)
        ]
        predict = lambda x: predict_oracle(net, samples, pgrid, kind=kind)  # noqa: E731
    elif spec.get("context"):
        from keras_patchnet.ops.grid import patch_grid

        pgrid = patch_grid(args.size, args.size, 64, 1)
        net = context_network(64, args.width)
        whole = PatchNetDataset(
            source, batch_size=args.batch_size, augment=True, seed=0, mode="images", intensity="image"
        )
        data = ContextData(whole, pgrid, args.workers, args.processes).data
        predict = lambda x: predict_context(net, x, pgrid)  # noqa: E731
    else:
        model = models.create_model(
            "unet", pretrained=init, patch_size=64, width=args.width, intensity=spec["intensity"]
        )
        grid = dict(mode="patches", patch_size=64, min_overlap=1, intensity=spec["intensity"])
        data = PatchNetDataset(
            source,
            batch_size=args.batch_size,
            augment=True,
            seed=0,
            workers=args.workers,
            use_multiprocessing=args.processes,
            **grid,
        )
        net = model.patch_model
        predict = lambda x: predict_maps(model, x, 16)  # noqa: E731
    if args.init:
        net.load_weights(args.init)
    val = render_batch(range(VAL_SEED, VAL_SEED + args.val_images), args.size, args.size, lighting=args.lighting)
    images = val["images"].astype("float32")
    epochs = 10_000
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, epochs * len(data), alpha=0.05)
    trained = end_to_end(net, args.size) if args.end_to_end else net
    trained.compile(
        optimizer=keras.optimizers.Adam(args.lr if args.decay else schedule, global_clipnorm=5.0),
        loss=losses.patchnet_losses(),
    )
    build_for_fit(trained, data)  # traces the train function once on TensorFlow, not twice
    start, path = time.time(), os.path.join(out, "curve.csv")
    more = [cosine_to_zero(args.lr, args.minutes * 60, start)] if args.decay else []
    curve = validation_curve(lambda: predict(images), val["depth"], val["normals"], path, start=start)

    class SaveAndStop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            net.save_weights(os.path.join(out, "model.weights.h5"))
            if time.time() - start > args.minutes * 60:
                self.model.stop_training = True

    if os.path.exists(path):
        os.remove(path)
    curve.on_epoch_end(-1, {"loss": float("nan")})  # epoch 0: the start
    trained.fit(data, epochs=epochs, callbacks=[*more, curve, SaveAndStop()], verbose=0)
    return trained


if __name__ == "__main__":
    main()
