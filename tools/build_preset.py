"""Turns a training run folder into a preset folder `weights/<name>/` and prints its entry for presets.py.

    python tools/build_preset.py runs/unet64-fixed unet.synthetic-fixed-light --hardware "..." --time "..."
    python tools/build_preset.py runs/unet-stage2 unet.synthetic-calibrated --earlier runs/unet-calibrated ...

`--earlier` names the runs a fine-tuned run started from (`--pretrained RUN`), first stage first, so the card
lists every command that led to the weights. `--earlier-preset NAME` takes the earlier stages from a shipped
preset's card instead (when their run folders are gone), for a run started with `--pretrained NAME`:

    python tools/build_preset.py runs/unet-stage5 unet.synthetic-calibrated \
        --earlier-preset unet.synthetic-calibrated ...

The card then names the start weights by the earlier stage's run folder, which is what the preset held then.

The run folder is what `keras-patchnet train` / `examples/train_from_scratch.py` write (config.json,
model.weights.h5, metrics.json with the recipe). The preset folder is laid out as its Hub repository: config.json,
model.weights.h5, metadata.json, README.md (model card), golden.npz (two held-out renders and their outputs).
"""

import argparse
import json
import os
import pprint
import re

from keras_patchnet import hub, models
from keras_patchnet.data import TEST_SEED, render_batch
from keras_patchnet.evaluation import evaluate_synthetic

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights")  # the presets' folders


def _recipe(run):
    with open(os.path.join(run, "metrics.json")) as f:
        return json.load(f)["recipe"]


def _folder(name):
    """Where preset `name` lives: inside the package for the ones that install with it, else weights/<name>."""
    packaged = os.path.join(hub.PACKAGED_WEIGHTS, name)
    return packaged if os.path.isdir(packaged) else os.path.join(HERE, name)


def _preset_stages(name):
    """The stage commands recorded in shipped preset `name`'s metadata.json, first stage first."""
    path = os.path.join(_folder(name), "metadata.json")
    if not os.path.isfile(path):
        raise ValueError(f"--earlier-preset {name}: no shipped preset card at {path}")
    with open(path) as f:
        recipe = json.load(f)["training"]["recipe"]
    stages = [c for c in re.split(r"(?:; then )?stage \d+: ", recipe) if c]
    missing = [c for c in stages if not re.search(r"--out \S+", c) or not re.search(r"--seed \d+", c)]
    if missing:
        raise ValueError(
            f"Preset {name!r} records a stage without --out or --seed, so it cannot be continued: {missing[0]!r}"
        )
    return stages


def _continue_preset(name, recipe):
    """(earlier commands, this run's recipe) for a run that started from preset `name`: the start weights are
    named by the last earlier stage's --out, which is what `name` held when the run started."""
    earlier = _preset_stages(name)
    if recipe.get("pretrained") != name:
        raise ValueError(f"--earlier-preset {name}: the run started from --pretrained {recipe.get('pretrained')!r}")
    previous_out = re.search(r"--out (\S+)", earlier[-1]).group(1)
    return earlier, {**recipe, "pretrained": previous_out}


def _seed(command):
    return int(re.search(r"--seed (\d+)", command).group(1))


def _command(recipe, staged):
    """The command line of one run; a stage of several also names its output, start weights and seed."""
    skip = ("data",) if staged else ("out", "data", "pretrained", "seed")
    recipe = {**recipe, "bn_batches": recipe.get("bn_batches", 0)}  # runs older than the option had none
    options = " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in recipe.items() if v is not None and v is not False and k not in skip
    )
    return f"python examples/train_from_scratch.py {options}"


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
    p.add_argument(
        "--min-overlap",
        type=int,
        default=None,
        help="the shipped grid's overlap, if not the training run's (the patch network does not change)",
    )
    args = p.parse_args(argv)

    with open(os.path.join(args.run, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(args.run, "config.json")) as f:
        config = json.load(f)
    grid = {} if args.min_overlap is None else {"min_overlap": args.min_overlap}
    model = models.create_model(config["arch"], pretrained=args.run, **grid)
    config = hub.model_config(model)
    recipe = metrics["recipe"]
    config.setdefault("working_width", int(recipe["image_size"]))  # the preset works at its training scale
    if args.earlier_preset:
        if args.earlier:
            p.error("give --earlier or --earlier-preset, not both")
        try:
            commands, recipe = _continue_preset(args.earlier_preset, recipe)
        except ValueError as e:
            p.error(str(e))
        commands = commands + [_command(recipe, staged=True)]
        seeds = ", ".join(str(_seed(c)) for c in commands)
    else:
        stages = [_recipe(run) for run in args.earlier] + [recipe]
        commands = [_command(r, staged=len(stages) > 1) for r in stages]
        seeds = ", ".join(str(r["seed"]) for r in stages)
    size, lighting = metrics["image_size"], metrics.get("lighting", "rig")
    # measured again on the model as shipped (its grid may differ from the run's), by the card's command
    measured = evaluate_synthetic(model, metrics["num_images"], size, seed=TEST_SEED, lighting=lighting)
    print(
        f"held-out, as shipped: {measured['model']['depth_mae_mm']['mean']:.2f} mm, "
        f"{measured['model']['mean_angle_deg']['mean']:.2f} deg (run: {metrics['model']['depth_mae_mm']['mean']:.2f}"
        f" mm, {metrics['model']['mean_angle_deg']['mean']:.2f} deg)"
    )
    metrics = {**metrics, **measured}
    training = {
        "data": f"synthetic renders ({size}x{size}, lighting={lighting!r}), new renders every epoch, "
        f"seeds (TRAIN_SEED={seeds}, epoch, i)",
        "recipe": commands[0]
        if len(commands) == 1
        else "; then ".join(f"stage {i}: {c}" for i, c in enumerate(commands, start=1)),
        "hardware": args.hardware,
        "time": args.time,
    }
    metrics_command = (
        f"python tools/evaluate_synthetic.py --model {config['arch']} --weights {args.name} "
        f"--images {metrics['num_images']} --size {size} --lighting {lighting}"
    )
    input_contract = hub.input_contract(
        config["intensity"],
        trained_on=(
            f"{size}x{size} renders with patches of {config['patch_size']} (a surface of about 0.3 m at 1.0-1.4 m "
            f"filling "
            f"about half the image), lighting={lighting!r}"
        ),
        working_width=config["working_width"],
    )
    folder = _folder(args.name)
    golden = render_batch([TEST_SEED, TEST_SEED + 1], size, size, lighting=lighting)["images"]
    hub.save_preset(
        model,
        folder,
        name=args.name,
        golden_images=golden,
        metadata={
            "training": training,
            "metrics": {k: metrics[k] for k in ("model", "flat_plane")},
            "metrics_command": metrics_command,
            "input_contract": input_contract,
            "license": "apache-2.0",
        },
    )
    files = {n: hub.sha256(os.path.join(folder, n)) for n in ("config.json", "model.weights.h5")}
    with open(os.path.join(folder, "metadata.json")) as f:
        params = json.load(f)["trainable_params"]
    entry = {
        "arch": config["arch"],
        "repo_id": f"keras-patchnet/{args.name}",
        "revision": None,
        "files": files,
        "config": config,
        "trainable_params": params,
        "input_contract": input_contract,
        "training": training,
        "metrics": {k: metrics[k] for k in ("model", "flat_plane")},
        "metrics_command": metrics_command,
        "license": "apache-2.0",
    }
    print(f"{args.name!r}: " + pprint.pformat(entry, width=116, sort_dicts=False) + ",")


if __name__ == "__main__":
    main()
