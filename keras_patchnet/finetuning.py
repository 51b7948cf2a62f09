"""Fine-tuning a preset on frames of one's own set-up (a camera, a light, a cloth), in minutes on a CPU.

`finetune(model, data, out=RUN, minutes=10)` splits the frames into training and validation (whole sequences when
there are several, else frames), measures the model on the validation frames next to the flat plane, trains its
patch network on patches cut at random places from the training frames (as the patch network sees them: the
model's input encoding, intensity mode and working scale), measures the stitched validation ratio to the plane after
every epoch, keeps the best epoch's weights, and writes `RUN` as a preset folder (weights only, config, card, curve)
that `unet(pretrained=RUN)` and `--weights RUN` load. While it trains, `RUN/checkpoint/` holds the last epoch's
weights and optimizer state, so running it again resumes; it is removed when the run ends well.

No flips: a mirror image moves the set-up's light to the other side, which a model that takes no light cannot
know. No photometric jitter: under a calibrated light, brightness is the cue. Plain Python at import.
"""

import csv
import json
import os
import shutil
import time

import numpy as np

# The schedule, chosen on validation frames of an unseen set-up (benchmarks/bench_finetune.py --choose, recorded
# in docs/finetune.md): Adam at a constant rate, every weight trained from the first step but BatchNorm's (frozen);
# `renders`: renders of the package's sheets under the set-up's fitted light mixed with the frames (`data.lookalike`).
SCHEDULE = dict(
    lr=1e-3, decay="none", batch_size=16, steps_per_epoch=16, max_epochs=1000, batch_norm="frozen", renders=0
)
RESERVE_SECONDS = 5.0  # kept back from a time budget for writing the run folder
CURVE_FILE = "curve.csv"
CHECKPOINT = "checkpoint"


def split_frames(dataset, test_fraction=0.2, seed=0):
    """(train, validation) of a `TexlessDataset`: whole sequences held out when some object has two or more, else
    a share of the frames (at least one); a dataset of one frame cannot be split (ValueError)."""
    if len(dataset) < 2:
        raise ValueError(f"Fine-tuning needs at least 2 frames (training and validation); {dataset.root} has 1")
    sequences = {(r.object, r.sequence) for r in dataset.records}
    per_object = {}
    for obj, _ in sequences:
        per_object[obj] = per_object.get(obj, 0) + 1
    if max(per_object.values()) >= 2:
        import warnings

        with warnings.catch_warnings():  # an object with one sequence stays in training: that is the intent
            warnings.simplefilter("ignore")
            return dataset.split(by="sequence", test_fraction=test_fraction, seed=seed)
    return dataset.split(by="frame", test_fraction=test_fraction, seed=seed)


def prepare_frames(model, dataset, light=None):
    """Every frame of `dataset` as the patch network reads it: [(image, relative depth, normals)] at the model's
    working scale (targets resized by nearest neighbour), 0 where depth is unknown; a light-conditioned model's
    images carry the channels of `light` (one code (9,) for every frame)."""
    import keras

    from keras_patchnet.data.dataset import relative_depth
    from keras_patchnet.ops.resize import resize

    frames = []
    for i in range(len(dataset)):
        s = dataset.load(i)
        size = s["image"].shape[:2]
        code = None if not model.light else keras.ops.convert_to_tensor(np.asarray(light, "float32").reshape(1, -1))
        images, _, work = model._prepare(
            keras.ops.convert_to_tensor(s["image"][None].astype("float32")), None, size, code
        )
        known = s.get("valid", s["mask"])
        depth = relative_depth(s["depth"], known)[..., None]
        normals = np.where(known[..., None], s["normals"], 0.0).astype("float32")
        if tuple(work) != tuple(size):
            depth = np.asarray(resize(keras.ops.convert_to_tensor(depth[None]), work, "nearest"))[0]
            normals = np.asarray(resize(keras.ops.convert_to_tensor(normals[None]), work, "nearest"))[0]
        frames.append((keras.ops.convert_to_numpy(images)[0], depth, normals))
    return frames


def plane_ratios(model, dataset, light=None):
    """The stitched model's mean depth MAE and mean angle on `dataset` (each frame's silhouette given as its
    foreground, as `predict --mask` does), each over the flat plane's:
    {"depth_ratio", "angle_ratio", "model": ..., "flat_plane": ...}."""
    from keras_patchnet.evaluation import evaluate_dataset

    result = evaluate_dataset(model, dataset, use_mask=True, light=light)
    m, f = result["model"], result["flat_plane"]
    return {
        "depth_ratio": round(m["depth_mae_mm"]["mean"] / f["depth_mae_mm"]["mean"], 4),
        "angle_ratio": round(m["mean_angle_deg"]["mean"] / f["mean_angle_deg"]["mean"], 4),
        "model": {k: m[k] for k in ("depth_mae_mm", "mean_angle_deg")},
        "flat_plane": {k: f[k] for k in ("depth_mae_mm", "mean_angle_deg")},
    }


def _score(ratios):
    return (ratios["depth_ratio"] + ratios["angle_ratio"]) / 2


def _save_checkpoint(folder, net, optimizer, state):
    from keras_patchnet._atomic import atomic_files, write_text

    os.makedirs(folder, exist_ok=True)
    with atomic_files() as temp:
        net.save_weights(temp(os.path.join(folder, "last.weights.h5")))
        np.savez(temp(os.path.join(folder, "optimizer.npz")), *[np.asarray(v) for v in optimizer.variables])
    write_text(os.path.join(folder, "state.json"), json.dumps(state, indent=1))


def _load_checkpoint(folder, net, optimizer):
    """The saved state (dict), or None when there is no complete checkpoint in `folder`."""
    try:
        with open(os.path.join(folder, "state.json")) as f:
            state = json.load(f)
        optimizer.build(net.trainable_variables)  # so that the weights file's optimizer entries have a home
        net.load_weights(os.path.join(folder, "last.weights.h5"))
        with np.load(os.path.join(folder, "optimizer.npz")) as saved:
            values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    except (OSError, ValueError, KeyError):
        return None
    if len(values) != len(optimizer.variables):
        return None
    for variable, value in zip(optimizer.variables, values):
        variable.assign(value)
    return state


def finetune(
    model,
    data,
    out,
    minutes=None,
    epochs=None,
    validation=None,
    lr=None,
    batch_size=None,
    steps_per_epoch=None,
    decay=None,
    batch_norm=None,
    light=None,
    renders=None,
    name="unet.finetuned",
    start_time=None,
    seed=0,
    verbose=1,
):
    """Fine-tunes `model` (a `PatchNet`) on a set-up's frames; writes the preset folder `out`; returns a summary.

    Args:
        model: the starting point, e.g. `unet(pretrained=True)`; trained in place (its best epoch's weights).
        data: a dataset folder or `TexlessDataset` (images with depth, with or without normals and masks).
        out: the run folder: a preset folder at the end, the checkpoint while it trains.
        minutes: wall-time budget for the call from `start_time` (default: now), writing included; None: `epochs`.
        epochs: the most epochs to train (default: until `minutes` runs out, or `SCHEDULE["max_epochs"]`).
        validation: frames to choose the best epoch on (a folder or `TexlessDataset`); default: held out of `data`
            by `split_frames`.
        lr, batch_size, steps_per_epoch: the schedule (defaults: `SCHEDULE`); batch_size counts patches.
        batch_norm: "frozen" (default: BatchNorm keeps the start's statistics and weights: steadier with few
            patches a step, and measured better from a preset) or "train" (BatchNorm learns, as in training; for
            a start from random weights, whose statistics mean nothing).
        decay: "cosine" (the rate falls along a half cosine to 5% of `lr` over the time budget, or over `epochs`)
            or "none" (constant); default: `SCHEDULE`.
        light: a light code (9 numbers, `keras_patchnet.lighting`) of the set-up, recorded in the card; a
            light-conditioned model (`PatchNet(light=...)`) needs it and reads it with every frame.
        renders: how many renders of the package's own sheets to mix with the training frames, drawn under the
            set-up's light and encoding as fitted from the training frames (`keras_patchnet.data.lookalike`); 0:
            the frames alone; default: `SCHEDULE`.
        name: the preset's name in its card.
        verbose: 1 prints one line per epoch, with the validation ratio to the flat plane.

    Returns: {"folder", "epochs", "best_epoch", "before", "after", "seconds", "train_frames", "validation_frames"},
    "before"/"after" being `plane_ratios` on the validation frames.
    """
    import keras

    from keras_patchnet import losses
    from keras_patchnet.data import RandomPatches, TexlessDataset
    from keras_patchnet.fitting import build_for_fit

    start = time.time() if start_time is None else float(start_time)
    if minutes is None and epochs is None:
        raise ValueError("Give `minutes` (a wall-time budget) or `epochs` (or both)")
    if minutes is not None and not minutes > 0:
        raise ValueError(f"`minutes` must be > 0. Received: minutes={minutes!r}")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"`epochs` must be an int >= 1. Received: epochs={epochs!r}")
    schedule = {**SCHEDULE}
    given = {"lr": lr, "batch_size": batch_size, "steps_per_epoch": steps_per_epoch, "decay": decay}
    for key, value in {**given, "batch_norm": batch_norm, "renders": renders}.items():
        if value is not None:
            schedule[key] = value
    if isinstance(schedule["renders"], bool) or not isinstance(schedule["renders"], int) or schedule["renders"] < 0:
        raise ValueError(f"`renders` must be an int >= 0. Received: renders={schedule['renders']!r}")
    if schedule["batch_norm"] not in ("train", "frozen"):
        raise ValueError(f"`batch_norm` must be 'train' or 'frozen'. Received: batch_norm={schedule['batch_norm']!r}")
    if getattr(model, "light", None) and light is None:
        raise ValueError(
            f"This model is light-conditioned (light={model.light!r}): give `light`, the set-up's light code "
            "(keras-patchnet calibrate)"
        )
    dataset = TexlessDataset(data) if isinstance(data, (str, os.PathLike)) else data
    if validation is None:
        train_set, val_set = split_frames(dataset, seed=seed)
    else:
        train_set = dataset
        val_set = TexlessDataset(validation) if isinstance(validation, (str, os.PathLike)) else validation
    if schedule["decay"] not in ("cosine", "none"):
        raise ValueError(f"`decay` must be 'cosine' or 'none'. Received: decay={schedule['decay']!r}")
    max_epochs = epochs or schedule["max_epochs"]
    os.makedirs(out, exist_ok=True)
    checkpoint = os.path.join(out, CHECKPOINT)

    def say(text):
        if verbose:
            print(text, flush=True)

    code = light if getattr(model, "light", None) else None
    frames = prepare_frames(model, train_set, code)
    setup = None
    if schedule["renders"]:
        from keras_patchnet.data.lookalike import Frames, fit_setup, lookalike_renders

        setup = fit_setup(train_set)
        h, w = np.asarray(train_set.load(0)["image"]).shape[:2]
        frames += prepare_frames(model, Frames(lookalike_renders(setup, schedule["renders"], h, w, seed)), code)
        d = setup["light"]["direction"]
        say(
            f"{schedule['renders']} renders added under the set-up's light as fitted from its frames (towards "
            f"({d[0]:.2f}, {d[1]:.2f}, {d[2]:.2f}), ambient {setup['light']['ambient']:.2f}, {setup['encoding']})"
        )
    data_batches = RandomPatches(
        frames, model.patch_size, schedule["batch_size"], schedule["steps_per_epoch"], seed=seed
    )
    net = model.patch_model
    if schedule["batch_norm"] == "frozen":  # BatchNorm normalises with the start's statistics and learns nothing
        for layer in net.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    optimizer = keras.optimizers.Adam(schedule["lr"], global_clipnorm=5.0)
    net.compile(optimizer=optimizer, loss=losses.patchnet_losses())
    build_for_fit(net, data_batches)  # TensorFlow then traces the train step once, not twice
    state = _load_checkpoint(checkpoint, net, optimizer)
    if state is None:
        t = time.time()
        before = plane_ratios(model, val_set, code)
        state = {"epoch": 0, "before": before, "best": None, "rows": [], "seconds": 0.0}
        state["validation_seconds"] = time.time() - t
        net.save_weights(os.path.join(out, ".best.weights.h5"))  # the start is the best so far
        state["best"] = {"epoch": 0, **{k: before[k] for k in ("depth_ratio", "angle_ratio")}}
        say(
            f"{len(train_set)} training and {len(val_set)} validation frames; before: depth "
            f"{before['depth_ratio']:.3f}x, angle {before['angle_ratio']:.3f}x the flat plane"
        )
    else:
        data_batches.epoch = state["epoch"]
        say(f"resumed from {checkpoint} after epoch {state['epoch']}")
    deadline = None if minutes is None else start + 60.0 * minutes - RESERVE_SECONDS - state["validation_seconds"]

    class Deadline(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if deadline is not None and time.time() > deadline:
                self.model.stop_training = True

    epoch_seconds = 0.0
    while state["epoch"] < max_epochs:
        if deadline is not None and time.time() + epoch_seconds > deadline:
            break
        t = time.time()
        if schedule["decay"] == "cosine":  # by the share of the budget spent (time, else epochs)
            done = state["epoch"] / max_epochs if deadline is None else (t - start) / max(deadline - start, 1e-9)
            optimizer.learning_rate = schedule["lr"] * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(done, 1.0))))
        history = net.fit(
            data_batches, epochs=state["epoch"] + 1, initial_epoch=state["epoch"], verbose=0, callbacks=[Deadline()]
        )
        loss = history.history.get("loss", [float("nan")])[-1]
        steps_done = net.stop_training
        ratios = plane_ratios(model, val_set, code)
        state["epoch"] += 1
        epoch_seconds = time.time() - t
        state["seconds"] += epoch_seconds
        row = {
            "epoch": state["epoch"],
            "minutes": round((time.time() - start) / 60, 3),
            "loss": round(loss, 5),
            "lr": float(f"{float(np.asarray(optimizer.learning_rate)):.4g}"),
            "depth_ratio": ratios["depth_ratio"],
            "angle_ratio": ratios["angle_ratio"],
        }
        state["rows"].append(row)
        best = _score(ratios) < _score(state["best"])
        if best:
            state["best"] = {"epoch": state["epoch"], **{k: ratios[k] for k in ("depth_ratio", "angle_ratio")}}
            net.save_weights(os.path.join(out, ".best.weights.h5"))
        _save_checkpoint(checkpoint, net, optimizer, state)
        say(
            f"epoch {state['epoch']}: loss {loss:.4f}, validation depth {ratios['depth_ratio']:.3f}x, angle "
            f"{ratios['angle_ratio']:.3f}x the flat plane{' (best)' if best else ''}, "
            f"{row['minutes']:.1f} min"
        )
        if steps_done:  # stopped inside the epoch by the deadline
            break
    net.load_weights(os.path.join(out, ".best.weights.h5"))
    after = plane_ratios(model, val_set, code) if state["best"]["epoch"] else state["before"]
    _write_run(model, out, state, after, train_set, val_set, schedule, light, name, time.time() - start, setup)
    shutil.rmtree(checkpoint, ignore_errors=True)
    os.remove(os.path.join(out, ".best.weights.h5"))
    say(
        f"best epoch {state['best']['epoch']}: depth {state['before']['depth_ratio']:.3f}x -> "
        f"{after['depth_ratio']:.3f}x, angle {state['before']['angle_ratio']:.3f}x -> {after['angle_ratio']:.3f}x "
        f"the flat plane on {len(val_set)} validation frames; wrote {out}"
    )
    return {
        "folder": out,
        "epochs": state["epoch"],
        "best_epoch": state["best"]["epoch"],
        "before": state["before"],
        "after": after,
        "seconds": round(time.time() - start, 1),
        "train_frames": len(train_set),
        "validation_frames": len(val_set),
        "curve": state["rows"],
    }


def _write_run(model, out, state, after, train_set, val_set, schedule, light, name, seconds, setup=None):
    """The run folder as a preset: weights only (a fresh model's, so no optimizer state), config, card, curve."""
    import platform

    from keras_patchnet import models
    from keras_patchnet._atomic import write_text
    from keras_patchnet.hub import model_config, save_preset

    fields = ["epoch", "minutes", "loss", "lr", "depth_ratio", "angle_ratio"]
    lines = [",".join(fields)] + [",".join(str(row.get(k, "")) for k in fields) for row in state["rows"]]
    write_text(os.path.join(out, CURVE_FILE), "\n".join(lines) + "\n")
    clean = models.build_from_config(model_config(model))
    clean.set_weights(model.get_weights())
    before = state["before"]
    training = {
        "data": os.path.abspath(getattr(train_set, "root", "")),
        "frames": f"{len(train_set)} training, {len(val_set)} validation",
        "hardware": f"{os.cpu_count()} CPU cores ({platform.machine()})",
        "time": f"{seconds / 60:.1f} minutes, {state['epoch']} epochs (best: {state['best']['epoch']})",
        "schedule": json.dumps(schedule),
        "validation ratio to the flat plane (depth / angle)": (
            f"{before['depth_ratio']:.3f} / {before['angle_ratio']:.3f} before, "
            f"{after['depth_ratio']:.3f} / {after['angle_ratio']:.3f} after"
        ),
        "learning curve": CURVE_FILE,
    }
    metadata = {
        "training": training,
        "metrics": {"model": after["model"], "flat_plane": after["flat_plane"]},
        "finetune": {"before": before, "after": after, "best_epoch": state["best"]["epoch"]},
    }
    if setup is not None:
        metadata["setup"] = {"light": setup["light"], "encoding": setup["encoding"], "residuals": setup["residuals"]}
    if light is not None:
        metadata["light"] = [float(v) for v in np.asarray(light).reshape(-1)]
    save_preset(clean, out, name=name, metadata=metadata)
    with open(os.path.join(out, CURVE_FILE), newline="") as f:  # the curve is complete and parses
        list(csv.DictReader(f))
