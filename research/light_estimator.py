"""After the oracle-light diagnosis of `research/lighting_study.py`: estimate the oracle's light channels
from the whole image, and feed the estimate to the oracle-light patch network.

    python research/light_estimator.py --study runs/study --minutes 12 [--train-images 3000]

1. A small CNN reads the whole image (scaled to a maximum of 255, shrunk to 64 x 64) and regresses the 9 brightness
   values of `lighting_study.oracle_brightness` (the render's lights, ambient and albedo seen at 9 reference
   normals, in the image's scale), supervised by the renderer, on fresh training renders (never VAL_SEED).
2. The oracle-light network of the study (<study>/oracle-light/model.weights.h5) then predicts with the estimated
   channels instead of the true ones, on the study's validation renders.
Writes <study>/light-estimator/result.json: the estimator's validation error, and the depth / angle ratios to the
flat plane of the patch network with the true and with the estimated light (no refinement), plus its weights.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lighting_study import THUMB, thumbnail  # noqa: E402,F401 (one direction: this study builds on that one)
from networks import estimator  # noqa: E402,F401


def targets(sample):
    """The 9 oracle brightness values in the image's scale, / 255 (the network's target)."""
    from lighting_study import oracle_brightness

    return oracle_brightness(sample) * (1.0 / max(float(sample.image.max()), 1e-6))


MIRROR = [0, 5, 4, 3, 2, 1, 8, 7, 6]


def fit_on_budget(net, train, validation, out, monitor, minutes, start, callbacks=()):
    """Fits `net` on (x, y) `train` until `minutes` past `start` (checked after each epoch), keeping the weights of
    the epoch best on `validation` by `monitor` in <out>/<net.name>.weights.h5 (reloaded at the end), the curve in
    <out>/curve.csv; `callbacks`: more of them (e.g. a learning rate schedule). Returns the number of epochs."""
    import keras

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if time.time() - start > minutes * 60:
                self.model.stop_training = True

    path = os.path.join(out, f"{net.name}.weights.h5")
    best = keras.callbacks.ModelCheckpoint(path, monitor=monitor, save_best_only=True, save_weights_only=True)
    log = keras.callbacks.CSVLogger(os.path.join(out, "curve.csv"))
    callbacks = [*callbacks, Stop(), best, log]
    sizes = {"batch_size": 32} if len(train) == 2 else {}  # (x, y) arrays, or (a dataset,)
    fit = net.fit(*train, **sizes, epochs=1000, validation_data=validation, callbacks=callbacks, verbose=2)
    net.load_weights(path)
    return len(fit.history["loss"])


def dataset(seeds, size, lighting, keep=True, flip=False):
    """Thumbnails and targets of renders of `seeds` (and the samples when `keep`); with `flip`, each render also
    mirrored left-right, its light mirrored with it."""
    import numpy as np

    from keras_patchnet.data import render

    samples, x, y = [], [], []
    for seed in seeds:
        s = render(int(seed), size, size, lighting=lighting)
        x.append(thumbnail(s.image).astype("float16"))
        y.append(targets(s))
        if flip:
            x.append(x[-1][:, ::-1])
            y.append(y[-1][MIRROR])
        if keep:
            samples.append(s)
    return samples, np.stack(x).astype("float32"), np.stack(y).astype("float32")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--study", default="runs/study")
    p.add_argument("--minutes", type=float, default=12)
    p.add_argument("--train-images", type=int, default=3000)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--lighting", default="rig")
    p.add_argument("--val-images", type=int, default=32, help="validation renders for the patch network's ratios")
    p.add_argument("--estimator-val-images", type=int, default=32, help="validation renders for the estimator")
    p.add_argument("--flip", action="store_true", help="also train on every render mirrored, its light mirrored")
    p.add_argument("--batch-norm", action="store_true", help="batch normalisation after each convolution")
    p.add_argument("--name", default="light-estimator", help="the run's folder under --study")
    p.add_argument("--reuse", action="store_true", help="load the estimator saved by an earlier run, train nothing")
    args = p.parse_args(argv)

    import keras
    import numpy as np
    from lighting_study import REFERENCE_NORMALS, context_network, predict_oracle

    from keras_patchnet.evaluation import flat_plane
    from keras_patchnet.metrics import evaluate_maps
    from keras_patchnet.ops.grid import patch_grid
    from keras_patchnet.training import VAL_SEED

    out = os.path.join(args.study, args.name)
    os.makedirs(out, exist_ok=True)
    keras.utils.set_random_seed(0)
    start = time.time()
    seeds = range(2_000_000, 2_000_000 + args.train_images)
    _, x_train, y_train = dataset(seeds, args.size, args.lighting, keep=False, flip=args.flip)
    n_val = max(args.val_images, args.estimator_val_images)
    val, x_val, y_val = dataset(range(VAL_SEED, VAL_SEED + n_val), args.size, args.lighting)
    x_est, y_est = x_val[: args.estimator_val_images], y_val[: args.estimator_val_images]
    render_s = time.time() - start
    net = estimator(len(REFERENCE_NORMALS), batch_norm=args.batch_norm, name="estimator")
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", metrics=["mae"])

    if args.reuse:
        net.load_weights(os.path.join(out, "estimator.weights.h5"))
        saved = os.path.join(out, "result.json")  # missing when the training run stopped before its evaluation
        earlier = json.load(open(saved)) if os.path.exists(saved) else {}
        epochs = earlier.get("epochs") or len(open(os.path.join(out, "curve.csv")).read().splitlines()) - 1
        train_s = earlier.get("train_seconds")
    else:
        epochs = fit_on_budget(net, (x_train, y_train), (x_est, y_est), out, "val_mae", args.minutes, start)
        train_s = round(time.time() - start - render_s)
    spread = float(np.mean(np.abs(y_est - y_train.mean(0))))  # the error of always guessing the training mean
    estimator_mae = float(np.mean(np.abs(np.asarray(net.predict(x_est, verbose=0)) - y_est)))
    val, x_val, y_val = val[: args.val_images], x_val[: args.val_images], y_val[: args.val_images]
    estimate = np.asarray(net.predict(x_val, verbose=0))

    grid = patch_grid(args.size, args.size, 64, 1)
    patch_net = context_network(64, 8, channels=3 + len(REFERENCE_NORMALS))
    patch_net.load_weights(os.path.join(args.study, "oracle-light", "model.weights.h5"))
    truth_d = np.stack([s.depth for s in val])[..., None]
    truth_n = np.stack([s.normals for s in val])
    flat_d, flat_n = flat_plane(truth_d, truth_n)
    flat = evaluate_maps(truth_d, flat_d, truth_n, flat_n)["mean"]

    def ratios(brightness):  # brightness: (B, 9) in units of each image's maximum, as the estimator's targets
        raw = np.asarray(brightness) * np.array([[float(s.image.max())] for s in val])
        depth, normals = predict_oracle(patch_net, val, grid, brightness=raw)
        got = evaluate_maps(truth_d, depth, truth_n, normals)["mean"]
        return {k: round(got[k] / flat[k], 3) for k in ("depth_mae_mm", "mean_angle_deg")}

    result = {
        "lighting": args.lighting,
        "train_images": args.train_images,
        "render_seconds": round(render_s),
        "train_seconds": train_s,
        "epochs": epochs,
        "flip": args.flip,
        "batch_norm": args.batch_norm,
        "estimator_val_images": args.estimator_val_images,
        "estimator_val_mae": round(estimator_mae, 4),
        "mean_guess_val_mae": round(spread, 4),
        "ratio_true_light": ratios(y_val),
        "ratio_estimated_light": ratios(estimate),
        "ratio_mean_light": ratios(np.broadcast_to(y_train.mean(0), y_val.shape)),
    }
    print(json.dumps(result, indent=1))
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
