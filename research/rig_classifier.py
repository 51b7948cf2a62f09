"""After the oracle-rig run of `research/lighting_study.py`: tell from the whole image which of the renderer's
four rigs lit it, and feed the guess to the oracle-rig patch network.

    python research/rig_classifier.py --study runs/study --minutes 25 --train-images 30000

1. The CNN of `research/light_estimator.py` (the whole image scaled to a maximum of 255, shrunk to 64 x 64; with batch
   normalisation, without which it did not learn at all) with a 4-way softmax, cross-entropy, Adam 1e-3, on fresh
   `lighting="rig"` training renders (never VAL_SEED); the epoch kept is the one with the best accuracy on
   `--classifier-val-images` VAL_SEED renders. No flips: a mirrored rig is not one of the four.
2. The oracle-rig network (<study>/oracle-rig/model.weights.h5, or --patch-net) predicts with the guessed rig
   (one-hot, argmax) and with the four probabilities (times 255) on the study's validation renders, next to the
   true rig and the most frequent training rig. When that network is not there yet (it may still be training), the
   ratios are left out and `--reuse --patch-net ...` adds them later to the saved classifier's result.
Writes <study>/<name>/result.json (accuracy, its confusion matrix, the ratios to the flat plane) and the
classifier's weights and curve.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def dataset(seeds, size, keep=True, thumb=64):
    """Samples (when `keep`), float16 thumbnails (thumb x thumb; the whole render when thumb == size) and rigs."""
    import numpy as np
    from light_estimator import thumbnail

    from keras_patchnet.data import render

    samples, x, y = [], np.zeros((len(seeds), thumb, thumb, 3), "float16"), []
    for i, seed in enumerate(seeds):
        s = render(int(seed), size, size, lighting="rig")
        x[i] = thumbnail(s.image, thumb)
        y.append(s.params["n_lights"] - 1)  # the rigs have 1, 2, 3 and 4 lights
        if keep:
            samples.append(s)
    return samples, x, np.asarray(y, "int32")


def batches(x, y, batch_size=32, seed=0):
    """A PyDataset of shuffled (x, y) batches cut from the arrays as they are: no copy of the whole set (fit on a
    40,000 x 112^2 float16 array was killed for memory at 23 GB)."""
    import keras
    import numpy as np

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng, self.order = np.random.default_rng(seed), np.arange(len(x))
            self.rng.shuffle(self.order)

        def __len__(self):
            return -(-len(x) // batch_size)

        def __getitem__(self, i):
            take = np.sort(self.order[i * batch_size : (i + 1) * batch_size])
            return x[take].astype("float32"), y[take]

        def on_epoch_end(self):
            self.rng.shuffle(self.order)

    return Batches()


from networks import classifier  # noqa: E402,F401 (where the study's networks live)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--study", default="runs/study")
    p.add_argument("--minutes", type=float, default=25)
    p.add_argument("--train-images", type=int, default=30000)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--val-images", type=int, default=32, help="validation renders for the patch network's ratios")
    p.add_argument("--classifier-val-images", type=int, default=512)
    p.add_argument("--patch-net", help="oracle-rig weights (default: <study>/oracle-rig/model.weights.h5)")
    p.add_argument("--width", type=int, default=8, help="that network's base width")
    p.add_argument("--name", default="rig-classifier", help="the run's folder under --study")
    p.add_argument("--thumb", type=int, default=64, help="the classifier's input size (--size: the whole render)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--decay", action="store_true", help="the learning rate falls to 0 along a cosine over --minutes")
    p.add_argument("--reuse", action="store_true", help="load the classifier saved by an earlier run, train nothing")
    p.add_argument("--init", help="classifier weights (.weights.h5) to start training from: a second stage")
    p.add_argument("--first-seed", type=int, default=3_000_000, help="the first training render's seed")
    args = p.parse_args(argv)
    patch_net = args.patch_net or os.path.join(args.study, "oracle-rig", "model.weights.h5")
    if args.reuse and not os.path.exists(patch_net):  # --reuse has nothing to add without it
        p.error(f"--patch-net: no rig-known network at {patch_net}")
    if args.init and not os.path.exists(args.init):
        p.error(f"--init: no classifier weights at {args.init}")
    from keras_patchnet.constants import TEST_SEED, VAL_SEED

    n_val = max(args.val_images, args.classifier_val_images)
    last = args.first_seed + args.train_images
    if args.first_seed < 0 or last > TEST_SEED or (args.first_seed < VAL_SEED + n_val and last > VAL_SEED):
        p.error(
            f"--first-seed: training seeds [{args.first_seed}, {last}) must miss the validation seeds "
            f"[{VAL_SEED}, {VAL_SEED + n_val}) and stay below the test split's {TEST_SEED}"
        )

    import keras
    import numpy as np
    from light_estimator import fit_on_budget
    from lighting_study import cosine_to_zero

    out = os.path.join(args.study, args.name)
    os.makedirs(out, exist_ok=True)
    keras.utils.set_random_seed(0)
    start = time.time()
    if not args.reuse:
        train_seeds = range(args.first_seed, args.first_seed + args.train_images)
        _, x_train, y_train = dataset(train_seeds, args.size, keep=False, thumb=args.thumb)
    val, x_val, y_val = dataset(range(VAL_SEED, VAL_SEED + n_val), args.size, thumb=args.thumb)
    render_s = time.time() - start
    net = classifier(args.thumb)
    net.compile(optimizer=keras.optimizers.Adam(args.lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    x_cls, y_cls = x_val[: args.classifier_val_images], y_val[: args.classifier_val_images]
    if args.init:
        net.load_weights(args.init)
    if args.reuse:
        net.load_weights(os.path.join(out, "classifier.weights.h5"))
        earlier = json.load(open(os.path.join(out, "result.json")))
        epochs, train_s, frequent = earlier["epochs"], earlier["train_seconds"], earlier["most_frequent_rig"]
    else:
        schedule = [cosine_to_zero(args.lr, args.minutes * 60 - render_s, start + render_s)] if args.decay else []
        train, check = (batches(x_train, y_train),), (x_cls, y_cls)
        epochs = fit_on_budget(net, train, check, out, "val_accuracy", args.minutes, start, callbacks=schedule)
        train_s, frequent = round(time.time() - start - render_s), int(np.bincount(y_train).argmax())
    probabilities = np.asarray(net.predict(x_val, verbose=0))
    guess = np.argmax(probabilities[: args.classifier_val_images], -1)
    confusion = np.zeros((4, 4), int)
    np.add.at(confusion, (y_cls, guess), 1)

    result = {
        "command": "python research/rig_classifier.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "train_images": args.train_images,
        "train_seconds": train_s,
        "epochs": epochs,
        "most_frequent_rig": frequent,
        "val_accuracy": round(float(np.mean(guess == y_cls)), 4),
        "most_frequent_share": round(float(np.mean(y_cls == frequent)), 4),
        "confusion_rows_true_cols_guess_rigs_by_light_count": confusion.tolist(),
    }
    if args.reuse:  # the training run's own command and data; this call only adds the ratios
        result.update(command=earlier["command"], train_images=earlier["train_images"], reuse_command=result["command"])
    if os.path.exists(patch_net):  # the classifier's own figures stand without it (--reuse adds the ratios later)
        ratios = patch_net_ratios(patch_net, args.width, val[: args.val_images], y_val, guess, frequent, probabilities)
        result.update(ratios)
    else:
        print(f"no rig-known network at {patch_net}: ratios left out; add them later with --reuse --patch-net")
    print(json.dumps(result, indent=1))
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)


def patch_net_ratios(path, width, val, labels, guess, frequent, probabilities):
    """Ratios to the flat plane of the rig-known network at `path` on the renders `val`, given each render's true rig,
    the classifier's guess, the most frequent rig and the classifier's probabilities as its rig channels."""
    import numpy as np
    from lighting_study import context_network, predict_oracle

    from keras_patchnet.evaluation import flat_plane
    from keras_patchnet.metrics import evaluate_maps
    from keras_patchnet.ops.grid import patch_grid

    n, size = len(val), val[0].image.shape[0]
    grid = patch_grid(size, size, 64, 1)
    patch_net = context_network(64, width, channels=3 + 4)
    patch_net.load_weights(path)
    truth_d = np.stack([s.depth for s in val])[..., None]
    truth_n = np.stack([s.normals for s in val])
    flat_d, flat_n = flat_plane(truth_d, truth_n)
    flat = evaluate_maps(truth_d, flat_d, truth_n, flat_n)["mean"]

    def ratios(labels=None, probabilities=None):
        rig = 255.0 * (np.eye(4)[labels] if probabilities is None else probabilities)
        depth, normals = predict_oracle(patch_net, val, grid, brightness=rig, kind="rig")
        got = evaluate_maps(truth_d, depth, truth_n, normals)["mean"]
        return {k: round(got[k] / flat[k], 3) for k in ("depth_mae_mm", "mean_angle_deg")}

    return {
        "patch_net": path,
        "ratio_true_rig": ratios(labels[:n]),
        "ratio_guessed_rig": ratios(guess[:n]),
        "ratio_most_frequent_rig": ratios(np.full(n, frequent)),
        "ratio_probabilities": ratios(probabilities=probabilities[:n]),
    }


if __name__ == "__main__":
    sys.exit(main())
