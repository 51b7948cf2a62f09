"""The training recipe behind the shipped weights, shared by `keras-patchnet train` and
`examples/train_from_scratch.py`.

Patch-mode training (the report's way): patches from synthetic renders drawn afresh every epoch (or from a dataset
folder in the real dataset's layout), flips and light jitter (none under the calibrated `lighting="fixed"`, nor in
a mixture of lightings that holds it, e.g. `lighting="fixed,rig,random"`: images lit in turn by each), Adam
with a cosine learning-rate decay and gradient clipping, the report's loss (masked shift-invariant L1 on depth
+ 10 * angle / pi + unit-length term on normals,
mean over patches). `keras.callbacks.BackupAndRestore` saves the state after every epoch, so running the same
command again resumes where a stop left off. Each epoch reports the validation loss, next to the flat plane's
(printed once at the start). After the last epoch BatchNorm's moving statistics are recomputed over `bn_batches`
training batches with the final weights (`recalibrate_batch_norm`). At the end the full-image model is evaluated
after stitching on the held-out split, next to the flat-plane baseline, and `model.weights.h5`, `config.json` and
`metrics.json` are written to `out`.
"""

import json
import os
import time

import numpy as np

from keras_patchnet.callbacks import resume_logs, time_budget, validation_curve  # noqa: F401 (public here too)

# Plain Python up to `train`: the CLI reads DEFAULTS before it has chosen the Keras backend.
from keras_patchnet.constants import TEST_SEED, TRAIN_SEED, VAL_SEED
from keras_patchnet.finetuning import finetune  # noqa: F401 (public here too)
from keras_patchnet.fitting import build_for_fit  # noqa: F401 (public here too)

DEFAULTS = dict(
    model="unet",
    out="runs/unet",
    data="synthetic",
    epochs=20,
    steps=100,
    batch_size=8,
    image_size=224,
    patch_size=128,
    width=8,
    min_overlap=1,
    lr=2e-3,
    lighting="rig",
    world="standard",
    intensity="patch",
    val_images=64,
    test_images=64,
    seed=TRAIN_SEED,
    time_budget=None,
    jit_compile="auto",
    pretrained=False,
    bn_batches=50,
    curve_images=32,
    scales=None,
    curve_sizes=None,
    dtype_policy="float32",
    input_encoding="auto",
    light=None,
    verbose="auto",
)


# "mixed_bfloat16": convolutions in bfloat16, weights, BatchNorm statistics, heads, loss and the stitch in float32
# (the recipe's step on a CPU with AVX512-BF16; see benchmarks/bench_training.py). float16 is left out:
# it needs loss scaling and brings no speed on CPUs.
DTYPE_POLICIES = ("float32", "mixed_bfloat16")


def batch_norm_layers(model):
    """Every `BatchNormalization` layer of `model`, nested models included, in order."""
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(batch_norm_layers(layer))
    return found


def recalibrate_batch_norm(model, data, batches=50):
    """Recomputes the moving statistics of every BatchNorm layer of `model` as the plain average over `batches`
    batches of `data` (x or (x, y) items, indexable) of the batch means and variances, the weights left as they are
    ("precise BN", Wu & Johnson 2021). Returns the number of batches used.

    Why: at the end of training the moving averages mix statistics of many earlier weights. For a network whose
    activations change scale fast (the Inception encoder has no normalisation of its own, and its code reached
    magnitudes of 1e8 on [0, 255] input), inference-mode outputs then drift far from training-mode ones; this
    makes them agree again.
    """
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 0:
        raise ValueError(f"`batches` must be an int >= 0 (0 turns recalibration off). Received: batches={batches!r}")
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise TypeError(
            f"`data` must be indexable with a length (a list of batches or a PyDataset such as "
            f"PatchNetDataset). Received: {type(data).__name__}"
        )
    layers = batch_norm_layers(model)
    batches = min(batches, len(data))
    if not layers or batches <= 0:
        return 0
    momenta = [layer.momentum for layer in layers]
    try:
        for k in range(batches):
            item = data[k]
            x = item[0] if isinstance(item, tuple) else item
            for layer in layers:  # new = old * k / (k + 1) + batch / (k + 1): a running plain mean
                layer.momentum = k / (k + 1)
            model(x, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return batches


def flat_plane_loss(data):
    """The loss of the flat plane (relative depth 0, normals (0, 0, -1)) on `data`, to read the fit's numbers by."""
    from keras_patchnet import losses

    loss = losses.patchnet_losses()
    totals = {"depth": 0.0, "normals": 0.0}
    for i in range(len(data)):
        _, y = data[i]
        flat = np.zeros_like(y["normals"])
        flat[..., 2] = -1.0
        totals["depth"] += float(loss["depth"](y["depth"], np.zeros_like(y["depth"])))
        totals["normals"] += float(loss["normals"](y["normals"], flat))
    return {k: round(v / len(data), 4) for k, v in totals.items()}


def _numbers(value, kind, key="value"):
    """None, a list/tuple, or a comma-separated string ("1,6", from the command line) -> tuple of `kind` or None;
    a ValueError naming `key` otherwise."""
    if value is None or value == "None":
        return None
    try:
        return tuple(kind(v) for v in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        raise ValueError(f"`{key}` must be comma-separated {kind.__name__}s, e.g. '1,6'. Received: {value!r}") from None


def _sources(cfg, encoding=None):
    """(train source, validation source, test split or None) for cfg["data"]: "synthetic" or a dataset folder;
    renders in `encoding` (the model's)."""
    from keras_patchnet.data import SyntheticSource, TexlessDataset

    if cfg["data"] == "synthetic":
        size = cfg["image_size"]
        light = cfg["lighting"]
        world = cfg["world"]
        train = SyntheticSource(
            cfg["steps"] * cfg["batch_size"],
            size,
            size,
            seed=cfg["seed"],
            lighting=light,
            world=world,
            scales=_numbers(cfg["scales"], float, "scales"),
            light=bool(cfg["light"]),
            encoding=encoding,
        )
        val = SyntheticSource(
            cfg["val_images"],
            size,
            size,
            seed=VAL_SEED,
            resample=False,
            lighting=light,
            world=world,
            light=bool(cfg["light"]),
            encoding=encoding,
        )
        return train, val, None
    train, test = TexlessDataset(cfg["data"]).split(by="sequence", seed=cfg["seed"])
    return train, test, test


def _lightings(cfg):
    """The distinct lightings of cfg["lighting"] (one, or a mixture such as "fixed,rig,random"), in order."""
    from keras_patchnet.data.dataset import parse_lightings

    return tuple(dict.fromkeys(parse_lightings(cfg["lighting"])))


def _worlds(cfg):
    """The distinct worlds of cfg["world"] (one, or a mixture such as "standard,physical"), in order."""
    from keras_patchnet.data.dataset import parse_worlds

    return tuple(dict.fromkeys(parse_worlds(cfg["world"])))


def _label(world, light, size, cfg):
    """A validation set's name in curve.csv (and, without a `size`, in metrics.json): the size for one world and
    lighting, else what tells them apart ("rig", "physical_rig", "rig_112", ...)."""
    parts = ([world] if len(_worlds(cfg)) > 1 else []) + ([light] if len(_lightings(cfg)) > 1 else [])
    return "_".join(parts + ([str(size)] if size is not None and (cfg["curve_sizes"] or not parts) else []))


def train(**kwargs):
    """Trains (or resumes) a model with the recipe above; returns the metrics dict also written to metrics.json.

    Keyword arguments and defaults: see `DEFAULTS` (`data`: "synthetic" or a dataset folder; `time_budget` in
    minutes; `pretrained`: start from pretrained weights, for fine-tuning; `dtype_policy`: "float32" or
    "mixed_bfloat16", set for the run and restored after it; the weights are saved in float32 either way, and the
    learning curve and the held-out evaluation at the end run under the run's policy; `light`: "sh9" trains a
    light-conditioned model (`PatchNet(light="sh9")`) on renders with their true light codes, without jitter; from
    a `pretrained` preset that takes no light, it starts as that preset, see `models.with_light_input`).
    """
    import keras

    unknown = set(kwargs) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"Unknown training options {sorted(unknown)}. Known: {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **kwargs}
    for key in ("curve_images", "bn_batches"):
        if isinstance(cfg[key], bool) or not isinstance(cfg[key], int) or cfg[key] < 0:
            raise ValueError(f"`{key}` must be an int >= 0 (0: off). Received: {key}={cfg[key]!r}")
    sizes = _numbers(cfg["curve_sizes"], int, "curve_sizes") or ()
    if any(size < 1 for size in sizes):
        raise ValueError(f"`curve_sizes` must be positive image sizes. Received: {cfg['curve_sizes']!r}")
    if cfg["data"] == "synthetic":
        _lightings(cfg), _worlds(cfg)  # a ValueError naming `lighting` or `world` before anything is written
    _numbers(cfg["scales"], float, "scales")  # checked here, before anything is written; the range by SyntheticSource
    if cfg["dtype_policy"] not in DTYPE_POLICIES:
        policy = cfg["dtype_policy"]
        raise ValueError(f"`dtype_policy` must be one of {DTYPE_POLICIES}. Received: dtype_policy={policy!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(cfg["dtype_policy"])
    try:
        return _train(cfg)
    finally:
        keras.config.set_dtype_policy(previous)


def _encoding(cfg):
    """The model's input encoding: as given, or ("auto") sRGB when the physical world is among the training renders
    (every render of the run is then written through the sRGB curve), else linear."""
    if cfg["input_encoding"] != "auto":
        return cfg["input_encoding"]
    return "srgb" if cfg["data"] == "synthetic" and "physical" in _worlds(cfg) else "linear"


def _train(cfg):
    import keras

    from keras_patchnet import losses, models
    from keras_patchnet.data import PatchNetDataset
    from keras_patchnet.evaluation import evaluate_dataset, evaluate_synthetic

    os.makedirs(cfg["out"], exist_ok=True)
    keras.utils.set_random_seed(cfg["seed"])
    model = models.create_model(
        cfg["model"],
        pretrained=cfg["pretrained"],
        patch_size=cfg["patch_size"],
        width=cfg["width"],
        min_overlap=cfg["min_overlap"],
        intensity=cfg["intensity"],
        input_encoding=_encoding(cfg),
        **({"light": cfg["light"]} if cfg["light"] and not cfg["pretrained"] else {}),
    )
    if cfg["light"] and not model.light:  # a preset of no light: its weights, the light's channels at zero
        model = models.with_light_input(model, cfg["light"])
    train_source, val_source, test_split = _sources(cfg, model.input_encoding)
    patches = dict(mode="patches", **model.data_settings)  # the model's grid and intensity, never a copy
    # no jitter and no flips where any image is under the calibrated light (a flip would move it; see render)
    lightings = _lightings(cfg) if cfg["data"] == "synthetic" else ()
    calibrated = "fixed" in lightings
    # nor for a model told the light: jitter would break the relation of brightness to the code
    data = PatchNetDataset(
        train_source,
        batch_size=cfg["batch_size"],
        augment=not calibrated and not cfg["light"],
        seed=cfg["seed"],
        **patches,
    )
    val = PatchNetDataset(val_source, batch_size=16, shuffle=False, **patches)
    print("flat-plane validation loss:", flat_plane_loss(val), flush=True)
    steps = cfg["epochs"] * len(data)
    schedule = keras.optimizers.schedules.CosineDecay(cfg["lr"], steps, alpha=0.05)
    jit = {"true": True, "false": False}.get(str(cfg["jit_compile"]).lower(), "auto")
    net = model.patch_model
    net.compile(
        optimizer=keras.optimizers.Adam(schedule, global_clipnorm=5.0), loss=losses.patchnet_losses(), jit_compile=jit
    )
    build_for_fit(net, data)  # traces the train function once on TensorFlow, not twice
    backup = os.path.join(cfg["out"], "backup")
    log_path, curve_path = os.path.join(cfg["out"], "log.csv"), os.path.join(cfg["out"], "curve.csv")
    callbacks = [
        resume_logs(backup, [(log_path, "epoch", 1), (curve_path, "epoch", 0)]),
        keras.callbacks.CSVLogger(log_path, append=True),
    ]
    if cfg["curve_images"] and cfg["data"] == "synthetic":  # the stitched validation ratio to the flat plane
        from keras_patchnet.data import render_batch
        from keras_patchnet.evaluation import predict_maps

        n = min(cfg["curve_images"], cfg["val_images"])
        sets = []
        # one set per size and per lighting of a mixture (the first is unlabelled: depth_ratio, angle_ratio)
        for world, light in [(w, lt) for w in _worlds(cfg) for lt in lightings]:
            for size in _numbers(cfg["curve_sizes"], int, "curve_sizes") or (cfg["image_size"],):
                seeds, encoding = range(VAL_SEED, VAL_SEED + n), model.input_encoding
                curve = render_batch(seeds, size, size, None, light, world, bool(cfg["light"]), encoding)
                images, codes = curve["images"].astype("float32"), curve.get("light")
                predict = lambda images=images, codes=codes: predict_maps(model, images, 16, codes)  # noqa: E731
                sets.append((_label(world, light, size, cfg), predict, curve["depth"], curve["normals"]))
        callbacks.append(validation_curve(*sets[0][1:], curve_path, more=sets[1:]))
    if cfg["time_budget"]:
        callbacks.append(time_budget(cfg["time_budget"] * 60))
    # last, so that it saves after every row of the epoch is written; kept after the run, so a run stopped by
    # `time_budget` resumes when the same command runs again
    callbacks.append(keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False))
    start = time.time()
    net.fit(data, epochs=cfg["epochs"], validation_data=val, callbacks=callbacks, verbose=cfg["verbose"])
    train_seconds = time.time() - start
    if cfg["bn_batches"]:
        before = net.evaluate(val, verbose=0, return_dict=True)["loss"]
        used = recalibrate_batch_norm(net, data, cfg["bn_batches"])
        after = net.evaluate(val, verbose=0, return_dict=True)["loss"]
        print(
            f"BatchNorm statistics recomputed over {used} training batches: validation loss {before:.4f} -> "
            f"{after:.4f}",
            flush=True,
        )
    from keras_patchnet._atomic import atomic_files, write_text
    from keras_patchnet.hub import model_config, write_manifest

    with atomic_files() as temp:
        model.save_weights(temp(os.path.join(cfg["out"], "model.weights.h5")))
        with open(temp(os.path.join(cfg["out"], "config.json")), "w") as f:
            json.dump(model_config(model), f, indent=2, sort_keys=True)
    if test_split is None:
        held_out = {
            _label(world, light, None, cfg): evaluate_synthetic(
                model, cfg["test_images"], cfg["image_size"], seed=TEST_SEED, lighting=light, world=world
            )
            for world in _worlds(cfg)
            for light in lightings
        }
        result = next(iter(held_out.values()))  # a mixture: the first here, every one under "lightings"
        if len(held_out) > 1:
            result["lightings"] = {key: {k: r[k] for k in ("model", "flat_plane")} for key, r in held_out.items()}
    else:
        result = evaluate_dataset(model, test_split)
        result.pop("per_image", None)
    result["train_seconds_this_run"] = train_seconds
    result["recipe"] = {k: v for k, v in cfg.items() if k != "verbose"}
    write_text(os.path.join(cfg["out"], "metrics.json"), json.dumps(result, indent=2))
    write_manifest(cfg["out"], files=("model.weights.h5", "config.json", "metrics.json"))
    return result
