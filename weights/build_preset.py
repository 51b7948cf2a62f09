"""Turns a training run folder into a preset folder `weights/<name>/` and prints its entry for presets.py.

    python weights/build_preset.py runs/unet64-fixed unet.synthetic-fixed-light --hardware "..." --time "..."

The run folder is what `keras-patchnet train` / `examples/train_from_scratch.py` write (config.json,
model.weights.h5, metrics.json with the recipe). The preset folder is laid out as its Hub repository: config.json,
model.weights.h5, metadata.json, README.md (model card), golden.npz (two held-out renders and their outputs).
"""

import argparse
import json
import os
import pprint

from keras_patchnet import hub
from keras_patchnet.data import TEST_SEED, render_batch

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("name")
    p.add_argument("--hardware", required=True)
    p.add_argument("--time", required=True, help="training time, e.g. '58 min'")
    args = p.parse_args(argv)

    with open(os.path.join(args.run, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(args.run, "config.json")) as f:
        config = json.load(f)
    model = hub.load_pretrained(config["arch"], args.run)
    recipe = metrics["recipe"]
    options = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in recipe.items()
                       if v is not None and k not in ("out", "data", "pretrained", "seed"))
    size, lighting = metrics["image_size"], metrics.get("lighting", "rig")
    training = {
        "data": f"synthetic renders ({size}x{size}, lighting={lighting!r}), new renders every epoch, "
                f"seeds (TRAIN_SEED={recipe['seed']}, epoch, i)",
        "recipe": f"python examples/train_from_scratch.py {options}",
        "hardware": args.hardware,
        "time": args.time,
    }
    metrics_command = (f"python -m keras_patchnet.evaluation --model {config['arch']} --weights {args.name} "
                       f"--images {metrics['num_images']} --size {size} --lighting {lighting}")
    input_contract = (f"RGB images (B, H, W, 3), uint8 or float, any scale, any size; trained on {size}x{size} renders "
                      f"with patches of {config['patch_size']} (a surface of about 0.3 m at 1.0-1.4 m filling about "
                      f"half the image), lighting={lighting!r}. Optional foreground mask (B, H, W, 1).")
    folder = os.path.join(HERE, args.name)
    golden = render_batch([TEST_SEED, TEST_SEED + 1], size, size, lighting=lighting)["images"]
    hub.save_preset(model, folder, name=args.name, golden_images=golden, metadata={
        "training": training, "metrics": {k: metrics[k] for k in ("model", "flat_plane")},
        "metrics_command": metrics_command, "input_contract": input_contract, "license": "apache-2.0",
    })
    files = {n: hub.sha256(os.path.join(folder, n)) for n in ("config.json", "model.weights.h5")}
    with open(os.path.join(folder, "metadata.json")) as f:
        params = json.load(f)["trainable_params"]
    entry = {
        "arch": config["arch"], "repo_id": f"keras-patchnet/{args.name}", "revision": None, "files": files,
        "config": config, "trainable_params": params, "input_contract": input_contract, "training": training,
        "metrics": {k: metrics[k] for k in ("model", "flat_plane")}, "metrics_command": metrics_command,
        "license": "apache-2.0",
    }
    print(f"{args.name!r}: " + pprint.pformat(entry, width=116, sort_dicts=False) + ",")


if __name__ == "__main__":
    main()
