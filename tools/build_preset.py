"""Turns a training run folder into a preset folder and records it: metadata.json (the recipe as a list of stages),
weights, config, golden outputs, learning curves; then remakes the card, the preset table and the README's tables
from the metadata (tools/sync_presets.py).

    python tools/build_preset.py runs/unet64-fixed unet.synthetic-fixed-light --hardware "..." --time "..."
    python tools/build_preset.py runs/unet-stage2 unet.synthetic-calibrated --earlier runs/unet-calibrated ...

`--earlier` names the runs a fine-tuned run started from (`--pretrained RUN`), first stage first, so the card
lists every command that led to the weights. `--earlier-preset NAME` takes the earlier stages from a shipped
preset's metadata instead (when their run folders are gone), for a run started with `--pretrained NAME`:

    python tools/build_preset.py runs/unet-stage5 unet.synthetic-calibrated \
        --earlier-preset unet.synthetic-calibrated ...

The card then names the start weights by the earlier stage's run folder, which is what the preset held then.

The run folder is what `keras-patchnet train` / `examples/train_from_scratch.py` write (config.json,
model.weights.h5, metrics.json with the recipe, curve.csv). The preset folder is laid out as its Hub repository:
config.json, model.weights.h5, metadata.json, README.md (model card), golden.npz (two held-out renders and their
outputs) and curve-stage<N>.csv (each stage's validation ratio to the flat plane per epoch, where the run kept it).
It goes to `keras_patchnet/weights/<name>` (installed with the package) with `--packaged` or when it is there
already, else to `weights/<name>`.
"""

import argparse
import importlib.util
import json
import os
import shutil

from keras_patchnet import hub, models
from keras_patchnet.data import TEST_SEED, render_batch
from keras_patchnet.evaluation import evaluate_synthetic

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights")  # the presets' folders
_spec = importlib.util.spec_from_file_location(
    "sync_presets", os.path.join(os.path.dirname(__file__), "sync_presets.py")
)
sync_presets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_presets)


def _recipe(run):
    with open(os.path.join(run, "metrics.json")) as f:
        return json.load(f)["recipe"]


def _folder(name, packaged=False):
    """Where preset `name` lives: inside the package for the ones that install with it, else weights/<name>."""
    inside = os.path.join(hub.PACKAGED_WEIGHTS, name)
    return inside if packaged or os.path.isdir(inside) else os.path.join(HERE, name)


def _preset_stages(name):
    """The stages recorded in shipped preset `name`'s metadata.json, first stage first."""
    path = os.path.join(_folder(name), "metadata.json")
    if not os.path.isfile(path):
        raise ValueError(f"--earlier-preset {name}: no shipped preset card at {path}")
    with open(path) as f:
        stages = json.load(f)["training"]["stages"]
    missing = [s for s in stages if "out" not in s["args"] or "seed" not in s["args"]]
    if missing:
        raise ValueError(
            f"Preset {name!r} records a stage without --out or --seed, so it cannot be continued: "
            f"{hub.command_line(missing[0])!r}"
        )
    return stages


def _continue_preset(name, recipe):
    """(earlier stages, this run's recipe) for a run that started from preset `name`: the start weights are
    named by the last earlier stage's --out, which is what `name` held when the run started."""
    earlier = _preset_stages(name)
    weights = os.path.join(_folder(name), "model.weights.h5")
    started = str(recipe.get("pretrained"))
    same_file = os.path.isfile(started) and os.path.realpath(started) == os.path.realpath(weights)
    same_folder = os.path.isdir(started) and os.path.realpath(started) == os.path.realpath(_folder(name))
    if started != name and not same_file and not same_folder:  # by name, its weights file or its folder
        raise ValueError(f"--earlier-preset {name}: the run started from --pretrained {recipe.get('pretrained')!r}")
    return earlier, {**recipe, "pretrained": earlier[-1]["args"]["out"]}


def _stage(recipe, staged):
    """One run as a recipe stage; a stage of several also names its output, start weights and seed."""
    skip = ("data",) if staged else ("out", "data", "pretrained", "seed")
    recipe = {**recipe, "bn_batches": recipe.get("bn_batches", 0)}  # runs older than the option had none
    args = {k: v for k, v in recipe.items() if v is not None and v is not False and k not in skip}
    return {"script": hub.TRAINING_SCRIPT, "args": args}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("name")
    p.add_argument("--hardware", required=True)
    p.add_argument("--time", required=True, help="training time, e.g. '58 min'")
    p.add_argument("--earlier", action="append", default=[], help="earlier stage's run folder (repeat, in order)")
    p.add_argument(
        "--earlier-preset",
        default=None,
        help="a shipped preset whose card lists the earlier stages (the run started from it)",
    )
    p.add_argument("--packaged", action="store_true", help="install the preset with the package")
    p.add_argument(
        "--min-overlap",
        type=int,
        default=None,
        help="the shipped grid's overlap, if not the training run's (the patch network does not change)",
    )
    p.add_argument(
        "--working-interpolation",
        choices=["nearest", "bilinear"],
        default="nearest",
        help="how images are brought to the training width (PatchNet's working_interpolation; nearest: chosen on "
        "validation renders, where it kept the native-scale ratios at 224-448 px and bilinear lost 0.06-0.13)",
    )
    p.add_argument(
        "--lighting",
        default=None,
        help="the held-out renders' lighting of the headline figures (default: the run's held-out split's)",
    )
    p.add_argument(
        "--input-encoding",
        choices=["srgb", "linear"],
        default=None,
        help="how the preset reads its pixels, if not as the run did (srgb: it linearises 8-bit photos first)",
    )
    args = p.parse_args(argv)

    with open(os.path.join(args.run, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(args.run, "config.json")) as f:
        config = json.load(f)
    grid = {} if args.min_overlap is None else {"min_overlap": args.min_overlap}
    if args.input_encoding:
        grid["input_encoding"] = args.input_encoding
    recipe = metrics["recipe"]
    width = config.get("working_width") or int(recipe["image_size"])  # the preset works at its training scale
    model = models.create_model(
        config["arch"],
        pretrained=args.run,
        working_width=width,
        working_interpolation=args.working_interpolation,
        **grid,
    )
    config = hub.model_config(model)
    runs = [*args.earlier, args.run]
    if args.earlier_preset:
        if args.earlier:
            p.error("give --earlier or --earlier-preset, not both")
        try:
            stages, recipe = _continue_preset(args.earlier_preset, recipe)
        except ValueError as e:
            p.error(str(e))
        stages = [*stages, _stage(recipe, staged=True)]
        runs = [None] * (len(stages) - 1) + [args.run]  # earlier stages keep the curves the preset holds
    else:
        recipes = [_recipe(run) for run in args.earlier] + [recipe]
        stages = [_stage(r, staged=len(recipes) > 1) for r in recipes]
    seeds = ", ".join(str(s["args"].get("seed", recipe["seed"])) for s in stages)
    size, lighting = metrics["image_size"], args.lighting or metrics.get("lighting", "rig")  # held-out split's
    trained_lighting = recipe.get("lighting", lighting)  # one lighting or a mixture, "fixed,rig,random"
    # measured again on the model as shipped (its grid may differ from the run's), by the card's command
    measured = evaluate_synthetic(model, metrics["num_images"], size, seed=TEST_SEED, lighting=lighting)
    print(
        f"held-out, as shipped: {measured['model']['depth_mae_mm']['mean']:.2f} mm, "
        f"{measured['model']['mean_angle_deg']['mean']:.2f} deg (run: {metrics['model']['depth_mae_mm']['mean']:.2f}"
        f" mm, {metrics['model']['mean_angle_deg']['mean']:.2f} deg)"
    )
    metrics = {**metrics, **measured}
    folder = _folder(args.name, args.packaged)
    os.makedirs(folder, exist_ok=True)
    for i, (stage, run) in enumerate(zip(stages, runs), start=1):  # each stage's learning curve, where kept
        if args.earlier_preset and stage.get("curve") and run is None:  # the earlier preset's curve files
            source = os.path.join(_folder(args.earlier_preset), stage["curve"])
            if os.path.abspath(source) != os.path.abspath(os.path.join(folder, stage["curve"])):
                shutil.copyfile(source, os.path.join(folder, stage["curve"]))
        if run and os.path.isfile(os.path.join(run, "curve.csv")):
            shutil.copyfile(os.path.join(run, "curve.csv"), os.path.join(folder, f"curve-stage{i}.csv"))
            stage["curve"] = f"curve-stage{i}.csv"
    training = {
        "data": f"synthetic renders ({size}x{size}, lighting={trained_lighting!r}), new renders every epoch, "
        f"seeds (TRAIN_SEED={seeds}, epoch, i)",
        "hardware": args.hardware,
        "time": args.time,
        "stages": stages,
    }
    evaluation = {
        "script": "tools/evaluate_synthetic.py",
        "args": {
            "model": config["arch"],
            "weights": args.name,
            "images": metrics["num_images"],
            "size": size,
            "lighting": lighting,
        },
    }
    input_contract = hub.input_contract(
        config.get("intensity", "patch"),
        trained_on=(
            f"{size}x{size} renders with patches of {config['patch_size']} (a surface of about 0.3 m at 1.0-1.4 m "
            f"filling about half the image), lighting={trained_lighting!r}"
        ),
        working_width=config["working_width"],
        working_interpolation=config.get("working_interpolation", "bilinear"),
        encoding=config.get("input_encoding", "linear"),
        light=config.get("light"),
    )
    lit = bool(config.get("light"))  # a light-conditioned preset's golden outputs keep the renders' light codes
    encoding = config.get("input_encoding", "linear")  # renders in the encoding the preset reads
    golden = render_batch([TEST_SEED, TEST_SEED + 1], size, size, lighting=lighting, light=lit, encoding=encoding)
    hub.save_preset(
        model,
        folder,
        name=args.name,
        golden_images=golden["images"],
        golden_light=golden.get("light"),
        metadata={
            "repo_id": f"keras-patchnet/{args.name}",
            "input_contract": input_contract,
            "training": training,
            "evaluation": evaluation,
            "metrics": {k: metrics[k] for k in ("model", "flat_plane")},
        },
    )
    for path in sync_presets.sync():
        print("wrote", path)


if __name__ == "__main__":
    main()
